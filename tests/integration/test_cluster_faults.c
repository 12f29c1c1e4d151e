/* Faults of a three-node cluster, through real processes on loopback: a restart of the whole
 * cluster starts warm from each node's LMDB store (ephemeral instances still listed everywhere,
 * with no client registering again); a follower killed -9 under ephemeral register load loses
 * nothing its survivors acknowledged; a node cut off by routing rules in a network namespace of
 * the test's own is DOWN for the others and rejoins when the cut heals. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define VISIBLE_BOUND_MS (IT_SANITIZED ? 30000 : 15000) /* bounds a wait only */
#define DOWN_BOUND_MS (IT_SANITIZED ? 20000 : 10000)

TestSuite(cluster_faults, .fini = it_teardown, .timeout = 240);

/* Hosts of name listed by node i (-1: the list failed). */
static int hosts_on(const it_cluster *c, int i, const char *name)
{
    http_resp r = nacos_call(c->nodes[i], "GET", NS "/instance/list", Q("serviceName", name),
                             NULL, NULL);
    int n = -1;
    if (r.status == 200) {
        json_t *l = json_loads(r.body, 0, NULL);
        n = l ? list_host_count(l) : -1;
        json_decref(l);
    } else if (r.status == 404 || (r.body && strstr(r.body, "not found"))) {
        n = 0;
    }
    http_resp_free(&r);
    return n;
}

/* Services fault-<tag>-<k> for k < count, each with one instance, listed by every node in
 * `viewers`; `missing` names the first one that is not (for the failure message). */
typedef struct listed_arg {
    const it_cluster *c;
    unsigned viewers;
    const char *tag;
    int count;
    char missing[96];
} listed_arg;

static bool all_listed(void *arg)
{
    listed_arg *a = arg;
    for (int k = 0; k < a->count; k++) {
        char name[64];
        snprintf(name, sizeof name, "fault-%s-%d", a->tag, k);
        for (int i = 0; i < a->c->count; i++) {
            if ((a->viewers & (1u << i)) && hosts_on(a->c, i, name) != 1) {
                snprintf(a->missing, sizeof a->missing, "%s on node %d", name, i);
                return false;
            }
        }
    }
    return true;
}

static http_resp register_at(const it_cluster *c, int node, const char *name, const char *ip)
{
    return nacos_call(c->nodes[node], "POST", NS "/instance",
                      Q("serviceName", name, "ip", ip, "port", "8080", "ephemeral", "true"), NULL,
                      NULL);
}

/* ---- warm start -------------------------------------------------------------------------- */

#define WARM_SERVICES 12

IT_TEST(cluster_faults, full_restart_lists_ephemeral_instances_on_every_node)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    for (int k = 0; k < WARM_SERVICES; k++) {
        char name[64], ip[32];
        snprintf(name, sizeof name, "fault-warm-%d", k);
        snprintf(ip, sizeof ip, "127.0.40.%d", k + 1);
        http_resp r = register_at(c, cluster_owner_among(c, 0x7, name), name, ip);
        cr_assert_eq(r.status, 200, "register %s: %ld %s", name, r.status, r.body);
        http_resp_free(&r);
    }
    listed_arg a = {.c = c, .viewers = 0x7, .tag = "warm", .count = WARM_SERVICES};
    cr_assert(wait_until(all_listed, &a, VISIBLE_BOUND_MS), "before the restart: %s missing",
              a.missing);

    /* every node stops, then every node starts again on its own data; nobody registers */
    for (int i = 0; i < 3; i++)
        node_stop(c->nodes[i]);
    int64_t t0 = it_now_ms();
    for (int i = 0; i < 3; i++)
        cluster_restart_node(c, i);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "after the restart: not all UP");
    int64_t up_ms = it_now_ms() - t0;
    bool listed = wait_until(all_listed, &a, VISIBLE_BOUND_MS);
    printf("cluster faults: full restart, all 3 UP %lld ms after the first start; the %d "
           "ephemeral services %s on every node %lld ms after it\n",
           (long long)up_ms, WARM_SERVICES, listed ? "listed" : "NOT all listed",
           (long long)(it_now_ms() - t0));
    fflush(stdout);
    cr_assert(listed, "after a full restart %s is missing (no client registered again)",
              a.missing);
}

/* ---- a follower killed -9 under register load -------------------------------------------- */

#define LOAD_MAX (IT_SANITIZED ? 300 : 1000)
#define LOAD_BEFORE_KILL (IT_SANITIZED ? 30 : 80) /* registrations before the kill */
#define LOAD_AFTER_DOWN (IT_SANITIZED ? 30 : 80)  /* and after the survivors saw it DOWN */
#define LOAD_SECONDS 25
#define LOAD_THREADS 2

typedef struct load {
    const it_cluster *c;
    unsigned survivors;     /* members left after the kill */
    int victim;
    char names[LOAD_MAX][64];
    int owner[LOAD_MAX];    /* the owner in both views, a survivor */
    bool acked[LOAD_MAX];
    atomic_int next;
    atomic_int sent, acks, failures;
    atomic_bool stop;
    int64_t deadline_ms;
} load;

static void *load_thread(void *arg)
{
    load *l = arg;
    for (;;) {
        int k = atomic_fetch_add(&l->next, 1);
        if (k >= LOAD_MAX || atomic_load(&l->stop) || it_now_ms() >= l->deadline_ms)
            return NULL;
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.41.%d", k % 250 + 1);
        http_resp r = register_at(l->c, l->owner[k], l->names[k], ip);
        atomic_fetch_add(&l->sent, 1);
        if (r.status == 200 && r.body && strcmp(r.body, "ok") == 0) {
            l->acked[k] = true;
            atomic_fetch_add(&l->acks, 1);
        } else {
            atomic_fetch_add(&l->failures, 1);
        }
        http_resp_free(&r);
    }
}

typedef struct sent_arg {
    load *l;
    int at_least;
} sent_arg;

static bool sent_at_least(void *arg)
{
    sent_arg *a = arg;
    return atomic_load(&a->l->sent) >= a->at_least;
}

/* The raft leader node 0 names in operator/servers, as a member index (-1: none yet). */
static int raft_leader(const it_cluster *c)
{
    http_resp r = http_get_addr(c->nodes[0]->gateway, "/nacos/v1/ns/operator/servers", 2000);
    json_t *root = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    int leader = -1;
    size_t k;
    json_t *s;
    json_array_foreach(json_object_get(root, "servers"), k, s) {
        const char *address = json_string_value(json_object_get(s, "address"));
        const char *role = json_string_value(
            json_object_get(json_object_get(s, "extendInfo"), "raftRole"));
        for (int i = 0; address && role && i < c->count; i++)
            if (strcmp(address, c->ids[i]) == 0 && strcmp(role, "leader") == 0)
                leader = i;
    }
    json_decref(root);
    http_resp_free(&r);
    return leader;
}

typedef struct leader_arg {
    const it_cluster *c;
    int leader;
} leader_arg;

static bool leader_known(void *arg)
{
    leader_arg *a = arg;
    a->leader = raft_leader(a->c);
    return a->leader >= 0;
}

/* Polls until node lists name with one host, at most until end_ms. */
static bool listed_by(const it_cluster *c, int node, const char *name, int64_t end_ms)
{
    for (;;) {
        if (hosts_on(c, node, name) == 1)
            return true;
        if (it_now_ms() >= end_ms)
            return false;
        usleep(20 * 1000);
    }
}

/* Services whose owner is the same survivor before and after the victim goes: every
 * registration goes to the node that owns it whichever view the cluster is in. */
static void load_prepare(load *l, const it_cluster *c, int victim)
{
    memset(l, 0, sizeof *l);
    l->c = c;
    l->victim = victim;
    l->survivors = 0x7 & ~(1u << victim);
    for (int k = 0, seq = 0; k < LOAD_MAX; seq++) {
        snprintf(l->names[k], sizeof l->names[k], "fault-load-%d", seq);
        int before = cluster_owner_among(c, 0x7, l->names[k]);
        int after = cluster_owner_among(c, l->survivors, l->names[k]);
        if (before == after && before != victim)
            l->owner[k++] = before;
    }
}

/* Waits (one shared bound) until both survivors list every acknowledged registration; the
 * first that one of them does not list goes into missing ("" when none). Returns the number
 * acknowledged. */
static int load_first_lost(const load *l, char *missing, size_t len)
{
    int64_t end = it_now_ms() + VISIBLE_BOUND_MS;
    int acked = 0;
    missing[0] = '\0';
    for (int k = 0; k < LOAD_MAX; k++) {
        if (!l->acked[k])
            continue;
        acked++;
        for (int i = 0; i < 3 && !missing[0]; i++)
            if ((l->survivors & (1u << i)) && !listed_by(l->c, i, l->names[k], end))
                snprintf(missing, len, "%s (owner node %d) on node %d", l->names[k], l->owner[k],
                         i);
    }
    return acked;
}

IT_TEST(cluster_faults, follower_kill9_under_register_load_loses_no_acknowledged_write)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    leader_arg lk = {c, -1};
    cr_assert(wait_until(leader_known, &lk, UP_TIMEOUT_MS), "no raft leader");
    static load l;
    load_prepare(&l, c, (lk.leader + 1) % 3); /* the victim: a raft follower */
    l.deadline_ms = it_now_ms() + LOAD_SECONDS * 1000;
    pthread_t t[LOAD_THREADS];
    for (int i = 0; i < LOAD_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, load_thread, &l), 0);
    /* the load runs through the kill, the view change and beyond */
    sent_arg before = {&l, LOAD_BEFORE_KILL};
    wait_until(sent_at_least, &before, LOAD_SECONDS * 1000);
    int64_t t_kill = it_now_ms();
    int sent_at_kill = atomic_load(&l.sent);
    cluster_crash_node(c, l.victim);
    bool down = cluster_wait_all(c, l.survivors, 1u << l.victim, "DOWN", DOWN_BOUND_MS);
    int64_t down_ms = it_now_ms() - t_kill;
    sent_arg after = {&l, atomic_load(&l.sent) + LOAD_AFTER_DOWN};
    wait_until(sent_at_least, &after, LOAD_SECONDS * 1000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < LOAD_THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert(down, "the killed follower is not DOWN on both survivors after %d ms",
              DOWN_BOUND_MS);

    /* every acknowledged registration is listed by both survivors */
    char missing[128] = "";
    int acked = load_first_lost(&l, missing, sizeof missing);
    bool all = !missing[0];
    printf("cluster faults: kill -9 of follower node %d after %d registrations; DOWN on both "
           "survivors after %lld ms; %d sent, %d acknowledged, %d refused or failed; "
           "acknowledged and not listed on a survivor: %s\n",
           l.victim, sent_at_kill, (long long)down_ms, atomic_load(&l.sent),
           atomic_load(&l.acks), atomic_load(&l.failures), all ? "0" : missing);
    fflush(stdout);
    cr_expect_eq(acked, atomic_load(&l.sent), "only %d of %d registrations (all on survivors) "
                 "were acknowledged", acked, atomic_load(&l.sent));
    cr_expect_gt(atomic_load(&l.sent), sent_at_kill + LOAD_AFTER_DOWN, "the load stopped early");
    cr_assert(all, "an acknowledged registration is lost: %s", missing);
}

/* ---- a partition ------------------------------------------------------------------------- */

IT_TEST(cluster_faults, partitioned_node_is_down_for_the_others_and_rejoins)
{
    cluster_netns_enter();
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");

    cluster_cut_host(2, true);
    int64_t t0 = it_now_ms();
    bool down = cluster_wait_all(c, 0x3, 0x4, "DOWN", DOWN_BOUND_MS);
    int64_t down_ms = it_now_ms() - t0;
    /* the two still see each other */
    bool pair_up = cluster_wait_all(c, 0x3, 0x3, "UP", 2000);
    char st[32] = "?";
    cluster_member_state(c, 0, 1, st, sizeof st);

    cluster_cut_host(2, false);
    int64_t t1 = it_now_ms();
    bool back = cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS);
    int64_t back_ms = it_now_ms() - t1;
    printf("cluster faults: partition of node 2 (127.0.0.3): DOWN on both others after %lld ms "
           "(ping %d ms); after the heal all UP on every node after %lld ms\n",
           (long long)down_ms, IT_CLUSTER_PING_MS, (long long)back_ms);
    fflush(stdout);
    cr_assert(down, "the cut-off node is not DOWN on both others after %d ms", DOWN_BOUND_MS);
    cr_assert(pair_up, "the two connected nodes lost each other (node 0 sees node 1 %s)", st);
    cr_assert(back, "the healed node is not UP on every node after %d ms", UP_TIMEOUT_MS);

    /* and it takes part again: a registration on its owner shows on all three */
    const char *name = "fault-healed-0";
    http_resp r = register_at(c, cluster_owner_among(c, 0x7, name), name, "127.0.42.1");
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    http_resp_free(&r);
    listed_arg a = {.c = c, .viewers = 0x7, .tag = "healed", .count = 1};
    cr_assert(wait_until(all_listed, &a, VISIBLE_BOUND_MS), "after the heal: %s missing",
              a.missing);
}
