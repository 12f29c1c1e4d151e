/* Cluster writes that name no instance kind (gateway_route_kind.h). */
#include "gateway_route_kind.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_requests.h"
#include "cairn_write_rules.h"
#include "gateway_reply.h"
#include "gateway_write_step.h"

bool gateway_route_kind_wanted(const gateway *gw, const cairn_request *rq)
{
    if (!gw->raft || !rq->service)
        return false;
    if (rq->type == CAIRN_MSG_SERVICE_PUT || rq->type == CAIRN_MSG_SERVICE_REMOVE)
        return true;
    if (!rq->has_instance)
        return false;
    return rq->type == CAIRN_MSG_INSTANCE_PATCH ||
           (rq->type == CAIRN_MSG_INSTANCE_HEALTH && rq->mode == CAIRN_HEALTH_MANUAL);
}

typedef struct kind_job {
    gateway *gw;
    gateway_deferred *deferred;
    cairn_request write;     /* the client's write as built (a patch or a service write moves
                                into step) */
    gateway_write_step step; /* the request in flight (first the lookup, to the registry) */
    bool ephemeral_next;     /* health of both kinds: the ephemeral one follows raft */
} kind_job;

static void finish(kind_job *job, cairn_err rc, cairn_status *st)
{
    gateway_response resp = {0};
    if (rc != CAIRN_OK)
        gateway_reply_error(&resp, st);
    else
        gateway_reply_ok(&resp);
    gateway_deferred_answer(job->deferred, &resp);
    cairn_request_free(&job->write);
    cairn_request_free(&job->step.rq);
    free(job);
}

static void step_done(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st);

/* Health by hand of one kind, built from the client's write into step. */
static cairn_err health_step(kind_job *job, bool ephemeral, cairn_status *st)
{
    const cairn_request *w = &job->write;
    cairn_request_free(&job->step.rq);
    return cairn_request_instance_health(
        &job->step.rq, w->namespace_id, w->service, w->instance.ip, w->instance.port,
        w->instance.cluster, ephemeral, w->instance.healthy,
        ephemeral ? CAIRN_HEALTH_MANUAL_KIND : CAIRN_HEALTH_MANUAL, st);
}

/* step is the write of one kind: persistent through raft, ephemeral to the Distro owner (or the
 * local registry when self owns it). */
static void send_step(kind_job *job)
{
    cairn_status st;
    if (gateway_write_step_send(job->gw, &job->step, step_done, job, &st) != CAIRN_OK)
        finish(job, st.code, &st);
}

static void step_done(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    kind_job *job = arg;
    rc = gateway_write_step_outcome(job->gw, &job->step, rc, rep, st);
    if (rc != CAIRN_OK || !job->ephemeral_next) {
        finish(job, rc, st);
        return;
    }
    job->ephemeral_next = false;
    if ((rc = health_step(job, true, st)) != CAIRN_OK) {
        finish(job, rc, st);
        return;
    }
    send_step(job);
}

/* Which kinds the local registry holds at the write's ip:port in its cluster. */
static void kinds_held(const cairn_request *w, const cairn_reply *rep, bool *eph, bool *pers)
{
    *eph = *pers = false;
    const char *cluster;
    cairn_status st;
    if (!rep->has_snapshot || !rep->snapshot.found ||
        cairn_check_instance_ref(w, &cluster, &st) != CAIRN_OK)
        return;
    for (uint32_t i = 0; i < rep->snapshot.instance_count; i++) {
        const cairn_instance *in = &rep->snapshot.instances[i];
        const char *c = cairn_cluster_or_default(in->cluster);
        if (in->port != w->instance.port || !in->ip || strcmp(in->ip, w->instance.ip) != 0 ||
            strcmp(c, cluster) != 0)
            continue;
        if (in->ephemeral)
            *eph = true;
        else
            *pers = true;
    }
}

static void looked_up(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    kind_job *job = arg;
    rc = gateway_call_outcome(job->gw, job->gw->registry, &job->step.rq, rc, rep, st);
    if (job->write.type == CAIRN_MSG_SERVICE_PUT || job->write.type == CAIRN_MSG_SERVICE_REMOVE) {
        /* Held here, the service exists for the FSM even when only Distro knows it; not held,
         * or the registry not answering, the raft state alone decides (as before the lookup). */
        bool held = rc == CAIRN_OK && rep->has_snapshot && rep->snapshot.found;
        cairn_request_free(&job->step.rq);
        job->step.rq = job->write;
        cairn_request_init(&job->write, CAIRN_MSG_STATS);
        job->step.rq.held = held;
        send_step(job);
        return;
    }
    /* A missing service is the write's own error to give: its path answers it. */
    if (rc != CAIRN_OK && rc != CAIRN_E_NOT_FOUND && rc != CAIRN_E_INVALID) {
        finish(job, rc, st);
        return;
    }
    bool eph = false, pers = false;
    if (rc == CAIRN_OK)
        kinds_held(&job->write, rep, &eph, &pers);
    cairn_request_free(&job->step.rq);
    cairn_request_init(&job->step.rq, CAIRN_MSG_STATS);
    if (job->write.type == CAIRN_MSG_INSTANCE_PATCH) {
        /* The registry patches the ephemeral instance first: so does this. */
        job->step.rq = job->write;
        cairn_request_init(&job->write, CAIRN_MSG_STATS);
        job->step.rq.instance.ephemeral = eph || !pers;
        send_step(job);
        return;
    }
    if ((rc = health_step(job, !pers, st)) != CAIRN_OK) {
        finish(job, rc, st);
        return;
    }
    job->ephemeral_next = pers && eph;
    send_step(job);
}

void gateway_route_kind(gateway *gw, gateway_request *req, gateway_response *resp,
                        cairn_request *rq)
{
    cairn_status st;
    kind_job *job = calloc(1, sizeof *job);
    if (!job) {
        cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        cairn_request_free(rq);
        gateway_reply_error(resp, &st);
        return;
    }
    job->gw = gw;
    job->write = *rq;
    cairn_request_init(rq, CAIRN_MSG_STATS);
    job->deferred = gateway_request_defer(req);
    if (cairn_request_service_get(&job->step.rq, job->write.namespace_id, job->write.service,
                                  &st)) {
        finish(job, st.code, &st);
        return;
    }
    cairn_rpc_call_async(gw->registry, &job->step.rq, looked_up, job);
}
