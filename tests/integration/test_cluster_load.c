/* Distro load on start through real nodes (cluster-design §2.8 step 3, §4 "restart with an empty
 * data dir"): a member started while its peers are up loads their ephemeral data before it is
 * ready, and answers reads 503 STARTING until then (never an empty list); a member restarted
 * with an empty data dir loads again; a full-cluster restart warm-starts from each member's own
 * store with nothing re-registered. The load is held by freezing the peers' replicators: the
 * starting member hears no READY peer and waits (distro.load_alone_ms=0: forever). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define VISIBLE_BOUND_MS (IT_SANITIZED ? 30000 : 15000)
#define SERVICES (IT_SANITIZED ? 20 : 60)
#define STARTING_TEXT "server is STARTINGnow, please try again later!"

TestSuite(cluster_load, .fini = it_teardown, .timeout = 280);

typedef struct all_arg {
    const it_cluster *c;
    unsigned nodes;
    const char *prefix;
    int count;
} all_arg;

/* Every service prefix-0..count-1 lists its one host on every node of the mask. */
static bool all_listed(void *arg)
{
    all_arg *a = arg;
    for (int i = 0; i < a->c->count; i++) {
        if (!(a->nodes & (1u << i)))
            continue;
        for (int k = 0; k < a->count; k++) {
            char name[64];
            snprintf(name, sizeof name, "%s-%d", a->prefix, k);
            if (cluster_hosts_at(a->c->ids[i], name, NULL) != 1)
                return false;
        }
    }
    return true;
}

/* How many of prefix-0..count-1 node i lists with their host. */
static int listed_on(const it_cluster *c, int i, const char *prefix, int count)
{
    int n = 0;
    for (int k = 0; k < count; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s-%d", prefix, k);
        n += cluster_hosts_at(c->ids[i], name, NULL) == 1;
    }
    return n;
}

/* Registers prefix-0..count-1 (one ephemeral host each) on their owner among `owners`. */
static void register_all(const it_cluster *c, unsigned owners, const char *prefix, int count,
                         int subnet)
{
    for (int k = 0; k < count; k++) {
        char name[64], ip[32];
        snprintf(name, sizeof name, "%s-%d", prefix, k);
        snprintf(ip, sizeof ip, "127.0.%d.%d", subnet, k + 1);
        int owner = cluster_owner_among(c, owners, name);
        nacos_write_ok(c->nodes[owner], "POST", NS "/instance",
                       Q("serviceName", name, "ip", ip, "port", "8080", "ephemeral", "true"));
    }
}

typedef struct starting_arg {
    const char *hostport;
    int status;
    char body[128];
} starting_arg;

/* The gateway answers (any status) a list request. */
static bool gateway_answers(void *arg)
{
    starting_arg *s = arg;
    http_resp r = nacos_call_at(s->hostport, "GET", NS "/instance/list",
                                Q("serviceName", "load-svc-0"), NULL, NULL);
    s->status = r.status;
    snprintf(s->body, sizeof s->body, "%s", r.body ? r.body : "");
    http_resp_free(&r);
    return r.status > 0;
}

static int readiness_status(const char *hostport)
{
    http_resp r = http_get_addr(hostport, "/nacos/v1/console/health/readiness", 2000);
    int st = r.status;
    http_resp_free(&r);
    return st;
}

IT_TEST(cluster_load, late_member_answers_starting_until_loaded_then_lists_everything)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .late_mask = 1u << 2};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0x3, 0x3, "UP", UP_TIMEOUT_MS), "nodes 0 and 1 are not UP");
    register_all(c, 0x3, "load-svc", SERVICES, 41);
    all_arg everything = {c, 0x3, "load-svc", SERVICES};
    cr_assert(wait_until(all_listed, &everything, VISIBLE_BOUND_MS),
              "the registrations did not reach both running nodes");

    /* the peers' replicators frozen: the late member hears no READY peer and keeps loading */
    pid_t frozen[2];
    for (int i = 0; i < 2; i++)
        frozen[i] = node_freeze_role(c->nodes[i], "cairn-replicator");
    const char *const hold[] = {"distro.load_alone_ms=0", NULL};
    cluster_start_member(c, &o, 2, NULL, hold, false);
    starting_arg s = {.hostport = c->ids[2]};
    cr_assert(wait_until(gateway_answers, &s, UP_TIMEOUT_MS), "node 2's gateway never answered");
    cr_expect_eq(s.status, 503, "a loading member answered a list with %d: %s", s.status, s.body);
    cr_expect_str_eq(s.body, STARTING_TEXT);
    http_resp r = nacos_call_at(c->ids[2], "GET", NS "/catalog/services", NULL, NULL, NULL);
    cr_expect_eq(r.status, 503, "catalog while loading: %d", r.status);
    http_resp_free(&r);
    cr_expect_neq(readiness_status(c->ids[2]), 200, "a loading member says it is ready");

    int64_t t0 = it_now_ms();
    for (int i = 0; i < 2; i++)
        kill(frozen[i], SIGCONT);
    node_await_ready(c->nodes[2]);
    int64_t ready_ms = it_now_ms() - t0;
    /* the moment it is ready, everything is there */
    int listed = listed_on(c, 2, "load-svc", SERVICES);
    printf("distro load: a member started late was ready %lld ms after its peers resumed and "
           "listed %d of %d services at once\n",
           (long long)ready_ms, listed, SERVICES);
    fflush(stdout);
    cr_expect_eq(listed, SERVICES, "node 2 lists %d of %d services when ready", listed,
                 SERVICES);
    cr_expect_eq(readiness_status(c->ids[2]), 200);
    cr_expect_gt(node_metric(c->nodes[2], "replicator", "cairn_replicator_load_pages_total",
                             NULL),
                 0, "node 2 loaded no page");
}

IT_TEST(cluster_load, member_restarted_with_an_empty_data_dir_loads_again)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    register_all(c, 0x7, "wipe-svc", SERVICES, 42);
    all_arg everything = {c, 0x7, "wipe-svc", SERVICES};
    cr_assert(wait_until(all_listed, &everything, VISIBLE_BOUND_MS),
              "the registrations did not reach every node");

    node_stop(c->nodes[2]);
    cr_assert(cluster_wait_all(c, 0x3, 0x4, "DOWN", UP_TIMEOUT_MS), "node 2 is not DOWN");
    int64_t t0 = it_now_ms();
    cluster_start_member(c, &o, 2, NULL, NULL, true); /* a new, empty data dir */
    int64_t ready_ms = it_now_ms() - t0;
    int listed = listed_on(c, 2, "wipe-svc", SERVICES);
    printf("distro load: a member restarted with an empty data dir was ready after %lld ms "
           "(process start included) and listed %d of %d services at once\n",
           (long long)ready_ms, listed, SERVICES);
    fflush(stdout);
    cr_expect_eq(listed, SERVICES, "node 2 lists %d of %d services when ready", listed,
                 SERVICES);
    /* the load deleted nothing anywhere */
    for (int i = 0; i < 2; i++)
        cr_expect_eq(listed_on(c, i, "wipe-svc", SERVICES), SERVICES, "node %d lost services",
                     i);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "node 2 did not rejoin");
}

IT_TEST(cluster_load, full_cluster_restart_warm_starts_from_each_store)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    register_all(c, 0x7, "restart-svc", SERVICES, 43);
    all_arg everything = {c, 0x7, "restart-svc", SERVICES};
    cr_assert(wait_until(all_listed, &everything, VISIBLE_BOUND_MS),
              "the registrations did not reach every node");
    char dirs[3][PATH_MAX];
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s", c->nodes[i]->dir);
        node_stop(c->nodes[i]);
    }
    /* all three again on their own data, nobody re-registers */
    int64_t t0 = it_now_ms();
    for (int i = 0; i < 3; i++)
        cluster_start_member(c, &o, i, dirs[i], NULL, false);
    for (int i = 0; i < 3; i++)
        node_await_ready(c->nodes[i]);
    int64_t ready_ms = it_now_ms() - t0;
    int listed[3];
    for (int i = 0; i < 3; i++)
        listed[i] = listed_on(c, i, "restart-svc", SERVICES);
    printf("distro load: a full-cluster restart was ready after %lld ms with %d/%d/%d of %d "
           "services listed at once (warm start, distro.load_wait_ms 2000)\n",
           (long long)ready_ms, listed[0], listed[1], listed[2], SERVICES);
    fflush(stdout);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(listed[i], SERVICES, "node %d lists %d of %d after the restart", i,
                     listed[i], SERVICES);
}
