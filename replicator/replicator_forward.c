/* Forwarding to the owner (replicator_forward.h): the entry side's send and the owner's run. */
#include "replicator_forward.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "cairn_clock.h"
#include "cairn_endpoints.h"
#include "cairn_forward.h"
#include "cairn_log.h"
#include "replicator_sync.h"

typedef struct fwd_peer_metrics {
    cairn_counter *sent, *received, *failed, *timeouts;
} fwd_peer_metrics;

typedef struct repl_forward {
    cairn_rpc_client *beats; /* the healthcheck, which answers beats (as for the gateway) */
    cairn_rpc_client *writes; /* the registry, for forwarded writes (batching, as the gateway's;
                               * apart from the sync's client, whose pages must not be batched) */
    int timeout_ms;          /* cluster.forward_timeout_ms: the owner's budget for its roles */
    fwd_peer_metrics peer[CAIRN_CLUSTER_MAX_MEMBERS];
} repl_forward;

static int member_index(const cairn_cluster_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->count; i++)
        if (strcmp(cfg->members[i].id, id) == 0)
            return (int)i;
    return -1;
}

static void init_metrics(replicator *r, repl_forward *f)
{
    cairn_metrics *reg = r->role->metrics;
    for (size_t i = 0; i < r->cfg.count; i++) {
        if (i == r->cfg.self)
            continue;
        char labels[CAIRN_CLUSTER_ID_MAX + 16];
        snprintf(labels, sizeof labels, "peer=\"%s\"", r->cfg.members[i].id);
        fwd_peer_metrics *m = &f->peer[i];
        m->sent = cairn_metrics_counter(reg, "forwards_sent_total",
                                        "Writes and beats forwarded to the peer, their owner.",
                                        labels);
        m->received = cairn_metrics_counter(
            reg, "forwards_received_total",
            "Writes and beats the peer forwarded here, run on this node's roles.", labels);
        m->failed = cairn_metrics_counter(
            reg, "forward_failures_total",
            "Forwards to the peer that got no valid answer (unreachable, refused, garbage).",
            labels);
        m->timeouts = cairn_metrics_counter(
            reg, "forward_timeouts_total",
            "Forwards to the peer unanswered at cluster.forward_timeout_ms.", labels);
    }
}

cairn_err repl_forward_start(replicator *r, cairn_status *st)
{
    repl_forward *f = calloc(1, sizeof *f);
    if (!f)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    r->forward = f;
    f->timeout_ms = (int)cairn_config_int(r->role->config, "cluster.forward_timeout_ms");
    init_metrics(r, f);
    char beats[PATH_MAX + 64], writes[PATH_MAX + 64];
    if (cairn_endpoint_url(r->role->run_dir, CAIRN_EP_HEALTHCHECK_COMMANDS, beats, sizeof beats) ||
        cairn_endpoint_url(r->role->run_dir, CAIRN_EP_REGISTRY_COMMANDS, writes, sizeof writes))
        return cairn_fail(st, CAIRN_E_INVALID, "run directory path too long");
    if (!(f->beats = cairn_rpc_client_open(beats, "healthcheck", f->timeout_ms, st)) ||
        !(f->writes = cairn_rpc_client_open(writes, "registry", f->timeout_ms, st)))
        return st->code;
    /* Forwards arrive as the entry nodes' clients send them, one peer message each: batches
     * between the roles here spare each forward the per-message hand-offs. */
    cairn_rpc_client_batch(f->beats, CAIRN_RPC_BATCH_EXCHANGES, CAIRN_RPC_BATCH_PARTS);
    cairn_rpc_client_batch(f->writes, CAIRN_RPC_BATCH_EXCHANGES, CAIRN_RPC_BATCH_PARTS);
    return CAIRN_OK;
}

void repl_forward_stop(replicator *r)
{
    repl_forward *f = r->forward;
    if (f && f->beats) {
        cairn_rpc_client_close(f->beats); /* waits for the callbacks in flight */
        f->beats = NULL;
    }
    if (f && f->writes) {
        cairn_rpc_client_close(f->writes);
        f->writes = NULL;
    }
}

void repl_forward_destroy(replicator *r)
{
    free(r->forward);
    r->forward = NULL;
}

/* ---- the owner's side (nng threads) ---------------------------------------------------------- */

typedef struct fwd_run {
    replicator *r;
    int worker;
    cairn_peer_envelope req_env; /* the FORWARD: who asked, its nonce */
    cairn_request inner;
} fwd_run;

/* The inner request's outcome, sealed as FORWARD_REPLY and sent on the waiting context. */
static void on_ran(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    fwd_run *run = arg;
    replicator *r = run->r;
    if (rc != CAIRN_OK)
        cairn_reply_fail(rep, st);
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_reply_encode(rep, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_FORWARD_REPLY, run->req_env.from, run->req_env.nonce, body,
                        body_len, NULL);
    if (!msg) /* no answer: the entry node times out */
        log_error("cannot answer a FORWARD from %s (out of memory)", run->req_env.from);
    free(body);
    repl_peer_server_reply(r, run->worker, msg);
    cairn_request_free(&run->inner);
    free(run);
}

/* Loop thread: the roles' clients are open while the loop runs (they close after it stops). */
static void run_start(replicator *r, void *arg)
{
    fwd_run *run = arg;
    if (r->closed || !r->forward) { /* stopping: the listener is gone, nobody to answer */
        cairn_request_free(&run->inner);
        free(run);
        return;
    }
    /* Run here whatever this node's view says: a forwarded request is never forwarded again. */
    cairn_rpc_client *to =
        run->inner.type == CAIRN_MSG_BEAT ? r->forward->beats : r->forward->writes;
    cairn_rpc_call_async(to, &run->inner, on_ran, run);
}

nng_msg *repl_forward_on_peer(replicator *r, int worker, const cairn_peer_envelope *env,
                              const char *body, size_t body_len, cairn_status *st)
{
    fwd_run *run = calloc(1, sizeof *run);
    if (!run) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    uint32_t budget_ms = 0; /* the entry node's own deadline bounds the exchange */
    if (cairn_peer_forward_decode(body, body_len, &run->inner, &budget_ms, st) != CAIRN_OK) {
        free(run);
        return NULL;
    }
    run->r = r;
    run->worker = worker;
    run->req_env = *env;
    int idx = member_index(&r->cfg, env->from); /* known: the guard checked it */
    if (idx >= 0 && r->forward && r->forward->peer[idx].received)
        cairn_counter_inc(r->forward->peer[idx].received);
    replicator_post(r, run_start, run);
    return REPL_PEER_DEFERRED;
}

/* ---- the entry side -------------------------------------------------------------------------- */

typedef struct fwd_job {
    replicator *r;
    cairn_rpc_pending *p;
    int idx; /* the owner's member index */
    bool ctx_open;
    nng_ctx ctx;
    nng_aio *aio;
    bool sending; /* the aio is on its send step */
    uint8_t nonce[CAIRN_PEER_NONCE_BYTES];
    int64_t deadline_ms; /* CLOCK_MONOTONIC, as the gateway set it */
    int64_t sent_ms;
    char owner[CAIRN_CLUSTER_ID_MAX];
} fwd_job;

/* Loop thread (or replicator_stop's drain): the context and aio go once the callback is done. */
static void job_free(replicator *r, void *arg)
{
    (void)r;
    fwd_job *job = arg;
    if (job->aio)
        nng_aio_free(job->aio);
    if (job->ctx_open)
        nng_ctx_close(job->ctx);
    free(job);
}

/* Answers the gateway (rep already filled, or failed with code and message), then frees the
 * job on the loop. Any thread; once per job. */
static void job_answer(fwd_job *job)
{
    cairn_rpc_pending_finish(job->p);
    job->p = NULL;
    replicator_post(job->r, job_free, job);
}

static void job_fail(fwd_job *job, cairn_err code, const char *why)
{
    cairn_status st;
    cairn_fail(&st, code, "owner %s unavailable: %s", job->owner, why);
    cairn_reply_fail(cairn_rpc_pending_reply(job->p), &st);
    job_answer(job);
}

/* The owner's answer, checked, into the FORWARD's reply. nng thread. */
static bool check_reply(fwd_job *job, nng_msg *msg)
{
    replicator *r = job->r;
    cairn_peer_envelope env;
    char *body = NULL;
    size_t body_len = 0;
    cairn_status st;
    cairn_peer_verdict v =
        cairn_peer_guard_open(&r->guard, nng_msg_body(msg), nng_msg_len(msg), job->nonce,
                              cairn_wall_ms(), &env, &body, &body_len, &st);
    if (v == CAIRN_PEER_ACCEPTED &&
        (env.type != CAIRN_PEER_FORWARD_REPLY || strcmp(env.from, job->owner) != 0)) {
        v = CAIRN_PEER_BAD_FORMAT;
        cairn_fail(&st, CAIRN_E_DECODE, "answer to a FORWARD to %s is a %s from %s", job->owner,
                   cairn_peer_type_name(env.type), env.from);
    }
    cairn_reply *rep = cairn_rpc_pending_reply(job->p);
    if (v == CAIRN_PEER_ACCEPTED && cairn_reply_decode(body, body_len, rep, &st) != CAIRN_OK)
        v = CAIRN_PEER_BAD_FORMAT;
    free(body);
    if (v != CAIRN_PEER_ACCEPTED) {
        repl_count_refusal(r, v, "an answer to a FORWARD", &st);
        return false;
    }
    if (rep->code == CAIRN_E_UNAVAILABLE) { /* one of the owner's roles: name the owner */
        cairn_status why;
        cairn_fail(&why, CAIRN_E_UNAVAILABLE, "owner %s unavailable: %s", job->owner,
                   rep->message ? rep->message : "");
        cairn_reply_fail(rep, &why);
    }
    return true;
}

static void on_job_aio(void *arg)
{
    fwd_job *job = arg;
    fwd_peer_metrics *m = &job->r->forward->peer[job->idx];
    int rv = nng_aio_result(job->aio);
    if (job->sending) {
        job->sending = false;
        int64_t left = job->deadline_ms - repl_now_ms();
        if (rv == 0 && left > 0) {
            nng_aio_set_timeout(job->aio, (nng_duration)left);
            nng_ctx_recv(job->ctx, job->aio);
            return;
        }
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(job->aio));
            nng_aio_set_msg(job->aio, NULL);
        }
    } else if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(job->aio);
        bool ok = check_reply(job, msg);
        nng_msg_free(msg);
        if (ok) {
            job_answer(job);
            return;
        }
        cairn_counter_inc(m->failed);
        job_fail(job, CAIRN_E_UNAVAILABLE, "its answer was refused");
        return;
    }
    char why[96];
    if (rv == 0 || rv == NNG_ETIMEDOUT) {
        cairn_counter_inc(m->timeouts);
        int64_t budget = job->deadline_ms - job->sent_ms;
        snprintf(why, sizeof why, "no answer within %lld ms", (long long)budget);
    } else {
        cairn_counter_inc(m->failed);
        snprintf(why, sizeof why, "%s", nng_strerror(rv));
    }
    job_fail(job, CAIRN_E_UNAVAILABLE, why);
}

/* Seals the FORWARD and sends it on a context of the owner's REQ socket. Loop thread. */
static void job_send(replicator *r, void *arg)
{
    fwd_job *job = arg;
    const cairn_request *fw = cairn_rpc_pending_request(job->p);
    job->sent_ms = repl_now_ms();
    int64_t left = job->deadline_ms - job->sent_ms;
    if (left > CAIRN_FORWARD_MAX_MS)
        left = CAIRN_FORWARD_MAX_MS;
    repl_peer *rp = &r->peers[job->idx];
    fwd_peer_metrics *m = &r->forward->peer[job->idx];
    if (r->closed || left <= 0 || !rp->open) {
        cairn_counter_inc(left <= 0 ? m->timeouts : m->failed);
        job_fail(job, CAIRN_E_UNAVAILABLE, r->closed ? "replicator stopping" : "no time left");
        return;
    }
    if (nng_ctx_open(&job->ctx, rp->sock) != 0) {
        cairn_counter_inc(m->failed);
        job_fail(job, CAIRN_E_UNAVAILABLE, "cannot open a context");
        return;
    }
    job->ctx_open = true;
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (nng_aio_alloc(&job->aio, on_job_aio, job) == 0 &&
        cairn_peer_forward_encode(fw->inner, fw->inner_len, (uint32_t)left, &body, &body_len) ==
            CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_FORWARD, job->owner, NULL, body, body_len, job->nonce);
    free(body);
    if (!msg) {
        cairn_counter_inc(m->failed);
        job_fail(job, CAIRN_E_UNAVAILABLE, "cannot build the request (too large?)");
        return;
    }
    cairn_counter_inc(m->sent);
    job->sending = true;
    nng_aio_set_msg(job->aio, msg);
    nng_aio_set_timeout(job->aio, (nng_duration)left);
    nng_ctx_send(job->ctx, job->aio);
}

bool repl_forward_take(replicator *r, cairn_rpc_pending *p)
{
    const cairn_request *fw = cairn_rpc_pending_request(p);
    if (fw->type != CAIRN_MSG_FORWARD)
        return false;
    fwd_job *job = calloc(1, sizeof *job);
    if (!job) {
        cairn_reply_fail(cairn_rpc_pending_reply(p),
                         &(cairn_status){CAIRN_E_NOMEM, "out of memory"});
        cairn_rpc_pending_finish(p);
        return true;
    }
    job->r = r;
    job->p = p;
    job->deadline_ms = fw->deadline_ms;
    snprintf(job->owner, sizeof job->owner, "%s", fw->forward_to);
    job->idx = member_index(&r->cfg, fw->forward_to);
    if (job->idx < 0 || (size_t)job->idx == r->cfg.self || !r->forward) {
        job->idx = 0;
        job_fail(job, CAIRN_E_INVALID, "not a peer of this node");
        return true;
    }
    replicator_post(r, job_send, job);
    return true;
}
