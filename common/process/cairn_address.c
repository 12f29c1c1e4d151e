/* Bound and dial addresses of listeners (cairn_address.h). */
#include "cairn_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int cairn_bound_address(int fd, char *buf, size_t len, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    char host[INET6_ADDRSTRLEN];
    uint16_t p;
    int n;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        p = ntohs(s4->sin_port);
        n = snprintf(buf, len, "%s:%u", host, p);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        p = ntohs(s6->sin6_port);
        n = snprintf(buf, len, "[%s]:%u", host, p);
    } else {
        errno = EINVAL;
        return -1;
    }
    if (n < 0 || (size_t)n >= len) {
        errno = ENOSPC;
        return -1;
    }
    if (port)
        *port = p;
    return 0;
}

void cairn_dial_address(const char *bound, char *buf, size_t len)
{
    static const struct {
        const char *wildcard, *loopback;
    } map[] = {{"0.0.0.0:", "127.0.0.1:"}, {"[::]:", "[::1]:"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t w = strlen(map[i].wildcard);
        if (strncmp(bound, map[i].wildcard, w) == 0) {
            snprintf(buf, len, "%s%s", map[i].loopback, bound + w);
            return;
        }
    }
    snprintf(buf, len, "%s", bound);
}
