/* Jobs: deferred HTTP requests driven by the completion of an asynchronous rpc call. */
#include "gateway_job.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_cluster_config.h"
#include "gateway_forward.h"
#include "gateway_reply.h"
#include "gateway_route.h"
#include "gateway_route_kind.h"
#include "gateway_route_persist.h"

typedef struct gateway_job {
    gateway *gw;
    cairn_rpc_client *client;
    gateway_deferred *deferred;
    cairn_request rq;
    gateway_render_fn render;
    void *data;
    void (*free_data)(void *);
} gateway_job;

/* cairn_rpc_done: the reply (or the timeout) is in; render, answer, end the job. */
static void job_done(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    gateway_job *job = arg;
    rc = gateway_call_outcome(job->gw, job->client, &job->rq, rc, rep, st);
    gateway_response resp = {0};
    job->render(job->gw, &job->rq, rc, rep, st, job->data, &resp);
    gateway_deferred_answer(job->deferred, &resp);
    if (job->free_data)
        job->free_data(job->data);
    cairn_request_free(&job->rq);
    free(job);
}

static void ask(gateway *gw, cairn_rpc_client *client, gateway_request *req,
                gateway_response *resp, cairn_request *rq, gateway_render_fn render, void *data,
                void (*free_data)(void *))
{
    gateway_job *job = calloc(1, sizeof *job);
    if (!job) {
        cairn_status st;
        cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        cairn_reply rep;
        cairn_reply_init(&rep);
        render(gw, rq, CAIRN_E_NOMEM, &rep, &st, data, resp);
        cairn_reply_free(&rep);
        if (free_data)
            free_data(data);
        cairn_request_free(rq);
        return;
    }
    job->gw = gw;
    job->client = client;
    job->rq = *rq;
    cairn_request_init(rq, rq->type);
    job->render = render;
    job->data = data;
    job->free_data = free_data;
    job->deferred = gateway_request_defer(req);
    char owner[CAIRN_CLUSTER_ID_MAX];
    if (gateway_route_write(gw, &job->rq, owner, sizeof owner) == GATEWAY_PATH_OWNER) {
        job->client = NULL; /* not a local role's outcome */
        gateway_forward_call(gw->forward, &job->rq, owner, job_done, job);
    } else
        cairn_rpc_call_async(client, &job->rq, job_done, job);
}

void gateway_ask_registry(gateway *gw, gateway_request *req, gateway_response *resp,
                          cairn_request *rq, gateway_render_fn render, void *data,
                          void (*free_data)(void *))
{
    ask(gw, gw->registry, req, resp, rq, render, data, free_data);
}

void gateway_ask_beats(gateway *gw, gateway_request *req, gateway_response *resp,
                       cairn_request *rq, gateway_render_fn render, void *data,
                       void (*free_data)(void *))
{
    ask(gw, gw->beats, req, resp, rq, render, data, free_data);
}

static void render_ok(gateway *gw, const cairn_request *rq, cairn_err rc, cairn_reply *rep,
                      cairn_status *st, void *data, gateway_response *resp)
{
    (void)gw, (void)rq, (void)rep, (void)data;
    if (rc != CAIRN_OK)
        gateway_reply_error(resp, st);
    else
        gateway_reply_ok(resp);
}

void gateway_finish_write(gateway *gw, gateway_request *req, gateway_response *resp,
                          cairn_request *rq, cairn_err err, cairn_status *st)
{
    if (err != CAIRN_OK) {
        cairn_request_free(rq);
        gateway_reply_error(resp, st);
        return;
    }
    if (gateway_route_kind_wanted(gw, rq)) { /* a cluster's write of either kind: look first */
        gateway_route_kind(gw, req, resp, rq);
        return;
    }
    if (gateway_route_persist(gw, rq)) { /* a cluster's persistent write: through raft */
        gateway_raft_submit(gw, req, resp, rq);
        return;
    }
    gateway_ask_registry(gw, req, resp, rq, render_ok, NULL, NULL);
}
