/* The replicator's raft node (cluster-design §2.7, §2.8 step 2): the glue between the role and
 * the raft module (raft_node.h). It binds cluster.raft_listen through the authenticating
 * transport, advertises the bound address, decides how to start (raft_bootstrap.h) from what
 * peers report in PING, reports raft state to PING, operator/servers and metrics (the raft
 * provider hook), and stops the node on SIGTERM (a leader hands leadership over first).
 *
 * Threads: repl_raft_open runs on the main thread before the loop thread starts (it only creates
 * handles on the loop); everything else runs on the loop thread. */
#ifndef REPLICATOR_RAFT_H
#define REPLICATOR_RAFT_H

#include <stdbool.h>

#include "cairn_error.h"

typedef struct replicator replicator;

/* Creates the node (raft dir created, listener bound), sets r->raft_advertised and installs the
 * raft provider. An error (the port is taken, the dir cannot be made) fails the role's start. */
cairn_err repl_raft_open(replicator *r, cairn_status *st);
/* Each ping round: decides how to start while not started, then refreshes the metrics. */
void repl_raft_tick(replicator *r);
/* Whether raft has caught up with the leader's commit index known at join (raft_bootstrap.h,
 * cairn_raft_catchup_step), the registry included; re-evaluated on each call. Loop thread. */
bool repl_raft_caught_up(replicator *r);
/* SIGTERM, first of all (main thread): a leader starts handing leadership over, and the caller
 * waits until that ended or bound_ms passed. Nothing later in the stop (answering what waits on
 * replicator.sock, the peer sockets) can then keep the cluster on a leader that is leaving. */
void repl_raft_hand_over(replicator *r, int bound_ms);
/* SIGTERM: stop the node (leadership transfer first when leading); the loop keeps running until
 * raft has released every handle. */
void repl_raft_stop(replicator *r);
/* After the loop has ended, before the last drain of posted work (replicator_stop). */
void repl_raft_free(replicator *r);

/* For the submit path (replicator_submit.h), loop thread: the node while it runs (NULL before
 * it started and once it stops), and where its batches go (the registry's watermark). */
struct cairn_raft_node *repl_raft_node(replicator *r);
struct repl_persist *repl_raft_persist(replicator *r);

#endif
