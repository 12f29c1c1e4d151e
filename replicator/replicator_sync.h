/* Distro sync (cluster-design §2.5 steps 3-6): the owner's side (replicator_sync.c: change
 * events → per-peer schedulers → DISTRO_FETCH → DISTRO_SYNC) and the receiver's side
 * (replicator_sync_apply.c: DISTRO_SYNC → DISTRO_APPLY with the receiver's mode → ACK).
 * Which thread calls what is said per function. */
#ifndef REPLICATOR_SYNC_H
#define REPLICATOR_SYNC_H

#include "distro_view.h"
#include "replicator.h"

/* Main thread, after the peer sockets are open and before the loop starts: opens the registry
 * client and the change-event subscription, and queues the timer's start on the loop. */
cairn_err repl_sync_start(replicator *r, cairn_status *st);
/* Loop thread, while it closes its handles. */
void repl_sync_close_handles(replicator *r);
/* Main thread, after the loop has ended and before the peer sockets close: stops every aio and
 * closes the registry client (its callbacks have run when this returns). */
void repl_sync_stop(replicator *r);
void repl_sync_destroy(replicator *r);

/* The ownership view over the current owner list (rebuilt when view_version moves); valid until
 * the next call. Loop thread. */
const distro_view *repl_sync_view(replicator *r);
/* The registry client of the sync (any thread, between start and stop). */
cairn_rpc_client *repl_sync_registry(replicator *r);

/* The peer listener's handler of DISTRO_SYNC (nng thread): checks the body, hands the apply to
 * the loop and returns REPL_PEER_DEFERRED; the ack is sent later with repl_peer_server_reply. */
nng_msg *repl_sync_on_peer_sync(replicator *r, int worker, const cairn_peer_envelope *env,
                                const char *body, size_t body_len, cairn_status *st);

#endif
