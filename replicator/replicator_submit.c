/* Persistent writes into the raft log: jobs, routing, local answers and the tick
 * (replicator_submit.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "raft_node.h"
#include "replicator_persist.h"
#include "replicator_raft.h"
#include "replicator_submit_private.h"

static const char *const result_names[SR__COUNT] = {"ok",      "rejected", "no_leader",
                                                   "unknown", "timeout",  "failed"};
static const char *const forward_names[FR__COUNT] = {"ok", "not_leader", "unknown", "failed",
                                                    "unreachable"};

/* ---- the live list ------------------------------------------------------------------------- */

static void unlink_job(repl_submit *s, submit_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        s->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void free_job(submit_job *j)
{
    repl_submit *s = j->r->submit;
    if (s)
        unlink_job(s, j);
    if (j->group)
        submit_group_release(j->group);
    free(j->cmd);
    free(j);
}

void submit_job_release(submit_job *j)
{
    if (--j->holds <= 0 && j->answered)
        free_job(j);
}

void submit_finish(submit_job *j)
{
    j->answered = true;
    j->state = J_DONE;
    if (j->holds <= 0)
        free_job(j);
}

static void start_tick(repl_submit *s);

/* ---- answers ------------------------------------------------------------------------------- */

void submit_answer_local(submit_job *j, cairn_err code, const char *msg, uint64_t index,
                         submit_result result)
{
    if (j->answered)
        return;
    repl_submit *s = j->r->submit;
    cairn_reply *rep = cairn_rpc_pending_reply(j->pending);
    if (code != CAIRN_OK) {
        cairn_status st;
        cairn_fail(&st, code, "%s", msg);
        cairn_reply_fail(rep, &st);
    } else {
        rep->raft_applied = index;
    }
    cairn_rpc_pending_finish(j->pending);
    j->pending = NULL;
    cairn_counter_inc(s->submits[result]);
    if (result == SR_OK)
        cairn_histogram_observe(s->latency, (double)(repl_now_ms() - j->start_ms) / 1000.0);
    if (code != CAIRN_OK && result != SR_REJECTED)
        log_warn("raft write %s: %s", j->what, msg);
    submit_finish(j);
}

/* The deadline of a job that is not answered yet: why it gave up. */
static void expire(submit_job *j)
{
    char msg[200];
    if (j->from_peer) { /* the sender has given up too: its budget was ours */
        submit_answer_peer(j, j->state == J_RAFT ? CAIRN_RAFT_FWD_UNKNOWN : CAIRN_RAFT_FWD_FAILED,
                           CAIRN_OK, "not committed within the forward's budget", 0, "");
        return;
    }
    if (j->state == J_APPLY) { /* committed: acknowledged, though this registry lags */
        cairn_counter_inc(j->r->submit->apply_wait_timeouts);
        log_warn("raft write %s: index %llu committed, not yet applied here after %d ms",
                 j->what, (unsigned long long)j->index, REPL_SUBMIT_APPLY_WAIT_MS);
        submit_answer_local(j, CAIRN_OK, "", j->index, SR_OK);
        return;
    }
    if (j->state == J_ROUTE) { /* nothing left this node: no outcome to doubt */
        cairn_raft_node *n = repl_raft_node(j->r);
        cairn_raft_node_status ns;
        memset(&ns, 0, sizeof ns);
        if (n)
            cairn_raft_node_status_get(n, &ns);
        if (ns.leader[0] && ns.state != RAFT_LEADER)
            snprintf(msg, sizeof msg, "no raft leader reachable (%.100s unreachable)", ns.leader);
        else
            snprintf(msg, sizeof msg, "no raft leader");
        submit_answer_local(j, CAIRN_E_UNAVAILABLE, msg, 0, SR_NO_LEADER);
        return;
    }
    snprintf(msg, sizeof msg, "raft write not committed within %d ms: outcome unknown, retry",
             j->r->submit->submit_timeout_ms);
    submit_answer_local(j, CAIRN_E_UNAVAILABLE, msg, 0, SR_TIMEOUT);
}

/* A local job whose entry is committed and accepted: answered once this registry has it. */
static void await_apply(submit_job *j, uint64_t index)
{
    j->index = index;
    j->state = J_APPLY;
    j->apply_until_ms = repl_now_ms() + REPL_SUBMIT_APPLY_WAIT_MS;
    if (repl_persist_applied(repl_raft_persist(j->r)) >= index)
        submit_answer_local(j, CAIRN_OK, "", index, SR_OK);
    else
        start_tick(j->r->submit);
}

void submit_committed(submit_job *j, cairn_err code, const char *msg, uint64_t index)
{
    cairn_counter_inc(j->r->submit->commits);
    if (j->answered)
        return;
    if (!j->from_peer)
        cairn_histogram_observe(j->r->submit->commit_latency,
                                (double)(repl_now_ms() - j->start_ms) / 1000.0);
    if (j->from_peer)
        submit_answer_peer(j, CAIRN_RAFT_FWD_COMMITTED, code, msg, index, "");
    else if (code != CAIRN_OK)
        submit_answer_local(j, code, msg, index, SR_REJECTED);
    else
        await_apply(j, index);
}

/* ---- routing ------------------------------------------------------------------------------- */

static void on_raft_done(void *arg, const cairn_raft_submit_result *res)
{
    submit_job *j = arg;
    if (j->state == J_RAFT)
        j->state = J_ROUTE;
    switch (res->status) {
    case CAIRN_RAFT_COMMITTED:
        submit_committed(j, res->result.code, res->result.message, res->index);
        break;
    case CAIRN_RAFT_NOT_LEADER: /* leadership moved before the append: route again */
        if (j->from_peer)
            submit_answer_peer(j, CAIRN_RAFT_FWD_NOT_LEADER, CAIRN_OK, res->result.message, 0,
                               res->leader);
        else
            start_tick(j->r->submit);
        break;
    case CAIRN_RAFT_UNKNOWN:
        if (j->from_peer)
            submit_answer_peer(j, CAIRN_RAFT_FWD_UNKNOWN, CAIRN_OK, res->result.message, 0, "");
        else
            submit_answer_local(j, CAIRN_E_UNAVAILABLE, res->result.message, 0, SR_UNKNOWN);
        break;
    default:
        if (j->from_peer)
            submit_answer_peer(j, CAIRN_RAFT_FWD_FAILED, CAIRN_OK, res->result.message, 0, "");
        else
            submit_answer_local(j, CAIRN_E_UNAVAILABLE, res->result.message, 0, SR_FAILED);
    }
    submit_job_release(j);
}

/* Appends the gathered jobs as one entry (or refuses them all, raft gone). A job refused
 * NOT_LEADER waits for the tick to route it again. */
static void flush_batch(repl_submit *s)
{
    size_t count = s->batch_count;
    submit_job *jobs[CAIRN_RAFT_BATCH_MAX];
    const void *cmds[CAIRN_RAFT_BATCH_MAX];
    size_t lens[CAIRN_RAFT_BATCH_MAX];
    void *args[CAIRN_RAFT_BATCH_MAX];
    memcpy(jobs, s->batch, count * sizeof jobs[0]);
    s->batch_count = 0;
    s->batch_bytes = 0;
    for (size_t i = 0; i < count; i++) {
        cmds[i] = jobs[i]->cmd;
        lens[i] = jobs[i]->cmd_len;
        args[i] = jobs[i];
    }
    cairn_raft_node *n = repl_raft_node(s->r);
    if (n) {
        cairn_raft_node_submit_batch(n, count, cmds, lens, on_raft_done, args);
        return;
    }
    cairn_raft_submit_result res;
    memset(&res, 0, sizeof res);
    res.status = CAIRN_RAFT_FAILED;
    cairn_fail(&res.result, CAIRN_E_UNAVAILABLE, "raft is not running");
    for (size_t i = 0; i < count; i++)
        on_raft_done(jobs[i], &res);
}

static void on_batcher(uv_idle_t *h)
{
    repl_submit *s = h->data;
    if (s->batch_count)
        flush_batch(s);
    submit_forward_flush(s);
    if (!s->batch_count && !s->gather) {
        uv_idle_stop(&s->batcher);
        s->batcher_running = false;
    }
}

void submit_wake_batcher(repl_submit *s)
{
    if (s->batcher_open && !s->batcher_running) {
        uv_idle_start(&s->batcher, on_batcher);
        s->batcher_running = true;
    } else if (!s->batcher_open) { /* stopping: no loop turn to wait for */
        if (s->batch_count)
            flush_batch(s);
        submit_forward_flush(s);
    }
}

/* j joins the batch this loop turn appends (n leads: checked by the caller). */
static void append_here(submit_job *j, cairn_raft_node *n)
{
    (void)n;
    repl_submit *s = j->r->submit;
    j->state = J_RAFT;
    j->holds++;
    if (s->batch_count == CAIRN_RAFT_BATCH_MAX ||
        (s->batch_count && s->batch_bytes + j->cmd_len > REPL_SUBMIT_BATCH_BYTES))
        flush_batch(s);
    s->batch[s->batch_count++] = j;
    s->batch_bytes += j->cmd_len;
    submit_wake_batcher(s);
}

void submit_route(submit_job *j)
{
    if (j->answered || j->state != J_ROUTE)
        return;
    replicator *r = j->r;
    cairn_raft_node *n = repl_raft_node(r);
    cairn_raft_node_status ns;
    memset(&ns, 0, sizeof ns);
    if (n)
        cairn_raft_node_status_get(n, &ns);
    if (n && ns.state == RAFT_LEADER) {
        append_here(j, n);
        return;
    }
    int idx = ns.leader[0] ? repl_members_find(&r->members, ns.leader) : -1;
    if (j->from_peer) { /* never forwarded twice: the sender routes again */
        submit_answer_peer(j, CAIRN_RAFT_FWD_NOT_LEADER, CAIRN_OK, "not the raft leader", 0,
                           ns.leader);
        return;
    }
    if (idx >= 0 && (size_t)idx != r->members.self && submit_forward(j, (size_t)idx))
        return;
    start_tick(r->submit); /* no leader, or no connection to it yet: try again */
}

/* ---- the tick: leader polling, apply waits, deadlines --------------------------------------- */

/* One unanswered job's turn of the tick: answered once applied, expired, or routed again. */
static void tick_job(submit_job *j, int64_t now, uint64_t applied)
{
    if (j->state == J_APPLY && applied >= j->index)
        submit_answer_local(j, CAIRN_OK, "", j->index, SR_OK);
    else if (j->state == J_APPLY ? now >= j->apply_until_ms
                                 : now >= j->deadline_ms ||
                                       (j->state == J_ROUTE && now >= j->leader_wait_until_ms))
        expire(j);
    else if (j->state == J_ROUTE)
        submit_route(j);
}

static void on_tick(uv_timer_t *t)
{
    repl_submit *s = t->data;
    int64_t now = repl_now_ms();
    uint64_t applied = repl_persist_applied(repl_raft_persist(s->r));
    bool busy = false;
    /* The job being looked at is held: routing it can fill the leader's batch and flush it,
     * and a refusal raft gives at once frees the batch's other jobs, the next one perhaps. Each
     * step reads the next job while the current one is still held, then lets it go. */
    submit_job *j = s->jobs;
    if (j)
        j->holds++;
    while (j) {
        if (!j->answered)
            tick_job(j, now, applied);
        submit_job *next = j->next;
        if (next)
            next->holds++;
        submit_job_release(j); /* frees it when answered and nothing else holds it */
        j = next;
    }
    for (submit_job *k = s->jobs; k && !busy; k = k->next)
        busy = !k->answered;
    if (!busy) {
        uv_timer_stop(&s->tick);
        s->tick_running = false;
    }
}

static void start_tick(repl_submit *s)
{
    if (!s->tick_open || s->tick_running)
        return;
    s->tick_running = true;
    uv_timer_start(&s->tick, on_tick, REPL_SUBMIT_TICK_MS, REPL_SUBMIT_TICK_MS);
}

void submit_retry_later(repl_submit *s)
{
    start_tick(s);
}

/* The registry's watermark moved: waiting jobs at or below it are answered now, not a tick
 * later. */
static void on_applied(void *arg, uint64_t applied)
{
    repl_submit *s = arg;
    for (submit_job *j = s->jobs, *next; j; j = next) {
        next = j->next;
        if (!j->answered && j->state == J_APPLY && applied >= j->index)
            submit_answer_local(j, CAIRN_OK, "", j->index, SR_OK);
    }
}

/* ---- a new job ------------------------------------------------------------------------------ */

/* Unwraps, checks and encodes the write of a RAFT_SUBMIT into j (its command). */
static cairn_err prepare_local(repl_submit *s, submit_job *j, const cairn_request *req,
                               cairn_status *st)
{
    cairn_request w = *req; /* shallow: unwrapping only moves the type */
    if (cairn_raft_submit_unwrap(&w, st) != CAIRN_OK || raft_cmd_check(&s->lim, &w, st))
        return st->code;
    snprintf(j->what, sizeof j->what, "%s %.40s/%.40s", cairn_msg_type_name(w.type),
             w.namespace_id ? w.namespace_id : "", w.service ? w.service : "");
    if (cairn_request_encode(&w, &j->cmd, &j->cmd_len) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_INVALID, "the write does not encode");
    return CAIRN_OK;
}

static submit_job *job_new(replicator *r, int budget_ms)
{
    submit_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    repl_submit *s = r->submit;
    j->r = r;
    j->start_ms = repl_now_ms();
    j->deadline_ms = j->start_ms + budget_ms;
    j->leader_wait_until_ms = j->start_ms + s->forward_wait_ms;
    if (j->leader_wait_until_ms > j->deadline_ms)
        j->leader_wait_until_ms = j->deadline_ms;
    j->state = J_ROUTE;
    j->next = s->jobs;
    if (s->jobs)
        s->jobs->prev = j;
    s->jobs = j;
    start_tick(s); /* every live job has a deadline */
    return j;
}

static void take_local_on_loop(replicator *r, void *arg)
{
    cairn_rpc_pending *p = arg;
    cairn_status st;
    if (r->closed || !r->submit || r->stopping || atomic_load(&r->submit->shutting)) {
        cairn_reply_fail(cairn_rpc_pending_reply(p),
                         &(cairn_status){CAIRN_E_UNAVAILABLE, "replicator stopping"});
        cairn_rpc_pending_finish(p);
        return;
    }
    submit_job *j = job_new(r, r->submit->submit_timeout_ms);
    if (!j) {
        cairn_reply_fail(cairn_rpc_pending_reply(p),
                         &(cairn_status){CAIRN_E_NOMEM, "out of memory"});
        cairn_rpc_pending_finish(p);
        return;
    }
    j->pending = p;
    if (prepare_local(r->submit, j, cairn_rpc_pending_request(p), &st) != CAIRN_OK) {
        submit_answer_local(j, st.code, st.message, 0, SR_REJECTED);
        return;
    }
    submit_route(j);
}

bool repl_submit_take_local(replicator *r, cairn_rpc_pending *p)
{
    if (cairn_rpc_pending_request(p)->type != CAIRN_MSG_RAFT_SUBMIT)
        return false;
    replicator_post(r, take_local_on_loop, p);
    return true;
}

/* ---- the forward's receiver: the leader ------------------------------------------------------ */

typedef struct incoming {
    int worker;
    cairn_peer_envelope env;
    cairn_peer_raft_forward fwd;
} incoming;

/* Decodes and checks a forwarded command; the leader's own rules, not the sender's. */
static cairn_err check_forwarded(repl_submit *s, const char *cmd, size_t len, char *what,
                                 size_t what_len, cairn_status *st)
{
    cairn_request w;
    if (cairn_request_decode(cmd, len, &w, st) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_INVALID, "the forwarded write does not decode: %s",
                          st->message);
    raft_cmd_check(&s->lim, &w, st);
    snprintf(what, what_len, "%s %.40s/%.40s (forwarded)", cairn_msg_type_name(w.type),
             w.namespace_id ? w.namespace_id : "", w.service ? w.service : "");
    cairn_request_free(&w);
    return st->code;
}

/* One command of a received RAFT_FORWARD becomes a job of group g (its command moves in), with
 * its own budget (ms) capped by raft.submit_timeout_ms. */
static void take_forwarded(repl_submit *s, peer_group *g, size_t slot, char **cmd,
                           size_t cmd_len, uint32_t budget_ms, bool stopping)
{
    int budget = budget_ms < (uint32_t)s->submit_timeout_ms ? (int)budget_ms
                                                            : s->submit_timeout_ms;
    replicator *r = s->r;
    submit_job *j = job_new(r, budget);
    if (!j) {
        submit_group_answer(g, slot, CAIRN_RAFT_FWD_FAILED, CAIRN_OK, "out of memory", 0, "");
        return;
    }
    j->from_peer = true;
    j->group = g;
    j->slot = slot;
    g->jobs++;
    j->cmd = *cmd;
    j->cmd_len = cmd_len;
    *cmd = NULL;
    cairn_counter_inc(s->forwards_in);
    cairn_status st;
    cairn_status_clear(&st);
    if (stopping)
        submit_answer_peer(j, CAIRN_RAFT_FWD_FAILED, CAIRN_OK, "raft leader stopping", 0, "");
    else if (budget <= 0)
        submit_answer_peer(j, CAIRN_RAFT_FWD_FAILED, CAIRN_OK, "the forward's budget is spent", 0,
                           "");
    else if (check_forwarded(s, j->cmd, j->cmd_len, j->what, sizeof j->what, &st) != CAIRN_OK)
        submit_answer_peer(j, CAIRN_RAFT_FWD_FAILED, st.code, st.message, 0, "");
    else
        submit_route(j); /* here, every command joins this turn's batch entry */
}

static void forward_on_loop(replicator *r, void *arg)
{
    incoming *in = arg;
    if (r->closed || !r->submit) {
        cairn_peer_raft_forward_free(&in->fwd);
        free(in);
        return; /* stopping: the sender times out */
    }
    repl_submit *s = r->submit;
    peer_group *g = calloc(1, sizeof *g);
    if (!g) {
        atomic_fetch_sub(&s->peer_deferred, 1);
        repl_peer_server_reply(r, in->worker, NULL);
    } else {
        size_t n = in->fwd.count;
        bool stopping = atomic_load(&s->shutting) || r->stopping;
        g->r = r;
        g->worker = in->worker;
        g->env = in->env;
        g->acks.count = n;
        g->unanswered = n;
        /* the group may answer and be freed with its last command: not read after it */
        for (size_t i = 0; i < n; i++)
            take_forwarded(s, g, i, &in->fwd.cmds[i], in->fwd.lens[i], in->fwd.budgets_ms[i],
                           stopping);
    }
    cairn_peer_raft_forward_free(&in->fwd);
    free(in);
}

nng_msg *repl_submit_on_peer_forward(replicator *r, int worker, const cairn_peer_envelope *env,
                                     const char *body, size_t body_len, cairn_status *st)
{
    incoming *in = calloc(1, sizeof *in);
    if (!in) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    if (cairn_peer_raft_forward_decode(body, body_len, &in->fwd, st) != CAIRN_OK) {
        free(in);
        return NULL;
    }
    repl_submit *s = r->submit;
    if (!s || atomic_fetch_add(&s->peer_deferred, 1) >= s->forward_max_pending) {
        if (s)
            atomic_fetch_sub(&s->peer_deferred, 1);
        cairn_peer_raft_acks *a = calloc(1, sizeof *a);
        nng_msg *msg = NULL;
        if (a) {
            a->count = in->fwd.count;
            for (size_t i = 0; i < a->count; i++) {
                a->acks[i].status = CAIRN_RAFT_FWD_FAILED;
                snprintf(a->acks[i].msg, sizeof a->acks[i].msg, "raft leader busy");
            }
            msg = submit_build_acks(r, env, a);
            free(a);
        }
        cairn_peer_raft_forward_free(&in->fwd);
        free(in);
        if (!msg)
            cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return msg;
    }
    in->worker = worker;
    in->env = *env;
    replicator_post(r, forward_on_loop, in);
    return REPL_PEER_DEFERRED;
}

/* ---- life ------------------------------------------------------------------------------------ */

static void metrics_init(repl_submit *s, cairn_metrics *reg)
{
    char labels[64];
    for (int i = 0; i < SR__COUNT; i++) {
        snprintf(labels, sizeof labels, "result=\"%s\"", result_names[i]);
        s->submits[i] = cairn_metrics_counter(
            reg, "raft_submits_total", "Persistent writes submitted here, by outcome.", labels);
    }
    for (int i = 0; i < FR__COUNT; i++) {
        snprintf(labels, sizeof labels, "result=\"%s\"", forward_names[i]);
        s->forwards[i] = cairn_metrics_counter(
            reg, "raft_forwards_total",
            "Writes forwarded to the leader in RAFT_FORWARDs, by outcome.", labels);
    }
    s->forwards_in = cairn_metrics_counter(reg, "raft_forwards_received_total",
                                           "Writes received from followers in RAFT_FORWARDs.",
                                           NULL);
    s->commits = cairn_metrics_counter(reg, "raft_commits_total",
                                       "Entries appended here that committed.", NULL);
    s->apply_wait_timeouts = cairn_metrics_counter(
        reg, "raft_apply_wait_timeouts_total",
        "Committed writes acknowledged before the local registry had applied them.", NULL);
    static const double bounds[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                    0.1,   0.2,   0.5,   1,    2,    5};
    s->latency = cairn_metrics_histogram(reg, "raft_submit_seconds",
                                         "From RAFT_SUBMIT to its acknowledgement (accepted).",
                                         NULL, bounds, sizeof bounds / sizeof bounds[0]);
    s->commit_latency = cairn_metrics_histogram(
        reg, "raft_submit_commit_seconds",
        "From RAFT_SUBMIT to its commit (the rest of raft_submit_seconds waits for this "
        "node's registry to apply it).",
        NULL, bounds, sizeof bounds / sizeof bounds[0]);
    static const double sizes[] = {1, 2, 4, 8, 16, 32, 64};
    s->forward_commands = cairn_metrics_histogram(
        reg, "raft_forward_commands", "Writes per RAFT_FORWARD sent to the leader.", NULL, sizes,
        sizeof sizes / sizeof sizes[0]);
}

cairn_err repl_submit_open(replicator *r, cairn_status *st)
{
    repl_submit *s = calloc(1, sizeof *s);
    if (!s)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    const cairn_config *cfg = r->role->config;
    s->r = r;
    s->submit_timeout_ms = (int)cairn_config_int(cfg, "raft.submit_timeout_ms");
    s->forward_wait_ms = (int)cairn_config_int(cfg, "raft.forward_wait_ms");
    s->forward_max_pending = (int)cairn_config_int(cfg, "raft.forward_max_pending");
    if (s->forward_max_pending > REPL_PEER_RAFT_WORKERS)
        s->forward_max_pending = REPL_PEER_RAFT_WORKERS;
    s->lim = (raft_cmd_limits){{(size_t)cairn_config_int(cfg, "limits.max_metadata_bytes")},
                               cairn_config_int(cfg, "limits.max_instances_per_service")};
    uv_timer_init(replicator_loop_uv(r), &s->tick);
    s->tick.data = s;
    s->tick_open = true;
    uv_idle_init(replicator_loop_uv(r), &s->batcher);
    s->batcher.data = s;
    s->batcher_open = true;
    metrics_init(s, r->role->metrics);
    repl_persist_on_applied(repl_raft_persist(r), on_applied, s);
    r->submit = s;
    return CAIRN_OK;
}

static void drain_on_loop(replicator *r, void *arg)
{
    (void)arg;
    repl_submit *s = r->submit;
    for (submit_job *j = s ? s->jobs : NULL, *next; j; j = next) {
        next = j->next;
        if (j->answered)
            continue;
        if (j->from_peer) /* appended: it may still commit under the next leader */
            submit_answer_peer(j, j->state == J_RAFT ? CAIRN_RAFT_FWD_UNKNOWN
                                                     : CAIRN_RAFT_FWD_FAILED,
                               CAIRN_OK, "raft leader stopping", 0, "");
        else if (j->state == J_APPLY)
            submit_answer_local(j, CAIRN_OK, "", j->index, SR_OK);
        else
            submit_answer_local(j, CAIRN_E_UNAVAILABLE,
                                "replicator stopping: outcome unknown, retry", 0, SR_UNKNOWN);
    }
}

void repl_submit_shutdown(replicator *r)
{
    if (!r->submit)
        return;
    atomic_store(&r->submit->shutting, true);
    replicator_post(r, drain_on_loop, NULL);
}

void repl_submit_stop(replicator *r)
{
    repl_submit *s = r->submit;
    if (!s || !s->tick_open)
        return;
    drain_on_loop(r, NULL);
    s->tick_open = false;
    s->tick_running = false;
    uv_close((uv_handle_t *)&s->tick, NULL);
    s->batcher_open = false;
    s->batcher_running = false;
    uv_close((uv_handle_t *)&s->batcher, NULL);
    if (s->batch_count) /* answered by the drain; raft refuses or appends them as it stops */
        flush_batch(s);
    submit_forward_drop(s);
}

void repl_submit_free(replicator *r)
{
    repl_submit *s = r->submit;
    if (!s)
        return;
    while (s->jobs) { /* only jobs whose callbacks can no longer come */
        submit_job *j = s->jobs;
        unlink_job(s, j);
        if (j->group) /* answered by the drain: its group has replied */
            submit_group_release(j->group);
        free(j->cmd); /* none is pending: replicator.sock's stop waited for every answer */
        free(j);
    }
    free(s);
    r->submit = NULL;
}
