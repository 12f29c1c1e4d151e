/* Subscriptions and pushes (spec §4.2, §5.4): a change event of a subscribed service arms its
 * merge window; when it ends, one SERVICE_GET, one ServiceInfo per subscriber's clusters string,
 * offered to each subscriber's push queue (grpc_pushq.h), which sends NotifySubscriberRequests on
 * the connection's bi-stream and retries them until acked. Loop thread. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "cairn_render.h"
#include "cairn_requests.h"
#include "grpc.h"
#include "grpc_calls.h"

/* A bi-stream holding this much unsent output takes no further pushes until it drains. */
#define BIDI_BACKLOG_MAX (1u << 20)

int64_t grpc_push_ref_time(grpc_server *s)
{
    int64_t now = cairn_wall_ms();
    if (now > s->last_ref_time)
        s->last_ref_time = now;
    return s->last_ref_time;
}

static size_t watch_key(char *buf, size_t cap, const char *ns, const char *svc)
{
    int n = snprintf(buf, cap, "%s%c%s", ns, 0, svc);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static void watch_free(grpc_server *s, grpc_watch *w)
{
    char key[CAIRN_MAX_NAMESPACE_LEN + 2 * CAIRN_MAX_SERVICE_LEN + 8];
    size_t n = watch_key(key, sizeof key, w->ns, w->svc);
    cairn_hashmap_remove(s->watches, key, n);
    pusher_timers_disarm(&s->timers, &w->timer);
    free(w->ns);
    free(w->svc);
    free(w->subs);
    free(w);
}

/* Frees w when nothing refers to it any more (a fetch in flight still does). */
static void watch_release(grpc_server *s, grpc_watch *w)
{
    if (w->count == 0 && !w->fetching)
        watch_free(s, w);
}

static grpc_watch *watch_get(grpc_server *s, const grpc_service_ref *ref, bool create)
{
    char key[CAIRN_MAX_NAMESPACE_LEN + 2 * CAIRN_MAX_SERVICE_LEN + 8];
    size_t n = watch_key(key, sizeof key, ref->ns, ref->grouped);
    grpc_watch *w = n ? cairn_hashmap_get(s->watches, key, n) : NULL;
    if (w || !create || !n)
        return w;
    if (!(w = calloc(1, sizeof *w)))
        return NULL;
    w->ns = strdup(ref->ns);
    w->svc = strdup(ref->grouped);
    w->ref = *ref;
    pusher_timer_init(&w->timer, GRPC_TIMER_WATCH);
    if (!w->ns || !w->svc || cairn_hashmap_put(s->watches, key, n, w, NULL) != 0) {
        free(w->ns);
        free(w->svc);
        free(w);
        return NULL;
    }
    return w;
}

static bool grow(void **items, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return true;
    size_t n = *cap ? 2 * *cap : 4;
    void *p = realloc(*items, n * size);
    if (!p)
        return false;
    *items = p;
    *cap = n;
    return true;
}

static void remove_ptr(grpc_sub **items, size_t *count, const grpc_sub *sub)
{
    for (size_t i = 0; i < *count; i++)
        if (items[i] == sub) {
            items[i] = items[--*count];
            return;
        }
}

/* Drops one subscription from its watch and its connection. */
static void sub_drop(grpc_server *s, grpc_sub *sub, bool from_conn)
{
    grpc_watch *w = sub->watch;
    remove_ptr(w->subs, &w->count, sub);
    if (from_conn)
        remove_ptr(sub->conn->subs, &sub->conn->sub_count, sub);
    grpc_pushq_forget(&sub->conn->pushq, w->ns, w->svc, sub->clusters);
    free(sub->clusters);
    free(sub);
    watch_release(s, w);
}

int grpc_push_subscribe(grpc_conn *c, const grpc_service_ref *ref, const char *clusters,
                        bool subscribe)
{
    grpc_server *s = c->srv;
    grpc_watch *w = watch_get(s, ref, subscribe);
    if (!w)
        return subscribe ? -1 : 0;
    for (size_t i = 0; i < w->count; i++) {
        grpc_sub *sub = w->subs[i];
        if (sub->conn == c && strcmp(sub->clusters, clusters) == 0) {
            if (!subscribe)
                sub_drop(s, sub, true);
            return 0; /* subscribing again changes nothing */
        }
    }
    if (!subscribe) {
        watch_release(s, w);
        return 0;
    }
    grpc_sub *sub = calloc(1, sizeof *sub);
    if (!sub || !(sub->clusters = strdup(clusters)) ||
        !grow((void **)&w->subs, &w->cap, w->count, sizeof *w->subs) ||
        !grow((void **)&c->subs, &c->sub_cap, c->sub_count, sizeof *c->subs)) {
        if (sub)
            free(sub->clusters);
        free(sub);
        watch_release(s, w);
        return -1;
    }
    sub->conn = c;
    sub->watch = w;
    w->subs[w->count++] = sub;
    c->subs[c->sub_count++] = sub;
    /* The service's first subscriber: reported at once, as the sweep may be due before the next
     * report and the service be one that has long been empty. */
    if (w->count == 1 && s->cfg.in_use_period_ms > 0) {
        const char *ns = w->ns, *svc = w->svc;
        cairn_in_use_send(s->registry, &ns, &svc, 1, &s->metrics.in_use);
    }
    return 0;
}

void grpc_push_forget_conn(grpc_conn *c)
{
    while (c->sub_count > 0) {
        grpc_sub *sub = c->subs[--c->sub_count];
        sub_drop(c->srv, sub, false);
    }
}

static void arm(grpc_server *s, grpc_watch *w, int64_t now, int64_t delay)
{
    if (w->fetching) {
        w->again = true; /* once the fetch in flight is pushed, again */
        return;
    }
    if (!pusher_timer_armed(&w->timer))
        grpc_timer_arm(s, &w->timer, now + delay);
}

void grpc_push_changed(grpc_server *s, const char *ns, const char *svc, int64_t now)
{
    char key[CAIRN_MAX_NAMESPACE_LEN + 2 * CAIRN_MAX_SERVICE_LEN + 8];
    size_t n = watch_key(key, sizeof key, ns, svc);
    grpc_watch *w = n ? cairn_hashmap_get(s->watches, key, n) : NULL;
    if (w)
        arm(s, w, now, s->cfg.merge_window_ms);
}

void grpc_push_all(grpc_server *s, int64_t now)
{
    cairn_hashmap_iter it;
    const void *k;
    void *v;
    cairn_hashmap_iter_init(&it, s->watches);
    while (cairn_hashmap_iter_next(&it, &k, NULL, &v))
        arm(s, v, now, s->cfg.merge_window_ms);
}

/* Offers every subscriber of w the ServiceInfo of its clusters. */
static void fan_out(grpc_server *s, grpc_watch *w, const cairn_service_snapshot *snap)
{
    int64_t ref_time = grpc_push_ref_time(s);
    int64_t now = grpc_now_ms();
    for (size_t i = 0; i < w->count; i++) {
        grpc_sub *sub = w->subs[i];
        json_t *info = grpc_json_service_info(snap, &w->ref, sub->clusters, false, ref_time);
        char *text = info ? json_dumps(info, CAIRN_JSON_FLAGS) : NULL;
        json_decref(info);
        if (!text)
            continue;
        grpc_conn *c = sub->conn;
        int rc = grpc_pushq_offer(&c->pushq, w->ns, w->svc, sub->clusters, text, now);
        if (rc > 0) {
            cairn_counter_inc(s->metrics.pushes_dropped);
            c->closing = true; /* past max_pending_pushes: it reconnects and redoes */
        }
    }
    /* send, after the loop: a send may close a connection, which changes w->subs */
    grpc_conn **conns = calloc(w->count ? w->count : 1, sizeof *conns);
    size_t n = 0;
    for (size_t i = 0; conns && i < w->count; i++)
        conns[n++] = w->subs[i]->conn;
    for (size_t i = 0; i < n; i++) {
        grpc_conn *c = conns[i];
        if (!grpc_conn_find(s, c->serial) || c->closed)
            continue; /* closed by an earlier send of this loop */
        grpc_push_send_due(c, now);
        grpc_conn_rearm(c);
        grpc_conn_flush(c);
    }
    free(conns);
}

static void fetch_done(grpc_server *s, struct grpc_call *call)
{
    grpc_watch *w = call->ctx;
    bool ok = call->rc == CAIRN_OK && call->rep.code == CAIRN_OK;
    if (ok && w->count > 0)
        fan_out(s, w, &call->rep.snapshot); /* w->fetching still holds w */
    if (!ok)
        cairn_counter_inc(s->metrics.registry_errors);
    grpc_call_free(call);
    w->fetching = false;
    if ((w->again || !ok) && w->count > 0) {
        w->again = false;
        arm(s, w, grpc_now_ms(), ok ? s->cfg.merge_window_ms : s->cfg.retry_delay_ms);
    }
    watch_release(s, w);
}

void grpc_push_watch_timer(grpc_server *s, pusher_timer *t)
{
    grpc_watch *w = (grpc_watch *)((char *)t - offsetof(grpc_watch, timer));
    if (w->count == 0) {
        watch_release(s, w);
        return;
    }
    struct grpc_call *call = grpc_call_new(s, fetch_done);
    cairn_status st;
    if (!call || cairn_request_service_get(&call->req, w->ns, w->svc, &st) != CAIRN_OK) {
        grpc_call_free(call);
        grpc_timer_arm(s, &w->timer, grpc_now_ms() + s->cfg.retry_delay_ms);
        return;
    }
    call->ctx = w;
    w->fetching = true;
    grpc_call_start(call);
}

/* Every service with a subscriber, in as many SERVICES_IN_USE as it takes. */
static void report_in_use(grpc_server *s)
{
    size_t n = cairn_hashmap_size(s->watches), count = 0;
    if (n == 0)
        return;
    const char **ns = calloc(n, sizeof *ns), **svc = calloc(n, sizeof *svc);
    if (!ns || !svc) {
        cairn_counter_inc(s->metrics.in_use.failed); /* this report is lost */
    } else {
        cairn_hashmap_iter it;
        const void *k;
        void *v;
        cairn_hashmap_iter_init(&it, s->watches);
        while (count < n && cairn_hashmap_iter_next(&it, &k, NULL, &v)) {
            grpc_watch *w = v;
            if (w->count == 0)
                continue; /* only a fetch in flight holds it */
            ns[count] = w->ns;
            svc[count++] = w->svc;
        }
        cairn_in_use_send(s->registry, ns, svc, count, &s->metrics.in_use);
    }
    free(ns);
    free(svc);
}

void grpc_push_in_use_timer(grpc_server *s)
{
    report_in_use(s);
    grpc_timer_arm(s, &s->in_use_timer, grpc_now_ms() + s->cfg.in_use_period_ms);
}

/* {"headers":{},"requestId":"<id>","serviceInfo":<info>,"module":"naming"} around the stored
 * ServiceInfo text, framed. */
static int notify_message(uint64_t id, const char *info, uint8_t **framed, size_t *len)
{
    size_t n = strlen(info) + 96;
    char *json = malloc(n);
    if (!json)
        return -1;
    int m = snprintf(json, n, "{\"headers\":{},\"requestId\":\"%llu\",\"serviceInfo\":%s,"
                              "\"module\":\"naming\"}",
                     (unsigned long long)id, info);
    int rc = m > 0 && (size_t)m < n
                 ? grpc_payload_encode_framed("NotifySubscriberRequest", json, (size_t)m, framed,
                                              len)
                 : -1;
    free(json);
    return rc;
}

bool grpc_push_can_send(const grpc_conn *c)
{
    return c->setup && c->bidi && !c->closing && grpc_stream_backlog(c->bidi) < BIDI_BACKLOG_MAX;
}

void grpc_push_send_due(grpc_conn *c, int64_t now)
{
    grpc_server *s = c->srv;
    while (grpc_push_can_send(c)) {
        grpc_push *p = grpc_pushq_next(&c->pushq, now);
        if (!p)
            return;
        uint64_t id = ++c->next_request_id;
        uint8_t *framed;
        size_t len;
        if (notify_message(id, p->info, &framed, &len) != 0 ||
            grpc_stream_send(c->bidi, framed, len) != 0) {
            c->closing = true;
            return;
        }
        grpc_pushq_sent(p, id, now, s->cfg.ack_timeout_ms);
        cairn_counter_inc(s->metrics.pushes_sent);
    }
}

void grpc_push_free_all(grpc_server *s)
{
    cairn_hashmap_iter it;
    const void *k;
    void *v;
    cairn_hashmap_iter_init(&it, s->watches);
    while (cairn_hashmap_iter_next(&it, &k, NULL, &v)) {
        grpc_watch *w = v;
        cairn_hashmap_iter_remove(&it);
        for (size_t i = 0; i < w->count; i++) {
            free(w->subs[i]->clusters);
            free(w->subs[i]);
        }
        free(w->ns);
        free(w->svc);
        free(w->subs);
        free(w);
    }
}
