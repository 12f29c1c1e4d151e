/* GET /nacos/v1/ns/instance/list (§2.5): parameters, the push subscription (§12.1), the registry
 * snapshot, the rendering. */
#include <stdlib.h>
#include <string.h>

#include "cairn_client.h"
#include "cairn_render.h"
#include "gateway_handlers.h"
#include "gateway_reply.h"

/* §12.1: a push-capable agent listing with udpPort > 0 (re)subscribes; the answer then tells it
 * to poll every 10 s instead of 3 s. A subscription that cannot be published leaves the request
 * an ordinary poll: it is never failed for it. */
static int64_t subscribe(gateway *gw, const gateway_request *req, const char *ns,
                         const char *svc, const char *clusters, int32_t udp_port)
{
    if (!gw->push || udp_port <= 0 || udp_port > 65535 ||
        !cairn_client_can_push(req->user_agent))
        return CAIRN_LIST_CACHE_MILLIS;
    const char *dest = gateway_push_destination(gw->push, req->peer_ip,
                                                gateway_params_get(req->params, "clientIP"));
    if (!dest)
        return CAIRN_LIST_CACHE_MILLIS;
    return gateway_push_subscribe(gw->push, ns, svc, clusters, dest, udp_port, req->user_agent,
                                  gateway_wall_ms())
               ? CAIRN_PUSH_CACHE_MILLIS
               : CAIRN_LIST_CACHE_MILLIS;
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
        /* Subscribed only once the answer is certain, so a 503 never leaves a subscriber the
         * client does not know it has. */
        q.cache_millis = subscribe(gw, req, ns, svc, q.clusters, udp_port);
        size_t len = 0;
        const cairn_service_snapshot *snap =
            (err == CAIRN_OK && rep.has_snapshot) ? &rep.snapshot : NULL;
        char *body = cairn_render_list(snap, &q, &len);
        gateway_reply_json_text(resp, body, len);
    } else {
        gateway_reply_error(resp, &st);
    }
    cairn_reply_free(&rep);
}
