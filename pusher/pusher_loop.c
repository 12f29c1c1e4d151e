/* The loop thread: inputs (subscriptions, change events, UDP datagrams) and timers. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_log.h"
#include "pusher.h"
#include "pusher_ack.h"
#include "pusher_delivery.h"

/* Messages handled per source per turn, so that timers and the other sources keep their turn
 * under a flood. */
#define BATCH 256
/* The longest poll: the heartbeat /health reads moves at least this often. */
#define MAX_WAIT_MS 1000

static void on_subscription(pusher *p, const void *buf, size_t len, int64_t now)
{
    cairn_subscription sub;
    cairn_status st;
    if (cairn_subscription_decode(buf, len, &sub, &st) != CAIRN_OK) {
        cairn_counter_inc(p->metrics.bad_messages);
        log_debug("undecodable subscription: %s", st.message);
        return;
    }
    if (!sub.namespace_id || !sub.service) {
        cairn_counter_inc(p->metrics.refused_invalid);
    } else if (pusher_owner_of(sub.namespace_id, sub.service, p->cfg.count) == p->cfg.index) {
        switch (pusher_subs_upsert(&p->subs, &p->udp, &sub, now)) {
        case PUSHER_SUB_ADDED:
            cairn_counter_inc(p->metrics.sub_added);
            log_debug("subscriber %s:%d for %s (clusters \"%s\")", sub.ip, (int)sub.port,
                      sub.service, sub.clusters ? sub.clusters : "");
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

static void on_event(pusher *p, const void *buf, size_t len, int64_t now)
{
    cairn_change_event ev;
    cairn_status st;
    if (cairn_event_decode(buf, len, &ev, &st) != CAIRN_OK) {
        cairn_counter_inc(p->metrics.bad_messages);
        log_debug("undecodable change event: %s", st.message);
        return;
    }
    /* Only owned services with subscribers are looked up at all: the others are someone else's
     * or nobody listens. */
    if (ev.namespace_id && ev.service &&
        pusher_owner_of(ev.namespace_id, ev.service, p->cfg.count) == p->cfg.index) {
        pusher_service *svc = pusher_subs_service(&p->subs, ev.namespace_id, ev.service);
        if (svc)
            pusher_push_schedule(p, svc, ev.at_ms, now);
    }
    cairn_event_free(&ev);
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
    int sub_fd = recv_fd(p->subscriptions), ev_fd = recv_fd(p->events);
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
        int64_t next = pusher_timers_next(&p->timers);
        int wait = next <= now ? 0 : next - now > MAX_WAIT_MS ? MAX_WAIT_MS : (int)(next - now);
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
            drain_sub(p, p->subscriptions, on_subscription);
        if (fds[3].revents)
            drain_sub(p, p->events, on_event);
        if (fds[1].revents)
            pusher_drain_udp(p);
    }
    return NULL;
}
