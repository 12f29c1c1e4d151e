/* RAFT_FORWARD on the peer channel (replicator_submit.h). The follower gathers the writes of a
 * loop turn into one RAFT_FORWARD on a context of the leader's REQ socket (one context per
 * forward, closed when it ends); the aio callback runs on an nng thread, checks the answer and
 * posts the outcome to the loop. The leader answers every command of it in one sealed
 * RAFT_FORWARD_ACK, once the last is answered. */
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "raft_node.h"
#include "replicator_raft.h"
#include "replicator_submit_private.h"

/* How long a forward may wait for a connection to the leader before it is routed again (the
 * request has not left: routing again cannot apply it twice). */
#define FORWARD_SEND_MS 300

/* ---- the leader's side ---------------------------------------------------------------------- */

nng_msg *submit_build_acks(replicator *r, const cairn_peer_envelope *req,
                           const cairn_peer_raft_acks *a)
{
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_peer_raft_acks_encode(a, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_RAFT_FORWARD_ACK, req->from, req->nonce, body, body_len,
                        NULL);
    free(body);
    return msg;
}

void submit_group_answer(peer_group *g, size_t slot, cairn_raft_fwd_status status,
                         cairn_err code, const char *msg, uint64_t index, const char *leader)
{
    cairn_peer_raft_ack *a = &g->acks.acks[slot];
    if ((unsigned)code >= CAIRN_E__COUNT) /* one bad code must not void the whole answer */
        code = CAIRN_E_INTERNAL;
    *a = (cairn_peer_raft_ack){.status = status, .code = (uint32_t)code, .index = index};
    snprintf(a->msg, sizeof a->msg, "%s", msg ? msg : "");
    snprintf(a->leader, sizeof a->leader, "%s", leader ? leader : "");
    if (status == CAIRN_RAFT_FWD_COMMITTED && code == CAIRN_OK)
        g->nudge = true;
    if (--g->unanswered > 0)
        return;
    replicator *r = g->r;
    repl_peer_server_reply(r, g->worker, submit_build_acks(r, &g->env, &g->acks));
    if (r->submit)
        atomic_fetch_sub(&r->submit->peer_deferred, 1);
    cairn_raft_node *n = repl_raft_node(r);
    if (n && g->nudge) /* the sender waits for its own registry to apply them */
        cairn_raft_node_nudge(n);
    if (g->jobs == 0)
        free(g);
}

void submit_group_release(peer_group *g)
{
    if (--g->jobs == 0 && g->unanswered == 0)
        free(g);
}

void submit_answer_peer(submit_job *j, cairn_raft_fwd_status status, cairn_err code,
                        const char *msg, uint64_t index, const char *leader)
{
    if (j->answered)
        return;
    submit_group_answer(j->group, j->slot, status, code, msg, index, leader);
    submit_finish(j);
}

/* ---- the follower's side ------------------------------------------------------------------- */

typedef enum { O_NOT_SENT, O_NO_ANSWER, O_ACK } outcome_kind;

struct forward_batch {
    replicator *r;
    size_t peer;
    size_t count, bytes;
    submit_job *jobs[CAIRN_RAFT_FORWARD_MAX];
    /* in flight (the fields the nng callback reads are set before the send) */
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
    uint8_t nonce[CAIRN_PEER_NONCE_BYTES];
    int64_t sent_ms;
    int timeout_ms;
    /* the outcome, set on the nng thread before the post */
    outcome_kind kind;
    cairn_peer_raft_acks acks;
};

static void count(submit_job *j, forward_result f)
{
    cairn_counter_inc(j->r->submit->forwards[f]);
}

/* One job's outcome (a == NULL unless kind is O_ACK). */
static void job_outcome(submit_job *j, outcome_kind kind, const cairn_peer_raft_ack *a)
{
    j->state = J_ROUTE;
    if (kind == O_NOT_SENT) {
        count(j, FR_UNREACHABLE);
        submit_route(j); /* the leader may have changed; else the tick tries again */
    } else if (kind == O_NO_ANSWER) {
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
}

static void on_outcome(replicator *r, void *arg)
{
    forward_batch *b = arg;
    bool live = !r->closed && r->submit;
    for (size_t i = 0; i < b->count; i++) {
        submit_job *j = b->jobs[i];
        if (live && !j->answered)
            job_outcome(j, b->kind, b->kind == O_ACK ? &b->acks.acks[i] : NULL);
        submit_job_release(j);
    }
    free(b);
}

/* Checks the leader's answer (nng thread): an ack for each command sent. */
static bool read_acks(forward_batch *b, nng_msg *msg)
{
    replicator *r = b->r;
    cairn_peer_envelope env;
    char *body = NULL;
    size_t body_len = 0;
    cairn_status st;
    cairn_peer_verdict v = cairn_peer_guard_open(&r->guard, nng_msg_body(msg), nng_msg_len(msg),
                                                 b->nonce, cairn_wall_ms(), &env, &body,
                                                 &body_len, &st);
    const char *want = r->cfg.members[b->peer].id;
    if (v == CAIRN_PEER_ACCEPTED &&
        (env.type != CAIRN_PEER_RAFT_FORWARD_ACK || strcmp(env.from, want) != 0)) {
        v = CAIRN_PEER_BAD_FORMAT;
        cairn_fail(&st, CAIRN_E_DECODE, "answer to a RAFT_FORWARD to %s is a %s from %s", want,
                   cairn_peer_type_name(env.type), env.from);
    }
    if (v == CAIRN_PEER_ACCEPTED && cairn_peer_raft_acks_decode(body, body_len, &b->acks, &st))
        v = CAIRN_PEER_BAD_FORMAT;
    if (v == CAIRN_PEER_ACCEPTED && b->acks.count != b->count) {
        v = CAIRN_PEER_BAD_FORMAT;
        cairn_fail(&st, CAIRN_E_DECODE, "%zu acks answer a RAFT_FORWARD of %zu commands",
                   b->acks.count, b->count);
    }
    free(body);
    if (v != CAIRN_PEER_ACCEPTED)
        repl_count_refusal(r, v, "an answer to a RAFT_FORWARD", &st);
    return v == CAIRN_PEER_ACCEPTED;
}

static void post_outcome(forward_batch *b, outcome_kind kind)
{
    nng_ctx_close(b->ctx);
    nng_aio_reap(b->aio); /* freed once this callback has returned */
    b->aio = NULL;
    b->kind = kind;
    replicator_post(b->r, on_outcome, b);
}

static void on_forward_aio(void *arg)
{
    forward_batch *b = arg;
    int rv = nng_aio_result(b->aio);
    if (b->sending) {
        b->sending = false;
        int64_t left = b->sent_ms + b->timeout_ms - repl_now_ms();
        if (rv == 0 && left > 0) {
            nng_aio_set_timeout(b->aio, (nng_duration)left);
            nng_ctx_recv(b->ctx, b->aio);
            return;
        }
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(b->aio));
            nng_aio_set_msg(b->aio, NULL);
        }
        post_outcome(b, rv != 0 ? O_NOT_SENT : O_NO_ANSWER);
        return;
    }
    bool ok = false;
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(b->aio);
        ok = read_acks(b, msg);
        nng_msg_free(msg);
    }
    post_outcome(b, ok ? O_ACK : O_NO_ANSWER);
}

/* b's commands as a sealed RAFT_FORWARD, in a new nng message, each with the time its client
 * has left from now. */
static nng_msg *build_forward(forward_batch *b, int64_t now)
{
    replicator *r = b->r;
    cairn_peer_raft_forward f = {.count = b->count};
    for (size_t i = 0; i < b->count; i++) {
        int64_t left = b->jobs[i]->deadline_ms - now;
        f.cmds[i] = b->jobs[i]->cmd;
        f.lens[i] = b->jobs[i]->cmd_len;
        f.budgets_ms[i] = (uint32_t)(left > CAIRN_RAFT_BUDGET_MAX ? CAIRN_RAFT_BUDGET_MAX : left);
    }
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_peer_raft_forward_encode(&f, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_RAFT_FORWARD, r->cfg.members[b->peer].id, NULL, body,
                        body_len, b->nonce);
    free(body);
    return msg;
}

/* A gathered job that will not be sent: back to routing, and the gather's hold dropped. */
static void let_go(submit_job *j)
{
    if (j->state == J_FORWARD)
        j->state = J_ROUTE;
    submit_job_release(j);
}

/* Lets go of every job of a forward that will not leave, and of the forward. */
static void let_go_all(forward_batch *b)
{
    for (size_t i = 0; i < b->count; i++)
        let_go(b->jobs[i]);
    free(b);
}

/* The jobs of a forward that never left go back to routing (the tick routes them again). */
static void unsend(forward_batch *b)
{
    repl_submit *s = b->r->submit;
    let_go_all(b);
    submit_retry_later(s);
}

/* Lets go of the gathered jobs that need no forward any more: answered meanwhile (the drain), or
 * out of time (the tick answers them). */
static void drop_settled(forward_batch *b, int64_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < b->count; i++) {
        submit_job *j = b->jobs[i];
        if (j->answered || j->deadline_ms <= now)
            let_go(j);
        else
            b->jobs[kept++] = j;
    }
    b->count = kept;
}

void submit_forward_flush(repl_submit *s)
{
    forward_batch *b = s->gather;
    if (!b)
        return;
    s->gather = NULL;
    replicator *r = s->r;
    int64_t now = repl_now_ms(), left = 0;
    drop_settled(b, now);
    if (b->count == 0) {
        free(b);
        return;
    }
    /* each command carries its own budget; the answer is awaited for the longest */
    for (size_t i = 0; i < b->count; i++)
        if (b->jobs[i]->deadline_ms - now > left)
            left = b->jobs[i]->deadline_ms - now;
    repl_peer *rp = &r->peers[b->peer];
    nng_msg *msg = rp->open ? build_forward(b, now) : NULL;
    if (!msg) {
        unsend(b);
        return;
    }
    if (nng_ctx_open(&b->ctx, rp->sock) != 0) {
        nng_msg_free(msg);
        unsend(b);
        return;
    }
    if (nng_aio_alloc(&b->aio, on_forward_aio, b) != 0) {
        nng_ctx_close(b->ctx);
        nng_msg_free(msg);
        unsend(b);
        return;
    }
    cairn_histogram_observe(s->forward_commands, (double)b->count);
    b->sent_ms = now;
    b->timeout_ms = (int)left;
    b->sending = true;
    nng_aio_set_msg(b->aio, msg);
    nng_aio_set_timeout(b->aio, left < FORWARD_SEND_MS ? (nng_duration)left : FORWARD_SEND_MS);
    nng_ctx_send(b->ctx, b->aio);
}

void submit_forward_drop(repl_submit *s)
{
    forward_batch *b = s->gather;
    if (!b)
        return;
    s->gather = NULL;
    let_go_all(b);
}

bool submit_forward(submit_job *j, size_t idx)
{
    replicator *r = j->r;
    repl_submit *s = r->submit;
    repl_peer *rp = &r->peers[idx];
    if (!rp->open || atomic_load(&rp->pipes) == 0 || j->deadline_ms <= repl_now_ms())
        return false;
    forward_batch *b = s->gather;
    if (b && (b->peer != idx || b->count == CAIRN_RAFT_FORWARD_MAX ||
              b->bytes + j->cmd_len > REPL_SUBMIT_BATCH_BYTES)) {
        submit_forward_flush(s);
        b = NULL;
    }
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return false;
        b->r = r;
        b->peer = idx;
        s->gather = b;
    }
    b->jobs[b->count++] = j;
    b->bytes += j->cmd_len;
    j->state = J_FORWARD;
    j->holds++;
    submit_wake_batcher(s);
    return true;
}
