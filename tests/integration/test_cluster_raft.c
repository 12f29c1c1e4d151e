/* The replicator's raft node through real nodes: three members elect exactly one leader that
 * every node's operator/servers names with the same term; kill -9 of the leader's replicator
 * lets the others elect a new one, SIGTERM hands leadership over (times printed); a one-member cluster runs a one-voter
 * raft; the raft port refuses a raw connection and counts it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_cluster.h"
#include "cairn_http.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define ELECT_BOUND_MS (IT_SANITIZED ? 40000 : 20000) /* generous: bounds a wait only */

TestSuite(cluster_raft, .fini = it_teardown, .timeout = 280);

static const char *const raft_sets[] = {
    "raft.election_timeout_ms=1000", "raft.heartbeat_ms=100", "raft.bootstrap_wait_ms=1000",
    NULL};

/* What node i says about itself in its operator/servers. */
typedef struct self_raft {
    char role[16], leader[64], address[64];
    long long term, applied;
} self_raft;

static bool read_self(const it_cluster *c, int i, self_raft *out)
{
    memset(out, 0, sizeof *out);
    http_resp r = http_get_addr(c->nodes[i]->gateway, "/nacos/v1/ns/operator/servers", 2000);
    json_t *root = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    bool found = false;
    size_t k;
    json_t *s;
    json_array_foreach(json_object_get(root, "servers"), k, s) {
        const char *address = json_string_value(json_object_get(s, "address"));
        json_t *ext = json_object_get(s, "extendInfo");
        if (!address || strcmp(address, c->ids[i]) != 0 || !ext)
            continue;
        const char *role = json_string_value(json_object_get(ext, "raftRole"));
        const char *leader = json_string_value(json_object_get(ext, "raftLeader"));
        const char *addr = json_string_value(json_object_get(ext, "raftAddress"));
        snprintf(out->role, sizeof out->role, "%s", role ? role : "");
        snprintf(out->leader, sizeof out->leader, "%s", leader ? leader : "");
        snprintf(out->address, sizeof out->address, "%s", addr ? addr : "");
        out->term = json_integer_value(json_object_get(ext, "raftTerm"));
        out->applied = json_integer_value(json_object_get(ext, "raftApplied"));
        found = true;
    }
    json_decref(root);
    http_resp_free(&r);
    return found;
}

typedef struct agree_arg {
    const it_cluster *c;
    unsigned nodes;      /* bitmask of the nodes asked */
    const char *not_leader; /* a leader that must not be named (NULL: any) */
    char leader[64];
    long long term;
} agree_arg;

/* Every asked node names the same leader with the same term, and exactly one of them (the
 * leader itself, when asked) says it leads. */
static bool agree(void *arg)
{
    agree_arg *a = arg;
    int leaders = 0, asked = 0, leader_asked = 0;
    a->leader[0] = '\0';
    for (int i = 0; i < a->c->count; i++) {
        if (!(a->nodes & (1u << i)))
            continue;
        self_raft s;
        if (!read_self(a->c, i, &s) || !s.leader[0] || strcmp(s.leader, "none") == 0)
            return false;
        if (asked++ == 0) {
            snprintf(a->leader, sizeof a->leader, "%s", s.leader);
            a->term = s.term;
        } else if (strcmp(a->leader, s.leader) != 0 || a->term != s.term) {
            return false;
        }
        leaders += strcmp(s.role, "leader") == 0;
        leader_asked += strcmp(a->c->ids[i], s.leader) == 0;
    }
    if (a->not_leader && strcmp(a->leader, a->not_leader) == 0)
        return false;
    return leaders == leader_asked && leaders <= 1;
}

/* Every node lists every member with the same non-empty raftId, distinct per member, and a Nacos
 * raftMetaData whose naming group names the leader by its raft address with the member's term. */
static void check_raft_ids(const it_cluster *c, const char *leader)
{
    char ids[8][24] = {{0}};
    for (int i = 0; i < c->count; i++) {
        http_resp r = http_get_addr(c->nodes[i]->gateway, "/nacos/v1/ns/operator/servers", 5000);
        json_t *root = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
        cr_assert(root, "node %d: operator/servers answers %ld", i, r.status);
        size_t k;
        json_t *s;
        char leader_raft[64] = "";
        json_array_foreach(json_object_get(root, "servers"), k, s) {
            json_t *ext = json_object_get(s, "extendInfo");
            if (strcmp(json_string_value(json_object_get(s, "address")), leader) == 0)
                snprintf(leader_raft, sizeof leader_raft, "%s",
                         json_string_value(json_object_get(ext, "raftAddress")));
        }
        json_array_foreach(json_object_get(root, "servers"), k, s) {
            const char *address = json_string_value(json_object_get(s, "address"));
            json_t *ext = json_object_get(s, "extendInfo");
            const char *id = json_string_value(json_object_get(ext, "raftId"));
            cr_assert(id && id[0] && k < 8, "node %d: %s has no raftId", i, address);
            if (i == 0)
                snprintf(ids[k], sizeof ids[k], "%s", id);
            else
                cr_expect_str_eq(id, ids[k], "node %d: %s's raftId differs", i, address);
            for (size_t j = 0; i == 0 && j < k; j++)
                cr_expect_str_neq(ids[j], id, "two members share raftId %s", id);
            if (strcmp(address, c->ids[i]) != 0)
                continue; /* a node's own entry is the one that knows its leader now */
            json_t *g = json_object_get(
                json_object_get(json_object_get(ext, "raftMetaData"), "metaDataMap"),
                "naming_persistent_service_v2");
            cr_assert(json_is_object(g), "node %d: no raftMetaData naming group", i);
            cr_expect_str_eq(json_string_value(json_object_get(g, "leader")), leader_raft,
                             "node %d: raftMetaData leader", i);
            cr_expect_eq(json_integer_value(json_object_get(g, "term")),
                         json_integer_value(json_object_get(ext, "raftTerm")));
            cr_expect_eq(json_array_size(json_object_get(g, "raftGroupMember")),
                         (size_t)c->count);
        }
        json_decref(root);
        http_resp_free(&r);
    }
}

static int index_of(const it_cluster *c, const char *id)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->ids[i], id) == 0)
            return i;
    return -1;
}

IT_TEST(cluster_raft, three_members_elect_one_leader_then_reelect_after_kill)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = raft_sets};
    it_cluster *c = cluster_start(&o);
    agree_arg a = {.c = c, .nodes = 0x7};
    int64_t t0 = it_now_ms();
    cr_assert(wait_until(agree, &a, ELECT_BOUND_MS), "the three nodes agree on no raft leader");
    printf("raft: 3 members agree on leader %s term %lld %lld ms after the last started\n",
           a.leader, a.term, (long long)(it_now_ms() - t0));
    int li = index_of(c, a.leader);
    cr_assert(li >= 0, "the leader %s is no member", a.leader);
    check_raft_ids(c, a.leader);
    cr_assert_geq(node_wait_metric(c->nodes[li], "replicator", "cairn_replicator_raft_role", NULL,
                                   3, 5000),
                  3, "the leader's raft_role metric is not 3");

    /* kill -9 the leader's replicator, its supervisor held so that it is not restarted */
    it_node *victim = c->nodes[li];
    pid_t repl = node_role_pid(victim, "cairn-replicator");
    cr_assert(repl > 0);
    cr_assert_eq(kill(victim->run->pid, SIGSTOP), 0);
    t0 = it_now_ms();
    cr_assert_eq(kill(repl, SIGKILL), 0);
    agree_arg b = {.c = c, .nodes = 0x7u & ~(1u << li), .not_leader = a.leader};
    bool elected = wait_until(agree, &b, ELECT_BOUND_MS);
    int64_t took = it_now_ms() - t0;
    printf("raft: after kill -9 of the leader's replicator, %s leads (term %lld) after %lld ms "
           "(election timeout 1000 ms)\n", b.leader, b.term, (long long)took);
    fflush(stdout);
    kill(victim->run->pid, SIGCONT);
    cr_assert(elected, "no new leader after %d ms", ELECT_BOUND_MS);
    cr_assert_gt(b.term, a.term);
    /* the supervisor restarts it; it rejoins as a follower of the new leader */
    agree_arg all = {.c = c, .nodes = 0x7};
    cr_assert(wait_until(agree, &all, ELECT_BOUND_MS), "the restarted member does not rejoin");

    /* SIGTERM to the leader's replicator: it hands leadership over before it exits */
    li = index_of(c, all.leader);
    cr_assert(li >= 0);
    victim = c->nodes[li];
    repl = node_role_pid(victim, "cairn-replicator");
    cr_assert(repl > 0);
    cr_assert_eq(kill(victim->run->pid, SIGSTOP), 0);
    t0 = it_now_ms();
    cr_assert_eq(kill(repl, SIGTERM), 0);
    agree_arg d = {.c = c, .nodes = 0x7u & ~(1u << li), .not_leader = all.leader};
    elected = wait_until(agree, &d, ELECT_BOUND_MS);
    took = it_now_ms() - t0;
    printf("raft: after SIGTERM of the leader's replicator, %s leads (term %lld) after %lld ms\n",
           d.leader, d.term, (long long)took);
    fflush(stdout);
    kill(victim->run->pid, SIGCONT);
    if (!elected) {
        char *tail = it_log_tail(victim->run->log_path, 6000);
        cr_log_error("the stopped leader's node log, tail:\n%s", tail);
        free(tail);
    }
    cr_assert(elected, "no new leader after SIGTERM within %d ms", ELECT_BOUND_MS);
    cr_assert(wait_until(agree, &all, ELECT_BOUND_MS), "the stopped member does not rejoin");
}

/* A raw TCP connection to host:port that sends what is not a raft handshake. */
static void raw_connect(const char *hostport)
{
    char host[64];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    cr_assert(colon, "no port in %s", hostport);
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    cr_assert_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1, "%s", host);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect %s", hostport);
    const char junk[] = "GET / HTTP/1.0\r\n\r\nnot a raft peer, padded to a handshake's size...";
    cr_assert_gt(send(fd, junk, sizeof junk, MSG_NOSIGNAL), 0);
    char buf[64];
    (void)recv(fd, buf, sizeof buf, 0); /* the node closes it */
    close(fd);
}

IT_TEST(cluster_raft, one_member_leads_alone_and_refuses_raw_connections)
{
    it_cluster_opts o = {.nodes = 1, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = raft_sets};
    it_cluster *c = cluster_start(&o);
    agree_arg a = {.c = c, .nodes = 0x1};
    cr_assert(wait_until(agree, &a, ELECT_BOUND_MS), "a one-member cluster elects no leader");
    cr_assert_str_eq(a.leader, c->ids[0]);
    self_raft s;
    cr_assert(read_self(c, 0, &s));
    cr_assert_str_eq(s.role, "leader");
    cr_assert_geq(s.term, 1);
    cr_assert(strstr(s.address, ":0") == NULL || strlen(strstr(s.address, ":0")) > 2,
              "raft address %s is not the bound port", s.address);
    raw_connect(s.address);
    cr_assert_geq(node_wait_metric(c->nodes[0], "replicator", "cairn_replicator_auth_failures_total",
                                   "channel=\"raft\"", 1, 10000),
                  1, "the raw connection is not counted");
    cr_assert(read_self(c, 0, &s));
    cr_assert_str_eq(s.role, "leader", "the raw connection changed raft");
}
