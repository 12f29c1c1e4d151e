/* Verify rounds, the owner's side (cluster design §1.4, §2.6, §1.7 "#6018", "#9387").
 *
 * Every interval_ms a READY node starts a round to each READY peer: DISTRO_VERIFY carries its
 * view_hash, store epoch and 256 bucket digests over the services it owns (the registry's
 * DISTRO_DIGESTS with owners and self). The peer computes the same over the services it holds
 * that the sender owns in its view (DISTRO_DIGESTS with self = the sender) and answers the
 * mismatched buckets; for each, the owner sends DISTRO_VERIFY_KEYS (DISTRO_KEYS: the bucket's
 * keys, versions and entry digests) and the peer answers {want[], offer[]} (distro_compare.h).
 * This engine schedules the rounds and turns the answers into repairs:
 *   want[k]  -> SEND k to the peer (the loop marks k dirty in that peer's distro_sync);
 *   offer[k] -> FETCH k from the peer (DISTRO_FETCH), then re-publish it as the owner's own
 *               write with a full grace period;
 * except keys this node does not own in its current view (ownership moved during the round):
 * those are skipped and counted; the round goes on. A service this node deleted is not offered
 * back as new: its registry keeps the emptied state (a tombstone with its version) until the
 * empty-service sweep, so the comparison finds the offer older.
 *
 * Rules: no round while self is not READY or to a peer that is not READY; never two concurrent
 * rounds to one peer (a round still running when the next is due is not doubled: the next starts
 * once it ends); a round's first start is one interval after both ends became READY; a round
 * without an answer for round_timeout_ms is abandoned (result "timeout") and its late answers
 * ignored. A round with no mismatched bucket is clean: last_clean_verify{peer} = now (the
 * convergence alarm: a peer whose last clean round is old has diverged).
 *
 * Driving it: after every input, while distro_verify_start_round gives a round, send
 * DISTRO_VERIFY; report each answer with the round's id; arm a timer for
 * distro_verify_next_due_ms.
 *
 * Ownership: peer ids are copied and the round's peer string is valid until the engine is freed;
 * the answer's keys are borrowed for the call. Single-threaded: the replicator's loop thread. */
#ifndef DISTRO_VERIFY_H
#define DISTRO_VERIFY_H

#include "distro_view.h"

typedef struct distro_verify_config {
    int64_t interval_ms;      /* distro.verify_interval_ms */
    int64_t round_timeout_ms; /* a round's answers must arrive within this */
} distro_verify_config;

void distro_verify_config_defaults(distro_verify_config *cfg); /* 5000, 5000 */

typedef enum distro_round_result {
    DISTRO_ROUND_CLEAN = 0, /* no mismatched bucket */
    DISTRO_ROUND_REPAIRED,  /* mismatched buckets, all answered */
    DISTRO_ROUND_FAILED,    /* a request failed */
    DISTRO_ROUND_TIMEOUT,
    DISTRO_ROUND_ABANDONED, /* self or the peer stopped being READY */
    DISTRO_ROUND_RESULT_COUNT
} distro_round_result;

/* The `result` label of verify_rounds_total. */
const char *distro_round_result_name(distro_round_result r);

typedef enum distro_repair_kind {
    DISTRO_REPAIR_SEND = 0,
    DISTRO_REPAIR_FETCH,
} distro_repair_kind;

typedef void (*distro_repair_fn)(void *ctx, distro_repair_kind kind, const char *peer,
                                 const distro_key *k);

typedef struct distro_verify distro_verify;

/* peers: the other members (copied). NULL when out of memory. */
distro_verify *distro_verify_new(const distro_verify_config *cfg, const char *const *peers,
                                 size_t n);
void distro_verify_free(distro_verify *v);

void distro_verify_set_self_ready(distro_verify *v, bool ready, int64_t now_ms);
void distro_verify_set_peer_ready(distro_verify *v, const char *peer, bool ready,
                                  int64_t now_ms);

/* When the next round is due or the oldest running one times out; INT64_MAX: never. */
int64_t distro_verify_next_due_ms(const distro_verify *v, int64_t now_ms);

typedef struct distro_verify_round {
    const char *peer;
    uint64_t id;
} distro_verify_round;

/* Times out stale rounds, then starts one due round: true and *out set, or false when none is
 * due. Call until false. */
bool distro_verify_start_round(distro_verify *v, int64_t now_ms, distro_verify_round *out);

/* The answer to DISTRO_VERIFY: n mismatched buckets (0 ends the round clean; otherwise the
 * loop sends one DISTRO_VERIFY_KEYS per bucket and reports each answer). */
void distro_verify_on_buckets(distro_verify *v, const char *peer, uint64_t id, size_t n,
                              int64_t now_ms);

typedef struct distro_verify_answer {
    const distro_key *want;
    size_t n_want;
    const distro_key *offer;
    size_t n_offer;
} distro_verify_answer;

/* The answer to one DISTRO_VERIFY_KEYS: emits the repairs through fn (see above) against the
 * current view (NULL: no view, which owns nothing). */
void distro_verify_on_keys(distro_verify *v, const char *peer, uint64_t id,
                           const distro_verify_answer *a, const distro_view *view,
                           distro_repair_fn fn, void *ctx, int64_t now_ms);

/* A request of the round failed (transport, MAC, decode, the peer's error). */
void distro_verify_round_failed(distro_verify *v, const char *peer, uint64_t id,
                                int64_t now_ms);

typedef struct distro_verify_stats {
    int64_t last_clean_ms; /* last_clean_verify; -1 never */
    uint64_t rounds[DISTRO_ROUND_RESULT_COUNT];
    uint64_t sent, fetched;           /* repairs_total{kind} */
    uint64_t skipped_not_owner;       /* keys this node no longer owns */
    bool in_flight;
} distro_verify_stats;

/* false when peer is unknown. */
bool distro_verify_get_stats(const distro_verify *v, const char *peer, distro_verify_stats *out);

#endif
