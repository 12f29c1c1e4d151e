/* Cluster membership through real nodes: both layouts of cluster-design §3 come UP everywhere,
 * a killed replicator is seen DOWN (the detection time is printed), a node with the wrong secret
 * never joins and is counted, garbage and forged messages on the peer port change nothing and are
 * counted, and no internal path is served on the HTTP port. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_clock.h"
#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_peer.h"
#include "cairn_peer_ping.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define DOWN_BOUND_MS 10000 /* generous: the design target is 1.5 s at production timings */

TestSuite(cluster_membership, .fini = it_teardown, .timeout = 280);

static void expect_no_internal_paths(const it_node *n)
{
    const char *paths[] = {"/distro/datum", "/nacos/v1/ns/distro/datum", "/nacos/v1/ns/raft/vote",
                           "/raft/vote", "/nacos/v1/ns/distro/checksum"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        http_resp r = http_get_addr(n->gateway, paths[i], 2000);
        cr_expect(r.status == 404 || r.status == 501, "%s answered %ld: %s", paths[i], r.status,
                  r.body);
        http_resp_free(&r);
    }
}

IT_TEST(cluster_membership, three_hosts_equal_ports_up_then_kill_detected)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    for (int i = 0; i < 3; i++)
        expect_no_internal_paths(c->nodes[i]);
    /* ?healthy=true keeps UP only: all three here */
    http_resp r = http_get_addr(c->nodes[0]->gateway,
                                "/nacos/v1/ns/operator/servers?healthy=true", 2000);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(r.body, c->ids[0]) && strstr(r.body, c->ids[1]) && strstr(r.body, c->ids[2]));
    http_resp_free(&r);

    /* kill -9 node 2's replicator, with its supervisor held so that it is not restarted */
    it_node *victim = c->nodes[2];
    pid_t repl = node_role_pid(victim, "cairn-replicator");
    cr_assert(repl > 0);
    cr_assert_eq(kill(victim->run->pid, SIGSTOP), 0);
    int64_t t0 = it_now_ms();
    cr_assert_eq(kill(repl, SIGKILL), 0);
    bool down = cluster_wait_all(c, 0x3, 0x4, "DOWN", DOWN_BOUND_MS);
    int64_t detected = it_now_ms() - t0;
    printf("membership: kill -9 of a replicator seen DOWN by both peers after %lld ms "
           "(ping interval %d ms)\n", (long long)detected, IT_CLUSTER_PING_MS);
    fflush(stdout);
    kill(victim->run->pid, SIGCONT);
    cr_assert(down, "the killed member is not DOWN after %d ms", DOWN_BOUND_MS);
    /* the supervisor restarts it, and it rejoins */
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS),
              "the restarted member did not rejoin");
}

IT_TEST(cluster_membership, one_host_distinct_ports_port_zero_listeners)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    /* each advertised a port it was given by the kernel, not the derived default */
    for (int i = 0; i < 3; i++) {
        char peer[64], derived[64];
        cr_assert(cluster_peer_address(c, i, peer, sizeof peer));
        snprintf(derived, sizeof derived, "127.0.0.1:%d", atoi(strchr(c->ids[i], ':') + 1) + 1001);
        cr_expect_str_neq(peer, derived);
        cr_expect_str_neq(peer, "127.0.0.1:0");
    }
    expect_no_internal_paths(c->nodes[1]);
    /* a SIGTERM'd member says STOPPING: the others see it DOWN without waiting for misses */
    node_stop(c->nodes[1]);
    cr_assert(cluster_wait_all(c, 0x5, 0x2, "DOWN", DOWN_BOUND_MS));
}

IT_TEST(cluster_membership, wrong_secret_never_joins_and_is_counted)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = 2};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0x3, 0x3, "UP", UP_TIMEOUT_MS));
    /* node 2's pings are refused: counted by both others */
    for (int i = 0; i < 2; i++)
        cr_assert_geq(node_wait_metric(c->nodes[i], "replicator",
                                       "cairn_replicator_auth_failures_total",
                                       "reason=\"bad_mac\"", 5, UP_TIMEOUT_MS),
                      5, "node %d counted no bad MAC", i);
    /* by now node 2 has pinged many times: it never became UP, nor did the others for it */
    char st[32];
    for (int i = 0; i < 2; i++) {
        cr_assert(cluster_member_state(c, i, 2, st, sizeof st));
        cr_expect_str_neq(st, "UP", "node %d shows the wrong-secret node UP", i);
        cr_assert(cluster_member_state(c, 2, i, st, sizeof st));
        cr_expect_str_neq(st, "UP", "the wrong-secret node shows node %d UP", i);
    }
}

IT_TEST(cluster_membership, a_different_member_list_is_shown)
{
    it_cluster_opts o = {.nodes = 2, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .extra_member_mask = 0x2};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS));
    char label[96];
    snprintf(label, sizeof label, "peer=\"%s\"", c->ids[1]);
    cr_assert_eq(node_wait_metric(c->nodes[0], "replicator", "cairn_replicator_members_mismatch",
                                  label, 1, 5000), 1);
    http_resp r = http_get_addr(c->nodes[0]->gateway, "/nacos/v1/ns/operator/servers", 2000);
    cr_assert_eq(r.status, 200);
    cr_expect(strstr(r.body, "\"membersMatch\":false"), "%s", r.body);
    http_resp_free(&r);
    /* node 1 lists the absent member too, and shows it DOWN */
    r = http_get_addr(c->nodes[1]->gateway, "/nacos/v1/ns/operator/servers", 2000);
    cr_expect(strstr(r.body, IT_CLUSTER_ABSENT_MEMBER), "%s", r.body);
    http_resp_free(&r);
}

/* Sends one SP message on a REQ socket to hostport; true when any reply came within ms. */
static bool send_sp(const char *hostport, const void *data, size_t len, int ms)
{
    nng_socket s;
    cr_assert_eq(nng_req0_open(&s), 0);
    char url[96];
    snprintf(url, sizeof url, "tcp://%s", hostport);
    cr_assert_eq(nng_dial(s, url, NULL, 0), 0, "dial %s", url);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ms);
    cr_assert_eq(nng_send(s, (void *)data, len, 0), 0);
    void *buf = NULL;
    size_t got = 0;
    bool replied = nng_recv(s, &buf, &got, NNG_FLAG_ALLOC) == 0;
    if (replied)
        nng_free(buf, got);
    nng_close(s);
    return replied;
}

IT_TEST(cluster_membership, garbage_and_forged_messages_change_nothing)
{
    it_cluster_opts o = {.nodes = 2, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS));
    it_node *n0 = c->nodes[0];
    double view = node_metric(n0, "replicator", "cairn_replicator_view_version", NULL);
    char peer[64];
    cr_assert(cluster_peer_address(c, 0, peer, sizeof peer));

    /* raw bytes that are not even SP framing: nng drops the connection */
    static const char raw[] = "GET / HTTP/1.0\r\n\r\n\x00\xff garbage";
    free(tcp_exchange(peer, raw, sizeof raw - 1, 1000, NULL));
    /* an SP message that is not an envelope */
    static const char sp[] = "\xdf\xff\xff\xff\xff garbage";
    cr_assert_not(send_sp(peer, sp, sizeof sp - 1, 1000));
    /* a well-formed PING from node 1, sealed with another key */
    static const uint8_t wrong[32] = "not the cluster secret, 32 bytes";
    cairn_peer_envelope env;
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, c->ids[1], c->ids[0], 99, cairn_wall_ms());
    cairn_peer_ping ping = {.phase = CAIRN_PHASE_STOPPING, .peer_address = "127.0.0.1:1",
                            .raft_address = "127.0.0.1:2", .raft = {.role = "none"}};
    char *body, *msg;
    size_t body_len, len;
    cr_assert_eq(cairn_peer_ping_encode(&ping, &body, &body_len), CAIRN_OK);
    cr_assert_eq(cairn_peer_seal(wrong, 32, &env, NULL, body, body_len, &msg, &len), CAIRN_OK);
    cr_assert_not(send_sp(peer, msg, len, 1000), "a forged PING was answered");
    free(body);
    free(msg);

    cr_assert_geq(node_wait_metric(n0, "replicator", "cairn_replicator_auth_failures_total",
                                   "reason=\"bad_mac\"", 1, 5000), 1);
    cr_assert_geq(node_wait_metric(n0, "replicator", "cairn_replicator_auth_failures_total",
                                   "reason=\"bad_format\"", 1, 5000), 1);
    /* the forged STOPPING changed nothing: node 1 is still UP, the view is the same */
    char st[32];
    cr_assert(cluster_member_state(c, 0, 1, st, sizeof st));
    cr_expect_str_eq(st, "UP");
    cr_expect_eq(node_metric(n0, "replicator", "cairn_replicator_view_version", NULL), view);
}

static int run_bin(const char *binary, const char *const *args, char **err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", CAIRN_BIN_DIR, binary);
    const char *argv[32];
    size_t n = 0;
    argv[n++] = path;
    for (const char *const *a = args; *a && n < 30; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    char *out = NULL;
    int code = it_run(argv, 15000, &out, err);
    free(out);
    return code;
}

IT_TEST(cluster_membership, bad_cluster_config_exits_78)
{
    const char *dir = it_tmpdir();
    char data[PATH_MAX + 32];
    snprintf(data, sizeof data, "node.data_dir=%s/data", dir);
    char *err = NULL;
    /* two members and no secret: the replicator, the gateway and `cairn run` refuse it */
    int code = run_bin("cairn-replicator",
                       ARGS("--set", data, "--set",
                            "cluster.members=127.0.0.1:18848,127.0.0.2:18848", "--set",
                            "gateway.listen=127.0.0.1:18848", "--set",
                            "replicator.admin_listen=127.0.0.1:0"),
                       &err);
    cr_expect_eq(code, 78, "exit %d: %s", code, err);
    cr_expect(strstr(err, "cluster.secret_file"), "%s", err);
    free(err);
    /* a gateway.listen that is no member */
    code = run_bin("cairn-gateway",
                   ARGS("--set", data, "--set", "cluster.members=127.0.0.1:18848", "--set",
                        "gateway.listen=127.0.0.1:18849", "--set",
                        "gateway.admin_listen=127.0.0.1:0"),
                   &err);
    cr_expect_eq(code, 78, "exit %d: %s", code, err);
    cr_expect(strstr(err, "no entry is this node"), "%s", err);
    free(err);
    code = run_bin("cairn", ARGS("run", "--set", data, "--set",
                                 "cluster.members=127.0.0.1:18848,127.0.0.2:18848", "--set",
                                 "gateway.listen=127.0.0.1:18848"),
                   &err);
    cr_expect_eq(code, 78, "exit %d: %s", code, err);
    free(err);
}

/* The members' own token (cairn_auth.h CAIRN_AUTH_MEMBER), signed with secret, an hour long. */
static void member_token(const char *secret_file, char *out, size_t len)
{
    cairn_auth_secret secret;
    cairn_status st;
    cr_assert_eq(cairn_auth_secret_load(secret_file, &secret, &st), CAIRN_OK, "%s", st.message);
    cr_assert(cairn_auth_token_create(&secret, CAIRN_AUTH_MEMBER, (int64_t)time(NULL) + 3600, out,
                                      len));
    cairn_auth_secret_free(&secret);
}

static long status_of(const it_node *n, const char *method, const char *path)
{
    char url[CAIRN_AUTH_TOKEN_MAX + 300];
    snprintf(url, sizeof url, "%s%s", n->gateway_url, path);
    http_resp r = http_request(method, url, NULL, 0, NULL, NULL, 2000);
    long status = r.status;
    http_resp_free(&r);
    return status;
}

/* With auth.enabled, port-0 peer and raft listeners are still found: a member's address lookup
 * of a peer's operator/servers carries a token of the members' own subject, which no user can
 * hold and which reads what any user may read and nothing a role is needed for. */
IT_TEST(cluster_membership, with_auth_on_members_find_port_zero_listeners)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .auth = true};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    const it_node *n = c->nodes[1];
    cr_expect_eq(status_of(n, "GET", "/nacos/v1/ns/operator/servers"), 403,
                 "auth is on: no token, no member list");
    char token[CAIRN_AUTH_TOKEN_MAX], path[CAIRN_AUTH_TOKEN_MAX + 200];
    member_token(c->token_secret_file, token, sizeof token);
    snprintf(path, sizeof path, "/nacos/v1/ns/operator/servers?accessToken=%s", token);
    cr_expect_eq(status_of(n, "GET", path), 200, "the members' token reads operator/servers");
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance?serviceName=member-token&ip=127.0.0.9&port=80&accessToken=%s",
             token);
    cr_expect_eq(status_of(n, "POST", path), 403, "the members' token registers nothing");
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=member-token&accessToken=%s", token);
    cr_expect_eq(status_of(n, "GET", path), 403, "the members' token lists nothing");
}
