/* The receiver's side of a verify round (cluster design §2.6): one mismatched bucket's keys as
 * the owner listed them, against the local copies in that bucket, gives want[], offer[] and the
 * local deletions. Both lists are DISTRO_KEYS reply states as they come (cairn_distro_state,
 * cairn_msg.h: key, version, content digest; instances unused), in any order.
 *
 * Per key (first match wins):
 *  - the receiver owns the key in its own view: skipped (counted), and the bucket goes on; a
 *    round is never aborted for one key (Nacos aborted the whole round);
 *  - listed by the owner, absent here: want;
 *  - listed, and the local copy is the same version with the same content digest: nothing;
 *  - listed, and the local copy is newer from the same writer (cairn_distro_compare): offer (the owner lost a
 *    write it had synced, e.g. LMDB pages not yet on disk at a crash);
 *  - listed otherwise (older, another writer, or same version with another digest): want;
 *  - not listed, and the local view gives the key to another member than the sender: nothing
 *    (not the sender's to judge);
 *  - not listed: the removal guard (distro_guard.h) says delete, offer, or skip.
 * A receiver that is not READY answers nothing: every key is skipped.
 *
 * Pure function; the lists are borrowed for the call. Any thread (the replicator's loop in
 * practice: the registry computes digests, never the loop, and the loop calls this on the
 * answer). */
#ifndef DISTRO_COMPARE_H
#define DISTRO_COMPARE_H

#include "distro_guard.h"
#include "distro_view.h"

typedef enum distro_verdict {
    DISTRO_VERDICT_WANT = 0, /* into want[]: the owner sends its state */
    DISTRO_VERDICT_OFFER,    /* into offer[]: the owner may fetch it */
    DISTRO_VERDICT_DELETE,   /* drop the local copy */
} distro_verdict;

/* Called once per key that needs something; k's strings point into the lists (k itself is valid
 * for the call only). */
typedef void (*distro_verdict_fn)(void *ctx, distro_verdict v, const distro_key *k);

typedef struct distro_compare_input {
    bool self_ready;
    const distro_view *view; /* the receiver's current view (its self is the receiver) */
    const char *sender;      /* the owner that sent the listing */
    uint64_t sender_view_hash;
    uint64_t sender_epoch;
    const cairn_distro_state *listed; /* the owner's keys in the bucket */
    size_t n_listed;
    const cairn_distro_state *local; /* the receiver's copies in the bucket */
    size_t n_local;
} distro_compare_input;

typedef struct distro_compare_result {
    size_t want, offer, deleted, equal;
    size_t skipped_self_owned; /* keys the receiver owns itself */
    size_t skipped_not_ready;
    size_t skipped_other_owner; /* unlisted copies the receiver gives to a third member */
    size_t removals_skipped[DISTRO_REMOVAL_REASON_COUNT]; /* removals_skipped_total{reason} */
} distro_compare_result;

/* Emits each verdict through fn and returns the counts. 0, or -1 when out of memory (nothing
 * emitted). */
int distro_compare_bucket(const distro_compare_input *in, distro_verdict_fn fn, void *ctx,
                          distro_compare_result *out);

#endif
