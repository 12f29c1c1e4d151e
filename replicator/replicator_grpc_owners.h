/* A dead member's gRPC instances (docs/architecture.md, "Cluster: gRPC instances"). A member's
 * cairn-grpc owns its connections' instances as grpc/<node>/... (cairn_grpc_owner.h), written at
 * each service's Distro owner. When a peer turns DOWN in this node's view (never while it is only
 * SUSPICIOUS), its connections are gone with it: this node removes the instances of owners that
 * start with that member's prefix from the services it owns in the new view (OWNER_DROP with
 * the owner list and self: services it owned before and those it takes over from the dead
 * member, whose replicated state the registry has indexed by owner), and Distro syncs the
 * removals as any other change. Each member does its own share, so no message is needed.
 *
 * The drop is an async rpc to the local registry; a failed one is retried on the next ping round
 * with the view of then; a member that is no longer DOWN when its turn comes is skipped.
 * Loop thread only, except open/free (main thread, loop not running).
 * Metrics: cairn_replicator_grpc_member_drops_total (drops done), ..._grpc_member_dropped_
 * instances_total, ..._grpc_member_drop_failures_total. */
#ifndef REPLICATOR_GRPC_OWNERS_H
#define REPLICATOR_GRPC_OWNERS_H

#include <stddef.h>

#include "replicator.h"

cairn_err repl_grpc_owners_open(replicator *r, cairn_status *st);
void repl_grpc_owners_free(replicator *r);
/* Member idx turned DOWN: its gRPC instances are to go. */
void repl_grpc_owners_member_down(replicator *r, size_t idx);
/* A ping round: retries what failed. */
void repl_grpc_owners_tick(replicator *r);

#endif
