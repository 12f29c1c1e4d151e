/* cairn-grpc in a cluster: the owner list and the forward leg (grpc_cluster.h). */
#include "grpc_cluster.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_distro_rules.h"
#include "cairn_endpoints.h"
#include "cairn_fnv.h"
#include "cairn_forward.h"
#include "cairn_grpc_owner.h"
#include "cairn_java_hash.h"
#include "cairn_log.h"
#include "cairn_peer_raft.h"
#include "cairn_requests.h"
#include "grpc_calls.h"
#include "cairn_members_follow.h"

/* The replicator answers at the deadline; the rpc's own timeout only covers a replicator that
 * does not answer at all (as gateway_forward.c). */
#define LOCAL_SLACK_MS 250

/* One place the earlier incarnations are dropped at: another member (a FORWARD), or this node
 * again once it has loaded (home). */
typedef struct stale_target {
    char id[CAIRN_CLUSTER_ID_MAX]; /* the member ("" for home) */
    bool down;                     /* under the cluster's lock: DOWN in the latest view */
    bool done, busy;               /* loop thread */
    int64_t retry_at;              /* loop thread: not sent before */
} stale_target;

struct grpc_cluster {
    char self[CAIRN_CLUSTER_ID_MAX];
    int timeout_ms; /* cluster.forward_timeout_ms */
    cairn_rpc_client *replicator;
    cairn_rpc_client *raft; /* RAFT_SUBMITs, with raft.submit_timeout_ms */
    cairn_members_follower *follower;
    pthread_mutex_t lock;
    char *owner_ids; /* the latest owner list, NUL-separated, under lock */
    size_t owner_len;
    uint32_t owner_count;
    bool have_view;  /* under lock */
    uint64_t views_hash; /* of the owner list and every member's reported view hash */
    _Atomic uint64_t generation; /* bumped each time views_hash changes */
    /* start-up: the earlier incarnations' instances at every member (grpc_cluster.h) */
    pusher_timer stale_timer;
    int64_t stale_since;    /* loop thread: when the drops began */
    bool stale_listening;   /* loop thread: the role listens (stale_finish ran) */
    bool self_ready;        /* under lock: the latest view says this node is READY */
    stale_target home;      /* the drop again here once this node has loaded */
    uint32_t target_count;  /* every other configured member */
    stale_target targets[CAIRN_CLUSTER_MAX_MEMBERS];
};

/* How long a starting cairn-grpc waits for members that are not DOWN to drop its earlier
 * incarnations before it listens anyway; and how often it asks them afterwards. */
#define STALE_LISTEN_WAIT_MS 5000
#define STALE_RETRY_LATER_MS 5000

/* Follower thread: keep the owner list. */
static void keep(void *arg, const cairn_membership *m, const char *buf, size_t len)
{
    (void)buf;
    (void)len;
    grpc_cluster *gc = arg;
    size_t total = 0;
    for (uint32_t i = 0; i < m->owner_count; i++)
        total += strlen(m->owners[i]) + 1;
    char *ids = malloc(total ? total : 1);
    if (!ids)
        return; /* the previous view stays */
    size_t at = 0;
    for (uint32_t i = 0; i < m->owner_count; i++) {
        size_t n = strlen(m->owners[i]) + 1;
        memcpy(ids + at, m->owners[i], n);
        at += n;
    }
    uint64_t h = cairn_fnv1a64(CAIRN_FNV64_OFFSET, ids, total);
    for (uint32_t i = 0; i < m->member_count; i++)
        h = cairn_fnv1a64(h, &m->members[i].view_hash, sizeof m->members[i].view_hash);
    pthread_mutex_lock(&gc->lock);
    gc->self_ready = m->self_ready;
    for (uint32_t k = 0; k < gc->target_count; k++)
        for (uint32_t i = 0; i < m->member_count; i++)
            if (strcmp(m->members[i].id, gc->targets[k].id) == 0)
                gc->targets[k].down = m->members[i].state == CAIRN_MEMBER_DOWN;
    if (!gc->have_view || h != gc->views_hash)
        atomic_fetch_add(&gc->generation, 1);
    gc->views_hash = h;
    free(gc->owner_ids);
    gc->owner_ids = ids;
    gc->owner_len = total;
    gc->owner_count = m->owner_count;
    gc->have_view = true;
    pthread_mutex_unlock(&gc->lock);
}

cairn_err grpc_cluster_open(const cairn_config *cfg, const char *run_dir, grpc_cluster **out,
                            char *node, cairn_status *st)
{
    *out = NULL;
    cairn_cluster_config *cc = calloc(1, sizeof *cc);
    if (!cc)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (cairn_cluster_config_load(cfg, cc, st) != CAIRN_OK || cc->count == 0) {
        cairn_err err = cc->count == 0 && st->code == CAIRN_OK ? CAIRN_OK : st->code;
        free(cc);
        return err;
    }
    grpc_cluster *gc = calloc(1, sizeof *gc);
    if (!gc) {
        free(cc);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    snprintf(gc->self, sizeof gc->self, "%s", cc->members[cc->self].id);
    for (size_t i = 0; i < cc->count; i++)
        if (i != cc->self)
            snprintf(gc->targets[gc->target_count++].id, CAIRN_CLUSTER_ID_MAX, "%s",
                     cc->members[i].id);
    free(cc);
    cairn_grpc_member_node(gc->self, node);
    gc->timeout_ms = (int)cairn_config_int(cfg, "cluster.forward_timeout_ms");
    pusher_timer_init(&gc->stale_timer, GRPC_TIMER_STALE);
    pthread_mutex_init(&gc->lock, NULL);
    char url[PATH_MAX + 64];
    if (cairn_endpoint_url(run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url) != 0) {
        grpc_cluster_close(gc);
        return cairn_fail(st, CAIRN_E_INVALID, "run directory path too long");
    }
    int raft_ms = (int)cairn_config_int(cfg, "raft.submit_timeout_ms") + CAIRN_RAFT_SUBMIT_SLACK_MS;
    if (!(gc->replicator = cairn_rpc_client_open(url, "replicator",
                                                 gc->timeout_ms + LOCAL_SLACK_MS, st)) ||
        !(gc->raft = cairn_rpc_client_open(url, "replicator", raft_ms, st)) ||
        !(gc->follower = cairn_members_follow_start(run_dir, keep, gc, st))) {
        grpc_cluster_close(gc);
        return st->code;
    }
    /* Raft submits batch (they commit together); forwards do not: each carries its own
     * deadline and a batch is answered when its last part is, so one forward to an owner that
     * died unnoticed would hold the others to its deadline. */
    cairn_rpc_client_batch(gc->raft, CAIRN_RPC_BATCH_EXCHANGES, CAIRN_RPC_BATCH_PARTS);
    *out = gc;
    return CAIRN_OK;
}

void grpc_cluster_close(grpc_cluster *gc)
{
    if (!gc)
        return;
    cairn_members_follow_stop(gc->follower);
    if (gc->replicator)
        cairn_rpc_client_close(gc->replicator);
    if (gc->raft)
        cairn_rpc_client_close(gc->raft);
    pthread_mutex_destroy(&gc->lock);
    free(gc->owner_ids);
    free(gc);
}

uint64_t grpc_cluster_owners_generation(grpc_cluster *gc)
{
    return atomic_load(&gc->generation);
}

bool grpc_cluster_peer_owner(grpc_cluster *gc, const char *grouped, char *owner)
{
    bool peer = false;
    pthread_mutex_lock(&gc->lock);
    if (gc->owner_count > 0) {
        uint32_t k = cairn_distro_index(grouped, strlen(grouped), gc->owner_count);
        const char *id = gc->owner_ids;
        for (uint32_t i = 0; i < k; i++)
            id += strlen(id) + 1;
        peer = strcmp(id, gc->self) != 0;
        if (peer)
            snprintf(owner, CAIRN_CLUSTER_ID_MAX, "%s", id);
    }
    pthread_mutex_unlock(&gc->lock);
    return peer;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cairn_err grpc_cluster_wrap(grpc_cluster *gc, cairn_request *req, const char *owner,
                            cairn_status *st)
{
    cairn_request fw;
    if (cairn_request_forward(&fw, req, owner, mono_ms() + gc->timeout_ms, st) != CAIRN_OK)
        return st->code;
    cairn_request_free(req);
    *req = fw;
    return CAIRN_OK;
}

cairn_rpc_client *grpc_cluster_replicator(grpc_cluster *gc)
{
    return gc->replicator;
}

cairn_rpc_client *grpc_cluster_raft(grpc_cluster *gc)
{
    return gc->raft;
}

/* ---- start-up: earlier incarnations at every member ------------------------------------------ */

static void stale_finish(grpc_server *s, const char *how)
{
    s->cluster->stale_listening = true;
    log_info("earlier incarnations at the other members: %s", how);
    atomic_store(&s->stale_dropped, true);
}

/* When a failed drop goes again: soon while the role waits to listen, then every 5 s. */
static int64_t retry_at(grpc_server *s)
{
    return grpc_now_ms() +
           (s->cluster->stale_listening ? STALE_RETRY_LATER_MS : s->cfg.retry_delay_ms + 100);
}

static void stale_done(grpc_server *s, struct grpc_call *call)
{
    grpc_cluster *gc = s->cluster;
    stale_target *t = call->ctx;
    const char *where = t == &gc->home ? "this node, after its load" : t->id;
    t->busy = false;
    if (call->rc == CAIRN_OK && call->rep.code == CAIRN_OK) {
        cairn_counter_inc(s->metrics.drops_ok);
        log_info("dropped %u instances of earlier incarnations at %s", call->rep.total, where);
        t->done = true;
    } else if (t != &gc->home && call->rc == CAIRN_OK && call->rep.code == CAIRN_E_INVALID) {
        /* refused, not failed (a member of an older version): asking again changes nothing */
        log_warn("%s refused to drop earlier incarnations (%s); they stay there until it sees "
                 "this node DOWN", where, call->rep.message ? call->rep.message : "");
        t->done = true;
    } else {
        cairn_counter_inc(s->metrics.drops_retried);
        /* once listening, a member that stays down would log every 5 s: debug then */
        cairn_log(gc->stale_listening ? CAIRN_LOG_DEBUG : CAIRN_LOG_WARN,
                  "dropping earlier incarnations at %s failed, retrying: %s", where,
                  grpc_call_why(call));
        t->retry_at = retry_at(s);
    }
    grpc_call_free(call);
    grpc_cluster_stale_timer(s);
}

void grpc_cluster_stale_begin(grpc_server *s)
{
    s->cluster->stale_since = grpc_now_ms();
    grpc_cluster_stale_timer(s);
}

#define EARLIER(a, b) ((a) < (b) ? (a) : (b))

/* Sends t's drop (every incarnation of this node but this one: safe at any time) when it is
 * due; *next becomes the earlier of itself and when t wants a look again. */
static void stale_send(grpc_server *s, stale_target *t, int64_t now, int64_t *next)
{
    if (t->done || t->busy)
        return;
    if (now < t->retry_at) {
        *next = EARLIER(*next, t->retry_at);
        return;
    }
    bool remote = t != &s->cluster->home;
    struct grpc_call *call = grpc_call_new(s, stale_done);
    cairn_status st;
    if (!call ||
        cairn_request_owner_drop(&call->req, s->incarnation_owner,
                                 CAIRN_OWNER_OTHER_INCARNATIONS, &st) ||
        (remote && grpc_cluster_wrap(s->cluster, &call->req, t->id, &st))) {
        grpc_call_free(call);
        t->retry_at = retry_at(s);
        *next = EARLIER(*next, t->retry_at);
        return;
    }
    call->ctx = t;
    call->forwarded = remote;
    t->busy = true;
    grpc_call_start(call);
}

void grpc_cluster_stale_timer(grpc_server *s)
{
    grpc_cluster *gc = s->cluster;
    bool down[CAIRN_CLUSTER_MAX_MEMBERS];
    pthread_mutex_lock(&gc->lock);
    bool self_ready = gc->self_ready;
    for (uint32_t k = 0; k < gc->target_count; k++)
        down[k] = gc->targets[k].down;
    pthread_mutex_unlock(&gc->lock);
    int64_t now = grpc_now_ms(), next = INT64_MAX;
    bool pending = false, waited_for = false;
    for (uint32_t k = 0; k < gc->target_count; k++) {
        if (gc->targets[k].done)
            continue;
        pending = true;
        waited_for = waited_for || !down[k];
        if (down[k]) /* asked once the view shows it back */
            next = EARLIER(next, now + 1000);
        else
            stale_send(s, &gc->targets[k], now, &next);
    }
    /* A load on start replaces this node's ephemeral data with a peer's copy, which may still
     * hold the earlier instances: once the node is READY, drop them here again. */
    if (!gc->home.done && !self_ready)
        next = EARLIER(next, now + 100);
    else
        stale_send(s, &gc->home, now, &next);
    if (!gc->stale_listening) {
        if (!pending)
            stale_finish(s, "dropped everywhere");
        else if (!waited_for)
            stale_finish(s, "the members not reached are DOWN; asked again every 5 s");
        else if (now >= gc->stale_since + STALE_LISTEN_WAIT_MS)
            stale_finish(s, "not every member answered within 5 s; asked again every 5 s");
        else
            next = EARLIER(next, now + 100); /* a member may turn DOWN, or answer */
    }
    if (next != INT64_MAX)
        grpc_timer_arm(s, &gc->stale_timer, next);
}

void grpc_cluster_disarm(grpc_server *s)
{
    if (s->cluster)
        pusher_timers_disarm(&s->timers, &s->cluster->stale_timer);
}
