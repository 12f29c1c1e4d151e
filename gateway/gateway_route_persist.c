/* Persistent writes through raft in a cluster (gateway_route_persist.h). */
#include "gateway_route_persist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_endpoints.h"
#include "cairn_peer_raft.h"
#include "gateway_reply.h"

struct gateway_raft {
    cairn_rpc_client *replicator;
};

gateway_raft *gateway_raft_open(const cairn_config *cfg, const char *run_dir, bool cluster,
                                cairn_status *st)
{
    cairn_status_clear(st);
    if (!cluster)
        return NULL;
    char url[512];
    if (cairn_endpoint_url(run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   run_dir);
        return NULL;
    }
    gateway_raft *gr = calloc(1, sizeof *gr);
    if (!gr) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    int timeout = (int)cairn_config_int(cfg, "raft.submit_timeout_ms") + CAIRN_RAFT_SUBMIT_SLACK_MS;
    if (!(gr->replicator = cairn_rpc_client_open(url, "replicator", timeout, st))) {
        free(gr);
        return NULL;
    }
    /* Batched: the submits of a batch go through one log and commit together. (The gateway's
     * forwards are not batched: gateway_forward.c.) */
    cairn_rpc_client_batch(gr->replicator, CAIRN_RPC_BATCH_EXCHANGES, CAIRN_RPC_BATCH_PARTS);
    return gr;
}

void gateway_raft_close(gateway_raft *gr)
{
    if (!gr)
        return;
    cairn_rpc_client_close(gr->replicator);
    free(gr);
}

bool gateway_route_persist(const gateway *gw, const cairn_request *rq)
{
    return gw->raft && cairn_raft_is_command(rq);
}

typedef struct raft_job {
    gateway *gw;
    gateway_deferred *deferred;
    cairn_request rq; /* the RAFT_SUBMIT */
} raft_job;

cairn_err gateway_raft_outcome(gateway *gw, const cairn_request *rq, cairn_err rc,
                               const cairn_reply *rep, cairn_status *st)
{
    if (rc == CAIRN_OK && rep->code != CAIRN_OK)
        rc = cairn_fail(st, rep->code, "%s",
                        rep->message && rep->message[0] ? rep->message : cairn_err_name(rep->code));
    else if (rc == CAIRN_E_DECODE)
        rc = cairn_fail(st, CAIRN_E_INTERNAL, "caused: %s;", st->message);
    /* The replicator's answer carries no registry revision: everything of the service goes (the
     * registry's own change event arrives later and refills nothing stale). */
    if (rc == CAIRN_OK || rc == CAIRN_E_UNAVAILABLE || rc == CAIRN_E_INTERNAL)
        gateway_caches_drop(gw, rq, UINT64_MAX);
    if (rc == CAIRN_E_UNAVAILABLE && !strstr(st->message, "try again")) {
        size_t n = strlen(st->message);
        snprintf(st->message + n, sizeof st->message - n, "; try again");
    }
    return rc;
}

void gateway_raft_call(gateway *gw, cairn_request *submit, cairn_rpc_done done, void *arg)
{
    cairn_rpc_call_async(gw->raft->replicator, submit, done, arg);
}

static void submitted(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    raft_job *job = arg;
    rc = gateway_raft_outcome(job->gw, &job->rq, rc, rep, st);
    gateway_response resp = {0};
    if (rc != CAIRN_OK)
        gateway_reply_error(&resp, st);
    else
        gateway_reply_ok(&resp);
    gateway_deferred_answer(job->deferred, &resp);
    cairn_request_free(&job->rq);
    free(job);
}

void gateway_raft_submit(gateway *gw, gateway_request *req, gateway_response *resp,
                         cairn_request *rq)
{
    cairn_status st;
    raft_job *job = calloc(1, sizeof *job);
    if (!job || cairn_raft_submit_wrap(rq, &st) != CAIRN_OK) {
        if (!job)
            cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        free(job);
        cairn_request_free(rq);
        gateway_reply_error(resp, &st);
        return;
    }
    job->gw = gw;
    job->rq = *rq;
    cairn_request_init(rq, CAIRN_MSG_STATS);
    job->deferred = gateway_request_defer(req);
    cairn_rpc_call_async(gw->raft->replicator, &job->rq, submitted, job);
}
