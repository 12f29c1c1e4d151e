/* Health: the role's /health callback (is the registry answering?) and the Nacos health
 * endpoints (§5: /health/server, PUT /health/instance, /health/checkers; the console liveness
 * and readiness probes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_requests.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "gateway_reply.h"

/* The gateway's own health: the registry answers it (the readiness monitor's last check, so
 * that /health never waits on the registry). */
bool gateway_health_check(void *arg, char *detail, size_t detail_len)
{
    gateway *gw = arg;
    return gateway_ready_registry(gw->ready, detail, detail_len);
}

/* The admin /ready: the whole node can serve. */
bool gateway_ready_check(void *arg, char *detail, size_t detail_len)
{
    gateway *gw = arg;
    return gateway_ready_node(gw->ready, detail, detail_len);
}

static void render_server(gateway *gw, const cairn_request *rq, cairn_err rc, cairn_reply *rep,
                          cairn_status *st, void *data, gateway_response *resp)
{
    (void)rq, (void)data;
    if (rc != CAIRN_OK) {
        gateway_reply_error(resp, st);
        return;
    }
    char msg[160];
    snprintf(msg, sizeof msg,
             "Hello! I am Nacos-Naming and healthy! total services: raft %llu, local port:%u",
             (unsigned long long)rep->service_count, gw->listen_port);
    gateway_reply_json(resp, json_pack("{s:s}", "msg", msg));
}

void gateway_health_server(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_request rq;
    cairn_status st;
    cairn_request_stats(&rq, &st); /* allocates nothing: cannot fail */
    gateway_ask_registry(gw, req, resp, &rq, render_server, NULL, NULL);
}

void gateway_health_liveness(gateway *gw, gateway_request *req, gateway_response *resp)
{
    (void)gw, (void)req;
    gateway_reply_text(resp, 200, "OK");
}

void gateway_health_readiness(gateway *gw, gateway_request *req, gateway_response *resp)
{
    (void)req;
    char detail[256];
    if (gateway_ready_node(gw->ready, detail, sizeof detail))
        gateway_reply_text(resp, 200, "OK");
    else
        gateway_reply_text(resp, 503, "node not ready: %s", detail);
}

/* PUT /health and PUT /health/instance (§5): health set by hand, only where the cluster's checker
 * is NONE (the registry enforces that). */
void gateway_health_instance(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_INSTANCE_HEALTH);
    int32_t port = 0;
    cairn_err err = CAIRN_OK;
    /* `healthy`, or the legacy `valid`, read with BooleanUtils.toBoolean. */
    const char *healthy = gateway_params_get(p, "healthy");
    if (!healthy)
        healthy = gateway_params_get(p, "valid");
    if (!healthy)
        err = cairn_fail(&st, CAIRN_E_INVALID, "Param 'healthy' is required.");
    const char *svc = NULL, *ns = NULL, *ip = NULL;
    if (err == CAIRN_OK)
        err = gateway_param_service(p, false, "Param 'serviceName' is required.", &svc, &st);
    if (err == CAIRN_OK)
        err = gateway_param_namespace(p, &ns, &st);
    if (err == CAIRN_OK && !(ip = gateway_param_required(p, "ip", &st)))
        err = st.code;
    if (err == CAIRN_OK)
        err = gateway_param_int(p, "port", true, 0, &port, &st);
    const char *cluster = gateway_param_cluster(p);
    if (err == CAIRN_OK && (cairn_check_length("ip", ip, CAIRN_MAX_IP_LEN, &st) ||
                            cairn_check_length("clusterName", cluster, CAIRN_MAX_CLUSTER_LEN, &st)))
        err = st.code;
    /* By hand, both kinds are set (the registry selects by address only). */
    if (err == CAIRN_OK)
        err = cairn_request_instance_health(&rq, ns, svc, ip, port, cluster, true,
                                            cairn_parse_bool_lenient(healthy),
                                            CAIRN_HEALTH_MANUAL, &st);
    gateway_finish_write(gw, req, resp, &rq, err, &st);
}

/* GET /health/checkers (§5): each checker type with its defaults, nulls omitted as Jackson
 * does. */
void gateway_health_checkers(gateway *gw, gateway_request *req, gateway_response *resp)
{
    (void)gw, (void)req;
    gateway_reply_json(resp, json_pack("{s:{s:s}, s:{s:s, s:s, s:s, s:i}, s:{s:s}, s:{s:s}}",
                                       "TCP", "type", "TCP", "HTTP", "type", "HTTP", "path", "",
                                       "headers", "", "expectedResponseCode", 200, "MYSQL",
                                       "type", "MYSQL", "NONE", "type", "NONE"));
}
