/* The pusher's one UDP socket (§12.3): bound to an ephemeral port on every address, it sends the
 * pushes and receives the acks, since clients answer to the push's source address. Dual-stack
 * (IPv6 with IPv4-mapped addresses) where the host has IPv6, plain IPv4 otherwise. Non-blocking. */
#ifndef PUSHER_UDP_H
#define PUSHER_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cairn_error.h"

/* An address as a fixed-size key: the IPv6 form (IPv4-mapped for IPv4) and the port, network
 * byte order. The same peer gives the same key whether it came from a subscription or as the
 * source of an ack. */
#define PUSHER_ADDR_KEY_LEN 18

typedef struct pusher_addr {
    struct sockaddr_storage ss; /* in the socket's family, ready for sendto */
    socklen_t len;
    unsigned char key[PUSHER_ADDR_KEY_LEN];
} pusher_addr;

typedef struct pusher_udp {
    int fd;
    int family; /* AF_INET6 (dual-stack) or AF_INET */
    uint16_t port;
} pusher_udp;

/* Opens and binds the socket; -1 with *st set on failure. */
int pusher_udp_open(pusher_udp *u, cairn_status *st);
void pusher_udp_close(pusher_udp *u);
/* The socket's SO_SNDBUF / SO_RCVBUF as the kernel granted it (capped by net.core.wmem_max /
 * rmem_max), for the start-up log. */
size_t pusher_udp_buffer(const pusher_udp *u, int option);

/* A numeric IPv4/IPv6 address and port 1..65535 as a destination of this socket. Returns false
 * for anything else (names are never resolved; an IPv6 address on an IPv4-only socket). */
bool pusher_addr_parse(const pusher_udp *u, const char *ip, int32_t port, pusher_addr *out);
/* The key of a datagram's source address. */
void pusher_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, pusher_addr *out);
/* "ip:port" (IPv6 in brackets) for log lines. */
void pusher_addr_text(const pusher_addr *a, char *buf, size_t len);

/* 0 when sent, else -1 with errno (EAGAIN/ENOBUFS: the send buffer is full, try later). */
int pusher_udp_send(const pusher_udp *u, const pusher_addr *to, const void *buf, size_t len);
/* Reads one datagram into buf: 1 with *got its full length (more than len when it was
 * truncated), 0 when none is waiting, -1 on error (errno). */
int pusher_udp_recv(const pusher_udp *u, void *buf, size_t len, size_t *got, pusher_addr *from);

#endif
