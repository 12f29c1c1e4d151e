/* The loop thread: the work queue, the ping rounds, and every change to the membership state
 * (replicator.h). Everything here but replicator_post and the repl_loop_* posters runs on the
 * loop thread. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "replicator.h"
#include "replicator_distro.h"
#include "replicator_grpc_owners.h"
#include "replicator_raft.h"
#include "replicator_submit.h"
#include "replicator_sync.h"

int64_t repl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the MPSC queue ---------------------------------------------------------------------- */

typedef struct repl_work {
    struct repl_work *next;
    replicator_work_fn fn;
    void *arg;
} repl_work;

void replicator_post(replicator *r, replicator_work_fn fn, void *arg)
{
    repl_work *w = malloc(sizeof *w);
    if (!w) {
        log_error("out of memory queueing work for the loop; dropped");
        return; /* the arg leaks rather than being used after a failed hand-over */
    }
    w->next = NULL;
    w->fn = fn;
    w->arg = arg;
    pthread_mutex_lock(&r->queue_lock);
    if (r->queue_tail)
        r->queue_tail->next = w;
    else
        r->queue_head = w;
    r->queue_tail = w;
    bool wake = r->loop_running;
    if (wake)
        uv_async_send(&r->wake); /* under the lock: the handle cannot be closed meanwhile */
    pthread_mutex_unlock(&r->queue_lock);
}

/* Runs every queued item (also used by replicator_destroy with r->closed set). */
void repl_loop_drain(replicator *r)
{
    for (;;) {
        pthread_mutex_lock(&r->queue_lock);
        repl_work *w = r->queue_head;
        r->queue_head = r->queue_tail = NULL;
        pthread_mutex_unlock(&r->queue_lock);
        if (!w)
            return;
        while (w) {
            repl_work *next = w->next;
            w->fn(r, w->arg);
            free(w);
            w = next;
        }
    }
}

static void on_wake(uv_async_t *h)
{
    repl_loop_drain(h->data);
}

uv_loop_t *replicator_loop_uv(replicator *r)
{
    return &r->loop;
}

void replicator_set_raft_provider(replicator *r, replicator_raft_status_fn fn, void *arg)
{
    r->raft_fn = fn;
    r->raft_arg = arg;
}

/* ---- publishing what changed --------------------------------------------------------------- */

/* Refreshes the self card (what PONGs say) and the metrics from the members state, and
 * publishes MEMBERSHIP when `changed`. */
static void settle(replicator *r, int changed)
{
    repl_members *ms = &r->members;
    if (changed & REPL_CHANGED_OWNERS) {
        cairn_counter_inc(r->metrics.view_changes);
        char owners[1024] = "";
        for (size_t k = 0; k < ms->owner_count; k++) {
            strncat(owners, k ? "," : "", sizeof owners - strlen(owners) - 1);
            strncat(owners, ms->m[ms->owners[k]].id, sizeof owners - strlen(owners) - 1);
        }
        log_info("view %llu: owners [%s]", (unsigned long long)ms->view_version, owners);
    }
    cairn_gauge_set(r->metrics.view_version, (double)ms->view_version);
    cairn_gauge_set(r->metrics.ready, ms->self_phase == CAIRN_PHASE_READY ? 1 : 0);
    for (size_t i = 0; i < ms->count; i++) {
        cairn_gauge_set(r->metrics.member_state[i], (double)ms->m[i].state);
        if (i != ms->self)
            cairn_gauge_set(r->metrics.members_mismatch[i],
                            ms->m[i].heard && !ms->m[i].members_match ? 1 : 0);
    }
    pthread_mutex_lock(&r->card.lock);
    cairn_peer_ping *c = &r->card.ping;
    c->phase = ms->self_phase;
    c->members_hash = ms->members_hash;
    c->view_version = ms->view_version;
    c->view_hash = ms->view_hash;
    c->raft = ms->m[ms->self].raft;
    pthread_mutex_unlock(&r->card.lock);
    if (changed) {
        repl_local_publish(r);
        repl_verify_members_changed(r);
    }
}

void replicator_self_ready_gate(replicator *r)
{
    /* Called by the Distro load (replicator_load.c) once its engine says READY. */
    settle(r, repl_members_set_self_phase(&r->members, CAIRN_PHASE_READY));
    cairn_role_ready(r->role);
}

/* ---- ping rounds --------------------------------------------------------------------------- */

static void ping_round(replicator *r, int timeout_ms)
{
    repl_raft_tick(r);
    cairn_raft_status raft = {.role = "none"};
    if (r->raft_fn)
        r->raft_fn(r->raft_arg, &raft);
    repl_members_set_self_raft(&r->members, &raft);
    settle(r, 0);
    repl_grpc_owners_tick(r);
    int64_t now = repl_now_ms();
    for (size_t i = 0; i < r->members.count; i++)
        if (i != r->members.self)
            repl_peer_ping(&r->peers[i], now, timeout_ms);
}

void repl_loop_raft_changed(replicator *r)
{
    if (r->stopping || !r->raft_fn)
        return;
    cairn_raft_status raft = {.role = "none"};
    r->raft_fn(r->raft_arg, &raft);
    repl_members_set_self_raft(&r->members, &raft);
    settle(r, 0);
    repl_local_publish(r);
    int interval = r->cfg.ping_interval_ms;
    int64_t now = repl_now_ms();
    for (size_t i = 0; i < r->members.count; i++)
        if (i != r->members.self && r->members.m[i].state != CAIRN_MEMBER_DOWN)
            repl_peer_ping(&r->peers[i], now, interval > 20 ? interval - 10 : interval);
}

static void on_ping_timer(uv_timer_t *t)
{
    replicator *r = t->data;
    /* an answer must come within the interval (less a little, so a round never overlaps) */
    int interval = r->cfg.ping_interval_ms;
    ping_round(r, interval > 20 ? interval - 10 : interval);
}

static void on_publish_timer(uv_timer_t *t)
{
    replicator *r = t->data;
    repl_local_publish(r); /* lastRefreshTime and raft fields move; a lost message is repaired */
}

/* ---- outcomes posted by other threads ------------------------------------------------------ */

typedef struct ping_outcome {
    size_t idx;
    bool ok;
    bool heard; /* an incoming PING rather than our PING's answer */
    cairn_peer_ping ping;
    uint64_t incarnation;
    int64_t at_ms;
} ping_outcome;

/* A peer's learned or changed address: dial it (when it changed) and look it up again later. */
static void follow_address(replicator *r, size_t idx)
{
    repl_peer *p = &r->peers[idx];
    const repl_member *m = &r->members.m[idx];
    if (strcmp(p->dialed, m->peer_address) != 0 && !r->stopping) {
        log_info("peer %s: dialing %s (was %s)", m->id, m->peer_address, p->dialed);
        repl_peer_redial(p, m->peer_address);
    }
}

static bool raft_moved(const cairn_raft_status *a, const cairn_raft_status *b)
{
    return a->term != b->term || strcmp(a->role, b->role) != 0 ||
           strcmp(a->leader, b->leader) != 0;
}

static void apply_outcome(replicator *r, void *arg)
{
    ping_outcome *o = arg;
    if (r->closed) {
        free(o);
        return;
    }
    repl_member *m = &r->members.m[o->idx];
    repl_peer *p = &r->peers[o->idx];
    uint64_t old_inc = m->incarnation;
    uint64_t old_view_hash = m->view_hash;
    cairn_raft_status old_raft = m->raft;
    int changed;
    if (o->heard) {
        changed = repl_members_heard_ping(&r->members, o->idx, &o->ping, o->incarnation,
                                          cairn_wall_ms());
    } else {
        p->busy = false;
        if (o->ok) {
            double rtt = (double)(o->at_ms - p->sent_ms) / 1000.0;
            cairn_gauge_set(r->metrics.ping_rtt[o->idx], rtt);
            changed = repl_members_answer(&r->members, o->idx, &o->ping, o->incarnation, rtt,
                                          o->at_ms, cairn_wall_ms());
        } else {
            cairn_counter_inc(r->metrics.pings_failed);
            bool refused = atomic_load(&p->lost) && atomic_load(&p->pipes) == 0;
            changed = repl_members_miss(&r->members, o->idx, refused, o->at_ms);
            /* a dial that fails may be the wrong address: look it up (at most once a second) */
            if (atomic_load(&p->pipes) == 0 && o->at_ms >= p->learn_after_ms) {
                p->learn_after_ms = o->at_ms + 1000;
                repl_discover_request(r, o->idx);
            }
        }
    }
    if ((o->ok || o->heard) && m->heard && old_inc != 0 && old_inc != m->incarnation)
        repl_discover_request(r, o->idx); /* restarted: its ports may have changed */
    if ((o->ok || o->heard) && m->heard && !m->members_match && (changed & REPL_CHANGED_STATE))
        log_warn("peer %s lists other cluster.members than this node", m->id);
    if (changed & REPL_CHANGED_STATE)
        log_info("peer %s: %s", m->id, cairn_member_state_name(m->state));
    follow_address(r, o->idx);
    settle(r, changed);
    if (!changed && (raft_moved(&old_raft, &m->raft) || old_view_hash != m->view_hash))
        repl_local_publish(r); /* its new raft role or leader shows in operator/servers now;
                                * its view hash tells cairn-grpc that it saw a member come or
                                * go, maybe this node */
    if (o->ok || o->heard)
        repl_load_peer_report(r, o->idx, &o->ping);
    else if ((changed & REPL_CHANGED_STATE) && m->state == CAIRN_MEMBER_DOWN)
        repl_load_peer_lost(r, o->idx);
    if ((changed & REPL_CHANGED_STATE) && m->state == CAIRN_MEMBER_DOWN)
        repl_grpc_owners_member_down(r, o->idx);
    free(o);
}

static void post_outcome(replicator *r, size_t idx, bool ok, bool heard,
                         const cairn_peer_ping *ping, uint64_t incarnation)
{
    ping_outcome *o = calloc(1, sizeof *o);
    if (!o)
        return;
    o->idx = idx;
    o->ok = ok;
    o->heard = heard;
    if (ping)
        o->ping = *ping;
    o->incarnation = incarnation;
    o->at_ms = repl_now_ms();
    replicator_post(r, apply_outcome, o);
}

void repl_loop_ping_done(replicator *r, size_t idx, bool ok, const cairn_peer_ping *pong,
                         uint64_t incarnation)
{
    post_outcome(r, idx, ok, false, pong, incarnation);
}

void repl_loop_heard_ping(replicator *r, size_t idx, const cairn_peer_ping *ping,
                          uint64_t incarnation)
{
    post_outcome(r, idx, false, true, ping, incarnation);
}

typedef struct learned {
    size_t idx;
    char peer[CAIRN_PEER_ID_MAX];
    char raft[CAIRN_PEER_ID_MAX];
} learned;

static void apply_learned(replicator *r, void *arg)
{
    learned *l = arg;
    if (!r->closed) {
        repl_member *m = &r->members.m[l->idx];
        snprintf(m->peer_address, sizeof m->peer_address, "%s", l->peer);
        if (l->raft[0])
            snprintf(m->raft_address, sizeof m->raft_address, "%s", l->raft);
        follow_address(r, l->idx);
    }
    free(l);
}

void repl_loop_learned(replicator *r, size_t idx, const char *peer, const char *raft)
{
    learned *l = calloc(1, sizeof *l);
    if (!l)
        return;
    l->idx = idx;
    snprintf(l->peer, sizeof l->peer, "%s", peer);
    snprintf(l->raft, sizeof l->raft, "%s", raft);
    replicator_post(r, apply_learned, l);
}

/* ---- start and stop ------------------------------------------------------------------------ */

static void *loop_main(void *arg)
{
    replicator *r = arg;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start_on_loop(replicator *r, void *arg)
{
    (void)arg;
    if (r->closed)
        return;
    repl_load_start(r); /* READY once loaded (replicator_self_ready_gate) */
    uv_timer_start(&r->ping_timer, on_ping_timer, 0, (uint64_t)r->cfg.ping_interval_ms);
    uv_timer_start(&r->publish_timer, on_publish_timer, 1000, 1000);
}

cairn_err repl_loop_start(replicator *r, cairn_status *st)
{
    if (uv_loop_init(&r->loop) != 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot create the event loop");
    uv_async_init(&r->loop, &r->wake, on_wake);
    r->wake.data = r;
    uv_timer_init(&r->loop, &r->ping_timer);
    uv_timer_init(&r->loop, &r->publish_timer);
    uv_timer_init(&r->loop, &r->stop_timer);
    r->ping_timer.data = r->publish_timer.data = r->stop_timer.data = r;
    /* the raft node's handles are made here, before the loop thread runs */
    if (repl_raft_open(r, st) != CAIRN_OK || repl_submit_open(r, st) != CAIRN_OK)
        return st->code;
    pthread_mutex_lock(&r->queue_lock);
    r->loop_running = true;
    pthread_mutex_unlock(&r->queue_lock);
    replicator_post(r, start_on_loop, NULL);
    if (pthread_create(&r->loop_thread, NULL, loop_main, r) != 0) {
        r->loop_running = false;
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the loop thread");
    }
    r->loop_started = true;
    return CAIRN_OK;
}

static void close_handles(uv_timer_t *t)
{
    replicator *r = t->data;
    pthread_mutex_lock(&r->queue_lock);
    r->loop_running = false; /* no uv_async_send after this */
    pthread_mutex_unlock(&r->queue_lock);
    uv_close((uv_handle_t *)&r->wake, NULL);
    uv_close((uv_handle_t *)&r->ping_timer, NULL);
    uv_close((uv_handle_t *)&r->publish_timer, NULL);
    uv_close((uv_handle_t *)&r->stop_timer, NULL);
    repl_sync_close_handles(r);
    repl_distro_close_handles(r);
}

/* STOPPING: peers re-hash at once instead of after fail_count misses. The last PINGs get a
 * short while to leave before the loop closes. */
static void stop_on_loop(replicator *r, void *arg)
{
    (void)arg;
    if (r->closed || r->stopping)
        return;
    r->stopping = true;
    uv_timer_stop(&r->ping_timer);
    uv_timer_stop(&r->publish_timer);
    settle(r, repl_members_set_self_phase(&r->members, CAIRN_PHASE_STOPPING));
    repl_submit_stop(r); /* what still waits is answered 503 */
    repl_raft_stop(r); /* a leader hands over first; the loop runs until raft has closed */
    int wait = r->cfg.ping_interval_ms < 300 ? r->cfg.ping_interval_ms : 300;
    int64_t now = repl_now_ms();
    for (size_t i = 0; i < r->members.count; i++)
        if (i != r->members.self && r->members.m[i].state != CAIRN_MEMBER_DOWN)
            repl_peer_ping(&r->peers[i], now, wait);
    uv_timer_start(&r->stop_timer, close_handles, (uint64_t)wait, 0);
}

void repl_loop_stop(replicator *r)
{
    if (!r->loop_started)
        return;
    replicator_post(r, stop_on_loop, NULL);
    pthread_join(r->loop_thread, NULL);
    r->loop_started = false;
    r->closed = true;
    uv_loop_close(&r->loop);
}
