/* The replicator's raft node (replicator_raft.h). */
#include "replicator_raft.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "raft_bootstrap.h"
#include "raft_ids.h"
#include "raft_node.h"
#include "raft_reconfigure.h"
#include "replicator.h"
#include "replicator_distro.h"
#include "replicator_persist.h"

struct repl_raft {
    replicator *r;
    cairn_raft_node *node;
    repl_persist *persist;   /* the FSM's batches to the registry */
    bool started;
    bool stopping;
    bool pristine_at_open;   /* the dir held no raft state when this process opened it */
    bool leader_seen;        /* a leader has been known since start */
    bool bootstrapped;       /* it bootstrapped a brand-new cluster in this run */
    cairn_raft_catchup catchup;
    int64_t waiting_since_ms;
    bool ever_initialized[CAIRN_CLUSTER_MAX_MEMBERS];
    unsigned char secret[32]; /* one-member clusters have no cluster secret: a random one */
    char dir[PATH_MAX + 8];
    /* repl_raft_hand_over: the main thread waits for the loop's word */
    pthread_mutex_t hand_over_lock;
    pthread_cond_t hand_over_cond; /* cairn_cond_init_monotonic */
    bool hand_over_done;
    /* metrics */
    cairn_gauge *role, *term, *commit, *applied;
    cairn_counter *leader_changes;
    cairn_counter *auth_failures[CAIRN_RAFT_AUTH__COUNT];
    uint64_t leader_changes_seen;
    uint64_t auth_seen[CAIRN_RAFT_AUTH__COUNT];
    /* configuration changes (raft_reconfigure.h) */
    cairn_gauge *voters;
    cairn_counter *changes[RAFT_RECONF_REMOVE + 1][2]; /* [kind][failed] */
    raft_reconf_kind change_kind;                      /* the one in flight */
    char change_identity[CAIRN_RAFT_IDENTITY_MAX + 1];
    int64_t change_retry_ms; /* after a failed change, none before this */
};

/* A failed change (a member that cannot be caught up, leadership lost) is tried again after
 * this: not on every ping round. */
#define RECONF_RETRY_MS 5000

/* The transport's resolver: a member's raft address as learned from its PINGs or its
 * operator/servers entry (or the default derived from its identity until then). */
static int resolve(void *arg, raft_id id, const char *identity, char *buf, size_t len)
{
    (void)id;
    replicator *r = arg;
    int idx = repl_members_find(&r->members, identity);
    if (idx < 0)
        return -1;
    const char *a = r->members.m[idx].raft_address;
    const char *colon = strrchr(a, ':');
    if (!a[0] || !colon || strcmp(colon, ":0") == 0)
        return -1; /* not learned yet: raft retries */
    snprintf(buf, len, "%s", a);
    return 0;
}

/* What this node reports as `rinit` in PING. A node that bootstrapped in this run says
 * "pristine" until a leader is known: a peer deciding a moment later then bootstraps the same
 * configuration instead of waiting, unable to vote, for a leader that can never be elected. */
static bool reports_initialized(const struct repl_raft *rr)
{
    return !rr->pristine_at_open || rr->leader_seen;
}

static void provide(void *arg, cairn_raft_status *out)
{
    struct repl_raft *rr = arg;
    memset(out, 0, sizeof *out);
    snprintf(out->role, sizeof out->role, "none");
    out->initialized = reports_initialized(rr);
    if (!rr->node || !rr->started || rr->stopping)
        return;
    cairn_raft_node_status s;
    cairn_raft_node_status_get(rr->node, &s);
    snprintf(out->role, sizeof out->role, "%s", cairn_raft_state_name(s.state));
    out->term = s.term;
    snprintf(out->leader, sizeof out->leader, "%s", s.leader);
    out->commit = s.commit;
    out->applied = s.last_applied;
}

static void metrics_init(struct repl_raft *rr, cairn_metrics *reg)
{
    rr->role = cairn_metrics_gauge(reg, "raft_role",
                                   "Raft role: 0 not started, 1 follower, 2 candidate, 3 leader.",
                                   NULL);
    rr->term = cairn_metrics_gauge(reg, "raft_term", "This node's raft term.", NULL);
    rr->commit = cairn_metrics_gauge(reg, "raft_commit_index", "Raft commit index.", NULL);
    rr->applied = cairn_metrics_gauge(reg, "raft_last_applied", "Last raft entry applied.", NULL);
    rr->leader_changes = cairn_metrics_counter(reg, "raft_leader_changes_total",
                                               "Times the known raft leader changed.", NULL);
    rr->voters = cairn_metrics_gauge(reg, "raft_voters",
                                     "Voters in this node's raft configuration.", NULL);
    for (int k = RAFT_RECONF_ADD; k <= RAFT_RECONF_REMOVE; k++)
        for (int failed = 0; failed < 2; failed++) {
            char labels[64];
            snprintf(labels, sizeof labels, "kind=\"%s\",result=\"%s\"",
                     raft_reconf_kind_name((raft_reconf_kind)k), failed ? "failed" : "ok");
            rr->changes[k][failed] = cairn_metrics_counter(
                reg, "raft_configuration_changes_total",
                "Raft configuration changes this node made as leader (cluster.members).", labels);
        }
    for (int i = 0; i < CAIRN_RAFT_AUTH__COUNT; i++) {
        char labels[96];
        snprintf(labels, sizeof labels, "channel=\"raft\",reason=\"%s\"",
                 cairn_raft_auth_reason_name((cairn_raft_auth_reason)i));
        rr->auth_failures[i] = cairn_metrics_counter(
            reg, "auth_failures_total", "Peer messages refused, by channel and reason.", labels);
    }
}

static void update_metrics(struct repl_raft *rr);

/* The poll saw the role, term or leader change: metrics, operator/servers and the peers hear of
 * it now rather than on the next ping round (up to cluster.ping_interval_ms later). */
static void on_changed(void *arg)
{
    struct repl_raft *rr = arg;
    if (!rr->node || !rr->started || rr->stopping || rr->r->stopping)
        return;
    update_metrics(rr);
    repl_loop_raft_changed(rr->r);
    repl_load_raft_progress(rr->r);
}

static cairn_err fill_options(replicator *r, struct repl_raft *rr, cairn_raft_node_options *o,
                              char *listen, size_t listen_len, cairn_status *st)
{
    const cairn_config *cfg = r->role->config;
    const char *dir = cairn_config_string(cfg, "raft.dir");
    if (dir && dir[0])
        snprintf(rr->dir, sizeof rr->dir, "%s", dir);
    else
        snprintf(rr->dir, sizeof rr->dir, "%s/raft", r->role->data_dir);
    cairn_cluster_format_address(r->cfg.raft_host[0] ? r->cfg.raft_host : "0.0.0.0",
                                 r->cfg.raft_port, listen, listen_len);
    const unsigned char *secret = r->cfg.secret;
    size_t secret_len = r->cfg.secret_len;
    if (secret_len == 0) { /* alone: nobody else may connect anyway */
        randombytes_buf(rr->secret, sizeof rr->secret);
        secret = rr->secret;
        secret_len = sizeof rr->secret;
    }
    *o = (cairn_raft_node_options){
        .loop = replicator_loop_uv(r),
        .dir = rr->dir,
        .self = r->cfg.members[r->cfg.self].id,
        .members = r->member_ids,
        .member_count = r->cfg.count,
        .election_timeout_ms = (unsigned)cairn_config_int(cfg, "raft.election_timeout_ms"),
        .heartbeat_ms = (unsigned)cairn_config_int(cfg, "raft.heartbeat_ms"),
        .snapshot_threshold = (unsigned)cairn_config_int(cfg, "raft.snapshot_threshold"),
        .snapshot_trailing = (unsigned)cairn_config_int(cfg, "raft.snapshot_trailing"),
        .transport = {.listen = listen, .secret = secret, .secret_len = secret_len,
                      .resolve = resolve, .resolve_arg = r},
        .changed = on_changed,
        .changed_arg = rr,
        .fsm = {.limits = {{(size_t)cairn_config_int(cfg, "limits.max_metadata_bytes")},
                           cairn_config_int(cfg, "limits.max_instances_per_service")},
                .emit = repl_persist_emit,
                .emit_arg = rr->persist},
    };
    if (o->heartbeat_ms >= o->election_timeout_ms)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "raft.heartbeat_ms must be below raft.election_timeout_ms");
    return CAIRN_OK;
}

/* The bound address as peers should dial it: a wildcard host becomes the member host. */
static void advertise(replicator *r, const char *bound)
{
    const char *colon = strrchr(bound, ':');
    uint16_t port = colon ? (uint16_t)atoi(colon + 1) : 0;
    const char *host = r->cfg.raft_host[0] ? r->cfg.raft_host : "0.0.0.0";
    if (cairn_cluster_host_is_wildcard(host))
        host = r->cfg.members[r->cfg.self].host;
    cairn_cluster_format_address(host, port, r->raft_advertised, sizeof r->raft_advertised);
    repl_members_set_self_addresses(&r->members, r->peer_bound, r->raft_advertised);
    pthread_mutex_lock(&r->card.lock);
    snprintf(r->card.ping.raft_address, sizeof r->card.ping.raft_address, "%s",
             r->raft_advertised);
    pthread_mutex_unlock(&r->card.lock);
}

cairn_err repl_raft_open(replicator *r, cairn_status *st)
{
    struct repl_raft *rr = calloc(1, sizeof *rr);
    if (!rr)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    r->raft = rr;
    rr->r = r;
    cairn_cond_init_monotonic(&rr->hand_over_cond);
    pthread_mutex_init(&rr->hand_over_lock, NULL);
    if (!(rr->persist = repl_persist_new(r, st)))
        return st->code;
    cairn_raft_node_options o;
    char listen[CAIRN_PEER_ID_MAX];
    if (fill_options(r, rr, &o, listen, sizeof listen, st) != CAIRN_OK)
        return st->code;
    if (cairn_raft_node_new(&o, &rr->node, st) != CAIRN_OK)
        return cairn_fail(st, st->code == CAIRN_E_INVALID ? CAIRN_E_INVALID : CAIRN_E_UNAVAILABLE,
                          "cluster.raft_listen %s / raft.dir %s: %s", listen, rr->dir,
                          st->message);
    rr->pristine_at_open = cairn_raft_dir_pristine(rr->dir);
    rr->waiting_since_ms = repl_now_ms();
    advertise(r, cairn_raft_node_address(rr->node));
    metrics_init(rr, r->role->metrics);
    replicator_set_raft_provider(r, provide, rr);
    log_info("raft listener on %s (advertised %s), dir %s (%s)", listen, r->raft_advertised,
             rr->dir, rr->pristine_at_open ? "pristine" : "holds raft state");
    return CAIRN_OK;
}

/* The bootstrap decision's input from what the peers' PINGs said (views: room for every peer). */
static cairn_raft_start_input start_input(replicator *r, struct repl_raft *rr,
                                          cairn_raft_peer_view *views)
{
    size_t n = 0;
    for (size_t i = 0; i < r->members.count; i++) {
        if (i == r->members.self)
            continue;
        const repl_member *m = &r->members.m[i];
        if (m->heard && m->raft.initialized)
            rr->ever_initialized[i] = true;
        views[n++] = (cairn_raft_peer_view){
            .reachable = m->state != CAIRN_MEMBER_DOWN,
            .pristine = !m->raft.initialized,
            .ever_initialized = rr->ever_initialized[i],
        };
    }
    return (cairn_raft_start_input){
        .self_pristine = rr->pristine_at_open,
        .waiting_since_ms = rr->waiting_since_ms,
        .now_ms = repl_now_ms(),
        .bootstrap_wait_ms = cairn_config_int(r->role->config, "raft.bootstrap_wait_ms"),
        .peers = views,
        .peer_count = n,
    };
}

/* While not started: the bootstrap decision from what the peers' PINGs said. */
static void decide(replicator *r, struct repl_raft *rr)
{
    cairn_raft_peer_view views[CAIRN_CLUSTER_MAX_MEMBERS];
    cairn_raft_start_input in = start_input(r, rr, views);
    cairn_raft_start d = cairn_raft_start_decide(&in);
    if (d == CAIRN_RAFT_START_WAIT)
        return;
    cairn_status st;
    if (cairn_raft_node_start(rr->node, d == CAIRN_RAFT_START_BOOTSTRAP, &st) != CAIRN_OK) {
        /* not retried: a node whose raft cannot start stays "none" and says why */
        log_error("raft: cannot start (%s): %s", cairn_raft_start_name(d), st.message);
        rr->stopping = true;
        return;
    }
    rr->started = true;
    rr->bootstrapped = d == CAIRN_RAFT_START_BOOTSTRAP;
    log_info("raft started: %s after %lld ms", cairn_raft_start_name(d),
             (long long)(in.now_ms - rr->waiting_since_ms));
}

static void update_metrics(struct repl_raft *rr)
{
    cairn_raft_node_status s;
    cairn_raft_node_status_get(rr->node, &s);
    if (s.leader_id)
        rr->leader_seen = true;
    cairn_gauge_set(rr->role, s.started ? (double)s.state : 0);
    cairn_gauge_set(rr->term, (double)s.term);
    cairn_gauge_set(rr->commit, (double)s.commit);
    cairn_gauge_set(rr->applied, (double)s.last_applied);
    if (s.leader_changes > rr->leader_changes_seen) {
        cairn_counter_add(rr->leader_changes, s.leader_changes - rr->leader_changes_seen);
        rr->leader_changes_seen = s.leader_changes;
    }
    cairn_raft_transport_stats t =
        cairn_raft_transport_stats_get(cairn_raft_node_transport(rr->node));
    for (int i = 0; i < CAIRN_RAFT_AUTH__COUNT; i++)
        if (t.auth_failures_by[i] > rr->auth_seen[i]) {
            cairn_counter_add(rr->auth_failures[i], t.auth_failures_by[i] - rr->auth_seen[i]);
            rr->auth_seen[i] = t.auth_failures_by[i];
        }
}

/* ---- configuration changes ----------------------------------------------------------------- */

static void count_voters(struct repl_raft *rr)
{
    const struct raft_configuration *conf = cairn_raft_node_configuration(rr->node);
    unsigned voters = 0;
    for (unsigned i = 0; conf && i < conf->n; i++)
        voters += conf->servers[i].role == RAFT_VOTER;
    cairn_gauge_set(rr->voters, voters);
}

static void on_reconfigured(void *arg, int status, const char *errmsg)
{
    struct repl_raft *rr = arg;
    const char *kind = raft_reconf_kind_name(rr->change_kind);
    cairn_counter_add(rr->changes[rr->change_kind][status != 0], 1);
    if (status == 0) {
        log_info("raft: %s of %s committed", kind, rr->change_identity);
    } else {
        rr->change_retry_ms = repl_now_ms() + RECONF_RETRY_MS;
        log_warn("raft: %s of %s failed (%s); trying again in %d ms", kind, rr->change_identity,
                 errmsg, RECONF_RETRY_MS);
    }
}

/* The leader brings the raft configuration to cluster.members, one change at a time, while
 * every configured member answers (UP, or STARTING as a new member is until it has caught up)
 * and reports the same members hash (raft_reconfigure.h). */
static void reconfigure(replicator *r, struct repl_raft *rr)
{
    cairn_raft_node_status s;
    cairn_raft_node_status_get(rr->node, &s);
    const struct raft_configuration *conf = cairn_raft_node_configuration(rr->node);
    if (s.state != RAFT_LEADER || !conf || cairn_raft_node_changing(rr->node) ||
        repl_now_ms() < rr->change_retry_ms)
        return;
    raft_reconf_member ms[CAIRN_CLUSTER_MAX_MEMBERS];
    for (size_t i = 0; i < r->members.count; i++) {
        const repl_member *m = &r->members.m[i];
        bool answering = m->state == CAIRN_MEMBER_UP || m->state == CAIRN_MEMBER_STARTING;
        ms[i] = (raft_reconf_member){r->cfg.members[i].id,
                                     m->self || (m->heard && answering && m->members_match)};
    }
    unsigned servers = conf->n;
    raft_reconf_change c = raft_reconf_next(ms, r->members.count, conf);
    if (c.kind == RAFT_RECONF_NONE)
        return;
    rr->change_kind = c.kind;
    snprintf(rr->change_identity, sizeof rr->change_identity, "%s", c.identity);
    cairn_status st;
    if (cairn_raft_node_change(rr->node, c.kind, c.id, c.identity, on_reconfigured, rr, &st)) {
        cairn_counter_add(rr->changes[c.kind][1], 1);
        rr->change_retry_ms = repl_now_ms() + RECONF_RETRY_MS;
        log_warn("raft: cannot start the %s of %s: %s", raft_reconf_kind_name(c.kind),
                 rr->change_identity, st.message);
        return;
    }
    log_info("raft: %s of %s started (the configuration holds %u servers, cluster.members %zu)",
             raft_reconf_kind_name(c.kind), rr->change_identity, servers, r->members.count);
}

void repl_raft_tick(replicator *r)
{
    struct repl_raft *rr = r->raft;
    if (!rr || !rr->node || r->stopping)
        return;
    if (!rr->started && !rr->stopping)
        decide(r, rr);
    update_metrics(rr);
    if (rr->started && !rr->stopping) {
        count_voters(rr);
        reconfigure(r, rr);
    }
    repl_load_raft_progress(r);
}

bool repl_raft_caught_up(replicator *r)
{
    struct repl_raft *rr = r->raft;
    if (!rr)
        return true; /* no raft module: nothing to wait for */
    cairn_raft_catchup_input in = {.started = rr->node && rr->started && !rr->stopping,
                                   .brand_new = rr->bootstrapped};
    if (!rr->started && !rr->stopping && !rr->catchup.done) {
        cairn_raft_peer_view views[CAIRN_CLUSTER_MAX_MEMBERS];
        cairn_raft_start_input si = start_input(r, rr, views);
        si.bootstrap_wait_ms = 0; /* would it bootstrap now: nothing to catch up anywhere */
        in.brand_new = cairn_raft_start_decide(&si) == CAIRN_RAFT_START_BOOTSTRAP;
    }
    if (in.started && !rr->catchup.done) {
        cairn_raft_node_status s;
        cairn_raft_node_status_get(rr->node, &s);
        /* what raft applied in this loop turn goes to the registry before the check */
        cairn_raft_fsm_flush(cairn_raft_node_fsm(rr->node));
        in.self_leader = s.state == RAFT_LEADER;
        in.self_commit = s.commit;
        in.applied = s.last_applied;
        in.registry_idle = repl_persist_idle(rr->persist);
        int li = s.leader[0] ? repl_members_find(&r->members, s.leader) : -1;
        const repl_member *lm = li >= 0 ? &r->members.m[li] : NULL;
        if (lm && !lm->self && strcmp(lm->raft.role, "leader") == 0 && lm->raft.term == s.term) {
            in.leader_reported = true;
            in.leader_commit = lm->raft.commit;
        }
    }
    bool was = rr->catchup.have_target;
    bool done = cairn_raft_catchup_step(&rr->catchup, &in);
    if (!was && rr->catchup.have_target)
        log_info("raft: catching up to the leader's commit index %llu",
                 (unsigned long long)rr->catchup.target);
    return done;
}

static void on_stopped(void *arg)
{
    struct repl_raft *rr = arg;
    cairn_raft_node_free(rr->node);
    rr->node = NULL;
    log_info("raft stopped");
}

static void handed_over(void *arg)
{
    struct repl_raft *rr = arg;
    pthread_mutex_lock(&rr->hand_over_lock);
    rr->hand_over_done = true;
    pthread_cond_signal(&rr->hand_over_cond);
    pthread_mutex_unlock(&rr->hand_over_lock);
}

static void hand_over_on_loop(replicator *r, void *arg)
{
    (void)r;
    struct repl_raft *rr = arg;
    if (!rr->node || !rr->started || rr->stopping ||
        !cairn_raft_node_hand_over(rr->node, handed_over, rr))
        handed_over(rr); /* not leading (or alone): nothing to hand over */
    else
        log_info("raft: handing leadership over before stopping");
}

void repl_raft_hand_over(replicator *r, int bound_ms)
{
    struct repl_raft *rr = r->raft;
    if (!rr || !r->loop_started)
        return;
    int64_t t0 = repl_now_ms();
    replicator_post(r, hand_over_on_loop, rr);
    struct timespec until = cairn_monotonic_after_ms(bound_ms);
    pthread_mutex_lock(&rr->hand_over_lock);
    int rc = 0;
    while (!rr->hand_over_done && rc == 0)
        rc = pthread_cond_timedwait(&rr->hand_over_cond, &rr->hand_over_lock, &until);
    bool done = rr->hand_over_done;
    pthread_mutex_unlock(&rr->hand_over_lock);
    if (!done)
        log_warn("raft: the leadership hand-over did not end within %d ms; stopping anyway",
                 bound_ms);
    else if (repl_now_ms() - t0 > 50)
        log_info("raft: hand-over ended after %lld ms", (long long)(repl_now_ms() - t0));
}

void repl_raft_stop(replicator *r)
{
    struct repl_raft *rr = r->raft;
    if (!rr)
        return;
    repl_persist_stop(rr->persist); /* what raft still flushes stays unsent: replayed next start */
    if (!rr->node)
        return;
    rr->stopping = true;
    /* also when never started: stop closes the node's own handles before on_stopped frees it */
    cairn_raft_node_stop(rr->node, on_stopped, rr);
}

cairn_raft_node *repl_raft_node(replicator *r)
{
    struct repl_raft *rr = r->raft;
    return rr && rr->node && rr->started && !rr->stopping ? rr->node : NULL;
}

repl_persist *repl_raft_persist(replicator *r)
{
    return r->raft ? r->raft->persist : NULL;
}

void repl_raft_free(replicator *r)
{
    if (r->raft) {
        repl_persist_free(r->raft->persist);
        pthread_cond_destroy(&r->raft->hand_over_cond);
        pthread_mutex_destroy(&r->raft->hand_over_lock);
    }
    free(r->raft);
    r->raft = NULL;
}
