/* The expiry sweep (§13, ClientBeatCheckTask): every health.check_interval_ms, each ephemeral
 * instance of a service this node is responsible for is compared with its beat and delete
 * timeouts. Decisions are taken under the table lock and carried out after it is released, one
 * registry write each (each write publishes a change event); an instance that beat in the
 * meantime is left alone.
 *
 * Self-preservation: each sweep counts, per namespace, the ephemeral instances and those silent
 * past their beat timeout (hc_preservation_hold says why these and not only this sweep's
 * removals). While more than health.preservation_ratio of a namespace (of at least
 * health.preservation_min_instances) is silent, its removals are held — so many clients going
 * silent at once is more likely this node's network than the clients — and the instances are
 * only marked unhealthy. A warning is logged when a namespace enters and leaves that state;
 * held_deletions_total (one per held removal per sweep) and preservation_active{namespace} show
 * it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "healthcheck.h"
#include "healthcheck_expiry.h"

typedef struct sweep_action {
    char *ns, *svc, *cluster, *ip;
    int32_t port;
    hc_expiry what;
    int64_t last_beat_ms; /* as decided on; a newer beat cancels the action */
    int64_t idle_ms;
    struct ns_state *ns_state;
} sweep_action;

/* Per-namespace counts of one sweep, and the preservation state across sweeps. */
typedef struct ns_state {
    size_t ephemeral;
    size_t silent; /* past the beat timeout (deletions included) */
    size_t deletions;
    bool hold;
    bool active; /* preservation was on after the last sweep */
    cairn_gauge *gauge;
    uint64_t sweep; /* last sweep that counted it */
} ns_state;

struct hc_sweeper {
    healthcheck *hc;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    cairn_hashmap *namespaces; /* ns → ns_state* (only the sweep thread touches it) */
    uint64_t sweeps;
    sweep_action *actions;
    size_t count, cap;
};

static ns_state *ns_get(hc_sweeper *w, const char *ns)
{
    size_t len = strlen(ns);
    ns_state *s = cairn_hashmap_get(w->namespaces, ns, len);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s || cairn_hashmap_put(w->namespaces, ns, len, s, NULL) != 0) {
        free(s);
        return NULL;
    }
    s->gauge = hc_metrics_preservation(&w->hc->metrics, ns);
    return s;
}

static void free_actions(hc_sweeper *w)
{
    for (size_t i = 0; i < w->count; i++) {
        sweep_action *a = &w->actions[i];
        free(a->ns);
        free(a->svc);
        free(a->cluster);
        free(a->ip);
    }
    w->count = 0;
}

static bool add_action(hc_sweeper *w, const hc_instance *e, hc_expiry what, int64_t idle_ms,
                       ns_state *ns)
{
    if (w->count == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        sweep_action *grown = realloc(w->actions, ncap * sizeof *grown);
        if (!grown)
            return false;
        w->actions = grown;
        w->cap = ncap;
    }
    sweep_action *a = &w->actions[w->count];
    *a = (sweep_action){
        .ns = strdup(e->svc->ns),
        .svc = strdup(e->svc->name),
        .cluster = strdup(e->cluster),
        .ip = strdup(e->ip),
        .port = e->port,
        .what = what,
        .last_beat_ms = e->last_beat_ms,
        .idle_ms = idle_ms,
        .ns_state = ns,
    };
    if (!a->ns || !a->svc || !a->cluster || !a->ip) {
        free(a->ns);
        free(a->svc);
        free(a->cluster);
        free(a->ip);
        return false;
    }
    w->count++;
    return true;
}

/* Under the table lock: what this sweep would do, and the namespace counts. */
static void decide(hc_sweeper *w, int64_t now)
{
    healthcheck *hc = w->hc;
    hc_table *t = &hc->table;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, t->services);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        hc_service *s = v;
        if (s->count == 0 || !hc_service_responsible(s))
            continue;
        ns_state *ns = ns_get(w, s->ns);
        if (!ns)
            continue;
        if (ns->sweep != w->sweeps) {
            ns->sweep = w->sweeps;
            ns->ephemeral = ns->silent = ns->deletions = 0;
        }
        for (uint32_t i = 0; i < s->count; i++) {
            hc_instance *e = s->instances[i];
            if (!e->ephemeral)
                continue;
            ns->ephemeral++;
            int64_t idle = now - e->last_beat_ms;
            if (!e->marked && idle > e->beat_timeout_ms)
                ns->silent++;
            if (e->write_pending)
                continue;
            hc_expiry what = hc_expiry_decide(idle, e->beat_timeout_ms, e->delete_timeout_ms,
                                              e->healthy, e->marked, hc->cfg.expire_instances);
            if (what == HC_EXPIRY_NONE)
                continue;
            if (!add_action(w, e, what, idle, ns)) {
                log_warn("out of memory planning the sweep");
                return;
            }
            if (what == HC_EXPIRY_DELETE)
                ns->deletions++;
        }
    }
}

/* Decides holds, logs the start and end of preservation episodes and sets the gauges. */
static void preservation(hc_sweeper *w)
{
    healthcheck *hc = w->hc;
    cairn_hashmap_iter it;
    const void *key;
    size_t key_len;
    void *v;
    cairn_hashmap_iter_init(&it, w->namespaces);
    while (cairn_hashmap_iter_next(&it, &key, &key_len, &v)) {
        ns_state *ns = v;
        if (ns->sweep != w->sweeps)
            ns->ephemeral = ns->silent = ns->deletions = 0; /* no responsible instances left */
        ns->hold = hc->cfg.expire_instances &&
                   hc_preservation_hold(ns->ephemeral, ns->silent, hc->cfg.preservation_ratio,
                                        hc->cfg.preservation_min_instances);
        if (ns->hold && !ns->active)
            log_warn("self-preservation on in namespace %.*s: %zu of %zu ephemeral instances "
                     "stopped beating at once (more than %.0f%%); holding their removal (%zu "
                     "due now), marking them unhealthy only",
                     (int)key_len, (const char *)key, ns->silent, ns->ephemeral,
                     hc->cfg.preservation_ratio * 100, ns->deletions);
        else if (!ns->hold && ns->active)
            log_warn("self-preservation off in namespace %.*s", (int)key_len,
                     (const char *)key);
        ns->active = ns->hold;
        if (ns->gauge)
            cairn_gauge_set(ns->gauge, ns->hold ? 1 : 0);
    }
}

/* Carries out one action; returns false when the registry is unavailable (stop the sweep). */
static bool carry_out(hc_sweeper *w, sweep_action *a)
{
    healthcheck *hc = w->hc;
    hc_table *t = &hc->table;
    if (a->what == HC_EXPIRY_DELETE && a->ns_state->hold) {
        hc_count(hc->metrics.held_deletions, 1);
        a->what = HC_EXPIRY_UNHEALTHY; /* still marked unhealthy below, if it is not yet */
    }
    hc_table_lock(t);
    hc_instance *e = hc_table_find(t, a->ns, a->svc, true, a->cluster, a->ip, a->port);
    bool go = e && !e->write_pending && e->last_beat_ms == a->last_beat_ms &&
              (a->what == HC_EXPIRY_DELETE || e->healthy);
    if (go)
        e->write_pending = true;
    hc_table_unlock(t);
    if (!go)
        return true;

    cairn_status st;
    cairn_err err = a->what == HC_EXPIRY_DELETE
                        ? hc_call_remove(hc, a->ns, a->svc, a->cluster, a->ip, a->port, true, &st)
                        : hc_call_set_health(hc, a->ns, a->svc, a->cluster, a->ip, a->port, true,
                                             false, &st);
    bool beat_since = false;
    hc_table_lock(t);
    e = hc_table_find(t, a->ns, a->svc, true, a->cluster, a->ip, a->port);
    if (e) {
        e->write_pending = false;
        beat_since = e->last_beat_ms != a->last_beat_ms;
        if (err == CAIRN_OK && a->what == HC_EXPIRY_DELETE)
            hc_table_remove(t, e);
        else if (err == CAIRN_OK)
            e->healthy = false;
    }
    hc_table_unlock(t);
    if (err == CAIRN_E_UNAVAILABLE)
        return false; /* nothing happened; the next sweep decides again */
    if (err != CAIRN_OK) {
        log_warn("cannot %s %s %s %s:%d: %s",
                 a->what == HC_EXPIRY_DELETE ? "remove" : "mark unhealthy", a->ns, a->svc, a->ip,
                 (int)a->port, st.message);
        return true;
    }
    if (a->what == HC_EXPIRY_DELETE) {
        hc_count(hc->metrics.deletions, 1);
        log_info("%s %s %s:%d removed: no beat for %lld ms", a->ns, a->svc, a->ip, (int)a->port,
                 (long long)a->idle_ms);
    } else {
        hc_count(hc->metrics.flips_unhealthy, 1);
        log_info("%s %s %s:%d unhealthy: no beat for %lld ms", a->ns, a->svc, a->ip,
                 (int)a->port, (long long)a->idle_ms);
        /* A beat that came while the write was on its way finds the instance healthy in the
         * table and does not revive it: do it here. */
        if (beat_since && hc_call_set_health(hc, a->ns, a->svc, a->cluster, a->ip, a->port, true,
                                             true, &st) == CAIRN_OK) {
            hc_table_lock(t);
            e = hc_table_find(t, a->ns, a->svc, true, a->cluster, a->ip, a->port);
            if (e)
                e->healthy = true;
            hc_table_unlock(t);
            hc_count(hc->metrics.flips_healthy, 1);
        }
    }
    return true;
}

static void sweep_once(hc_sweeper *w)
{
    healthcheck *hc = w->hc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    w->sweeps++;
    hc_table_lock(&hc->table);
    decide(w, hc_now_ms());
    hc_table_unlock(&hc->table);
    preservation(w);
    for (size_t i = 0; i < w->count; i++)
        if (!carry_out(w, &w->actions[i]))
            break; /* the registry is down (logged by the call): try again next sweep */
    free_actions(w);
    hc_count(hc->metrics.sweeps, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (hc->metrics.sweep_seconds)
        cairn_histogram_observe(hc->metrics.sweep_seconds,
                                (double)(t1.tv_sec - t0.tv_sec) +
                                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static void *sweep_main(void *arg)
{
    hc_sweeper *w = arg;
    int64_t interval = w->hc->cfg.check_interval_ms;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += interval / 1000;
        deadline.tv_nsec += (long)(interval % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!w->stop && pthread_cond_timedwait(&w->cond, &w->mu, &deadline) == 0) {
        }
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->mu);
        sweep_once(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

cairn_err hc_sweep_start(healthcheck *hc, cairn_status *st)
{
    hc_sweeper *w = calloc(1, sizeof *w);
    if (!w || !(w->namespaces = cairn_hashmap_new(16))) {
        free(w);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    w->hc = hc;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    hc->sweeper = w;
    int rv = pthread_create(&w->thread, NULL, sweep_main, w);
    if (rv != 0) {
        hc_sweep_stop(hc);
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the sweep thread: %s",
                          strerror(rv));
    }
    w->thread_started = true;
    return CAIRN_OK;
}

void hc_sweep_stop(healthcheck *hc)
{
    hc_sweeper *w = hc->sweeper;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    if (w->thread_started)
        pthread_join(w->thread, NULL);
    free_actions(w);
    free(w->actions);
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, w->namespaces);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v))
        free(v);
    cairn_hashmap_free(w->namespaces);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
    hc->sweeper = NULL;
}
