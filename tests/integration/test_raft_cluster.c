/* Three raft nodes of the replicator's Raft module on 127.0.0.1-3, each with its own raft dir,
 * port 0 listeners and the authenticating transport, on one libuv loop in this process: entries
 * commit and apply on all three, a follower refuses with the leader's identity, a closed leader
 * is replaced (failover time printed), a stopping leader hands over, and connections without the
 * handshake or with the wrong secret are refused and counted while the cluster goes on. */
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "cairn_harness.h"
#include "cairn_msg.h"
#include "raft_bootstrap.h"
#include "raft_ids.h"
#include "raft_node.h"

#define N 3
#define SVC "DEFAULT_GROUP@@orders"
#define WAIT_MS (IT_SANITIZED ? 30000 : 15000)

static const char *members[N] = {"127.0.0.1:18801", "127.0.0.2:18802", "127.0.0.3:18803"};
static const unsigned char secret[] = "raft-test-secret-0123456789abcdef";

typedef struct cluster {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes uv_run at least every 10 ms, so waits are bounded */
    cairn_raft_node *nodes[N];
    bool alive[N];
    int stopped;
    char addr[N][80];
    char dir[N][512];
} cluster;

static cluster c;

/* What each member's FSM handed on for the registry (the node flushes once per loop turn). */
typedef struct emitted {
    uint64_t batches, records, last;
} emitted;
static emitted em[N];

static void on_emit(void *arg, cairn_raft_batch *b)
{
    emitted *e = arg;
    e->batches++;
    e->records += b->count;
    e->last = b->last;
}

static int resolve(void *arg, raft_id id, const char *identity, char *buf, size_t len)
{
    cluster *cl = arg;
    (void)identity;
    for (int i = 0; i < N; i++)
        if (cairn_raft_id(members[i]) == id && cl->addr[i][0]) {
            snprintf(buf, len, "%s", cl->addr[i]);
            return 0;
        }
    return -1;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until pred(arg) or timeout_ms; returns pred's last answer. */
static bool run_until(bool (*pred)(void *), void *arg, int timeout_ms)
{
    int64_t end = it_now_ms() + timeout_ms;
    while (!pred(arg) && it_now_ms() < end)
        uv_run(&c.loop, UV_RUN_ONCE);
    return pred(arg);
}

typedef struct outcome {
    bool done;
    cairn_raft_submit_result r;
} outcome;

static void on_submitted(void *arg, const cairn_raft_submit_result *r)
{
    outcome *o = arg;
    o->done = true;
    o->r = *r;
}

static cairn_raft_node_options options(int i, const char *dir, const unsigned char *key)
{
    static char listen[N][32];
    snprintf(listen[i], sizeof listen[i], "127.0.0.%d:0", i + 1);
    cairn_raft_node_options o = {
        .loop = &c.loop, .dir = dir, .self = members[i], .members = members, .member_count = N,
        .election_timeout_ms = 500, .heartbeat_ms = 50, .snapshot_threshold = 64,
        .snapshot_trailing = 16, .segment_size = 64 * 1024, .connect_retry_ms = 100,
        .install_snapshot_timeout_ms = 1000,
        .transport = {.listen = listen[i], .secret = key, .secret_len = 32, .resolve = resolve,
                      .resolve_arg = &c, .handshake_timeout_ms = 500},
        .fsm = {.limits = {{16384}, 1000}, .emit = on_emit, .emit_arg = &em[i]},
    };
    return o;
}

static void start_cluster(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the role skeleton: peers close sockets raft writes to */
    cr_assert_eq(uv_loop_init(&c.loop), 0);
    uv_timer_init(&c.loop, &c.tick);
    uv_timer_start(&c.tick, on_tick, 10, 10);
    const char *tmp = it_tmpdir();
    for (int i = 0; i < N; i++) {
        const char *dir = c.dir[i];
        snprintf(c.dir[i], sizeof c.dir[i], "%s/raft%d", tmp, i);
        cairn_raft_node_options o = options(i, dir, secret);
        cairn_status st;
        cr_assert_eq(cairn_raft_node_new(&o, &c.nodes[i], &st), CAIRN_OK, "%s", st.message);
        snprintf(c.addr[i], sizeof c.addr[i], "%s", cairn_raft_node_address(c.nodes[i]));
        cr_assert(cairn_raft_dir_pristine(dir));
    }
    outcome early = {0};
    cairn_raft_node_submit(c.nodes[0], "x", 1, on_submitted, &early);
    cr_assert(early.done); /* before start: refused at once, nothing appended */
    cr_assert_eq(early.r.status, CAIRN_RAFT_FAILED);
    for (int i = 0; i < N; i++) {
        cairn_status st;
        cr_assert_eq(cairn_raft_node_start(c.nodes[i], true, &st), CAIRN_OK, "%s", st.message);
        c.alive[i] = true;
    }
}

static void on_stopped(void *arg)
{
    (void)arg;
    c.stopped++;
}

static bool all_stopped(void *arg)
{
    return c.stopped >= *(int *)arg;
}

static void stop_node(int i)
{
    int want = c.stopped + 1;
    c.alive[i] = false;
    cairn_raft_node_stop(c.nodes[i], on_stopped, NULL);
    cr_assert(run_until(all_stopped, &want, WAIT_MS));
    cairn_raft_node_free(c.nodes[i]);
    c.nodes[i] = NULL;
}

static void teardown(void)
{
    for (int i = 0; i < N; i++)
        if (c.nodes[i])
            stop_node(i);
    uv_close((uv_handle_t *)&c.tick, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    memset(&c, 0, sizeof c);
    memset(em, 0, sizeof em);
    it_teardown();
}

TestSuite(raft_cluster, .fini = teardown, .timeout = 120);

static void abort_node(int i)
{
    int want = c.stopped + 1;
    c.alive[i] = false;
    cairn_raft_node_abort(c.nodes[i], on_stopped, NULL);
    cr_assert(run_until(all_stopped, &want, WAIT_MS));
    cairn_raft_node_free(c.nodes[i]);
    c.nodes[i] = NULL;
}

static int leader_index(void)
{
    for (int i = 0; i < N; i++) {
        if (!c.alive[i])
            continue;
        cairn_raft_node_status s;
        cairn_raft_node_status_get(c.nodes[i], &s);
        if (s.state == RAFT_LEADER)
            return i;
    }
    return -1;
}

static bool has_leader(void *arg)
{
    (void)arg;
    return leader_index() >= 0;
}

static bool outcome_done(void *arg)
{
    return ((outcome *)arg)->done;
}

static size_t upsert_bytes(const char *ip, char **buf)
{
    cairn_request r;
    cairn_request_init(&r, CAIRN_MSG_INSTANCE_UPSERT);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    r.has_instance = true;
    cairn_instance_init(&r.instance);
    r.instance.ip = strdup(ip);
    r.instance.port = 8080;
    r.instance.ephemeral = false;
    size_t len;
    cr_assert_eq(cairn_request_encode(&r, buf, &len), CAIRN_OK);
    cairn_request_free(&r);
    return len;
}

/* Submits a registration on node i and waits for its outcome. */
static outcome submit_on(int i, const char *ip)
{
    char *buf;
    size_t len = upsert_bytes(ip, &buf);
    outcome o = {0};
    cairn_raft_node_submit(c.nodes[i], buf, len, on_submitted, &o);
    free(buf);
    cr_assert(run_until(outcome_done, &o, WAIT_MS));
    return o;
}

typedef struct applied_on_all {
    uint64_t index;
    uint64_t instances;
} applied_on_all;

static bool everyone_applied(void *arg)
{
    applied_on_all *a = arg;
    for (int i = 0; i < N; i++)
        if (c.alive[i] && (cairn_raft_fsm_applied(cairn_raft_node_fsm(c.nodes[i])) < a->index ||
                           cairn_raft_fsm_state(cairn_raft_node_fsm(c.nodes[i]))->instance_count !=
                               a->instances))
            return false;
    return true;
}

/* Registers ip through the leader; waits until every live node applied it. */
static uint64_t write_through_leader(const char *ip, uint64_t instances_after)
{
    cr_assert(run_until(has_leader, NULL, WAIT_MS), "no raft leader");
    outcome o = submit_on(leader_index(), ip);
    cr_assert_eq(o.r.status, CAIRN_RAFT_COMMITTED, "%s", o.r.result.message);
    cr_assert_eq(o.r.result.code, CAIRN_OK, "%s", o.r.result.message);
    applied_on_all a = {o.r.index, instances_after};
    cr_assert(run_until(everyone_applied, &a, WAIT_MS), "not applied everywhere");
    return o.r.index;
}

static bool all_emitted(void *arg)
{
    for (int i = 0; i < N; i++)
        if (em[i].last < *(uint64_t *)arg)
            return false;
    return true;
}

Test(raft_cluster, commits_on_all_and_a_follower_names_the_leader)
{
    start_cluster();
    write_through_leader("127.9.0.1", 1);
    write_through_leader("127.9.0.2", 2);
    int l = leader_index(), follower = (l + 1) % N;
    outcome o = submit_on(follower, "127.9.0.3");
    cr_assert_eq(o.r.status, CAIRN_RAFT_NOT_LEADER);
    cr_assert_str_eq(o.r.leader, members[l]);
    cairn_raft_node_status s;
    cairn_raft_node_status_get(c.nodes[follower], &s);
    cr_assert_str_eq(s.leader, members[l]);
    cr_assert_geq(s.commit, 3); /* the bootstrap configuration and two commands */
    uint64_t index = s.commit;
    cr_assert(run_until(all_emitted, &index, WAIT_MS), "records not handed on everywhere");
    for (int i = 0; i < N; i++)
        cr_assert_eq(em[i].records, 3, "member %d", i); /* the service, two instances */
    for (int i = 0; i < N; i++) {
        cairn_raft_transport_stats ts =
            cairn_raft_transport_stats_get(cairn_raft_node_transport(c.nodes[i]));
        cr_assert_eq(ts.auth_failures, 0);
        cr_assert_gt(ts.accepted + ts.connected, 0);
    }
}

Test(raft_cluster, leader_killed_new_leader_and_writes_go_on)
{
    start_cluster();
    write_through_leader("127.9.0.1", 1);
    int old = leader_index();
    /* a write in flight when the leader goes: its outcome is reported, committed or unknown */
    char *buf;
    size_t len = upsert_bytes("127.9.0.9", &buf);
    outcome inflight = {0};
    cairn_raft_node_submit(c.nodes[old], buf, len, on_submitted, &inflight);
    free(buf);
    int64_t t0 = it_now_ms();
    abort_node(old);
    cr_assert(inflight.done);
    cr_assert(inflight.r.status == CAIRN_RAFT_COMMITTED || inflight.r.status == CAIRN_RAFT_UNKNOWN,
              "status %d", inflight.r.status);
    cr_assert(run_until(has_leader, NULL, WAIT_MS), "no new leader");
    int64_t elected = it_now_ms() - t0;
    /* the in-flight write may have made it (committed on a majority before the close) */
    cr_assert(run_until(has_leader, NULL, WAIT_MS));
    outcome o = submit_on(leader_index(), "127.9.0.2");
    cr_assert_eq(o.r.status, CAIRN_RAFT_COMMITTED, "%s", o.r.result.message);
    int64_t writable = it_now_ms() - t0;
    uint64_t n = cairn_raft_fsm_state(cairn_raft_node_fsm(c.nodes[leader_index()]))->instance_count;
    cr_assert(n == 2 || n == 3);
    if (inflight.r.status == CAIRN_RAFT_COMMITTED)
        cr_assert_eq(n, 3); /* acknowledged: never lost */
    applied_on_all a = {o.r.index, n};
    cr_assert(run_until(everyone_applied, &a, WAIT_MS), "survivors differ");
    printf("raft failover (leader closed without hand-over, 500/50 ms): new leader after %lld ms, "
           "first write committed on both after %lld ms\n", (long long)elected,
           (long long)writable);
    cr_assert_lt(writable, 10000); /* a generous bound; §4's 1.5 s target is the benchmark's */
}

Test(raft_cluster, a_stopping_leader_hands_over)
{
    start_cluster();
    write_through_leader("127.9.0.1", 1);
    int old = leader_index();
    int64_t t0 = it_now_ms();
    stop_node(old);
    cr_assert(run_until(has_leader, NULL, WAIT_MS));
    printf("raft hand-over on stop: new leader after %lld ms\n", (long long)(it_now_ms() - t0));
    write_through_leader("127.9.0.2", 2);
}

/* A plain TCP connection to node i's raft listener (blocking connect; the loop accepts it). */
static int raw_connect(int i)
{
    char host[64];
    snprintf(host, sizeof host, "%s", c.addr[i]);
    char *colon = strrchr(host, ':');
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    cr_assert_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

typedef struct failures_at {
    int node;
    cairn_raft_auth_reason reason;
    uint64_t want;
} failures_at;

static bool failures_reached(void *arg)
{
    failures_at *f = arg;
    cairn_raft_transport_stats s =
        cairn_raft_transport_stats_get(cairn_raft_node_transport(c.nodes[f->node]));
    return s.auth_failures_by[f->reason] >= f->want;
}

typedef struct dialed {
    bool done;
    int status;
} dialed;

static void on_dialed(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    dialed *d = req->data;
    d->done = true;
    d->status = status;
    cr_assert_null(stream);
}

static bool dial_done(void *arg)
{
    return ((dialed *)arg)->done;
}

Test(raft_cluster, connections_without_the_handshake_or_secret_are_refused_and_counted)
{
    start_cluster();
    write_through_leader("127.9.0.1", 1);
    /* not a Cairn raft peer at all */
    int fd = raw_connect(1);
    const char junk[] = "GET / HTTP/1.1\r\nHost: raft\r\nUser-Agent: Nacos-Server\r\n\r\n";
    cr_assert_eq(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    failures_at f = {1, CAIRN_RAFT_AUTH_NOT_CAIRN, 1};
    cr_assert(run_until(failures_reached, &f, WAIT_MS));
    close(fd);
    /* a connection that says nothing: dropped at the handshake deadline */
    fd = raw_connect(2);
    failures_at t = {2, CAIRN_RAFT_AUTH_TIMEOUT, 1};
    cr_assert(run_until(failures_reached, &t, WAIT_MS));
    close(fd);
    /* a dialer with the wrong secret, posing as member 0: the listener's MAC fails at the
     * dialer, which gives up; the listener counts the half-done handshake */
    static const unsigned char wrong[] = "another-secret-0123456789abcdef!!";
    cairn_raft_transport_options o = {.loop = &c.loop, .listen = "127.0.0.1:0", .secret = wrong,
                                      .secret_len = 32, .resolve = resolve, .resolve_arg = &c,
                                      .handshake_timeout_ms = 500};
    cairn_raft_transport *intruder;
    cairn_status st;
    cr_assert_eq(cairn_raft_transport_new(&o, &intruder, &st), CAIRN_OK, "%s", st.message);
    struct raft_uv_transport *uvt = cairn_raft_transport_uv(intruder);
    cr_assert_eq(uvt->init(uvt, cairn_raft_id(members[0]), members[0]), 0);
    dialed d = {0};
    struct raft_uv_connect req = {.data = &d};
    cr_assert_eq(uvt->connect(uvt, &req, cairn_raft_id(members[2]), members[2], on_dialed), 0);
    cr_assert(run_until(dial_done, &d, WAIT_MS));
    cr_assert_neq(d.status, 0);
    cr_assert_eq(cairn_raft_transport_stats_get(intruder).auth_failures_by[CAIRN_RAFT_AUTH_BAD_MAC],
                 1);
    failures_at half = {2, CAIRN_RAFT_AUTH_CLOSED, 1};
    cr_assert(run_until(failures_reached, &half, WAIT_MS));
    cairn_raft_transport_free(intruder);
    /* none of it reached raft: the cluster goes on, nobody learned anything from the intruder */
    write_through_leader("127.9.0.2", 2);
    cairn_raft_transport *t2 = cairn_raft_node_transport(c.nodes[2]);
    cr_assert_eq(cairn_raft_transport_stats_get(t2).auth_failures, 2);
}

/* Logs what each live member knows (when a wait failed). */
static void dump_members(void)
{
    for (int i = 0; i < N; i++) {
        if (!c.nodes[i])
            continue;
        cairn_raft_node_status s;
        cairn_raft_node_status_get(c.nodes[i], &s);
        cairn_raft_fsm *f = cairn_raft_node_fsm(c.nodes[i]);
        cairn_raft_fsm_stats fs = cairn_raft_fsm_stats_get(f);
        cairn_raft_transport_stats ts =
            cairn_raft_transport_stats_get(cairn_raft_node_transport(c.nodes[i]));
        cr_log_error("member %d: %s term %llu commit %llu applied %llu last %llu leader '%s'; fsm "
                     "%llu with %llu instances, %llu restores; transport in %llu out %llu dial "
                     "failures %llu auth failures %llu", i, cairn_raft_state_name(s.state),
                     (unsigned long long)s.term, (unsigned long long)s.commit,
                     (unsigned long long)s.last_applied, (unsigned long long)s.last_index, s.leader,
                     (unsigned long long)cairn_raft_fsm_applied(f),
                     (unsigned long long)cairn_raft_fsm_state(f)->instance_count,
                     (unsigned long long)fs.restores, (unsigned long long)ts.accepted,
                     (unsigned long long)ts.connected, (unsigned long long)ts.dial_failures,
                     (unsigned long long)ts.auth_failures);
    }
}

/* Submits count registrations on the leader at once (pipelined) and waits for all to commit. */
static void write_many(int count, uint64_t instances_after)
{
    cr_assert(run_until(has_leader, NULL, WAIT_MS));
    int l = leader_index();
    static outcome o[256];
    cr_assert_leq(count, 256);
    memset(o, 0, sizeof o);
    for (int k = 0; k < count; k++) {
        char ip[32], *buf;
        snprintf(ip, sizeof ip, "127.9.%d.%d", k / 200 + 1, k % 200 + 1);
        size_t len = upsert_bytes(ip, &buf);
        cairn_raft_node_submit(c.nodes[l], buf, len, on_submitted, &o[k]);
        free(buf);
    }
    cr_assert(run_until(outcome_done, &o[count - 1], WAIT_MS));
    for (int k = 0; k < count; k++)
        cr_assert_eq(o[k].r.status, CAIRN_RAFT_COMMITTED, "write %d: %s", k,
                     o[k].r.result.message);
    applied_on_all a = {o[count - 1].r.index, instances_after};
    bool ok = run_until(everyone_applied, &a, WAIT_MS);
    if (!ok)
        dump_members();
    cr_assert(ok, "index %llu not applied everywhere", (unsigned long long)a.index);
}

/* Starts member i again on dir (kept or emptied) as the role would: the bootstrap decision with
 * what the others report, then start. */
static void restart_node(int i, const char *dir, cairn_raft_start want)
{
    cairn_raft_node_options o = options(i, dir, secret);
    cairn_status st;
    cr_assert_eq(cairn_raft_node_new(&o, &c.nodes[i], &st), CAIRN_OK, "%s", st.message);
    snprintf(c.addr[i], sizeof c.addr[i], "%s", cairn_raft_node_address(c.nodes[i]));
    cairn_raft_peer_view peers[N - 1];
    size_t n = 0;
    for (int j = 0; j < N; j++)
        if (j != i)
            peers[n++] = (cairn_raft_peer_view){.reachable = true, .pristine = false,
                                                .ever_initialized = true};
    cairn_raft_start_input in = {.self_pristine = cairn_raft_dir_pristine(dir),
                                 .now_ms = it_now_ms(), .waiting_since_ms = it_now_ms(),
                                 .bootstrap_wait_ms = 3000, .peers = peers, .peer_count = n};
    cairn_raft_start d = cairn_raft_start_decide(&in);
    cr_assert_eq(d, want, "decided %s", cairn_raft_start_name(d));
    cr_assert_eq(cairn_raft_node_start(c.nodes[i], d == CAIRN_RAFT_START_BOOTSTRAP, &st), CAIRN_OK,
                 "%s", st.message);
    c.alive[i] = true;
}

typedef struct caught_up {
    int node;
    uint64_t index, instances;
} caught_up;

static bool node_caught_up(void *arg)
{
    caught_up *u = arg;
    cairn_raft_fsm *f = cairn_raft_node_fsm(c.nodes[u->node]);
    return cairn_raft_fsm_applied(f) >= u->index &&
           cairn_raft_fsm_state(f)->instance_count == u->instances;
}

Test(raft_cluster, restarted_and_wiped_members_catch_up_without_bootstrap)
{
    start_cluster();
    write_many(100, 100); /* past the test's snapshot threshold (64) */
    int l = leader_index(), f = (l + 1) % N;
    cr_assert_geq(cairn_raft_fsm_stats_get(cairn_raft_node_fsm(c.nodes[l])).snapshots, 1);
    const char *dir = c.dir[f];

    /* a restart keeps the dir: raft state there, so it resumes and catches up */
    abort_node(f);
    write_through_leader("127.9.9.1", 101);
    restart_node(f, dir, CAIRN_RAFT_START_RESUME);
    caught_up u = {f, cairn_raft_fsm_applied(cairn_raft_node_fsm(c.nodes[l])), 101};
    cr_assert(run_until(node_caught_up, &u, WAIT_MS), "restarted member did not catch up");

    /* a wiped dir: never bootstraps while the others report data; the leader sends a snapshot */
    abort_node(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    write_through_leader("127.9.9.2", 102);
    int64_t t0 = it_now_ms();
    restart_node(f, dir, CAIRN_RAFT_START_JOIN);
    u = (caught_up){f, cairn_raft_fsm_applied(cairn_raft_node_fsm(c.nodes[l])), 102};
    bool ok = run_until(node_caught_up, &u, WAIT_MS);
    printf("raft: a wiped member caught up by snapshot %lld ms after it started (install "
           "snapshot timeout 1000 ms)\n", (long long)(it_now_ms() - t0));
    if (!ok)
        dump_members();
    cr_assert(ok, "wiped member did not catch up");
    cr_assert_eq(cairn_raft_fsm_stats_get(cairn_raft_node_fsm(c.nodes[f])).restores, 1);
    cr_assert_not(cairn_raft_dir_pristine(dir));
    /* and it takes part again: the cluster commits with it */
    write_through_leader("127.9.9.3", 103);
}
