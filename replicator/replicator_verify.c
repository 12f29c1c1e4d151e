/* Verify rounds (replicator_distro.h; cluster-design §1.4, §2.6), run by the member that holds
 * the copies: every distro.verify_interval_ms, for each READY peer X, compare the services X
 * owns (in this member's view) as X holds them with the copies held here, and repair what
 * differs. Scheduling, timeouts and round results are distro_verify.h's; the per-key decisions
 * (want, offer, delete with the removal guard) are distro_compare.h's, run here, where the copy
 * lives, with this member's own view and readiness. A round, all asynchronous on the loop:
 *   1. X's STATS (its store epoch, for the removal guard), through DISTRO_READ;
 *   2. DISTRO_DIGESTS(owners = this view, self = X) read from X and from the local registry;
 *      the buckets whose digest or count differ (at most MAX_BUCKETS a round; the rest wait for
 *      the next) are reported to the engine (none: the round is clean);
 *   3. per bucket: DISTRO_KEYS of the bucket from X and locally (paged), distro_compare_bucket;
 *      WANT keys are read from X (DISTRO_FETCH, FETCH_CHUNK at a time) and applied as a sync
 *      from X is (the mode from this view, X named as origin); DELETE keys get a tombstone of
 *      the local copy's version (FORCE); OFFER keys (copies X lacks that the guard keeps) are
 *      counted and left alone;
 *   4. the bucket's end is reported to the engine; after the last one the round is over.
 * Every step checks that its round is still the peer's current one: a late answer of an
 * abandoned round changes nothing. Loop thread. */
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_distro_digest.h"
#include "cairn_distro_rules.h"
#include "cairn_log.h"
#include "cairn_requests.h"
#include "distro_compare.h"
#include "distro_verify.h"
#include "replicator_distro.h"
#include "replicator_read.h"
#include "replicator_sync.h"

#define MAX_BUCKETS 32     /* mismatched buckets looked at in one round */
#define MAX_KEY_PAGES 8    /* DISTRO_KEYS pages per bucket and side (8 × 1024 keys) */
#define FETCH_CHUNK 64     /* services per DISTRO_FETCH from a peer (its reply ≤ 2 MiB) */
#define READ_TIMEOUT_MS 5000
#define OWN_BUCKET 0x100   /* a bucket of this member's own services (phase 1) */

typedef struct vround {
    uint64_t id; /* 0: none */
    char *owners[CAIRN_CLUSTER_MAX_MEMBERS]; /* the view the round compares under */
    size_t owner_count;
    uint64_t view_hash, peer_view_hash, peer_epoch;
    cairn_reply remote; /* the reply being collected (digests, keys) */
    int phase; /* digests being compared: 0 the peer's services, 1 this member's */
    uint16_t buckets[2 * MAX_BUCKETS]; /* bucket | OWN_BUCKET for this member's services */
    size_t bucket_count, bucket_at;
    bool owner_mode; /* the fetched states are this member's own services (take them) */
    cairn_distro_state *theirs, *mine; /* a bucket's keys, both sides */
    size_t n_theirs, n_mine;
    cairn_distro_state *want, *del; /* keys to fetch, copies to drop (owned) */
    size_t n_want, n_del, want_at;
} vround;

struct repl_verify {
    distro_verify *eng;
    uv_timer_t timer;
    bool timer_open;
    vround rounds[CAIRN_CLUSTER_MAX_MEMBERS];
    distro_verify_stats seen[CAIRN_CLUSTER_MAX_MEMBERS];
    cairn_counter *rounds_total[CAIRN_CLUSTER_MAX_MEMBERS][DISTRO_ROUND_RESULT_COUNT];
    cairn_gauge *last_clean[CAIRN_CLUSTER_MAX_MEMBERS];
    cairn_counter *repairs_fetch, *repairs_delete, *repairs_take, *offers;
    cairn_counter *skipped[DISTRO_REMOVAL_REASON_COUNT];
};

static void arm(replicator *r);
static void next_bucket(replicator *r, size_t idx);

static void states_free(cairn_distro_state *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cairn_distro_state_free(&s[i]);
    free(s);
}

static void round_clear(vround *rd)
{
    for (size_t i = 0; i < rd->owner_count; i++)
        free(rd->owners[i]);
    cairn_reply_free(&rd->remote);
    states_free(rd->theirs, rd->n_theirs);
    states_free(rd->mine, rd->n_mine);
    states_free(rd->want, rd->n_want);
    states_free(rd->del, rd->n_del);
    memset(rd, 0, sizeof *rd);
    cairn_reply_init(&rd->remote);
}

/* The round of peer idx if it is still `id`; NULL otherwise (stopped, abandoned). */
static vround *current(replicator *r, size_t idx, uint64_t id)
{
    if (r->closed || r->stopping || !r->verify || r->verify->rounds[idx].id != id)
        return NULL;
    return &r->verify->rounds[idx];
}

static void fail(replicator *r, size_t idx, const char *what)
{
    repl_verify *v = r->verify;
    log_warn("distro verify with %s: %s; the round is abandoned", r->cfg.members[idx].id, what);
    distro_verify_round_failed(v->eng, r->cfg.members[idx].id, v->rounds[idx].id,
                               repl_now_ms());
    round_clear(&v->rounds[idx]);
    arm(r);
}

/* ---- async plumbing: every step's answer comes back to the loop with (idx, id) ------------- */

typedef void (*step_fn)(replicator *r, size_t idx, vround *rd, cairn_err rc, cairn_reply *rep);

typedef struct step {
    replicator *r;
    size_t idx;
    uint64_t id;
    step_fn fn;
    cairn_err rc;
    cairn_reply rep;
} step;

/* Hands the answer to the step's function when its round is still current; the caller frees
 * s (and a reply it owns) afterwards. */
static void run_step(replicator *r, step *s, cairn_err rc, cairn_reply *rep)
{
    vround *rd = current(r, s->idx, s->id);
    if (rd) {
        if (rc == CAIRN_OK && rep->code != CAIRN_OK)
            rc = (cairn_err)rep->code;
        s->fn(r, s->idx, rd, rc, rep);
    }
}

static void on_peer_answer(replicator *r, void *arg, cairn_err rc, cairn_reply *rep)
{
    run_step(r, arg, rc, rep);
    free(arg);
}

static void on_local_loop(replicator *r, void *arg)
{
    step *s = arg;
    run_step(r, s, s->rc, &s->rep);
    cairn_reply_free(&s->rep);
    free(s);
}

static void on_local_answer(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    (void)st;
    step *s = arg;
    s->rc = rc;
    s->rep = *rep; /* taken over */
    cairn_reply_init(rep);
    replicator_post(s->r, on_local_loop, s);
}

/* Sends rq (borrowed) to peer idx (remote) or the local registry; fn gets the answer. */
static void ask(replicator *r, size_t idx, bool remote, cairn_request *rq, step_fn fn)
{
    step *s = calloc(1, sizeof *s);
    cairn_rpc_client *registry = repl_sync_registry(r);
    if (!s || !registry) {
        free(s);
        fail(r, idx, "out of memory");
        return;
    }
    *s = (step){.r = r, .idx = idx, .id = r->verify->rounds[idx].id, .fn = fn};
    cairn_reply_init(&s->rep);
    if (remote)
        repl_read_call(r, idx, rq, READ_TIMEOUT_MS, on_peer_answer, s);
    else
        cairn_rpc_call_async(registry, rq, on_local_answer, s);
}

/* ---- steps 1-2: epoch and digests ---------------------------------------------------------- */

/* The member whose services the current phase compares. */
static const char *phase_self(replicator *r, size_t idx, int phase)
{
    return phase ? r->cfg.members[r->cfg.self].id : r->cfg.members[idx].id;
}

static void digests_request(vround *rd, const char *self, cairn_request *rq, cairn_status *st,
                            cairn_err *rc)
{
    *rc = cairn_request_distro_digests(rq, (const char *const *)rd->owners,
                                       (uint32_t)rd->owner_count, self, st);
}

static void on_remote_digests(replicator *r, size_t idx, vround *rd, cairn_err rc,
                              cairn_reply *rep);

/* Reads the peer's digests of the current phase. */
static void ask_digests(replicator *r, size_t idx, vround *rd, bool remote, step_fn fn)
{
    cairn_request rq;
    cairn_status st;
    cairn_err rc;
    digests_request(rd, phase_self(r, idx, rd->phase), &rq, &st, &rc);
    if (rc != CAIRN_OK) {
        fail(r, idx, st.message);
        return;
    }
    ask(r, idx, remote, &rq, fn);
    cairn_request_free(&rq);
}

static void on_local_digests(replicator *r, size_t idx, vround *rd, cairn_err rc,
                             cairn_reply *rep)
{
    if (rc != CAIRN_OK || !rep->digests || !rd->remote.digests) {
        fail(r, idx, "local digests unavailable");
        return;
    }
    const cairn_distro_digests *a = rd->remote.digests, *b = rep->digests;
    size_t n = rd->bucket_count, cap = (size_t)(rd->phase + 1) * MAX_BUCKETS;
    for (size_t k = 0; k < CAIRN_DISTRO_BUCKETS && n < cap; k++)
        if (a->count[k] != b->count[k] || memcmp(a->digest[k], b->digest[k], sizeof a->digest[k]))
            rd->buckets[n++] = (uint16_t)(k | (rd->phase ? OWN_BUCKET : 0));
    rd->bucket_count = n;
    cairn_reply_free(&rd->remote);
    cairn_reply_init(&rd->remote);
    if (rd->phase == 0) { /* now this member's own services as the peer holds them */
        rd->phase = 1;
        ask_digests(r, idx, rd, true, on_remote_digests);
        return;
    }
    distro_verify_on_buckets(r->verify->eng, r->cfg.members[idx].id, rd->id, n, repl_now_ms());
    if (n == 0) {
        round_clear(rd);
        arm(r);
        return;
    }
    next_bucket(r, idx);
}

static void on_remote_digests(replicator *r, size_t idx, vround *rd, cairn_err rc,
                              cairn_reply *rep)
{
    if (rc != CAIRN_OK || !rep->digests) {
        fail(r, idx, "the peer's digests did not come");
        return;
    }
    rd->remote = *rep; /* taken over */
    cairn_reply_init(rep);
    ask_digests(r, idx, rd, false, on_local_digests);
}

static void on_peer_stats(replicator *r, size_t idx, vround *rd, cairn_err rc, cairn_reply *rep)
{
    if (rc != CAIRN_OK) {
        fail(r, idx, "the peer's STATS did not come");
        return;
    }
    rd->peer_epoch = rep->store_epoch;
    rd->phase = 0;
    ask_digests(r, idx, rd, true, on_remote_digests);
}

/* Starts round id with peer idx under the current owner list. */
static void begin(replicator *r, size_t idx, uint64_t id)
{
    vround *rd = &r->verify->rounds[idx];
    round_clear(rd);
    rd->id = id;
    repl_members *ms = &r->members;
    for (size_t k = 0; k < ms->owner_count; k++)
        if (!(rd->owners[rd->owner_count++] = strdup(ms->m[ms->owners[k]].id))) {
            fail(r, idx, "out of memory");
            return;
        }
    rd->view_hash = ms->view_hash;
    if (!repl_load_peer_view_hash(r, idx, &rd->peer_view_hash)) {
        fail(r, idx, "the peer's view is not known");
        return;
    }
    cairn_request rq;
    cairn_status st;
    if (cairn_request_stats(&rq, &st) != CAIRN_OK) {
        fail(r, idx, st.message);
        return;
    }
    ask(r, idx, true, &rq, on_peer_stats);
    cairn_request_free(&rq);
}

/* ---- step 3: one bucket ---------------------------------------------------------------------- */

static void keys_page(replicator *r, size_t idx, bool remote);

/* Appends a keys reply's states to *dst (taken over). */
static bool take_states(cairn_reply *rep, cairn_distro_state **dst, size_t *n)
{
    if (rep->state_count == 0)
        return true;
    cairn_distro_state *grown = realloc(*dst, (*n + rep->state_count) * sizeof *grown);
    if (!grown)
        return false;
    memcpy(grown + *n, rep->states, rep->state_count * sizeof *grown);
    *dst = grown;
    *n += rep->state_count;
    free(rep->states);
    rep->states = NULL;
    rep->state_count = 0;
    return true;
}

static void compare_and_repair(replicator *r, size_t idx, vround *rd);
static void take_missing(replicator *r, size_t idx, vround *rd);

static void on_keys(replicator *r, size_t idx, vround *rd, cairn_err rc, cairn_reply *rep,
                    bool remote)
{
    cairn_distro_state **dst = remote ? &rd->theirs : &rd->mine;
    size_t *n = remote ? &rd->n_theirs : &rd->n_mine;
    if (rc != CAIRN_OK || !take_states(rep, dst, n)) {
        fail(r, idx, "a bucket's keys did not come");
        return;
    }
    size_t pages_so_far = (*n + 1023) / 1024;
    if (rep->more && rep->cursor_ns && rep->cursor_svc && pages_so_far < MAX_KEY_PAGES) {
        cairn_reply_free(&rd->remote);
        rd->remote = *rep; /* its cursor, for the next page */
        cairn_reply_init(rep);
        keys_page(r, idx, remote);
        return;
    }
    cairn_reply_free(&rd->remote);
    cairn_reply_init(&rd->remote);
    if (remote)
        keys_page(r, idx, false); /* now the local side, from its first page */
    else if (rd->buckets[rd->bucket_at] & OWN_BUCKET)
        take_missing(r, idx, rd);
    else
        compare_and_repair(r, idx, rd);
}

static void on_remote_keys(replicator *r, size_t idx, vround *rd, cairn_err rc, cairn_reply *rep)
{
    on_keys(r, idx, rd, rc, rep, true);
}

static void on_local_keys(replicator *r, size_t idx, vround *rd, cairn_err rc, cairn_reply *rep)
{
    on_keys(r, idx, rd, rc, rep, false);
}

/* The next DISTRO_KEYS page of the current bucket (after rd->remote's cursor, if any). */
static void keys_page(replicator *r, size_t idx, bool remote)
{
    vround *rd = &r->verify->rounds[idx];
    cairn_request rq;
    cairn_status st;
    uint16_t b = rd->buckets[rd->bucket_at];
    if (cairn_request_distro_keys(&rq, b & 0xff, (const char *const *)rd->owners,
                                  (uint32_t)rd->owner_count,
                                  phase_self(r, idx, (b & OWN_BUCKET) != 0), rd->remote.cursor_ns,
                                  rd->remote.cursor_svc, 0, &st) != CAIRN_OK) {
        fail(r, idx, st.message);
        return;
    }
    ask(r, idx, remote, &rq, remote ? on_remote_keys : on_local_keys);
    cairn_request_free(&rq);
}

static void next_bucket(replicator *r, size_t idx)
{
    vround *rd = &r->verify->rounds[idx];
    states_free(rd->theirs, rd->n_theirs);
    states_free(rd->mine, rd->n_mine);
    states_free(rd->want, rd->n_want);
    states_free(rd->del, rd->n_del);
    rd->theirs = rd->mine = rd->want = rd->del = NULL;
    rd->n_theirs = rd->n_mine = rd->n_want = rd->n_del = rd->want_at = 0;
    rd->owner_mode = false;
    if (rd->bucket_at >= rd->bucket_count) {
        round_clear(rd); /* the engine ended the round with the last bucket's answer */
        arm(r);
        return;
    }
    keys_page(r, idx, true);
}

/* The bucket is repaired: tell the engine, go on with the next. */
static void bucket_done(replicator *r, size_t idx, vround *rd)
{
    distro_verify_answer none = {0};
    rd->bucket_at++;
    uint64_t id = rd->id;
    distro_verify_on_keys(r->verify->eng, r->cfg.members[idx].id, id, &none, NULL, NULL, NULL,
                          repl_now_ms());
    next_bucket(r, idx);
}

/* ---- the repairs ----------------------------------------------------------------------------- */

typedef struct verdicts {
    vround *rd;
    bool oom;
} verdicts;

/* A copy of the key (and, for a deletion, the local copy's version). */
static bool keep_key(cairn_distro_state **arr, size_t *n, const distro_key *k,
                     const cairn_distro_version *ver)
{
    cairn_distro_state *grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (!grown)
        return false;
    *arr = grown;
    cairn_distro_state *s = &grown[*n];
    memset(s, 0, sizeof *s);
    s->namespace_id = strdup(k->namespace_id);
    s->service = strdup(k->service);
    if (ver) {
        s->version = *ver;
        s->version.origin = ver->origin ? strdup(ver->origin) : NULL;
    }
    (*n)++;
    return s->namespace_id && s->service;
}

static const cairn_distro_version *local_version(const vround *rd, const distro_key *k)
{
    for (size_t i = 0; i < rd->n_mine; i++)
        if (strcmp(rd->mine[i].namespace_id, k->namespace_id) == 0 &&
            strcmp(rd->mine[i].service, k->service) == 0)
            return &rd->mine[i].version;
    return NULL;
}

static void on_verdict(void *ctx, distro_verdict v, const distro_key *k)
{
    verdicts *x = ctx;
    if (v == DISTRO_VERDICT_WANT)
        x->oom |= !keep_key(&x->rd->want, &x->rd->n_want, k, NULL);
    else if (v == DISTRO_VERDICT_DELETE)
        x->oom |= !keep_key(&x->rd->del, &x->rd->n_del, k, local_version(x->rd, k));
}

static void fetch_next(replicator *r, size_t idx, vround *rd);

static void count_skips(repl_verify *v, const distro_compare_result *res)
{
    for (int k = 1; k < DISTRO_REMOVAL_REASON_COUNT; k++)
        cairn_counter_add(v->skipped[k], res->removals_skipped[k]);
    cairn_counter_add(v->offers, res->offer);
}

static bool listed_by(const vround *rd, const cairn_distro_state *s)
{
    for (size_t i = 0; i < rd->n_theirs; i++)
        if (strcmp(rd->theirs[i].namespace_id, s->namespace_id) == 0 &&
            strcmp(rd->theirs[i].service, s->service) == 0)
            return true;
    return false;
}

/* Local tombstones (a version, no instance) the owner does not list are already what a
 * deletion would leave: out of the comparison, or every round would delete them again. The
 * registry's empty-service sweep removes them. */
static void drop_unlisted_tombstones(vround *rd)
{
    uint8_t empty[CAIRN_DISTRO_DIGEST_LEN];
    if (cairn_distro_content_digest(NULL, 0, empty) != CAIRN_OK)
        return;
    size_t n = 0;
    for (size_t i = 0; i < rd->n_mine; i++) {
        cairn_distro_state *s = &rd->mine[i];
        if (s->has_digest && memcmp(s->digest, empty, sizeof empty) == 0 && !listed_by(rd, s))
            cairn_distro_state_free(s);
        else
            rd->mine[n++] = *s;
    }
    rd->n_mine = n;
}

static void compare_and_repair(replicator *r, size_t idx, vround *rd)
{
    drop_unlisted_tombstones(rd);
    const char *peer = r->cfg.members[idx].id;
    distro_compare_input in = {
        .self_ready = r->members.self_phase == CAIRN_PHASE_READY,
        .view = repl_sync_view(r),
        .sender = peer,
        .sender_view_hash = rd->peer_view_hash,
        .sender_epoch = rd->peer_epoch,
        .listed = rd->theirs,
        .n_listed = rd->n_theirs,
        .local = rd->mine,
        .n_local = rd->n_mine,
    };
    if (rd->view_hash != r->members.view_hash) {
        fail(r, idx, "the view changed during the round");
        return;
    }
    verdicts x = {rd, false};
    distro_compare_result res;
    if (distro_compare_bucket(&in, on_verdict, &x, &res) != 0 || x.oom) {
        fail(r, idx, "out of memory");
        return;
    }
    count_skips(r->verify, &res);
    if (rd->n_want || rd->n_del)
        log_info("distro verify with %s: bucket %u: %zu to fetch, %zu to drop, %zu offered", peer,
                 rd->buckets[rd->bucket_at] & 0xffu, rd->n_want, rd->n_del, res.offer);
    fetch_next(r, idx, rd);
}

/* A bucket of this member's own services as the peer holds them (the offer side of §2.6, taken
 * by the owner): a key the peer holds, written by another store, that this member lacks, or
 * one it holds older from the same writer, is fetched and applied as the owner's (OWNER mode), and the change event makes the
 * sync send it to every peer. This is how a member that returns owning services it never
 * received (they were written while it was away) gets them. */
static void take_missing(replicator *r, size_t idx, vround *rd)
{
    bool oom = false;
    uint64_t own_epoch = repl_load_store_epoch(r);
    /* during a membership change the peer may rightly think it owns them: nothing is taken */
    size_t n = rd->view_hash == rd->peer_view_hash && own_epoch != 0 ? rd->n_theirs : 0;
    for (size_t i = 0; i < n && !oom; i++) {
        const cairn_distro_state *t = &rd->theirs[i];
        const cairn_distro_version *mine = NULL;
        for (size_t j = 0; j < rd->n_mine && !mine; j++)
            if (strcmp(rd->mine[j].namespace_id, t->namespace_id) == 0 &&
                strcmp(rd->mine[j].service, t->service) == 0)
                mine = &rd->mine[j].version;
        bool newer = mine && mine->epoch != 0 && mine->epoch == t->version.epoch &&
                     t->version.seq > mine->seq;
        /* a copy of this member's own store that it no longer holds was deleted here (the
         * peer's removal guard drops it); a copy of another writer's is taken */
        if ((!mine && t->version.epoch != own_epoch) || newer) {
            distro_key k = {t->namespace_id, t->service};
            oom = !keep_key(&rd->want, &rd->n_want, &k, NULL);
        }
    }
    if (oom) {
        fail(r, idx, "out of memory");
        return;
    }
    if (rd->n_want)
        log_info("distro verify with %s: own bucket %u: %zu to take from it",
                 r->cfg.members[idx].id, rd->buckets[rd->bucket_at] & 0xffu, rd->n_want);
    rd->owner_mode = true;
    fetch_next(r, idx, rd);
}

/* The mode a state from peer idx is applied with, as a DISTRO_SYNC from it would be. */
static cairn_distro_mode mode_from(replicator *r, size_t idx, const cairn_distro_state *states,
                                   uint32_t n)
{
    const distro_view *v = repl_sync_view(r);
    const char *peer = r->cfg.members[idx].id;
    for (uint32_t i = 0; i < n; i++)
        if (cairn_distro_mode_for(distro_view_owned_by(v, states[i].service, peer),
                                  distro_view_self_owns(v, states[i].service)) !=
            CAIRN_DISTRO_OWNER)
            return CAIRN_DISTRO_SAME_ORIGIN;
    return CAIRN_DISTRO_OWNER;
}

static void on_applied(replicator *r, size_t idx, vround *rd, cairn_err rc, cairn_reply *rep)
{
    (void)rep;
    if (rc != CAIRN_OK) {
        fail(r, idx, "the local registry refused a repair");
        return;
    }
    fetch_next(r, idx, rd);
}

static void on_fetched(replicator *r, size_t idx, vround *rd, cairn_err rc, cairn_reply *rep)
{
    if (rc != CAIRN_OK) {
        fail(r, idx, "fetching from the peer failed");
        return;
    }
    uint32_t n = 0; /* only versioned states: what a sync would carry */
    for (uint32_t i = 0; i < rep->state_count; i++) {
        cairn_distro_state *s = &rep->states[i];
        if (s->version.epoch == 0)
            continue;
        if (!s->version.origin || !s->version.origin[0]) { /* the peer's own write */
            free(s->version.origin);
            s->version.origin = strdup(r->cfg.members[idx].id);
        }
        cairn_distro_state tmp = rep->states[n];
        rep->states[n++] = *s;
        *s = tmp;
    }
    if (n == 0) {
        fetch_next(r, idx, rd);
        return;
    }
    cairn_counter_add(rd->owner_mode ? r->verify->repairs_take : r->verify->repairs_fetch, n);
    cairn_distro_state *states = rep->states; /* taken over by the request */
    for (uint32_t i = n; i < rep->state_count; i++)
        cairn_distro_state_free(&states[i]);
    rep->states = NULL;
    rep->state_count = 0;
    cairn_request rq;
    cairn_status st;
    cairn_distro_mode mode = rd->owner_mode ? CAIRN_DISTRO_OWNER : mode_from(r, idx, states, n);
    if (cairn_request_distro_apply(&rq, states, n, mode, 0, &st) != CAIRN_OK) {
        fail(r, idx, st.message);
        return;
    }
    ask(r, idx, false, &rq, on_applied);
    cairn_request_free(&rq);
}

/* Next: a chunk of WANT keys from the peer; then the deletions; then the bucket is done. */
static void fetch_next(replicator *r, size_t idx, vround *rd)
{
    cairn_request rq;
    cairn_status st;
    if (rd->want_at < rd->n_want) {
        const char *ns[FETCH_CHUNK], *svc[FETCH_CHUNK];
        uint32_t n = 0;
        for (; rd->want_at < rd->n_want && n < FETCH_CHUNK; rd->want_at++, n++) {
            ns[n] = rd->want[rd->want_at].namespace_id;
            svc[n] = rd->want[rd->want_at].service;
        }
        if (cairn_request_distro_fetch(&rq, ns, svc, n, &st) != CAIRN_OK) {
            fail(r, idx, st.message);
            return;
        }
        ask(r, idx, true, &rq, on_fetched);
        cairn_request_free(&rq);
        return;
    }
    if (rd->n_del > 0) { /* tombstones of the copies' own versions */
        cairn_counter_add(r->verify->repairs_delete, rd->n_del);
        cairn_distro_state *del = rd->del;
        uint32_t n = (uint32_t)rd->n_del;
        rd->del = NULL;
        rd->n_del = 0;
        if (cairn_request_distro_apply(&rq, del, n, CAIRN_DISTRO_FORCE, 0, &st) != CAIRN_OK) {
            fail(r, idx, st.message);
            return;
        }
        ask(r, idx, false, &rq, on_applied);
        cairn_request_free(&rq);
        return;
    }
    bucket_done(r, idx, rd);
}

/* ---- scheduling -------------------------------------------------------------------------------- */

static void publish(replicator *r)
{
    repl_verify *v = r->verify;
    for (size_t i = 0; i < r->cfg.count; i++) {
        distro_verify_stats s;
        if (i == r->cfg.self || !distro_verify_get_stats(v->eng, r->cfg.members[i].id, &s))
            continue;
        for (int k = 0; k < DISTRO_ROUND_RESULT_COUNT; k++)
            cairn_counter_add(v->rounds_total[i][k], s.rounds[k] - v->seen[i].rounds[k]);
        if (s.last_clean_ms >= 0)
            cairn_gauge_set(v->last_clean[i],
                            (double)(cairn_wall_ms() - (repl_now_ms() - s.last_clean_ms)) /
                                1000.0);
        v->seen[i] = s;
    }
}

static void on_timer(uv_timer_t *t)
{
    replicator *r = t->data;
    repl_verify *v = r->verify;
    if (!v || r->stopping)
        return;
    int64_t now = repl_now_ms();
    distro_verify_round round;
    while (distro_verify_start_round(v->eng, now, &round)) {
        for (size_t i = 0; i < r->cfg.count; i++)
            if (i != r->cfg.self && strcmp(r->cfg.members[i].id, round.peer) == 0)
                begin(r, i, round.id);
    }
    publish(r);
    arm(r);
}

static void arm(replicator *r)
{
    repl_verify *v = r->verify;
    if (!v || !v->timer_open || r->stopping)
        return;
    int64_t now = repl_now_ms(), due = distro_verify_next_due_ms(v->eng, now);
    int64_t wait = due == INT64_MAX ? 1000 : due > now ? due - now : 0;
    uv_timer_start(&v->timer, on_timer, (uint64_t)(wait > 1000 ? 1000 : wait), 0);
}

void repl_verify_members_changed(replicator *r)
{
    repl_verify *v = r->verify;
    if (!v)
        return;
    int64_t now = repl_now_ms();
    for (size_t i = 0; i < r->cfg.count; i++)
        if (i != r->cfg.self)
            distro_verify_set_peer_ready(v->eng, r->cfg.members[i].id,
                                         r->members.m[i].state == CAIRN_MEMBER_UP, now);
    distro_verify_set_self_ready(v->eng, r->members.self_phase == CAIRN_PHASE_READY, now);
    arm(r);
}

/* ---- the module's life ------------------------------------------------------------------------- */

static void metrics_for(replicator *r, repl_verify *v)
{
    cairn_metrics *m = r->role->metrics;
    char labels[CAIRN_CLUSTER_ID_MAX + 64];
    for (size_t i = 0; i < r->cfg.count; i++) {
        if (i == r->cfg.self)
            continue;
        for (int k = 0; k < DISTRO_ROUND_RESULT_COUNT; k++) {
            snprintf(labels, sizeof labels, "peer=\"%s\",result=\"%s\"", r->cfg.members[i].id,
                     distro_round_result_name((distro_round_result)k));
            v->rounds_total[i][k] = cairn_metrics_counter(
                m, "verify_rounds_total", "Verify rounds with a peer, by result.", labels);
        }
        snprintf(labels, sizeof labels, "peer=\"%s\"", r->cfg.members[i].id);
        v->last_clean[i] = cairn_metrics_gauge(
            m, "last_clean_verify_timestamp_seconds",
            "When a verify round with the peer last found nothing to repair (unix time).", labels);
    }
    v->repairs_fetch = cairn_metrics_counter(m, "repairs_total",
                                             "Copies repaired by verify rounds, by kind.",
                                             "kind=\"fetch\"");
    v->repairs_delete = cairn_metrics_counter(m, "repairs_total",
                                              "Copies repaired by verify rounds, by kind.",
                                              "kind=\"delete\"");
    v->repairs_take = cairn_metrics_counter(m, "repairs_total",
                                            "Copies repaired by verify rounds, by kind.",
                                            "kind=\"take\"");
    v->offers = cairn_metrics_counter(m, "verify_offers_total",
                                      "Copies an owner lacks that the removal guard kept.", NULL);
    for (int k = 1; k < DISTRO_REMOVAL_REASON_COUNT; k++) {
        snprintf(labels, sizeof labels, "reason=\"%s\"",
                 distro_removal_reason_name((distro_removal_reason)k));
        v->skipped[k] = cairn_metrics_counter(
            m, "removals_skipped_total", "Copies a verify round did not delete, by reason.",
            labels);
    }
}

void repl_verify_start(replicator *r)
{
    int interval = cairn_config_int(r->role->config, "distro.verify_interval_ms");
    if (interval <= 0 || r->verify)
        return;
    repl_verify *v = calloc(1, sizeof *v);
    const char *peers[CAIRN_CLUSTER_MAX_MEMBERS];
    size_t n = 0;
    for (size_t i = 0; i < r->cfg.count; i++)
        if (i != r->cfg.self)
            peers[n++] = r->cfg.members[i].id;
    distro_verify_config cfg;
    distro_verify_config_defaults(&cfg);
    cfg.interval_ms = interval;
    cfg.round_timeout_ms = interval > 3 * READ_TIMEOUT_MS ? interval : 3 * READ_TIMEOUT_MS;
    if (!v || !(v->eng = distro_verify_new(&cfg, peers, n))) {
        free(v);
        log_error("distro verify: out of memory; no verify rounds");
        return;
    }
    for (size_t i = 0; i < r->cfg.count; i++)
        cairn_reply_init(&v->rounds[i].remote);
    r->verify = v;
    metrics_for(r, v);
    uv_timer_init(&r->loop, &v->timer);
    v->timer.data = r;
    v->timer_open = true;
    repl_verify_members_changed(r);
}

void repl_distro_close_handles(replicator *r)
{
    repl_load_close_handles(r);
    if (r->verify && r->verify->timer_open) {
        uv_close((uv_handle_t *)&r->verify->timer, NULL);
        r->verify->timer_open = false;
    }
}

void repl_distro_destroy(replicator *r)
{
    repl_load_destroy(r);
    repl_verify *v = r->verify;
    if (!v)
        return;
    for (size_t i = 0; i < r->cfg.count; i++)
        round_clear(&v->rounds[i]);
    distro_verify_free(v->eng);
    free(v);
    r->verify = NULL;
}
