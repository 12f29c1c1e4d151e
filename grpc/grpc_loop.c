/* The loop thread of cairn-grpc (grpc.h): epoll over the listener, the connections, the eventfd
 * of finished registry calls and the registry SUB socket; the timer heap; the start-up sequence
 * (drop the stale owners, then listen, then ready). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "cairn_log.h"
#include "cairn_requests.h"
#include "grpc.h"
#include "grpc_cluster.h"
#include "grpc_calls.h"

#define MAX_WAIT_MS 200 /* a stop signal is noticed within this */
#define BATCH 64

int grpc_epoll_add(grpc_server *s, int fd, uint32_t events, void *tag)
{
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

void grpc_epoll_mod(grpc_server *s, int fd, uint32_t events, void *tag)
{
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &ev) != 0)
        log_warn("epoll: %s", strerror(errno));
}

void grpc_timer_arm(grpc_server *s, pusher_timer *t, int64_t due)
{
    if (pusher_timers_arm(&s->timers, t, due) != 0)
        log_error("out of memory arming a timer");
}

static void on_one_event(grpc_server *s, const void *buf, size_t len, int64_t now)
{
    cairn_change_event ev;
    cairn_status st;
    if (cairn_event_decode(buf, len, &ev, &st) != CAIRN_OK) {
        log_debug("undecodable change event: %s", st.message);
        grpc_query_cache_flush(s); /* which service changed is unknown */
        return;
    }
    switch (cairn_follow_next(&s->follow, ev.prev_revision, ev.revision)) {
    case CAIRN_FOLLOW_APPLY:
        if (ev.kind != CAIRN_CHANGE_TICK) {
            grpc_query_cache_changed(s, ev.namespace_id, ev.service, ev.revision);
            grpc_push_changed(s, ev.namespace_id, ev.service, now);
        }
        break;
    case CAIRN_FOLLOW_STALE:
        break;
    case CAIRN_FOLLOW_GAP:
        /* the first event of a connection, or events were lost: push every subscription */
        cairn_counter_inc(s->metrics.event_gaps);
        grpc_query_cache_flush(s);
        grpc_push_all(s, now);
        cairn_follow_synced(&s->follow, ev.revision);
        break;
    }
    cairn_event_free(&ev);
}

typedef struct event_ctx {
    grpc_server *s;
    int64_t now;
} event_ctx;

static void take_one_event(void *arg, const char *event, size_t len)
{
    event_ctx *e = arg;
    on_one_event(e->s, event, len, e->now);
}

/* One message: a commit's events back to back (cairn_event_each). */
static void on_event(grpc_server *s, const void *buf, size_t len, int64_t now)
{
    cairn_status st;
    event_ctx e = {s, now};
    if (cairn_event_each(buf, len, take_one_event, &e, &st) != CAIRN_OK) {
        log_debug("undecodable change event: %s", st.message);
        grpc_query_cache_flush(s); /* which service changed is unknown */
    }
}

static void drain_events(grpc_server *s)
{
    if (atomic_exchange(&s->events_reconnected, false))
        cairn_follow_lost(&s->follow);
    /* What nng_recv(NNG_FLAG_NONBLOCK) does, on one aio for all receives: nng_recv allocates
     * an aio per call (a getrandom and a few locks each) and copies the body. */
    for (int i = 0; i < BATCH; i++) {
        nng_aio_set_timeout(s->events_aio, NNG_DURATION_ZERO);
        nng_recv_aio(s->events.sock, s->events_aio);
        nng_aio_wait(s->events_aio);
        int rc = nng_aio_result(s->events_aio);
        if (rc != 0) {
            if (rc != NNG_ETIMEDOUT && rc != NNG_ECLOSED)
                log_warn("receive on the registry events: %s", nng_strerror(rc));
            return;
        }
        nng_msg *m = nng_aio_get_msg(s->events_aio);
        on_event(s, nng_msg_body(m), nng_msg_len(m), grpc_now_ms());
        nng_msg_free(m);
    }
}

static void run_timers(grpc_server *s, int64_t now)
{
    pusher_timer *t;
    while ((t = pusher_timers_pop_due(&s->timers, now))) {
        switch (t->kind) {
        case GRPC_TIMER_CONN:
            grpc_conn_timer((grpc_conn *)((char *)t - offsetof(grpc_conn, timer)), now);
            break;
        case GRPC_TIMER_WATCH:
            grpc_push_watch_timer(s, t);
            break;
        case GRPC_TIMER_DROP:
            grpc_drop_timer(s, t);
            break;
        case GRPC_TIMER_STALE:
            grpc_cluster_stale_timer(s);
            break;
        case GRPC_TIMER_IN_USE:
            grpc_push_in_use_timer(s);
            break;
        }
    }
}

static void registry_probe_done(grpc_server *s, struct grpc_call *call)
{
    s->probing_registry = false; /* grpc_calls_drain has set registry_ok from the outcome */
    grpc_call_free(call);
}

/* While the registry is not known to answer (a call timed out), one STATS call a second asks it,
 * so that /ready recovers without waiting for client traffic. */
static void probe_registry(grpc_server *s, int64_t now)
{
    if (atomic_load(&s->registry_ok) || s->probing_registry || now < s->next_registry_probe ||
        !atomic_load(&s->stale_dropped))
        return;
    struct grpc_call *call = grpc_call_new(s, registry_probe_done);
    cairn_status st;
    if (!call || cairn_request_stats(&call->req, &st) != CAIRN_OK) {
        grpc_call_free(call);
        return;
    }
    s->probing_registry = true;
    s->next_registry_probe = now + 1000;
    grpc_call_start(call);
}

/* Listens once the stale owners are gone; declares readiness when the registry answers too. */
static int start_up(grpc_server *s)
{
    probe_registry(s, grpc_now_ms());
    if (s->listen_fd < 0 && atomic_load(&s->stale_dropped)) {
        int rc = grpc_server_listen(s);
        if (rc != 0)
            return rc;
    }
    if (atomic_load(&s->listening) && atomic_load(&s->registry_ok))
        cairn_role_ready(s->role); /* the first time: sd_notify READY=1 */
    return 0;
}

static void dispatch(grpc_server *s, const struct epoll_event *ev)
{
    void *tag = ev->data.ptr;
    if (tag == &s->ep_listener)
        grpc_conn_accept_all(s);
    else if (tag == &s->ep_calls)
        grpc_calls_drain(s);
    else if (tag == &s->ep_events)
        drain_events(s);
    else
        grpc_conn_io(tag, ev->events);
}

int grpc_loop_step(grpc_server *s)
{
    struct epoll_event evs[BATCH];
    int64_t now = grpc_now_ms();
    int64_t next = pusher_timers_next(&s->timers);
    int wait = next <= now ? 0 : next - now > MAX_WAIT_MS ? MAX_WAIT_MS : (int)(next - now);
    int n = epoll_wait(s->ep, evs, BATCH, wait);
    if (n < 0 && errno != EINTR) {
        log_error("epoll_wait: %s", strerror(errno));
        return 1;
    }
    for (int i = 0; i < n; i++)
        dispatch(s, &evs[i]);
    drain_events(s); /* the SUB fd is level-triggered by nng's own pipe: drain anyway */
    run_timers(s, grpc_now_ms());
    grpc_resync_due(s, grpc_now_ms());
    grpc_conn_bury(s);
    return 0;
}

int grpc_loop_run(grpc_server *s)
{
    grpc_drop_owner(s, s->incarnation_owner, CAIRN_OWNER_OTHER_INCARNATIONS);
    if (s->cfg.in_use_period_ms > 0)
        grpc_timer_arm(s, &s->in_use_timer, grpc_now_ms() + s->cfg.in_use_period_ms);
    while (cairn_role_running()) {
        int rc = start_up(s);
        if (rc == 0)
            rc = grpc_loop_step(s);
        if (rc != 0)
            return rc;
    }
    return grpc_drain(s);
}
