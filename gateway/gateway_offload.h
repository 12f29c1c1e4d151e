/* The few handlers that make several calls in a row, or read other roles' admin endpoints (the
 * Prometheus service discovery walks the registry page by page; the console's role table probes
 * every role over HTTP), run here instead of on the HTTP threads: the request is deferred and
 * copied, and one of a small pool of threads runs the handler as written, waiting on the calls.
 * Only these requests queue behind each other; the HTTP threads never wait. The queue is
 * bounded: beyond GATEWAY_OFFLOAD_QUEUE_MAX waiting requests, new ones get 503 at once. */
#ifndef GATEWAY_OFFLOAD_H
#define GATEWAY_OFFLOAD_H

#include "gateway_handlers.h"

#define GATEWAY_OFFLOAD_THREADS 2
#define GATEWAY_OFFLOAD_QUEUE_MAX 64

typedef struct gateway_offload gateway_offload;

/* Starts the pool's threads; NULL with *st set on failure. */
gateway_offload *gateway_offload_start(gateway *gw, cairn_status *st);
/* Runs fn for req on the pool (req is copied; resp's endpoint label is kept), or answers resp
 * with 503 when the queue is full or memory short. Called on an HTTP thread. fn fills its resp,
 * or hands the request on as a job (gateway_job.h) and leaves resp unset. */
void gateway_offload_run(gateway_offload *o, gateway_handler_fn fn, gateway_request *req,
                         gateway_response *resp);
/* Runs what is queued, then stops the threads and frees o. Call after the HTTP listener has
 * stopped accepting. */
void gateway_offload_stop(gateway_offload *o);

#endif
