/* Numeric addresses and the special-purpose classes (cairn_ip.h) that the healthcheck's probes
 * and the gateway's push destination both refuse. Pure data: nothing is sent anywhere. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_ip.h"

static cairn_ip_class class_of(const char *text)
{
    cairn_ip ip;
    cr_assert(cairn_ip_parse(text, &ip), "%s does not parse", text);
    return cairn_ip_classify(&ip);
}

Test(ip, classes)
{
    static const struct {
        const char *ip;
        cairn_ip_class cls;
    } cases[] = {
        {"0.0.0.0", CAIRN_IP_UNSPECIFIED},        {"0.1.2.3", CAIRN_IP_UNSPECIFIED},
        {"::", CAIRN_IP_UNSPECIFIED},             {"127.0.0.1", CAIRN_IP_LOOPBACK},
        {"127.255.255.254", CAIRN_IP_LOOPBACK},   {"::1", CAIRN_IP_LOOPBACK},
        {"169.254.169.254", CAIRN_IP_LINK_LOCAL}, {"169.254.0.0", CAIRN_IP_LINK_LOCAL},
        {"fe80::1", CAIRN_IP_LINK_LOCAL},         {"febf:ffff::1", CAIRN_IP_LINK_LOCAL},
        {"224.0.0.1", CAIRN_IP_MULTICAST},        {"239.255.255.250", CAIRN_IP_MULTICAST},
        {"ff02::1", CAIRN_IP_MULTICAST},          {"ff0e::fb", CAIRN_IP_MULTICAST},
        {"255.255.255.255", CAIRN_IP_BROADCAST},  {"240.0.0.1", CAIRN_IP_RESERVED},
        {"255.255.255.254", CAIRN_IP_RESERVED},   {"::2", CAIRN_IP_RESERVED},
        {"::7f00:1", CAIRN_IP_RESERVED}, /* IPv4-compatible, deprecated */
        /* IPv4-mapped addresses are their IPv4 address. */
        {"::ffff:127.0.0.1", CAIRN_IP_LOOPBACK},  {"::ffff:169.254.169.254", CAIRN_IP_LINK_LOCAL},
        {"::ffff:224.0.0.1", CAIRN_IP_MULTICAST}, {"::ffff:0.0.0.0", CAIRN_IP_UNSPECIFIED},
        {"::ffff:a9fe:a9fe", CAIRN_IP_LINK_LOCAL},
        /* NAT64 (64:ff9b::/96) carries the class of the IPv4 address it embeds. */
        {"64:ff9b::169.254.169.254", CAIRN_IP_LINK_LOCAL},
        {"64:ff9b::198.51.100.1", CAIRN_IP_ORDINARY},
        /* Where services live. */
        {"198.51.100.1", CAIRN_IP_ORDINARY},          {"203.0.113.1", CAIRN_IP_ORDINARY},
        {"100.64.0.1", CAIRN_IP_ORDINARY},        {"1.2.3.4", CAIRN_IP_ORDINARY},
        {"126.255.255.255", CAIRN_IP_ORDINARY},   {"128.0.0.0", CAIRN_IP_ORDINARY},
        {"169.253.255.255", CAIRN_IP_ORDINARY},   {"169.255.0.0", CAIRN_IP_ORDINARY},
        {"223.255.255.255", CAIRN_IP_ORDINARY},   {"1.0.0.0", CAIRN_IP_ORDINARY},
        {"2001:db8::1", CAIRN_IP_ORDINARY},       {"2001:db8:1::1", CAIRN_IP_ORDINARY},
        {"fec0::1", CAIRN_IP_ORDINARY},           {"fe7f::1", CAIRN_IP_ORDINARY},
        {"100::1", CAIRN_IP_ORDINARY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(class_of(cases[i].ip), cases[i].cls, "%s: %s, expected %s", cases[i].ip,
                     cairn_ip_class_name(class_of(cases[i].ip)),
                     cairn_ip_class_name(cases[i].cls));
}

Test(ip, parse_folds_mapped_addresses_and_rejects_names)
{
    cairn_ip a, b;
    cr_assert(cairn_ip_parse("::ffff:198.51.100.23", &a));
    cr_assert(cairn_ip_parse("198.51.100.23", &b));
    cr_expect_eq(a.family, AF_INET);
    cr_expect(cairn_ip_equal(&a, &b));
    char text[CAIRN_IP_TEXT_MAX];
    cairn_ip_format(&a, text, sizeof text);
    cr_expect_str_eq(text, "198.51.100.23");
    cr_assert(cairn_ip_parse("2001:DB8::1", &a));
    cairn_ip_format(&a, text, sizeof text);
    cr_expect_str_eq(text, "2001:db8::1");
    cr_expect_eq(cairn_ip_bits(&a), 128);
    const char *bad[] = {"localhost", "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "[::1]",
                         "fe80::1%eth0", " 1.2.3.4", "1.2.3.4/32"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(cairn_ip_parse(bad[i], &a), "\"%s\" parsed", bad[i]);
    cr_expect_not(cairn_ip_parse(NULL, &a));
}

Test(ip, sockaddr_folds_mapped_addresses)
{
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    cr_assert_eq(inet_pton(AF_INET6, "::ffff:169.254.169.254", &s6.sin6_addr), 1);
    cairn_ip ip;
    cr_assert(cairn_ip_from_sockaddr((struct sockaddr *)&s6, &ip));
    cr_expect_eq(ip.family, AF_INET);
    cr_expect_eq(cairn_ip_classify(&ip), CAIRN_IP_LINK_LOCAL);
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    cr_assert(cairn_ip_from_sockaddr((struct sockaddr *)&s4, &ip));
    cr_expect_eq(cairn_ip_classify(&ip), CAIRN_IP_UNSPECIFIED);
    struct sockaddr su = {.sa_family = AF_UNIX};
    cr_expect_not(cairn_ip_from_sockaddr(&su, &ip));
}

Test(ip, blocks)
{
    cairn_ip net, ip;
    cr_assert(cairn_ip_parse("127.20.0.0", &net));
    cr_assert(cairn_ip_parse("127.21.255.1", &ip));
    cr_expect(cairn_ip_in_block(&ip, &net, 15));
    cr_assert(cairn_ip_parse("127.22.0.1", &ip));
    cr_expect_not(cairn_ip_in_block(&ip, &net, 15));
    cr_expect(cairn_ip_in_block(&ip, &net, 0) == true, "/0 holds every address of its family");
    cr_assert(cairn_ip_parse("::1", &ip));
    cr_expect_not(cairn_ip_in_block(&ip, &net, 0), "never across families");

    /* A block has a class only when it lies wholly inside one special range. */
    cr_assert(cairn_ip_parse("169.254.0.0", &net));
    cr_expect_eq(cairn_ip_classify_block(&net, 16), CAIRN_IP_LINK_LOCAL);
    cr_expect_eq(cairn_ip_classify_block(&net, 24), CAIRN_IP_LINK_LOCAL);
    cr_expect_eq(cairn_ip_classify_block(&net, 8), CAIRN_IP_ORDINARY);
    cr_assert(cairn_ip_parse("0.0.0.0", &net));
    cr_expect_eq(cairn_ip_classify_block(&net, 0), CAIRN_IP_ORDINARY);
    cr_expect_eq(cairn_ip_classify_block(&net, 8), CAIRN_IP_UNSPECIFIED);
    cr_assert(cairn_ip_parse("127.0.0.0", &net));
    cr_expect_eq(cairn_ip_classify_block(&net, 8), CAIRN_IP_LOOPBACK);
    cr_expect_eq(cairn_ip_classify_block(&net, 7), CAIRN_IP_ORDINARY);
    cr_assert(cairn_ip_parse("240.0.0.0", &net));
    cr_expect_eq(cairn_ip_classify_block(&net, 4), CAIRN_IP_RESERVED);
    cr_assert(cairn_ip_parse("ff00::", &net));
    cr_expect_eq(cairn_ip_classify_block(&net, 8), CAIRN_IP_MULTICAST);
    cr_assert(cairn_ip_parse("::", &net));
    cr_expect_eq(cairn_ip_classify_block(&net, 0), CAIRN_IP_ORDINARY);
    cr_expect_eq(cairn_ip_classify_block(&net, 8), CAIRN_IP_RESERVED);
}

Test(ip, local_addresses_include_loopback)
{
    cairn_ip *own;
    size_t n;
    cr_assert_eq(cairn_ip_local_addresses(&own, &n), 0);
    cairn_ip lo;
    cr_assert(cairn_ip_parse("127.0.0.1", &lo));
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found = found || cairn_ip_equal(&own[i], &lo);
    cr_expect(found, "127.0.0.1 is not among this host's %zu addresses", n);
    free(own);
}
