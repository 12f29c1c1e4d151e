/* gRPC instances in a cluster (docs/architecture.md, "Cluster: gRPC instances"): a connection's
 * instance registered on a node that does not own the service is written at the owner and listed
 * by every node; it goes everywhere when the connection closes; when the node holding the
 * connection dies, the survivors remove its connections' instances and keep everyone else's. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "cairn_cluster.h"
#include "cairn_grpc_client.h"
#include "cairn_nacos.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define BOUND_MS (IT_SANITIZED ? 40000 : 20000) /* generous: the targets are well under 2 s */
#define CALL_MS 15000

TestSuite(cluster_grpc, .fini = it_teardown, .timeout = 280);

typedef struct want {
    const it_cluster *c;
    unsigned mask; /* nodes asked */
    const char *name, *ip;
    int state; /* as cluster_host_health_at: 1 healthy, -1 not listed */
} want;

static bool everywhere(void *arg)
{
    want *w = arg;
    for (int i = 0; i < w->c->count; i++)
        if ((w->mask & (1u << i)) &&
            cluster_host_health_at(w->c->nodes[i]->gateway, w->name, w->ip) != w->state)
            return false;
    return true;
}

/* Three nodes on 127.0.0.1-3 with extra config sets (NULL-terminated, or NULL), each showing
 * all three UP; *o keeps the options for restarts. */
static it_cluster *three_nodes_up(it_cluster_opts *o, const char *const *sets)
{
    *o = (it_cluster_opts){.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                           .sets = sets};
    it_cluster *c = cluster_start(o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    return c;
}

static it_grpc *grpc_to(const it_node *n)
{
    char path[PATH_MAX + 16], addr[64];
    snprintf(path, sizeof path, "%s/grpc.addr", n->run_dir);
    cr_assert(it_read_addr_file(path, addr, sizeof addr), "no %s", path);
    return grpc_open_setup(addr);
}

/* registerInstance of ip:8080 in DEFAULT_GROUP@@svc on g; asserts the InstanceResponse. */
static void grpc_register(it_grpc *g, const char *svc, const char *ip)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"%s\",\"port\":8080,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true,"
             "\"clusterName\":\"DEFAULT\",\"metadata\":{}}",
             ip);
    it_grpc_reply r;
    grpc_call(g, "InstanceRequest", grpc_naming_body("public", svc, extra), &r, CALL_MS);
    cr_assert_eq(r.grpc_status, 0, "register %s: grpc-status %d", svc, r.grpc_status);
    cr_assert(r.type && r.json, "register %s: no answer", svc);
    cr_assert_str_eq(r.type, "InstanceResponse", "register %s: %s", svc, r.json);
    cr_assert(strstr(r.json, "\"resultCode\":200"), "register %s: %s", svc, r.json);
    grpc_reply_free(&r);
}

/* A service name whose owner among every member is `owner` (or, want_owner false, is not). */
static void service_owned(const it_cluster *c, const char *stem, int owner, bool want_owner,
                          char *name, size_t len)
{
    for (int k = 0; k < 1000; k++) {
        snprintf(name, len, "%s-%d", stem, k);
        if ((cluster_owner_among(c, IT_CLUSTER_ALL, name) == owner) == want_owner)
            return;
    }
    cr_assert_fail("no service name for owner %d", owner);
}

static double grpc_metric(const it_node *n, const char *sample, const char *label)
{
    return node_metric(n, "grpc", sample, label);
}

IT_TEST(cluster_grpc, an_instance_on_a_non_owner_reaches_every_node_and_leaves_with_its_connection)
{
    it_cluster_opts o;
    it_cluster *c = three_nodes_up(&o, NULL);
    const int entry = 0;
    char other[64], own[64];
    service_owned(c, "grpc-cl-other", entry, false, other, sizeof other);
    service_owned(c, "grpc-cl-own", entry, true, own, sizeof own);
    it_grpc *g = grpc_to(c->nodes[entry]);
    int64_t t0 = it_now_ms();
    grpc_register(g, other, "127.0.60.1");
    grpc_register(g, own, "127.0.60.2");
    want w1 = {c, ~0u, other, "127.0.60.1", 1}, w2 = {c, ~0u, own, "127.0.60.2", 1};
    cr_assert(wait_until(everywhere, &w1, BOUND_MS),
              "%s (owner %d) registered on node %d is not listed on every node", other,
              cluster_owner_among(c, IT_CLUSTER_ALL, other), entry);
    int64_t visible = it_now_ms() - t0;
    cr_assert(wait_until(everywhere, &w2, BOUND_MS), "%s is not listed on every node", own);
    cr_expect_geq(grpc_metric(c->nodes[entry], "cairn_grpc_owned_forwards_total",
                              "result=\"ok\""), 1, "the write on the non-owner was forwarded");
    /* re-registration from the same connection replaces, also at a remote owner */
    grpc_register(g, other, "127.0.60.3");
    want w3 = {c, ~0u, other, "127.0.60.3", 1};
    w1.state = -1;
    cr_assert(wait_until(everywhere, &w3, BOUND_MS) && wait_until(everywhere, &w1, BOUND_MS),
              "the replacement did not reach every node");
    t0 = it_now_ms();
    grpc_close(g);
    w3.state = -1;
    w2.state = -1;
    cr_assert(wait_until(everywhere, &w3, BOUND_MS),
              "%s is still listed somewhere after its connection closed", other);
    int64_t gone = it_now_ms() - t0;
    cr_assert(wait_until(everywhere, &w2, BOUND_MS),
              "%s is still listed somewhere after its connection closed", own);
    cr_expect_geq(node_wait_metric(c->nodes[entry], "grpc", "cairn_grpc_owned_releases_total",
                                   "result=\"ok\"", 1, BOUND_MS),
                  1, "the close released the remote owner's share");
    printf("cluster grpc: registered on a non-owner, listed on all 3 nodes after %lld ms; "
           "closed, gone from all 3 after %lld ms\n",
           (long long)visible, (long long)gone);
    fflush(stdout);
}

IT_TEST(cluster_grpc, a_dead_nodes_instances_leave_the_survivors_and_the_others_stay)
{
    it_cluster_opts o;
    it_cluster *c = three_nodes_up(&o, NULL);
    const int dead = 1, alive = 2;
    char other[64], own[64];
    service_owned(c, "grpc-dn-other", dead, false, other, sizeof other);
    service_owned(c, "grpc-dn-own", dead, true, own, sizeof own); /* its owner dies too */
    it_grpc *gd = grpc_to(c->nodes[dead]);
    it_grpc *ga = grpc_to(c->nodes[alive]);
    grpc_register(gd, other, "127.0.61.1");
    grpc_register(gd, own, "127.0.61.2");
    grpc_register(ga, other, "127.0.61.3");
    grpc_register(ga, own, "127.0.61.4");
    nacos_write_ok(c->nodes[alive], "POST", NS "/instance",
                   Q("serviceName", other, "ip", "127.0.61.5", "port", "8080"));
    const char *ips[] = {"127.0.61.1", "127.0.61.2", "127.0.61.3", "127.0.61.4", "127.0.61.5"};
    const char *svcs[] = {other, own, other, own, other};
    for (int k = 0; k < 5; k++) {
        want w = {c, ~0u, svcs[k], ips[k], 1};
        cr_assert(wait_until(everywhere, &w, BOUND_MS), "%s %s is not listed on every node",
                  svcs[k], ips[k]);
    }
    cluster_crash_node(c, dead);
    int64_t t0 = it_now_ms();
    unsigned survivors = ~0u & ~(1u << dead);
    want g1 = {c, survivors, other, "127.0.61.1", -1}, g2 = {c, survivors, own, "127.0.61.2", -1};
    cr_assert(wait_until(everywhere, &g1, BOUND_MS),
              "the dead node's instance of %s is still listed after %d ms", other, BOUND_MS);
    int64_t gone = it_now_ms() - t0;
    cr_assert(wait_until(everywhere, &g2, BOUND_MS),
              "the dead node's instance of %s (which it owned) is still listed", own);
    int64_t gone_own = it_now_ms() - t0;
    /* the survivors' own clients keep theirs, gRPC and v1 */
    for (int k = 2; k < 5; k++) {
        want w = {c, survivors, svcs[k], ips[k], 1};
        cr_expect(everywhere(&w), "%s %s of a live client is gone", svcs[k], ips[k]);
    }
    double drops = 0;
    for (int i = 0; i < c->count; i++)
        if (i != dead)
            drops += node_metric(c->nodes[i], "replicator",
                                 "cairn_replicator_grpc_member_dropped_instances_total", NULL);
    cr_expect_geq(drops, 2, "the survivors counted the dead member's instances they removed");
    printf("cluster grpc: node killed, its instances gone from the survivors after %lld ms "
           "(service it did not own) and %lld ms (service it owned)\n",
           (long long)gone, (long long)gone_own);
    fflush(stdout);
    grpc_close(gd);
    grpc_close(ga);
}

/* A partition: node 2, which holds the connection, is cut off. The others see it DOWN and remove
 * its connections' instances; node 2, alone, owns every service and drops the others'. When it
 * heals, node 2's owner list changes and cairn-grpc re-sends the connection's instances to their
 * owner, so they are listed everywhere again while the connection was never closed. Without the
 * re-send they would stay removed until the client registered again. */
IT_TEST(cluster_grpc, a_partitioned_nodes_connections_are_listed_everywhere_again_after_the_heal)
{
    cluster_netns_enter();
    it_cluster_opts o;
    it_cluster *c = three_nodes_up(&o, NULL);
    const int cut = 2;
    char svc[64];
    service_owned(c, "grpc-heal", 0, true, svc, sizeof svc);
    it_grpc *g = grpc_to(c->nodes[cut]);
    grpc_register(g, svc, "127.0.62.1");
    want there = {c, ~0u, svc, "127.0.62.1", 1};
    cr_assert(wait_until(everywhere, &there, BOUND_MS), "%s is not listed on every node", svc);

    cluster_cut_host(cut, true);
    unsigned others = ~0u & ~(1u << cut);
    cr_assert(cluster_wait_all(c, others & 0x7, 1u << cut, "DOWN", BOUND_MS),
              "the cut-off node is not DOWN for the others");
    want gone = {c, others, svc, "127.0.62.1", -1};
    cr_assert(wait_until(everywhere, &gone, BOUND_MS),
              "the cut-off node's instance is still listed by the others");

    cluster_cut_host(cut, false);
    int64_t t0 = it_now_ms();
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "the healed node is not UP again");
    bool back = wait_until(everywhere, &there, BOUND_MS);
    int64_t took = it_now_ms() - t0;
    printf("cluster grpc: partition healed, the cut-off node's connection instance listed on all 3 "
           "nodes again after %lld ms\n", (long long)took);
    fflush(stdout);
    cr_assert(back, "after the heal %s 127.0.62.1 is not listed on every node again", svc);
    cr_expect_geq(node_wait_metric(c->nodes[cut], "grpc", "cairn_grpc_owned_resyncs_total",
                                   "result=\"ok\"", 1, BOUND_MS),
                  1, "the healed node counted no re-send");
    /* and the connection still owns it: closing it removes it everywhere */
    grpc_close(g);
    there.state = -1;
    cr_assert(wait_until(everywhere, &there, BOUND_MS),
              "the instance stays listed after its connection closed");
}

/* cairn-grpc alone crashes and its supervisor starts it again: the node stays UP, so no peer sees
 * a member go DOWN; the new incarnation has every member drop the earlier ones before it
 * listens. */
IT_TEST(cluster_grpc, a_restarted_grpc_role_has_every_member_drop_its_earlier_incarnations)
{
    it_cluster_opts o;
    it_cluster *c = three_nodes_up(&o, NULL);
    const int entry = 2;
    char other[64];
    service_owned(c, "grpc-rs-other", entry, false, other, sizeof other);
    it_grpc *g = grpc_to(c->nodes[entry]);
    grpc_register(g, other, "127.0.62.1");
    want w = {c, ~0u, other, "127.0.62.1", 1};
    cr_assert(wait_until(everywhere, &w, BOUND_MS), "%s is not listed on every node", other);
    pid_t old = node_role_pid(c->nodes[entry], "cairn-grpc");
    cr_assert(old > 0);
    int64_t t0 = it_now_ms();
    cr_assert_eq(kill(old, SIGKILL), 0);
    cr_assert(node_wait_role_restart(c->nodes[entry], "cairn-grpc", old, BOUND_MS) > 0,
              "cairn-grpc was not started again");
    w.state = -1;
    cr_assert(wait_until(everywhere, &w, BOUND_MS),
              "the killed incarnation's instance of %s is still listed somewhere", other);
    printf("cluster grpc: cairn-grpc killed alone, its instance gone from all 3 nodes after "
           "%lld ms (restart included)\n",
           (long long)(it_now_ms() - t0));
    fflush(stdout);
    /* the new incarnation serves, and its writes reach every node */
    it_grpc *g2 = NULL;
    char path[PATH_MAX + 16], addr[64];
    snprintf(path, sizeof path, "%s/grpc.addr", c->nodes[entry]->run_dir);
    for (int64_t until = it_now_ms() + BOUND_MS; !g2 && it_now_ms() < until;) {
        if (it_read_addr_file(path, addr, sizeof addr))
            g2 = grpc_open(addr);
        if (!g2)
            usleep(100 * 1000);
    }
    grpc_close(g2);
    grpc_close(g);
    g2 = grpc_to(c->nodes[entry]);
    grpc_register(g2, other, "127.0.62.2");
    want w2 = {c, ~0u, other, "127.0.62.2", 1};
    cr_assert(wait_until(everywhere, &w2, BOUND_MS), "the new incarnation's write is not everywhere");
    grpc_close(g2);
}

/* A whole node killed and started again before its peers notice: their replicators are frozen
 * meanwhile (and cluster.fail_count 100 keeps missed pings from making it DOWN), so no refused
 * dial turns it DOWN and no peer drops its connections' instances. The new cairn-grpc has every
 * member drop the earlier incarnations' instances itself, retrying until they answer, and drops
 * them again at home once the node has loaded (a load may bring back copies of them): both
 * instances of the earlier run, in a service another member owns and in one the node owns, leave
 * every node, while the new incarnation's instance stays. */
static const char *const UNNOTICED_SETS[] = {"cluster.fail_count=100", NULL};

IT_TEST(cluster_grpc, a_node_restarted_before_its_peers_notice_leaves_no_earlier_instance)
{
    it_cluster_opts o;
    it_cluster *c = three_nodes_up(&o, UNNOTICED_SETS);
    const int holder = 1;
    char other[64], own[64], peer[64], dir[PATH_MAX];
    service_owned(c, "grpc-rn-other", holder, false, other, sizeof other);
    service_owned(c, "grpc-rn-own", holder, true, own, sizeof own);
    cr_assert(cluster_peer_address(c, holder, peer, sizeof peer));
    snprintf(dir, sizeof dir, "%s", c->nodes[holder]->dir);
    it_grpc *g = grpc_to(c->nodes[holder]);
    grpc_register(g, other, "127.0.64.1");
    grpc_register(g, own, "127.0.64.2");
    want w1 = {c, ~0u, other, "127.0.64.1", 1}, w2 = {c, ~0u, own, "127.0.64.2", 1};
    cr_assert(wait_until(everywhere, &w1, BOUND_MS) && wait_until(everywhere, &w2, BOUND_MS),
              "the instances are not listed on every node");

    pid_t frozen[3] = {0};
    for (int i = 0; i < c->count; i++)
        if (i != holder) {
            cr_assert_eq(kill(c->nodes[i]->run->pid, SIGSTOP), 0); /* no restart of it */
            frozen[i] = node_freeze_role(c->nodes[i], "cairn-replicator");
        }
    cluster_crash_node(c, holder);
    grpc_close(g);
    cluster_start_member(c, &o, holder, dir, NULL, false);
    char path[PATH_MAX], hp[64];
    snprintf(path, sizeof path, "%s/peer.addr", it_tmpdir());
    cr_assert_eq(it_write_file(path, peer), 0);
    bool bound = it_wait_listening(path, hp, sizeof hp, BOUND_MS);
    for (int i = 0; i < c->count; i++)
        if (i != holder) {
            kill(frozen[i], SIGCONT);
            kill(c->nodes[i]->run->pid, SIGCONT);
        }
    cr_assert(bound, "the restarted node's replicator does not listen on %s", peer);
    int64_t t0 = it_now_ms();
    node_await_ready(c->nodes[holder]);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    w1.state = w2.state = -1;
    bool gone1 = wait_until(everywhere, &w1, BOUND_MS), gone2 = wait_until(everywhere, &w2, BOUND_MS);
    printf("cluster grpc: a node restarted unnoticed, its earlier run's instances gone from all 3 "
           "nodes %lld ms after the thaw\n", (long long)(it_now_ms() - t0));
    fflush(stdout);
    cr_assert(gone1, "the earlier run's instance of %s (owned by another member) is still listed",
              other);
    cr_assert(gone2, "the earlier run's instance of %s (owned by the restarted node) is still listed",
              own);
    /* the new incarnation's writes stay */
    g = grpc_to(c->nodes[holder]);
    grpc_register(g, other, "127.0.64.3");
    grpc_register(g, own, "127.0.64.4");
    want w3 = {c, ~0u, other, "127.0.64.3", 1}, w4 = {c, ~0u, own, "127.0.64.4", 1};
    cr_assert(wait_until(everywhere, &w3, BOUND_MS) && wait_until(everywhere, &w4, BOUND_MS),
              "the new incarnation's instances are not listed on every node");
    grpc_close(g);
}

/* A register of a probe instance of svc on g (at node entry), until svc's owner counts a forward
 * from entry: the entry's cairn-grpc follows the membership a moment after its replicator shows
 * every member UP, and until then may own svc itself. */
typedef struct routed_arg {
    const it_cluster *c;
    it_grpc *g;
    int entry, owner;
    const char *svc;
    double before;
} routed_arg;

static double forwards_from(const routed_arg *a)
{
    char from[96];
    snprintf(from, sizeof from, "peer=\"%s\"", a->c->ids[a->entry]);
    return node_metric(a->c->nodes[a->owner], "replicator",
                       "cairn_replicator_forwards_received_total", from);
}

static bool routed_to_owner(void *arg)
{
    routed_arg *a = arg;
    grpc_register(a->g, a->svc, "127.0.63.2");
    return forwards_from(a) > a->before;
}

/* The owner's replicator frozen (it stays an owner: cluster.fail_count 100): a gRPC register on a
 * non-owner is answered with an ErrorResponse naming the owner at the forward timeout (never a
 * stall), the connection serves on, and after the thaw the register goes through. */
static const char *const FROZEN_SETS[] = {"cluster.fail_count=100",
                                          "cluster.forward_timeout_ms=1000", NULL};

IT_TEST(cluster_grpc, a_frozen_owner_costs_an_error_response_not_a_stall)
{
    it_cluster_opts o;
    it_cluster *c = three_nodes_up(&o, FROZEN_SETS);
    const int entry = 0;
    char svc[64];
    service_owned(c, "grpc-fz", entry, false, svc, sizeof svc);
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, svc);
    it_node *victim = c->nodes[owner];
    it_grpc *g = grpc_to(c->nodes[entry]);
    routed_arg routed = {c, g, entry, owner, svc, 0};
    routed.before = forwards_from(&routed);
    cr_assert(wait_until(routed_to_owner, &routed, BOUND_MS),
              "node %d's cairn-grpc never forwarded %s to its owner", entry, svc);
    cr_assert_eq(kill(victim->run->pid, SIGSTOP), 0); /* no restart of the frozen role */
    pid_t repl = node_freeze_role(victim, "cairn-replicator");
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"127.0.63.1\",\"port\":8080,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true,"
             "\"clusterName\":\"DEFAULT\",\"metadata\":{}}");
    it_grpc_reply r;
    int64_t t0 = it_now_ms();
    grpc_call(g, "InstanceRequest", grpc_naming_body("public", svc, extra), &r, CALL_MS);
    int64_t took = it_now_ms() - t0;
    bool error = r.type && strcmp(r.type, "ErrorResponse") == 0;
    bool named = r.json && strstr(r.json, c->ids[owner]);
    printf("cluster grpc: a register for a frozen owner answered %s after %lld ms "
           "(cluster.forward_timeout_ms 1000): %s\n",
           r.type ? r.type : "nothing", (long long)took, r.json ? r.json : "");
    fflush(stdout);
    grpc_reply_free(&r);
    /* the connection serves on */
    grpc_call(g, "ServiceQueryRequest",
              grpc_naming_body("public", svc, "\"cluster\":\"\",\"healthyOnly\":false"), &r,
              CALL_MS);
    bool served = r.type && strcmp(r.type, "QueryServiceResponse") == 0;
    grpc_reply_free(&r);
    kill(repl, SIGCONT);
    kill(victim->run->pid, SIGCONT);
    cr_expect(error, "no ErrorResponse for a frozen owner");
    cr_expect(named, "the error does not name the owner %s", c->ids[owner]);
    cr_expect_geq(took, 900, "answered before the timeout");
    cr_expect_leq(took, IT_SANITIZED ? 8000 : 4000, "not bounded by the timeout");
    cr_expect(served, "a query on the same connection was not served");
    cr_expect_geq(grpc_metric(c->nodes[entry], "cairn_grpc_owned_forwards_total",
                              "result=\"failed\""), 1);
    /* the owner is back: the same register goes through and reaches every node */
    grpc_register(g, svc, "127.0.63.1");
    want w = {c, ~0u, svc, "127.0.63.1", 1};
    cr_assert(wait_until(everywhere, &w, BOUND_MS), "not on every node after the thaw");
    grpc_close(g);
}

/* registerInstance (reg) or deregisterInstance of the persistent instance ip:8080 in svc on g,
 * as PersistentInstanceRequest; asserts the InstanceResponse. */
static void grpc_persistent(it_grpc *g, const char *svc, const char *ip, bool reg)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"type\":\"%s\",\"instance\":{\"ip\":\"%s\",\"port\":8080,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":false,"
             "\"clusterName\":\"DEFAULT\",\"metadata\":{}}",
             reg ? "registerInstance" : "deregisterInstance", ip);
    it_grpc_reply r;
    grpc_call(g, "PersistentInstanceRequest", grpc_naming_body("public", svc, extra), &r,
              CALL_MS);
    cr_assert_eq(r.grpc_status, 0, "%s: grpc-status %d", svc, r.grpc_status);
    cr_assert(r.type && r.json, "%s: no answer", svc);
    cr_assert_str_eq(r.type, "InstanceResponse", "%s: %s", svc, r.json);
    cr_assert(strstr(r.json, "\"resultCode\":200"), "%s: %s", svc, r.json);
    grpc_reply_free(&r);
}

/* A persistent instance registered over gRPC is a raft write like a v1 one: on a raft follower
 * it is answered once committed and applied on that node (listed there at once), every member
 * lists it, it outlives its connection, and its deregistration leaves every member. */
IT_TEST(cluster_grpc, a_persistent_instance_goes_through_raft_to_every_node)
{
    it_cluster_opts o;
    it_cluster *c = three_nodes_up(&o, NULL);
    int leader = cluster_wait_raft_leader(c, 0, UP_TIMEOUT_MS);
    const int entry = (leader + 1) % c->count; /* a follower: the write is forwarded to the leader */
    const char *svc = "grpc-persistent";
    it_grpc *g = grpc_to(c->nodes[entry]);
    grpc_persistent(g, svc, "127.0.61.1", true);
    cr_expect_eq(cluster_host_health_at(c->nodes[entry]->gateway, svc, "127.0.61.1"), 1,
                 "the node that answered the write does not list it (read-your-writes)");
    want w = {c, ~0u, svc, "127.0.61.1", 1};
    cr_assert(wait_until(everywhere, &w, BOUND_MS),
              "a persistent instance registered over gRPC on node %d is not listed on every "
              "node", entry);
    cr_expect_geq(node_metric(c->nodes[entry], "replicator", "cairn_replicator_raft_submits_total",
                              NULL),
                  1, "the write was not submitted to raft on the node that took it");
    grpc_close(g);
    it_grpc *g2 = grpc_to(c->nodes[(entry + 1) % c->count]);
    cr_expect(everywhere(&w), "the persistent instance left with its connection");
    grpc_persistent(g2, svc, "127.0.61.1", false);
    w.state = -1;
    cr_assert(wait_until(everywhere, &w, BOUND_MS),
              "the persistent instance deregistered over gRPC is still listed somewhere");
    grpc_close(g2);
}
