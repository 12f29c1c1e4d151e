/* The loop thread: inputs (subscriptions, change events, UDP datagrams) and timers. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_log.h"
#include "pusher.h"
#include "cairn_java_hash.h"
#include "pusher_ack.h"
#include "pusher_delivery.h"

/* Messages handled per source per turn, so that timers and the other sources keep their turn
 * under a flood. */
#define BATCH 256
/* The longest poll: the heartbeat /health reads moves at least this often. */
#define MAX_WAIT_MS 1000
/* A subscription snapshot the gateway did not deliver is asked again this soon. */
#define SNAPSHOT_RETRY_MS 100

/* A new subscriber of a service whose change arrived just before it (pusher_recent.h). */
static void pushed_if_raced(pusher *p, const cairn_subscription *sub, int64_t now)
{
    if (!pusher_recent_changed(&p->recent, sub->namespace_id, sub->service, now))
        return;
    pusher_service *svc = pusher_subs_service(&p->subs, sub->namespace_id, sub->service);
    if (svc)
        pusher_push_schedule(p, svc, now, now);
}

static void on_subscription(pusher *p, const void *buf, size_t len, int64_t now)
{
    cairn_subscription sub;
    cairn_status st;
    if (cairn_subscription_decode(buf, len, &sub, &st) != CAIRN_OK) {
        cairn_counter_inc(p->metrics.bad_messages);
        log_debug("undecodable subscription: %s", st.message);
        return;
    }
    /* A gap in the sequence: what was lost comes with a snapshot (this one is applied anyway;
     * applying a subscription twice only refreshes it). A gateway of an older version sends no
     * sequence numbers: nothing to check. */
    if (sub.seq != 0 && atomic_load(&p->snapshot_loaded) &&
        cairn_follow_next(&p->sub_follow, sub.seq - 1, sub.seq) == CAIRN_FOLLOW_GAP) {
        log_info("subscriptions from the gateway were lost (sequence %llu); reloading",
                 (unsigned long long)sub.seq);
        atomic_store(&p->snapshot_loaded, false);
    }
    if (!sub.namespace_id || !sub.service) {
        cairn_counter_inc(p->metrics.refused_invalid);
    } else if (cairn_push_owner(sub.namespace_id, sub.service, p->cfg.count) == p->cfg.index) {
        switch (pusher_subs_upsert(&p->subs, &p->udp, &sub, now)) {
        case PUSHER_SUB_ADDED:
            cairn_counter_inc(p->metrics.sub_added);
            log_debug("subscriber %s:%d for %s (clusters \"%s\")", sub.ip, (int)sub.port,
                      sub.service, sub.clusters ? sub.clusters : "");
            pushed_if_raced(p, &sub, now);
            break;
        case PUSHER_SUB_REFRESHED:
            cairn_counter_inc(p->metrics.sub_refreshed);
            break;
        case PUSHER_SUB_LIMIT_SERVICE:
            cairn_counter_inc(p->metrics.refused_service);
            break;
        case PUSHER_SUB_LIMIT_TOTAL:
            cairn_counter_inc(p->metrics.refused_total);
            break;
        case PUSHER_SUB_INVALID:
            cairn_counter_inc(p->metrics.refused_invalid);
            break;
        case PUSHER_SUB_NOMEM:
            log_error("out of memory adding a subscriber of %s", sub.service);
            break;
        }
        cairn_gauge_set(p->metrics.subscribers, (double)p->subs.total);
        cairn_gauge_set(p->metrics.services, (double)cairn_hashmap_size(p->subs.services));
    }
    cairn_subscription_free(&sub);
}

static void on_one_event(pusher *p, const void *buf, size_t len, int64_t now)
{
    cairn_change_event ev;
    cairn_status st;
    if (cairn_event_decode(buf, len, &ev, &st) != CAIRN_OK) {
        cairn_counter_inc(p->metrics.bad_messages);
        log_debug("undecodable change event: %s", st.message);
        return;
    }
    /* Until the subscriptions are known, events can be left to the repair at the first event
     * after they are: pushing every subscribed service then covers these too. */
    if (!atomic_load(&p->snapshot_loaded)) {
        cairn_follow_lost(&p->event_follow);
        atomic_store(&p->events_synced, false);
        cairn_event_free(&ev);
        return;
    }
    switch (cairn_follow_next(&p->event_follow, ev.prev_revision, ev.revision)) {
    case CAIRN_FOLLOW_APPLY:
        break;
    case CAIRN_FOLLOW_STALE:
        cairn_event_free(&ev);
        return;
    case CAIRN_FOLLOW_GAP:
        /* The first event of a connection, or events were lost: whatever changed meanwhile is
         * covered by pushing every subscribed service (each push reads the service afresh,
         * pusher_follow_push_all forgets what events said). */
        pusher_follow_push_all(p, now);
        cairn_follow_synced(&p->event_follow, ev.revision);
        atomic_store(&p->events_synced, true);
        cairn_event_free(&ev);
        return;
    }
    /* Only owned services with subscribers are looked up at all: the others are someone else's
     * or nobody listens. */
    if (ev.kind != CAIRN_CHANGE_TICK && ev.namespace_id && ev.service &&
        cairn_push_owner(ev.namespace_id, ev.service, p->cfg.count) == p->cfg.index) {
        pusher_service *svc = pusher_subs_service(&p->subs, ev.namespace_id, ev.service);
        if (svc) {
            /* Events come in revision order: the last one noted is the service's state. */
            pusher_service_note_change(svc, &ev);
            pusher_push_schedule(p, svc, ev.at_ms, now);
        } else {
            pusher_recent_note(&p->recent, ev.namespace_id, ev.service, now);
        }
    }
    cairn_event_free(&ev);
}

typedef struct event_ctx {
    pusher *p;
    int64_t now;
} event_ctx;

static void take_one_event(void *arg, const char *event, size_t len)
{
    event_ctx *e = arg;
    on_one_event(e->p, event, len, e->now);
}

/* One message: a commit's events back to back (cairn_event_each). */
static void on_event(pusher *p, const void *buf, size_t len, int64_t now)
{
    cairn_status st;
    event_ctx e = {p, now};
    if (cairn_event_each(buf, len, take_one_event, &e, &st) != CAIRN_OK) {
        cairn_counter_inc(p->metrics.bad_messages);
        log_debug("undecodable change event: %s", st.message);
    }
}

/* Takes the connection flags the pipe callbacks set, loads the subscription snapshot when one
 * is due, and declares the role ready the first time it can serve. Returns the longest the loop
 * may sleep before it must come back here (a failed snapshot is asked again soon). */
static int catch_up(pusher *p, int64_t now)
{
    if (atomic_exchange(&p->registry_reconnected, false)) {
        cairn_follow_lost(&p->event_follow);
        atomic_store(&p->events_synced, false);
    }
    if (atomic_exchange(&p->gateway_reconnected, false)) {
        cairn_follow_lost(&p->sub_follow);
        atomic_store(&p->snapshot_loaded, false);
        p->snapshot_retry_at = 0;
    }
    if (!atomic_load(&p->snapshot_loaded) && atomic_load(&p->gateway_up)) {
        if (now < p->snapshot_retry_at)
            return (int)(p->snapshot_retry_at - now);
        if (!pusher_follow_load_subscriptions(p, now)) {
            p->snapshot_retry_at = now + SNAPSHOT_RETRY_MS;
            return SNAPSHOT_RETRY_MS;
        }
        cairn_counter_inc(p->metrics.subscription_snapshots);
        atomic_store(&p->snapshot_loaded, true);
        /* Subscriptions arrived that events so far were not checked against: repair at the next
         * event (at the latest the registry's next tick). */
        cairn_follow_lost(&p->event_follow);
        atomic_store(&p->events_synced, false);
    }
    char why[128];
    if (pusher_follow_ready(p, why, sizeof why))
        cairn_role_ready(p->role); /* the first time: sd_notify READY=1 */
    return MAX_WAIT_MS;
}

/* Receives up to BATCH messages from a SUB socket. */
static void drain_sub(pusher *p, nng_socket sock,
                      void (*handle)(pusher *, const void *, size_t, int64_t))
{
    for (int i = 0; i < BATCH; i++) {
        char *buf = NULL;
        size_t len = 0;
        int rc = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC | NNG_FLAG_NONBLOCK);
        if (rc == NNG_EAGAIN)
            return;
        if (rc != 0) {
            if (rc != NNG_ECLOSED)
                log_warn("receive on a SUB socket: %s", nng_strerror(rc));
            return;
        }
        handle(p, buf, len, pusher_now_ms());
        nng_free(buf, len);
    }
}

void pusher_drain_udp(pusher *p)
{
    unsigned char buf[PUSHER_ACK_MAX_BYTES + 1];
    for (int i = 0; i < BATCH; i++) {
        pusher_addr from;
        size_t got;
        int rc = pusher_udp_recv(&p->udp, buf, sizeof buf, &got, &from);
        if (rc == 0)
            return;
        if (rc < 0) {
            /* ICMP errors of earlier sends may surface here; they carry no ack. */
            if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
                continue;
            log_warn("receive on the UDP socket: %s", strerror(errno));
            return;
        }
        /* got may exceed the buffer (MSG_TRUNC): such a datagram is garbage, unread. */
        pusher_delivery_on_datagram(p, buf, got, &from);
    }
}

static int64_t sweep_period(const pusher *p)
{
    int64_t period = p->cfg.subscriber_ttl_ms / 2;
    return period < 10 ? 10 : period > 5000 ? 5000 : period;
}

static void sweep(pusher *p, int64_t now)
{
    size_t dropped = pusher_subs_expire(&p->subs, now, p->cfg.subscriber_ttl_ms);
    if (dropped) {
        cairn_counter_add(p->metrics.zombies, dropped);
        log_debug("dropped %zu zombie subscriber(s)", dropped);
    }
    cairn_gauge_set(p->metrics.subscribers, (double)p->subs.total);
    cairn_gauge_set(p->metrics.services, (double)cairn_hashmap_size(p->subs.services));
    pusher_rate_sweep(p->rate, now);
    if (pusher_timers_arm(&p->timers, &p->sweep, now + sweep_period(p)) != 0)
        log_error("out of memory re-arming the sweep");
}

static void run_timers(pusher *p)
{
    int64_t now = pusher_now_ms();
    /* Bounded like the inputs: a timer storm (thousands of ack deadlines) yields to them. */
    for (int i = 0; i < BATCH * 16; i++) {
        pusher_timer *t = pusher_timers_pop_due(&p->timers, now);
        if (!t)
            return;
        switch (t->kind) {
        case PUSHER_TIMER_PUSH:
            pusher_push_run(p, (pusher_service *)((char *)t - offsetof(pusher_service, timer)),
                            now);
            now = pusher_now_ms();
            break;
        case PUSHER_TIMER_PENDING:
            pusher_delivery_on_timer(p, t, now);
            break;
        case PUSHER_TIMER_SWEEP:
            sweep(p, now);
            break;
        default:
            log_error("unknown timer kind %d", t->kind);
            break;
        }
    }
}

static int recv_fd(nng_socket sock)
{
    int fd = -1;
    return nng_socket_get_int(sock, NNG_OPT_RECVFD, &fd) == 0 ? fd : -1;
}

void *pusher_loop_main(void *arg)
{
    pusher *p = arg;
    int sub_fd = recv_fd(p->subscriptions.sock), ev_fd = recv_fd(p->events.sock);
    if (sub_fd < 0 || ev_fd < 0) {
        log_error("cannot poll the SUB sockets: no receive descriptor");
        cairn_role_request_stop();
        return NULL;
    }
    pusher_timer_init(&p->sweep, PUSHER_TIMER_SWEEP);
    sweep(p, pusher_now_ms());
    while (!atomic_load(&p->stopping)) {
        run_timers(p);
        int64_t now = pusher_now_ms();
        atomic_store(&p->heartbeat_ms, now);
        pusher_delivery_flush(p); /* before catch_up's blocking calls */
        int most = catch_up(p, now);
        pusher_delivery_flush(p); /* before the wait is computed: a send arms its ack deadline */
        int64_t next = pusher_timers_next(&p->timers);
        int wait = next <= now ? 0 : next - now > most ? most : (int)(next - now);
        struct pollfd fds[] = {
            {.fd = p->wake[0], .events = POLLIN},
            {.fd = p->udp.fd, .events = POLLIN},
            {.fd = sub_fd, .events = POLLIN},
            {.fd = ev_fd, .events = POLLIN},
        };
        int rc = poll(fds, 4, wait);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll: %s", strerror(errno));
            cairn_role_request_stop();
            break;
        }
        if (rc == 0)
            continue;
        if (fds[0].revents) {
            char drain[64];
            while (read(p->wake[0], drain, sizeof drain) > 0) {
            }
        }
        /* Subscriptions first: a list request that raced a change then gets its push. */
        if (fds[2].revents)
            drain_sub(p, p->subscriptions.sock, on_subscription);
        if (fds[3].revents)
            drain_sub(p, p->events.sock, on_event);
        if (fds[1].revents)
            pusher_drain_udp(p);
    }
    return NULL;
}
