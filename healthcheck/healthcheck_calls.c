/* The healthcheck's requests to the registry. */
#include <time.h>

#include "cairn_log.h"
#include "cairn_peer_raft.h"
#include "cairn_requests.h"
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

/* Sends a built request (unless building it failed) and frees it; the reply is only its code. */
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

/* A persistent instance's flip in a cluster: a raft command (cairn_peer_raft.h), answered once
 * committed and applied here, or 503 within raft.submit_timeout_ms (the prober then keeps its
 * old state and flips again after the next probe). A service the raft state does not know (a
 * persistent instance held from outside the log, e.g. written while the node ran standalone) is
 * refused there: its flip is written to the local registry, as before raft. */
static cairn_err submit_and_free(healthcheck *hc, cairn_request *rq, cairn_err err,
                                 cairn_status *st)
{
    if (err == CAIRN_OK)
        err = cairn_raft_submit_wrap(rq, st);
    if (err == CAIRN_OK) {
        cairn_reply rep;
        err = cairn_rpc_call(hc->raft, rq, &rep, st);
        if (err == CAIRN_OK && rep.code != CAIRN_OK)
            err = cairn_fail(st, rep.code, "raft: %s", rep.message ? rep.message : "");
        cairn_reply_free(&rep);
        if (err == CAIRN_E_INVALID && cairn_raft_submit_unwrap(rq, st) == CAIRN_OK)
            return call_and_free(hc, rq, CAIRN_OK, st);
    }
    if (err != CAIRN_OK)
        hc_count(hc->metrics.registry_errors, 1);
    cairn_request_free(rq);
    return err;
}

cairn_err hc_call_set_health(healthcheck *hc, const char *ns, const char *svc, const char *cluster,
                             const char *ip, int32_t port, bool ephemeral, bool healthy,
                             cairn_status *st)
{
    cairn_request rq;
    cairn_err err = cairn_request_instance_health(&rq, ns, svc, ip, port, cluster, ephemeral,
                                                  healthy, CAIRN_HEALTH_BY_CHECKER, st);
    if (!ephemeral && hc->raft)
        return submit_and_free(hc, &rq, err, st);
    return call_and_free(hc, &rq, err, st);
}

cairn_err hc_call_remove(healthcheck *hc, const char *ns, const char *svc, const char *cluster,
                         const char *ip, int32_t port, bool ephemeral, cairn_status *st)
{
    cairn_request rq;
    cairn_err err = cairn_request_instance_remove(&rq, ns, svc, ip, port, cluster, ephemeral, st);
    return call_and_free(hc, &rq, err, st);
}

cairn_err hc_call_service_get(healthcheck *hc, const char *ns, const char *svc, cairn_reply *rep,
                              cairn_status *st)
{
    cairn_request rq;
    cairn_err err = cairn_request_service_get(&rq, ns, svc, st);
    if (err == CAIRN_OK)
        err = hc_call(hc, &rq, rep, st);
    else
        cairn_reply_init(rep);
    cairn_request_free(&rq);
    if (err == CAIRN_OK && !rep->has_snapshot)
        err = cairn_fail(st, CAIRN_E_DECODE, "registry sent no snapshot of %s", svc);
    return err;
}
