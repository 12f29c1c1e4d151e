/* RAFT_FORWARD on the peer channel (replicator_submit.h): a follower's forward to the leader on
 * a context of the leader's REQ socket (one context per forward, closed when it ends), and the
 * leader's sealed RAFT_FORWARD_ACK. The aio callback runs on an nng thread: it checks the answer
 * and posts the outcome to the loop. */
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "replicator_submit_private.h"

/* How long a forward may wait for a connection to the leader before it is routed again (the
 * request has not left: routing again cannot apply it twice). */
#define FORWARD_SEND_MS 300

nng_msg *submit_build_ack(replicator *r, const cairn_peer_envelope *req,
                          const cairn_peer_raft_ack *a)
{
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_peer_raft_ack_encode(a, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_RAFT_FORWARD_ACK, req->from, req->nonce, body, body_len,
                        NULL);
    free(body);
    return msg;
}

void submit_answer_peer(submit_job *j, cairn_raft_fwd_status status, cairn_err code,
                        const char *msg, uint64_t index, const char *leader)
{
    if (j->answered)
        return;
    cairn_peer_raft_ack a = {.status = status, .code = (uint32_t)code, .index = index};
    snprintf(a.msg, sizeof a.msg, "%s", msg ? msg : "");
    snprintf(a.leader, sizeof a.leader, "%s", leader ? leader : "");
    repl_peer_server_reply(j->r, j->worker, submit_build_ack(j->r, &j->env, &a));
    submit_finish(j);
}

/* ---- the follower's side ------------------------------------------------------------------- */

typedef enum { O_NOT_SENT, O_NO_ANSWER, O_ACK } outcome_kind;

typedef struct outcome {
    submit_job *j;
    outcome_kind kind;
    cairn_peer_raft_ack ack;
} outcome;

static void count(submit_job *j, forward_result f)
{
    cairn_counter_inc(j->r->submit->forwards[f]);
}

static void on_outcome(replicator *r, void *arg)
{
    outcome *o = arg;
    submit_job *j = o->j;
    if (r->closed || !r->submit || j->answered) {
        submit_job_release(j);
        free(o);
        return;
    }
    j->state = J_ROUTE;
    const cairn_peer_raft_ack *a = &o->ack;
    if (o->kind == O_NOT_SENT) {
        count(j, FR_UNREACHABLE);
        submit_route(j); /* the leader may have changed; else the tick tries again */
    } else if (o->kind == O_NO_ANSWER) {
        count(j, FR_UNKNOWN);
        submit_answer_local(j, CAIRN_E_UNAVAILABLE,
                            "raft leader did not answer: outcome unknown, retry", 0, SR_UNKNOWN);
    } else if (a->status == CAIRN_RAFT_FWD_COMMITTED) {
        count(j, FR_OK);
        submit_committed(j, (cairn_err)a->code, a->msg, a->index);
    } else if (a->status == CAIRN_RAFT_FWD_NOT_LEADER) {
        count(j, FR_NOT_LEADER);
        submit_route(j);
    } else if (a->status == CAIRN_RAFT_FWD_UNKNOWN) {
        count(j, FR_UNKNOWN);
        submit_answer_local(j, CAIRN_E_UNAVAILABLE, a->msg[0] ? a->msg : "outcome unknown, retry",
                            0, SR_UNKNOWN);
    } else {
        count(j, FR_FAILED);
        if (a->code != CAIRN_OK) /* refused by the leader's checks: the client's fault */
            submit_answer_local(j, (cairn_err)a->code, a->msg, 0, SR_REJECTED);
        else
            submit_answer_local(j, CAIRN_E_UNAVAILABLE, a->msg[0] ? a->msg : "raft leader failed",
                                0, SR_FAILED);
    }
    submit_job_release(j);
    free(o);
}

/* Checks the leader's answer (nng thread). */
static bool read_ack(submit_job *j, nng_msg *msg, cairn_peer_raft_ack *a)
{
    replicator *r = j->r;
    cairn_peer_envelope env;
    char *body = NULL;
    size_t body_len = 0;
    cairn_status st;
    cairn_peer_verdict v = cairn_peer_guard_open(&r->guard, nng_msg_body(msg), nng_msg_len(msg),
                                                 j->nonce, cairn_wall_ms(), &env, &body,
                                                 &body_len, &st);
    const char *want = r->cfg.members[j->peer].id;
    if (v == CAIRN_PEER_ACCEPTED &&
        (env.type != CAIRN_PEER_RAFT_FORWARD_ACK || strcmp(env.from, want) != 0)) {
        v = CAIRN_PEER_BAD_FORMAT;
        cairn_fail(&st, CAIRN_E_DECODE, "answer to a RAFT_FORWARD to %s is a %s from %s", want,
                   cairn_peer_type_name(env.type), env.from);
    }
    if (v == CAIRN_PEER_ACCEPTED && cairn_peer_raft_ack_decode(body, body_len, a, &st))
        v = CAIRN_PEER_BAD_FORMAT;
    free(body);
    if (v != CAIRN_PEER_ACCEPTED)
        repl_count_refusal(r, v, "an answer to a RAFT_FORWARD", &st);
    return v == CAIRN_PEER_ACCEPTED;
}

static void post_outcome(submit_job *j, outcome_kind kind, const cairn_peer_raft_ack *a)
{
    nng_ctx_close(j->ctx);
    nng_aio_reap(j->aio); /* freed once this callback has returned */
    j->aio = NULL;
    outcome *o = calloc(1, sizeof *o);
    if (!o) { /* the job stays held: leaked rather than freed under a later callback */
        log_error("out of memory: a RAFT_FORWARD outcome is lost");
        return;
    }
    o->j = j;
    o->kind = kind;
    if (a)
        o->ack = *a;
    replicator_post(j->r, on_outcome, o);
}

static void on_forward_aio(void *arg)
{
    submit_job *j = arg;
    int rv = nng_aio_result(j->aio);
    if (j->sending) {
        j->sending = false;
        int64_t left = j->sent_ms + j->timeout_ms - repl_now_ms();
        if (rv == 0 && left > 0) {
            nng_aio_set_timeout(j->aio, (nng_duration)left);
            nng_ctx_recv(j->ctx, j->aio);
            return;
        }
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(j->aio));
            nng_aio_set_msg(j->aio, NULL);
        }
        post_outcome(j, rv != 0 ? O_NOT_SENT : O_NO_ANSWER, NULL);
        return;
    }
    cairn_peer_raft_ack a;
    bool ok = false;
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(j->aio);
        ok = read_ack(j, msg, &a);
        nng_msg_free(msg);
    }
    post_outcome(j, ok ? O_ACK : O_NO_ANSWER, ok ? &a : NULL);
}

/* j's command as a sealed RAFT_FORWARD to member idx, in a new nng message. */
static nng_msg *build_forward(submit_job *j, size_t idx, int budget_ms)
{
    replicator *r = j->r;
    cairn_peer_raft_forward f = {.cmd = j->cmd, .cmd_len = j->cmd_len,
                                 .budget_ms = (uint32_t)budget_ms};
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_peer_raft_forward_encode(&f, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_RAFT_FORWARD, r->cfg.members[idx].id, NULL, body, body_len,
                        j->nonce);
    free(body);
    return msg;
}

bool submit_forward(submit_job *j, size_t idx)
{
    replicator *r = j->r;
    repl_peer *rp = &r->peers[idx];
    int64_t left = j->deadline_ms - repl_now_ms();
    if (!rp->open || atomic_load(&rp->pipes) == 0 || left <= 0)
        return false;
    nng_msg *msg = build_forward(j, idx, (int)left);
    if (!msg)
        return false;
    if (nng_ctx_open(&j->ctx, rp->sock) != 0) {
        nng_msg_free(msg);
        return false;
    }
    if (nng_aio_alloc(&j->aio, on_forward_aio, j) != 0) {
        nng_ctx_close(j->ctx);
        nng_msg_free(msg);
        return false;
    }
    j->peer = idx;
    j->state = J_FORWARD;
    j->holds++;
    j->sent_ms = repl_now_ms();
    j->timeout_ms = (int)left;
    j->sending = true;
    nng_aio_set_msg(j->aio, msg);
    nng_aio_set_timeout(j->aio, left < FORWARD_SEND_MS ? (nng_duration)left : FORWARD_SEND_MS);
    nng_ctx_send(j->ctx, j->aio);
    return true;
}
