/* cairn-grpc in a cluster (docs/architecture.md, "Cluster: gRPC instances"). A connection's
 * instances are written at their service's Distro owner, which syncs them to every member, as
 * the gateway's forwarded v1 writes are: INSTANCE_SET_OWNED for a service another member owns
 * travels as a FORWARD through the local replicator (replicator.sock) with the deadline
 * cluster.forward_timeout_ms; one this node owns, or any while there is no view yet, goes to the
 * local registry. The owner is chosen when the write is sent (not when it was queued), so a
 * retried release follows a view change. A persistent instance's write (PersistentInstanceRequest)
 * goes through raft instead, as the gateway's persistent writes do: a RAFT_SUBMIT to the local
 * replicator, answered once a majority committed it and this node's registry applied it. Standalone (no cluster.members) nothing here runs and
 * owners keep the host-name node.
 *
 * Threads: a follower thread (cairn_members_follow.h) keeps the latest owner list under a short
 * lock; the loop thread looks owners up. The forwards are async rpcs like the registry's. */
#ifndef GRPC_CLUSTER_H
#define GRPC_CLUSTER_H

#include <stdbool.h>

#include "cairn_cluster_config.h"
#include "grpc.h"

typedef struct grpc_cluster grpc_cluster;

/* Reads the cluster config of the role: standalone → *out NULL and CAIRN_OK; a cluster → the
 * follower runs, the replicator client is open, and node (char[CAIRN_GRPC_NODE_MAX]) is the
 * member's node name for owners. */
cairn_err grpc_cluster_open(const cairn_config *cfg, const char *run_dir, grpc_cluster **out,
                            char *node, cairn_status *st);
void grpc_cluster_close(grpc_cluster *gc);

/* The member that owns grouped: false when it is self, or there is no view or no owner (the
 * write is then local); true with its identity in owner[CAIRN_CLUSTER_ID_MAX]. Loop thread. */
bool grpc_cluster_peer_owner(grpc_cluster *gc, const char *grouped, char *owner);
/* Bumped each time the owner list, or the view a member last reported, differs from before (0:
 * no view yet): this node, or another member, saw a member go DOWN or come back. Any thread. */
uint64_t grpc_cluster_owners_generation(grpc_cluster *gc);
/* Wraps *req (an INSTANCE_SET_OWNED) in place as a FORWARD to owner with the forward deadline. */
cairn_err grpc_cluster_wrap(grpc_cluster *gc, cairn_request *req, const char *owner,
                            cairn_status *st);
/* Start-up, after the local drop of earlier incarnations: the same OWNER_DROP (mode
 * OTHER_INCARNATIONS, so it never touches this incarnation's instances) goes to every other
 * configured member as a FORWARD. The role listens (stale_dropped) once every member answered,
 * or every one that did not is DOWN in the view, or after 5 s; members not reached are asked
 * again every 5 s until they answer. Once the view says this node is READY the drop runs here
 * again, since the load on start may have copied the earlier instances back from a peer. This
 * covers cairn-grpc restarting alone, and a whole node restarting before its peers noticed:
 * neither is a member going DOWN for them. */
void grpc_cluster_stale_begin(grpc_server *s);
void grpc_cluster_stale_timer(grpc_server *s);
/* Takes the start-up timer out of the server's heap (before grpc_cluster_close). */
void grpc_cluster_disarm(grpc_server *s);
/* The local replicator's rpc clients: FORWARDs (cluster.forward_timeout_ms), and RAFT_SUBMITs
 * (raft.submit_timeout_ms). */
cairn_rpc_client *grpc_cluster_replicator(grpc_cluster *gc);
cairn_rpc_client *grpc_cluster_raft(grpc_cluster *gc);

#endif
