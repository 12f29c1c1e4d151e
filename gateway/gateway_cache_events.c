/* The list cache's subscription to the registry's change events. */
#include "gateway_cache_events.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "cairn_msg.h"

/* Events queued in the socket before the thread takes them. SUB drops what overflows (events are
 * then lost without a reconnect: the cache's max age bounds how long that can go unnoticed), so
 * this is nng's maximum, and the thread does nothing but invalidate. */
#define EVENT_QUEUE 8192
#define MAX_EVENT_BYTES (64 * 1024)

struct gateway_cache_events {
    nng_socket sock;
    bool open;
    pthread_t thread;
    bool started;
    gateway_cache *cache;
    pthread_mutex_t pipe_lock; /* callbacks may overlap (a new pipe before the old is gone) */
    int pipes; /* connections to the registry's publisher: 0 or 1, briefly 2 */
    atomic_bool stopping;
};

/* Runs on an nng thread. Either way events may have been missed: flush (set_live does). */
static void on_pipe(nng_pipe pipe, nng_pipe_ev what, void *arg)
{
    (void)pipe;
    gateway_cache_events *ev = arg;
    /* Counting and setting under one lock, so that the last word matches the last count. */
    pthread_mutex_lock(&ev->pipe_lock);
    ev->pipes += what == NNG_PIPE_EV_ADD_POST ? 1 : -1;
    int now = ev->pipes;
    gateway_cache_set_live(ev->cache, now > 0);
    pthread_mutex_unlock(&ev->pipe_lock);
    if (atomic_load(&ev->stopping))
        return;
    if (what == NNG_PIPE_EV_ADD_POST)
        log_debug("list cache: following the registry's change events");
    else
        log_info("list cache: lost the registry's change events%s",
                 now > 0 ? "" : "; serving lists uncached until they are back");
}

static void *events_main(void *arg)
{
    gateway_cache_events *ev = arg;
    for (;;) {
        char *buf = NULL;
        size_t len = 0;
        int rv = nng_recv(ev->sock, &buf, &len, NNG_FLAG_ALLOC);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0) {
            log_warn("list cache: receiving a change event: %s", nng_strerror(rv));
            continue;
        }
        cairn_change_event e;
        cairn_status st;
        if (cairn_event_decode(buf, len, &e, &st) == CAIRN_OK) {
            gateway_cache_invalidate(ev->cache, e.namespace_id, e.service, e.revision);
            cairn_event_free(&e);
        } else {
            /* Which service changed is unknown: nothing cached can be trusted. */
            log_warn("list cache: undecodable change event (%s); flushing", st.message);
            gateway_cache_flush(ev->cache);
        }
        nng_free(buf, len);
    }
    return NULL;
}

gateway_cache_events *gateway_cache_events_start(const char *url, gateway_cache *cache,
                                                 cairn_status *st)
{
    gateway_cache_events *ev = calloc(1, sizeof *ev);
    if (!ev) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    ev->cache = cache;
    pthread_mutex_init(&ev->pipe_lock, NULL);
    atomic_init(&ev->stopping, false);
    int rv = nng_sub0_open(&ev->sock);
    if (rv != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "list cache: cannot open a SUB socket: %s",
                   nng_strerror(rv));
        free(ev);
        return NULL;
    }
    ev->open = true;
    if ((rv = nng_socket_set(ev->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
        (rv = nng_socket_set_int(ev->sock, NNG_OPT_RECVBUF, EVENT_QUEUE)) != 0 ||
        (rv = nng_socket_set_size(ev->sock, NNG_OPT_RECVMAXSZ, MAX_EVENT_BYTES)) != 0 ||
        (rv = nng_socket_set_ms(ev->sock, NNG_OPT_RECONNMINT, 50)) != 0 ||
        (rv = nng_socket_set_ms(ev->sock, NNG_OPT_RECONNMAXT, 1000)) != 0 ||
        (rv = nng_pipe_notify(ev->sock, NNG_PIPE_EV_ADD_POST, on_pipe, ev)) != 0 ||
        (rv = nng_pipe_notify(ev->sock, NNG_PIPE_EV_REM_POST, on_pipe, ev)) != 0 ||
        (rv = nng_dial(ev->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "list cache: cannot subscribe to %s: %s", url,
                   nng_strerror(rv));
        gateway_cache_events_stop(ev);
        return NULL;
    }
    if ((rv = pthread_create(&ev->thread, NULL, events_main, ev)) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "list cache: cannot start the event thread: %s",
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
    if (ev->open)
        nng_close(ev->sock);
    if (ev->started)
        pthread_join(ev->thread, NULL);
    pthread_mutex_destroy(&ev->pipe_lock);
    free(ev);
}
