/* GET /nacos/v1/ns/instance/list (§2.5): parameters, the push subscription (§12.1), the body
 * from the list cache or else from the registry snapshot, rendered (and cached). */
#include <stdlib.h>
#include <string.h>

#include "cairn_client.h"
#include "cairn_render.h"
#include "cairn_requests.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "gateway_reply.h"

/* §12.1: where a push-capable agent listing with udpPort > 0 is to be pushed; NULL when the
 * request is an ordinary poll. */
static const char *push_destination(gateway *gw, const gateway_request *req, int32_t udp_port)
{
    if (!gw->push || udp_port <= 0 || udp_port > 65535 || !cairn_client_can_push(req->user_agent))
        return NULL;
    return gateway_push_destination(gw->push, req->peer_ip,
                                    gateway_params_get(req->params, "clientIP"));
}

/* (Re)subscribes dest; the answer then tells the client to poll every 10 s instead of 3 s. A
 * subscription that cannot be published leaves the request an ordinary poll: it is never failed
 * for it. Called only once the answer is certain, so that a 503 never leaves a subscriber the
 * client does not know it has. */
static int64_t subscribe(gateway *gw, const char *agent, const char *ns, const char *svc,
                         const char *clusters, const char *dest, int32_t udp_port)
{
    if (!dest)
        return CAIRN_LIST_CACHE_MILLIS;
    return gateway_push_subscribe(gw->push, ns, svc, clusters, dest, udp_port, agent,
                                  gateway_wall_ms())
               ? CAIRN_PUSH_CACHE_MILLIS
               : CAIRN_LIST_CACHE_MILLIS;
}

/* A cached body for the request, answered (and the subscription published, as for a rendered
 * one). false: render it. *subscribed tells whether subscribe() already ran, with *cache_millis
 * its outcome. */
static bool answer_cached(gateway *gw, const gateway_request *req, cairn_body_cache_key *key,
                          const char *dest, int32_t udp_port, gateway_response *resp,
                          bool *subscribed, int64_t *cache_millis)
{
    /* The body depends on the subscription's outcome (cacheMillis), which only publishing it
     * tells; a hit looks up the likely outcome and is dropped in the rare case of another. */
    key->cache_millis = dest ? CAIRN_PUSH_CACHE_MILLIS : CAIRN_LIST_CACHE_MILLIS;
    size_t len = 0;
    char *body = cairn_body_cache_get(gw->list_cache, key, gateway_now_ms(), &len);
    if (!body)
        return false;
    *cache_millis = subscribe(gw, req->user_agent, key->namespace_id, key->service, key->clusters, dest,
                              udp_port);
    *subscribed = true;
    if (*cache_millis != key->cache_millis) {
        free(body);
        return false;
    }
    gateway_reply_json_text(resp, body, len);
    return true;
}

/* What rendering a list from the registry's snapshot needs of the request, copied: the request
 * is gone when the reply arrives. */
typedef struct list_fill {
    char *ns, *svc, *clusters, *env, *dest, *agent;
    int32_t udp_port;
    bool healthy_only;
    bool grouped_names;
    bool subscribed; /* subscribe() ran already, with cache_millis its outcome */
    int64_t cache_millis;
    uint64_t ticket; /* the list cache's, 0: do not cache */
} list_fill;

static void fill_free(void *arg)
{
    list_fill *f = arg;
    if (!f)
        return;
    free(f->ns), free(f->svc), free(f->clusters), free(f->env), free(f->dest), free(f->agent);
    free(f);
}

static list_fill *fill_new(const gateway_request *req, const cairn_list_query *q,
                           const cairn_body_cache_key *key, const char *dest, int32_t udp_port,
                           uint64_t ticket, bool subscribed)
{
    list_fill *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->ns = strdup(key->namespace_id);
    f->svc = strdup(q->service);
    f->clusters = strdup(q->clusters);
    f->env = strdup(q->env);
    f->dest = dest ? strdup(dest) : NULL;
    f->agent = strdup(req->user_agent);
    f->udp_port = udp_port;
    f->healthy_only = q->healthy_only;
    f->grouped_names = q->grouped_names;
    f->subscribed = subscribed;
    f->cache_millis = q->cache_millis;
    f->ticket = ticket;
    if (!f->ns || !f->svc || !f->clusters || !f->env || (dest && !f->dest) || !f->agent) {
        fill_free(f);
        return NULL;
    }
    return f;
}

/* The registry's snapshot rendered (and cached); a missing service is a 200 with no hosts, never
 * a 404 (§17 item 4). */
static void render_list(gateway *gw, const cairn_request *rq, cairn_err rc, cairn_reply *rep,
                        cairn_status *st, void *data, gateway_response *resp)
{
    (void)rq;
    list_fill *f = data;
    if (rc != CAIRN_OK && rc != CAIRN_E_NOT_FOUND) {
        gateway_reply_error(resp, st);
        return;
    }
    cairn_list_query q = {
        .service = f->svc,
        .clusters = f->clusters,
        .env = f->env,
        .healthy_only = f->healthy_only,
        .grouped_names = f->grouped_names,
        .cache_millis = f->cache_millis,
    };
    if (!f->subscribed)
        q.cache_millis = subscribe(gw, f->agent, f->ns, f->svc, f->clusters, f->dest, f->udp_port);
    size_t len = 0;
    const cairn_service_snapshot *snap = (rc == CAIRN_OK && rep->has_snapshot) ? &rep->snapshot
                                                                                : NULL;
    char *body = cairn_render_list(snap, &q, &len);
    if (body && f->ticket) {
        cairn_body_cache_key key = {
            .namespace_id = f->ns,
            .service = f->svc,
            .clusters = f->clusters,
            .env = f->env,
            .healthy_only = f->healthy_only,
            .grouped_names = f->grouped_names,
            .cache_millis = q.cache_millis,
        };
        uint64_t revision = snap && snap->found ? snap->service.revision : 0;
        cairn_body_cache_put(gw->list_cache, &key, f->ticket, revision, body, len,
                             gateway_now_ms());
    }
    gateway_reply_json_text(resp, body, len);
}

void gateway_instance_list(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    const char *svc, *ns;
    int32_t udp_port;
    cairn_err err = gateway_param_service(p, true, "Param 'serviceName' is required.", &svc, &st);
    if (err == CAIRN_OK)
        err = gateway_param_namespace(p, &ns, &st);
    if (err == CAIRN_OK)
        err = gateway_param_int(p, "udpPort", false, 0, &udp_port, &st);
    if (err != CAIRN_OK) {
        gateway_reply_error(resp, &st);
        return;
    }
    cairn_list_query q = {
        .service = svc,
        .clusters = gateway_param_optional(p, "clusters", ""),
        .env = gateway_param_optional(p, "env", ""),
        .healthy_only = cairn_parse_bool_strict(gateway_params_get(p, "healthyOnly")),
        .grouped_names = cairn_client_is_java_v1(req->user_agent),
        .cache_millis = CAIRN_LIST_CACHE_MILLIS,
    };
    const char *dest = push_destination(gw, req, udp_port);
    cairn_body_cache_key key = {
        .namespace_id = ns,
        .service = svc,
        .clusters = q.clusters,
        .env = q.env,
        .healthy_only = q.healthy_only,
        .grouped_names = q.grouped_names,
    };
    bool subscribed = false;
    if (gw->list_cache &&
        answer_cached(gw, req, &key, dest, udp_port, resp, &subscribed, &q.cache_millis))
        return;
    /* Taken before the registry is asked: a change seen after this voids the fill. */
    uint64_t ticket = gw->list_cache ? cairn_body_cache_ticket(gw->list_cache, ns, svc) : 0;
    list_fill *fill = fill_new(req, &q, &key, dest, udp_port, ticket, subscribed);
    cairn_request rq;
    if (cairn_request_service_get(&rq, ns, svc, &st) != CAIRN_OK || !fill) {
        fill_free(fill);
        cairn_request_free(&rq);
        gateway_reply_text(resp, 500, "caused: out of memory;");
        return;
    }
    gateway_ask_registry(gw, req, resp, &rq, render_list, fill, fill_free);
}
