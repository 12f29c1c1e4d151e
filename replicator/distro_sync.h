/* The Distro sync scheduler for one peer (cluster design §1.3, §2.5 steps 3 and 6, §1.7 "#8099").
 *
 * The owner of a service marks it dirty for every peer on each change of its ephemeral state;
 * the scheduler decides when to send which services to that peer. A sync carries each
 * service's full current state, read from the registry when the batch is sent, so a service is
 * dirty or not: the backlog is bounded by the number of services, never by the number of writes.
 *
 * Rules:
 *  - A flush is due sync_delay_ms after the FIRST dirty key still unsent (not a debounce: more
 *    changes never push it back), or at once when batch_max_services are dirty.
 *  - One batch is in flight per peer. A batch takes the oldest dirty services first, at most
 *    batch_max_services and at most batch_max_bytes by the caller's size estimate; a single
 *    service larger than batch_max_bytes goes alone (counted as oversized, never dropped).
 *  - Success clears the sent services, except those marked dirty again while the batch was in
 *    flight (they are sent by a later batch). Failure keeps them all and backs off:
 *    backoff_min_ms, doubling up to backoff_max_ms; a success resets the backoff.
 *  - A SUSPICIOUS (or STARTING, UNKNOWN) peer keeps its set and is tried. A DOWN peer's set is
 *    dropped and marks are ignored while it is DOWN: it reloads a snapshot on its return.
 *
 * Driving it (the replicator's loop): mark on CHANGE_EVENT of an owned service; after any input
 * arm a timer for distro_sync_next_due_ms; when it fires, distro_sync_take_batch, read the
 * batch's services from the registry, send DISTRO_SYNC, and report distro_sync_batch_done or
 * _failed with the batch id. A report with an id that is not the batch in flight is ignored.
 *
 * Ownership: the scheduler copies every key it is given. The peer id and the keys of a batch
 * stay valid until the batch is reported or the scheduler is freed. Single-threaded: the
 * replicator's loop thread. */
#ifndef DISTRO_SYNC_H
#define DISTRO_SYNC_H

#include "distro_view.h"

typedef enum distro_sync_failure {
    DISTRO_SYNC_FAIL_TIMEOUT = 0, /* no reply within the request's budget */
    DISTRO_SYNC_FAIL_UNREACHABLE, /* no connection to the peer */
    DISTRO_SYNC_FAIL_REJECTED,    /* the peer answered with an error */
    DISTRO_SYNC_FAIL_REGISTRY,    /* the local registry could not read the batch's state */
    DISTRO_SYNC_FAIL_TOO_LARGE,   /* the encoded batch exceeded the peer message limit */
    DISTRO_SYNC_FAIL_COUNT
} distro_sync_failure;

/* The `reason` label of sync_failures_total. */
const char *distro_sync_failure_name(distro_sync_failure f);

/* Estimated encoded bytes of a service's sync entry (the registry knows its instance count). */
typedef size_t (*distro_size_estimate_fn)(void *ctx, const distro_key *k);

typedef struct distro_sync_config {
    int64_t sync_delay_ms;     /* distro.sync_delay_ms, >= 0 */
    size_t batch_max_services; /* distro.batch_max_services, 1..CAIRN_DISTRO_MAX_STATES */
    size_t batch_max_bytes;    /* >= 1; default CAIRN_DISTRO_PAGE_MAX_BYTES */
    int64_t backoff_min_ms;    /* >= 1 */
    int64_t backoff_max_ms;    /* >= backoff_min_ms */
    distro_size_estimate_fn estimate; /* NULL: every service counts 0 bytes */
    void *estimate_ctx;
} distro_sync_config;

/* The §3 defaults, no estimate. */
void distro_sync_config_defaults(distro_sync_config *cfg);

typedef struct distro_sync distro_sync;

/* cfg is copied; peer is copied. NULL when out of memory. The peer starts UNKNOWN. */
distro_sync *distro_sync_new(const distro_sync_config *cfg, const char *peer);
void distro_sync_free(distro_sync *s);

const char *distro_sync_peer(const distro_sync *s);

/* An owned service changed. 0, or -1 when out of memory (nothing changed). Ignored (0) while
 * the peer is DOWN. */
int distro_sync_mark_dirty(distro_sync *s, const distro_key *k, int64_t now_ms);

/* A CHANGE_EVENT of service k: marks it dirty on each of the n peers' schedulers when self owns
 * it in view v (only an owner syncs a service); does nothing otherwise. 0, or -1 when out of
 * memory (some peers may have it marked). */
int distro_sync_mark_owned(distro_sync *const *peers, size_t n, const distro_view *v,
                           const distro_key *k, int64_t now_ms);

/* The membership state of the peer. Turning DOWN drops the whole dirty set at once and resets
 * the backoff; the keys of a batch in flight stay valid until it is reported, and a service
 * marked again after the peer's return is kept whatever that report says. */
void distro_sync_set_peer_state(distro_sync *s, distro_peer_state st, int64_t now_ms);

/* When a batch is due: a time <= now_ms means now; INT64_MAX means nothing to do (empty, a
 * batch in flight, or DOWN). */
int64_t distro_sync_next_due_ms(const distro_sync *s, int64_t now_ms);

typedef struct distro_sync_batch {
    uint64_t id;           /* > 0 */
    const distro_key *keys; /* n services, oldest first; valid until reported */
    size_t n;
    size_t bytes;          /* the sum of the estimates */
    bool oversized;        /* one service above batch_max_bytes */
} distro_sync_batch;

/* Takes the next batch when one is due at now_ms: true and *out set, the batch now in flight.
 * false when nothing is due. */
bool distro_sync_take_batch(distro_sync *s, int64_t now_ms, distro_sync_batch *out);
void distro_sync_batch_done(distro_sync *s, uint64_t id, int64_t now_ms);
void distro_sync_batch_failed(distro_sync *s, uint64_t id, distro_sync_failure why,
                              int64_t now_ms);

typedef struct distro_sync_stats {
    size_t dirty;             /* dirty_services{peer}: unconfirmed services, in flight included */
    int64_t lag_ms;           /* sync_lag_seconds{peer}: age of the oldest unconfirmed change */
    uint64_t syncs;           /* syncs_total{peer}: batches confirmed */
    uint64_t services_synced; /* services confirmed */
    uint64_t failures[DISTRO_SYNC_FAIL_COUNT]; /* sync_failures_total{peer,reason} */
    uint64_t dropped;         /* services dropped when the peer went DOWN */
    uint64_t oversized;       /* batches of one service above batch_max_bytes */
    int64_t backoff_ms;       /* current backoff, 0 when none */
    bool in_flight;
} distro_sync_stats;

void distro_sync_get_stats(const distro_sync *s, int64_t now_ms, distro_sync_stats *out);

#endif
