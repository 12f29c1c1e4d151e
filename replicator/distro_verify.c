/* Verify round scheduling and repairs, owner side (distro_verify.h). */
#include "distro_verify.h"

#include <stdlib.h>
#include <string.h>

typedef enum round_state { IDLE, AWAIT_BUCKETS, AWAIT_KEYS } round_state;

typedef struct vpeer {
    char *id;
    bool ready;
    round_state state;
    uint64_t round_id;
    int64_t deadline_ms; /* the running round times out */
    size_t buckets_left;
    int64_t next_at_ms;
    distro_verify_stats st;
} vpeer;

struct distro_verify {
    distro_verify_config cfg;
    vpeer *p;
    size_t n;
    bool self_ready;
    uint64_t next_id;
};

const char *distro_round_result_name(distro_round_result r)
{
    static const char *const names[DISTRO_ROUND_RESULT_COUNT] = {
        "clean", "repaired", "failed", "timeout", "abandoned",
    };
    return (unsigned)r < DISTRO_ROUND_RESULT_COUNT ? names[r] : "unknown";
}

void distro_verify_config_defaults(distro_verify_config *cfg)
{
    cfg->interval_ms = DISTRO_VERIFY_INTERVAL_MS;
    cfg->round_timeout_ms = DISTRO_VERIFY_INTERVAL_MS;
}

distro_verify *distro_verify_new(const distro_verify_config *cfg, const char *const *peers,
                                 size_t n)
{
    distro_verify *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->cfg = *cfg;
    v->next_id = 1;
    v->p = calloc(n ? n : 1, sizeof *v->p);
    if (!v->p) {
        free(v);
        return NULL;
    }
    for (; v->n < n; v->n++) {
        vpeer *p = &v->p[v->n];
        p->st.last_clean_ms = -1;
        if (!(p->id = strdup(peers[v->n]))) {
            distro_verify_free(v);
            return NULL;
        }
    }
    return v;
}

void distro_verify_free(distro_verify *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        free(v->p[i].id);
    free(v->p);
    free(v);
}

static vpeer *find(const distro_verify *v, const char *id)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->p[i].id, id) == 0)
            return &v->p[i];
    return NULL;
}

static bool eligible(const distro_verify *v, const vpeer *p)
{
    return v->self_ready && p->ready;
}

static void end_round(vpeer *p, distro_round_result r, int64_t now_ms)
{
    p->state = IDLE;
    p->st.rounds[r]++;
    if (r == DISTRO_ROUND_CLEAN)
        p->st.last_clean_ms = now_ms;
}

/* Eligibility of p may have changed from `was`: a new eligible pair waits one interval; a pair
 * no longer eligible drops its round. */
static void eligibility_changed(distro_verify *v, vpeer *p, bool was, int64_t now_ms)
{
    bool is = eligible(v, p);
    if (is && !was)
        p->next_at_ms = now_ms + v->cfg.interval_ms;
    if (!is && p->state != IDLE)
        end_round(p, DISTRO_ROUND_ABANDONED, now_ms);
}

void distro_verify_set_self_ready(distro_verify *v, bool ready, int64_t now_ms)
{
    bool self_was = v->self_ready;
    v->self_ready = ready;
    for (size_t i = 0; i < v->n; i++)
        eligibility_changed(v, &v->p[i], self_was && v->p[i].ready, now_ms);
}

void distro_verify_set_peer_ready(distro_verify *v, const char *peer, bool ready,
                                  int64_t now_ms)
{
    vpeer *p = find(v, peer);
    if (!p)
        return;
    bool was = eligible(v, p);
    p->ready = ready;
    eligibility_changed(v, p, was, now_ms);
}

int64_t distro_verify_next_due_ms(const distro_verify *v, int64_t now_ms)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < v->n; i++) {
        const vpeer *p = &v->p[i];
        int64_t t = p->state != IDLE ? p->deadline_ms : eligible(v, p) ? p->next_at_ms : INT64_MAX;
        if (t < due)
            due = t;
    }
    return due;
}

bool distro_verify_start_round(distro_verify *v, int64_t now_ms, distro_verify_round *out)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->p[i].state != IDLE && now_ms >= v->p[i].deadline_ms)
            end_round(&v->p[i], DISTRO_ROUND_TIMEOUT, now_ms);
    for (size_t i = 0; i < v->n; i++) {
        vpeer *p = &v->p[i];
        if (p->state != IDLE || !eligible(v, p) || now_ms < p->next_at_ms)
            continue;
        p->state = AWAIT_BUCKETS;
        p->round_id = v->next_id++;
        p->deadline_ms = now_ms + v->cfg.round_timeout_ms;
        p->next_at_ms = now_ms + v->cfg.interval_ms;
        *out = (distro_verify_round){p->id, p->round_id};
        return true;
    }
    return false;
}

/* The peer's round `id` if it is running in state st, else NULL (a stale or stray answer). */
static vpeer *running(distro_verify *v, const char *peer, uint64_t id, round_state st)
{
    vpeer *p = find(v, peer);
    return p && p->state == st && p->round_id == id ? p : NULL;
}

void distro_verify_on_buckets(distro_verify *v, const char *peer, uint64_t id, size_t n,
                              int64_t now_ms)
{
    vpeer *p = running(v, peer, id, AWAIT_BUCKETS);
    if (!p)
        return;
    if (n == 0) {
        end_round(p, DISTRO_ROUND_CLEAN, now_ms);
        return;
    }
    p->state = AWAIT_KEYS;
    p->buckets_left = n;
    p->deadline_ms = now_ms + v->cfg.round_timeout_ms;
}

static void repair(vpeer *p, distro_repair_kind kind, const distro_key *k,
                   const distro_view *view, distro_repair_fn fn, void *ctx)
{
    if (!distro_view_self_owns(view, k->service)) {
        p->st.skipped_not_owner++;
        return;
    }
    if (kind == DISTRO_REPAIR_SEND)
        p->st.sent++;
    else
        p->st.fetched++;
    fn(ctx, kind, p->id, k);
}

void distro_verify_on_keys(distro_verify *v, const char *peer, uint64_t id,
                           const distro_verify_answer *a, const distro_view *view,
                           distro_repair_fn fn, void *ctx, int64_t now_ms)
{
    vpeer *p = running(v, peer, id, AWAIT_KEYS);
    if (!p)
        return;
    for (size_t i = 0; i < a->n_want; i++)
        repair(p, DISTRO_REPAIR_SEND, &a->want[i], view, fn, ctx);
    for (size_t i = 0; i < a->n_offer; i++)
        repair(p, DISTRO_REPAIR_FETCH, &a->offer[i], view, fn, ctx);
    p->deadline_ms = now_ms + v->cfg.round_timeout_ms;
    if (--p->buckets_left == 0)
        end_round(p, DISTRO_ROUND_REPAIRED, now_ms);
}

void distro_verify_round_failed(distro_verify *v, const char *peer, uint64_t id, int64_t now_ms)
{
    vpeer *p = find(v, peer);
    if (p && p->state != IDLE && p->round_id == id)
        end_round(p, DISTRO_ROUND_FAILED, now_ms);
}

bool distro_verify_get_stats(const distro_verify *v, const char *peer, distro_verify_stats *out)
{
    const vpeer *p = find(v, peer);
    if (!p)
        return false;
    *out = p->st;
    out->in_flight = p->state != IDLE;
    return true;
}
