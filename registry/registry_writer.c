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
#include "registry_handlers.h"

/* One submitted write; allocated at submission, freed by the writer once done() has run. */
typedef struct write_job {
    const cairn_request *req;
    cairn_reply *rep;
    registry_write_done_fn done;
    void *done_arg;
    struct write_job *next;
    /* The outcome, as the writer saw it. */
    bool ok;        /* applied (the reply is a success so far) */
    bool committed; /* its changes are in the store: publish them */
    bool changed;
    bool durable;
    cairn_change_kind kind;
    uint64_t revision;
} write_job;

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
    write_job **changed;
    cairn_change_event *events;
    uint64_t last_published; /* the revision of the newest event published (writer thread) */
};

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void job_fail(write_job *j, const cairn_status *st)
{
    registry_reply_fail(j->rep, st);
    j->ok = j->changed = j->durable = false;
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
    };
    cairn_err err = registry_apply_write(&c, j->req, j->rep, &st);
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
    j->changed = c.changed;
    j->durable = c.changed && c.durable;
    j->kind = c.kind;
    j->revision = c.revision;
}

static int by_service_then_revision(const void *a, const void *b)
{
    const write_job *x = *(write_job *const *)a, *y = *(write_job *const *)b;
    int r = strcmp(registry_req_ns(x->req), registry_req_ns(y->req));
    if (!r)
        r = strcmp(x->req->service, y->req->service);
    if (!r)
        r = x->revision < y->revision ? -1 : x->revision > y->revision;
    return r;
}

static bool same_service(const write_job *x, const write_job *y)
{
    return strcmp(x->req->service, y->req->service) == 0 &&
           strcmp(registry_req_ns(x->req), registry_req_ns(y->req)) == 0;
}

static int by_revision(const void *a, const void *b)
{
    const cairn_change_event *x = a, *y = b;
    return x->revision < y->revision ? -1 : x->revision > y->revision;
}

/* One event per changed service, carrying its last revision, in revision order. The kind says
 * what the batch did to it overall: removed (if that came last), else instances changed if any
 * did after the last removal, else the definition changed. */
static void publish_events(registry_writer *w, size_t n, int64_t now_ms)
{
    if (!w->cfg.publish)
        return;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (w->batch[i]->committed && w->batch[i]->changed)
            w->changed[m++] = w->batch[i];
    qsort(w->changed, m, sizeof *w->changed, by_service_then_revision);
    size_t e = 0;
    for (size_t i = 0; i < m;) {
        bool instances = false;
        size_t j = i;
        for (; j < m && same_service(w->changed[i], w->changed[j]); j++) {
            if (w->changed[j]->kind == CAIRN_CHANGE_REMOVED)
                instances = false;
            else if (w->changed[j]->kind == CAIRN_CHANGE_INSTANCES)
                instances = true;
        }
        const write_job *last = w->changed[j - 1];
        cairn_change_kind kind = last->kind == CAIRN_CHANGE_REMOVED ? CAIRN_CHANGE_REMOVED
                                 : instances                        ? CAIRN_CHANGE_INSTANCES
                                                                    : CAIRN_CHANGE_SERVICE;
        /* The event only borrows the request's strings for the duration of publish. */
        w->events[e++] = (cairn_change_event){
            .namespace_id = (char *)registry_req_ns(last->req),
            .service = last->req->service,
            .revision = last->revision,
            .kind = kind,
            .at_ms = now_ms,
        };
        i = j;
    }
    qsort(w->events, e, sizeof *w->events, by_revision);
    for (size_t i = 0; i < e; i++) {
        w->events[i].prev_revision = w->last_published;
        w->last_published = w->events[i].revision;
        w->cfg.publish(w->cfg.publish_arg, &w->events[i]);
    }
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
        .at_ms = wall_ms(),
    };
    w->cfg.publish(w->cfg.publish_arg, &tick);
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
    int64_t now_ms = wall_ms();
    cairn_status st;
    cairn_status_clear(&st);
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->cfg.store->env, NULL, 0, &txn);
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
                        registry_reply_fail(j->rep, &st);
                        j->ok = false;
                    }
                }
            }
        }
    }
    publish_events(w, n, now_ms);
    if (rm && rm->m) {
        cairn_histogram_observe(rm->batch_size, (double)n);
        for (size_t i = 0; i < n; i++)
            registry_metrics_write(rm, w->batch[i]->req->type, w->batch[i]->rep->code);
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
            w->batch[i]->done(w->batch[i]->done_arg);
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
    w->changed = calloc(cfg->max_batch, sizeof *w->changed);
    w->events = calloc(cfg->max_batch, sizeof *w->events);
    if (!w->batch || !w->changed || !w->events) {
        free(w->batch);
        free(w->changed);
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
        free(w->changed);
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
        free(w->changed);
        free(w->events);
        free(w);
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the writer thread: %s",
                          strerror(rc));
    }
    *out = w;
    return CAIRN_OK;
}

void registry_writer_submit_async(registry_writer *w, const cairn_request *req, cairn_reply *rep,
                                  registry_write_done_fn done, void *arg)
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
        registry_reply_fail(rep, &st);
        done(arg);
        return;
    }
    *job = (write_job){.req = req, .rep = rep, .done = done, .done_arg = arg};
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

/* The waiting submitter of registry_writer_submit. */
typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
} sync_wait;

static void wake_submitter(void *arg)
{
    sync_wait *sw = arg;
    /* Signal under the lock: the submitter destroys sw only after it has the lock back. */
    pthread_mutex_lock(&sw->mu);
    sw->done = true;
    pthread_cond_signal(&sw->cond);
    pthread_mutex_unlock(&sw->mu);
}

void registry_writer_submit(registry_writer *w, const cairn_request *req, cairn_reply *rep)
{
    sync_wait sw = {.done = false};
    pthread_mutex_init(&sw.mu, NULL);
    pthread_cond_init(&sw.cond, NULL);
    registry_writer_submit_async(w, req, rep, wake_submitter, &sw);
    pthread_mutex_lock(&sw.mu);
    while (!sw.done)
        pthread_cond_wait(&sw.cond, &sw.mu);
    pthread_mutex_unlock(&sw.mu);
    pthread_cond_destroy(&sw.cond);
    pthread_mutex_destroy(&sw.mu);
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
    free(w->batch);
    free(w->changed);
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
