/* Forwarding to the owner through real nodes (docs/architecture.md, "Cluster: forwarding to the
 * owner"): a registration, a beat or a deregistration sent to a node that does not own the
 * service runs at its owner and reaches every node by Distro sync; with the owner's replicator
 * frozen the write gets 503 naming the owner within cluster.forward_timeout_ms; a peer FORWARD
 * whose body is refused runs nothing. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "cairn_clock.h"
#include "cairn_cluster.h"
#include "cairn_forward.h"
#include "cairn_http.h"
#include "cairn_peer.h"
#include "cairn_requests.h"
#include "cairn_nacos.h"

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define VISIBLE_BOUND_MS (IT_SANITIZED ? 30000 : 10000) /* generous: the target is ~100 ms */
#define WRITES (IT_SANITIZED ? 10 : 30)

TestSuite(cluster_forward, .fini = it_teardown, .timeout = 280);

typedef struct want {
    const it_cluster *c;
    const char *name, *ip;
    int state; /* as cluster_host_health_at */
} want;

static bool everywhere(void *arg)
{
    want *w = arg;
    for (int i = 0; i < w->c->count; i++)
        if (cluster_host_health_at(w->c->nodes[i]->gateway, w->name, w->ip) != w->state)
            return false;
    return true;
}

static const char *const *instance_q(const char *name, const char *ip)
{
    static __thread const char *q[9];
    const char *v[] = {"serviceName", name, "ip", ip, "port", "8080", "ephemeral", "true",
                       NULL};
    memcpy(q, v, sizeof q);
    return q;
}

static double replicator_counter(const it_cluster *c, int node, const char *name, int peer)
{
    char label[96];
    snprintf(label, sizeof label, "peer=\"%s\"", c->ids[peer]);
    return node_metric(c->nodes[node], "replicator", name, label);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

IT_TEST(cluster_forward, writes_on_a_non_owner_run_at_the_owner_and_reach_every_node)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    int64_t fwd_ms[WRITES], local_ms[WRITES];
    int nf = 0, nl = 0;
    for (int k = 0; k < WRITES; k++) {
        char name[64], ip[32];
        snprintf(name, sizeof name, "fwd-svc-%d", k);
        snprintf(ip, sizeof ip, "127.0.40.%d", k + 1);
        int owner = cluster_owner_among(c, IT_CLUSTER_ALL, name), entry = (owner + 1 + k % 2) % 3;
        /* the same write on the owner, for the overhead of the extra hop */
        int64_t t0 = it_now_ms();
        nacos_write_ok(c->nodes[owner], "POST", NS "/instance", instance_q(name, "127.0.41.1"));
        local_ms[nl++] = it_now_ms() - t0;
        t0 = it_now_ms();
        nacos_write_ok(c->nodes[entry], "POST", NS "/instance", instance_q(name, ip));
        fwd_ms[nf++] = it_now_ms() - t0;
        want w = {c, name, ip, 1};
        cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS),
                  "%s registered on node %d (owner %d) is not on every node after %d ms", name,
                  entry, owner, VISIBLE_BOUND_MS);
        cr_expect_eq(replicator_counter(c, owner, "cairn_replicator_forwards_received_total",
                                        entry) > 0, true);
    }
    qsort(fwd_ms, (size_t)nf, sizeof fwd_ms[0], cmp_i64);
    qsort(local_ms, (size_t)nl, sizeof local_ms[0], cmp_i64);
    printf("forward: %d registrations answered in p50 %lld ms / max %lld ms through a non-owner, "
           "p50 %lld ms / max %lld ms on the owner\n",
           WRITES, (long long)fwd_ms[nf / 2], (long long)fwd_ms[nf - 1],
           (long long)local_ms[nl / 2], (long long)local_ms[nl - 1]);
    fflush(stdout);
    /* the owner's refusal comes back as it is: a strict update of a missing service */
    int nosvc_owner = cluster_owner_among(c, IT_CLUSTER_ALL, "fwd-nosvc");
    nacos_expect_error(c->nodes[(nosvc_owner + 1) % 3], "PUT", NS "/instance",
                       Q("serviceName", "fwd-nosvc", "ip", "127.0.44.1", "port", "8080"),
                       Q(JAVA_UA), 400,
                       "service not found, namespace: public, service: DEFAULT_GROUP@@fwd-nosvc",
                       false);
    /* deregistration on a non-owner: gone everywhere */
    for (int k = 0; k < 6; k++) {
        char name[64], ip[32];
        snprintf(name, sizeof name, "fwd-svc-%d", k);
        snprintf(ip, sizeof ip, "127.0.40.%d", k + 1);
        int owner = cluster_owner_among(c, IT_CLUSTER_ALL, name), entry = (owner + 2) % 3;
        nacos_write_ok(c->nodes[entry], "DELETE", NS "/instance", instance_q(name, ip));
        want w = {c, name, ip, -1};
        cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS),
                  "%s deregistered on node %d (owner %d) is still listed somewhere", name, entry,
                  owner);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                cr_expect_eq(replicator_counter(c, i, "cairn_replicator_forward_failures_total",
                                                j), 0, "node %d: failures to %d", i, j);
}

/* Short expiry; the beats go to a node that does not own the service. */
static const char *const EXPIRY_SETS[] = {"health.check_interval_ms=100",
                                          "health.beat_timeout_ms=1500",
                                          "health.delete_timeout_ms=3000", NULL};

static void beat(const it_cluster *c, int node, const char *name, const char *ip, bool body)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"serviceName\":\"DEFAULT_GROUP@@%s\",\"ip\":\"%s\",\"port\":8080,"
             "\"cluster\":\"DEFAULT\",\"scheduled\":true}", name, ip);
    http_resp r = body ? nacos_call(c->nodes[node], "PUT", NS "/instance/beat",
                                    Q("serviceName", name, "beat", json), NULL, NULL)
                       : nacos_call(c->nodes[node], "PUT", NS "/instance/beat",
                                    Q("serviceName", name, "ip", ip, "port", "8080"), NULL,
                                    NULL);
    cr_expect_eq(r.status, 200, "beat: %ld %s", r.status, r.body);
    cr_expect(r.body && strstr(r.body, "\"code\":10200"), "beat answered %s", r.body);
    http_resp_free(&r);
}

IT_TEST(cluster_forward, beats_on_a_non_owner_keep_the_instance_alive_at_the_owner)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .sets = EXPIRY_SETS};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    const char *svc = "fwd-beaten", *ip = "127.0.42.1";
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, svc), entry = (owner + 1) % 3;
    nacos_write_ok(c->nodes[entry], "POST", NS "/instance", instance_q(svc, ip));
    want w = {c, svc, ip, 1};
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS), "not replicated");
    /* beat only the non-owner, for one and a half delete timeouts: the owner must keep it */
    int64_t end = it_now_ms() + 4500;
    int beats = 0;
    while (it_now_ms() < end) {
        beat(c, entry, svc, ip, beats % 2 == 0);
        beats++;
        /* listed everywhere (not deleted: 3 s without a beat would delete it at the owner);
         * healthy is checked once the beats have run, a loaded machine may delay one */
        for (int i = 0; i < 3; i++)
            cr_assert_geq(cluster_host_health_at(c->nodes[i]->gateway, svc, ip), 0,
                          "node %d (owner %d) lost the instance after %d beats through node %d",
                          i, owner, beats, entry);
        struct timespec ts = {0, 200 * 1000000L}; /* the beat period, not a wait for state */
        nanosleep(&ts, NULL);
    }
    beat(c, entry, svc, ip, true);
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS), "not healthy everywhere");
    cr_expect_gt(replicator_counter(c, owner, "cairn_replicator_forwards_received_total", entry),
                 beats / 2, "the owner did not receive the beats");
    /* beats stop: the owner expires it, and the removal reaches every node */
    w.state = -1;
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS + 5000), "not expired everywhere");
}

/* A frozen owner stays an owner (SUSPICIOUS, not DOWN) for fail_count x ping interval: long
 * enough to see the forward time out. */
static const char *const FROZEN_SETS[] = {"cluster.fail_count=100",
                                          "cluster.forward_timeout_ms=1000", NULL};

IT_TEST(cluster_forward, a_frozen_owner_costs_a_503_naming_it_within_the_timeout)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .sets = FROZEN_SETS};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");
    const char *svc = "fwd-frozen", *ip = "127.0.43.1";
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, svc), entry = (owner + 1) % 3;
    it_node *victim = c->nodes[owner];
    cr_assert_eq(kill(victim->run->pid, SIGSTOP), 0); /* no restart of the frozen role */
    pid_t repl = node_freeze_role(victim, "cairn-replicator");
    int64_t t0 = it_now_ms();
    http_resp r = nacos_call(c->nodes[entry], "POST", NS "/instance", instance_q(svc, ip), NULL,
                             NULL);
    int64_t took = it_now_ms() - t0;
    printf("forward: a write for a frozen owner answered %ld after %lld ms "
           "(cluster.forward_timeout_ms 1000): %s\n",
           r.status, (long long)took, r.body ? r.body : "");
    fflush(stdout);
    bool named = r.body && strstr(r.body, c->ids[owner]);
    long status = r.status;
    http_resp_free(&r);
    kill(repl, SIGCONT);
    kill(victim->run->pid, SIGCONT);
    cr_expect_eq(status, 503);
    cr_expect(named, "the 503 does not name the owner %s", c->ids[owner]);
    cr_expect_geq(took, 900, "answered before the timeout");
    cr_expect_leq(took, IT_SANITIZED ? 8000 : 4000, "not bounded by the timeout");
    cr_expect_eq(replicator_counter(c, entry, "cairn_replicator_forward_timeouts_total", owner),
                 1);
    /* the owner is back: the same write goes through */
    nacos_write_ok(c->nodes[entry], "POST", NS "/instance", instance_q(svc, ip));
    want w = {c, svc, ip, 1};
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS), "not on every node after the thaw");
}

/* Sends one SP message on a REQ socket to hostport; the reply (malloc'd) or NULL when none came
 * within ms. */
static char *send_sp(const char *hostport, const void *data, size_t len, int ms, size_t *out_len)
{
    nng_socket s;
    cr_assert_eq(nng_req0_open(&s), 0);
    char url[96];
    snprintf(url, sizeof url, "tcp://%s", hostport);
    cr_assert_eq(nng_dial(s, url, NULL, 0), 0, "dial %s", url);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ms);
    cr_assert_eq(nng_send(s, (void *)data, len, 0), 0);
    void *buf = NULL;
    char *copy = NULL;
    if (nng_recv(s, &buf, out_len, NNG_FLAG_ALLOC) == 0) {
        copy = malloc(*out_len);
        memcpy(copy, buf, *out_len);
        nng_free(buf, *out_len);
    }
    nng_close(s);
    return copy;
}

/* A FORWARD from node `from` to node `to`, sealed with the cluster secret, with body. */
static char *sealed_forward(const it_cluster *c, int from, int to, const char *body,
                            size_t body_len, size_t *len)
{
    char *secret = it_read_file(c->secret_file);
    cr_assert_not_null(secret);
    cairn_peer_envelope env;
    cairn_peer_envelope_init(&env, CAIRN_PEER_FORWARD, c->ids[from], c->ids[to], 7,
                             cairn_wall_ms());
    char *msg = NULL;
    cr_assert_eq(cairn_peer_seal((const uint8_t *)secret, strlen(secret), &env, NULL, body,
                                 body_len, &msg, len),
                 CAIRN_OK);
    free(secret);
    return msg;
}

/* The body of a FORWARD carrying rq (freed here). */
static char *forward_body_of(cairn_request *rq, size_t *len)
{
    char *inner, *body;
    size_t inner_len;
    cr_assert_eq(cairn_request_encode(rq, &inner, &inner_len), CAIRN_OK);
    cr_assert_eq(cairn_peer_forward_encode(inner, inner_len, 2000, &body, len), CAIRN_OK);
    free(inner);
    cairn_request_free(rq);
    return body;
}

IT_TEST(cluster_forward, a_refused_peer_forward_runs_nothing)
{
    it_cluster_opts o = {.nodes = 2, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not both UP");
    const char *svc = "fwd-kept", *ip = "127.0.45.1";
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, svc), other = 1 - owner;
    nacos_write_ok(c->nodes[owner], "POST", NS "/instance", instance_q(svc, ip));
    want w = {c, svc, ip, 1};
    cr_assert(wait_until(everywhere, &w, VISIBLE_BOUND_MS), "not on both nodes");
    char peer[64];
    cr_assert(cluster_peer_address(c, owner, peer, sizeof peer));
    double bad_before = node_metric(c->nodes[owner], "replicator",
                                    "cairn_replicator_auth_failures_total", "reason=\"bad_format\"");
    cairn_status st;
    /* authenticated, but the inner requests must not travel: a service delete, a persistent
     * deregistration; then a body that is not one at all */
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_STATS);
    cr_assert_eq(cairn_request_service_remove(&rq, "public", "DEFAULT_GROUP@@fwd-kept", &st),
                 CAIRN_OK);
    size_t bodies_len[3];
    char *bodies[3];
    bodies[0] = forward_body_of(&rq, &bodies_len[0]);
    cairn_request_init(&rq, CAIRN_MSG_STATS);
    cr_assert_eq(cairn_request_instance_remove(&rq, "public", "DEFAULT_GROUP@@fwd-kept", ip, 8080,
                                               "DEFAULT", false, &st),
                 CAIRN_OK);
    bodies[1] = forward_body_of(&rq, &bodies_len[1]);
    bodies[2] = strdup("\x82\xa3req\xc4\x02\x80\x80\xa2ms\x10");
    bodies_len[2] = 12;
    for (int i = 0; i < 3; i++) {
        size_t len, reply_len;
        char *msg = sealed_forward(c, other, owner, bodies[i], bodies_len[i], &len);
        char *reply = send_sp(peer, msg, len, 1000, &reply_len);
        cr_expect_null(reply, "refused FORWARD %d was answered", i);
        free(reply);
        free(msg);
        free(bodies[i]);
    }
    cr_expect_geq(node_wait_metric(c->nodes[owner], "replicator",
                                   "cairn_replicator_auth_failures_total", "reason=\"bad_format\"",
                                   bad_before + 3, 5000),
                  bad_before + 3);
    cr_expect(everywhere(&w), "a refused FORWARD changed the service");
    /* the same channel with a request that may travel: it runs and is answered */
    cairn_request_init(&rq, CAIRN_MSG_STATS);
    cr_assert_eq(cairn_request_instance_remove(&rq, "public", "DEFAULT_GROUP@@fwd-kept", ip, 8080,
                                               "DEFAULT", true, &st),
                 CAIRN_OK);
    size_t body_len, len, reply_len;
    char *body = forward_body_of(&rq, &body_len);
    char *msg = sealed_forward(c, other, owner, body, body_len, &len);
    char *reply = send_sp(peer, msg, len, 5000, &reply_len);
    cr_expect_not_null(reply, "a valid FORWARD was not answered");
    free(reply);
    free(msg);
    free(body);
    w.state = -1;
    cr_expect(wait_until(everywhere, &w, VISIBLE_BOUND_MS), "the forwarded deregistration did "
              "not run");
}
