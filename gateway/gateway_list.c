/* GET /nacos/v1/ns/instance/list (§2.5): parameters, the registry snapshot, the rendering. */
#include <stdlib.h>
#include <string.h>

#include "gateway_client.h"
#include "gateway_handlers.h"
#include "gateway_render.h"
#include "gateway_reply.h"

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
    /* Parsed for its 400 on a non-number; push subscriptions do not exist yet. */
    if (err == CAIRN_OK)
        err = gateway_param_int(p, "udpPort", false, 0, &udp_port, &st);
    if (err != CAIRN_OK) {
        gateway_reply_error(resp, &st);
        return;
    }
    gateway_list_query q = {
        .service = svc,
        .clusters = gateway_param_optional(p, "clusters", ""),
        .env = gateway_param_optional(p, "env", ""),
        .healthy_only = cairn_parse_bool_strict(gateway_params_get(p, "healthyOnly")),
        .grouped_names = gateway_client_is_java_v1(req->user_agent),
        .cache_millis = GATEWAY_LIST_CACHE_MILLIS,
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
        size_t len = 0;
        const cairn_service_snapshot *snap =
            (err == CAIRN_OK && rep.has_snapshot) ? &rep.snapshot : NULL;
        char *body = gateway_render_list(snap, &q, &len);
        gateway_reply_json_text(resp, body, len);
    } else {
        gateway_reply_error(resp, &st);
    }
    cairn_reply_free(&rep);
}
