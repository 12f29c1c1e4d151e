/* Multi-node tests: N `cairn run` nodes forming one cluster on loopback, built on the node
 * helpers of cairn_harness.h (each node its own temp dir, config and logs; all registered for
 * teardown). Two layouts, as cluster-design §3 requires both:
 *   IT_LAYOUT_HOSTS  node i on 127.0.0.(i+1), every node the same (free) HTTP port, peer and raft
 *                    ports derived from it (HTTP + 1001, HTTP - 1000);
 *   IT_LAYOUT_PORTS  every node on 127.0.0.1 with its own free HTTP port, peer and raft listeners
 *                    on port 0, which peers learn through operator/servers.
 * Timings are shrunk (cluster.ping_interval_ms) so tests wait less; a test asserts only generous
 * bounds. */
#ifndef CAIRN_CLUSTER_H
#define CAIRN_CLUSTER_H

#include <stdbool.h>

#include "cairn_auth.h"
#include "cairn_harness.h"

#define IT_CLUSTER_MAX 5
#define IT_CLUSTER_PING_MS 200

typedef enum { IT_LAYOUT_HOSTS, IT_LAYOUT_PORTS } it_cluster_layout;

typedef struct it_cluster_opts {
    int nodes;                 /* 1 .. IT_CLUSTER_MAX */
    it_cluster_layout layout;
    const char *const *sets;   /* extra --set for every node (NULL-terminated) */
    int wrong_secret_node;     /* this node gets another secret (-1: none) */
    unsigned extra_member_mask; /* node i (bit i) lists one more member, IT_CLUSTER_ABSENT_MEMBER,
                                   that never answers: its members hash differs */
    unsigned late_mask;        /* node i (bit i) is not started by cluster_start (nodes[i] NULL):
                                  the test starts it with cluster_start_member */
    unsigned listed_mask;      /* cluster.members lists only the nodes of this mask (0: all);
                                  it_cluster.listed_mask, which a test may change between
                                  starts, takes it over */
    bool auth;                 /* auth.enabled on every node, with one token secret and one
                                  users file holding IT_CLUSTER_ADMIN; the harness's own reads
                                  of operator/servers carry that admin's token (access_token) */
} it_cluster_opts;

#define IT_CLUSTER_ADMIN "it-admin"

#define IT_CLUSTER_ABSENT_MEMBER "127.0.0.1:1"

typedef struct it_cluster {
    int count;
    it_node *nodes[IT_CLUSTER_MAX];
    char ids[IT_CLUSTER_MAX][64]; /* each node's identity, its cluster.members entry */
    char members[IT_CLUSTER_MAX * 64]; /* every node's identity */
    unsigned listed_mask; /* the nodes the next start lists in cluster.members (0: all) */
    char secret_file[PATH_MAX];
    char token_secret_file[PATH_MAX]; /* opts.auth: auth.token_secret_file */
    char users_file[PATH_MAX];        /* opts.auth: auth.users_file */
    char access_token[CAIRN_AUTH_TOKEN_MAX]; /* opts.auth: IT_CLUSTER_ADMIN's, an hour long */
} it_cluster;

/* Picks free ports, writes the secret, starts every node and waits until each is ready (alone:
 * membership is waited for with cluster_wait_state). Asserts on failure. */
it_cluster *cluster_start(const it_cluster_opts *opts);

/* Starts member i (again, after node_stop, or a late one) with the options of the cluster plus
 * extra_sets (NULL-terminated, may be NULL); reuse_dir: the old node's dir (its data), NULL: a
 * new, empty data dir. wait: return once it is ready (its ready line), else at once after the
 * spawn (the gateway listens at c->ids[i] in the HOSTS layout). */
it_node *cluster_start_member(it_cluster *c, const it_cluster_opts *opts, int i,
                              const char *reuse_dir, const char *const *extra_sets, bool wait);

/* The state ("UP", "DOWN", ...) node `viewer`'s operator/servers gives member `member`, into
 * state; false when the request fails or the member is missing. */
bool cluster_member_state(const it_cluster *c, int viewer, int member, char *state, size_t len);
/* The raft leader member i names in its own operator/servers entry (extendInfo.raftLeader, an
 * identity); false when it names none or does not answer. */
bool cluster_raft_leader_seen_by(const it_cluster *c, int i, char *leader, size_t len);
/* Waits up to timeout_ms until every member in `nodes` (bit i: member i; 0: all) names the same
 * raft leader, and that leader is a member; returns its index (a failed assertion otherwise). */
int cluster_wait_raft_leader(const it_cluster *c, unsigned nodes, int timeout_ms);
/* Polls until it is `state`, at most timeout_ms. */
bool cluster_wait_state(const it_cluster *c, int viewer, int member, const char *state,
                        int timeout_ms);
/* Polls until every live node listed in `viewers` (a bitmask; 0 = all) shows every member in
 * `members` (a bitmask; 0 = all) as `state`. */
bool cluster_wait_all(const it_cluster *c, unsigned viewers, unsigned members, const char *state,
                      int timeout_ms);
/* The replicator's address of node i's peer listener, from its own operator/servers entry. */
bool cluster_peer_address(const it_cluster *c, int i, char *hostport, size_t len);


/* ---- restarts and crashes (fault tests) ---------------------------------------------------- */
/* Starts member i again on its own data (its dir, ports, members and secret as before) after
 * node_stop or cluster_crash_node; waits for its ready line only. Asserts on failure. */
void cluster_restart_node(it_cluster *c, int i);
/* A crash of member i: its supervisor is held (SIGSTOP) so that it restarts nothing, every role
 * process of the node gets SIGKILL, then the supervisor; returns when all are gone (asserts
 * otherwise). The node counts as stopped for teardown. */
void cluster_crash_node(it_cluster *c, int i);

/* ---- reading a cluster the way its tests do -------------------------------------------------- */
/* Every member, as a mask for cluster_owner_among. */
#define IT_CLUSTER_ALL (~0u)
/* The member (index into c->ids) that owns DEFAULT_GROUP@@service among the members in `mask`
 * (bit i: member i; IT_CLUSTER_ALL: every one): cairn_distro_index over their sorted
 * identities, as every replicator computes it. Asserts when mask names no member. */
int cluster_owner_among(const it_cluster *c, unsigned mask, const char *service);
/* How many hosts the gateway at hostport lists for service: 0 when the service is not found,
 * -1 when the list fails otherwise. status (may be NULL) gets the HTTP status. Asserts when a
 * 200 body is not JSON. Blocking; any test thread. */
int cluster_hosts_at(const char *hostport, const char *service, int *status);
/* The health of the instance ip:8080 of service (cluster DEFAULT) as the node at hostport stores
 * it (GET instance, not the list, whose protect threshold can show an unhealthy host healthy):
 * 1 healthy, 0 unhealthy, -1 not there (or the read failed). Asserts when a 200 body is not
 * JSON. */
int cluster_host_health_at(const char *hostport, const char *service, const char *ip);
/* One client beat (PUT instance/beat with the scheduled beat body of a Java client) for
 * DEFAULT_GROUP@@service ip:8080 at the gateway at hostport; expects (cr_expect) a 200. */
void cluster_beat_at(const char *hostport, const char *service, const char *ip);

/* Partitions, IT_LAYOUT_HOSTS only. cluster_netns_enter moves this test process (a Criterion
 * worker) and every node it starts afterwards into a network namespace of its own, loopback up
 * and the local routing table moved behind pref 100, so that cluster_cut_host's rules touch no
 * one else's loopback; it skips the test without root, `ip` (iproute2) or CAP_SYS_ADMIN. Call it
 * before cluster_start. cluster_cut_host(i, true) cuts node i (127.0.0.(i+1)) off: nothing is
 * routed to it or from it, the test's own connections included; false heals. Asserts. */
void cluster_netns_enter(void);
void cluster_cut_host(int i, bool on);

#endif
