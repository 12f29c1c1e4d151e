/* Request/reply between roles over nng REQ/REP, carrying cairn_msg requests and replies.
 *
 * Client: one REQ socket dialed (non-blocking, redialing forever: cairn_dial.h replaces a dialer
 * that nng 1.5.2 stopped) to a role's endpoint; each call uses its own nng context, so any number
 * of threads may call at once. A call that gets no reply
 * within the timeout fails with CAIRN_E_UNAVAILABLE and "<peer> unavailable: ..." so that the
 * gateway can answer 503 while a role restarts; requests are never resent by nng (a resend could
 * apply a write twice after the caller was told it failed).
 *
 * Server: a REP socket listening on an endpoint with `workers` threads, each on its own context,
 * decoding requests and calling the handler; undecodable requests are answered with
 * CAIRN_E_DECODE and a message, and counted, never crash the server. No worker ever waits for a
 * peer: a reply is sent by an aio on the request's own context, and the worker goes back to
 * receiving. A reply its peer's pipe has not taken within 2 s is dropped, and a peer with 16 MiB
 * of replies waiting (one that sends and never reads) has its further requests dropped
 * unanswered until it reads; both are counted (rpc_replies_dropped_total{reason}). Requests
 * over 16 MiB close their connection (cairn_listen.h). A batch (cairn_batch.h) is served as its
 * parts, each a request of its own (decoded, deferred or handled, counted), and answered with
 * one message once every part is. */
#ifndef CAIRN_RPC_H
#define CAIRN_RPC_H

#include <stdbool.h>

#include "cairn_error.h"
#include "cairn_metrics.h"
#include "cairn_msg.h"

typedef struct cairn_rpc_client cairn_rpc_client;
typedef struct cairn_rpc_server cairn_rpc_server;

/* peer_name is used in error messages ("registry"). */
cairn_rpc_client *cairn_rpc_client_open(const char *url, const char *peer_name, int timeout_ms,
                                        cairn_status *st);
cairn_err cairn_rpc_call(cairn_rpc_client *c, const cairn_request *req, cairn_reply *rep,
                         cairn_status *st);

/* The outcome of an asynchronous call, as cairn_rpc_call would have returned it: rc and *st, and
 * *rep (initialised in every case; the callback may take its contents, and frees what it keeps
 * in rep with cairn_reply_free). Runs on an nng thread: it must not block. */
typedef void (*cairn_rpc_done)(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st);

/* Sends req (encoded before this returns: the caller keeps req) without waiting; done is called
 * exactly once, from an nng thread, when the reply arrives or the timeout passes (nng demo/async:
 * the exchange is a state machine on an aio, not a thread). Contexts and aios are pooled per
 * client, so a call allocates nothing but its message. The client must outlive every call
 * started on it. */
void cairn_rpc_call_async(cairn_rpc_client *c, const cairn_request *req, cairn_rpc_done done,
                          void *arg);
/* Batching: at most max_exchanges asynchronous calls in flight on c; a call made while they are
 * all busy waits (within its own timeout) and goes out with the others that waited, up to
 * max_parts (at most CAIRN_BATCH_MAX_PARTS) in one message (cairn_batch.h), as soon as an
 * exchange ends. A light load sees no difference; under a heavy one both roles pay their
 * per-message costs once per batch. Each call still gets its own reply, code and callback; a
 * batch that fails as a whole (timeout, peer gone) fails each of its calls alike.
 * max_exchanges 0 (the default) turns it off. Call before the first call. */
void cairn_rpc_client_batch(cairn_rpc_client *c, int max_exchanges, size_t max_parts);
/* What the roles' busiest clients use (the gateway's and cairn-grpc's calls to the registry and
 * the beats): a few exchanges keep the registry's workers busy, and batches grow past them. */
#define CAIRN_RPC_BATCH_EXCHANGES 2
#define CAIRN_RPC_BATCH_PARTS 64
/* Closes the socket (calls in flight end with CAIRN_E_UNAVAILABLE), waits for their callbacks,
 * frees c. */
void cairn_rpc_client_close(cairn_rpc_client *c);

/* Fills rep for req. rep arrives initialised (code OK); the handler sets code/message/payload. */
typedef void (*cairn_rpc_handler)(void *arg, const cairn_request *req, cairn_reply *rep);

/* metrics may be NULL; when given, counts requests by type and code, and handling latency. */
cairn_rpc_server *cairn_rpc_server_start(const char *url, int workers, cairn_rpc_handler handler,
                                         void *arg, cairn_metrics *metrics, cairn_status *st);

/* A request whose reply comes later, from any thread (nng demo/async: the request's context waits,
 * not a thread). The deferrer is offered every decoded request first, on a worker thread; when it
 * returns true it owns p, the worker goes back to receiving at once, and whoever finishes the work
 * fills the reply and calls cairn_rpc_pending_finish exactly once. false: the handler answers it
 * on the worker as usual. cairn_rpc_server_stop waits for every taken request to be finished. */
typedef struct cairn_rpc_pending cairn_rpc_pending;
typedef bool (*cairn_rpc_deferrer)(void *arg, cairn_rpc_pending *p);
/* Valid until cairn_rpc_pending_finish. */
const cairn_request *cairn_rpc_pending_request(const cairn_rpc_pending *p);
cairn_reply *cairn_rpc_pending_reply(cairn_rpc_pending *p);
/* Encodes the reply, sends it on the request's context without waiting, and frees p. */
void cairn_rpc_pending_finish(cairn_rpc_pending *p);

cairn_rpc_server *cairn_rpc_server_start_deferring(const char *url, int workers,
                                                   cairn_rpc_handler handler,
                                                   cairn_rpc_deferrer deferrer, void *arg,
                                                   cairn_metrics *metrics, cairn_status *st);
void cairn_rpc_server_stop(cairn_rpc_server *s);

#endif
