/* Persistent writes through raft, through real nodes: a persistent registration on a follower is
 * listed at once on that follower (read-your-writes) and soon on every member; service create
 * and update through any member; a write refused by the rules gets the standalone answer; kill -9
 * of the leader's replicator under a bounded persistent write load loses no acknowledged write
 * (counted on every survivor; failover time printed); with two of three replicators gone
 * persistent writes get 503 within the bound while an ephemeral registration and a list still
 * answer 200; a burst of concurrent writes through a follower is answered 200 throughout. Write
 * latency through raft is printed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

#define ELECT_BOUND_MS (IT_SANITIZED ? 40000 : 20000) /* generous: bounds a wait only */
#define VISIBLE_BOUND_MS (IT_SANITIZED ? 30000 : 10000)
#define SUBMIT_TIMEOUT_MS 3000
#define FORWARD_WAIT_MS 2000

TestSuite(cluster_raft_write, .fini = it_teardown, .timeout = 290);

static const char *const sets[] = {
    "raft.election_timeout_ms=1000", "raft.heartbeat_ms=100", "raft.bootstrap_wait_ms=1000",
    "raft.submit_timeout_ms=3000", "raft.forward_wait_ms=2000", NULL};

/* ---- writes and reads ---------------------------------------------------------------------- */

/* POST a persistent instance ip:port of svc on node i; the HTTP status (0: no answer). */
static long persist_register(const it_cluster *c, int i, const char *svc, const char *ip,
                             int port, char *body, size_t body_len)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    http_resp r = nacos_call(c->nodes[i], "POST", NS "/instance",
                             Q("serviceName", svc, "ip", ip, "port", p, "ephemeral", "false"),
                             NULL, NULL);
    long status = r.status;
    if (body)
        snprintf(body, body_len, "%s", r.body ? r.body : "");
    http_resp_free(&r);
    return status;
}

/* Whether node i lists ip:port in svc (its ok is false when the list itself failed). */
static bool listed(const it_cluster *c, int i, const char *svc, const char *ip, int port,
                   bool *ok)
{
    json_t *l = nacos_get_json(c->nodes[i], NS "/instance/list", Q("serviceName", svc));
    *ok = l != NULL;
    bool found = l && list_find_host(l, ip, port) != NULL;
    json_decref(l);
    return found;
}

typedef struct everywhere_arg {
    const it_cluster *c;
    unsigned nodes;
    const char *svc, *ip;
    const int *ports;
    int count;
    int missing; /* on the last look */
} everywhere_arg;

/* Every node in nodes lists every ip:ports[k] of svc. */
static bool everywhere(void *arg)
{
    everywhere_arg *e = arg;
    e->missing = 0;
    for (int i = 0; i < e->c->count; i++) {
        if (!(e->nodes & (1u << i)))
            continue;
        json_t *l =
            nacos_get_json(e->c->nodes[i], NS "/instance/list", Q("serviceName", e->svc));
        for (int k = 0; k < e->count; k++)
            if (!l || !list_find_host(l, e->ip, e->ports[k]))
                e->missing++;
        json_decref(l);
    }
    return e->missing == 0;
}

/* n sequential persistent registrations on node i; prints p50/p99 in ms. */
static void measure(const it_cluster *c, int i, const char *label, int n)
{
    long long *ms = calloc((size_t)n, sizeof *ms);
    cr_assert(ms);
    char svc[64];
    snprintf(svc, sizeof svc, "raft-latency-%s", label);
    for (int k = 0; k < n; k++) {
        int64_t t0 = it_now_ms();
        char body[256];
        long s = persist_register(c, i, svc, "127.89.0.1", 1000 + k, body, sizeof body);
        cr_assert_eq(s, 200, "latency write %d on %s: %ld %s", k, label, s, body);
        ms[k] = it_now_ms() - t0;
    }
    char what[128];
    snprintf(what, sizeof what, "raft write latency through the %s (%d sequential HTTP "
             "persistent registrations)", label, n);
    it_print_latencies(what, ms, n);
    free(ms);
}

/* A burst of concurrent persistent writes through a follower: more forwards wait for their
 * commit at the leader at once than the leader's old fixed limit of 12, and none is answered
 * 503 `raft leader busy` (raft.forward_max_pending, 64 by default). The follower gathers them
 * into RAFT_FORWARDs of several writes, the leader answers each write of one on its own: every
 * fifth write creates a service that exists, which the leader's state machine refuses, and
 * that refusal reaches only that write. */
#define BURST 40
#define BURST_DUP "raft-burst-dup"

typedef struct burst_arg {
    const it_cluster *c;
    int node, port;
    bool dup; /* a creation of BURST_DUP, which exists */
    long status;
    char body[256];
} burst_arg;

static long create_service(const it_cluster *c, int i, const char *svc, char *body,
                           size_t body_len)
{
    http_resp r = nacos_call(c->nodes[i], "POST", NS "/service", Q("serviceName", svc), NULL,
                             NULL);
    long status = r.status;
    snprintf(body, body_len, "%s", r.body ? r.body : "");
    http_resp_free(&r);
    return status;
}

static void *burst_write(void *arg)
{
    burst_arg *b = arg;
    if (b->dup)
        b->status = create_service(b->c, b->node, BURST_DUP, b->body, sizeof b->body);
    else
        b->status = persist_register(b->c, b->node, "raft-burst", "127.82.0.1", b->port,
                                     b->body, sizeof b->body);
    return NULL;
}

static void burst_through_follower(const it_cluster *c, int f)
{
    static burst_arg args[BURST];
    pthread_t t[BURST];
    int ports[BURST], n_ports = 0;
    char dup_body[256];
    cr_assert_eq(create_service(c, f, BURST_DUP, dup_body, sizeof dup_body), 200, "%s",
                 dup_body);
    long dup_status = create_service(c, f, BURST_DUP, dup_body, sizeof dup_body);
    cr_assert(dup_status >= 400 && strstr(dup_body, "already exists"),
              "a lone duplicate creation: %ld %s", dup_status, dup_body);
    const char *wrote = "cairn_replicator_raft_forward_commands_sum";
    const char *sent = "cairn_replicator_raft_forward_commands_count";
    double writes0 = node_metric(c->nodes[f], "replicator", wrote, NULL);
    double forwards0 = node_metric(c->nodes[f], "replicator", sent, NULL);
    for (int k = 0; k < BURST; k++) {
        args[k] = (burst_arg){.c = c, .node = f, .port = 2000 + k, .dup = k % 5 == 4};
        if (!args[k].dup)
            ports[n_ports++] = args[k].port;
        cr_assert_eq(pthread_create(&t[k], NULL, burst_write, &args[k]), 0);
    }
    for (int k = 0; k < BURST; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < BURST; k++) {
        if (args[k].dup)
            cr_assert(args[k].status == dup_status && strcmp(args[k].body, dup_body) == 0,
                      "concurrent duplicate creation %d: %ld %s", k, args[k].status,
                      args[k].body);
        else
            cr_assert_eq(args[k].status, 200, "concurrent write %d through a follower: %ld %s",
                         k, args[k].status, args[k].body);
    }
    everywhere_arg e = {.c = c, .nodes = 1u << f, .svc = "raft-burst", .ip = "127.82.0.1",
                        .ports = ports, .count = n_ports};
    cr_assert(everywhere(&e), "%d acknowledged writes are not listed at once on the follower",
              e.missing);
    e.nodes = 0x7;
    cr_assert(wait_until(everywhere, &e, VISIBLE_BOUND_MS), "%d writes missing somewhere",
              e.missing);
    double writes = node_metric(c->nodes[f], "replicator", wrote, NULL) - writes0;
    double forwards = node_metric(c->nodes[f], "replicator", sent, NULL) - forwards0;
    cr_assert_eq(writes, BURST, "every write of the burst was forwarded once: %.0f", writes);
    cr_assert_lt(forwards, writes, "%.0f writes went in %.0f RAFT_FORWARDs: none carried two",
                 writes, forwards);
    fprintf(stderr, "%d concurrent writes through a follower went to the leader in %.0f "
            "RAFT_FORWARDs\n", BURST, forwards);
}

/* Whether every node shows svc with protectThreshold pt (GET /service). */
typedef struct threshold_arg {
    const it_cluster *c;
    const char *svc;
    double pt;
} threshold_arg;

static bool threshold_everywhere(void *arg)
{
    threshold_arg *a = arg;
    for (int i = 0; i < a->c->count; i++) {
        json_t *j = nacos_get_json(a->c->nodes[i], NS "/service", Q("serviceName", a->svc));
        json_t *v = j ? json_object_get(j, "protectThreshold") : NULL;
        double pt = v ? json_number_value(v) : -1;
        bool same = pt > a->pt - 1e-6 && pt < a->pt + 1e-6;
        json_decref(j);
        if (!same)
            return false;
    }
    return true;
}

/* A service created on one follower, refused again on the other with the standalone text,
 * updated on the leader: read at once there and soon on every member. */
static void services_through_any_member(const it_cluster *c, int leader, int f, int g)
{
    nacos_write_ok(c->nodes[f], "POST", NS "/service",
                   Q("serviceName", "raft-svc", "protectThreshold", "0.25", "metadata", "k=v1"));
    nacos_expect_error(c->nodes[g], "POST", NS "/service",
                       Q("serviceName", "raft-svc", "protectThreshold", "0.5"), NULL, 400,
                       "specified service already exists, serviceName : DEFAULT_GROUP@@raft-svc",
                       false);
    nacos_write_ok(c->nodes[leader], "PUT", NS "/service",
                   Q("serviceName", "raft-svc", "protectThreshold", "0.75", "metadata", "k=v2"));
    http_resp r = nacos_call(c->nodes[leader], "GET", NS "/service", Q("serviceName", "raft-svc"),
                             NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *svc = json_parse_or_fail(r.body);
    cr_assert_float_eq(jnum(svc, "protectThreshold"), 0.75, 1e-6, "%s", r.body);
    json_decref(svc);
    http_resp_free(&r);
    threshold_arg updated = {c, "raft-svc", 0.75};
    cr_assert(wait_until(threshold_everywhere, &updated, VISIBLE_BOUND_MS),
              "the service update is not on every member");
}

/* Whether every node (listed = true) or no node (false) has svc in its service list. */
typedef struct service_seen_arg {
    const it_cluster *c;
    const char *svc;
    bool listed;
} service_seen_arg;

static bool service_seen(void *arg)
{
    service_seen_arg *a = arg;
    for (int i = 0; i < a->c->count; i++) {
        json_t *l = nacos_get_json(a->c->nodes[i], NS "/service/list",
                             Q("pageNo", "1", "pageSize", "100"));
        bool found = false;
        json_t *doms = l ? json_object_get(l, "doms") : NULL;
        for (size_t k = 0; doms && k < json_array_size(doms); k++)
            found = found || strcmp(json_string_value(json_array_get(doms, k)), a->svc) == 0;
        bool answered = l != NULL;
        json_decref(l);
        if (!answered || found != a->listed)
            return false;
    }
    return true;
}

/* Service writes through a follower. A service raft defines is removed everywhere. One made only
 * by an ephemeral registration is Distro's, which the raft state does not know; the entry node
 * holds it, so it exists for the writes as on a single node (and in Nacos 1.4.8, whose service
 * meta is raft's): a second create is refused, an update reaches every node, and a removal
 * takes it from every node, its instance with it. One no node holds: Nacos' 400. */
static void service_writes_through_any_member(const it_cluster *c, int f, int g)
{
    nacos_write_ok(c->nodes[g], "DELETE", NS "/service", Q("serviceName", "raft-svc"));
    service_seen_arg gone = {c, "raft-svc", false};
    cr_assert(wait_until(service_seen, &gone, VISIBLE_BOUND_MS),
              "a removed raft service is still listed somewhere");

    nacos_write_ok(c->nodes[f], "POST", NS "/instance",
                   Q("serviceName", "raft-implicit", "ip", "127.81.0.3", "port", "80"));
    service_seen_arg made = {c, "raft-implicit", true};
    cr_assert(wait_until(service_seen, &made, VISIBLE_BOUND_MS),
              "the implicit service is not listed on every node");
    nacos_expect_error(c->nodes[g], "POST", NS "/service", Q("serviceName", "raft-implicit"),
                       NULL, 400,
                       "specified service already exists, serviceName : "
                       "DEFAULT_GROUP@@raft-implicit",
                       false);
    nacos_write_ok(c->nodes[g], "PUT", NS "/service",
                   Q("serviceName", "raft-implicit", "protectThreshold", "0.6"));
    threshold_arg updated = {c, "raft-implicit", 0.6};
    cr_assert(wait_until(threshold_everywhere, &updated, VISIBLE_BOUND_MS),
              "the update of the implicit service is not on every node");
    nacos_write_ok(c->nodes[g], "DELETE", NS "/service", Q("serviceName", "raft-implicit"));
    service_seen_arg removed = {c, "raft-implicit", false};
    cr_assert(wait_until(service_seen, &removed, VISIBLE_BOUND_MS),
              "a removed implicit service is still listed somewhere");
    int port = 80;
    everywhere_arg e = {.c = c, .nodes = 0x7, .svc = "raft-implicit", .ip = "127.81.0.3",
                        .ports = &port, .count = 1};
    cr_assert(!everywhere(&e) && e.missing == 3,
              "the removed service's instance is still listed on %d nodes", 3 - e.missing);

    nacos_expect_error(c->nodes[g], "DELETE", NS "/service", Q("serviceName", "raft-never"), NULL,
                       400, "specified service not exist, serviceName : DEFAULT_GROUP@@raft-never",
                       false);
}

IT_TEST(cluster_raft_write, follower_write_is_read_at_once_there_and_soon_everywhere)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = sets};
    it_cluster *c = cluster_start(&o);
    int leader = cluster_wait_raft_leader(c, 0x7, ELECT_BOUND_MS);
    int f = (leader + 1) % 3, g = (leader + 2) % 3;

    char body[256];
    cr_assert_eq(persist_register(c, f, "raft-ryw", "127.81.0.1", 8080, body, sizeof body), 200,
                 "%s", body);
    cr_assert_str_eq(body, "ok");
    bool ok;
    cr_assert(listed(c, f, "raft-ryw", "127.81.0.1", 8080, &ok), "the follower that acknowledged "
              "the write does not list it at once (read-your-writes)");
    int port = 8080;
    everywhere_arg e = {.c = c, .nodes = 0x7, .svc = "raft-ryw", .ip = "127.81.0.1",
                        .ports = &port, .count = 1};
    cr_assert(wait_until(everywhere, &e, VISIBLE_BOUND_MS), "not on every member");
    /* persistent: a deregistration through the other follower goes through raft too */
    nacos_write_ok(c->nodes[g], "DELETE", NS "/instance",
                   Q("serviceName", "raft-ryw", "ip", "127.81.0.1", "port", "8080", "ephemeral",
                     "false"));
    cr_assert(!listed(c, g, "raft-ryw", "127.81.0.1", 8080, &ok) && ok,
              "the deregistration is not read at once where it was acknowledged");

    services_through_any_member(c, leader, f, g);
    service_writes_through_any_member(c, f, g);
    /* ephemeral registrations are not raft's: still 200 */
    nacos_write_ok(c->nodes[f], "POST", NS "/instance",
                   Q("serviceName", "raft-eph", "ip", "127.81.0.2", "port", "80"));
    measure(c, leader, "leader", IT_SANITIZED ? 20 : 60);
    measure(c, f, "follower", IT_SANITIZED ? 20 : 60);
    burst_through_follower(c, f);
    cr_assert_geq(node_metric(c->nodes[f], "replicator", "cairn_replicator_raft_forwards_total",
                              "result=\"ok\""),
                  1, "the follower's forwards are not counted");
    cr_assert_geq(node_metric(c->nodes[leader], "replicator",
                              "cairn_replicator_raft_submits_total", "result=\"ok\""),
                  1, "the leader's submits are not counted");
}

/* ---- kill -9 the leader under load --------------------------------------------------------- */

#define LOAD_MAX_WRITES 400
#define LOAD_AFTER_KILL 40

IT_TEST(cluster_raft_write, leader_kill_under_load_loses_no_acknowledged_write)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = sets};
    it_cluster *c = cluster_start(&o);
    int leader = cluster_wait_raft_leader(c, 0x7, ELECT_BOUND_MS);
    int f = (leader + 1) % 3;
    int *acked = calloc(LOAD_MAX_WRITES, sizeof *acked);
    cr_assert(acked);
    int n_acked = 0, n_failed = 0, after_kill = 0;
    int64_t killed_at = 0, failover_ms = -1, deadline = it_now_ms() + 120000;
    it_node *victim = c->nodes[leader];
    for (int k = 0; k < LOAD_MAX_WRITES && it_now_ms() < deadline && after_kill < LOAD_AFTER_KILL;
         k++) {
        if (k == 30) { /* kill -9 the leader's replicator, its supervisor held */
            pid_t repl = node_role_pid(victim, "cairn-replicator");
            cr_assert(repl > 0);
            cr_assert_eq(kill(victim->run->pid, SIGSTOP), 0);
            killed_at = it_now_ms();
            cr_assert_eq(kill(repl, SIGKILL), 0);
        }
        char body[256];
        long s = persist_register(c, f, "raft-load", "127.82.0.1", 20000 + k, body, sizeof body);
        if (s == 200) {
            acked[n_acked++] = 20000 + k;
            if (killed_at) {
                after_kill++;
                if (failover_ms < 0)
                    failover_ms = it_now_ms() - killed_at;
            }
        } else {
            cr_assert(s == 503, "write %d: %ld %s (only 200 or 503 allowed)", k, s, body);
            n_failed++;
        }
    }
    printf("raft failover under a sequential persistent write load through a follower: leader "
           "replicator kill -9 -> next acknowledged write %lld ms (election timeout 1000 ms); "
           "%d acknowledged, %d answered 503\n",
           (long long)failover_ms, n_acked, n_failed);
    fflush(stdout);
    cr_assert(failover_ms >= 0, "no write acknowledged after the leader was killed");
    cr_assert_geq(after_kill, LOAD_AFTER_KILL, "only %d writes acknowledged after the kill",
                  after_kill);
    everywhere_arg e = {.c = c, .nodes = 0x7u & ~(1u << leader), .svc = "raft-load",
                        .ip = "127.82.0.1", .ports = acked, .count = n_acked};
    bool all = wait_until(everywhere, &e, VISIBLE_BOUND_MS);
    kill(victim->run->pid, SIGCONT);
    cr_assert(all, "%d acknowledged writes missing on the survivors (of %d acknowledged)",
              e.missing, n_acked);
    printf("raft failover: all %d acknowledged writes present on both survivors (0 lost)\n",
           n_acked);
    free(acked);
}

/* ---- a minority ---------------------------------------------------------------------------- */

IT_TEST(cluster_raft_write, minority_refuses_persistent_writes_but_serves_the_rest)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = sets};
    it_cluster *c = cluster_start(&o);
    int leader = cluster_wait_raft_leader(c, 0x7, ELECT_BOUND_MS);
    int survivor = (leader + 1) % 3;
    char body[256];
    cr_assert_eq(persist_register(c, survivor, "raft-minority", "127.83.0.1", 1, body,
                                  sizeof body), 200, "%s", body);
    for (int i = 0; i < 3; i++) { /* the two others lose their replicators */
        if (i == survivor)
            continue;
        pid_t repl = node_role_pid(c->nodes[i], "cairn-replicator");
        cr_assert(repl > 0);
        cr_assert_eq(kill(c->nodes[i]->run->pid, SIGSTOP), 0);
        cr_assert_eq(kill(repl, SIGKILL), 0);
    }
    for (int k = 0; k < 3; k++) {
        int64_t t0 = it_now_ms();
        long s = persist_register(c, survivor, "raft-minority", "127.83.0.1", 2 + k, body,
                                  sizeof body);
        int64_t took = it_now_ms() - t0;
        printf("raft minority: persistent write %d answered %ld in %lld ms: %s\n", k, s,
               (long long)took, body);
        fflush(stdout);
        cr_assert_eq(s, 503, "a minority acknowledged a persistent write: %s", body);
        cr_assert_leq(took, SUBMIT_TIMEOUT_MS + (IT_SANITIZED ? 6000 : 3000),
                      "the 503 took %lld ms", (long long)took);
        cr_assert(strstr(body, "raft") != NULL, "the 503 does not say why: %s", body);
    }
    nacos_write_ok(c->nodes[survivor], "POST", NS "/instance",
                   Q("serviceName", "raft-minority-eph", "ip", "127.83.0.2", "port", "80"));
    bool ok;
    cr_assert(listed(c, survivor, "raft-minority-eph", "127.83.0.2", 80, &ok) && ok,
              "the ephemeral registration is not listed");
    cr_assert(listed(c, survivor, "raft-minority", "127.83.0.1", 1, &ok) && ok,
              "the earlier persistent write is not listed");
    for (int i = 0; i < 3; i++)
        if (i != survivor)
            kill(c->nodes[i]->run->pid, SIGCONT);
}

/* ---- readiness waits for raft catch-up ------------------------------------------------------ */

#define CATCHUP_SERVICES 4
#define CATCHUP_PER_SERVICE (IT_SANITIZED ? 8 : 20)

/* A member restarted with an empty data dir says ready only once raft has brought it every
 * persistent instance the leader had committed: right at its ready line it lists them all (a
 * member that said ready before catching up would list some or none). raft.ready_timeout_ms is
 * long, so ready comes from the catch-up, not from the bound; a small snapshot threshold makes
 * the member catch up from a snapshot and the entries after it. */
IT_TEST(cluster_raft_write, member_with_an_empty_dir_is_ready_only_once_raft_caught_up)
{
    static const char *const catchup_sets[] = {
        "raft.election_timeout_ms=1000", "raft.heartbeat_ms=100", "raft.bootstrap_wait_ms=1000",
        "raft.submit_timeout_ms=5000", "raft.forward_wait_ms=3000",
        "raft.snapshot_threshold=32", "raft.snapshot_trailing=8",
        "raft.ready_timeout_ms=600000", NULL};
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = catchup_sets};
    it_cluster *c = cluster_start(&o);
    cluster_wait_raft_leader(c, 0x7, ELECT_BOUND_MS);
    char body[256];
    int ports[CATCHUP_PER_SERVICE];
    for (int k = 0; k < CATCHUP_PER_SERVICE; k++)
        ports[k] = 2000 + k;
    /* half before node 2 stops, half while it is down */
    for (int half = 0; half < 2; half++) {
        if (half == 1) {
            node_stop(c->nodes[2]);
            cr_assert(cluster_wait_all(c, 0x3, 0x4, "DOWN", ELECT_BOUND_MS), "node 2 not DOWN");
            cluster_wait_raft_leader(c, 0x3, ELECT_BOUND_MS);
        }
        for (int s = 0; s < CATCHUP_SERVICES; s++) {
            char svc[64];
            snprintf(svc, sizeof svc, "raft-catchup-%d", s);
            for (int k = half; k < CATCHUP_PER_SERVICE; k += 2) {
                long st = persist_register(c, (s + k) % 2, svc, "127.84.0.1", ports[k], body,
                                           sizeof body);
                cr_assert_eq(st, 200, "persistent write %s:%d: %ld %s", svc, ports[k], st, body);
            }
        }
    }
    int64_t t0 = it_now_ms();
    cluster_start_member(c, &o, 2, NULL, NULL, true); /* a new, empty data dir */
    int64_t ready_ms = it_now_ms() - t0;
    int missing = 0;
    for (int s = 0; s < CATCHUP_SERVICES; s++) {
        char svc[64];
        snprintf(svc, sizeof svc, "raft-catchup-%d", s);
        everywhere_arg e = {.c = c, .nodes = 0x4, .svc = svc, .ip = "127.84.0.1",
                            .ports = ports, .count = CATCHUP_PER_SERVICE};
        everywhere(&e);
        missing += e.missing;
    }
    printf("raft catch-up: a member with an empty data dir was ready %lld ms after its start "
           "and then listed %d of the %d persistent instances\n",
           (long long)ready_ms, CATCHUP_SERVICES * CATCHUP_PER_SERVICE - missing,
           CATCHUP_SERVICES * CATCHUP_PER_SERVICE);
    fflush(stdout);
    cr_assert_eq(missing, 0, "ready before raft caught up: %d persistent instances missing",
                 missing);
}
