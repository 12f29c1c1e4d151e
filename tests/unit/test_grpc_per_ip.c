/* Open gRPC connections per client address (grpc_per_ip.h): the limit per address, slots given
 * back, IPv4-mapped IPv6 peers counted as their IPv4 address, and the table holding only
 * addresses with a connection. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>

#include "grpc_per_ip.h"

static cairn_ip ip(const char *text)
{
    cairn_ip a;
    cr_assert(cairn_ip_parse(text, &a), "%s", text);
    return a;
}

Test(grpc_per_ip, an_address_gets_max_and_others_are_unaffected)
{
    grpc_per_ip *t = grpc_per_ip_new(3);
    cr_assert_not_null(t);
    cairn_ip a = ip("127.0.0.1"), b = ip("127.0.0.2");
    for (int i = 0; i < 3; i++)
        cr_expect_eq(grpc_per_ip_add(t, &a), 0, "connection %d of 127.0.0.1", i + 1);
    cr_expect_eq(grpc_per_ip_add(t, &a), 1, "the fourth is over the limit");
    cr_expect_eq(grpc_per_ip_count(t, &a), 3, "a refusal counts nothing");
    cr_expect_eq(grpc_per_ip_add(t, &b), 0, "another address has its own slots");
    cr_expect_eq(grpc_per_ip_count(t, &b), 1);
    cr_expect_eq(grpc_per_ip_addresses(t), 2);

    /* a slot given back is taken again, once */
    grpc_per_ip_remove(t, &a);
    cr_expect_eq(grpc_per_ip_count(t, &a), 2);
    cr_expect_eq(grpc_per_ip_add(t, &a), 0);
    cr_expect_eq(grpc_per_ip_add(t, &a), 1);
    grpc_per_ip_free(t);
}

Test(grpc_per_ip, addresses_leave_the_table_with_their_last_connection)
{
    grpc_per_ip *t = grpc_per_ip_new(2);
    cairn_ip a = ip("192.0.2.7"), b = ip("2001:db8::7");
    cr_expect_eq(grpc_per_ip_add(t, &a), 0);
    cr_expect_eq(grpc_per_ip_add(t, &a), 0);
    cr_expect_eq(grpc_per_ip_add(t, &b), 0);
    grpc_per_ip_remove(t, &a);
    grpc_per_ip_remove(t, &a);
    grpc_per_ip_remove(t, &b);
    cr_expect_eq(grpc_per_ip_count(t, &a), 0);
    cr_expect_eq(grpc_per_ip_addresses(t), 0, "no address without a connection is kept");
    grpc_per_ip_remove(t, &a); /* not counted: nothing to give back, nothing goes negative */
    cr_expect_eq(grpc_per_ip_count(t, &a), 0);
    cr_expect_eq(grpc_per_ip_add(t, &a), 0);
    cr_expect_eq(grpc_per_ip_count(t, &a), 1);

    /* many addresses come and go: the table follows the open connections */
    char text[32];
    cairn_ip many[500];
    for (int i = 0; i < 500; i++) {
        if (i < 250)
            snprintf(text, sizeof text, "198.51.100.%d", i);
        else
            snprintf(text, sizeof text, "2001:db8::%x", i);
        many[i] = ip(text);
        cr_assert_eq(grpc_per_ip_add(t, &many[i]), 0);
    }
    cr_expect_eq(grpc_per_ip_addresses(t), 501);
    for (int i = 0; i < 500; i++)
        grpc_per_ip_remove(t, &many[i]);
    cr_expect_eq(grpc_per_ip_addresses(t), 1);
    grpc_per_ip_free(t);
}

/* A dual-stack listener's accept gives an IPv4 client as ::ffff:a.b.c.d: the same address as
 * when an IPv4 listener gives it. */
Test(grpc_per_ip, ipv4_mapped_peers_count_as_their_ipv4_address)
{
    grpc_per_ip *t = grpc_per_ip_new(2);
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};
    cr_assert_eq(inet_pton(AF_INET6, "::ffff:203.0.113.9", &sa6.sin6_addr), 1);
    cairn_ip v4 = ip("203.0.113.9"), mapped;
    cr_assert(cairn_ip_from_sockaddr((const struct sockaddr *)&sa6, &mapped));
    cairn_ip v6 = ip("::203.0.113.9"); /* IPv4-compatible: a different (IPv6) address */
    cr_expect_eq(grpc_per_ip_add(t, &v4), 0);
    cr_expect_eq(grpc_per_ip_add(t, &mapped), 0);
    cr_expect_eq(grpc_per_ip_add(t, &v4), 1);
    cr_expect_eq(grpc_per_ip_add(t, &v6), 0);
    cr_expect_eq(grpc_per_ip_count(t, &v4), 2);
    cr_expect_eq(grpc_per_ip_count(t, &v6), 1);
    grpc_per_ip_free(t);
}
