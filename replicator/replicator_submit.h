/* Persistent writes into the raft log (cluster-design §1.6, §2.7 steps 1-2 and 4): the gateway's
 * RAFT_SUBMIT on replicator.sock, and RAFT_FORWARD / RAFT_FORWARD_ACK on the peer channel.
 *
 * A submit is a job on the loop, never a waiting thread:
 *   1. The write is unwrapped and checked without state (raft_cmd_check): a write refused for its
 *      own sake gets the registry's code and message and never enters the log.
 *   2. Routing: this node leads → cairn_raft_node_submit; another member leads → RAFT_FORWARD to
 *      it; no leader known → the job waits (polled every REPL_SUBMIT_TICK_MS) at most
 *      raft.forward_wait_ms, then 503 `no raft leader`.
 *   3. Committed: the FSM's verdict. A refusal is answered at once; an accepted write waits until
 *      this node's registry has applied the entry's index (repl_persist_applied), at most
 *      REPL_SUBMIT_APPLY_WAIT_MS, so the client reads its write on the node it used.
 *   4. Leadership lost after the append, or no commit within raft.submit_timeout_ms: 503
 *      `outcome unknown, retry` (commands set state, so a retry is safe).
 * A forward's receiver (the leader) appends it and answers once it is committed, with the index;
 * it never forwards again (NOT_LEADER instead). A forward whose request never left this node
 * (no connection to the leader) is routed again; one that left and got no answer is an unknown
 * outcome.
 *
 * Threads: repl_submit_take_local and repl_submit_on_peer_forward run on nng threads and only
 * post; repl_submit_shutdown runs on any thread; the rest on the loop thread. */
#ifndef REPLICATOR_SUBMIT_H
#define REPLICATOR_SUBMIT_H

#include <nng/nng.h>

#include "cairn_error.h"
#include "cairn_peer.h"
#include "cairn_rpc.h"

#define REPL_SUBMIT_TICK_MS 10
#define REPL_SUBMIT_APPLY_WAIT_MS 1000
/* Forwarded writes a leader lets wait for their commits at once: raft.forward_max_pending (each
 * holds one of the listener's REPL_PEER_RAFT_WORKERS contexts). Past it a forward is answered
 * FAILED `raft leader busy` at once, and the client gets 503. */

typedef struct replicator replicator;
typedef struct repl_submit repl_submit;

/* Main thread, after repl_raft_open (it reads the raft config), before the loop thread runs. */
cairn_err repl_submit_open(replicator *r, cairn_status *st);
/* replicator.sock's deferrer: takes a RAFT_SUBMIT (true), anything else is not its (false). */
bool repl_submit_take_local(replicator *r, cairn_rpc_pending *p);
/* The peer listener's RAFT_FORWARD handler (replicator_peer_server.c's table). */
nng_msg *repl_submit_on_peer_forward(replicator *r, int worker, const cairn_peer_envelope *env,
                                     const char *body, size_t body_len, cairn_status *st);
/* SIGTERM, before replicator.sock stops: new submits get 503 at once, waiting ones are answered
 * 503 on the loop (the rpc server's stop waits for them). Any thread. */
void repl_submit_shutdown(replicator *r);
/* Loop thread, at stop: the tick timer closes. */
void repl_submit_stop(replicator *r);
/* After the loop and the sockets have ended: frees what no callback holds any more. */
void repl_submit_free(replicator *r);

#endif
