/* The empty-service sweep (registry_sweep.h): find disposable services page by page, remove
 * each through the writer with a write that checks again. */
#include "registry_sweep.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_keys.h"
#include "cairn_log.h"
#include "cairn_requests.h"
#include "registry_handlers.h"
#include "registry_in_use.h"

#define SWEEP_PAGE 1024 /* services looked at per read transaction */
#define SWEEP_CHUNK 64  /* removals queued to the writer at once */

struct registry_sweep {
    registry_sweep_config cfg;
    atomic_bool stopping;
    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* stop asked */
};

/* One removal handed to the writer. req comes first: the apply function gets &req and finds the
 * cutoff beside it. */
typedef struct clean_write {
    cairn_request req; /* SERVICE_REMOVE of the service (labels writes_total) */
    int64_t cutoff_ms;
    registry_in_use *in_use;
    cairn_reply rep;
} clean_write;

bool registry_service_disposable(const cairn_service *svc, uint64_t instances,
                                 int64_t in_use_ms, int64_t cutoff_ms)
{
    return instances == 0 && cairn_service_is_implicit(svc) && svc->modified_ms <= cutoff_ms &&
           in_use_ms <= cutoff_ms;
}

/* Whether the service (ns, name) is disposable as of txn and of the marks in u; false when it
 * does not exist. */
static cairn_err check_disposable(registry_store *s, registry_in_use *u, MDB_txn *txn,
                                  const char *ns, const char *name, int64_t cutoff_ms, bool *yes,
                                  cairn_status *st)
{
    uint64_t count;
    *yes = false;
    if (registry_store_instance_count(s, txn, ns, name, &count, st))
        return st->code;
    if (count > 0)
        return CAIRN_OK; /* the common case costs one lookup, no decoding */
    cairn_service svc;
    bool found;
    if (registry_store_get_service(s, txn, ns, name, &svc, &found, st))
        return st->code;
    if (found) {
        *yes = registry_service_disposable(&svc, count, registry_in_use_last(u, ns, name),
                                           cutoff_ms);
        cairn_service_free(&svc);
    }
    return CAIRN_OK;
}

/* registry_apply_fn of a clean_write: the same test, inside the write's own transaction and with
 * the marks of now, so a write or a report of a subscriber that reached the service after the
 * sweep looked keeps it. */
static cairn_err apply_clean(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                             cairn_status *st)
{
    (void)rep;
    const clean_write *cw = (const clean_write *)(const void *)req;
    bool go;
    if (check_disposable(c->store, cw->in_use, c->txn, req->namespace_id, req->service,
                         cw->cutoff_ms, &go, st))
        return st->code;
    if (!go)
        return CAIRN_OK; /* nothing changed: no revision, no event */
    return registry_drop_service(c, req->namespace_id, req->service, false, st);
}

static cairn_err clean_write_init(clean_write *cw, registry_in_use *u, const char *ns,
                                  const char *svc, int64_t cutoff_ms, cairn_status *st)
{
    cw->cutoff_ms = cutoff_ms;
    cw->in_use = u;
    cairn_reply_init(&cw->rep);
    cairn_err err = cairn_request_service_remove(&cw->req, ns, svc, st);
    if (err) {
        cairn_request_free(&cw->req); /* the builder's contract: freed in every case */
        cairn_reply_free(&cw->rep);
    }
    return err;
}

static void clean_write_free(clean_write *cw)
{
    cairn_request_free(&cw->req);
    cairn_reply_free(&cw->rep);
}

/* Queues the n removals, waits for all of them and frees them; returns how many went. */
static size_t remove_chunk(registry_sweep *s, clean_write *cws, size_t n)
{
    registry_write wrs[SWEEP_CHUNK] = {0};
    for (size_t i = 0; i < n; i++)
        wrs[i] = (registry_write){
            .apply = apply_clean,
            .req = &cws[i].req,
            .namespace_id = cws[i].req.namespace_id,
            .service = cws[i].req.service,
            .rep = &cws[i].rep,
        };
    registry_writer_submit_all(s->cfg.writer, wrs, n);
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        if (cws[i].rep.code == CAIRN_OK && cws[i].rep.revision != 0) {
            removed++;
            log_debug("removed empty service %s in namespace %s", cws[i].req.service,
                      cws[i].req.namespace_id);
        } else if (cws[i].rep.code != CAIRN_OK) {
            log_warn("empty service %s not removed: %s", cws[i].req.service,
                     cws[i].rep.message ? cws[i].rep.message : "?");
        }
        clean_write_free(&cws[i]);
    }
    registry_metrics *rm = s->cfg.metrics;
    if (rm && rm->m)
        cairn_counter_add(rm->empty_services_removed, removed);
    return removed;
}

/* A page of the walk: the services after the cursor, looked at in one read transaction. */
typedef struct sweep_page {
    registry_sweep *s;
    MDB_txn *txn;
    int64_t cutoff_ms;
    clean_write cws[SWEEP_CHUNK];
    size_t found, seen;
    char ns[CAIRN_KEY_MAX], svc[CAIRN_KEY_MAX]; /* the cursor: the last service looked at */
    bool more;                                  /* the walk stopped before the end */
    cairn_err err;
    cairn_status *st;
} sweep_page;

static bool look_at(void *arg, const char *ns, const char *grouped)
{
    sweep_page *p = arg;
    snprintf(p->ns, sizeof p->ns, "%s", ns);
    snprintf(p->svc, sizeof p->svc, "%s", grouped);
    bool go;
    registry_in_use *u = p->s->cfg.in_use;
    if ((p->err = check_disposable(p->s->cfg.store, u, p->txn, ns, grouped, p->cutoff_ms, &go,
                                   p->st)))
        return false;
    if (go &&
        (p->err = clean_write_init(&p->cws[p->found], u, ns, grouped, p->cutoff_ms, p->st)))
        return false;
    p->found += go;
    p->more = ++p->seen == SWEEP_PAGE || p->found == SWEEP_CHUNK;
    return !p->more;
}

cairn_err registry_sweep_run(registry_sweep *s, int64_t now_ms, size_t *removed,
                             cairn_status *st)
{
    sweep_page *p = calloc(1, sizeof *p);
    if (!p)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    p->s = s;
    p->cutoff_ms = now_ms - s->cfg.clean_after_ms;
    p->st = st;
    registry_in_use_forget(s->cfg.in_use, p->cutoff_ms); /* they keep nothing from now on */
    cairn_err err = CAIRN_OK;
    do {
        p->found = p->seen = 0;
        p->more = false;
        if ((err = registry_store_read_begin(s->cfg.store, &p->txn, st)))
            break;
        err = registry_store_scan_services(s->cfg.store, p->txn, p->ns, p->svc, look_at, p, st);
        mdb_txn_abort(p->txn);
        if (!err)
            err = p->err;
        /* Writes queue only after the read ends: a long read would pin old pages. */
        *removed += remove_chunk(s, p->cws, p->found);
    } while (!err && p->more && !atomic_load(&s->stopping));
    free(p);
    return err;
}

cairn_err registry_sweep_remove(registry_sweep *s, const char *ns, const char *svc,
                                int64_t cutoff_ms, bool *removed, cairn_status *st)
{
    clean_write cw;
    if (clean_write_init(&cw, s->cfg.in_use, ns, svc, cutoff_ms, st))
        return st->code;
    *removed = remove_chunk(s, &cw, 1) == 1;
    return CAIRN_OK;
}

static void *sweep_main(void *arg)
{
    registry_sweep *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stopping)) {
        struct timespec until = cairn_monotonic_after_ms(s->cfg.period_ms);
        if (pthread_cond_timedwait(&s->wake, &s->mu, &until) != ETIMEDOUT)
            continue; /* stop asked (or a spurious wake-up) */
        pthread_mutex_unlock(&s->mu);
        size_t removed = 0;
        cairn_status st;
        if (registry_sweep_run(s, cairn_wall_ms(), &removed, &st))
            log_warn("empty-service sweep stopped early: %s", st.message);
        if (removed > 0)
            log_info("removed %zu services empty for %lld ms or more", removed,
                     (long long)s->cfg.clean_after_ms);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

cairn_err registry_sweep_start(const registry_sweep_config *cfg, registry_sweep **out,
                               cairn_status *st)
{
    *out = NULL;
    registry_sweep *s = calloc(1, sizeof *s);
    if (!s)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    s->cfg = *cfg;
    atomic_init(&s->stopping, false);
    pthread_mutex_init(&s->mu, NULL);
    cairn_cond_init_monotonic(&s->wake);
    if (cfg->period_ms > 0) {
        int rc = pthread_create(&s->thread, NULL, sweep_main, s);
        if (rc) {
            pthread_cond_destroy(&s->wake);
            pthread_mutex_destroy(&s->mu);
            free(s);
            return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the sweep thread: %s",
                              strerror(rc));
        }
        s->threaded = true;
    }
    *out = s;
    return CAIRN_OK;
}

void registry_sweep_stop(registry_sweep *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stopping, true);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (s->threaded)
        pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
