/* Request/reply between roles over nng REQ/REP, carrying cairn_msg requests and replies.
 *
 * Client: one REQ socket dialed (non-blocking, redialing forever) to a role's endpoint; each call
 * uses its own nng context, so any number of threads may call at once. A call that gets no reply
 * within the timeout fails with CAIRN_E_UNAVAILABLE and "<peer> unavailable: ..." so that the
 * gateway can answer 503 while a role restarts; requests are never resent by nng (a resend could
 * apply a write twice after the caller was told it failed).
 *
 * Server: a REP socket listening on an endpoint with `workers` threads, each on its own context,
 * decoding requests and calling the handler; undecodable requests are answered with
 * CAIRN_E_DECODE and a message, and counted, never crash the server. */
#ifndef CAIRN_RPC_H
#define CAIRN_RPC_H

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
void cairn_rpc_client_close(cairn_rpc_client *c);

/* Fills rep for req. rep arrives initialised (code OK); the handler sets code/message/payload. */
typedef void (*cairn_rpc_handler)(void *arg, const cairn_request *req, cairn_reply *rep);

/* metrics may be NULL; when given, counts requests by type and code, and handling latency. */
cairn_rpc_server *cairn_rpc_server_start(const char *url, int workers, cairn_rpc_handler handler,
                                         void *arg, cairn_metrics *metrics, cairn_status *st);
void cairn_rpc_server_stop(cairn_rpc_server *s);

#endif
