/* Listener addresses: the address as bound, read from the socket, and the address to dial. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_address.h"

/* A TCP socket bound to host port 0 (-1 when the family is not available here). */
static int bound_socket(int family, const char *host)
{
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, host, &s4->sin_addr);
        sl = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, host, &s6->sin6_addr);
        sl = sizeof *s6;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* want_host: the text before ":<port>". */
static void expect_bound(int family, const char *host, const char *want_host)
{
    int fd = bound_socket(family, host);
    if (fd < 0) {
        cr_log_warn("cannot bind %s here; skipped", host);
        return;
    }
    char text[64], want[64];
    uint16_t port = 0;
    cr_assert_eq(cairn_bound_address(fd, text, sizeof text, &port), 0);
    cr_expect_neq(port, 0);
    snprintf(want, sizeof want, "%s:%u", want_host, port);
    cr_expect_str_eq(text, want);
    char tiny[8];
    cr_expect_eq(cairn_bound_address(fd, tiny, sizeof tiny, NULL), -1, "truncation is an error");
    close(fd);
}

Test(address, bound_address_is_what_the_socket_says)
{
    expect_bound(AF_INET, "0.0.0.0", "0.0.0.0");
    expect_bound(AF_INET, "127.0.0.1", "127.0.0.1");
    expect_bound(AF_INET6, "::", "[::]");
    expect_bound(AF_INET6, "::1", "[::1]");
    cr_expect_eq(cairn_bound_address(-1, (char[8]){0}, 8, NULL), -1);
}

Test(address, wildcards_are_dialled_over_loopback)
{
    static const char *const cases[][2] = {
        {"0.0.0.0:8848", "127.0.0.1:8848"}, {"[::]:9150", "[::1]:9150"},
        {"127.0.0.1:1", "127.0.0.1:1"},     {"[::1]:2", "[::1]:2"},
        {"127.0.0.9:3", "127.0.0.9:3"},     {"0.0.0.01:4", "0.0.0.01:4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        cairn_dial_address(cases[i][0], out, sizeof out);
        cr_expect_str_eq(out, cases[i][1], "dial address of %s", cases[i][0]);
    }
}
