/* Distro verify rounds through real nodes (cluster-design §2.6, §6 "Drift"): a copy that differs
 * from its owner's is repaired, a stale copy the owner wrote and no longer holds is removed, a
 * copy written by another member is kept (the removal guard) and taken by the owner; a
 * replicator frozen
 * while writes go on elsewhere converges with its peers once it resumes. Divergence is injected
 * straight into one node's registry (DISTRO_APPLY on its registry.sock), as a lost sync would
 * leave it: only a verify round can find it, since the owner has nothing new to send. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"
#include "cairn_requests.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define REPAIR_BOUND_MS (IT_SANITIZED ? 40000 : 20000) /* generous: ~2 rounds of 500 ms */
#define SERVICES (IT_SANITIZED ? 15 : 40)

TestSuite(cluster_verify, .fini = it_teardown, .timeout = 280);

static const char *const fast_verify[] = {"distro.verify_interval_ms=500", NULL};

/* A service name prefix-k owned by node `owner` among all members. */
static void name_owned_by(const it_cluster *c, int owner, const char *prefix, char *out,
                          size_t len)
{
    for (int k = 0; k < 1000; k++) {
        snprintf(out, len, "%s-%d", prefix, k);
        if (cluster_owner_among(c, 0x7, out) == owner)
            return;
    }
    cr_assert_fail("no name owned by node %d", owner);
}

typedef struct want {
    const it_cluster *c;
    int node; /* -1: every node */
    const char *name;
    int hosts;
} want;

static bool has_hosts(void *arg)
{
    want *w = arg;
    for (int i = 0; i < w->c->count; i++)
        if ((w->node < 0 || w->node == i) &&
            cluster_hosts_at(w->c->ids[i], w->name, NULL) != w->hosts)
            return false;
    return true;
}

static uint64_t store_epoch(const it_node *n)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_stats(&rq, &st), CAIRN_OK);
    cairn_reply rep;
    cairn_reply_init(&rep);
    cr_assert_eq(registry_request(n, &rq, &rep, 20000), CAIRN_OK);
    cairn_request_free(&rq);
    uint64_t e = rep.store_epoch;
    cairn_reply_free(&rep);
    cr_assert_neq(e, 0);
    return e;
}

/* Writes a copy of (public, DEFAULT_GROUP@@svc) into node n's registry as FORCE: version
 * (epoch, seq, origin), `count` ephemeral instances 127.0.21.<i>:7000. */
static void inject(const it_node *n, const char *svc, uint64_t epoch, uint64_t seq,
                   const char *origin, uint32_t count)
{
    cairn_distro_state *ds = calloc(1, sizeof *ds);
    char grouped[256];
    snprintf(grouped, sizeof grouped, "DEFAULT_GROUP@@%s", svc);
    ds->namespace_id = strdup("public");
    ds->service = strdup(grouped);
    ds->version = (cairn_distro_version){.epoch = epoch, .seq = seq, .origin = strdup(origin)};
    ds->instances = calloc(count, sizeof *ds->instances);
    ds->instance_count = count;
    for (uint32_t i = 0; i < count; i++) {
        cairn_instance *in = &ds->instances[i];
        cairn_instance_init(in);
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.21.%u", i + 1);
        in->ip = strdup(ip);
        in->port = 7000;
        in->cluster = strdup("DEFAULT");
        in->modified_ms = 1;
    }
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_apply(&rq, ds, 1, CAIRN_DISTRO_FORCE, 0, &st), CAIRN_OK);
    cairn_reply rep;
    cairn_reply_init(&rep);
    cr_assert_eq(registry_request(n, &rq, &rep, 20000), CAIRN_OK);
    cairn_request_free(&rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message ? rep.message : "");
    cr_assert_eq(rep.outcome_count, 1);
    cr_assert_eq(rep.outcomes[0], CAIRN_DISTRO_APPLIED);
    cairn_reply_free(&rep);
}

/* inject() into node `at` while its replicator is held still (far shorter than a suspicion),
 * until its gateway lists the injected copy: a verify round could otherwise repair the copy
 * before the test has seen it. */
static void inject_seen(const it_cluster *c, int at, const char *svc, uint64_t epoch,
                        uint64_t seq, const char *origin, uint32_t count)
{
    pid_t held = node_freeze_role(c->nodes[at], "cairn-replicator");
    inject(c->nodes[at], svc, epoch, seq, origin, count);
    want injected = {c, at, svc, (int)count};
    bool listed = wait_until(has_hosts, &injected, 2000);
    kill(held, SIGCONT);
    cr_assert(listed, "the injected copy of %s is not listed", svc);
}

IT_TEST(cluster_verify, drift_is_repaired_stale_copies_removed_foreign_copies_taken_by_the_owner)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .sets = fast_verify};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    const int owner = 0, holder = 2, third = 1;

    /* 1. a copy that differs from the owner's (another writer, two hosts): fetched again */
    char differs[64];
    name_owned_by(c, owner, "drift-differs", differs, sizeof differs);
    nacos_write_ok(c->nodes[owner], "POST", NS "/instance",
                   Q("serviceName", differs, "ip", "127.0.22.1", "port", "8080", "ephemeral",
                     "true"));
    want everywhere = {c, -1, differs, 1};
    cr_assert(wait_until(has_hosts, &everywhere, REPAIR_BOUND_MS), "%s was not synced", differs);
    inject_seen(c, holder, differs, 0x3333333333333333ull, 1, c->ids[third], 2);
    int64_t t0 = it_now_ms();
    want repaired = {c, holder, differs, 1};
    cr_assert(wait_until(has_hosts, &repaired, REPAIR_BOUND_MS),
              "the differing copy of %s was not repaired", differs);
    int64_t repair_ms = it_now_ms() - t0;

    /* 2. a copy the owner wrote (its origin, its epoch) and no longer holds: removed */
    char stale[64];
    name_owned_by(c, owner, "drift-stale", stale, sizeof stale);
    inject_seen(c, holder, stale, store_epoch(c->nodes[owner]), 5, c->ids[owner], 1);
    want removed = {c, holder, stale, 0};
    cr_assert(wait_until(has_hosts, &removed, REPAIR_BOUND_MS),
              "the stale copy of %s was not removed", stale);

    /* 3. a copy another member wrote that the owner lacks (a sync lost in a handover): the
     * guard keeps it, and the owner takes it and re-publishes it everywhere */
    char foreign[64];
    name_owned_by(c, owner, "drift-foreign", foreign, sizeof foreign);
    inject(c->nodes[holder], foreign, 0x4444444444444444ull, 1, c->ids[third], 1);
    want taken = {c, -1, foreign, 1};
    cr_assert(wait_until(has_hosts, &taken, REPAIR_BOUND_MS),
              "the foreign copy of %s was not taken by its owner", foreign);
    cr_expect_geq(node_metric(c->nodes[owner], "replicator", "cairn_replicator_repairs_total",
                              "kind=\"take\""),
                  1, "the owner counted no copy taken");

    double fetched = node_metric(c->nodes[holder], "replicator", "cairn_replicator_repairs_total",
                                 "kind=\"fetch\"");
    double deleted = node_metric(c->nodes[holder], "replicator", "cairn_replicator_repairs_total",
                                 "kind=\"delete\"");
    double rounds = node_metric(c->nodes[holder], "replicator",
                                "cairn_replicator_verify_rounds_total", NULL);
    printf("distro verify: a differing copy was repaired %lld ms after it was injected "
           "(verify interval 500 ms); repairs fetch %.0f, delete %.0f; %.0f rounds\n",
           (long long)repair_ms, fetched, deleted, rounds);
    fflush(stdout);
    cr_expect_geq(fetched, 1);
    cr_expect_geq(deleted, 1);
    /* the owner and the third node were never touched */
    cr_expect_eq(cluster_hosts_at(c->ids[owner], differs, NULL), 1);
    cr_expect_eq(cluster_hosts_at(c->ids[third], differs, NULL), 1);
}

IT_TEST(cluster_verify, frozen_replicator_converges_after_it_resumes)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .sets = fast_verify};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    pid_t frozen = node_freeze_role(c->nodes[2], "cairn-replicator");
    cr_assert(cluster_wait_all(c, 0x3, 0x4, "DOWN", UP_TIMEOUT_MS),
              "the frozen member is not DOWN for its peers");
    /* writes go on at the two left, each on its owner in their view */
    for (int k = 0; k < SERVICES; k++) {
        char name[64], ip[32];
        snprintf(name, sizeof name, "frozen-svc-%d", k);
        snprintf(ip, sizeof ip, "127.0.23.%d", k + 1);
        nacos_write_ok(c->nodes[cluster_owner_among(c, 0x3, name)], "POST", NS "/instance",
                       Q("serviceName", name, "ip", ip, "port", "8080", "ephemeral", "true"));
    }
    int64_t t0 = it_now_ms();
    kill(frozen, SIGCONT);
    for (int k = 0; k < SERVICES; k++) {
        char name[64];
        snprintf(name, sizeof name, "frozen-svc-%d", k);
        want w = {c, -1, name, 1};
        cr_assert(wait_until(has_hosts, &w, REPAIR_BOUND_MS),
                  "%s is not on every node %d ms after the member resumed", name,
                  REPAIR_BOUND_MS);
    }
    printf("distro verify: a member frozen until DOWN listed all %d services written meanwhile "
           "%lld ms after it resumed\n",
           SERVICES, (long long)(it_now_ms() - t0));
    fflush(stdout);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "the member did not rejoin");
}
