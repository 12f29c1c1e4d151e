/* cairn-grpc's ServiceInfo cache against a real node over real HTTP/2 connections: a repeated
 * query (and a subscription) is answered from the cache with the bytes a fresh rendering gives;
 * a gRPC write is seen by the next query at once; a v1 HTTP write and a write straight to the
 * registry reach the cache through the registry's change events; a registry killed and
 * restarted empties it (the events connection drops: a gap in the chain). The tests that rely
 * on events set the cache's max age to ten minutes, so that only an invalidation can explain a
 * fresh answer. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_grpc_client.h"
#include "cairn_harness.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"
#include "cairn_requests.h"

TestSuite(grpc_cache, .fini = it_teardown, .timeout = 240);

#define LONG_AGE "grpc.query_cache_max_age_ms=600000"
#define WAIT_MS 15000

static it_node *start(const char *const *sets)
{
    return node_start(&(it_node_opts){.sets = sets});
}

static it_grpc *connect_setup(const it_node *n)
{
    char path[PATH_MAX + 16], addr[64];
    snprintf(path, sizeof path, "%s/grpc.addr", n->run_dir);
    cr_assert(it_read_addr_file(path, addr, sizeof addr), "no %s", path);
    it_grpc *g = grpc_open_setup(addr);
    cr_assert(g, "no gRPC connection to %s", addr);
    return g;
}

static double metric(const it_node *n, const char *name)
{
    return node_metric(n, "grpc", name, NULL);
}

static void wait_cache_live(const it_node *n)
{
    cr_assert_eq(node_wait_metric(n, "grpc", "cairn_grpc_query_cache_live", NULL, 1, WAIT_MS), 1,
                 "cairn-grpc's query cache is not following the registry's events");
}

/* A unary call's raw JSON (malloc'd), its type checked. */
static char *call_text(it_grpc *g, const char *type, const char *body, const char *want_type)
{
    it_grpc_reply r;
    grpc_call(g, type, body, &r, WAIT_MS);
    cr_assert_eq(r.grpc_status, 0, "%s: grpc-status %d", type, r.grpc_status);
    cr_assert(r.type && r.json, "%s: no answer", type);
    cr_assert_str_eq(r.type, want_type, "%s answered %s: %s", type, r.type, r.json);
    char *text = strdup(r.json);
    grpc_reply_free(&r);
    cr_assert(text);
    return text;
}

static void register_one(it_grpc *g, const char *svc, const char *ip, int port)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"%s\",\"port\":%d,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true,"
             "\"clusterName\":\"DEFAULT\",\"metadata\":{}}",
             ip, port);
    char *text = call_text(g, "InstanceRequest", grpc_naming_body("public", svc, extra),
                           "InstanceResponse");
    json_t *j = json_parse_or_fail(text);
    cr_expect_eq(jint(j, "resultCode"), 200, "register: %s", text);
    json_decref(j);
    free(text);
}

static char *query_text(it_grpc *g, const char *svc)
{
    return call_text(g, "ServiceQueryRequest",
                     grpc_naming_body("public", svc, "\"cluster\":\"\",\"healthyOnly\":false"),
                     "QueryServiceResponse");
}

/* Hosts in a query's answer. */
static int query_hosts(it_grpc *g, const char *svc)
{
    char *text = query_text(g, svc);
    json_t *j = json_parse_or_fail(text);
    free(text);
    json_t *h = jget(j, "serviceInfo.hosts");
    cr_assert(json_is_array(h), "serviceInfo.hosts must be an array");
    int n = (int)json_array_size(h);
    json_decref(j);
    return n;
}

/* Queries svc twice and expects the second answer from the cache, byte for byte the first.
 * Retried: a change event applied while the first query fills the cache voids that fill. */
static void query_twice_second_hits(const it_node *n, it_grpc *g, const char *svc)
{
    for (int i = 0; i < 10; i++) {
        char *a = query_text(g, svc);
        double h = metric(n, "cairn_grpc_query_cache_hits_total");
        char *b = query_text(g, svc);
        bool hit = metric(n, "cairn_grpc_query_cache_hits_total") == h + 1;
        if (hit)
            cr_expect_str_eq(b, a, "the cached answer differs from the rendered one");
        free(a);
        free(b);
        if (hit)
            return;
    }
    cr_assert_fail("a repeated query of %s was never answered from the cache", svc);
}

typedef struct hosts_probe {
    it_grpc *g;
    const char *svc;
    int want;
} hosts_probe;

static bool hosts_are(void *arg)
{
    hosts_probe *p = arg;
    return query_hosts(p->g, p->svc) == p->want;
}

IT_TEST(grpc_cache, a_repeated_query_is_a_hit_and_a_grpc_write_is_seen_at_once)
{
    it_node *n = start(ARGS(LONG_AGE));
    it_grpc *a = connect_setup(n), *b = connect_setup(n);
    wait_cache_live(n);
    register_one(a, "rw", "127.0.4.1", 8001);
    query_twice_second_hits(n, a, "rw");
    cr_expect_geq(metric(n, "cairn_grpc_query_cache_entries"), 1);

    /* A subscription's answer comes from the cache too (its own entry: the same key, another
     * wrapping), and carries the same ServiceInfo. */
    const char *sub = grpc_naming_body("public", "rw", "\"subscribe\":true,\"clusters\":\"\"");
    char *first = call_text(a, "SubscribeServiceRequest", sub, "SubscribeServiceResponse");
    double hits = metric(n, "cairn_grpc_query_cache_hits_total");
    char *second = call_text(a, "SubscribeServiceRequest", sub, "SubscribeServiceResponse");
    cr_expect_eq(metric(n, "cairn_grpc_query_cache_hits_total"), hits + 1,
                 "a repeated subscription was not answered from the cache");
    cr_expect_str_eq(second, first);
    json_t *j = json_parse_or_fail(second);
    cr_expect_str_eq(jstr(j, "message"), "success");
    cr_expect_eq(json_array_size(jget(j, "serviceInfo.hosts")), 1);
    json_decref(j);
    free(first);
    free(second);

    /* Each write is followed at once by a query of the writer that shows it: the reply of a
     * write drops the cached answer before the client hears back. Repeated, so that a change
     * event that happens to arrive first cannot make this pass every time by luck. */
    for (int i = 0; i < 5; i++) {
        register_one(b, "rw", "127.0.4.2", 8100 + i); /* replaces b's share */
        cr_expect_eq(query_hosts(b, "rw"), 2, "round %d: b's register not seen at once", i);
        query_twice_second_hits(n, b, "rw");
    }
    char extra[128];
    snprintf(extra, sizeof extra, "\"type\":\"deregisterInstance\",\"instance\":{\"ip\":"
                                  "\"127.0.4.2\",\"port\":8104}");
    free(call_text(b, "InstanceRequest", grpc_naming_body("public", "rw", extra),
                   "InstanceResponse"));
    cr_expect_eq(query_hosts(b, "rw"), 1, "b's deregister not seen at once");
    grpc_close(a);
    grpc_close(b);
}

IT_TEST(grpc_cache, a_v1_http_write_reaches_the_cache_through_events)
{
    it_node *n = start(ARGS(LONG_AGE));
    it_grpc *g = connect_setup(n);
    wait_cache_live(n);
    register_one(g, "mix", "127.0.4.1", 8001);
    query_twice_second_hits(n, g, "mix");
    double inval = metric(n, "cairn_grpc_query_cache_invalidations_total");

    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mix", "ip", "127.0.4.9", "port", "9009"));
    hosts_probe p = {g, "mix", 2};
    cr_expect(wait_until(hosts_are, &p, WAIT_MS), "a v1 register was not seen over gRPC");
    cr_expect_gt(metric(n, "cairn_grpc_query_cache_invalidations_total"), inval);
    query_twice_second_hits(n, g, "mix");

    nacos_write_ok(n, "DELETE", NS "/instance",
                   Q("serviceName", "mix", "ip", "127.0.4.9", "port", "9009"));
    p.want = 1;
    cr_expect(wait_until(hosts_are, &p, WAIT_MS), "a v1 deregister was not seen over gRPC");
    grpc_close(g);
}

static void register_directly(const it_node *n, const char *svc, const char *ip, int port)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup(ip);
    in.port = port;
    in.cluster = strdup("DEFAULT");
    in.app = strdup("DEFAULT");
    cr_assert(in.ip && in.cluster && in.app);
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_upsert(&rq, "public", svc, &in, CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK, "%s", st.message);
    cairn_reply rep;
    cairn_err err = registry_request(n, &rq, &rep, 5000);
    cr_assert_eq(err, CAIRN_OK, "direct upsert: %s", cairn_err_name(err));
    cr_assert_eq(rep.code, CAIRN_OK, "direct upsert refused: %s", rep.message ? rep.message : "");
    cairn_reply_free(&rep);
    cairn_request_free(&rq);
}

IT_TEST(grpc_cache, a_registry_restart_flushes_and_direct_changes_are_seen)
{
    it_node *n = start(ARGS(LONG_AGE));
    it_grpc *g = connect_setup(n);
    wait_cache_live(n);
    /* persistent over v1: it survives the registry's restart */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "rst", "ip", "127.0.4.1", "port", "7000", "ephemeral",
                     "false"));
    hosts_probe p = {g, "rst", 1};
    cr_assert(wait_until(hosts_are, &p, WAIT_MS));
    query_twice_second_hits(n, g, "rst");

    /* A change straight to the registry: only its event can tell cairn-grpc. */
    register_directly(n, "DEFAULT_GROUP@@rst", "127.0.4.2", 7000);
    p.want = 2;
    cr_expect(wait_until(hosts_are, &p, WAIT_MS), "a direct registry write was not seen");
    query_twice_second_hits(n, g, "rst");

    double flushes = metric(n, "cairn_grpc_query_cache_flushes_total");
    pid_t reg_pid = node_role_pid(n, "cairn-registry");
    cr_assert(reg_pid > 0);
    cr_assert_eq(kill(reg_pid, SIGKILL), 0);
    cr_assert(node_wait_role_restart(n, "cairn-registry", reg_pid, WAIT_MS) > 0,
              "the registry was not restarted");
    cr_assert(node_wait_registry_ready(n, WAIT_MS), "the restarted registry is not ready");
    /* At once, racing the reconnection to the events: a change cairn-grpc may never hear of,
     * that only the flush on the lost connection (and the gap after it) makes visible. */
    register_directly(n, "DEFAULT_GROUP@@rst", "127.0.4.3", 7000);
    cr_expect_geq(node_wait_metric(n, "grpc", "cairn_grpc_query_cache_flushes_total", NULL,
                                   flushes + 2, WAIT_MS),
                  flushes + 2, "the cache was not flushed when the registry went and came back");
    wait_cache_live(n);
    p.want = 3;
    cr_expect(wait_until(hosts_are, &p, WAIT_MS),
              "a registry write made during the reconnection was not seen");
    query_twice_second_hits(n, g, "rst");
    grpc_close(g);
}

IT_TEST(grpc_cache, max_age_zero_disables_the_cache)
{
    it_node *n = start(ARGS("grpc.query_cache_max_age_ms=0"));
    it_grpc *g = connect_setup(n);
    register_one(g, "off", "127.0.4.1", 8001);
    cr_expect_eq(query_hosts(g, "off"), 1);
    cr_expect_eq(query_hosts(g, "off"), 1);
    cr_expect_eq(metric(n, "cairn_grpc_query_cache_hits_total"), 0,
                 "a disabled cache answered from the cache");
    grpc_close(g);
}

/* An answer of about 100 KB (more than one gathered send, and than the client's flow-control
 * window): whole, and the same from the cache. */
IT_TEST(grpc_cache, a_large_answer_arrives_whole_rendered_and_cached)
{
    it_node *n = start(ARGS(LONG_AGE));
    it_grpc *g = connect_setup(n);
    wait_cache_live(n);
    static char body[160 * 1024];
    size_t off = (size_t)snprintf(body, sizeof body,
                                  "{\"headers\":{},\"namespace\":\"public\",\"serviceName\":"
                                  "\"wide\",\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\","
                                  "\"type\":\"batchRegisterInstance\",\"instances\":[");
    char pad[401];
    memset(pad, 'm', 400);
    pad[400] = 0;
    for (int i = 0; i < 200; i++)
        off += (size_t)snprintf(body + off, sizeof body - off,
                                "%s{\"ip\":\"127.0.0.1\",\"port\":%d,\"weight\":1.0,"
                                "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,"
                                "\"metadata\":{\"pad\":\"%s\"}}",
                                i ? "," : "", 1000 + i, pad);
    snprintf(body + off, sizeof body - off, "]}");
    free(call_text(g, "BatchInstanceRequest", body, "BatchInstanceResponse"));
    cr_expect_eq(query_hosts(g, "wide"), 200);
    char *a = query_text(g, "wide");
    cr_expect_gt(strlen(a), 90000, "the answer is %zu bytes", strlen(a));
    query_twice_second_hits(n, g, "wide");
    char *b = query_text(g, "wide");
    cr_expect_str_eq(b, a);
    free(a);
    free(b);
    grpc_close(g);
}
