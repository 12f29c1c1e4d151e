/* The in-memory CP state of the replicator: service definitions (with their cluster settings)
 * and persistent instances, as the raft FSM (raft_fsm.h) builds it by applying committed entries.
 *
 * Services are keyed by (namespace, grouped name), instances of a service by (cluster, ip, port).
 * Values are owned by the state: put functions take ownership of what they are given, pointers
 * returned by lookups stay valid until the entry is replaced or removed. Allocation failure
 * aborts the process: the FSM must apply every entry identically on every node, and a node that
 * could not is better restarted (it replays the log) than left diverged. Loop thread only. */
#ifndef CAIRN_RAFT_STATE_H
#define CAIRN_RAFT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn_hashmap.h"
#include "cairn_model.h"

typedef struct raft_cp_service {
    cairn_service def;        /* namespace_id and name set; revision and modified_ms stay 0 */
    cairn_hashmap *instances; /* instance key → cairn_instance * (persistent instances only) */
} raft_cp_service;

typedef struct raft_cp_state {
    cairn_hashmap *services; /* service key → raft_cp_service * */
    uint64_t instance_count;
} raft_cp_state;

raft_cp_state *raft_state_new(void);
void raft_state_free(raft_cp_state *s);
/* Empties s (restore replaces the whole state). */
void raft_state_clear(raft_cp_state *s);

raft_cp_service *raft_state_service(const raft_cp_state *s, const char *ns, const char *name);
/* Adds a service, taking def (its namespace_id and name must be set), or replaces the definition
 * of an existing one (keeping its instances). Returns the entry. */
raft_cp_service *raft_state_put_service(raft_cp_state *s, cairn_service *def);
/* Removes a service and all its instances; false when there was none. */
bool raft_state_drop_service(raft_cp_state *s, const char *ns, const char *name);

cairn_instance *raft_state_instance(const raft_cp_service *svc, const char *cluster,
                                    const char *ip, int32_t port);
/* Adds or replaces the instance keyed by in's (cluster, ip, port), taking in. */
cairn_instance *raft_state_put_instance(raft_cp_state *s, raft_cp_service *svc,
                                        cairn_instance *in);
/* Removes an instance; false when there was none. */
bool raft_state_del_instance(raft_cp_state *s, raft_cp_service *svc, const char *cluster,
                             const char *ip, int32_t port);

/* Services sorted by (namespace, name), and a service's instances sorted by (cluster, ip, port):
 * a malloc'd array of borrowed pointers (free the array only), so snapshots and replacement
 * sets come out in one canonical order. */
raft_cp_service **raft_state_sorted_services(const raft_cp_state *s, size_t *n);
cairn_instance **raft_state_sorted_instances(const raft_cp_service *svc, size_t *n);

/* Aborts with a message: allocation failed where the FSM cannot fail (see above). */
_Noreturn void raft_state_oom(void);
/* strdup of s ("" for NULL) that calls raft_state_oom when allocation fails. */
char *raft_state_strdup(const char *s);

#endif
