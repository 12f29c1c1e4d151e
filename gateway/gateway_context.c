/* The gateway's state: configuration, clients of the other roles, the HTTP listener. */
#include "gateway.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "gateway_auth.h"
#include "gateway_beat_cache.h"
#include "gateway_forward.h"
#include "gateway_handlers.h"
#include "gateway_members.h"
#include "gateway_route_persist.h"
#include "gateway_offload.h"
#include "gateway_reply.h"
#include "gateway_router.h"

/* Where beats go: the healthcheck role, which keeps the beat table (design §4). While it is
 * down (a restart), beats get a 503 after gateway.healthcheck_timeout_ms. */
static const cairn_endpoint beat_endpoint = CAIRN_EP_HEALTHCHECK_COMMANDS;
static const char *const beat_peer = "healthcheck";

int64_t gateway_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gateway_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cairn_rpc_client *open_client(gateway *gw, cairn_endpoint ep, const char *peer,
                                     const char *timeout_key, cairn_status *st)
{
    char url[256];
    if (cairn_endpoint_url(gw->role->run_dir, ep, url, sizeof url) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   gw->role->run_dir);
        return NULL;
    }
    int timeout_ms = (int)cairn_config_int(gw->role->config, timeout_key);
    cairn_rpc_client *c = cairn_rpc_client_open(url, peer, timeout_ms, st);
    if (c)
        cairn_rpc_client_batch(c, CAIRN_RPC_BATCH_EXCHANGES, CAIRN_RPC_BATCH_PARTS);
    return c;
}

static void observe(void *arg, const char *method, const char *endpoint, int status,
                    double seconds)
{
    gateway *gw = arg;
    gateway_metrics_observe(&gw->metrics, method, endpoint, status, seconds);
}

/* The list cache, the beat answers, and their subscription to the registry's change events
 * (cairn_body_cache.h). */
static cairn_err open_caches(gateway *gw, cairn_status *st)
{
    const cairn_config *cfg = gw->role->config;
    int64_t list_age_ms = cairn_config_int(cfg, "gateway.list_cache_max_age_ms");
    int64_t beat_age_ms = cairn_config_int(cfg, "gateway.beat_cache_max_age_ms");
    if (list_age_ms <= 0 && beat_age_ms <= 0)
        return CAIRN_OK;
    char url[256];
    if (cairn_endpoint_url(gw->role->run_dir, CAIRN_EP_REGISTRY_EVENTS, url, sizeof url) != 0)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "node.run_dir is too long for an ipc socket path: %s",
                          gw->role->run_dir);
    if (list_age_ms > 0) {
        cairn_body_cache_options o = {
            .max_entries = (size_t)cairn_config_int(cfg, "gateway.list_cache_entries"),
            .max_bytes = (size_t)cairn_config_int(cfg, "gateway.list_cache_max_bytes"),
            .max_age_ms = list_age_ms,
            .metrics = gw->role->metrics,
        };
        if (!(gw->list_cache = cairn_body_cache_new(&o)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    if (beat_age_ms > 0) {
        size_t entries = (size_t)cairn_config_int(cfg, "gateway.beat_cache_entries");
        cairn_body_cache_options o = {
            .max_entries = entries,
            .max_bytes = entries * GATEWAY_BEAT_ANSWER_MAX_BYTES,
            .max_age_ms = beat_age_ms,
            .metrics = gw->role->metrics,
            .metric_prefix = "beat_cache",
            .what = "beat answers",
        };
        if (!(gw->beat_cache = cairn_body_cache_new(&o)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    cairn_body_cache *caches[] = {gw->list_cache, gw->beat_cache};
    if (!(gw->cache_events = gateway_cache_events_start(url, caches, 2, st)))
        return st->code;
    return CAIRN_OK;
}

/* After a write: drop the service's list bodies and beat answers older than the write, before
 * the client hears back, so that its next list shows the write (and its next beat a
 * deregistration) whatever the change event's timing. A write whose outcome is unknown (no
 * answer in time: it may still have been applied) drops all of them; one the registry refused
 * changed nothing. */
static void invalidate_after_write(gateway *gw, const cairn_request *req, cairn_err rc,
                                   const cairn_reply *rep)
{
    switch (req->type) {
    case CAIRN_MSG_INSTANCE_UPSERT:
    case CAIRN_MSG_INSTANCE_PATCH:
    case CAIRN_MSG_INSTANCE_REMOVE:
    case CAIRN_MSG_SERVICE_PUT:
    case CAIRN_MSG_SERVICE_REMOVE:
    case CAIRN_MSG_INSTANCE_HEALTH:
    case CAIRN_MSG_BEAT: /* may re-register or revive; counts once the reply has a revision */
        break;
    default:
        return;
    }
    if (rc == CAIRN_E_UNAVAILABLE || rc == CAIRN_E_INTERNAL)
        gateway_caches_drop(gw, req, UINT64_MAX);
    else if (rc == CAIRN_OK && rep->revision > 0)
        gateway_caches_drop(gw, req, rep->revision);
}

void gateway_caches_drop(gateway *gw, const cairn_request *req, uint64_t revision)
{
    if (!req->service)
        return;
    /* Named as the registry names it in its events. */
    const char *ns = req->namespace_id && *req->namespace_id ? req->namespace_id
                                                             : CAIRN_DEFAULT_NAMESPACE;
    if (gw->list_cache)
        cairn_body_cache_invalidate(gw->list_cache, ns, req->service, revision);
    if (gw->beat_cache)
        cairn_body_cache_invalidate(gw->beat_cache, ns, req->service, revision);
}

static cairn_err open_push(gateway *gw, cairn_status *st)
{
    const cairn_config *cfg = gw->role->config;
    char pub_url[256], rep_url[256];
    if (cairn_endpoint_url(gw->role->run_dir, CAIRN_EP_GATEWAY_SUBSCRIPTIONS, pub_url,
                           sizeof pub_url) ||
        cairn_endpoint_url(gw->role->run_dir, CAIRN_EP_GATEWAY_COMMANDS, rep_url, sizeof rep_url))
        return cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                          gw->role->run_dir);
    int64_t max = cairn_config_int(cfg, "gateway.max_push_subscriptions");
    gateway_push_options o = {
        .publish_url = pub_url,
        .snapshot_url = rep_url,
        .trust_client_ip = cairn_config_bool(cfg, "push.trust_client_ip"),
        .pushers = gw->pushers,
        .ttl_ms = cairn_config_int(cfg, "push.subscriber_ttl_ms"),
        .max_entries = max > UINT32_MAX ? UINT32_MAX : (uint32_t)max,
        .metrics = gw->role->metrics,
        .registry = gw->registry,
        .in_use_period_ms = cairn_in_use_period_ms(cfg),
    };
    gw->push = gateway_push_open(&o, st);
    return gw->push ? CAIRN_OK : st->code;
}

cairn_err gateway_open(gateway *gw, cairn_role *role, cairn_status *st)
{
    memset(gw, 0, sizeof *gw);
    atomic_init(&gw->beats_in_flight, 0);
    gw->role = role;
    const cairn_config *cfg = role->config;
    gw->max_body_bytes = (size_t)cairn_config_int(cfg, "gateway.max_body_bytes");
    gw->max_param_bytes = (size_t)cairn_config_int(cfg, "gateway.max_param_bytes");
    gw->max_metadata_bytes = (size_t)cairn_config_int(cfg, "limits.max_metadata_bytes");
    gw->prometheus_max_bytes = (size_t)cairn_config_int(cfg, "gateway.prometheus_max_bytes");
    cairn_config_address(cfg, "gateway.listen", gw->listen_host, sizeof gw->listen_host,
                         &gw->listen_port);
    pthread_mutex_init(&gw->cpu_lock, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    gw->cpu_wall_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    gw->cpu_proc_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    gateway_metrics_init(&gw->metrics, role->metrics);
    if (!(gw->auth = gateway_auth_open(cfg, role->metrics, st)))
        goto fail;
    gw->members = gateway_members_open(cfg, role->run_dir, st);
    if (!gw->members && st->code != CAIRN_OK)
        goto fail;
    if (gw->members &&
        !(gw->forward = gateway_forward_open(cfg, role->run_dir, role->metrics, st)))
        goto fail;
    gw->raft = gateway_raft_open(cfg, role->run_dir, gw->members != NULL, st);
    if (!gw->raft && st->code != CAIRN_OK)
        goto fail;

    gw->registry =
        open_client(gw, CAIRN_EP_REGISTRY_COMMANDS, "registry", "gateway.registry_timeout_ms", st);
    if (!gw->registry)
        goto fail;
    if (beat_endpoint == CAIRN_EP_REGISTRY_COMMANDS) {
        gw->beats = gw->registry;
    } else {
        gw->beats = open_client(gw, beat_endpoint, beat_peer, "gateway.healthcheck_timeout_ms", st);
        if (!gw->beats)
            goto fail;
    }
    if (open_caches(gw, st) != CAIRN_OK)
        goto fail;
    gw->pushers = (uint32_t)cairn_config_int(cfg, "pusher.count");
    if (gw->pushers > 0 && open_push(gw, st) != CAIRN_OK)
        goto fail;
    if (!(gw->ready = gateway_ready_start(gw, st)))
        goto fail;
    if (!(gw->offload = gateway_offload_start(gw, st)))
        goto fail;
    cairn_role_set_health(role, gateway_health_check, gw);
    cairn_role_set_ready_check(role, gateway_ready_check, gw);

    char address_file[PATH_MAX];
    if (cairn_gateway_http_address_path(role->run_dir, address_file, sizeof address_file) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long: %s", role->run_dir);
        goto fail;
    }
    gateway_http_options opts = {
        .host = gw->listen_host,
        .port = gw->listen_port,
        .threads = (unsigned)cairn_config_int(cfg, "gateway.threads"),
        .max_connections = (unsigned)cairn_config_int(cfg, "gateway.max_connections"),
        .max_connections_per_ip =
            (unsigned)cairn_config_int(cfg, "gateway.max_connections_per_ip"),
        .connection_timeout_s = (unsigned)cairn_config_int(cfg, "gateway.connection_timeout_s"),
        .read_timeout_ms = (unsigned)cairn_config_int(cfg, "gateway.request_read_timeout_ms"),
        .max_body_bytes = gw->max_body_bytes,
        .max_param_bytes = gw->max_param_bytes,
        .max_params = (size_t)cairn_config_int(cfg, "gateway.max_params"),
        .address_file = address_file,
        .handler = gateway_router_handle,
        .observer = observe,
        .arg = gw,
    };
    gw->http = gateway_http_start(&opts, st);
    if (!gw->http)
        goto fail;
    gw->listen_port = gateway_http_port(gw->http);
    return CAIRN_OK;

fail:
    gateway_close(gw);
    return st->code != CAIRN_OK ? st->code : CAIRN_E_INTERNAL;
}

void gateway_close(gateway *gw)
{
    /* Nothing may call the clients once they are gone: first the health callback (this waits for
     * a check in progress), then the listener (this finishes the requests in flight). */
    if (gw->role) {
        cairn_role_set_health(gw->role, NULL, NULL);
        cairn_role_set_ready_check(gw->role, NULL, NULL);
    }
    gateway_ready_stop(gw->ready);
    gw->ready = NULL;
    gateway_http_stop(gw->http); /* waits for the deferred requests, offloaded ones included */
    gw->http = NULL;
    gateway_offload_stop(gw->offload);
    gw->offload = NULL;
    gateway_auth_close(gw->auth);
    gw->auth = NULL;
    gateway_members_close(gw->members);
    gw->members = NULL;
    gateway_forward_close(gw->forward);
    gw->forward = NULL;
    gateway_raft_close(gw->raft);
    gw->raft = NULL;
    gateway_cache_events_stop(gw->cache_events);
    gw->cache_events = NULL;
    /* Calls still in flight end when the clients close, and their completions touch the caches
     * (beats sent behind cached answers) and the push table's in-use counters (its reports to
     * the registry): those go after the clients. */
    if (gw->beats && gw->beats != gw->registry)
        cairn_rpc_client_close(gw->beats);
    gw->beats = NULL;
    if (gw->registry)
        cairn_rpc_client_close(gw->registry);
    gw->registry = NULL;
    gateway_push_close(gw->push);
    gw->push = NULL;
    cairn_body_cache_free(gw->list_cache);
    gw->list_cache = NULL;
    cairn_body_cache_free(gw->beat_cache);
    gw->beat_cache = NULL;
    pthread_mutex_destroy(&gw->cpu_lock);
    gw->role = NULL;
}

cairn_err gateway_call_outcome(gateway *gw, cairn_rpc_client *client, const cairn_request *req,
                               cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    /* An undecodable message either way is a bug between roles, not the client's fault. */
    if (rc == CAIRN_E_DECODE || (rc == CAIRN_OK && rep->code == CAIRN_E_DECODE)) {
        char why[sizeof st->message];
        snprintf(why, sizeof why, "%s",
                 st->message[0] ? st->message : (rep->message ? rep->message : "decode error"));
        rc = cairn_fail(st, CAIRN_E_INTERNAL, "caused: %s;", why);
    } else if (rc == CAIRN_OK && rep->code != CAIRN_OK) {
        rc = cairn_fail(st, rep->code, "%s",
                        rep->message && rep->message[0] ? rep->message : cairn_err_name(rep->code));
    } else if (rc != CAIRN_OK && st->message[0] == '\0') {
        cairn_fail(st, rc, "%s", cairn_err_name(rc));
    } else if (rc != CAIRN_OK) {
        st->code = rc;
    }
    if (rc == CAIRN_E_UNAVAILABLE) {
        if (client == gw->registry)
            gateway_metrics_registry_unavailable(&gw->metrics);
        else if (client == gw->beats)
            gateway_metrics_healthcheck_unavailable(&gw->metrics);
        /* else forwarded to the owner: gateway_forward.c counts it */
        if (!strstr(st->message, "try again")) {
            size_t n = strlen(st->message);
            snprintf(st->message + n, sizeof st->message - n, "; try again");
        }
    }
    invalidate_after_write(gw, req, rc, rep);
    return rc;
}

static cairn_err call(gateway *gw, cairn_rpc_client *client, const cairn_request *req,
                      cairn_reply *rep, cairn_status *st)
{
    cairn_err rc = cairn_rpc_call(client, req, rep, st);
    return gateway_call_outcome(gw, client, req, rc, rep, st);
}

cairn_err gateway_call_registry(gateway *gw, const cairn_request *req, cairn_reply *rep,
                                cairn_status *st)
{
    return call(gw, gw->registry, req, rep, st);
}
