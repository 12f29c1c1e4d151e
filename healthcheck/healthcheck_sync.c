/* Following the registry (design §2: a role that starts late subscribes first, then takes a
 * snapshot, then applies events). The SUB socket is dialed before anything is read; each time it
 * connects to the registry's publisher — at start and after a registry restart, when events may
 * have been missed — the whole store is loaded again with SNAPSHOT_PAGE. Between loads, each
 * change event brings its service up to date from what the event carries: a delta (the
 * instances the commit wrote and removed) is applied to the table's state, a whole snapshot
 * replaces it, and without either (the service is over registry.event_snapshot_max_bytes) the
 * service is read with SERVICE_GET; a removal event drops the service. Events that arrive
 * together are merged per service (a snapshot, a read or a removal, then the deltas after it),
 * and a table already as new as the newest event is left alone. Events are
 * chained by revision (cairn_follow.h): the first page of a load says which revision it covers,
 * and an event that does not follow on (one was dropped, or the registry's tick is ahead)
 * triggers a full load. A full load also runs every HC_RESYNC_MS as a safety net. */
#include <malloc.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_endpoints.h"
#include "cairn_follow.h"
#include "cairn_log.h"
#include "cairn_snapshot_pages.h"
#include "cairn_sub.h"
#include "healthcheck.h"

#define HC_RESYNC_MS 300000
#define HC_PAGE_SIZE 256
#define HC_RECV_TIMEOUT_MS 100
#define HC_EVENT_BATCH 4096  /* event messages merged before their services are fetched */
#define HC_RETRY_MIN_MS 100
#define HC_RETRY_MAX_MS 2000

struct hc_sync {
    healthcheck *hc;
    cairn_sub sub;
    cairn_follow follow;     /* sync thread only */
    uint64_t load_revision;  /* the revision the running load covers (its first page's) */
    atomic_bool connected;   /* to the registry's publisher */
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

/* What the deltas of a pending service apply to. */
typedef enum pending_base {
    BASE_TABLE = 0, /* the table's own state of the service */
    BASE_SNAPSHOT,  /* the whole snapshot an event carried */
    BASE_READ,      /* the service as the registry has it now (SERVICE_GET) */
    BASE_REMOVED,   /* nothing: the service was removed */
} pending_base;

/* A delta copied out of its event: the partial snapshot and the removed keys (one block). */
typedef struct pending_delta {
    char *bytes;
    size_t len;
    cairn_bytes *gone; /* gone_count slices of keys (cairn_bytes_copy_all: one allocation) */
    uint32_t gone_count;
} pending_delta;

/* The changes of one service among the events received together: a base, then the deltas of
 * the events after it, in order. */
typedef struct pending_event {
    char *ns;
    char *svc;
    uint64_t revision; /* the newest event's */
    pending_base base;
    char *snapshot; /* BASE_SNAPSHOT: a copy of the event's encoded snapshot */
    size_t snapshot_len;
    pending_delta *deltas;
    uint32_t delta_count, delta_cap;
} pending_event;

static void pending_reset(pending_event *p, pending_base base)
{
    free(p->snapshot);
    p->snapshot = NULL;
    p->snapshot_len = 0;
    for (uint32_t i = 0; i < p->delta_count; i++) {
        free(p->deltas[i].bytes);
        free(p->deltas[i].gone);
    }
    p->delta_count = 0;
    p->base = base;
}

static void pending_free(pending_event *p)
{
    pending_reset(p, BASE_TABLE);
    free(p->deltas);
    free(p->ns);
    free(p->svc);
    free(p);
}

/* Appends ev's delta to p; false when out of memory. */
static bool delta_append(pending_event *p, const cairn_change_event *ev)
{
    if (p->delta_count == p->delta_cap) {
        uint32_t cap = p->delta_cap ? p->delta_cap * 2 : 4;
        pending_delta *grown = realloc(p->deltas, cap * sizeof *grown);
        if (!grown)
            return false;
        p->deltas = grown;
        p->delta_cap = cap;
    }
    pending_delta d = {.len = ev->delta_len, .gone_count = ev->gone_count};
    d.bytes = malloc(ev->delta_len ? ev->delta_len : 1);
    d.gone = cairn_bytes_copy_all(ev->gone, ev->gone_count);
    if (!d.bytes || (ev->gone_count && !d.gone)) {
        free(d.bytes);
        free(d.gone);
        return false;
    }
    memcpy(d.bytes, ev->delta, ev->delta_len);
    p->deltas[p->delta_count++] = d;
    return true;
}

/* Takes what ev says about its service: a delta adds to what is pending (an event may carry the
 * snapshot too, for the pushers: the delta is cheaper to apply), anything else replaces it. */
static void pending_take(pending_event *p, const cairn_change_event *ev)
{
    if (ev->revision < p->revision)
        return;
    p->revision = ev->revision;
    if (ev->delta && p->base != BASE_REMOVED && delta_append(p, ev))
        return;
    if (ev->kind == CAIRN_CHANGE_REMOVED) {
        pending_reset(p, BASE_REMOVED);
        return;
    }
    pending_reset(p, BASE_READ); /* also a delta that cannot be kept: read the service */
    if (ev->snapshot &&
        (p->snapshot = malloc(ev->snapshot_len ? ev->snapshot_len : 1))) {
        memcpy(p->snapshot, ev->snapshot, ev->snapshot_len);
        p->snapshot_len = ev->snapshot_len;
        p->base = BASE_SNAPSHOT;
    } /* out of memory: read instead */
}

static void on_pipe(void *arg, bool connected)
{
    hc_sync *s = arg;
    atomic_store(&s->connected, connected);
    if (connected)
        atomic_store(&s->reload, true);
}

/* ---- full load ------------------------------------------------------------------------------ */

/* One full load's progress. */
typedef struct load {
    hc_sync *s;
    uint32_t pass;
    int64_t now;
    size_t services, instances;
    bool first_page_done;
} load;

/* hc_call, refused once the thread is asked to stop (the load then ends with that error). */
static cairn_err call_unless_stopping(void *arg, const cairn_request *req, cairn_reply *rep,
                                      cairn_status *st)
{
    load *l = arg;
    if (atomic_load(&l->s->stop))
        return cairn_fail(st, CAIRN_E_UNAVAILABLE, "stopping");
    cairn_err err = hc_call(l->s->hc, req, rep, st);
    /* The first page's revision is the one the whole load covers (later pages are newer). */
    if (err == CAIRN_OK && !l->first_page_done) {
        l->s->load_revision = rep->revision;
        l->first_page_done = true;
    }
    return err;
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
    cairn_follow_synced(&s->follow, s->load_revision);
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
        cairn_hashmap_iter_remove(&it);
        pending_free(v);
    }
}

static void pending_add(hc_sync *s, const cairn_change_event *ev)
{
    size_t a = strlen(ev->namespace_id), b = strlen(ev->service);
    char *key = malloc(a + b + 1);
    if (!key) {
        atomic_store(&s->reload, true);
        return;
    }
    memcpy(key, ev->namespace_id, a);
    key[a] = '\0';
    memcpy(key + a + 1, ev->service, b);
    pending_event *p = cairn_hashmap_get(s->pending, key, a + 1 + b);
    if (p) {
        pending_take(p, ev);
    } else if ((p = calloc(1, sizeof *p))) {
        p->ns = strdup(ev->namespace_id);
        p->svc = strdup(ev->service);
        pending_take(p, ev);
        if (!p->ns || !p->svc || cairn_hashmap_put(s->pending, key, a + 1 + b, p, NULL) != 0) {
            pending_free(p);
            atomic_store(&s->reload, true); /* lost track of a change: reload everything */
        }
    } else {
        atomic_store(&s->reload, true);
    }
    free(key);
}

static void take_event(void *arg, const char *buf, size_t len)
{
    hc_sync *s = arg;
    cairn_change_event ev;
    cairn_status st;
    if (cairn_event_decode(buf, len, &ev, &st) != CAIRN_OK) {
        log_warn("undecodable change event: %s", st.message);
        return;
    }
    switch (cairn_follow_next(&s->follow, ev.prev_revision, ev.revision)) {
    case CAIRN_FOLLOW_APPLY:
        if (ev.kind != CAIRN_CHANGE_TICK)
            pending_add(s, &ev);
        break;
    case CAIRN_FOLLOW_STALE:
        break; /* the last load covered it */
    case CAIRN_FOLLOW_GAP:
        if (s->loaded && !atomic_exchange(&s->reload, true))
            log_info("change events were missed (revision %llu); reloading",
                     (unsigned long long)ev.revision);
        break;
    }
    cairn_event_free(&ev);
}

/* Reads one message of events (one commit's); false when none arrived (or the socket is
 * closing). */
static bool receive_event(hc_sync *s, int flags)
{
    nng_msg *msg;
    int rv = nng_recvmsg(s->sub.sock, &msg, flags);
    if (rv != 0)
        return false;
    const char *buf = nng_msg_body(msg);
    cairn_status st;
    if (cairn_event_each(buf, nng_msg_len(msg), take_event, s, &st) != CAIRN_OK)
        log_warn("undecodable change event: %s", st.message);
    nng_msg_free(msg);
    return true;
}

/* Brings the table's view of the service to what the registry has now. */
static bool apply_read(healthcheck *hc, const pending_event *p)
{
    cairn_reply rep;
    cairn_status st;
    bool ok = hc_call_service_get(hc, p->ns, p->svc, &rep, &st) == CAIRN_OK &&
              hc_table_apply(&hc->table, p->ns, p->svc, &rep.snapshot, hc_now_ms(), 0) == 0;
    cairn_reply_free(&rep);
    return ok;
}

/* Brings the table's view of p's service to p's revision; false when that failed. */
static bool apply_one(healthcheck *hc, const pending_event *p)
{
    cairn_service_snapshot snap;
    cairn_status st;
    switch (p->base) {
    case BASE_REMOVED:
        memset(&snap, 0, sizeof snap); /* found = false: the service is dropped */
        return hc_table_apply(&hc->table, p->ns, p->svc, &snap, hc_now_ms(), 0) == 0;
    case BASE_SNAPSHOT:
        if (cairn_snapshot_decode(p->snapshot, p->snapshot_len, &snap, &st) == CAIRN_OK) {
            int rc = hc_table_apply(&hc->table, p->ns, p->svc, &snap, hc_now_ms(), 0);
            cairn_service_snapshot_free(&snap);
            if (rc != 0)
                return false;
            break;
        }
        log_warn("undecodable snapshot in the change event of %s (%s); reading it instead",
                 p->svc, st.message);
        return apply_read(hc, p);
    case BASE_READ:
        /* What is read is at least as new as every event received: the deltas are in it. */
        return apply_read(hc, p);
    case BASE_TABLE:
        break;
    }
    for (uint32_t i = 0; i < p->delta_count; i++) {
        const pending_delta *d = &p->deltas[i];
        int rc = 1;
        if (cairn_snapshot_decode(d->bytes, d->len, &snap, &st) == CAIRN_OK) {
            rc = hc_table_apply_delta(&hc->table, p->ns, p->svc, &snap, d->gone, d->gone_count,
                                      hc_now_ms());
            cairn_service_snapshot_free(&snap);
        } else {
            log_warn("undecodable delta in the change event of %s (%s); reading it instead",
                     p->svc, st.message);
        }
        if (rc < 0)
            return false;
        if (rc > 0) /* no state to apply it to */
            return apply_read(hc, p);
    }
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
        /* A change we could not follow is caught up by a full load. */
        if (!atomic_load(&s->stop) && !atomic_load(&s->reload) &&
            hc_table_revision(&hc->table, p->ns, p->svc) < p->revision && !apply_one(hc, p))
            atomic_store(&s->reload, true);
        pending_free(p);
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
    /* Subscribe first: the load that the connection triggers must not miss a change made while
     * it runs. */
    cairn_follow_init(&s->follow);
    if (cairn_sub_open(&s->sub, url, CAIRN_EVENT_MAX_BYTES, HC_RECV_TIMEOUT_MS, on_pipe, s, st))
        goto fail;
    int rv;
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

bool hc_sync_ready(void *arg, char *detail, size_t detail_len)
{
    hc_sync *s = ((healthcheck *)arg)->sync;
    if (!atomic_load(&s->connected)) {
        snprintf(detail, detail_len, "not connected to the registry's change events");
        return false;
    }
    return true;
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
    cairn_sub_close(&s->sub);
    pending_clear(s);
    cairn_hashmap_free(s->pending);
    pthread_cond_destroy(&s->loaded_cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
    hc->sync = NULL;
}
