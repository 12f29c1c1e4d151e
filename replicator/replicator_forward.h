/* Forwarding writes and beats to their service's Distro owner (cluster-design §2.5 step 1;
 * docs/architecture.md, "Cluster: forwarding to the owner"). Two sides:
 *
 * Entry side (this node took the HTTP request, another owns the service): the gateway's FORWARD
 * on replicator.sock (cairn_forward.h) is taken by repl_forward_take on an rpc worker, and the
 * loop sends it to the owner as a peer FORWARD on a context of its own on that peer's REQ
 * socket. The reply, checked (envelope, type, sender, nonce), becomes the FORWARD's reply on an
 * nng thread; no answer by the deadline the gateway set is 503 "owner <id> unavailable".
 *
 * Owner side: repl_forward_on_peer (peer listener, nng thread) checks the body; the loop runs
 * the inner request against this node's own roles with an async rpc: writes on the registry, beats
 * on the healthcheck (as the gateway sends them, gateway_context.c). The reply goes back as
 * FORWARD_REPLY. A forwarded request is never forwarded again: the owner runs it whatever its
 * own view says (as Nacos does), since it never goes through the owner's gateway.
 *
 * Metrics, per peer: forwards_sent_total, forwards_received_total, forward_failures_total
 * (no valid answer: unreachable, refused, undecodable), forward_timeouts_total. */
#ifndef REPLICATOR_FORWARD_H
#define REPLICATOR_FORWARD_H

#include "replicator.h"

/* Main thread, after the peer sockets and the sync (its registry client) are open. */
cairn_err repl_forward_start(replicator *r, cairn_status *st);
/* Main thread, after the loop has ended and before the peer listener stops: closes the
 * healthcheck client (its callbacks, which answer on the listener, have run when this returns). */
void repl_forward_stop(replicator *r);
/* replicator_destroy. */
void repl_forward_destroy(replicator *r);

/* replicator.sock's deferrer (rpc worker): takes a FORWARD and answers it later. */
bool repl_forward_take(replicator *r, cairn_rpc_pending *p);
/* The peer listener's handler of FORWARD (nng thread): REPL_PEER_DEFERRED, or NULL with *st set
 * when the body is refused (counted as bad_format; nothing runs). */
nng_msg *repl_forward_on_peer(replicator *r, int worker, const cairn_peer_envelope *env,
                              const char *body, size_t body_len, cairn_status *st);

#endif
