/* Distro sync, the owner's side (cluster-design §2.5 steps 3-6): follow the registry's change
 * events, mark each changed service this node owns dirty in every peer's scheduler
 * (distro_sync.h), and on the loop's timer flush a due batch: read its states with DISTRO_FETCH
 * (async rpc) and send them to the peer as DISTRO_SYNC on a context of the peer's REQ socket.
 * The ack (or its absence) goes back to the scheduler. Threads: the SUB's aio callback and the
 * rpc/peer aio callbacks run on nng threads and only post to the loop; everything else runs on
 * the loop thread. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "cairn_clock.h"
#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "cairn_peer_distro.h"
#include "cairn_requests.h"
#include "cairn_sub.h"
#include "distro_sync.h"
#include "replicator_sync.h"

#define SYNC_TIMEOUT_MS 3000 /* a DISTRO_SYNC's send and ack together */

typedef struct sync_peer {
    repl_sync *s;
    size_t idx;
    distro_sync *sched;
    bool ctx_open;
    nng_ctx ctx;
    nng_aio *aio;
    bool sending; /* the aio is on its send step */
    uint64_t batch; /* in flight, 0 none */
    uint8_t nonce[CAIRN_PEER_NONCE_BYTES];
    int64_t sent_ms;
    uint64_t seen_syncs, seen_fail[DISTRO_SYNC_FAIL_COUNT];
    cairn_counter *syncs, *fails[DISTRO_SYNC_FAIL_COUNT];
    cairn_gauge *dirty, *lag;
} sync_peer;

struct repl_sync {
    replicator *r;
    cairn_rpc_client *registry;
    cairn_sub sub;
    nng_aio *sub_aio;
    uv_timer_t timer;
    bool timer_open;
    distro_view *view;
    uint64_t view_built; /* the members' view_version it was built from */
    size_t count;        /* member count; peers[self] unused */
    sync_peer peers[CAIRN_CLUSTER_MAX_MEMBERS];
    distro_sync *scheds[CAIRN_CLUSTER_MAX_MEMBERS]; /* the peers', packed */
    size_t sched_count;
    int64_t tick_ms;
    /* the full pass (loop thread): every owned service marked dirty on every peer */
    uint64_t scanned_view; /* the view_version of the last pass started, 0 none */
    bool scanning;
    atomic_bool rescan;    /* another pass is due (the event stream may have lost changes) */
};

const distro_view *repl_sync_view(replicator *r)
{
    repl_sync *s = r->sync;
    repl_members *ms = &r->members;
    if (s->view && s->view_built == ms->view_version)
        return s->view;
    const char *owners[CAIRN_CLUSTER_MAX_MEMBERS];
    for (size_t k = 0; k < ms->owner_count; k++)
        owners[k] = ms->m[ms->owners[k]].id;
    distro_view *v = distro_view_new(owners, ms->owner_count, ms->m[ms->self].id);
    if (!v)
        return s->view; /* out of memory: the previous view, one more round */
    distro_view_free(s->view);
    s->view = v;
    s->view_built = ms->view_version;
    return v;
}

/* ---- change events ------------------------------------------------------------------------- */

typedef struct changed {
    char *ns, *svc;
} changed;

static void on_changed(replicator *r, void *arg)
{
    changed *c = arg;
    if (!r->closed && r->sync) {
        distro_key k = {c->ns, c->svc};
        if (distro_sync_mark_owned(r->sync->scheds, r->sync->sched_count, repl_sync_view(r), &k,
                                   repl_now_ms()) != 0)
            log_error("out of memory marking %s %s dirty", c->ns, c->svc);
    }
    free(c->ns);
    free(c->svc);
    free(c);
}

/* One change event of the registry: the loop hears of a changed service (ticks and events that
 * do not decode are skipped). */
static void post_change(void *arg, const char *event, size_t len)
{
    repl_sync *s = arg;
    cairn_change_event ev;
    cairn_status st;
    if (cairn_event_decode(event, len, &ev, &st) != CAIRN_OK)
        return;
    changed *c = calloc(1, sizeof *c);
    if (c && ev.kind != CAIRN_CHANGE_TICK && ev.namespace_id && ev.service &&
        (c->ns = strdup(ev.namespace_id)) && (c->svc = strdup(ev.service))) {
        replicator_post(s->r, on_changed, c);
    } else if (c) {
        free(c->ns);
        free(c);
    }
    cairn_event_free(&ev);
}

static void on_sub_aio(void *arg)
{
    repl_sync *s = arg;
    int rv = nng_aio_result(s->sub_aio);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(s->sub_aio);
        /* One commit's events back to back; a broken framing drops the rest of the message */
        cairn_status st;
        cairn_event_each(nng_msg_body(msg), nng_msg_len(msg), post_change, s, &st);
        nng_msg_free(msg);
    }
    nng_recv_aio(s->sub.sock, s->sub_aio);
}

/* ---- the outcome of a batch ---------------------------------------------------------------- */

typedef struct outcome {
    size_t idx;
    uint64_t batch;
    bool ok;
    distro_sync_failure why;
} outcome;

static void on_outcome(replicator *r, void *arg)
{
    outcome *o = arg;
    if (!r->closed && r->sync) {
        sync_peer *p = &r->sync->peers[o->idx];
        int64_t now = repl_now_ms();
        if (p->batch == o->batch) {
            p->batch = 0;
            if (o->ok)
                distro_sync_batch_done(p->sched, o->batch, now);
            else
                distro_sync_batch_failed(p->sched, o->batch, o->why, now);
        }
    }
    free(o);
}

static void post_outcome(repl_sync *s, size_t idx, uint64_t batch, bool ok,
                         distro_sync_failure why)
{
    outcome *o = calloc(1, sizeof *o);
    if (!o)
        return;
    *o = (outcome){idx, batch, ok, why};
    replicator_post(s->r, on_outcome, o);
}

/* ---- sending DISTRO_SYNC and reading its ack (nng thread) ---------------------------------- */

static bool check_ack(sync_peer *p, nng_msg *msg, distro_sync_failure *why)
{
    replicator *r = p->s->r;
    cairn_peer_envelope env;
    char *body = NULL;
    size_t body_len = 0;
    cairn_status st;
    cairn_peer_sync_ack ack;
    cairn_peer_verdict v =
        cairn_peer_guard_open(&r->guard, nng_msg_body(msg), nng_msg_len(msg), p->nonce,
                              cairn_wall_ms(), &env, &body, &body_len, &st);
    const char *want = r->cfg.members[p->idx].id;
    if (v == CAIRN_PEER_ACCEPTED &&
        (env.type != CAIRN_PEER_DISTRO_SYNC_ACK || strcmp(env.from, want) != 0)) {
        v = CAIRN_PEER_BAD_FORMAT;
        cairn_fail(&st, CAIRN_E_DECODE, "answer to a DISTRO_SYNC to %s is a %s from %s", want,
                   cairn_peer_type_name(env.type), env.from);
    }
    if (v == CAIRN_PEER_ACCEPTED && cairn_peer_sync_ack_decode(body, body_len, &ack, &st))
        v = CAIRN_PEER_BAD_FORMAT;
    free(body);
    *why = DISTRO_SYNC_FAIL_REJECTED;
    if (v != CAIRN_PEER_ACCEPTED) {
        repl_count_refusal(r, v, "an answer to a DISTRO_SYNC", &st);
        return false;
    }
    if (ack.code != CAIRN_OK || ack.rejected > 0)
        log_warn("peer %s: DISTRO_SYNC answered code %u (%u applied, %u stale, %u rejected)",
                 want, ack.code, ack.applied, ack.stale, ack.rejected);
    return ack.code == CAIRN_OK;
}

static void on_sync_aio(void *arg)
{
    sync_peer *p = arg;
    int rv = nng_aio_result(p->aio);
    uint64_t batch = p->batch; /* set by the loop before the send: stable until the outcome */
    distro_sync_failure why = DISTRO_SYNC_FAIL_TIMEOUT;
    if (p->sending) {
        p->sending = false;
        int64_t left = p->sent_ms + SYNC_TIMEOUT_MS - repl_now_ms();
        if (rv == 0 && left > 0) {
            nng_aio_set_timeout(p->aio, (nng_duration)left);
            nng_ctx_recv(p->ctx, p->aio);
            return;
        }
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(p->aio));
            nng_aio_set_msg(p->aio, NULL);
        }
        if (rv == NNG_ECLOSED)
            return;
        repl_peer *rp = &p->s->r->peers[p->idx];
        post_outcome(p->s, p->idx, batch, false,
                     atomic_load(&rp->pipes) == 0 ? DISTRO_SYNC_FAIL_UNREACHABLE : why);
        return;
    }
    if (rv == NNG_ECLOSED)
        return;
    bool ok = false;
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(p->aio);
        ok = check_ack(p, msg, &why);
        nng_msg_free(msg);
    }
    post_outcome(p->s, p->idx, batch, ok, why);
}

/* Seals the states as a DISTRO_SYNC to peer p and sends it. Loop thread. */
static bool send_sync(sync_peer *p, const cairn_distro_state *states, uint32_t n,
                      distro_sync_failure *why)
{
    replicator *r = p->s->r;
    repl_peer *rp = &r->peers[p->idx];
    *why = DISTRO_SYNC_FAIL_UNREACHABLE;
    if (!rp->open)
        return false;
    if (!p->ctx_open) {
        if (nng_ctx_open(&p->ctx, rp->sock) != 0 || nng_aio_alloc(&p->aio, on_sync_aio, p) != 0)
            return false;
        p->ctx_open = true;
    }
    char *body = NULL, *buf = NULL;
    size_t body_len, len;
    cairn_peer_envelope env;
    cairn_peer_envelope_init(&env, CAIRN_PEER_DISTRO_SYNC, r->cfg.members[r->cfg.self].id,
                             r->cfg.members[p->idx].id, r->incarnation, cairn_wall_ms());
    nng_msg *msg = NULL;
    bool ok = cairn_peer_sync_encode(states, n, &body, &body_len) == CAIRN_OK &&
              cairn_peer_guard_seal(&r->guard, &env, NULL, body, body_len, &buf, &len) ==
                  CAIRN_OK;
    if (ok && len > CAIRN_PEER_MAX_BYTES) {
        *why = DISTRO_SYNC_FAIL_TOO_LARGE;
        ok = false;
    }
    ok = ok && nng_msg_alloc(&msg, 0) == 0 && nng_msg_append(msg, buf, len) == 0;
    free(body);
    free(buf);
    if (!ok) {
        nng_msg_free(msg);
        return false;
    }
    memcpy(p->nonce, env.nonce, sizeof p->nonce);
    p->sent_ms = repl_now_ms();
    p->sending = true;
    nng_aio_set_msg(p->aio, msg);
    nng_aio_set_timeout(p->aio, SYNC_TIMEOUT_MS);
    nng_ctx_send(p->ctx, p->aio);
    return true;
}

/* ---- reading a batch's states (DISTRO_FETCH) ----------------------------------------------- */

typedef struct fetched {
    repl_sync *s;
    size_t idx;
    uint64_t batch;
    cairn_err rc;
    cairn_reply rep;
} fetched;

static void on_fetched_loop(replicator *r, void *arg)
{
    fetched *f = arg;
    sync_peer *p = r->closed || !r->sync ? NULL : &r->sync->peers[f->idx];
    if (p && p->batch == f->batch) {
        distro_sync_failure why = DISTRO_SYNC_FAIL_REGISTRY;
        /* a state without a version was never written as ephemeral: nothing to send */
        uint32_t n = 0;
        for (uint32_t i = 0; i < f->rep.state_count; i++)
            if (f->rep.states[i].version.epoch != 0) {
                cairn_distro_state tmp = f->rep.states[n];
                f->rep.states[n++] = f->rep.states[i];
                f->rep.states[i] = tmp;
            }
        if (f->rc == CAIRN_OK && n == 0) {
            p->batch = 0;
            distro_sync_batch_done(p->sched, f->batch, repl_now_ms());
        } else if (f->rc != CAIRN_OK || !send_sync(p, f->rep.states, n, &why)) {
            if (f->rc != CAIRN_OK)
                log_warn("distro sync: reading a batch for %s failed: %s",
                         r->cfg.members[f->idx].id, f->rep.message ? f->rep.message : "");
            p->batch = 0;
            distro_sync_batch_failed(p->sched, f->batch, why, repl_now_ms());
        }
    }
    cairn_reply_free(&f->rep);
    free(f);
}

static void on_fetched(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    fetched *f = arg;
    f->rc = rc == CAIRN_OK ? rep->code : rc;
    f->rep = *rep; /* taken over */
    cairn_reply_init(rep);
    if (rc != CAIRN_OK && !f->rep.message)
        f->rep.message = strdup(st->message);
    replicator_post(f->s->r, on_fetched_loop, f);
}

static void flush(repl_sync *s, sync_peer *p, const distro_sync_batch *b)
{
    const char *ns[CAIRN_DISTRO_MAX_STATES], *svc[CAIRN_DISTRO_MAX_STATES];
    uint32_t n = b->n > CAIRN_DISTRO_MAX_STATES ? CAIRN_DISTRO_MAX_STATES : (uint32_t)b->n;
    for (uint32_t i = 0; i < n; i++) {
        ns[i] = b->keys[i].namespace_id;
        svc[i] = b->keys[i].service;
    }
    cairn_request rq;
    cairn_status st;
    fetched *f = calloc(1, sizeof *f);
    p->batch = b->id;
    if (!f || cairn_request_distro_fetch(&rq, ns, svc, n, &st) != CAIRN_OK) {
        free(f);
        p->batch = 0;
        distro_sync_batch_failed(p->sched, b->id, DISTRO_SYNC_FAIL_REGISTRY, repl_now_ms());
        return;
    }
    *f = (fetched){.s = s, .idx = p->idx, .batch = b->id};
    cairn_reply_init(&f->rep);
    cairn_rpc_call_async(s->registry, &rq, on_fetched, f);
    cairn_request_free(&rq);
}

/* ---- the full pass ---------------------------------------------------------------------------
 * Change events only tell what changes from now on. When the owner list changes (self turning
 * READY, a peer joining or returning, an owner leaving) and whenever the subscription to the
 * registry's events (re)connects, every ephemeral state is read page by page (DISTRO_SNAPSHOT,
 * async) and each service self owns is marked dirty on every peer: a returning peer gets all
 * that self owns, a new owner re-publishes what it took over, and changes missed by the event
 * stream are sent. The dirty sets stay bounded by the number of services. */

typedef struct page {
    repl_sync *s;
    cairn_err rc;
    cairn_reply rep;
} page;

static void scan_next(repl_sync *s, const char *after_ns, const char *after_svc);

static void on_page_loop(replicator *r, void *arg)
{
    page *pg = arg;
    repl_sync *s = r->sync;
    if (!r->closed && s) {
        int64_t now = repl_now_ms();
        const distro_view *v = repl_sync_view(r);
        for (uint32_t i = 0; pg->rc == CAIRN_OK && i < pg->rep.state_count; i++) {
            distro_key k = {pg->rep.states[i].namespace_id, pg->rep.states[i].service};
            if (k.namespace_id && k.service)
                distro_sync_mark_owned(s->scheds, s->sched_count, v, &k, now);
        }
        if (pg->rc == CAIRN_OK && pg->rep.more && pg->rep.cursor_ns && pg->rep.cursor_svc &&
            !r->stopping) {
            scan_next(s, pg->rep.cursor_ns, pg->rep.cursor_svc);
        } else {
            s->scanning = false;
            if (pg->rc != CAIRN_OK) {
                log_warn("distro sync: reading the registry's states failed; will retry");
                atomic_store(&s->rescan, true);
            }
        }
    }
    cairn_reply_free(&pg->rep);
    free(pg);
}

static void on_page(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    (void)st;
    page *pg = arg;
    pg->rc = rc == CAIRN_OK ? rep->code : rc;
    pg->rep = *rep; /* taken over */
    cairn_reply_init(rep);
    replicator_post(pg->s->r, on_page_loop, pg);
}

static void scan_next(repl_sync *s, const char *after_ns, const char *after_svc)
{
    cairn_request rq;
    cairn_status st;
    page *pg = calloc(1, sizeof *pg);
    if (!pg || cairn_request_distro_snapshot(&rq, after_ns, after_svc, 0, &st) != CAIRN_OK) {
        free(pg);
        s->scanning = false;
        atomic_store(&s->rescan, true);
        return;
    }
    pg->s = s;
    cairn_reply_init(&pg->rep);
    cairn_rpc_call_async(s->registry, &rq, on_page, pg);
    cairn_request_free(&rq);
}

/* On each tick: a pass when the owner list moved or one was asked for, one at a time. */
static void maybe_scan(repl_sync *s)
{
    uint64_t view = s->r->members.view_version;
    if (s->scanning || (view == s->scanned_view && !atomic_load(&s->rescan)))
        return;
    atomic_store(&s->rescan, false);
    s->scanned_view = view;
    s->scanning = true;
    scan_next(s, NULL, NULL);
}

static void on_sub_pipe(void *arg, bool connected)
{
    if (connected)
        atomic_store(&((repl_sync *)arg)->rescan, true);
}

/* ---- the timer ----------------------------------------------------------------------------- */

static distro_peer_state peer_state(const repl_member *m)
{
    if (!m->heard)
        return DISTRO_PEER_UNKNOWN;
    switch (m->state) {
    case CAIRN_MEMBER_DOWN: return DISTRO_PEER_DOWN;
    case CAIRN_MEMBER_STARTING: return DISTRO_PEER_STARTING;
    case CAIRN_MEMBER_SUSPICIOUS: return DISTRO_PEER_SUSPICIOUS;
    case CAIRN_MEMBER_UP: return DISTRO_PEER_UP;
    }
    return DISTRO_PEER_UNKNOWN;
}

static void publish_stats(sync_peer *p, int64_t now)
{
    distro_sync_stats stats;
    distro_sync_get_stats(p->sched, now, &stats);
    cairn_gauge_set(p->dirty, (double)stats.dirty);
    cairn_gauge_set(p->lag, (double)stats.lag_ms / 1000.0);
    cairn_counter_add(p->syncs, stats.syncs - p->seen_syncs);
    p->seen_syncs = stats.syncs;
    for (int f = 0; f < DISTRO_SYNC_FAIL_COUNT; f++) {
        cairn_counter_add(p->fails[f], stats.failures[f] - p->seen_fail[f]);
        p->seen_fail[f] = stats.failures[f];
    }
}

static void on_tick(uv_timer_t *t)
{
    replicator *r = t->data;
    repl_sync *s = r->sync;
    if (r->stopping)
        return;
    int64_t now = repl_now_ms();
    for (size_t i = 0; i < s->count; i++)
        if (s->peers[i].sched)
            distro_sync_set_peer_state(s->peers[i].sched, peer_state(&r->members.m[i]), now);
    maybe_scan(s);
    for (size_t i = 0; i < s->count; i++) {
        sync_peer *p = &s->peers[i];
        if (!p->sched)
            continue;
        distro_sync_batch b;
        if (p->batch == 0 && distro_sync_take_batch(p->sched, now, &b))
            flush(s, p, &b);
        publish_stats(p, now);
    }
}

/* ---- start and stop ------------------------------------------------------------------------ */

static void metrics_for(repl_sync *s, sync_peer *p)
{
    cairn_metrics *reg = s->r->role->metrics;
    char labels[CAIRN_CLUSTER_ID_MAX + 64];
    const char *id = s->r->cfg.members[p->idx].id;
    snprintf(labels, sizeof labels, "peer=\"%s\"", id);
    p->syncs = cairn_metrics_counter(reg, "syncs_total", "DISTRO_SYNC batches a peer acked.",
                                     labels);
    p->dirty = cairn_metrics_gauge(reg, "dirty_services",
                                   "Owned services changed and not yet acked by the peer.", labels);
    p->lag = cairn_metrics_gauge(reg, "sync_lag_seconds",
                                 "Age of the oldest change the peer has not acked.", labels);
    for (int f = 0; f < DISTRO_SYNC_FAIL_COUNT; f++) {
        snprintf(labels, sizeof labels, "peer=\"%s\",reason=\"%s\"", id,
                 distro_sync_failure_name((distro_sync_failure)f));
        p->fails[f] = cairn_metrics_counter(reg, "sync_failures_total",
                                            "DISTRO_SYNC batches that failed, by reason.", labels);
    }
}

static void start_timer(replicator *r, void *arg)
{
    (void)arg;
    if (r->closed || r->stopping || !r->sync)
        return;
    repl_sync *s = r->sync;
    uv_timer_init(&r->loop, &s->timer);
    s->timer.data = r;
    s->timer_open = true;
    uv_timer_start(&s->timer, on_tick, (uint64_t)s->tick_ms, (uint64_t)s->tick_ms);
}

cairn_err repl_sync_start(replicator *r, cairn_status *st)
{
    repl_sync *s = calloc(1, sizeof *s);
    if (!s)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    r->sync = s;
    s->r = r;
    s->count = r->cfg.count;
    distro_sync_config cfg;
    distro_sync_config_defaults(&cfg);
    cfg.sync_delay_ms = cairn_config_int(r->role->config, "distro.sync_delay_ms");
    cfg.batch_max_services = (size_t)cairn_config_int(r->role->config, "distro.batch_max_services");
    cfg.batch_max_bytes = CAIRN_DISTRO_PAGE_MAX_BYTES;
    s->tick_ms = cfg.sync_delay_ms / 2 < 5 ? 5 : cfg.sync_delay_ms / 2 > 50 ? 50
                                                                            : cfg.sync_delay_ms / 2;
    for (size_t i = 0; i < s->count; i++) {
        if (i == r->cfg.self)
            continue;
        sync_peer *p = &s->peers[i];
        p->s = s;
        p->idx = i;
        if (!(p->sched = distro_sync_new(&cfg, r->cfg.members[i].id)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        s->scheds[s->sched_count++] = p->sched;
        metrics_for(s, p);
    }
    char url[PATH_MAX + 64], events[PATH_MAX + 64];
    if (cairn_endpoint_url(r->role->run_dir, CAIRN_EP_REGISTRY_COMMANDS, url, sizeof url) != 0 ||
        cairn_endpoint_url(r->role->run_dir, CAIRN_EP_REGISTRY_EVENTS, events, sizeof events))
        return cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path");
    if (!(s->registry = cairn_rpc_client_open(url, "registry", SYNC_TIMEOUT_MS, st)))
        return st->code;
    /* a (re)connection may follow lost events: a full pass covers them */
    if (cairn_sub_open(&s->sub, events, CAIRN_EVENT_MAX_BYTES, 0, on_sub_pipe, s, st) !=
        CAIRN_OK)
        return st->code;
    if (nng_aio_alloc(&s->sub_aio, on_sub_aio, s) != 0)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    nng_recv_aio(s->sub.sock, s->sub_aio);
    replicator_post(r, start_timer, NULL);
    return CAIRN_OK;
}

void repl_sync_close_handles(replicator *r)
{
    if (r->sync && r->sync->timer_open) {
        uv_close((uv_handle_t *)&r->sync->timer, NULL);
        r->sync->timer_open = false;
    }
}

void repl_sync_stop(replicator *r)
{
    repl_sync *s = r->sync;
    if (!s)
        return;
    if (s->sub_aio)
        nng_aio_stop(s->sub_aio);
    cairn_sub_close(&s->sub);
    for (size_t i = 0; i < s->count; i++)
        if (s->peers[i].ctx_open)
            nng_aio_stop(s->peers[i].aio);
    if (s->registry)
        cairn_rpc_client_close(s->registry); /* waits for the callbacks in flight */
}

void repl_sync_destroy(replicator *r)
{
    repl_sync *s = r->sync;
    if (!s)
        return;
    nng_aio_free(s->sub_aio);
    for (size_t i = 0; i < s->count; i++) {
        if (s->peers[i].ctx_open)
            nng_aio_free(s->peers[i].aio);
        distro_sync_free(s->peers[i].sched);
    }
    distro_view_free(s->view);
    free(s);
    r->sync = NULL;
}

cairn_rpc_client *repl_sync_registry(replicator *r)
{
    return r->sync ? r->sync->registry : NULL;
}
