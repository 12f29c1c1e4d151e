/* A trivial UDP push sender: one socket, the same datagram to every subscriber, acks read back.
 * No subscriber table, no merge window, no retransmission: the figure it gives is the rate this
 * machine's loopback allows a single sending thread. */
#include "baseline_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "push_gzip.h"
#include "push_listeners.h"

#define GZIP_FROM 1024 /* §12.3 */

struct baseline_udp {
    int fd;
    int count;
    struct sockaddr_in *dests;
    char *document;
    int64_t ref;  /* the round being acked */
    int acks;     /* its acks so far */
};

/* Reads the acks already queued, without waiting. A pusher parses every ack to match it (§12.4);
 * so does the baseline. Reading between sends keeps the socket's buffer from overflowing. */
static void take_acks(baseline_udp *b)
{
    char buf[2048];
    for (;;) {
        ssize_t n = recv(b->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        json_t *ack = json_loadb(buf, (size_t)n, 0, NULL);
        if (json_integer_value(json_object_get(ack, "lastRefTime")) == b->ref)
            b->acks++;
        json_decref(ack);
    }
}

baseline_udp *baseline_udp_open(const uint16_t *ports, int count, const char *document)
{
    baseline_udp *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->count = count;
    b->dests = calloc((size_t)count, sizeof *b->dests);
    b->document = strdup(document);
    b->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (!b->dests || !b->document || b->fd < 0 ||
        bind(b->fd, (struct sockaddr *)&self, sizeof self) != 0) {
        baseline_udp_close(b);
        return NULL;
    }
    /* Room for a whole round of acks, as a pusher would ask for (best effort: the kernel caps
     * it at net.core.rmem_max). */
    int buf = 4 * 1024 * 1024;
    (void)setsockopt(b->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    (void)setsockopt(b->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    for (int i = 0; i < count; i++) {
        b->dests[i].sin_family = AF_INET;
        b->dests[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        b->dests[i].sin_port = htons(ports[i]);
    }
    return b;
}

void baseline_udp_close(baseline_udp *b)
{
    if (!b)
        return;
    if (b->fd >= 0)
        close(b->fd);
    free(b->dests);
    free(b->document);
    free(b);
}

int baseline_udp_send_round(baseline_udp *b, int64_t ref, size_t *datagram_bytes, int *gzip)
{
    json_t *msg = json_pack("{s:s, s:s, s:I}", "type", "dom", "data", b->document,
                            "lastRefTime", (json_int_t)ref);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text)
        return -1;
    size_t len = strlen(text);
    unsigned char *wire = (unsigned char *)text, *zipped = NULL;
    if (len >= GZIP_FROM) {
        if (push_gzip(text, len, &zipped, &len) != 0) {
            free(text);
            return -1;
        }
        wire = zipped;
    }
    b->ref = ref;
    b->acks = 0;
    int sent = 0;
    for (int i = 0; i < b->count; i++) {
        ssize_t n;
        do
            n = sendto(b->fd, wire, len, 0, (struct sockaddr *)&b->dests[i], sizeof b->dests[i]);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)len)
            sent++;
        if (i % 64 == 63)
            take_acks(b);
    }
    free(zipped);
    free(text);
    *datagram_bytes = len;
    *gzip = zipped != NULL;
    return sent;
}

int baseline_udp_read_acks(baseline_udp *b, int64_t deadline_ns)
{
    take_acks(b);
    while (b->acks < b->count) {
        int64_t left_ms = (deadline_ns - push_now_ns()) / 1000000;
        if (left_ms <= 0)
            break;
        struct pollfd p = {.fd = b->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left_ms) > 0)
            take_acks(b);
    }
    return b->acks;
}
