/* DISTRO_READ between replicators (cairn_peer_read.h): a member reads a peer's ephemeral states
 * (load pages, verify digests, keys and fetches). The server side relays an accepted read to
 * its own registry and answers on the listener's waiting context; the client side sends one
 * read on a context of its own on the peer's REQ socket and hands the answer to the loop.
 * Threads are said per function. */
#ifndef REPLICATOR_READ_H
#define REPLICATOR_READ_H

#include "replicator.h"

/* The peer listener's handler of DISTRO_READ (nng thread): checks the body, relays it to the
 * registry (async) and returns REPL_PEER_DEFERRED; or NULL with *st set (bad body). */
nng_msg *repl_read_on_peer_read(replicator *r, int worker, const cairn_peer_envelope *env,
                                const char *body, size_t body_len, cairn_status *st);

/* The outcome of a read, on the loop thread (or, after the loop ended, during
 * replicator_destroy with r->closed set: then only free what arg holds). rc is CAIRN_OK with
 * the peer registry's reply in *rep (its code may be an error), or the transport's error
 * (unreachable, timeout, refused answer) with *rep empty. rep is freed after the call. */
typedef void (*repl_read_fn)(replicator *r, void *arg, cairn_err rc, cairn_reply *rep);

/* Loop thread: sends rq (borrowed: encoded before this returns) to member idx as DISTRO_READ,
 * answering within timeout_ms; fn runs exactly once, also when sending fails. */
void repl_read_call(replicator *r, size_t idx, const cairn_request *rq, int timeout_ms,
                    repl_read_fn fn, void *arg);

#endif
