/* The healthcheck's requests to the registry. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_log.h"
#include "healthcheck.h"

int64_t hc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cairn_err hc_call(healthcheck *hc, const cairn_request *req, cairn_reply *rep, cairn_status *st)
{
    cairn_err err = cairn_rpc_call(hc->registry, req, rep, st);
    if (err == CAIRN_E_UNAVAILABLE) {
        hc_count(hc->metrics.registry_errors, 1);
        if (!atomic_exchange(&hc->registry_down, true))
            log_warn("%s", st->message);
    } else if (atomic_exchange(&hc->registry_down, false)) {
        log_info("registry reachable again");
    }
    if (err != CAIRN_OK && err != CAIRN_E_UNAVAILABLE && err != CAIRN_E_NOT_FOUND)
        hc_count(hc->metrics.registry_errors, 1);
    return err;
}

/* A request naming one instance of one service. */
static cairn_err instance_request(cairn_request *rq, cairn_msg_type type, const char *ns,
                                  const char *svc, const char *cluster, const char *ip,
                                  int32_t port, bool ephemeral, cairn_status *st)
{
    cairn_request_init(rq, type);
    rq->has_instance = true;
    cairn_instance_init(&rq->instance);
    rq->instance.port = port;
    rq->instance.ephemeral = ephemeral;
    if (!(rq->namespace_id = strdup(ns)) || !(rq->service = strdup(svc)) ||
        !(rq->instance.cluster = strdup(cluster)) || !(rq->instance.ip = strdup(ip)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    return CAIRN_OK;
}

static cairn_err call_and_free(healthcheck *hc, cairn_request *rq, cairn_err err,
                               cairn_status *st)
{
    if (err == CAIRN_OK) {
        cairn_reply rep;
        err = hc_call(hc, rq, &rep, st);
        cairn_reply_free(&rep);
    }
    cairn_request_free(rq);
    return err;
}

cairn_err hc_call_set_health(healthcheck *hc, const char *ns, const char *svc, const char *cluster,
                             const char *ip, int32_t port, bool ephemeral, bool healthy,
                             cairn_status *st)
{
    cairn_request rq;
    cairn_err err = instance_request(&rq, CAIRN_MSG_INSTANCE_HEALTH, ns, svc, cluster, ip, port,
                                     ephemeral, st);
    rq.instance.healthy = healthy;
    rq.mode = CAIRN_HEALTH_BY_CHECKER;
    return call_and_free(hc, &rq, err, st);
}

cairn_err hc_call_remove(healthcheck *hc, const char *ns, const char *svc, const char *cluster,
                         const char *ip, int32_t port, bool ephemeral, cairn_status *st)
{
    cairn_request rq;
    cairn_err err = instance_request(&rq, CAIRN_MSG_INSTANCE_REMOVE, ns, svc, cluster, ip, port,
                                     ephemeral, st);
    return call_and_free(hc, &rq, err, st);
}

cairn_err hc_call_service_get(healthcheck *hc, const char *ns, const char *svc, cairn_reply *rep,
                              cairn_status *st)
{
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_GET);
    cairn_err err = CAIRN_OK;
    if (!(rq.namespace_id = strdup(ns)) || !(rq.service = strdup(svc)))
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (err == CAIRN_OK)
        err = hc_call(hc, &rq, rep, st);
    else
        cairn_reply_init(rep);
    cairn_request_free(&rq);
    if (err == CAIRN_OK && !rep->has_snapshot)
        err = cairn_fail(st, CAIRN_E_DECODE, "registry sent no snapshot of %s", svc);
    return err;
}
