/* Following the registry (design §2: a role that starts late subscribes first, then takes a
 * snapshot, then applies events). The SUB socket is dialed before anything is read; each time it
 * connects to the registry's publisher — at start and after a registry restart, when events may
 * have been missed — the whole store is loaded again with SNAPSHOT_PAGE. Between loads, each
 * change event makes this thread fetch that service's snapshot (SERVICE_GET) and reconcile it;
 * events that arrive together are merged per service, and a snapshot already as new as the event
 * is not fetched again. A full load also runs every HC_RESYNC_MS, in case the publisher dropped
 * events for a slow subscriber (a missed event costs little meanwhile: a beat for an instance the
 * table lacks is looked up in the registry). */
#include <malloc.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "cairn_snapshot_pages.h"
#include "healthcheck.h"

#define HC_RESYNC_MS 300000
#define HC_PAGE_SIZE 256
#define HC_RECV_TIMEOUT_MS 100
#define HC_EVENT_BATCH 4096  /* events merged before their services are fetched */
#define HC_SUB_BUFFER 8192   /* messages the SUB socket queues before the publisher drops */
#define HC_RETRY_MIN_MS 100
#define HC_RETRY_MAX_MS 2000

struct hc_sync {
    healthcheck *hc;
    nng_socket sub;
    bool sub_open;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool reload; /* a (re)connection to the publisher happened */
    pthread_mutex_t mu;
    pthread_cond_t loaded_cond;
    bool loaded;
    uint32_t pass;
    int64_t next_full_ms;
    int64_t retry_ms;
    cairn_hashmap *pending; /* ns \0 svc → pending_event* */
};

typedef struct pending_event {
    char *ns;
    char *svc;
    uint64_t revision;
} pending_event;

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)ev;
    hc_sync *s = arg;
    atomic_store(&s->reload, true);
}

/* ---- full load ------------------------------------------------------------------------------ */

/* One full load's progress. */
typedef struct load {
    hc_sync *s;
    uint32_t pass;
    int64_t now;
    size_t services, instances;
} load;

/* hc_call, refused once the thread is asked to stop (the load then ends with that error). */
static cairn_err call_unless_stopping(void *arg, const cairn_request *req, cairn_reply *rep,
                                      cairn_status *st)
{
    load *l = arg;
    if (atomic_load(&l->s->stop))
        return cairn_fail(st, CAIRN_E_UNAVAILABLE, "stopping");
    return hc_call(l->s->hc, req, rep, st);
}

static cairn_err load_snapshot(void *arg, const cairn_service_snapshot *snap, bool *stop,
                               cairn_status *st)
{
    (void)stop, (void)st;
    load *l = arg;
    const cairn_service *svc = &snap->service;
    if (hc_table_apply(&l->s->hc->table, svc->namespace_id, svc->name, snap, l->now, l->pass) != 0)
        log_warn("out of memory tracking %s %s", svc->namespace_id, svc->name);
    l->services++;
    l->instances += snap->instance_count;
    return CAIRN_OK;
}

static cairn_err full_load(hc_sync *s, cairn_status *st)
{
    healthcheck *hc = s->hc;
    uint32_t pass = ++s->pass;
    if (pass == 0)
        pass = ++s->pass;
    load l = {.s = s, .pass = pass, .now = hc_now_ms()};
    cairn_err err = cairn_snapshot_pages(NULL, HC_PAGE_SIZE, call_unless_stopping, &l,
                                         load_snapshot, &l, st);
    if (err != CAIRN_OK)
        return err;
    /* Only a complete pass may drop what it did not see. */
    hc_table_end_pass(&hc->table, pass);
    /* The pages were large and short-lived: give their memory back. */
    malloc_trim(0);
    log_info("loaded %zu services with %zu instances from the registry", l.services, l.instances);
    return CAIRN_OK;
}

/* ---- events --------------------------------------------------------------------------------- */

static void pending_clear(hc_sync *s)
{
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, s->pending);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        pending_event *p = v;
        cairn_hashmap_iter_remove(&it);
        free(p->ns);
        free(p->svc);
        free(p);
    }
}

static void pending_add(hc_sync *s, const cairn_change_event *ev)
{
    size_t a = strlen(ev->namespace_id), b = strlen(ev->service);
    char *key = malloc(a + b + 1);
    if (!key)
        return;
    memcpy(key, ev->namespace_id, a);
    key[a] = '\0';
    memcpy(key + a + 1, ev->service, b);
    pending_event *p = cairn_hashmap_get(s->pending, key, a + 1 + b);
    if (p) {
        if (ev->revision > p->revision)
            p->revision = ev->revision;
    } else if ((p = calloc(1, sizeof *p))) {
        p->ns = strdup(ev->namespace_id);
        p->svc = strdup(ev->service);
        p->revision = ev->revision;
        if (!p->ns || !p->svc || cairn_hashmap_put(s->pending, key, a + 1 + b, p, NULL) != 0) {
            free(p->ns);
            free(p->svc);
            free(p);
            atomic_store(&s->reload, true); /* lost track of a change: reload everything */
        }
    }
    free(key);
}

/* Reads one event message; false when none arrived (or the socket is closing). */
static bool receive_event(hc_sync *s, int flags)
{
    nng_msg *msg;
    int rv = nng_recvmsg(s->sub, &msg, flags);
    if (rv != 0)
        return false;
    cairn_change_event ev;
    cairn_status st;
    if (cairn_event_decode(nng_msg_body(msg), nng_msg_len(msg), &ev, &st) == CAIRN_OK) {
        pending_add(s, &ev);
        cairn_event_free(&ev);
    } else {
        log_warn("undecodable change event: %s", st.message);
    }
    nng_msg_free(msg);
    return true;
}

static void apply_pending(hc_sync *s)
{
    healthcheck *hc = s->hc;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, s->pending);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        pending_event *p = v;
        cairn_hashmap_iter_remove(&it);
        bool failed = false;
        if (!atomic_load(&s->stop) && !atomic_load(&s->reload) &&
            hc_table_revision(&hc->table, p->ns, p->svc) < p->revision) {
            cairn_reply rep;
            cairn_status st;
            if (hc_call_service_get(hc, p->ns, p->svc, &rep, &st) == CAIRN_OK)
                failed = hc_table_apply(&hc->table, p->ns, p->svc, &rep.snapshot, hc_now_ms(),
                                        0) != 0;
            else
                failed = true;
            cairn_reply_free(&rep);
        }
        /* A change we could not follow is caught up by a full load. */
        if (failed)
            atomic_store(&s->reload, true);
        free(p->ns);
        free(p->svc);
        free(p);
    }
}

/* ---- the thread ----------------------------------------------------------------------------- */

static void mark_loaded(hc_sync *s)
{
    pthread_mutex_lock(&s->mu);
    s->loaded = true;
    pthread_cond_broadcast(&s->loaded_cond);
    pthread_mutex_unlock(&s->mu);
}

static void *sync_main(void *arg)
{
    hc_sync *s = arg;
    int64_t retry_at = 0;
    while (!atomic_load(&s->stop)) {
        int64_t now = hc_now_ms();
        if (s->loaded && now >= s->next_full_ms)
            atomic_store(&s->reload, true);
        if (atomic_load(&s->reload) && now >= retry_at) {
            atomic_store(&s->reload, false);
            pending_clear(s); /* the load covers them */
            cairn_status st;
            cairn_status_clear(&st);
            if (full_load(s, &st) == CAIRN_OK) {
                s->retry_ms = HC_RETRY_MIN_MS;
                s->next_full_ms = hc_now_ms() + HC_RESYNC_MS;
                if (!s->loaded)
                    mark_loaded(s);
            } else if (!atomic_load(&s->stop)) {
                atomic_store(&s->reload, true);
                retry_at = hc_now_ms() + s->retry_ms;
                log_warn("loading the registry's services failed (retry in %lld ms): %s",
                         (long long)s->retry_ms, st.message);
                s->retry_ms = s->retry_ms * 2 > HC_RETRY_MAX_MS ? HC_RETRY_MAX_MS
                                                                : s->retry_ms * 2;
            }
        }
        /* Events queue in the socket during a load and are applied after it. */
        if (!receive_event(s, 0))
            continue;
        for (int i = 1; i < HC_EVENT_BATCH && receive_event(s, NNG_FLAG_NONBLOCK); i++) {
        }
        if (s->loaded)
            apply_pending(s);
        else
            pending_clear(s); /* the first load is still to come and covers them */
    }
    return NULL;
}

cairn_err hc_sync_start(healthcheck *hc, cairn_status *st)
{
    hc_sync *s = calloc(1, sizeof *s);
    if (!s || !(s->pending = cairn_hashmap_new(64))) {
        free(s);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    s->hc = hc;
    s->retry_ms = HC_RETRY_MIN_MS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->loaded_cond, NULL);
    hc->sync = s;
    char url[PATH_MAX + 64];
    if (cairn_endpoint_url(hc->run_dir, CAIRN_EP_REGISTRY_EVENTS, url, sizeof url) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   hc->run_dir);
        goto fail;
    }
    int rv = nng_sub0_open(&s->sub);
    if (rv != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "cannot open the event socket: %s", nng_strerror(rv));
        goto fail;
    }
    s->sub_open = true;
    /* Subscribe first: the load that the connection triggers must not miss a change made while
     * it runs. */
    if ((rv = nng_socket_set(s->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
        (rv = nng_socket_set_ms(s->sub, NNG_OPT_RECVTIMEO, HC_RECV_TIMEOUT_MS)) != 0 ||
        (rv = nng_socket_set_int(s->sub, NNG_OPT_RECVBUF, HC_SUB_BUFFER)) != 0 ||
        (rv = nng_socket_set_size(s->sub, NNG_OPT_RECVMAXSZ, 1 << 20)) != 0 ||
        (rv = nng_socket_set_ms(s->sub, NNG_OPT_RECONNMINT, 50)) != 0 ||
        (rv = nng_socket_set_ms(s->sub, NNG_OPT_RECONNMAXT, 1000)) != 0 ||
        (rv = nng_pipe_notify(s->sub, NNG_PIPE_EV_ADD_POST, on_pipe, s)) != 0 ||
        (rv = nng_dial(s->sub, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "cannot subscribe to %s: %s", url, nng_strerror(rv));
        goto fail;
    }
    if ((rv = pthread_create(&s->thread, NULL, sync_main, s)) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the event thread: %s", strerror(rv));
        goto fail;
    }
    s->thread_started = true;
    return CAIRN_OK;
fail:
    hc_sync_stop(hc);
    return st->code;
}

bool hc_sync_wait_loaded(healthcheck *hc, int timeout_ms)
{
    hc_sync *s = hc->sync;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->loaded &&
           pthread_cond_timedwait(&s->loaded_cond, &s->mu, &deadline) == 0) {
    }
    bool loaded = s->loaded;
    pthread_mutex_unlock(&s->mu);
    return loaded;
}

void hc_sync_stop(healthcheck *hc)
{
    hc_sync *s = hc->sync;
    if (!s)
        return;
    atomic_store(&s->stop, true);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    if (s->sub_open)
        nng_close(s->sub);
    pending_clear(s);
    cairn_hashmap_free(s->pending);
    pthread_cond_destroy(&s->loaded_cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
    hc->sync = NULL;
}
