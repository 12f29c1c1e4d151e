/* What the raft FSM hands the registry: full records of the CP state, in batches that become
 * PERSIST_APPLY {first, last, records[]} or PERSIST_REPLACE (cluster-design §2.7 steps 3-5).
 *
 * A record is {op, kind, ns, service (grouped), value}:
 *   service  put  value = cairn_service_encode of the definition (clusters and their checkers,
 *                 metadata, threshold, selector; no instances). revision and modified_ms are 0:
 *                 the registry stamps its own.
 *   service  del  value empty: the registry drops the service and ALL its instances (persistent
 *                 and ephemeral, as Nacos 1.4.8 does).
 *   instance put  value = cairn_instance_encode of the persistent instance (ephemeral false),
 *                 keyed by (ip, port, cluster); modified_ms is 0.
 *   instance del  value = cairn_instance_encode of the instance as it was (its key fields).
 * A batch owns its records and their strings and bytes (malloc'd); free it with
 * cairn_raft_batch_free. Loop thread, or whichever thread the batch was handed to. */
#ifndef CAIRN_RAFT_RECORDS_H
#define CAIRN_RAFT_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_model.h"

typedef enum cairn_raft_op { CAIRN_RAFT_PUT = 0, CAIRN_RAFT_DEL = 1 } cairn_raft_op;
typedef enum cairn_raft_kind { CAIRN_RAFT_SERVICE = 0, CAIRN_RAFT_INSTANCE = 1 } cairn_raft_kind;

typedef struct cairn_raft_record {
    cairn_raft_op op;
    cairn_raft_kind kind;
    char *ns;
    char *service; /* grouped name */
    char *value;   /* see above; NULL for a service del */
    size_t value_len;
} cairn_raft_record;

typedef struct cairn_raft_batch {
    /* false: PERSIST_APPLY of the entries first..last (an entry that changed nothing, a rejected
     * one, adds no record but still counts, so the registry watermark reaches every index).
     * true: PERSIST_REPLACE: records are the whole state (puts only) as of index last (first is
     * 0); the registry replaces its persistent data only if last is above its watermark. */
    bool replace;
    uint64_t first, last;
    cairn_raft_record *records;
    size_t count, cap;
} cairn_raft_batch;

void cairn_raft_batch_init(cairn_raft_batch *b);
void cairn_raft_batch_free(cairn_raft_batch *b);
/* Appending copies and encodes; allocation failure aborts (raft_state.h says why). */
void cairn_raft_batch_service_put(cairn_raft_batch *b, const cairn_service *def);
void cairn_raft_batch_service_del(cairn_raft_batch *b, const char *ns, const char *service);
void cairn_raft_batch_instance(cairn_raft_batch *b, cairn_raft_op op, const char *ns,
                               const char *service, const cairn_instance *in);

/* Where batches go: the role's callback, which takes ownership of *batch (move it out; the FSM
 * reuses the struct). Called on the loop thread. */
typedef void (*cairn_raft_emit_fn)(void *arg, cairn_raft_batch *batch);

#endif
