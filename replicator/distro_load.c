/* The start/load state machine (distro_load.h). */
#include "distro_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct peer {
    char *id;
    distro_remote_phase phase;
    bool fresh;
    int64_t retry_at_ms; /* a failed load from it: not chosen again before */
} peer;

typedef enum pending { PENDING_NONE, PENDING_COMMIT, PENDING_WARM } pending;

struct distro_load {
    distro_load_config cfg;
    peer *peers; /* sorted by id */
    size_t n;
    bool self_fresh;
    int64_t start_ms;
    distro_phase phase;
    pending pending;
    size_t source; /* LOADING: index into peers */
    char *cursor;
    bool page_in_flight;
    bool first_page;
    uint64_t request; /* the page in flight */
    uint64_t load_pages;
    bool raft_caught_up;
    char basis[96]; /* how the data came to be: "loaded from X", "warm start ..." */
    char reason[192];
    distro_load_stats st;
};

const char *distro_phase_name(distro_phase p)
{
    static const char *const names[] = {"STARTING", "LOADING", "CATCHING_UP", "READY"};
    return (unsigned)p <= DISTRO_PHASE_READY ? names[p] : "UNKNOWN";
}

void distro_load_config_defaults(distro_load_config *cfg)
{
    cfg->load_wait_ms = DISTRO_LOAD_WAIT_MS;
    cfg->raft_ready_timeout_ms = DISTRO_RAFT_READY_TIMEOUT_MS;
    cfg->retry_ms = 1000;
    cfg->alone_wait_ms = 0;
}

static int cmp_peer(const void *a, const void *b)
{
    return strcmp(((const peer *)a)->id, ((const peer *)b)->id);
}

distro_load *distro_load_new(const distro_load_config *cfg, const char *const *peers, size_t n,
                             bool store_fresh, int64_t now_ms)
{
    distro_load *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->cfg = *cfg;
    if (l->cfg.retry_ms < 1)
        l->cfg.retry_ms = 1; /* a failed source must rest, or the choice would loop on it */
    l->self_fresh = store_fresh;
    l->start_ms = now_ms;
    l->st.load_ms = -1;
    l->peers = calloc(n ? n : 1, sizeof *l->peers);
    l->cursor = strdup("");
    if (!l->peers || !l->cursor) {
        distro_load_free(l);
        return NULL;
    }
    for (; l->n < n; l->n++) {
        if (!(l->peers[l->n].id = strdup(peers[l->n]))) {
            distro_load_free(l);
            return NULL;
        }
    }
    qsort(l->peers, l->n, sizeof *l->peers, cmp_peer);
    snprintf(l->reason, sizeof l->reason, "starting");
    return l;
}

void distro_load_free(distro_load *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->peers[i].id);
    free(l->peers);
    free(l->cursor);
    free(l);
}

static peer *find_peer(distro_load *l, const char *id)
{
    peer key = {.id = (char *)id};
    return bsearch(&key, l->peers, l->n, sizeof *l->peers, cmp_peer);
}

void distro_load_peer_report(distro_load *l, const char *id, distro_remote_phase phase,
                             bool store_fresh, int64_t now_ms)
{
    peer *p = find_peer(l, id);
    if (!p)
        return;
    p->phase = phase;
    p->fresh = store_fresh;
}

void distro_load_peer_lost(distro_load *l, const char *id, int64_t now_ms)
{
    peer *p = find_peer(l, id);
    if (p)
        p->phase = DISTRO_REMOTE_SILENT;
}

/* Gives up the load in progress; its source rests for retry_ms. */
static void abandon_load(distro_load *l, int64_t now_ms)
{
    l->peers[l->source].retry_at_ms = now_ms + l->cfg.retry_ms;
    l->phase = DISTRO_PHASE_STARTING;
    l->page_in_flight = false;
    l->st.failed_loads++;
}

static bool set_cursor(distro_load *l, const char *c)
{
    char *copy = strdup(c ? c : "");
    if (!copy)
        return false;
    free(l->cursor);
    l->cursor = copy;
    return true;
}

void distro_load_page_ok(distro_load *l, uint64_t request, const char *next_cursor, bool done,
                         int64_t now_ms)
{
    if (l->phase != DISTRO_PHASE_LOADING || !l->page_in_flight || request != l->request)
        return;
    l->page_in_flight = false;
    l->first_page = false;
    l->st.pages++;
    l->load_pages++;
    if (done) {
        l->phase = DISTRO_PHASE_CATCHING_UP;
        l->pending = PENDING_COMMIT;
        l->st.load_ms = now_ms - l->start_ms;
        snprintf(l->basis, sizeof l->basis, "loaded from %s", l->peers[l->source].id);
    } else if (!set_cursor(l, next_cursor)) {
        abandon_load(l, now_ms); /* out of memory: try again later */
    }
}

void distro_load_page_failed(distro_load *l, uint64_t request, int64_t now_ms)
{
    if (l->phase == DISTRO_PHASE_LOADING && l->page_in_flight && request == l->request)
        abandon_load(l, now_ms);
}

void distro_load_set_raft_caught_up(distro_load *l, bool caught_up)
{
    l->raft_caught_up = caught_up;
}

typedef enum decision { D_WAIT, D_LOAD, D_WARM, D_EMPTY } decision;

/* Peers answering STARTING, how many of them hold data, whether every peer answers so, and the
 * first READY peer that is not resting (index, or n). */
typedef struct census {
    size_t starting, with_data, ready_at;
    bool all_starting;
    int64_t earliest_retry_ms; /* of READY peers that rest; INT64_MAX when none */
} census;

static census take_census(const distro_load *l, int64_t now_ms)
{
    census c = {0, 0, l->n, true, INT64_MAX};
    for (size_t i = 0; i < l->n; i++) {
        const peer *p = &l->peers[i];
        /* a READY peer whose store never held data has nothing to give a node that holds some:
         * loading it would replace that data with nothing (#15857) */
        if (p->phase == DISTRO_REMOTE_READY && (l->self_fresh || !p->fresh)) {
            if (p->retry_at_ms <= now_ms && c.ready_at == l->n)
                c.ready_at = i;
            else if (p->retry_at_ms > now_ms && p->retry_at_ms < c.earliest_retry_ms)
                c.earliest_retry_ms = p->retry_at_ms;
        }
        if (p->phase == DISTRO_REMOTE_STARTING) {
            c.starting++;
            c.with_data += !p->fresh;
        } else {
            c.all_starting = false;
        }
    }
    return c;
}

/* The STARTING decision table of distro_load.h, rules 1-8. */
static decision decide(distro_load *l, int64_t now_ms, int64_t *wait_until)
{
    *wait_until = INT64_MAX;
    if (l->n == 0) {
        snprintf(l->basis, sizeof l->basis, "single member");
        return l->self_fresh ? D_EMPTY : D_WARM;
    }
    census c = take_census(l, now_ms);
    if (c.ready_at < l->n) {
        l->source = c.ready_at;
        return D_LOAD;
    }
    if (c.all_starting && c.with_data == 0) {
        snprintf(l->basis, sizeof l->basis, "new cluster%s",
                 l->self_fresh ? "" : ", warm start from the local store");
        return l->self_fresh ? D_EMPTY : D_WARM;
    }
    int64_t deadline = l->start_ms + l->cfg.load_wait_ms;
    if (now_ms < deadline || c.earliest_retry_ms != INT64_MAX) {
        *wait_until = c.earliest_retry_ms != INT64_MAX ? c.earliest_retry_ms : deadline;
        snprintf(l->reason, sizeof l->reason,
                 "starting: waiting for a READY peer (%zu of %zu peers answer STARTING)",
                 c.starting, l->n);
        return D_WAIT;
    }
    if (!l->self_fresh) {
        snprintf(l->basis, sizeof l->basis, "warm start from the local store, no READY peer");
        return D_WARM;
    }
    if (c.with_data > 0) {
        snprintf(l->reason, sizeof l->reason,
                 "starting: fresh store, waiting for a peer that holds data to be READY");
        return D_WAIT;
    }
    if (c.starting > 0) {
        snprintf(l->basis, sizeof l->basis, "empty, no peer holds data");
        return D_EMPTY;
    }
    if (l->cfg.alone_wait_ms > 0) {
        int64_t alone = l->start_ms + l->cfg.alone_wait_ms;
        if (now_ms >= alone) {
            snprintf(l->basis, sizeof l->basis, "empty, no peer answered");
            return D_EMPTY;
        }
        *wait_until = alone;
    }
    snprintf(l->reason, sizeof l->reason, "starting: fresh store and no peer answers");
    return D_WAIT;
}

static void step_loading(distro_load *l, int64_t now_ms, distro_load_action *out);
static void step_catching_up(distro_load *l, int64_t now_ms, distro_load_action *out);

static void step_starting(distro_load *l, int64_t now_ms, distro_load_action *out)
{
    int64_t wait_until;
    switch (decide(l, now_ms, &wait_until)) {
    case D_WAIT:
        out->kind = DISTRO_LOAD_WAIT;
        out->at_ms = wait_until;
        return;
    case D_LOAD:
        l->phase = DISTRO_PHASE_LOADING;
        l->first_page = true;
        l->load_pages = 0;
        if (!set_cursor(l, "")) {
            abandon_load(l, now_ms);
            out->kind = DISTRO_LOAD_WAIT;
            out->at_ms = now_ms + l->cfg.retry_ms;
            return;
        }
        step_loading(l, now_ms, out);
        return;
    case D_WARM:
        l->pending = PENDING_WARM;
        l->st.warm_started = true;
        /* fall through */
    case D_EMPTY:
        l->phase = DISTRO_PHASE_CATCHING_UP;
        l->st.load_ms = now_ms - l->start_ms;
        step_catching_up(l, now_ms, out);
        return;
    }
}

static void step_loading(distro_load *l, int64_t now_ms, distro_load_action *out)
{
    const peer *src = &l->peers[l->source];
    if (src->phase != DISTRO_REMOTE_READY) {
        abandon_load(l, now_ms); /* the source stopped being READY: take another */
        step_starting(l, now_ms, out);
        return;
    }
    snprintf(l->reason, sizeof l->reason, "loading from %s (page %llu)", src->id,
             (unsigned long long)l->load_pages + 1);
    if (l->page_in_flight) {
        out->kind = DISTRO_LOAD_WAIT;
        return;
    }
    l->page_in_flight = true;
    out->kind = DISTRO_LOAD_FETCH_PAGE;
    out->peer = src->id;
    out->cursor = l->cursor;
    out->first_page = l->first_page;
    out->request = ++l->request;
}

static void step_catching_up(distro_load *l, int64_t now_ms, distro_load_action *out)
{
    if (l->pending != PENDING_NONE) {
        out->kind = l->pending == PENDING_COMMIT ? DISTRO_LOAD_COMMIT : DISTRO_LOAD_WARM_START;
        if (l->pending == PENDING_COMMIT)
            out->peer = l->peers[l->source].id;
        l->pending = PENDING_NONE;
        return;
    }
    int64_t deadline = l->start_ms + l->cfg.raft_ready_timeout_ms;
    if (!l->raft_caught_up && now_ms < deadline) {
        snprintf(l->reason, sizeof l->reason, "starting: waiting for raft catch-up (%s)",
                 l->basis);
        out->kind = DISTRO_LOAD_WAIT;
        out->at_ms = deadline;
        return;
    }
    l->st.raft_lagging = !l->raft_caught_up;
    snprintf(l->reason, sizeof l->reason, "ready: %s%s", l->basis,
             l->st.raft_lagging ? "; raft lagging" : "");
    l->phase = DISTRO_PHASE_READY;
    out->kind = DISTRO_LOAD_READY;
}

void distro_load_step(distro_load *l, int64_t now_ms, distro_load_action *out)
{
    memset(out, 0, sizeof *out);
    out->kind = DISTRO_LOAD_WAIT;
    out->at_ms = INT64_MAX;
    switch (l->phase) {
    case DISTRO_PHASE_STARTING:
        step_starting(l, now_ms, out);
        break;
    case DISTRO_PHASE_LOADING:
        step_loading(l, now_ms, out);
        break;
    case DISTRO_PHASE_CATCHING_UP:
        step_catching_up(l, now_ms, out);
        break;
    case DISTRO_PHASE_READY:
        break;
    }
}

distro_phase distro_load_phase(const distro_load *l)
{
    return l->phase;
}

bool distro_load_ready(const distro_load *l)
{
    return l->phase == DISTRO_PHASE_READY;
}

const char *distro_load_reason(const distro_load *l)
{
    return l->reason;
}

void distro_load_get_stats(const distro_load *l, distro_load_stats *out)
{
    *out = l->st;
}
