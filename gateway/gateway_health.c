/* Health: the role's /health callback (is the registry answering?) and the Nacos health
 * endpoints (§5 /health/server, the console liveness and readiness probes). */
#include <stdio.h>
#include <string.h>

#include "gateway_handlers.h"
#include "gateway_reply.h"

#define HEALTH_CACHE_MS 1000

bool gateway_health_check(void *arg, char *detail, size_t detail_len)
{
    gateway *gw = arg;
    pthread_mutex_lock(&gw->health_lock);
    int64_t now = gateway_now_ms();
    /* One STATS call per second at most, however often /health is polled. */
    if (gw->health_checked_ms == 0 || now - gw->health_checked_ms >= HEALTH_CACHE_MS) {
        cairn_status st;
        cairn_request rq;
        cairn_request_init(&rq, CAIRN_MSG_STATS);
        cairn_reply rep;
        gw->health_ok = gateway_call_registry(gw, &rq, &rep, &st) == CAIRN_OK;
        cairn_reply_free(&rep);
        cairn_request_free(&rq);
        snprintf(gw->health_detail, sizeof gw->health_detail, "%s",
                 gw->health_ok ? "registry reachable" : st.message);
        gw->health_checked_ms = gateway_now_ms();
    }
    bool ok = gw->health_ok;
    snprintf(detail, detail_len, "%s", gw->health_detail);
    pthread_mutex_unlock(&gw->health_lock);
    return ok;
}

void gateway_health_server(gateway *gw, gateway_request *req, gateway_response *resp)
{
    (void)req;
    cairn_status st;
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_STATS);
    cairn_reply rep;
    cairn_err err = gateway_call_registry(gw, &rq, &rep, &st);
    cairn_request_free(&rq);
    if (err != CAIRN_OK) {
        gateway_reply_error(resp, &st);
    } else {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Hello! I am Nacos-Naming and healthy! total services: raft %llu, local port:%u",
                 (unsigned long long)rep.service_count, gw->listen_port);
        gateway_reply_json(resp, json_pack("{s:s}", "msg", msg));
    }
    cairn_reply_free(&rep);
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
    if (gateway_health_check(gw, detail, sizeof detail))
        gateway_reply_text(resp, 200, "OK");
    else
        gateway_reply_text(resp, 503, "%s", detail);
}
