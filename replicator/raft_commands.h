/* The persistent writes the raft FSM applies: Cairn's own registry write messages
 * (common/proto/cairn_msg.h), with the registry's semantics (registry/registry_instances.c,
 * registry_services.c, registry_health.c) on the in-memory CP state:
 *
 *   INSTANCE_UPSERT  ephemeral false; REGISTER creates or replaces (keeping instanceId, health
 *                    and the manual mark), MUST_EXIST is the strict update (missing service or
 *                    instance rejected); a new cluster or an implicit service is created as the
 *                    registry does.
 *   INSTANCE_PATCH   ephemeral false; applied to the current record in log order, so patches
 *                    compose.
 *   INSTANCE_REMOVE  ephemeral false; a missing service or instance is "ok", nothing changes.
 *   INSTANCE_HEALTH  BY_CHECKER of a persistent instance (skipped when marked), or MANUAL (only
 *                    where the cluster's checker is NONE; sets the persistent instance).
 *   SERVICE_PUT      CREATE / UPDATE / CLUSTERS as the registry.
 *   SERVICE_REMOVE   the service and all its instances.
 * Anything else, and an ephemeral instance, is rejected: it is not a raft command.
 *
 * Deterministic: the result depends only on the state, the request and the limits (which every
 * member must configure alike). Differences from the registry, since the CP state holds only
 * persistent data: the per-service instance limit counts persistent instances; a snowflake
 * instanceId is the smallest integer no persistent instance of the service uses; times
 * (modified_ms, revision) are 0 and stamped by the registry.
 *
 * A rejection returns its code and Nacos' message in *st and changes nothing; a change appends
 * full records to out (raft_records.h). Loop thread only. */
#ifndef CAIRN_RAFT_COMMANDS_H
#define CAIRN_RAFT_COMMANDS_H

#include <stdint.h>

#include "cairn_msg.h"
#include "raft_records.h"
#include "raft_state.h"

typedef struct raft_cmd_limits {
    cairn_limits limits;               /* limits.max_metadata_bytes */
    int64_t max_instances_per_service; /* limits.max_instances_per_service */
} raft_cmd_limits;

cairn_err raft_cmd_apply(raft_cp_state *s, const raft_cmd_limits *lim, const cairn_request *req,
                         cairn_raft_batch *out, cairn_status *st);

/* The checks of raft_cmd_apply that need no state (limits, a raft command at all, the service
 * and instance references, a create's service name, a cluster update's cluster), with the same
 * codes and messages: what a member runs before raft_apply, so that a write refused for its own
 * sake never enters the log. A write that passes may still be refused by apply (it exists, it
 * does not), as the registry refuses it. Pure; any thread (raft_cmd_check.c). */
cairn_err raft_cmd_check(const raft_cmd_limits *lim, const cairn_request *req, cairn_status *st);

#endif
