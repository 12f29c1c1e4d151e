/* The UDP socket of a pusher and its address keys. */
#include "pusher_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Room for a fan-out burst: a push round writes one datagram per subscriber back to back, and
 * acks come back in a burst too. The kernel caps these at net.core.[wr]mem_max. */
#define SOCKET_BUFFER_BYTES (4 * 1024 * 1024)

static void set_key(pusher_addr *a, const struct in6_addr *ip6, uint16_t port_be)
{
    memcpy(a->key, ip6, 16);
    memcpy(a->key + 16, &port_be, 2);
}

static void v4_mapped(struct in6_addr *out, const struct in_addr *v4)
{
    memset(out, 0, sizeof *out);
    out->s6_addr[10] = 0xff;
    out->s6_addr[11] = 0xff;
    memcpy(&out->s6_addr[12], v4, 4);
}

static int bind_any(int family, cairn_status *st, uint16_t *port)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        cairn_fail(st, CAIRN_E_UNAVAILABLE, "UDP socket: %s", strerror(errno));
        return -1;
    }
    int buf = SOCKET_BUFFER_BYTES;
    /* Best effort: a smaller buffer only means more deferred sends in a large fan-out. */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET6) {
        int off = 0;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0) {
            cairn_fail(st, CAIRN_E_UNAVAILABLE, "UDP dual-stack: %s", strerror(errno));
            close(fd);
            return -1;
        }
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_any;
        len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        len = sizeof *s4;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        cairn_fail(st, CAIRN_E_UNAVAILABLE, "UDP bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

size_t pusher_udp_buffer(const pusher_udp *u, int option)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(u->fd, SOL_SOCKET, option, &v, &len) == 0 && v > 0 ? (size_t)v : 0;
}

int pusher_udp_open(pusher_udp *u, cairn_status *st)
{
    u->family = AF_INET6;
    u->fd = bind_any(AF_INET6, st, &u->port);
    if (u->fd < 0) {
        u->family = AF_INET; /* a host without IPv6 */
        u->fd = bind_any(AF_INET, st, &u->port);
    }
    return u->fd < 0 ? -1 : 0;
}

void pusher_udp_close(pusher_udp *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

bool pusher_addr_parse(const pusher_udp *u, const char *ip, int32_t port, pusher_addr *out)
{
    if (!ip || port < 1 || port > 65535)
        return false;
    memset(out, 0, sizeof *out);
    uint16_t port_be = htons((uint16_t)port);
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, ip, &v4) == 1) {
        v4_mapped(&v6, &v4);
        if (u->family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
            s4->sin_family = AF_INET;
            s4->sin_addr = v4;
            s4->sin_port = port_be;
            out->len = sizeof *s4;
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = v6;
            s6->sin6_port = port_be;
            out->len = sizeof *s6;
        }
    } else if (inet_pton(AF_INET6, ip, &v6) == 1 && u->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = v6;
        s6->sin6_port = port_be;
        out->len = sizeof *s6;
    } else {
        return false;
    }
    set_key(out, &v6, port_be);
    return true;
}

void pusher_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, pusher_addr *out)
{
    memset(out, 0, sizeof *out);
    if (len > (socklen_t)sizeof out->ss)
        len = sizeof out->ss;
    memcpy(&out->ss, sa, len);
    out->len = len;
    struct in6_addr v6;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        v4_mapped(&v6, &s4->sin_addr);
        set_key(out, &v6, s4->sin_port);
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        set_key(out, &s6->sin6_addr, s6->sin6_port);
    }
}

void pusher_addr_text(const pusher_addr *a, char *buf, size_t len)
{
    struct in6_addr v6;
    uint16_t port_be;
    memcpy(&v6, a->key, 16);
    memcpy(&port_be, a->key + 16, 2);
    char ip[INET6_ADDRSTRLEN] = "?";
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
        if (inet_ntop(AF_INET, &v6.s6_addr[12], ip, sizeof ip))
            snprintf(buf, len, "%s:%u", ip, ntohs(port_be));
        else
            snprintf(buf, len, "?:%u", ntohs(port_be));
    } else {
        if (!inet_ntop(AF_INET6, &v6, ip, sizeof ip))
            snprintf(ip, sizeof ip, "?");
        snprintf(buf, len, "[%s]:%u", ip, ntohs(port_be));
    }
}

bool pusher_send_batch_add(pusher_send_batch *b, const pusher_addr *to, const void *buf,
                           size_t len, void *tag)
{
    if (b->count == PUSHER_SEND_BATCH)
        return false;
    unsigned i = b->count++;
    b->iov[i] = (struct iovec){.iov_base = (void *)buf, .iov_len = len};
    b->msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = (void *)&to->ss,
                                               .msg_namelen = to->len,
                                               .msg_iov = &b->iov[i],
                                               .msg_iovlen = 1}};
    b->tags[i] = tag;
    return true;
}

bool pusher_send_batch_drop(pusher_send_batch *b, const void *tag)
{
    for (unsigned i = 0; i < b->count; i++) {
        if (b->tags[i] != tag)
            continue;
        for (unsigned j = i; j + 1 < b->count; j++) { /* keep the order; re-point each iov */
            b->msgs[j] = b->msgs[j + 1];
            b->iov[j] = b->iov[j + 1];
            b->tags[j] = b->tags[j + 1];
            b->msgs[j].msg_hdr.msg_iov = &b->iov[j];
        }
        b->count--;
        return true;
    }
    return false;
}

void pusher_send_batch_flush(const pusher_udp *u, pusher_send_batch *b,
                             void (*done)(void *arg, void *tag, int err), void *arg)
{
    unsigned at = 0, n = b->count;
    while (at < n) {
        int sent = sendmmsg(u->fd, &b->msgs[at], n - at, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent > 0) {
            for (int k = 0; k < sent; k++)
                done(arg, b->tags[at + k], 0);
            at += (unsigned)sent;
            continue;
        }
        int err = sent < 0 ? errno : EAGAIN;
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
            for (; at < n; at++) /* the buffer is full: the rest waits too */
                done(arg, b->tags[at], err);
            break;
        }
        done(arg, b->tags[at++], err); /* this destination's error; the rest go on */
    }
    b->count = 0;
}

int pusher_udp_recv(const pusher_udp *u, void *buf, size_t len, size_t *got, pusher_addr *from)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        /* MSG_TRUNC: the real length of an oversized datagram, so it is known to be garbage. */
        ssize_t n = recvfrom(u->fd, buf, len, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&ss,
                             &sl);
        if (n >= 0) {
            pusher_addr_from_sockaddr((struct sockaddr *)&ss, sl, from);
            *got = (size_t)n;
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}
