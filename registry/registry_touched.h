/* The instance keys a write batch touched, so that a service's change event can carry what
 * changed instead of the whole service (cairn_change_event.partial).
 *
 * The store records every instance key it puts or deletes while a recorder is installed
 * (registry_store.touched): the writer installs its own for the length of a batch. Recording
 * more than changed is harmless — a delta carries each key as it is after the commit, read
 * then, so a key a failed write touched goes out unchanged — while recording less would lose a
 * change: hence the store records, below every handler, and a key that cannot be recorded (out
 * of memory) turns deltas off for the batch (`lost`).
 *
 * Writer thread only; no locks. */
#ifndef REGISTRY_TOUCHED_H
#define REGISTRY_TOUCHED_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_msg.h"

struct registry_store;

typedef struct registry_touched {
    cairn_bytes *keys; /* each ptr malloc'd */
    size_t count, cap;
    bool sorted; /* sorted and without duplicates since the last add */
    bool lost;   /* a key could not be recorded: this batch sends no deltas */
} registry_touched;

/* Records one instance key (copied). */
void registry_touched_add(registry_touched *t, const void *key, size_t len);
/* Forgets every key (the memory of the array is kept for the next batch). */
void registry_touched_clear(registry_touched *t);
void registry_touched_free(registry_touched *t);

/* The touched keys of one service's instances: *first indexes t->keys (valid until the next add
 * or clear). Sorts t on first use after an add. */
size_t registry_touched_of_service(registry_touched *t, const char *ns, const char *svc,
                                   size_t *first);

/* A delta of the service for its change event, read in txn (the state as of the event): *out is
 * the service record and the touched instances that exist (cairn_snapshot_assemble, malloc'd),
 * *gone the keys of those that do not (malloc'd array of slices borrowed from t). Returns
 * CAIRN_OK with *out NULL when a delta is not worth it: the service is gone, it holds no more
 * than twice as many instances as were touched (the snapshot is then about as small), or the
 * delta would exceed max_bytes. No instance touched in a service that holds some is a delta of
 * the record alone. */
cairn_err registry_touched_delta(registry_touched *t, struct registry_store *s, MDB_txn *txn,
                                 const char *ns, const char *svc, size_t max_bytes, char **out,
                                 size_t *out_len, cairn_bytes **gone, uint32_t *gone_count,
                                 cairn_status *st);

#endif
