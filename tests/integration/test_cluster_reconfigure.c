/* Changing the members (README "Changing the members", replicator/raft_reconfigure.h): a fourth
 * member is added to a running three-member cluster by listing it in every member's
 * cluster.members (a rolling restart) and starting it with an empty data dir; the raft leader
 * adds it and makes it a voter, and it holds the persistent data. Then it leaves: stopped, the
 * others restarted with the list of three, the leader removes it, and two of the three are a
 * majority again (with four voters they would not be). A member moved to another address is
 * replaced the same way in one list edit. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cairn_cluster.h"
#include "cairn_nacos.h"

#define ELECT_BOUND_MS (IT_SANITIZED ? 60000 : 30000) /* generous: bounds a wait only */
#define CHANGE_BOUND_MS (IT_SANITIZED ? 60000 : 30000)

TestSuite(cluster_reconfigure, .fini = it_teardown, .timeout = 400);

static const char *const SETS[] = {"raft.election_timeout_ms=1000", "raft.heartbeat_ms=100",
                                   "raft.bootstrap_wait_ms=1000", "raft.submit_timeout_ms=3000",
                                   NULL};

static void persistent_register(const it_node *n, const char *ip)
{
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "reconf-p", "ip", ip, "port", "8080", "ephemeral", "false"));
}

typedef struct voters_arg {
    const it_node *n;
    int voters;
    double seen;
} voters_arg;

static bool counts_voters(void *arg)
{
    voters_arg *a = arg;
    a->seen = node_metric(a->n, "replicator", "cairn_replicator_raft_voters", NULL);
    return a->seen == a->voters;
}

/* Every node of mask counts `voters` voters in its raft configuration. */
static void wait_voters(const it_cluster *c, unsigned mask, int voters, const char *what)
{
    for (int i = 0; i < c->count; i++) {
        if (!(mask & (1u << i)))
            continue;
        voters_arg a = {c->nodes[i], voters, -1};
        cr_assert(wait_until(counts_voters, &a, CHANGE_BOUND_MS),
                  "%s: node %d counts %g voters, not %d", what, i, a.seen, voters);
    }
}

typedef struct changes_arg {
    const it_cluster *c;
    unsigned mask;
    const char *labels; /* of raft_configuration_changes_total */
    double seen;
} changes_arg;

/* Some node of mask counts at least one configuration change with those labels. */
static bool changed_somewhere(void *arg)
{
    changes_arg *a = arg;
    a->seen = 0;
    for (int i = 0; i < a->c->count; i++)
        if (a->mask & (1u << i))
            a->seen += node_metric(a->c->nodes[i], "replicator",
                                   "cairn_replicator_raft_configuration_changes_total",
                                   a->labels);
    return a->seen >= 1;
}

/* Restarts the running members of mask one at a time with the current listed_mask, waiting for
 * a raft leader among them after each (a rolling restart). */
static void rolling_restart(it_cluster *c, unsigned mask)
{
    for (int i = 0; i < c->count; i++) {
        if (!(mask & (1u << i)))
            continue;
        node_stop(c->nodes[i]);
        cluster_restart_node(c, i);
        cluster_wait_raft_leader(c, mask, ELECT_BOUND_MS);
    }
}

typedef struct held_arg {
    const it_node *n;
    const char *ip;
} held_arg;

static bool holds(void *arg)
{
    held_arg *a = arg;
    return cluster_host_health_at(a->n->gateway, "reconf-p", a->ip) >= 0;
}

/* The options of both tests: four members, of which the first three start, listing only
 * themselves; the fourth comes later. */
static const it_cluster_opts THREE_OF_FOUR = {.nodes = 4, .layout = IT_LAYOUT_PORTS,
                                              .wrong_secret_node = -1, .late_mask = 0x8,
                                              .listed_mask = 0x7, .sets = SETS};

/* Starts the first three, waits for their leader and three voters, and writes ip through the
 * leader. */
static it_cluster *start_three(const char *ip)
{
    it_cluster *c = cluster_start(&THREE_OF_FOUR);
    int leader = cluster_wait_raft_leader(c, 0x7, ELECT_BOUND_MS);
    wait_voters(c, 0x7, 3, "the first three");
    persistent_register(c->nodes[leader], ip);
    return c;
}

/* Of the three members in mask, stops one that does not lead and writes ip on the other, then
 * reads it on the leader: two of three voters are a majority, two of four would not be. */
static void write_on_two_of_three(it_cluster *c, unsigned mask, const char *ip)
{
    int leader = cluster_wait_raft_leader(c, mask, ELECT_BOUND_MS);
    int others[2], n = 0;
    for (int i = 0; i < c->count && n < 2; i++)
        if ((mask & (1u << i)) && i != leader)
            others[n++] = i;
    cr_assert_eq(n, 2, "mask 0x%x does not hold three members", mask);
    node_stop(c->nodes[others[0]]);
    persistent_register(c->nodes[others[1]], ip);
    held_arg h = {c->nodes[leader], ip};
    cr_assert(wait_until(holds, &h, CHANGE_BOUND_MS), "the write on two of three is not applied");
}

IT_TEST(cluster_reconfigure, a_member_is_added_then_removed_through_cluster_members)
{
    it_cluster *c = start_three("127.85.0.1");

    /* list the fourth member everywhere, then start it with an empty data dir */
    c->listed_mask = 0xF;
    rolling_restart(c, 0x7);
    int64_t t0 = it_now_ms();
    cluster_start_member(c, &THREE_OF_FOUR, 3, NULL, NULL, true);
    wait_voters(c, 0xF, 4, "the fourth member added");
    printf("fourth member started to a voter on every member: %lld ms\n",
           (long long)(it_now_ms() - t0));
    held_arg h = {c->nodes[3], "127.85.0.1"};
    cr_assert(wait_until(holds, &h, CHANGE_BOUND_MS),
              "the new member does not hold the persistent instance written before it came");
    int leader = cluster_wait_raft_leader(c, 0xF, ELECT_BOUND_MS);
    persistent_register(c->nodes[leader], "127.85.0.2");
    h.ip = "127.85.0.2";
    cr_assert(wait_until(holds, &h, CHANGE_BOUND_MS), "the new member misses a later write");

    /* the fourth leaves: stopped, the others listed without it; the leader removes it */
    node_stop(c->nodes[3]);
    c->listed_mask = 0x7;
    rolling_restart(c, 0x7);
    t0 = it_now_ms();
    wait_voters(c, 0x7, 3, "the fourth member removed");
    printf("fourth member removed after the last restart: %lld ms\n",
           (long long)(it_now_ms() - t0));
    write_on_two_of_three(c, 0x7, "127.85.0.3");
}

/* A member moved to another address (a failed machine replaced by one at a new address): the
 * old member is gone for good, the others list the new one instead (a rolling restart), the new
 * one starts with an empty data dir. The leader adds and promotes the new member, then removes
 * the old one: afterwards two of the three (one of them the new member) commit a write, which
 * two of four voters could not. */
IT_TEST(cluster_reconfigure, a_member_moved_to_another_address_replaces_the_old_one)
{
    it_cluster *c = start_three("127.85.1.1");

    /* node 2's machine fails for good; node 3 takes its place at another address */
    cluster_crash_node(c, 2);
    c->listed_mask = 0xB;
    rolling_restart(c, 0x3);
    int64_t t0 = it_now_ms();
    cluster_start_member(c, &THREE_OF_FOUR, 3, NULL, NULL, true);
    held_arg h = {c->nodes[3], "127.85.1.1"};
    cr_assert(wait_until(holds, &h, CHANGE_BOUND_MS),
              "the new member does not hold the persistent instance written before it came");
    /* added, promoted (four voters), then the old one removed: three again (counted by the
     * leader that removed it; a voter count of three alone is also what the configuration
     * holding the new member as a spare shows) */
    changes_arg removed = {c, 0xB, "kind=\"remove\",result=\"ok\"", 0};
    cr_assert(wait_until(changed_somewhere, &removed, CHANGE_BOUND_MS),
              "no member removed the old one");
    wait_voters(c, 0xB, 3, "the old member removed");
    printf("moved member: its replacement started to three voters again: %lld ms\n",
           (long long)(it_now_ms() - t0));

    /* two of {0, 1, 3} are a majority; with node 2 still a voter they would not be */
    write_on_two_of_three(c, 0xB, "127.85.1.2");
}
