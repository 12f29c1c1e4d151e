/* The subscriber side of the push fan-out benchmark: COUNT UDP sockets on 127.0.0.1, one
 * receiver thread that acks every push as a Nacos client does (§12.4), and per-round accounting
 * of which listener got the change and when. Arrival times are kernel receive timestamps
 * (SO_TIMESTAMPNS), so a slow receiver does not make the sender look slow. */
#ifndef PUSH_LISTENERS_H
#define PUSH_LISTENERS_H

#include <stdint.h>
#include <stddef.h>

typedef struct push_listeners push_listeners;

/* How a datagram is recognised as this round's change. */
typedef enum push_match {
    PUSH_MATCH_HOST_PORT, /* the pushed list holds a host with port == key (a Cairn change) */
    PUSH_MATCH_REF_TIME,  /* the datagram's lastRefTime == key (the baseline sender) */
} push_match;

typedef struct push_round {
    int matched;        /* listeners that received the change */
    int64_t first_ns;   /* earliest and latest arrival (CLOCK_REALTIME ns) */
    int64_t last_ns;
    int64_t *latency_ns; /* `matched` arrival - t0 values, owned by the listeners */
} push_round;

typedef struct push_totals {
    uint64_t datagrams;  /* every datagram received, matched or not */
    uint64_t acks;       /* acks sent */
    uint64_t undecodable;
    size_t last_bytes;   /* size on the wire of the last matched datagram */
    int last_gzip;       /* whether it was gzip */
} push_totals;

/* Opens `count` sockets and starts the receiver thread. NULL with a message in err on failure. */
push_listeners *push_listeners_open(int count, char *err, size_t err_len);
uint16_t push_listeners_port(const push_listeners *pl, int index);
int push_listeners_count(const push_listeners *pl);

/* From now on, the first matching datagram of each listener counts for this round; latencies
 * are measured from t0_ns (CLOCK_REALTIME). */
void push_listeners_begin_round(push_listeners *pl, push_match how, int64_t key, int64_t t0_ns);

/* Waits until every listener matched or until deadline_ns (CLOCK_REALTIME); fills *out (valid
 * until the next begin_round). */
void push_listeners_wait_round(push_listeners *pl, int64_t deadline_ns, push_round *out);

void push_listeners_totals(push_listeners *pl, push_totals *out);

/* Stops the thread and closes every socket. */
void push_listeners_close(push_listeners *pl);

int64_t push_now_ns(void);

#endif
