/* Distro sync through real nodes: ephemeral instances registered on their service's owner show
 * on every member within a bounded wait (the visibility latency is printed), a deregistration
 * disappears everywhere, persistent instances are not Distro's (raft carries them), a non-owner
 * does not expire a replicated instance, and a member returning from DOWN gets what its peers
 * own. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define VISIBLE_BOUND_MS (IT_SANITIZED ? 30000 : 10000) /* generous: the target is ~100 ms */
#define REGISTRATIONS (IT_SANITIZED ? 15 : 50)

TestSuite(cluster_sync, .fini = it_teardown, .timeout = 280);

typedef struct want {
    const it_cluster *c;
    const char *name;
    int hosts;
} want;

static bool everywhere(void *arg)
{
    want *w = arg;
    for (int i = 0; i < w->c->count; i++)
        if (cluster_hosts_at(w->c->nodes[i]->gateway, w->name, NULL) != w->hosts)
            return false;
    return true;
}

static void register_on(const it_cluster *c, int node, const char *name, const char *ip,
                        const char *ephemeral)
{
    nacos_write_ok(c->nodes[node], "POST", NS "/instance",
                   Q("serviceName", name, "ip", ip, "port", "8080", "ephemeral", ephemeral));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

IT_TEST(cluster_sync, owner_registrations_show_everywhere_and_deregistrations_vanish)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    int64_t lat[REGISTRATIONS];
    int per_owner[IT_CLUSTER_MAX] = {0};
    for (int k = 0; k < REGISTRATIONS; k++) {
        char name[64], ip[32];
        snprintf(name, sizeof name, "sync-svc-%d", k);
        snprintf(ip, sizeof ip, "127.0.30.%d", k + 1);
        int owner = cluster_owner_among(c, IT_CLUSTER_ALL, name);
        per_owner[owner]++;
        int64_t t0 = it_now_ms();
        register_on(c, owner, name, ip, "true");
        want w = {c, name, 1};
        cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS),
                  "%s (owner node %d) is not listed on every node after %d ms", name, owner,
                  VISIBLE_BOUND_MS);
        lat[k] = it_now_ms() - t0;
    }
    qsort(lat, REGISTRATIONS, sizeof lat[0], cmp_i64);
    printf("distro sync: %d registrations on their owner (%d/%d/%d per node) listed on all 3 "
           "nodes after p50 %lld ms, p99 %lld ms, max %lld ms (distro.sync_delay_ms 50)\n",
           REGISTRATIONS, per_owner[0], per_owner[1], per_owner[2],
           (long long)lat[REGISTRATIONS / 2], (long long)lat[(REGISTRATIONS * 99) / 100],
           (long long)lat[REGISTRATIONS - 1]);
    fflush(stdout);
    for (int i = 0; i < 3; i++)
        cr_expect_gt(node_metric(c->nodes[i], "replicator", "cairn_replicator_syncs_total", NULL),
                     0, "node %d sent no DISTRO_SYNC", i);

    /* deregistration: the tombstone reaches every node */
    for (int k = 0; k < 6; k++) {
        char name[64], ip[32];
        snprintf(name, sizeof name, "sync-svc-%d", k);
        snprintf(ip, sizeof ip, "127.0.30.%d", k + 1);
        int owner = cluster_owner_among(c, IT_CLUSTER_ALL, name);
        nacos_write_ok(c->nodes[owner], "DELETE", NS "/instance",
                       Q("serviceName", name, "ip", ip, "port", "8080", "ephemeral", "true"));
        want w = {c, name, 0};
        cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS),
                  "%s is still listed somewhere after its deregistration", name);
    }
}

IT_TEST(cluster_sync, persistent_instances_are_not_carried_by_distro)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    const char *svc = "sync-persistent";
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, svc);
    http_resp r = nacos_call(c->nodes[owner], "POST", NS "/instance",
                             Q("serviceName", svc, "ip", "127.0.31.1", "port", "8080",
                               "ephemeral", "false"),
                             NULL, NULL);
    bool written = r.status == 200;
    printf("distro sync: a persistent registration on the owner answered %ld\n", r.status);
    http_resp_free(&r);
    /* a later ephemeral change of another service from the same owner is a barrier: when it is
     * everywhere, a sync that carried the persistent one would have arrived too */
    char barrier[64];
    for (int k = 0;; k++) {
        snprintf(barrier, sizeof barrier, "sync-barrier-%d", k);
        if (cluster_owner_among(c, IT_CLUSTER_ALL, barrier) == owner)
            break;
    }
    register_on(c, owner, barrier, "127.0.31.2", "true");
    want w = {c, barrier, 1};
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS), "the barrier is not everywhere");
    cr_expect_eq(cluster_hosts_at(c->nodes[owner]->gateway, svc, NULL), written ? 1 : 0);
    /* persistent data travels by raft (test_cluster_raft_write): acknowledged, it is on every
     * member; refused (no raft leader yet), on none */
    want p = {c, svc, written ? 1 : 0};
    cr_expect(wait_until(everywhere, &p, VISIBLE_BOUND_MS),
              "the persistent instance (answered %s) is not on every member alike",
              written ? "ok" : "503");
}

/* Short expiry everywhere; the owner gets beats, the other nodes only the replicated copy. */
static const char *const EXPIRY_SETS[] = {"health.check_interval_ms=100",
                                          "health.beat_timeout_ms=1500",
                                          "health.delete_timeout_ms=3000", NULL};

IT_TEST(cluster_sync, non_owners_do_not_expire_replicated_instances)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .sets = EXPIRY_SETS};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    const char *svc = "sync-beaten", *ip = "127.0.32.1";
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, svc);
    register_on(c, owner, svc, ip, "true");
    want w = {c, svc, 1};
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS), "not replicated");
    /* beat the owner for one and a half delete timeouts: every node must keep listing it */
    int64_t end = it_now_ms() + 4500;
    while (it_now_ms() < end) {
        cluster_beat_at(c->nodes[owner]->gateway, svc, ip);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(cluster_hosts_at(c->nodes[i]->gateway, svc, NULL), 1,
                         "node %d (owner %d) lost the instance", i, owner);
        struct timespec ts = {0, 200 * 1000000L}; /* the beat period, not a wait for state */
        nanosleep(&ts, NULL);
    }
    /* the owner's healthcheck still expires it when the beats stop, and the removal syncs */
    w.hosts = 0;
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS + 5000),
              "the unbeaten instance did not expire everywhere");
}

