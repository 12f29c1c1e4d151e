/* The Distro load on start (replicator_distro.h; cluster-design §2.8 step 3): the decisions are
 * distro_load.h's; this file carries out its actions. A load page is a DISTRO_SNAPSHOT read from
 * the source peer (DISTRO_READ), applied to the local registry as DISTRO_APPLY in FORCE mode
 * with the load's id, ≤ CAIRN_DISTRO_MAX_STATES states per apply, one apply in flight; the last
 * page is followed by DISTRO_LOAD_END, which drops what the load did not bring. Loop thread. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "cairn_requests.h"
#include "distro_load.h"
#include "replicator_distro.h"
#include "replicator_raft.h"
#include "replicator_read.h"
#include "replicator_sync.h"

#define STATS_EVERY_MS 1000
#define CURSOR_SEP '\x1f' /* the engine's cursor string: "<ns>\x1f<service>", "" first */

struct repl_load {
    distro_load *eng;
    uv_timer_t timer, stats_timer;
    bool timers_open;
    bool stats_in_flight;
    bool store_fresh;
    uint64_t store_epoch;
    bool committing;  /* DISTRO_LOAD_END in flight: no step until it ends */
    bool ready;
    uint64_t load_id;
    int page_timeout_ms;
    int64_t started_ms;
    cairn_gauge *load_seconds, *loading;
    cairn_counter *pages, *failed;
    /* what each peer last said of itself (by member index), kept also before the engine exists
     * and after READY (verify reads the view hash, which the membership keeps: repl_member) */
    bool heard[CAIRN_CLUSTER_MAX_MEMBERS];
    cairn_peer_phase phase[CAIRN_CLUSTER_MAX_MEMBERS];
    bool fresh[CAIRN_CLUSTER_MAX_MEMBERS];
};

static void pump(replicator *r);

static int member_of(const replicator *r, const char *id)
{
    for (size_t i = 0; i < r->cfg.count; i++)
        if (strcmp(r->cfg.members[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* ---- a page: read from the peer, applied in chunks ---------------------------------------- */

typedef struct page_job {
    uint64_t request;
    cairn_reply rep; /* the peer's DISTRO_SNAPSHOT reply; states move out as they are applied */
    uint32_t next;   /* first state not applied yet */
} page_job;

static void page_failed(replicator *r, page_job *j, const char *why)
{
    log_warn("distro load: page %llu failed: %s", (unsigned long long)j->request, why);
    cairn_counter_inc(r->load->failed);
    distro_load_page_failed(r->load->eng, j->request, repl_now_ms());
    cairn_reply_free(&j->rep);
    free(j);
    pump(r);
}

static void apply_next(replicator *r, page_job *j);

typedef struct applied {
    replicator *r;
    page_job *j;
    uint32_t n;
    cairn_err rc;
} applied;

static void on_applied_loop(replicator *r, void *arg)
{
    applied *a = arg;
    page_job *j = a->j;
    if (r->closed || !r->load) {
        cairn_reply_free(&j->rep);
        free(j);
    } else if (a->rc != CAIRN_OK) {
        page_failed(r, j, cairn_err_name(a->rc));
    } else {
        j->next += a->n;
        apply_next(r, j);
    }
    free(a);
}

static void on_applied(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    (void)st;
    applied *a = arg;
    a->rc = rc == CAIRN_OK ? rep->code : rc;
    cairn_reply_free(rep);
    replicator_post(a->r, on_applied_loop, a);
}

/* The engine's cursor for the reply's (cursor_ns, cursor_svc); "" when there is none. */
static char *cursor_of(const cairn_reply *rep)
{
    if (!rep->more || !rep->cursor_ns || !rep->cursor_svc)
        return strdup("");
    size_t a = strlen(rep->cursor_ns), b = strlen(rep->cursor_svc);
    char *c = malloc(a + b + 2);
    if (c) {
        memcpy(c, rep->cursor_ns, a);
        c[a] = CURSOR_SEP;
        memcpy(c + a + 1, rep->cursor_svc, b + 1);
    }
    return c;
}

/* Applies the next chunk of the page, or reports the page done. */
static void apply_next(replicator *r, page_job *j)
{
    repl_load *l = r->load;
    uint32_t left = j->rep.state_count - j->next;
    if (left == 0) {
        char *cursor = cursor_of(&j->rep);
        if (!cursor) {
            page_failed(r, j, "out of memory");
            return;
        }
        cairn_counter_inc(l->pages);
        distro_load_page_ok(l->eng, j->request, cursor, !j->rep.more, repl_now_ms());
        free(cursor);
        cairn_reply_free(&j->rep);
        free(j);
        pump(r);
        return;
    }
    uint32_t n = left > CAIRN_DISTRO_MAX_STATES ? CAIRN_DISTRO_MAX_STATES : left;
    cairn_distro_state *states = calloc(n, sizeof *states);
    applied *a = calloc(1, sizeof *a);
    cairn_rpc_client *registry = repl_sync_registry(r);
    if (!states || !a || !registry) {
        free(states);
        free(a);
        page_failed(r, j, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < n; i++) { /* moved: the reply no longer frees them */
        states[i] = j->rep.states[j->next + i];
        memset(&j->rep.states[j->next + i], 0, sizeof states[i]);
    }
    cairn_request rq;
    cairn_status st;
    if (cairn_request_distro_apply(&rq, states, n, CAIRN_DISTRO_FORCE, l->load_id, &st) !=
        CAIRN_OK) {
        free(a);
        page_failed(r, j, st.message);
        return;
    }
    *a = (applied){.r = r, .j = j, .n = n};
    cairn_rpc_call_async(registry, &rq, on_applied, a);
    cairn_request_free(&rq);
}

static void on_page_read(replicator *r, void *arg, cairn_err rc, cairn_reply *rep)
{
    page_job *j = arg;
    if (r->closed || !r->load) {
        free(j);
        return;
    }
    if (rc != CAIRN_OK || rep->code != CAIRN_OK) {
        char why[160];
        snprintf(why, sizeof why, "%s%s%s", cairn_err_name(rc != CAIRN_OK ? rc : rep->code),
                 rep->message ? ": " : "", rep->message ? rep->message : "");
        page_failed(r, j, why);
        return;
    }
    j->rep = *rep; /* taken over */
    cairn_reply_init(rep);
    apply_next(r, j);
}

static void fetch_page(replicator *r, const distro_load_action *a)
{
    repl_load *l = r->load;
    int idx = member_of(r, a->peer);
    page_job *j = calloc(1, sizeof *j);
    char *cur = strdup(a->cursor);
    cairn_request rq;
    cairn_status st;
    char *sep = cur ? strchr(cur, CURSOR_SEP) : NULL;
    if (sep)
        *sep = '\0';
    if (a->first_page) {
        do
            randombytes_buf(&l->load_id, sizeof l->load_id);
        while (l->load_id == 0);
        log_info("distro load: loading from %s (load %016llx)", a->peer,
                 (unsigned long long)l->load_id);
    }
    if (!j || !cur || idx < 0 ||
        cairn_request_distro_snapshot(&rq, sep ? cur : NULL, sep ? sep + 1 : NULL, 0, &st) !=
            CAIRN_OK) {
        free(cur);
        free(j);
        distro_load_page_failed(l->eng, a->request, repl_now_ms());
        return;
    }
    free(cur);
    j->request = a->request;
    cairn_reply_init(&j->rep);
    repl_read_call(r, (size_t)idx, &rq, l->page_timeout_ms, on_page_read, j);
    cairn_request_free(&rq);
}

/* ---- the end of a load --------------------------------------------------------------------- */

typedef struct ended {
    replicator *r;
    cairn_err rc;
} ended;

static void on_load_end_loop(replicator *r, void *arg)
{
    ended *e = arg;
    if (!r->closed && r->load) {
        r->load->committing = false;
        if (e->rc != CAIRN_OK) /* the load's pages stay; verify rounds repair what is left */
            log_warn("distro load: ending the load failed (%s); keeping what it brought",
                     cairn_err_name(e->rc));
        pump(r);
    }
    free(e);
}

static void on_load_end(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    (void)st;
    ended *e = arg;
    e->rc = rc == CAIRN_OK ? rep->code : rc;
    cairn_reply_free(rep);
    replicator_post(e->r, on_load_end_loop, e);
}

static void commit(replicator *r)
{
    repl_load *l = r->load;
    cairn_request rq;
    cairn_status st;
    ended *e = calloc(1, sizeof *e);
    cairn_rpc_client *registry = repl_sync_registry(r);
    if (!e || !registry || cairn_request_distro_load_end(&rq, l->load_id, &st) != CAIRN_OK) {
        free(e);
        log_warn("distro load: cannot end the load; keeping what it brought");
        return;
    }
    e->r = r;
    l->committing = true;
    cairn_rpc_call_async(registry, &rq, on_load_end, e);
    cairn_request_free(&rq);
}

/* ---- the engine's steps ---------------------------------------------------------------------- */

static void became_ready(replicator *r)
{
    repl_load *l = r->load;
    distro_load_stats s;
    distro_load_get_stats(l->eng, &s);
    l->ready = true;
    cairn_gauge_set(l->loading, 0);
    if (s.load_ms >= 0)
        cairn_gauge_set(l->load_seconds, (double)s.load_ms / 1000.0);
    log_info("distro: %s (%lld ms after start, %llu pages)", distro_load_reason(l->eng),
             (long long)(repl_now_ms() - l->started_ms), (unsigned long long)s.pages);
    if (s.raft_lagging) /* no leader, or a slow catch-up: persistent reads may be stale */
        log_warn("ready before raft caught up (raft.ready_timeout_ms %lld): persistent data may "
                 "lag until it does",
                 (long long)cairn_config_int(r->role->config, "raft.ready_timeout_ms"));
    replicator_self_ready_gate(r);
    repl_verify_start(r);
}

static void on_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void pump(replicator *r)
{
    repl_load *l = r->load;
    if (!l || !l->eng || l->ready || l->committing || r->stopping)
        return;
    for (int i = 0; i < 64; i++) {
        int64_t now = repl_now_ms();
        distro_load_action a;
        distro_load_step(l->eng, now, &a);
        cairn_gauge_set(l->loading, distro_load_phase(l->eng) == DISTRO_PHASE_LOADING ? 1 : 0);
        switch (a.kind) {
        case DISTRO_LOAD_WAIT:
            uv_timer_stop(&l->timer);
            if (a.at_ms != INT64_MAX)
                uv_timer_start(&l->timer, on_timer, (uint64_t)(a.at_ms > now ? a.at_ms - now : 0),
                               0);
            return;
        case DISTRO_LOAD_FETCH_PAGE:
            fetch_page(r, &a);
            break;
        case DISTRO_LOAD_COMMIT:
            commit(r);
            if (l->committing)
                return;
            break;
        case DISTRO_LOAD_WARM_START:
            log_info("distro load: warm start from the local store");
            break;
        case DISTRO_LOAD_READY:
            became_ready(r);
            return;
        }
    }
    uv_timer_start(&l->timer, on_timer, 10, 0); /* many steps: go on after other work */
}

/* ---- the registry's STATS: store_fresh for the PING, the epoch for verify -------------------- */

typedef struct stats_job {
    replicator *r;
    cairn_err rc;
    bool fresh;
    uint64_t epoch;
} stats_job;

static distro_remote_phase remote_phase(cairn_peer_phase p)
{
    switch (p) {
    case CAIRN_PHASE_READY: return DISTRO_REMOTE_READY;
    case CAIRN_PHASE_STOPPING: return DISTRO_REMOTE_STOPPING;
    default: return DISTRO_REMOTE_STARTING;
    }
}

static void create_engine(replicator *r)
{
    repl_load *l = r->load;
    const char *peers[CAIRN_CLUSTER_MAX_MEMBERS];
    size_t n = 0;
    for (size_t i = 0; i < r->cfg.count; i++)
        if (i != r->cfg.self)
            peers[n++] = r->cfg.members[i].id;
    distro_load_config cfg;
    distro_load_config_defaults(&cfg);
    cfg.load_wait_ms = cairn_config_int(r->role->config, "distro.load_wait_ms");
    cfg.alone_wait_ms = cairn_config_int(r->role->config, "distro.load_alone_ms");
    cfg.raft_ready_timeout_ms = cairn_config_int(r->role->config, "raft.ready_timeout_ms");
    l->eng = distro_load_new(&cfg, peers, n, l->store_fresh, l->started_ms);
    if (!l->eng) {
        log_error("distro load: out of memory");
        return;
    }
    distro_load_set_raft_caught_up(l->eng, repl_raft_caught_up(r));
    log_info("distro load: store %s; %zu peers", l->store_fresh ? "fresh" : "holds data", n);
    for (size_t i = 0; i < r->cfg.count; i++) /* what the peers said before the engine existed */
        if (i != r->cfg.self && l->heard[i] && r->members.m[i].state != CAIRN_MEMBER_DOWN)
            distro_load_peer_report(l->eng, r->cfg.members[i].id, remote_phase(l->phase[i]),
                                    l->fresh[i], repl_now_ms());
}

static void on_stats_loop(replicator *r, void *arg)
{
    stats_job *s = arg;
    repl_load *l = r->load;
    if (!r->closed && l) {
        l->stats_in_flight = false;
        if (s->rc == CAIRN_OK) {
            l->store_fresh = s->fresh;
            l->store_epoch = s->epoch;
            pthread_mutex_lock(&r->card.lock);
            r->card.ping.store_fresh = s->fresh;
            pthread_mutex_unlock(&r->card.lock);
            if (!l->eng) {
                create_engine(r);
                pump(r);
            }
        }
    }
    free(s);
}

static void on_stats(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    (void)st;
    stats_job *s = arg;
    s->rc = rc == CAIRN_OK ? rep->code : rc;
    s->fresh = rep->store_fresh;
    s->epoch = rep->store_epoch;
    cairn_reply_free(rep);
    replicator_post(s->r, on_stats_loop, s);
}

static void on_stats_timer(uv_timer_t *t)
{
    replicator *r = t->data;
    repl_load *l = r->load;
    cairn_rpc_client *registry = repl_sync_registry(r);
    if (!l || l->stats_in_flight || !registry || r->stopping)
        return;
    stats_job *s = calloc(1, sizeof *s);
    cairn_request rq;
    cairn_status st;
    if (!s || cairn_request_stats(&rq, &st) != CAIRN_OK) {
        free(s);
        return;
    }
    s->r = r;
    l->stats_in_flight = true;
    cairn_rpc_call_async(registry, &rq, on_stats, s);
    cairn_request_free(&rq);
}

/* ---- the module's life ------------------------------------------------------------------------ */

void repl_load_start(replicator *r)
{
    repl_load *l = calloc(1, sizeof *l);
    if (!l) {
        log_error("distro load: out of memory; turning READY without a load");
        replicator_self_ready_gate(r);
        return;
    }
    r->load = l;
    l->started_ms = repl_now_ms();
    l->page_timeout_ms = cairn_config_int(r->role->config, "distro.load_page_timeout_ms");
    cairn_metrics *m = r->role->metrics;
    l->load_seconds = cairn_metrics_gauge(m, "load_seconds",
                                          "How long the Distro load on start took (start to "
                                          "loaded), 0 until it ends.", NULL);
    l->loading = cairn_metrics_gauge(m, "loading", "1 while loading a peer's snapshot.", NULL);
    l->pages = cairn_metrics_counter(m, "load_pages_total",
                                     "Snapshot pages loaded from peers and applied.", NULL);
    l->failed = cairn_metrics_counter(m, "load_page_failures_total",
                                      "Snapshot pages that failed (the load starts over).", NULL);
    uv_timer_init(&r->loop, &l->timer);
    uv_timer_init(&r->loop, &l->stats_timer);
    l->timer.data = l->stats_timer.data = r;
    l->timers_open = true;
    uv_timer_start(&l->stats_timer, on_stats_timer, 0, STATS_EVERY_MS);
}

void repl_load_peer_report(replicator *r, size_t idx, const cairn_peer_ping *ping)
{
    repl_load *l = r->load;
    if (!l)
        return;
    l->heard[idx] = true;
    l->phase[idx] = ping->phase;
    l->fresh[idx] = ping->store_fresh;
    if (!l->eng || l->ready)
        return;
    distro_load_peer_report(l->eng, r->cfg.members[idx].id, remote_phase(ping->phase),
                            ping->store_fresh, repl_now_ms());
    pump(r);
}

void repl_load_peer_lost(replicator *r, size_t idx)
{
    repl_load *l = r->load;
    if (!l)
        return;
    l->heard[idx] = false;
    if (!l->eng || l->ready)
        return;
    distro_load_peer_lost(l->eng, r->cfg.members[idx].id, repl_now_ms());
    pump(r);
}

void repl_load_raft_progress(replicator *r)
{
    repl_load *l = r->load;
    if (!l || !l->eng || l->ready || !repl_raft_caught_up(r))
        return;
    distro_load_set_raft_caught_up(l->eng, true);
    pump(r);
}

bool repl_load_peer_view_hash(const replicator *r, size_t idx, uint64_t *out)
{
    if (!r->load || !r->load->heard[idx])
        return false;
    *out = r->members.m[idx].view_hash; /* learnt from the same PING or PONG */
    return true;
}

uint64_t repl_load_store_epoch(const replicator *r)
{
    return r->load ? r->load->store_epoch : 0;
}

void repl_load_close_handles(replicator *r)
{
    repl_load *l = r->load;
    if (l && l->timers_open) {
        uv_close((uv_handle_t *)&l->timer, NULL);
        uv_close((uv_handle_t *)&l->stats_timer, NULL);
        l->timers_open = false;
    }
}

void repl_load_destroy(replicator *r)
{
    if (r->load) {
        distro_load_free(r->load->eng);
        free(r->load);
        r->load = NULL;
    }
}
