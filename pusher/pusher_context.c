/* The pusher's state: settings, sockets, the loop thread, health. */
#include <errno.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "pusher.h"
#include "pusher_delivery.h"

/* The largest subscription taken from the gateway (change events: CAIRN_EVENT_MAX_BYTES). */
#define MAX_SUB_MESSAGE (64 * 1024)
/* The loop is stuck when it has not turned for this long beyond a registry call. */
#define STUCK_MS 5000

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pusher_now_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t pusher_now_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

int64_t pusher_wall_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

static cairn_err read_settings(pusher_settings *s, const cairn_config *c, cairn_status *st)
{
    s->count = (uint32_t)cairn_config_int(c, "pusher.count");
    s->index = (uint32_t)cairn_config_int(c, "pusher.index");
    if (s->index >= s->count)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "pusher.index %u must be below pusher.count %u (pusher.count 0 means "
                          "no pusher runs)",
                          s->index, s->count);
    s->registry_timeout_ms = (int)cairn_config_int(c, "pusher.registry_timeout_ms");
    s->subscriber_ttl_ms = cairn_config_int(c, "push.subscriber_ttl_ms");
    s->merge_window_ms = cairn_config_int(c, "push.merge_window_ms");
    s->gzip_threshold = (size_t)cairn_config_int(c, "push.gzip_threshold");
    s->ack_timeout_ms = cairn_config_int(c, "push.ack_timeout_ms");
    s->max_retries = (uint32_t)cairn_config_int(c, "push.max_retries");
    s->max_subscribers_per_service =
        (uint32_t)cairn_config_int(c, "push.max_subscribers_per_service");
    s->max_subscribers = (uint32_t)cairn_config_int(c, "push.max_subscribers");
    s->max_datagram_bytes = (size_t)cairn_config_int(c, "push.max_datagram_bytes");
    s->max_sends_per_second = (uint32_t)cairn_config_int(c, "push.max_sends_per_second");
    return CAIRN_OK;
}

static bool health(void *arg, char *detail, size_t detail_len)
{
    pusher *p = arg;
    int64_t idle = pusher_now_ms() - atomic_load(&p->heartbeat_ms);
    if (idle > STUCK_MS + p->cfg.registry_timeout_ms) {
        snprintf(detail, detail_len, "push loop stuck for %lld ms", (long long)idle);
        return false;
    }
    snprintf(detail, detail_len, "pusher %u of %u, UDP port %u", p->cfg.index, p->cfg.count,
             p->udp.port);
    return true;
}

static void wake_loop(pusher *p)
{
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w; /* a full pipe wakes the loop as well */
}

/* Runs on nng's thread, per connection made or lost: upstream_connected{source} for operators,
 * and flags the loop takes (whatever came meanwhile may have been missed). */
static void on_gateway_pipe(void *arg, bool connected)
{
    pusher *p = arg;
    cairn_gauge_set(p->metrics.gateway_connected, connected ? 1 : 0);
    atomic_store(&p->gateway_up, connected);
    atomic_store(&p->snapshot_loaded, false);
    atomic_store(&p->gateway_reconnected, true);
    wake_loop(p);
}

static void on_registry_pipe(void *arg, bool connected)
{
    pusher *p = arg;
    cairn_gauge_set(p->metrics.registry_connected, connected ? 1 : 0);
    atomic_store(&p->registry_up, connected);
    atomic_store(&p->registry_reconnected, true);
    wake_loop(p);
}

static cairn_err endpoint_url(pusher *p, cairn_endpoint ep, char *url, size_t len,
                              cairn_status *st)
{
    if (cairn_endpoint_url(p->role->run_dir, ep, url, len) != 0)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "node.run_dir is too long for an ipc socket path: %s", p->role->run_dir);
    return CAIRN_OK;
}

/* The connections to the registry (snapshots, events) and the gateway (subscriptions). The
 * dials do not wait for the peers: nng redials until they are there, and whenever they restart. */
static cairn_err open_upstreams(pusher *p, cairn_status *st)
{
    char url[256];
    if (endpoint_url(p, CAIRN_EP_REGISTRY_COMMANDS, url, sizeof url, st) ||
        !(p->registry = cairn_rpc_client_open(url, "registry", p->cfg.registry_timeout_ms, st)) ||
        endpoint_url(p, CAIRN_EP_GATEWAY_COMMANDS, url, sizeof url, st) ||
        !(p->gateway = cairn_rpc_client_open(url, "gateway", p->cfg.registry_timeout_ms, st)) ||
        endpoint_url(p, CAIRN_EP_GATEWAY_SUBSCRIPTIONS, url, sizeof url, st) ||
        cairn_sub_open(&p->subscriptions, url, MAX_SUB_MESSAGE, 0, on_gateway_pipe, p, st) ||
        endpoint_url(p, CAIRN_EP_REGISTRY_EVENTS, url, sizeof url, st) ||
        cairn_sub_open(&p->events, url, CAIRN_EVENT_MAX_BYTES, 0, on_registry_pipe, p, st))
        return st->code;
    return CAIRN_OK;
}

cairn_err pusher_open(pusher *p, cairn_role *role, cairn_status *st)
{
    memset(p, 0, sizeof *p);
    p->role = role;
    p->udp.fd = -1;
    p->wake[0] = p->wake[1] = -1;
    atomic_store(&p->stopping, false);
    atomic_store(&p->heartbeat_ms, pusher_now_ms());
    pusher_timers_init(&p->timers);
    cairn_err err = read_settings(&p->cfg, role->config, st);
    if (err != CAIRN_OK)
        return err;
    if (pusher_metrics_init(&p->metrics, role->metrics) != 0) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        goto fail;
    }
    pusher_recent_init(&p->recent);
    if (pusher_subs_init(&p->subs, p->cfg.max_subscribers_per_service, p->cfg.max_subscribers,
                         pusher_delivery_forget_sub, p) != 0 ||
        pusher_delivery_init(p) != 0 || !(p->rate = pusher_rate_new(p->cfg.max_sends_per_second))) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        goto fail;
    }
    if (pusher_udp_open(&p->udp, st) != 0)
        goto fail;
    cairn_gauge_set(p->metrics.udp_port, p->udp.port);

    /* The wake pipe first: the connections' callbacks write to it. */
    if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "pipe: %s", strerror(errno));
        goto fail;
    }
    cairn_follow_init(&p->sub_follow);
    cairn_follow_init(&p->event_follow);
    if (open_upstreams(p, st) != CAIRN_OK)
        goto fail;
    int rc = pthread_create(&p->thread, NULL, pusher_loop_main, p);
    if (rc != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "start the push loop: %s", strerror(rc));
        goto fail;
    }
    p->thread_started = true;
    cairn_role_set_health(role, health, p);
    cairn_role_set_ready_check(role, pusher_follow_ready, p);
    log_info("pusher %u of %u: UDP port %u (buffers: send %zu, receive %zu bytes), merge "
             "window %lld ms, ack timeout %lld ms x %u retries, subscriber TTL %lld ms",
             p->cfg.index, p->cfg.count, p->udp.port, pusher_udp_buffer(&p->udp, SO_SNDBUF),
             pusher_udp_buffer(&p->udp, SO_RCVBUF), (long long)p->cfg.merge_window_ms,
             (long long)p->cfg.ack_timeout_ms, p->cfg.max_retries,
             (long long)p->cfg.subscriber_ttl_ms);
    return CAIRN_OK;

fail:
    pusher_close(p);
    return st->code != CAIRN_OK ? st->code : CAIRN_E_INTERNAL;
}

void pusher_close(pusher *p)
{
    if (p->role) {
        cairn_role_set_health(p->role, NULL, NULL);
        cairn_role_set_ready_check(p->role, NULL, NULL);
    }
    if (p->thread_started) {
        atomic_store(&p->stopping, true);
        ssize_t w = write(p->wake[1], "x", 1);
        (void)w; /* a full pipe wakes the loop as well */
        pthread_join(p->thread, NULL);
        p->thread_started = false;
    }
    /* Closing the SUB sockets first: nothing arrives any more. */
    cairn_sub_close(&p->subscriptions);
    cairn_sub_close(&p->events);
    if (p->registry)
        cairn_rpc_client_close(p->registry);
    p->registry = NULL;
    if (p->gateway)
        cairn_rpc_client_close(p->gateway);
    p->gateway = NULL;
    /* Pending entries point at subscribers: they go first, then the subscribers. */
    pusher_delivery_destroy(p);
    pusher_timers_free(&p->timers);
    pusher_subs_destroy(&p->subs);
    pusher_rate_free(p->rate);
    p->rate = NULL;
    pusher_udp_close(&p->udp);
    for (int i = 0; i < 2; i++) {
        if (p->wake[i] >= 0)
            close(p->wake[i]);
        p->wake[i] = -1;
    }
    p->role = NULL;
}
