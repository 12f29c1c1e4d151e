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
#include "cairn_body_cache.h"
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
    struct gateway_offload *offload; /* runs the handlers that wait (gateway_offload.h) */
    struct gateway_auth *auth;       /* who may call what (gateway_auth.h) */
    /* instance/list bodies, kept in step with the registry's change events; NULL when
     * gateway.list_cache_max_age_ms is 0. */
    cairn_body_cache *list_cache;
    /* the answers to the beats of known instances (gateway_beat.c); NULL when
     * gateway.beat_cache_max_age_ms is 0. */
    cairn_body_cache *beat_cache;
    /* beats sent on behind answers from beat_cache and not yet answered by the healthcheck */
    _Atomic long beats_in_flight;
    /* the caches' subscription to the change events; NULL when both caches are */
    gateway_cache_events *cache_events;
    /* the cluster view (gateway_members.h); NULL when standalone */
    struct gateway_members *members;
    /* writes sent to their owner (gateway_forward.h); NULL when standalone */
    struct gateway_forward *forward;
    /* persistent writes into raft (gateway_route_persist.h); NULL when standalone */
    struct gateway_raft *raft;

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

/* One request to the registry, waiting for the reply: only for threads that may wait (the
 * readiness monitor, the offload pool), never an HTTP thread (those use gateway_job.h). rep is
 * initialised here and must be freed by the caller in every case. The outcome is shaped as
 * gateway_call_outcome says. */
cairn_err gateway_call_registry(gateway *gw, const cairn_request *req, cairn_reply *rep,
                                cairn_status *st);
/* The outcome of a call to client as the handlers see it: a reply with an error code becomes
 * that error in *st, an undecodable message an internal error, CAIRN_E_UNAVAILABLE messages end
 * with "; try again" and are counted; and after a write the gateway's caches drop the service's
 * older entries (gateway_caches_drop). Returns the shaped rc. Does not block. */
cairn_err gateway_call_outcome(gateway *gw, cairn_rpc_client *client, const cairn_request *req,
                               cairn_err rc, cairn_reply *rep, cairn_status *st);

/* Drops what the gateway's caches (the list bodies, the beat answers) hold of req's service from
 * before revision (UINT64_MAX: all of it): after a write through this gateway, before the client
 * hears back, whatever the change event's timing. Any thread; does not block. */
void gateway_caches_drop(gateway *gw, const cairn_request *req, uint64_t revision);

/* Monotonic milliseconds. */
int64_t gateway_now_ms(void);
/* Wall-clock milliseconds. */
int64_t gateway_wall_ms(void);

#endif
