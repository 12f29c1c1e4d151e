/* Pending pushes: sending, rate limiting, acks, retransmits. */
#include "pusher_delivery.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "pusher_ack.h"

/* How soon a send that met a full socket buffer is tried again. */
#define BUSY_RETRY_MS 5

int pusher_delivery_init(pusher *p)
{
    p->pending = cairn_hashmap_new(256);
    return p->pending ? 0 : -1;
}

static void pending_key(unsigned char *key, const pusher_addr *dest, uint64_t ref_time)
{
    memcpy(key, dest->key, PUSHER_ADDR_KEY_LEN);
    for (int i = 0; i < 8; i++)
        key[PUSHER_ADDR_KEY_LEN + i] = (unsigned char)(ref_time >> (8 * i));
}

static void update_gauge(pusher *p)
{
    cairn_gauge_set(p->metrics.pending, (double)cairn_hashmap_size(p->pending));
}

/* Removes and frees e (it must be in the table). */
static void finish(pusher *p, pusher_pending *e)
{
    if (e->queued) /* superseded or acked before it went out: it never goes */
        pusher_send_batch_drop(&p->sends, e);
    pusher_timers_disarm(&p->timers, &e->timer);
    cairn_hashmap_remove(p->pending, e->key, sizeof e->key);
    if (e->sub && e->sub->pending == e)
        e->sub->pending = NULL;
    pusher_datagram_unref(e->datagram);
    free(e);
    update_gauge(p);
}

void pusher_delivery_destroy(pusher *p)
{
    p->sends.count = 0; /* unsent: the entries go below */
    if (!p->pending)
        return;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, p->pending);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        pusher_pending *e = v;
        cairn_hashmap_iter_remove(&it);
        pusher_timers_disarm(&p->timers, &e->timer);
        if (e->sub)
            e->sub->pending = NULL;
        pusher_datagram_unref(e->datagram);
        free(e);
    }
    cairn_hashmap_free(p->pending);
    p->pending = NULL;
}

static void arm(pusher *p, pusher_pending *e, int64_t due)
{
    if (pusher_timers_arm(&p->timers, &e->timer, due) != 0) {
        /* Without a timer the entry would never be retried nor freed. */
        log_error("out of memory arming a push timer; push to subscriber dropped");
        cairn_counter_inc(p->metrics.failed);
        finish(p, e);
    }
}

/* One transmission of e, queued for the next flush, or its deferral. */
static void transmit(pusher *p, pusher_pending *e, int64_t now)
{
    int64_t retry_at;
    if (!pusher_rate_take(p->rate, &e->dest, now, &retry_at)) {
        if (!e->limited) {
            e->limited = true;
            cairn_counter_inc(p->metrics.rate_limited);
        }
        e->deferred = true;
        arm(p, e, retry_at);
        return;
    }
    if (p->sends.count == PUSHER_SEND_BATCH)
        pusher_delivery_flush(p);
    const pusher_datagram *d = e->datagram;
    e->queued = pusher_send_batch_add(&p->sends, &e->dest, d->bytes, d->len, e);
}

/* The outcome of a queued transmission (pusher_send_batch_flush). */
static void transmitted(void *arg, void *tag, int err)
{
    pusher *p = arg;
    pusher_pending *e = tag;
    e->queued = false;
    int64_t now = pusher_now_ms();
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        cairn_counter_inc(p->metrics.send_deferred);
        e->deferred = true;
        arm(p, e, now + BUSY_RETRY_MS);
        return;
    }
    if (err) {
        char to[80];
        pusher_addr_text(&e->dest, to, sizeof to);
        log_debug("push to %s failed: %s", to, strerror(err));
        cairn_counter_inc(p->metrics.failed);
        finish(p, e);
        return;
    }
    const pusher_datagram *d = e->datagram;
    e->limited = false;
    e->deferred = false;
    e->sent_us = pusher_now_us();
    if (e->transmissions++ == 0) {
        cairn_counter_inc(p->metrics.sent);
        double lag = (double)(pusher_wall_us() - e->change_at_ms * 1000) / 1e6;
        cairn_histogram_observe(p->metrics.change_to_send_seconds, lag > 0 ? lag : 0);
    } else {
        cairn_counter_inc(p->metrics.retried);
    }
    cairn_counter_add(p->metrics.raw_bytes, d->raw_len);
    cairn_counter_add(p->metrics.sent_bytes, d->len);
    if (d->gzip)
        cairn_counter_inc(p->metrics.gzip);
    arm(p, e, now + p->cfg.ack_timeout_ms);
}

void pusher_delivery_flush(pusher *p)
{
    if (p->sends.count)
        pusher_send_batch_flush(&p->udp, &p->sends, transmitted, p);
}

void pusher_delivery_send(pusher *p, pusher_sub *sub, pusher_datagram *d, int64_t change_at_ms,
                          int64_t now)
{
    if (sub->pending) {
        cairn_counter_inc(p->metrics.superseded);
        finish(p, sub->pending);
    }
    unsigned char key[PUSHER_ADDR_KEY_LEN + 8];
    pending_key(key, &sub->addr, d->ref_time);
    if (cairn_hashmap_get(p->pending, key, sizeof key))
        return; /* the same bytes already go to this address in this round */
    pusher_pending *e = calloc(1, sizeof *e);
    if (!e || cairn_hashmap_put(p->pending, key, sizeof key, e, NULL) != 0) {
        free(e);
        log_error("out of memory: push to %s:%d dropped", sub->ip, (int)sub->port);
        cairn_counter_inc(p->metrics.failed);
        return;
    }
    memcpy(e->key, key, sizeof key);
    pusher_timer_init(&e->timer, PUSHER_TIMER_PENDING);
    e->dest = sub->addr;
    e->datagram = pusher_datagram_ref(d);
    e->sub = sub;
    e->change_at_ms = change_at_ms;
    sub->pending = e;
    update_gauge(p);
    transmit(p, e, now);
}

void pusher_delivery_on_timer(pusher *p, pusher_timer *t, int64_t now)
{
    pusher_pending *e = (pusher_pending *)((char *)t - offsetof(pusher_pending, timer));
    if (e->deferred) {
        transmit(p, e, now); /* a send that had to wait */
        return;
    }
    /* The ack deadline passed: transmissions - 1 retries were made already. */
    if (e->transmissions > p->cfg.max_retries) {
        char to[80];
        pusher_addr_text(&e->dest, to, sizeof to);
        log_debug("push %llu to %s unacknowledged after %u transmissions: failed",
                  (unsigned long long)e->datagram->ref_time, to, e->transmissions);
        cairn_counter_inc(p->metrics.failed);
        finish(p, e);
        return;
    }
    transmit(p, e, now);
}

void pusher_delivery_on_datagram(pusher *p, const void *buf, size_t len, const pusher_addr *from)
{
    uint64_t ref_time;
    if (!pusher_ack_parse(buf, len, &ref_time)) {
        cairn_counter_inc(p->metrics.garbage);
        return;
    }
    unsigned char key[PUSHER_ADDR_KEY_LEN + 8];
    pending_key(key, from, ref_time);
    pusher_pending *e = cairn_hashmap_get(p->pending, key, sizeof key);
    /* An ack for a send still deferred cannot be for it (it echoes an earlier transmission of
     * this entry only if one happened). */
    if (!e || e->transmissions == 0) {
        cairn_counter_inc(p->metrics.unmatched);
        return;
    }
    double seconds = (double)(pusher_now_us() - e->sent_us) / 1e6;
    cairn_histogram_observe(p->metrics.ack_seconds, seconds > 0 ? seconds : 0);
    cairn_counter_inc(p->metrics.acked);
    finish(p, e);
}

void pusher_delivery_forget_sub(void *arg, pusher_sub *sub)
{
    (void)arg;
    if (sub->pending)
        sub->pending->sub = NULL; /* the push in flight completes or fails on its own */
    sub->pending = NULL;
}
