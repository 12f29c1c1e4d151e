/* The new owner's grace period (cluster-design §1.7 "#1873", §2.6 "Expiry safety"): an instance
 * whose beats went to its old owner is not expired by the member that takes its service over;
 * it gets a full beat timeout from the view change, then beats to the new owner keep it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define VISIBLE_BOUND_MS (IT_SANITIZED ? 30000 : 10000)

TestSuite(cluster_grace, .fini = it_teardown, .timeout = 280);

/* The beat timeout is long enough that a loaded machine (make test runs suites side by side)
 * cannot stretch the test's own steps past it: the phases below keep a margin of 2 s to it. */
#define BEAT_TIMEOUT_MS 4000
static const char *const SETS[] = {"health.check_interval_ms=100", "health.beat_timeout_ms=4000",
                                   "health.delete_timeout_ms=8000", NULL};

typedef struct healthy_arg {
    const it_cluster *c;
    unsigned nodes;
    const char *name, *ip;
} healthy_arg;

static bool healthy_everywhere(void *arg)
{
    healthy_arg *a = arg;
    for (int i = 0; i < a->c->count; i++)
        if ((a->nodes & (1u << i)) && cluster_host_health_at(a->c->ids[i], a->name, a->ip) != 1)
            return false;
    return true;
}

/* What each running node thinks of every member, for a failure message. */
static void print_views(const it_cluster *c, unsigned running)
{
    for (int v = 0; v < c->count; v++) {
        if (!(running & (1u << v)))
            continue;
        char line[256] = "";
        for (int m = 0; m < c->count; m++) {
            char st[32] = "?";
            cluster_member_state(c, v, m, st, sizeof st);
            size_t used = strlen(line);
            snprintf(line + used, sizeof line - used, " %d=%s", m, st);
        }
        fprintf(stderr, "node %d sees%s\n", v, line);
    }
}

/* Beats node every 200 ms for ms, asserting the instance stays healthy on the nodes of mask
 * (the period is the client's beat interval, not a wait for state). */
static void beat_for(const it_cluster *c, const char *phase, int node, unsigned mask,
                     const char *name, const char *ip, int ms)
{
    int64_t start = it_now_ms(), end = start + ms;
    while (it_now_ms() < end) {
        if (node >= 0)
            cluster_beat_at(c->ids[node], name, ip);
        for (int i = 0; i < c->count; i++) {
            int health = mask & (1u << i) ? cluster_host_health_at(c->ids[i], name, ip) : 1;
            if (health == 1)
                continue;
            print_views(c, mask | (node >= 0 ? 1u << node : 0));
            cr_assert_fail("%s, %lld ms in: node %d %s %s", phase,
                           (long long)(it_now_ms() - start), i,
                           health == 0 ? "marked unhealthy" : "does not hold", ip);
        }
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

IT_TEST(cluster_grace, new_owner_gives_a_full_grace_period)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .sets = SETS};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    /* a service node 0 owns; its owner among the two others takes it over */
    char name[64];
    int heir = -1;
    for (int k = 0; k < 1000 && heir < 0; k++) {
        snprintf(name, sizeof name, "grace-svc-%d", k);
        if (cluster_owner_among(c, 0x7, name) == 0)
            heir = cluster_owner_among(c, 0x6, name);
    }
    cr_assert_geq(heir, 1);
    const char *ip = "127.0.33.1";
    nacos_write_ok(c->nodes[0], "POST", NS "/instance",
                   Q("serviceName", name, "ip", ip, "port", "8080", "ephemeral", "true"));
    healthy_arg all = {c, 0x7, name, ip};
    cr_assert(wait_until(healthy_everywhere, &all, VISIBLE_BOUND_MS), "not replicated");
    /* beats go to the owner for longer than a beat timeout: the heir's last beat is stale */
    beat_for(c, "beats to the owner", 0, 0x7, name, ip, BEAT_TIMEOUT_MS + 1000);

    node_stop(c->nodes[0]);
    cr_assert(cluster_wait_state(c, heir, 0, "DOWN", UP_TIMEOUT_MS), "node 0 is not DOWN");
    /* no beat for half a beat timeout: the new owner must keep it healthy (its own sweep
     * runs every 100 ms and would mark it at once on the stale beat) */
    beat_for(c, "no beats after the owner stopped", -1, 1u << heir, name, ip,
             BEAT_TIMEOUT_MS / 2);
    /* then the client beats the new owner: it stays healthy everywhere */
    beat_for(c, "beats to the new owner", heir, 0x6, name, ip, 3000);
    cr_expect_geq(node_metric(c->nodes[heir], "healthcheck",
                              "cairn_healthcheck_grace_resets_total", NULL),
                  1, "the new owner counted no grace reset");
}
