/* Push rounds: coalescing changes over the merge window, the service snapshot (the one the newest
 * change event carried, else read from the registry), one rendering and one datagram per
 * distinct (clusters, agent class), and the sends. */
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "cairn_render.h"
#include "cairn_requests.h"
#include "pusher.h"
#include "pusher_delivery.h"
#include "pusher_payload.h"

/* While the registry does not answer, pushes wait this long before the next snapshot attempt,
 * so an outage costs the loop one registry timeout per period, not one per service. */
#define REGISTRY_RETRY_MS 1000
/* During a fan-out, acks are read after every this many sends (see pusher_drain_udp). */
#define ACK_DRAIN_EVERY 128

void pusher_push_schedule(pusher *p, pusher_service *svc, int64_t change_at_ms, int64_t now)
{
    if (pusher_timer_armed(&svc->timer)) {
        /* Joins the scheduled push; its latency counts from the oldest change. */
        if (change_at_ms < svc->change_at_ms)
            svc->change_at_ms = change_at_ms;
        return;
    }
    svc->change_at_ms = change_at_ms;
    svc->timer.kind = PUSHER_TIMER_PUSH;
    if (pusher_timers_arm(&p->timers, &svc->timer, now + p->cfg.merge_window_ms) != 0) {
        log_error("out of memory scheduling a push of %s; pushing now", svc->name);
        pusher_push_run(p, svc, now);
    }
}

static void retry_later(pusher *p, pusher_service *svc)
{
    if (pusher_timers_arm(&p->timers, &svc->timer, p->registry_retry_at) != 0) {
        log_error("out of memory rescheduling the push of %s; its subscribers poll", svc->name);
        pusher_subs_release_service(&p->subs, svc);
    }
}

/* The snapshot of svc: CAIRN_OK with *snap NULL when the service does not exist (its subscribers
 * get the empty list), an error when the registry did not answer. */
static cairn_err fetch(pusher *p, const pusher_service *svc, cairn_reply *rep,
                       const cairn_service_snapshot **snap)
{
    /* What the newest change event said, when it said it: no registry round trip. */
    cairn_reply_init(rep);
    if (svc->removed) {
        *snap = NULL;
        cairn_counter_inc(p->metrics.snapshot_from_event);
        return CAIRN_OK;
    }
    if (svc->snapshot) {
        cairn_status st;
        if (cairn_snapshot_decode(svc->snapshot, svc->snapshot_len, &rep->snapshot, &st) ==
            CAIRN_OK) {
            rep->has_snapshot = true;
            *snap = rep->snapshot.found ? &rep->snapshot : NULL;
            cairn_counter_inc(p->metrics.snapshot_from_event);
            return CAIRN_OK;
        }
        log_warn("undecodable snapshot in the change event of %s (%s); reading it instead",
                 svc->name, st.message);
    }
    cairn_request rq;
    cairn_status st;
    cairn_reply_init(rep);
    cairn_err err = cairn_request_service_get(&rq, svc->namespace_id, svc->name, &st);
    if (err == CAIRN_OK)
        err = cairn_rpc_call(p->registry, &rq, rep, &st);
    cairn_request_free(&rq);
    if (err == CAIRN_OK && rep->code != CAIRN_OK && rep->code != CAIRN_E_NOT_FOUND)
        err = cairn_fail(&st, rep->code, "%s", rep->message ? rep->message : "");
    if (err != CAIRN_OK) {
        cairn_counter_inc(p->metrics.registry_errors);
        if (!p->registry_failing)
            log_warn("no snapshot of %s from the registry (%s): pushes wait for it",
                     svc->name, st.message);
        p->registry_failing = true;
        return err;
    }
    cairn_counter_inc(p->metrics.snapshot_from_registry);
    if (p->registry_failing)
        log_info("the registry answers again: pushes resume");
    p->registry_failing = false;
    *snap = rep->code == CAIRN_OK && rep->has_snapshot && rep->snapshot.found ? &rep->snapshot
                                                                                : NULL;
    return CAIRN_OK;
}

/* Subscribers in group order: agent class, then clusters filter. */
static int by_group(const void *a, const void *b)
{
    const pusher_sub *x = *(pusher_sub *const *)a, *y = *(pusher_sub *const *)b;
    if (x->grouped_names != y->grouped_names)
        return x->grouped_names ? 1 : -1;
    return strcmp(x->clusters, y->clusters);
}

/* Renders and sends to subs[0..n), which share clusters and agent class. */
static void push_group(pusher *p, const pusher_service *svc, const cairn_service_snapshot *snap,
                       pusher_sub **subs, size_t n, int64_t change_at_ms, int64_t now)
{
    cairn_list_query q = {
        .service = svc->name,
        .clusters = subs[0]->clusters,
        .env = "",
        .healthy_only = false, /* pushes always carry every host (§12.3) */
        .grouped_names = subs[0]->grouped_names,
        .cache_millis = CAIRN_PUSH_CACHE_MILLIS,
    };
    size_t doc_len;
    char *doc = cairn_render_list(snap, &q, &doc_len);
    if (!doc) {
        log_error("out of memory rendering the push of %s", svc->name);
        cairn_counter_add(p->metrics.failed, n);
        return;
    }
    pusher_datagram *d = NULL;
    size_t raw_len;
    cairn_err err = pusher_datagram_build(doc, pusher_next_ref_time(&p->last_ref_time),
                                          p->cfg.gzip_threshold, p->cfg.max_datagram_bytes, &d,
                                          &raw_len);
    free(doc);
    if (err == CAIRN_E_LIMIT) {
        cairn_counter_inc(p->metrics.oversize);
        log_warn("push of %s (clusters \"%s\") skipped: %zu bytes exceed push.max_datagram_bytes "
                 "%zu even gzipped; its %zu subscriber(s) poll",
                 svc->name, q.clusters, raw_len, p->cfg.max_datagram_bytes, n);
        return;
    }
    if (err != CAIRN_OK) {
        log_error("cannot build the push of %s: %s", svc->name, cairn_err_name(err));
        cairn_counter_add(p->metrics.failed, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pusher_delivery_send(p, subs[i], d, change_at_ms, now);
        if (i % ACK_DRAIN_EVERY == ACK_DRAIN_EVERY - 1) {
            pusher_delivery_flush(p);
            pusher_drain_udp(p);
        }
    }
    pusher_delivery_flush(p);
    pusher_datagram_unref(d);
}

void pusher_push_run(pusher *p, pusher_service *svc, int64_t now)
{
    size_t zombies = pusher_subs_expire_service(&p->subs, svc, now, p->cfg.subscriber_ttl_ms);
    if (zombies) {
        cairn_counter_add(p->metrics.zombies, zombies);
        cairn_gauge_set(p->metrics.subscribers, (double)p->subs.total);
    }
    if (svc->count == 0) {
        pusher_subs_release_service(&p->subs, svc);
        return;
    }
    /* Only a push that must read the service waits for a failing registry. */
    if (now < p->registry_retry_at && !svc->snapshot && !svc->removed) {
        retry_later(p, svc);
        return;
    }
    cairn_reply rep;
    const cairn_service_snapshot *snap = NULL;
    if (!svc->snapshot && !svc->removed)
        pusher_delivery_flush(p); /* queued sends do not wait for a registry read */
    if (fetch(p, svc, &rep, &snap) != CAIRN_OK) {
        cairn_reply_free(&rep);
        p->registry_retry_at = pusher_now_ms() + REGISTRY_RETRY_MS;
        retry_later(p, svc);
        return;
    }
    pusher_service_forget(svc); /* used: the next change brings its own */
    now = pusher_now_ms(); /* the call took time */
    cairn_counter_inc(p->metrics.rounds);

    pusher_sub **subs = malloc(svc->count * sizeof *subs);
    if (!subs) {
        log_error("out of memory pushing %s", svc->name);
        cairn_reply_free(&rep);
        return;
    }
    size_t n = 0;
    for (pusher_sub *s = svc->subs; s; s = s->next)
        subs[n++] = s;
    qsort(subs, n, sizeof *subs, by_group);
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && by_group(&subs[start], &subs[end]) == 0)
            end++;
        push_group(p, svc, snap, subs + start, end - start, svc->change_at_ms, now);
        start = end;
    }
    free(subs);
    cairn_reply_free(&rep);
}
