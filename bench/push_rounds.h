/* One round of the push benchmark on each side: a change pushed by Cairn, or the same document
 * sent by the trivial baseline sender, both received by the same listeners. */
#ifndef PUSH_ROUNDS_H
#define PUSH_ROUNDS_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "baseline_udp.h"
#include "push_http.h"
#include "push_listeners.h"

/* What a side accumulates over its rounds. */
typedef struct push_side {
    int64_t *latency_ns; /* every (subscriber, round) arrival; room for rounds x subscribers */
    int received;
    int expected;
    double *rates; /* per round: deliveries per second from first to last arrival (0: none) */
    int rounds;
    int64_t busy_ns; /* wall time spent in this side's rounds */
    size_t bytes;
    int gzip;
} push_side;

typedef struct push_cairn {
    push_http *http;
    const char *service;
    int64_t subscribed_ns; /* last (re)subscription of every listener */
} push_cairn;

/* Registers marker instance `marker` and waits for the pushes listing it. Re-subscribes the
 * listeners first when their subscription is getting old. Returns the listeners that got it,
 * or -1 on an HTTP failure (message in err). `count` false: a warm-up, not accounted. */
int push_cairn_round(push_cairn *c, push_listeners *pl, int marker, int timeout_ms, bool count,
                     push_side *side, char *err, size_t err_len);

/* Sends the baseline datagram (lastRefTime = ref) from `cpus` (NULL: wherever we run) while the
 * processes in `freeze` (0-terminated, may be NULL) are stopped, and waits for it to arrive. */
int push_baseline_round(baseline_udp *b, push_listeners *pl, int64_t ref, int timeout_ms,
                        const cpu_set_t *cpus, const int *freeze, bool count, push_side *side);

#endif
