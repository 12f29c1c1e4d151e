/* GET /nacos/v1/ns/instance/list (§2.5): parameters, the push subscription (§12.1), the body
 * from the list cache or else from the registry snapshot, rendered (and cached). */
#include <stdlib.h>
#include <string.h>

#include "cairn_client.h"
#include "cairn_render.h"
#include "gateway_handlers.h"
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
static int64_t subscribe(gateway *gw, const gateway_request *req, const char *ns,
                         const char *svc, const char *clusters, const char *dest,
                         int32_t udp_port)
{
    if (!dest)
        return CAIRN_LIST_CACHE_MILLIS;
    return gateway_push_subscribe(gw->push, ns, svc, clusters, dest, udp_port, req->user_agent,
                                  gateway_wall_ms())
               ? CAIRN_PUSH_CACHE_MILLIS
               : CAIRN_LIST_CACHE_MILLIS;
}

/* A cached body for the request, answered (and the subscription published, as for a rendered
 * one). false: render it. *subscribed tells whether subscribe() already ran, with *cache_millis
 * its outcome. */
static bool answer_cached(gateway *gw, const gateway_request *req, gateway_cache_key *key,
                          const char *dest, int32_t udp_port, gateway_response *resp,
                          bool *subscribed, int64_t *cache_millis)
{
    /* The body depends on the subscription's outcome (cacheMillis), which only publishing it
     * tells; a hit looks up the likely outcome and is dropped in the rare case of another. */
    key->cache_millis = dest ? CAIRN_PUSH_CACHE_MILLIS : CAIRN_LIST_CACHE_MILLIS;
    size_t len = 0;
    char *body = gateway_cache_get(gw->list_cache, key, gateway_now_ms(), &len);
    if (!body)
        return false;
    *cache_millis = subscribe(gw, req, key->namespace_id, key->service, key->clusters, dest,
                              udp_port);
    *subscribed = true;
    if (*cache_millis != key->cache_millis) {
        free(body);
        return false;
    }
    gateway_reply_json_text(resp, body, len);
    return true;
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
    gateway_cache_key key = {
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
    uint64_t ticket = gw->list_cache ? gateway_cache_ticket(gw->list_cache, ns, svc) : 0;

    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_GET);
    rq.namespace_id = strdup(ns);
    rq.service = strdup(svc);
    cairn_reply rep;
    cairn_reply_init(&rep);
    if (!rq.namespace_id || !rq.service)
        err = cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
    else
        err = gateway_call_registry(gw, &rq, &rep, &st);
    cairn_request_free(&rq);

    /* A missing service is a 200 with no hosts, never a 404 (§17 item 4). */
    if (err == CAIRN_OK || err == CAIRN_E_NOT_FOUND) {
        if (!subscribed)
            q.cache_millis = subscribe(gw, req, ns, svc, q.clusters, dest, udp_port);
        size_t len = 0;
        const cairn_service_snapshot *snap =
            (err == CAIRN_OK && rep.has_snapshot) ? &rep.snapshot : NULL;
        char *body = cairn_render_list(snap, &q, &len);
        if (body && ticket) {
            key.cache_millis = q.cache_millis;
            uint64_t revision = snap && snap->found ? snap->service.revision : 0;
            gateway_cache_put(gw->list_cache, &key, ticket, revision, body, len,
                              gateway_now_ms());
        }
        gateway_reply_json_text(resp, body, len);
    } else {
        gateway_reply_error(resp, &st);
    }
    cairn_reply_free(&rep);
}
