/* The registry's writer thread: a queue of write requests, drained in batches (group commit). */
#include "registry_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "registry_in_use.h"
#include "registry_touched.h"

/* A change a write named with registry_write_note_change (names owned). */
typedef struct registry_note {
    char *ns, *svc;
    cairn_change_kind kind;
    uint64_t revision;
} registry_note;

struct registry_notes {
    registry_note *items;
    size_t count, cap;
};

static void notes_clear(struct registry_notes *n)
{
    for (size_t i = 0; i < n->count; i++) {
        free(n->items[i].ns);
        free(n->items[i].svc);
    }
    free(n->items);
    memset(n, 0, sizeof *n);
}

cairn_err registry_write_note_change(registry_write_ctx *c, const char *ns, const char *svc,
                                     cairn_change_kind kind, uint64_t revision,
                                     cairn_status *st)
{
    struct registry_notes *n = c->notes;
    if (n->count == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 8;
        registry_note *grown = realloc(n->items, cap * sizeof *grown);
        if (!grown)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        n->items = grown;
        n->cap = cap;
    }
    registry_note *it = &n->items[n->count];
    if (!(it->ns = strdup(ns)) || !(it->svc = strdup(svc))) {
        free(it->ns);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    it->kind = kind;
    it->revision = revision;
    n->count++;
    return CAIRN_OK;
}

size_t registry_write_notes_mark(const registry_write_ctx *c)
{
    return c->notes->count;
}

void registry_write_notes_rewind(registry_write_ctx *c, size_t mark)
{
    struct registry_notes *n = c->notes;
    while (n->count > mark) {
        n->count--;
        free(n->items[n->count].ns);
        free(n->items[n->count].svc);
    }
}

/* One submitted write; allocated at submission, freed by the writer once done() has run. */
typedef struct write_job {
    registry_write wr;
    struct write_job *next;
    /* The outcome, as the writer saw it. */
    bool ok;        /* applied (the reply is a success so far) */
    bool committed; /* its changes are in the store: publish them */
    bool changed;
    bool durable;
    cairn_change_kind kind;
    uint64_t revision;
    struct registry_notes notes; /* the changes a many-service write named */
} write_job;

/* One change to publish: a write's own service, or one it named. */
typedef struct change {
    const char *ns, *svc; /* borrowed from the job */
    cairn_change_kind kind;
    uint64_t revision;
} change;

struct registry_writer {
    registry_writer_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* work arrived or stop asked */
    write_job *head, *tail;
    size_t depth;
    size_t in_flight;
    bool stopping;
    atomic_bool alive;
    pthread_t thread;
    /* Scratch of the writer thread, max_batch entries each. */
    write_job **batch;
    change *changes; /* grown as needed */
    size_t changes_cap;
    cairn_change_event *events; /* changes_cap entries */
    registry_touched touched;   /* the instance keys the running batch wrote */
    uint64_t last_published; /* the revision of the newest event published (writer thread) */
};

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void job_fail(write_job *j, const cairn_status *st)
{
    cairn_reply_fail(j->wr.rep, st);
    j->ok = j->changed = j->durable = false;
    notes_clear(&j->notes);
}

/* Runs one request in its own nested transaction of parent. */
static void apply_job(registry_writer *w, MDB_txn *parent, int64_t now_ms, write_job *j)
{
    cairn_status st;
    cairn_status_clear(&st);
    MDB_txn *child;
    int rc = mdb_txn_begin(w->cfg.store->env, parent, 0, &child);
    if (rc) {
        registry_store_fail(rc, "begin nested write", &st);
        job_fail(j, &st);
        return;
    }
    registry_write_ctx c = {
        .store = w->cfg.store,
        .txn = child,
        .now_ms = now_ms,
        .max_instances_per_service = w->cfg.max_instances_per_service,
        .limits = &w->cfg.limits,
        .notes = &j->notes,
    };
    cairn_err err = j->wr.apply(&c, j->wr.req, j->wr.rep, &st);
    if (err == CAIRN_OK) {
        if ((rc = mdb_txn_commit(child)))
            err = registry_store_fail(rc, "commit nested write", &st);
    } else {
        mdb_txn_abort(child); /* only this request's changes go */
    }
    if (err != CAIRN_OK) {
        job_fail(j, &st);
        return;
    }
    j->ok = true;
    j->wr.rep->revision = c.changed ? c.revision : 0;
    j->changed = c.changed && j->wr.service;
    /* A many-service write may sync with nothing changed (a raft watermark moves alone). */
    j->durable = c.durable && (c.changed || !j->wr.service);
    j->kind = c.kind;
    j->revision = c.revision;
}

static int by_service_then_revision(const void *a, const void *b)
{
    const change *x = a, *y = b;
    int r = strcmp(x->ns, y->ns);
    if (!r)
        r = strcmp(x->svc, y->svc);
    if (!r)
        r = x->revision < y->revision ? -1 : x->revision > y->revision;
    return r;
}

static bool same_service(const change *x, const change *y)
{
    return strcmp(x->svc, y->svc) == 0 && strcmp(x->ns, y->ns) == 0;
}

static int by_revision(const void *a, const void *b)
{
    const cairn_change_event *x = a, *y = b;
    return x->revision < y->revision ? -1 : x->revision > y->revision;
}

/* The read transaction the batch's snapshots come from, begun after its commit on this, the only
 * writing thread: it sees each changed service exactly as of its event's revision (its last
 * write in the batch). NULL when events carry no snapshots. */
static MDB_txn *snapshot_txn_begin(registry_writer *w)
{
    MDB_txn *txn = NULL;
    cairn_status st;
    if (w->cfg.event_snapshot_max_bytes > 0 &&
        registry_store_read_begin(w->cfg.store, &txn, &st) != CAIRN_OK) {
        log_warn("change events go without snapshots: %s", st.message);
        return NULL;
    }
    return txn;
}

/* Gives ev what changed in its service (malloc'd: release_change frees it after publishing): a
 * delta when it is smaller than the service, the whole snapshot when it is not or when the
 * service has subscribers (the pushers push the whole service). A removed service, one over the
 * cap, or a failed read goes without; followers then read it. */
static void attach_change(registry_writer *w, MDB_txn *txn, cairn_change_event *ev,
                          int64_t now_ms)
{
    char *snap = NULL, *delta = NULL;
    size_t snap_len = 0, delta_len = 0;
    cairn_bytes *gone = NULL;
    uint32_t gone_count = 0;
    cairn_status st;
    size_t max = w->cfg.event_snapshot_max_bytes;
    if (txn && ev->kind != CAIRN_CHANGE_REMOVED) {
        if (registry_touched_delta(&w->touched, w->cfg.store, txn, ev->namespace_id,
                                   ev->service, max, &delta, &delta_len, &gone, &gone_count,
                                   &st) != CAIRN_OK)
            log_warn("change event of %s goes without a delta: %s", ev->service, st.message);
        if ((!delta || registry_in_use_watched(w->cfg.in_use, ev->namespace_id, ev->service,
                                               now_ms)) &&
            registry_store_encode_snapshot(w->cfg.store, txn, ev->namespace_id, ev->service,
                                           max, &snap, &snap_len, &st) != CAIRN_OK)
            log_warn("change event of %s goes without its snapshot: %s", ev->service,
                     st.message);
    }
    ev->snapshot = snap;
    ev->snapshot_len = snap_len;
    ev->delta = delta;
    ev->delta_len = delta_len;
    ev->gone = gone;
    ev->gone_count = gone_count;
    registry_metrics *rm = w->cfg.metrics;
    if (rm && rm->m) {
        cairn_counter_inc(snap ? rm->events_with_snapshot : rm->events_without_snapshot);
        if (delta)
            cairn_counter_inc(rm->event_deltas);
    }
}

static void release_change(cairn_change_event *ev)
{
    free((void *)ev->snapshot);
    free((void *)ev->delta);
    free((void *)ev->gone);
    ev->snapshot = ev->delta = NULL;
    ev->gone = NULL;
    ev->snapshot_len = ev->delta_len = 0;
    ev->gone_count = 0;
}

/* Makes room for want changes (and as many events); false when out of memory. */
static bool changes_reserve(registry_writer *w, size_t want)
{
    if (want <= w->changes_cap)
        return true;
    size_t cap = w->changes_cap * 2 > want ? w->changes_cap * 2 : want;
    change *c = realloc(w->changes, cap * sizeof *c);
    if (c)
        w->changes = c;
    cairn_change_event *e = realloc(w->events, cap * sizeof *e);
    if (e)
        w->events = e;
    if (!c || !e)
        return false;
    w->changes_cap = cap;
    return true;
}

/* Every change of the batch's committed writes into w->changes; returns their number. Without
 * memory for the named changes, they go unpublished (logged): followers then catch up at the
 * next event or tick of those services. */
static size_t collect_changes(registry_writer *w, size_t n)
{
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        if (w->batch[i]->committed)
            want += 1 + w->batch[i]->notes.count;
    bool room = changes_reserve(w, want);
    if (!room)
        log_error("out of memory: the change events of %zu writes go unpublished", want);
    size_t m = 0;
    for (size_t i = 0; i < n && m < w->changes_cap; i++) {
        write_job *j = w->batch[i];
        if (!j->committed)
            continue;
        if (j->changed)
            w->changes[m++] = (change){j->wr.namespace_id, j->wr.service, j->kind, j->revision};
        for (size_t k = 0; room && k < j->notes.count; k++) {
            const registry_note *nt = &j->notes.items[k];
            w->changes[m++] = (change){nt->ns, nt->svc, nt->kind, nt->revision};
        }
    }
    return m;
}

/* One event per changed service, carrying its last revision, in revision order. The kind says
 * what the batch did to it overall: removed (if that came last), else instances changed if any
 * did after the last removal, else the definition changed. */
static void publish_events(registry_writer *w, size_t n, int64_t now_ms)
{
    if (!w->cfg.publish)
        return;
    size_t m = collect_changes(w, n);
    qsort(w->changes, m, sizeof *w->changes, by_service_then_revision);
    size_t e = 0;
    for (size_t i = 0; i < m;) {
        bool instances = false;
        size_t j = i;
        for (; j < m && same_service(&w->changes[i], &w->changes[j]); j++) {
            if (w->changes[j].kind == CAIRN_CHANGE_REMOVED)
                instances = false;
            else if (w->changes[j].kind == CAIRN_CHANGE_INSTANCES)
                instances = true;
        }
        const change *last = &w->changes[j - 1];
        cairn_change_kind kind = last->kind == CAIRN_CHANGE_REMOVED ? CAIRN_CHANGE_REMOVED
                                 : instances                        ? CAIRN_CHANGE_INSTANCES
                                                                    : CAIRN_CHANGE_SERVICE;
        /* The event only borrows the write's names for the duration of publish. */
        w->events[e++] = (cairn_change_event){
            .namespace_id = (char *)last->ns,
            .service = (char *)last->svc,
            .revision = last->revision,
            .kind = kind,
            .at_ms = now_ms,
        };
        i = j;
    }
    qsort(w->events, e, sizeof *w->events, by_revision);
    /* One snapshot at a time: a batch's worth could be max_batch times the cap. */
    MDB_txn *txn = snapshot_txn_begin(w);
    for (size_t i = 0; i < e; i++) {
        w->events[i].prev_revision = w->last_published;
        w->last_published = w->events[i].revision;
        attach_change(w, txn, &w->events[i], now_ms);
        w->cfg.publish(w->cfg.publish_arg, &w->events[i]);
        release_change(&w->events[i]);
    }
    if (txn)
        mdb_txn_abort(txn);
    if (e > 0 && w->cfg.publish_end)
        w->cfg.publish_end(w->cfg.publish_arg);
}

static void publish_tick(registry_writer *w)
{
    if (!w->cfg.publish)
        return;
    cairn_change_event tick = {
        .namespace_id = "",
        .service = "",
        .revision = w->last_published,
        .prev_revision = w->last_published,
        .kind = CAIRN_CHANGE_TICK,
        .at_ms = cairn_wall_ms(),
    };
    w->cfg.publish(w->cfg.publish_arg, &tick);
    if (w->cfg.publish_end)
        w->cfg.publish_end(w->cfg.publish_arg);
}

/* Waits (mu held) for work or a stop; publishes a tick each time event_tick_ms passes idle. */
static void wait_for_work(registry_writer *w)
{
    while (!w->head && !w->stopping) {
        if (w->cfg.event_tick_ms <= 0) {
            pthread_cond_wait(&w->wake, &w->mu);
            continue;
        }
        struct timespec until = cairn_monotonic_after_ms(w->cfg.event_tick_ms);
        if (pthread_cond_timedwait(&w->wake, &w->mu, &until) == ETIMEDOUT && !w->head &&
            !w->stopping) {
            pthread_mutex_unlock(&w->mu);
            publish_tick(w);
            pthread_mutex_lock(&w->mu);
        }
    }
}

static void run_batch(registry_writer *w, size_t n)
{
    registry_metrics *rm = w->cfg.metrics;
    int64_t now_ms = cairn_wall_ms();
    cairn_status st;
    cairn_status_clear(&st);
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->cfg.store->env, NULL, 0, &txn);
    w->cfg.store->touched = &w->touched;
    if (rc) {
        registry_store_fail(rc, "begin write", &st);
        for (size_t i = 0; i < n; i++)
            job_fail(w->batch[i], &st);
    } else {
        bool durable = false;
        for (size_t i = 0; i < n; i++) {
            apply_job(w, txn, now_ms, w->batch[i]);
            durable = durable || w->batch[i]->durable;
        }
        w->cfg.store->touched = NULL;
        double t0 = mono_seconds();
        rc = mdb_txn_commit(txn);
        if (rm && rm->m)
            cairn_histogram_observe(rm->commit_seconds, mono_seconds() - t0);
        if (rc) {
            registry_store_fail(rc, "commit", &st);
            log_error("write batch of %zu lost: %s", n, st.message);
            for (size_t i = 0; i < n; i++)
                if (w->batch[i]->ok)
                    job_fail(w->batch[i], &st);
        } else {
            for (size_t i = 0; i < n; i++)
                w->batch[i]->committed = w->batch[i]->ok;
        }
        if (!rc && durable) {
            t0 = mono_seconds();
            rc = mdb_env_sync(w->cfg.store->env, 1);
            if (rm && rm->m)
                cairn_histogram_observe(rm->sync_seconds, mono_seconds() - t0);
            if (rc) {
                /* Committed and visible, but not known to be on disk: the durable writes are
                 * not acknowledged; their events still go out since readers see the data. */
                registry_store_fail(rc, "sync", &st);
                log_error("sync after commit failed: %s", st.message);
                for (size_t i = 0; i < n; i++) {
                    write_job *j = w->batch[i];
                    if (j->ok && j->durable) {
                        cairn_reply_fail(j->wr.rep, &st);
                        j->ok = false;
                    }
                }
            }
        }
    }
    w->cfg.store->touched = NULL;
    publish_events(w, n, now_ms);
    registry_touched_clear(&w->touched);
    if (rm && rm->m) {
        cairn_histogram_observe(rm->batch_size, (double)n);
        for (size_t i = 0; i < n; i++)
            registry_metrics_write(rm, w->batch[i]->wr.req->type, w->batch[i]->wr.rep->code);
    }
}

static void *writer_main(void *arg)
{
    registry_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        wait_for_work(w);
        if (!w->head)
            break; /* stopping, and every queued write is done */
        size_t n = 0;
        while (w->head && n < w->cfg.max_batch) {
            w->batch[n++] = w->head;
            w->head = w->head->next;
        }
        if (!w->head)
            w->tail = NULL;
        w->depth -= n;
        w->in_flight = n;
        if (w->cfg.metrics && w->cfg.metrics->m)
            cairn_gauge_set(w->cfg.metrics->queue_depth, (double)w->depth);
        pthread_mutex_unlock(&w->mu);

        run_batch(w, n);

        /* The replies go out as soon as the batch is committed (and synced), off the lock. */
        for (size_t i = 0; i < n; i++) {
            w->batch[i]->wr.done(w->batch[i]->wr.done_arg);
            notes_clear(&w->batch[i]->notes);
            free(w->batch[i]);
        }
        pthread_mutex_lock(&w->mu);
        w->in_flight = 0;
    }
    pthread_mutex_unlock(&w->mu);
    atomic_store(&w->alive, false);
    return NULL;
}

cairn_err registry_writer_start(const registry_writer_config *cfg, registry_writer **out,
                                cairn_status *st)
{
    *out = NULL;
    if (cfg->max_batch < 1)
        return cairn_fail(st, CAIRN_E_INVALID, "registry.max_batch must be at least 1");
    registry_writer *w = calloc(1, sizeof *w);
    if (!w)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    w->cfg = *cfg;
    w->batch = calloc(cfg->max_batch, sizeof *w->batch);
    if (!w->batch || !changes_reserve(w, cfg->max_batch)) {
        free(w->batch);
        free(w->changes);
        free(w->events);
        free(w);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    /* Events chain on from the revision the store holds: a follower that saw the last event of
     * the previous run sees no gap; one that missed events published just before a crash does. */
    MDB_txn *txn;
    int trc = mdb_txn_begin(cfg->store->env, NULL, MDB_RDONLY, &txn);
    cairn_err rerr = trc ? registry_store_fail(trc, "begin read", st)
                         : registry_store_revision(cfg->store, txn, &w->last_published, st);
    if (!trc)
        mdb_txn_abort(txn);
    if (rerr) {
        free(w->batch);
        free(w->changes);
        free(w->events);
        free(w);
        return rerr;
    }
    pthread_mutex_init(&w->mu, NULL);
    cairn_cond_init_monotonic(&w->wake);
    atomic_store(&w->alive, true);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        free(w->batch);
        free(w->changes);
        free(w->events);
        free(w);
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the writer thread: %s",
                          strerror(rc));
    }
    *out = w;
    return CAIRN_OK;
}

void registry_writer_submit_async(registry_writer *w, const registry_write *wr)
{
    cairn_status st;
    write_job *job = calloc(1, sizeof *job);
    pthread_mutex_lock(&w->mu);
    if (w->stopping || !job || w->depth >= REGISTRY_WRITE_QUEUE_MAX) {
        bool stopping = w->stopping;
        pthread_mutex_unlock(&w->mu);
        free(job);
        if (stopping)
            cairn_fail(&st, CAIRN_E_UNAVAILABLE, "registry is stopping");
        else if (!job)
            cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        else
            cairn_fail(&st, CAIRN_E_UNAVAILABLE, "registry write queue full (%d writes)",
                       REGISTRY_WRITE_QUEUE_MAX);
        cairn_reply_fail(wr->rep, &st);
        wr->done(wr->done_arg);
        return;
    }
    *job = (write_job){.wr = *wr};
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->depth++;
    if (w->cfg.metrics && w->cfg.metrics->m)
        cairn_gauge_set(w->cfg.metrics->queue_depth, (double)w->depth);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

/* The waiting submitter of registry_writer_submit_all: the writes not done yet. */
typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t pending;
} sync_wait;

static void count_down(void *arg)
{
    sync_wait *sw = arg;
    /* Signal under the lock: the submitter destroys sw only after it has the lock back. */
    pthread_mutex_lock(&sw->mu);
    if (--sw->pending == 0)
        pthread_cond_signal(&sw->cond);
    pthread_mutex_unlock(&sw->mu);
}

void registry_writer_submit_all(registry_writer *w, const registry_write *wrs, size_t n)
{
    sync_wait sw = {.pending = n};
    pthread_mutex_init(&sw.mu, NULL);
    pthread_cond_init(&sw.cond, NULL);
    for (size_t i = 0; i < n; i++) {
        registry_write waited = wrs[i];
        waited.done = count_down;
        waited.done_arg = &sw;
        registry_writer_submit_async(w, &waited);
    }
    pthread_mutex_lock(&sw.mu);
    while (sw.pending > 0)
        pthread_cond_wait(&sw.cond, &sw.mu);
    pthread_mutex_unlock(&sw.mu);
    pthread_cond_destroy(&sw.cond);
    pthread_mutex_destroy(&sw.mu);
}

void registry_writer_submit(registry_writer *w, const registry_write *wr)
{
    registry_writer_submit_all(w, wr, 1);
}

void registry_writer_stop(registry_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    registry_touched_free(&w->touched);
    free(w->batch);
    free(w->changes);
    free(w->events);
    free(w);
}

bool registry_writer_alive(const registry_writer *w)
{
    return atomic_load(&w->alive);
}

void registry_writer_backlog(registry_writer *w, size_t *queued, size_t *in_flight)
{
    pthread_mutex_lock(&w->mu);
    *queued = w->depth;
    *in_flight = w->in_flight;
    pthread_mutex_unlock(&w->mu);
}
