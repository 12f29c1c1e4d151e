/* The gateway role: its shared state and the calls every handler makes to other roles. */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_msg.h"
#include "cairn_role.h"
#include "cairn_rpc.h"
#include "gateway_cache.h"
#include "gateway_cache_events.h"
#include "gateway_http.h"
#include "gateway_metrics.h"
#include "gateway_push.h"
#include "gateway_ready.h"

typedef struct gateway {
    cairn_role *role;
    cairn_rpc_client *registry;
    cairn_rpc_client *beats; /* the healthcheck role, which answers beats */
    gateway_metrics metrics;
    gateway_http *http;
    gateway_push *push; /* NULL when pusher.count is 0: no push subscriptions */
    uint32_t pushers;   /* pusher.count */
    gateway_ready *ready; /* the node readiness monitor */
    /* instance/list bodies, kept in step with the registry's change events; both NULL when
     * gateway.list_cache_max_age_ms is 0. */
    gateway_cache *list_cache;
    gateway_cache_events *list_events;

    size_t max_body_bytes;
    size_t max_param_bytes;
    size_t max_metadata_bytes;
    size_t prometheus_max_bytes; /* largest Prometheus service discovery answer */
    char listen_host[256];
    uint16_t listen_port; /* the port bound */

    /* Process CPU use between two GET /operator/metrics calls. */
    pthread_mutex_t cpu_lock;
    double cpu_wall_s; /* monotonic seconds at the last sample */
    double cpu_proc_s; /* process CPU seconds at the last sample */
} gateway;

/* Opens the clients to other roles and starts the HTTP listener. On failure *st says why and
 * nothing is left running. */
cairn_err gateway_open(gateway *gw, cairn_role *role, cairn_status *st);
void gateway_close(gateway *gw);

/* One request to the registry. rep is initialised here and must be freed by the caller in every
 * case. A reply with an error code becomes that error in *st; CAIRN_E_UNAVAILABLE messages end
 * with "; try again" and are counted. */
cairn_err gateway_call_registry(gateway *gw, const cairn_request *req, cairn_reply *rep,
                                cairn_status *st);
/* The end of every write endpoint: when err is CAIRN_OK sends req to the registry; frees req;
 * answers `ok`, or the error in *st (validation's or the registry's). */
void gateway_finish_write(gateway *gw, cairn_request *req, cairn_err err, cairn_status *st,
                          gateway_response *resp);
/* A beat, sent to whichever role takes beats. */
cairn_err gateway_call_beats(gateway *gw, const cairn_request *req, cairn_reply *rep,
                             cairn_status *st);

/* Monotonic milliseconds. */
int64_t gateway_now_ms(void);
/* Wall-clock milliseconds. */
int64_t gateway_wall_ms(void);

#endif
