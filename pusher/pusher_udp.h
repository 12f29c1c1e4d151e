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

/* Datagrams queued to go out in one sendmmsg (a fan-out sends hundreds back to back: one system
 * call per PUSHER_SEND_BATCH of them, not one each). Each entry names a caller's tag, handed
 * back with its outcome. The buffers and addresses are borrowed until the batch is sent. */
#define PUSHER_SEND_BATCH 64

typedef struct pusher_send_batch {
    struct mmsghdr msgs[PUSHER_SEND_BATCH];
    struct iovec iov[PUSHER_SEND_BATCH];
    void *tags[PUSHER_SEND_BATCH];
    unsigned count;
} pusher_send_batch;

/* Queues one datagram; false when the batch is full (send it first). */
bool pusher_send_batch_add(pusher_send_batch *b, const pusher_addr *to, const void *buf,
                           size_t len, void *tag);
/* Takes the datagram queued with tag out of the batch (its buffers may go then); false when
 * none is. */
bool pusher_send_batch_drop(pusher_send_batch *b, const void *tag);
/* Sends every queued datagram in order and empties the batch: done(arg, tag, 0) for each one
 * sent, done(arg, tag, errno) for each one that was not (EAGAIN/ENOBUFS: the send buffer is
 * full, and every later one of the batch gets the same without being tried). done must not
 * queue to b. */
void pusher_send_batch_flush(const pusher_udp *u, pusher_send_batch *b,
                             void (*done)(void *arg, void *tag, int err), void *arg);

/* Reads one datagram into buf: 1 with *got its full length (more than len when it was
 * truncated), 0 when none is waiting, -1 on error (errno). */
int pusher_udp_recv(const pusher_udp *u, void *buf, size_t len, size_t *got, pusher_addr *from);

#endif
