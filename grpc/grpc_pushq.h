/* One connection's pushes (Nacos spec §3.4, §4.2): at most one entry per subscription
 * (namespace, service, clusters), holding the newest ServiceInfo. An entry is sent when dirty,
 * then waits for its ack (matched by requestId); an ack timeout or a failure ack makes it dirty
 * again after retry_delay, to be sent with whatever data is newest then. A newer change replaces
 * the data and is sent at once: an ack of the older push no longer matches and is ignored, so a
 * late retry never sends older data than the client has. Entries beyond `max` are refused (the
 * caller closes the connection: a client that never acks cannot grow memory without bound).
 * Pure: time is passed in (monotonic ms); owned by its connection, loop thread only. */
#ifndef GRPC_PUSHQ_H
#define GRPC_PUSHQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct grpc_push {
    char *ns, *svc, *clusters; /* the subscription (grouped service name) */
    char *info;                /* newest ServiceInfo JSON */
    bool dirty;                /* info has not been sent */
    uint64_t sent_id;          /* requestId of the push awaiting its ack; 0: none */
    int64_t ack_deadline;
    int64_t not_before;        /* a retry waits until then */
} grpc_push;

typedef struct grpc_pushq {
    grpc_push *items;
    size_t count, alloc;
    size_t max;
} grpc_pushq;

void grpc_pushq_init(grpc_pushq *q, size_t max);
void grpc_pushq_free(grpc_pushq *q);
/* The newest info (taken over: freed on every outcome) for the subscription. 0, 1 when the
 * queue is full (nothing changed), -1 when out of memory. */
int grpc_pushq_offer(grpc_pushq *q, const char *ns, const char *svc, const char *clusters,
                     char *info, int64_t now);
/* A dirty entry that may be sent now, or NULL. */
grpc_push *grpc_pushq_next(grpc_pushq *q, int64_t now);
/* p went out with requestId id. */
void grpc_pushq_sent(grpc_push *p, uint64_t id, int64_t now, int64_t ack_timeout);
/* The client answered requestId id (ok: resultCode 200). False when no entry waits for it. */
bool grpc_pushq_ack(grpc_pushq *q, uint64_t id, bool ok, int64_t now, int64_t retry_delay);
/* Entries whose ack is overdue become dirty after retry_delay; returns how many. */
size_t grpc_pushq_expire(grpc_pushq *q, int64_t now, int64_t retry_delay);
/* The subscription's entry goes (unsubscribed). */
void grpc_pushq_forget(grpc_pushq *q, const char *ns, const char *svc, const char *clusters);
/* The earliest time something is due (INT64_MAX: nothing). */
int64_t grpc_pushq_due(const grpc_pushq *q);

#endif
