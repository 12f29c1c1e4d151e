/* A bounded write load for crash tests, the record of what every write was answered, and the
 * check of that record against what the node holds afterwards.
 *
 * The load is one thread driving libcurl's multi interface over `connections` keep-alive
 * connections to the gateway, each in a closed loop (one request in flight). Connection c owns
 * `slots` instances of its own (slot s: 127.<71+s/250>.<c>.<s%250+1>:<7000+s>, ephemeral when s
 * is even, in service soak-<(c+s) % services>), so the writes to one instance are sequential and their
 * order is the order they were answered in. Each request is, chosen by the connection's own
 * random stream (seeded from the seed and c):
 *   - a registration (absent) or re-registration (present) with metadata v=<version>, a number
 *     new for each registration of the connection;
 *   - a deregistration (present), with the instance's ephemeral flag;
 *   - a light beat (present, ephemeral only: no beat body, so a beat never registers anything);
 *   - an instance/list of one service, as a push subscriber at udp_port when it is not 0 (with
 *     the Java client's user agent: the gateway subscribes only clients that take pushes).
 *
 * Outcomes. A write answered 200 "ok" is acknowledged: the instance's state is now that write's
 * effect (present with its version, or absent). A write answered 503, or not answered (timeout,
 * connection refused or reset), has an unknown outcome: it may be applied, even later than
 * writes answered after it, so the instance may end in either state; the connection never writes
 * to that instance again (it is "retired"), which keeps every other instance's expected state
 * exact. Any other answer is unexpected: counted, quoted, and treated as unknown. A beat of an
 * instance whose registration was acknowledged and never undone must be answered code 10200; a
 * 20404 is counted as a beat that did not find its instance.
 *
 * After an unknown outcome a connection waits before its next request (20 ms, doubling to
 * 640 ms, reset by an answer) and sends only probes, reads that need the gateway and the
 * registry (catalog/instances of a service), until one is answered: so a role that is away
 * costs each connection about one write of unknown outcome, not one per try. After a transport
 * error the gateway's address is read again from run/gateway.http (a restarted gateway may
 * listen on a new port).
 *
 * Threads: soak_load_start starts the thread; soak_load_acked_writes may be called from any
 * thread while it runs; everything else from the thread that started it, stop before the rest.
 * The load reads only it_node's run_dir. It never asserts. */
#ifndef CAIRN_SOAK_LOAD_H
#define CAIRN_SOAK_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_harness.h"

#define SOAK_MAX_CONNECTIONS 200
#define SOAK_MAX_SLOTS 1000
#define SOAK_MAX_SERVICES 100
#define SOAK_REPORTED 8 /* unexpected answers and lost instances quoted */
#define SOAK_LINE 300   /* the length of a quoted answer */

typedef struct soak_load_opts {
    const it_node *node;
    uint64_t seed;
    int connections;   /* 1..SOAK_MAX_CONNECTIONS */
    int slots;         /* per connection, 2..SOAK_MAX_SLOTS */
    int services;      /* 1..SOAK_MAX_SERVICES */
    int udp_port;      /* list requests subscribe to pushes here; 0: plain polls */
    int64_t stop_at_ms;   /* it_now_ms: no request starts later (a bound besides soak_load_stop) */
    long max_requests;    /* no more requests than this start */
    int request_timeout_ms;
} soak_load_opts;

typedef struct soak_counts {
    long registers, deregisters; /* acknowledged */
    long unknown_writes;         /* 503 or no answer */
    long unexpected;             /* any other answer, to any request */
    long beats, beats_not_found; /* answered 10200 / 20404 */
    long beats_unknown;
    long lists, lists_failed;
    long probes, probes_failed;
    long requests;
    char unexpected_text[SOAK_REPORTED][SOAK_LINE];
    char beat_not_found_text[SOAK_REPORTED][SOAK_LINE];
} soak_counts;

typedef struct soak_load soak_load;

/* Starts the load thread. NULL (with a reason in why) when it cannot. */
soak_load *soak_load_start(const soak_load_opts *opts, char *why, size_t why_len);
/* Acknowledged registrations and deregistrations so far (any thread). */
long soak_load_acked_writes(const soak_load *l);
/* Starts no more requests, waits for those in flight (at most the request timeout and 5 s
 * more; any still open then count as unknown) and joins the thread. Idempotent. */
void soak_load_stop(soak_load *l);
/* What the requests were answered (after soak_load_stop). */
const soak_counts *soak_load_counts(const soak_load *l);

typedef struct soak_check {
    long present, absent;   /* instances whose state was exactly known, as found */
    long undetermined;      /* retired instances (either state allowed), found in one of them */
    long lost;              /* instances in a state no answer allows */
    long foreign;           /* listed instances the load never wrote */
    char text[SOAK_REPORTED][600]; /* the first lost or foreign instances */
    int reported;
    char error[300];        /* the node could not be read: nothing was checked */
} soak_check;

/* Reads every service the load wrote to from the registry (catalog/instances, not the list
 * cache) through the node's gateway, and checks each instance against its record. Returns false
 * when anything is lost or foreign, or the node could not be read (chk->error). */
bool soak_load_check(const soak_load *l, const it_node *n, soak_check *chk);

void soak_load_free(soak_load *l);

#endif
