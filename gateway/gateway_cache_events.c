/* The gateway caches' subscription to the registry's change events. */
#include "gateway_cache_events.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_follow.h"
#include "cairn_log.h"
#include "cairn_msg.h"
#include "cairn_sub.h"

/* Events queue in the socket (CAIRN_SUB_QUEUE) before the thread takes them, and the thread does
 * nothing but invalidate. Should the publisher still drop some, the chain of revisions shows the
 * gap (at the latest with the registry's next tick) and the whole cache is flushed. */
struct gateway_cache_events {
    cairn_sub sub;
    cairn_follow follow; /* events thread only */
    atomic_bool reconnected;
    pthread_t thread;
    bool started;
    cairn_body_cache *caches[GATEWAY_CACHE_EVENTS_MAX];
    size_t ncaches;
    atomic_bool stopping;
};

static void flush_all(gateway_cache_events *ev)
{
    for (size_t i = 0; i < ev->ncaches; i++)
        cairn_body_cache_flush(ev->caches[i]);
}

/* Runs on an nng thread. Either way events may have been missed: flush (set_live does). */
static void on_pipe(void *arg, bool connected)
{
    gateway_cache_events *ev = arg;
    atomic_store(&ev->reconnected, true);
    for (size_t i = 0; i < ev->ncaches; i++) /* the calls are serialised (cairn_sub.h) */
        cairn_body_cache_set_live(ev->caches[i], connected);
    if (atomic_load(&ev->stopping))
        return;
    if (connected)
        log_debug("gateway caches: following the registry's change events");
    else
        log_info("gateway caches: lost the registry's change events; serving lists and beats "
                 "uncached until they are back");
}

static void take_event(void *arg, const char *buf, size_t len)
{
    gateway_cache_events *ev = arg;
    cairn_change_event e;
    cairn_status st;
    /* The event's snapshot, if any, stays undecoded bytes in buf: invalidating needs only
     * the service and its revision. */
    if (cairn_event_decode(buf, len, &e, &st) != CAIRN_OK) {
        /* Which service changed is unknown: nothing cached can be trusted. */
        log_warn("gateway caches: undecodable change event (%s); flushing", st.message);
        flush_all(ev);
        return;
    }
    switch (cairn_follow_next(&ev->follow, e.prev_revision, e.revision)) {
    case CAIRN_FOLLOW_APPLY:
        if (e.kind != CAIRN_CHANGE_TICK)
            for (size_t i = 0; i < ev->ncaches; i++)
                cairn_body_cache_invalidate(ev->caches[i], e.namespace_id, e.service,
                                            e.revision);
        break;
    case CAIRN_FOLLOW_STALE:
        break;
    case CAIRN_FOLLOW_GAP:
        /* Which services changed in the gap is unknown: drop everything cached. */
        flush_all(ev);
        cairn_follow_synced(&ev->follow, e.revision);
        break;
    }
    cairn_event_free(&e);
}

static void *events_main(void *arg)
{
    gateway_cache_events *ev = arg;
    for (;;) {
        char *buf = NULL;
        size_t len = 0;
        int rv = nng_recv(ev->sub.sock, &buf, &len, NNG_FLAG_ALLOC);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0) {
            log_warn("gateway caches: receiving a change event: %s", nng_strerror(rv));
            continue;
        }
        if (atomic_exchange(&ev->reconnected, false))
            cairn_follow_lost(&ev->follow); /* set_live flushed: start over from here */
        /* One commit's events back to back. */
        cairn_status st;
        if (cairn_event_each(buf, len, take_event, ev, &st) != CAIRN_OK) {
            log_warn("gateway caches: undecodable change event (%s); flushing", st.message);
            flush_all(ev);
        }
        nng_free(buf, len);
    }
    return NULL;
}

gateway_cache_events *gateway_cache_events_start(const char *url, cairn_body_cache *const *caches,
                                                 size_t n, cairn_status *st)
{
    gateway_cache_events *ev = calloc(1, sizeof *ev);
    if (!ev) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n && ev->ncaches < GATEWAY_CACHE_EVENTS_MAX; i++)
        if (caches[i])
            ev->caches[ev->ncaches++] = caches[i];
    atomic_init(&ev->stopping, false);
    cairn_follow_init(&ev->follow);
    atomic_init(&ev->reconnected, false);
    if (cairn_sub_open(&ev->sub, url, CAIRN_EVENT_MAX_BYTES, 0, on_pipe, ev, st) != CAIRN_OK) {
        free(ev);
        return NULL;
    }
    int rv;
    if ((rv = pthread_create(&ev->thread, NULL, events_main, ev)) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "gateway caches: cannot start the event thread: %s",
                   strerror(rv));
        gateway_cache_events_stop(ev);
        return NULL;
    }
    ev->started = true;
    return ev;
}

void gateway_cache_events_stop(gateway_cache_events *ev)
{
    if (!ev)
        return;
    /* Closing wakes the thread (NNG_ECLOSED) and ends the pipe callbacks. */
    atomic_store(&ev->stopping, true);
    cairn_sub_close(&ev->sub);
    if (ev->started)
        pthread_join(ev->thread, NULL);
    free(ev);
}
