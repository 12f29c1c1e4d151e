/* An HTTP request that needs another role, as a job rather than a waiting thread: the handler
 * builds the request and hands it here; the connection is deferred (gateway_http.h), the request
 * goes out on an nng aio (cairn_rpc_call_async) with the role's timeout, and the reply is turned
 * into the response on the nng thread that receives it. The HTTP thread returns at once to its
 * other connections, so a slow or stopped role delays only the requests that need it, and those
 * get their 503 at the timeout. */
#ifndef GATEWAY_JOB_H
#define GATEWAY_JOB_H

#include "gateway.h"
#include "gateway_http.h"

/* Fills resp from the call's outcome: rc and *st as gateway_call_outcome shaped them, *rep the
 * reply (the renderer may take its contents). rq is the request that was sent. Runs on an nng
 * thread (or the handler's, when the call could not start): must not block. */
typedef void (*gateway_render_fn)(gateway *gw, const cairn_request *rq, cairn_err rc,
                                  cairn_reply *rep, cairn_status *st, void *data,
                                  gateway_response *resp);

/* Sends *rq (taken: rq is left initialised-empty, and the copy is freed when the job ends) to the
 * registry, or to the role that answers beats, and answers req with what render makes of the
 * outcome. data is handed to render and then freed with free_data (both may be NULL). resp is
 * the handler's: its endpoint label is kept for the answer. */
void gateway_ask_registry(gateway *gw, gateway_request *req, gateway_response *resp,
                          cairn_request *rq, gateway_render_fn render, void *data,
                          void (*free_data)(void *));
void gateway_ask_beats(gateway *gw, gateway_request *req, gateway_response *resp,
                       cairn_request *rq, gateway_render_fn render, void *data,
                       void (*free_data)(void *));

/* The end of every write endpoint: when err is CAIRN_OK sends *rq to the registry (in a cluster
 * a persistent write to raft instead, gateway_route_persist.h, and a patch or health by hand to
 * the path of the instance's kind, gateway_route_kind.h) and answers `ok` or the error;
 * otherwise answers the error in *st at once. *rq is taken or freed in every case. */
void gateway_finish_write(gateway *gw, gateway_request *req, gateway_response *resp,
                          cairn_request *rq, cairn_err err, cairn_status *st);

#endif
