/* cairn-grpc over real HTTP/2 connections against a real node (Nacos spec §6): both setup
 * orders, the 301/302 rules, register / batch / deregister / query / subscribe with pushes and
 * acks, a closed connection's instances removed and pushed at once, v1 and gRPC clients seeing
 * each other (a v1 UDP subscriber pushed a gRPC change too), connection-owned instances never
 * expired by beat timeouts, client detection, push retries, and limits and malformed input. The
 * client is tests/support/cairn_grpc_client.h (nghttp2). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_grpc_client.h"
#include "cairn_harness.h"
#include "cairn_harness_udp.h"
#include "cairn_nacos.h"

TestSuite(grpc, .fini = it_teardown, .timeout = 240);

#define WAIT_MS 10000
#define SVC "DEFAULT_GROUP@@" /* prefix of grouped names */

/* host:port of the node's gRPC listener, from <run_dir>/grpc.addr. */
static void grpc_addr(const it_node *n, char *addr, size_t len)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/grpc.addr", n->run_dir);
    cr_assert(it_read_addr_file(path, addr, len), "no %s", path);
}

static it_node *start(const char *const *sets)
{
    it_node_opts o = {.sets = sets};
    return node_start(&o);
}

/* A unary call; the reply's JSON parsed (json_decref it) and its type checked. */
static json_t *call_json(it_grpc *g, const char *type, const char *body, const char *want_type)
{
    it_grpc_reply r;
    grpc_call(g, type, body, &r, WAIT_MS);
    cr_assert_eq(r.grpc_status, 0, "%s: grpc-status %d (%s)", type, r.grpc_status,
                 r.grpc_message ? r.grpc_message : "");
    cr_assert(r.type && r.json, "%s: no answer", type);
    cr_assert_str_eq(r.type, want_type, "%s answered %s: %s", type, r.type, r.json);
    json_t *j = json_parse_or_fail(r.json);
    cr_assert(json_is_integer(jget(j, "resultCode")) && json_is_integer(jget(j, "errorCode")),
              "%s: resultCode and errorCode must be ints: %s", type, r.json);
    grpc_reply_free(&r);
    return j;
}

static void expect_error(it_grpc *g, const char *type, const char *body, int code)
{
    json_t *j = call_json(g, type, body, "ErrorResponse");
    cr_expect_eq(jint(j, "errorCode"), code, "%s", type);
    cr_expect_neq(jint(j, "resultCode"), 200);
    json_decref(j);
}

static void expect_ok(it_grpc *g, const char *type, const char *body, const char *want_type)
{
    json_t *j = call_json(g, type, body, want_type);
    cr_expect_eq(jint(j, "resultCode"), 200, "%s: %s", type, jstr(j, "message"));
    json_decref(j);
}

static const char *instance_json(const char *ip, int port, const char *cluster)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "\"instance\":{\"instanceId\":null,\"ip\":\"%s\",\"port\":%d,\"weight\":1.0,"
             "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":%s%s%s,"
             "\"metadata\":{\"k\":\"v\"}}",
             ip, port, cluster ? "\"" : "", cluster ? cluster : "null", cluster ? "\"" : "");
    return buf;
}

static void register_one(it_grpc *g, const char *svc, const char *ip, int port,
                         const char *cluster)
{
    char extra[768];
    snprintf(extra, sizeof extra, "\"type\":\"registerInstance\",%s",
             instance_json(ip, port, cluster));
    json_t *j = call_json(g, "InstanceRequest", grpc_naming_body("public", svc, extra),
                          "InstanceResponse");
    cr_expect_eq(jint(j, "resultCode"), 200, "%s", jstr(j, "message"));
    cr_expect_str_eq(jstr(j, "type"), "registerInstance");
    json_decref(j);
}

/* The ServiceInfo of a query with clusters and healthyOnly. */
static json_t *query(it_grpc *g, const char *svc, const char *cluster, bool healthy_only)
{
    char extra[256];
    snprintf(extra, sizeof extra, "\"cluster\":\"%s\",\"healthyOnly\":%s,\"udpPort\":0", cluster,
             healthy_only ? "true" : "false");
    json_t *j = call_json(g, "ServiceQueryRequest", grpc_naming_body("public", svc, extra),
                          "QueryServiceResponse");
    json_t *info = json_incref(jget(j, "serviceInfo"));
    json_decref(j);
    cr_assert(info);
    return info;
}

/* The next push of svc on g's bi-stream (its serviceInfo); asserts one comes. */
static json_t *next_push(it_grpc *g, const char *svc)
{
    int64_t until = it_now_ms() + WAIT_MS;
    while (it_now_ms() < until) {
        char *text;
        if (!grpc_bidi_next(g, "NotifySubscriberRequest", &text, 200))
            continue;
        json_t *j = json_parse_or_fail(text);
        free(text);
        cr_assert(jget(j, "requestId") && json_is_object(jget(j, "headers")),
                  "a push carries headers and requestId");
        json_t *info = json_incref(jget(j, "serviceInfo"));
        json_decref(j);
        if (strcmp(jstr(info, "name"), svc) == 0)
            return info;
        json_decref(info);
    }
    cr_assert_fail("no push of %s within %d ms", svc, WAIT_MS);
    return NULL;
}

static int hosts(const json_t *info)
{
    json_t *h = jget(info, "hosts");
    cr_assert(json_is_array(h), "hosts must be an array");
    return (int)json_array_size(h);
}

/* A push of svc with exactly n hosts arrives (earlier pushes of other states are skipped). */
static json_t *push_with(it_grpc *g, const char *svc, int n)
{
    int64_t until = it_now_ms() + WAIT_MS;
    for (;;) {
        json_t *info = next_push(g, svc);
        if (hosts(info) == n)
            return info;
        json_decref(info);
        cr_assert(it_now_ms() < until, "no push of %s with %d hosts", svc, n);
    }
}

static void subscribe(it_grpc *g, const char *svc, const char *clusters)
{
    char extra[256];
    snprintf(extra, sizeof extra, "\"subscribe\":true,\"clusters\":\"%s\"", clusters);
    json_t *j = call_json(g, "SubscribeServiceRequest", grpc_naming_body("public", svc, extra),
                          "SubscribeServiceResponse");
    cr_expect_eq(jint(j, "resultCode"), 200);
    cr_expect_str_eq(jstr(j, "serviceInfo.clusters"), clusters, "clusters echoed verbatim");
    json_decref(j);
}

IT_TEST(grpc, setup_orders_and_the_301_302_rules)
{
    it_node *n = start(NULL);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    const char *check = "{\"headers\":{},\"module\":\"internal\"}";

    /* Before any setup: ServerCheck answers, everything else known is 301, unknown is 302. */
    it_grpc *g = grpc_open(addr);
    cr_assert(g);
    json_t *j = call_json(g, "ServerCheckRequest", check, "ServerCheckResponse");
    cr_expect_eq(jint(j, "resultCode"), 200);
    cr_expect_gt(strlen(jstr(j, "connectionId")), 0);
    cr_expect_not(jbool(j, "supportAbilityNegotiation"));
    json_decref(j);
    expect_error(g, "HealthCheckRequest", check, 301);
    expect_error(g, "ServiceQueryRequest", grpc_naming_body("public", "a", ""), 301);
    expect_error(g, "ConfigQueryRequest", "{\"dataId\":\"d\"}", 302);

    /* Java order: ServerCheck (done), bi-stream, setup; then health checks pass. */
    cr_assert(grpc_bidi_open(g, WAIT_MS));
    grpc_bidi_send(g, "ConnectionSetupRequest",
                   "{\"headers\":{},\"clientVersion\":\"Nacos-Java-Client:v2.3.2\","
                   "\"tenant\":\"\",\"labels\":{\"source\":\"sdk\",\"module\":\"naming\"},"
                   "\"abilityTable\":{\"supportPersistentInstanceByGrpc\":true},"
                   "\"module\":\"internal\"}");
    expect_ok(g, "HealthCheckRequest", check, "HealthCheckResponse");
    expect_error(g, "ConfigQueryRequest", "{\"dataId\":\"d\"}", 302);
    expect_ok(g, "ServerCheckRequest", check, "ServerCheckResponse");
    grpc_close(g);

    /* Rust order: bi-stream and setup first, then health checks, then ServerCheck. */
    g = grpc_open(addr);
    cr_assert(grpc_bidi_open(g, WAIT_MS), "the bi-stream's headers come at once");
    grpc_bidi_send(g, "ConnectionSetupRequest",
                   "{\"clientVersion\":\"Nacos-Rust-Client:0.8.0\",\"abilities\":{},"
                   "\"tenant\":\"public\",\"labels\":{\"source\":\"sdk\",\"AppName\":\"app\","
                   "\"module\":\"naming\"},\"headers\":{},\"requestId\":null}");
    expect_ok(g, "HealthCheckRequest", check, "HealthCheckResponse");
    j = call_json(g, "ServerCheckRequest", check, "ServerCheckResponse");
    cr_expect_gt(strlen(jstr(j, "connectionId")), 0);
    json_decref(j);
    expect_ok(g, "HealthCheckRequest", check, "HealthCheckResponse");
    /* an unknown message on the stream is dropped, never a reason to close */
    grpc_bidi_send(g, "SomethingElse", "{}");
    expect_ok(g, "HealthCheckRequest", check, "HealthCheckResponse");
    grpc_close(g);
}

IT_TEST(grpc, register_query_subscribe_push_and_deregister)
{
    it_node *n = start(ARGS("grpc.push_merge_window_ms=20"));
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *sub = grpc_open_setup(addr);
    it_grpc *pub = grpc_open_setup(addr);
    subscribe(sub, "svc", "");

    register_one(pub, "svc", "127.0.0.1", 8080, "c1");
    json_t *info = push_with(sub, "svc", 1);
    cr_expect_str_eq(jstr(info, "groupName"), "DEFAULT_GROUP");
    cr_expect_str_eq(jstr(info, "hosts.0.ip"), "127.0.0.1");
    cr_expect_eq(jint(info, "hosts.0.port"), 8080);
    cr_expect_str_eq(jstr(info, "hosts.0.clusterName"), "c1");
    cr_expect_str_eq(jstr(info, "hosts.0.serviceName"), SVC "svc");
    cr_expect_str_eq(jstr(info, "hosts.0.instanceId"), "127.0.0.1#8080#c1#" SVC "svc");
    cr_expect_str_eq(jstr(info, "hosts.0.metadata.k"), "v");
    cr_expect(json_is_real(jget(info, "hosts.0.weight")));
    cr_expect(json_is_string(jget(info, "checksum")));
    cr_expect_eq(jint(info, "cacheMillis"), 10000);
    long long ref1 = jint(info, "lastRefTime");
    json_decref(info);

    /* queries: cluster filter, "" is all */
    info = query(pub, "svc", "c1", false);
    cr_expect_eq(hosts(info), 1);
    json_decref(info);
    info = query(pub, "svc", "c2", false);
    cr_expect_eq(hosts(info), 0);
    cr_expect_str_eq(jstr(info, "clusters"), "c2");
    json_decref(info);
    info = query(pub, "nothing-here", "", false);
    cr_expect_eq(hosts(info), 0, "an unknown service is an empty list");
    json_decref(info);

    /* a second connection's instance: the union */
    it_grpc *pub2 = grpc_open_setup(addr);
    register_one(pub2, "svc", "127.0.0.2", 8080, NULL);
    info = push_with(sub, "svc", 2);
    cr_expect_geq(jint(info, "lastRefTime"), ref1, "lastRefTime never goes back");
    json_decref(info);

    /* batch register replaces pub's share with the list */
    char extra[2048];
    snprintf(extra, sizeof extra,
             "\"type\":\"batchRegisterInstance\",\"instances\":[{\"ip\":\"127.0.0.3\",\"port\":1,"
             "\"clusterName\":\"c1\"},{\"ip\":\"127.0.0.4\",\"port\":2,\"clusterName\":\"c2\"}]");
    json_t *j = call_json(pub, "BatchInstanceRequest", grpc_naming_body("public", "svc", extra),
                          "BatchInstanceResponse");
    cr_expect_eq(jint(j, "resultCode"), 200);
    cr_expect_str_eq(jstr(j, "type"), "batchRegisterInstance");
    json_decref(j);
    info = push_with(sub, "svc", 3);
    json_decref(info);
    info = query(sub, "svc", "c1,c2", false);
    cr_expect_eq(hosts(info), 2, "c1 and c2: .3 and .4; .2 is in DEFAULT");
    json_decref(info);

    /* v1 clients see gRPC instances */
    json_t *list = nacos_list(n, Q("serviceName", "svc"));
    cr_expect_eq(list_host_count(list), 3);
    json_decref(list);

    /* service list: bare names, count before paging */
    j = call_json(pub, "ServiceListRequest",
                  grpc_naming_body("public", "", "\"pageNo\":1,\"pageSize\":10"),
                  "ServiceListResponse");
    cr_expect_eq(jint(j, "count"), 1);
    cr_expect_str_eq(jstr(j, "serviceNames.0"), "svc");
    json_decref(j);

    /* an unsupported type is a 400; deregister removes the connection's share whatever ip */
    expect_error(pub, "InstanceRequest",
                 grpc_naming_body("public", "svc", "\"type\":\"updateInstance\""), 400);
    snprintf(extra, sizeof extra, "\"type\":\"deregisterInstance\",%s",
             instance_json("127.0.0.99", 1, NULL));
    expect_ok(pub, "InstanceRequest", grpc_naming_body("public", "svc", extra),
              "InstanceResponse");
    expect_ok(pub2, "InstanceRequest", grpc_naming_body("public", "svc", extra),
              "InstanceResponse");
    info = push_with(sub, "svc", 0);
    cr_expect(json_is_array(jget(info, "hosts")), "the empty list is pushed as hosts []");
    json_decref(info);
    /* deregistering again is still a success */
    expect_ok(pub2, "InstanceRequest", grpc_naming_body("public", "svc", extra),
              "InstanceResponse");
    cr_expect_gt(node_wait_metric(n, "grpc", "cairn_grpc_pushes_acked_total", NULL, 4, WAIT_MS),
                 3, "the client's acks are matched");
    grpc_close(pub);
    grpc_close(pub2);
    grpc_close(sub);
}

IT_TEST(grpc, a_closed_connection_takes_its_instances_at_once)
{
    it_node *n = start(ARGS("grpc.push_merge_window_ms=20"));
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *sub = grpc_open_setup(addr);
    subscribe(sub, "gone", "");
    it_grpc *pub = grpc_open_setup(addr);
    register_one(pub, "gone", "127.0.0.1", 7000, NULL);
    json_decref(push_with(sub, "gone", 1));
    json_t *list = nacos_list(n, Q("serviceName", "gone"));
    cr_expect_eq(list_host_count(list), 1);
    json_decref(list);

    grpc_close(pub); /* the TCP connection ends */
    json_decref(push_with(sub, "gone", 0));
    list = nacos_list(n, Q("serviceName", "gone"));
    cr_expect_eq(list_host_count(list), 0, "removed for v1 clients too");
    json_decref(list);
    grpc_close(sub);
}

IT_TEST(grpc, v1_and_grpc_clients_see_each_other)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("grpc.push_merge_window_ms=20", "push.merge_window_ms=20"), 1);
    char addr[64];
    grpc_addr(ps.node, addr, sizeof addr);
    /* a v1 UDP subscriber of the service */
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "mixed", "");
    it_grpc *sub = grpc_open_setup(addr);
    subscribe(sub, "mixed", "");

    /* a gRPC register: the v1 subscriber is pushed it by UDP */
    it_grpc *pub = grpc_open_setup(addr);
    register_one(pub, "mixed", "127.0.0.1", 9001, NULL);
    it_push p;
    bool got = false;
    for (int i = 0; i < 20 && !got; i++) {
        cr_assert(udp_recv_push_of(&u, SVC "mixed", &p, WAIT_MS), "no UDP push");
        udp_ack(&u, &p, false);
        got = push_has_host(&p, "127.0.0.1", 9001);
        it_push_free(&p);
    }
    cr_expect(got, "the v1 subscriber heard of the gRPC instance");

    /* a v1 register: the gRPC subscriber is pushed it, queries see it */
    nacos_write_ok(ps.node, "POST", NS "/instance",
                   Q("serviceName", "mixed", "ip", "127.0.0.2", "port", "9002"));
    json_t *info = push_with(sub, "mixed", 2);
    json_decref(info);
    info = query(sub, "mixed", "", false);
    cr_expect_eq(hosts(info), 2);
    json_decref(info);

    /* a v1 DELETE of the gRPC instance changes nothing (it is the connection's) */
    nacos_write_ok(ps.node, "DELETE", NS "/instance",
                   Q("serviceName", "mixed", "ip", "127.0.0.1", "port", "9001"));
    info = query(sub, "mixed", "", false);
    cr_expect_eq(hosts(info), 2);
    json_decref(info);
    udp_close(&u);
    grpc_close(pub);
    grpc_close(sub);
}

IT_TEST(grpc, owned_instances_never_expire_by_beats)
{
    it_node *n = start(ARGS("health.check_interval_ms=200", "health.beat_timeout_ms=600",
                            "health.delete_timeout_ms=1200"));
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *pub = grpc_open_setup(addr);
    register_one(pub, "kept", "127.0.0.1", 80, NULL);
    /* a v1 instance beside it, without beats: it goes */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "kept", "ip", "127.0.0.2", "port", "80"));
    int64_t until = it_now_ms() + WAIT_MS;
    int count = 2;
    while (count != 1 && it_now_ms() < until) {
        json_t *list = nacos_list(n, Q("serviceName", "kept"));
        count = list_host_count(list);
        json_decref(list);
        grpc_pump(pub, 100);
    }
    cr_assert_eq(count, 1, "the v1 instance expired");
    /* keep going well past the delete timeout, answering nothing but HTTP/2 */
    grpc_pump(pub, 2000);
    json_t *info = query(pub, "kept", "", true);
    cr_expect_eq(hosts(info), 1, "the gRPC instance stays, healthy");
    cr_expect_str_eq(jstr(info, "hosts.0.ip"), "127.0.0.1");
    json_decref(info);

    /* a persistent instance is a plain persistent write: it outlives the connection */
    char extra[768];
    snprintf(extra, sizeof extra, "\"type\":\"registerInstance\",%s",
             instance_json("127.0.0.3", 81, NULL));
    expect_ok(pub, "PersistentInstanceRequest", grpc_naming_body("public", "kept", extra),
              "InstanceResponse");
    grpc_close(pub);
    until = it_now_ms() + WAIT_MS;
    json_t *list = NULL;
    for (;;) {
        list = nacos_list(n, Q("serviceName", "kept"));
        if (list_host_count(list) == 1 || it_now_ms() > until)
            break;
        json_decref(list);
    }
    cr_expect_eq(list_host_count(list), 1);
    cr_expect(list_find_host(list, "127.0.0.3", 81), "the persistent one stays");
    json_decref(list);
}

IT_TEST(grpc, client_detection_and_push_retries)
{
    it_node *n = start(ARGS("grpc.detect_idle_ms=300", "grpc.detect_timeout_ms=500",
                            "grpc.push_merge_window_ms=20", "grpc.push_ack_timeout_ms=200",
                            "grpc.push_retry_delay_ms=100"));
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    /* a client that answers probes stays; one that does not is closed, its instance with it */
    it_grpc *good = grpc_open_setup(addr);
    it_grpc *mute = grpc_open_setup(addr);
    grpc_set_auto_ack(mute, false, false);
    register_one(mute, "probe", "127.0.0.1", 1, NULL);
    subscribe(good, "probe", "");
    int64_t until = it_now_ms() + WAIT_MS;
    while (grpc_alive(mute) && it_now_ms() < until) {
        grpc_pump(mute, 50);
        grpc_pump(good, 50);
    }
    cr_assert_not(grpc_alive(mute), "the silent client was closed");
    cr_expect(grpc_bidi_next(mute, "ClientDetectionRequest", NULL, 0), "after a probe");
    json_decref(push_with(good, "probe", 0));
    grpc_pump(good, 1500);
    cr_expect(grpc_alive(good), "a client answering probes stays");

    /* pushes not acked are sent again */
    grpc_set_auto_ack(good, false, true);
    it_grpc *pub = grpc_open_setup(addr);
    register_one(pub, "probe", "127.0.0.2", 2, NULL);
    json_decref(push_with(good, "probe", 1));
    json_decref(push_with(good, "probe", 1)); /* the retry, with the same (newest) data */
    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_pushes_retried_total", NULL), 1);
    grpc_close(pub);
    grpc_close(good);
    grpc_close(mute);
}

IT_TEST(grpc, limits_and_malformed_input)
{
    it_node *n = start(ARGS("grpc.max_connections=4", "grpc.max_message_bytes=4096",
                            "grpc.max_pending_pushes=1", "grpc.push_merge_window_ms=20"));
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *g = grpc_open_setup(addr);
    it_grpc_reply r;

    /* a message over the cap: RESOURCE_EXHAUSTED, the connection lives on */
    char *big = malloc(8192);
    memset(big, 'x', 8191);
    big[8191] = 0;
    grpc_call(g, "HealthCheckRequest", big, &r, WAIT_MS);
    cr_expect_eq(r.grpc_status, 8, "status %d", r.grpc_status);
    grpc_reply_free(&r);
    free(big);
    /* not a Payload: INTERNAL */
    static const uint8_t junk[] = {0, 0, 0, 0, 3, 0xff, 0xff, 0xff};
    grpc_call_raw(g, "/Request/request", "application/grpc", junk, sizeof junk, &r, WAIT_MS);
    cr_expect_eq(r.grpc_status, 13);
    grpc_reply_free(&r);
    /* compressed: UNIMPLEMENTED; an unknown path: UNIMPLEMENTED; not gRPC: HTTP 415 */
    static const uint8_t z[] = {1, 0, 0, 0, 1, 0};
    grpc_call_raw(g, "/Request/request", "application/grpc", z, sizeof z, &r, WAIT_MS);
    cr_expect_eq(r.grpc_status, 12);
    grpc_reply_free(&r);
    grpc_call_raw(g, "/Nope/nope", "application/grpc", z + 1, 5, &r, WAIT_MS);
    cr_expect_eq(r.grpc_status, 12, "status %d http %d", r.grpc_status, r.http_status);
    grpc_reply_free(&r);
    grpc_call_raw(g, "/Request/request", "text/plain", z, sizeof z, &r, WAIT_MS);
    cr_expect_eq(r.http_status, 415);
    grpc_reply_free(&r);
    /* two messages in a unary call; a truncated one */
    static const uint8_t two[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    grpc_call_raw(g, "/Request/request", "application/grpc", two, sizeof two, &r, WAIT_MS);
    cr_expect_eq(r.grpc_status, 13);
    grpc_reply_free(&r);
    grpc_call_raw(g, "/Request/request", "application/grpc", two, 3, &r, WAIT_MS);
    cr_expect_eq(r.grpc_status, 13);
    grpc_reply_free(&r);
    /* a body that is no JSON object: ErrorResponse 502; bad fields: 400 */
    expect_error(g, "HealthCheckRequest", "{nope", 502);
    expect_error(g, "ServiceQueryRequest", "[1]", 502);
    expect_error(g, "InstanceRequest",
                 grpc_naming_body("public", "s", "\"type\":\"registerInstance\","
                                                 "\"instance\":{\"ip\":\"127.0.0.1\"}"),
                 400);
    expect_error(g, "InstanceRequest",
                 grpc_naming_body("public", "s", "\"type\":\"registerInstance\","
                                                 "\"instance\":{\"ip\":\"127.0.0.1\",\"port\":1,"
                                                 "\"clusterName\":\"bad.name\"}"),
                 400);
    /* garbage on the bi-stream is dropped */
    static const uint8_t bad_frame[] = {0, 0, 0, 0, 2, 0xff, 0xff};
    grpc_bidi_send_raw(g, bad_frame, sizeof bad_frame);
    expect_ok(g, "HealthCheckRequest", "{}", "HealthCheckResponse");

    /* a peer that speaks no HTTP/2 is closed; the server serves on */
    it_grpc *raw = grpc_open(addr);
    grpc_bidi_send_raw(raw, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18);
    int64_t until = it_now_ms() + WAIT_MS;
    while (grpc_alive(raw) && it_now_ms() < until)
        grpc_pump(raw, 50);
    grpc_close(raw);

    /* connections over the cap are closed as they come */
    it_grpc *more[4];
    int refused = 0;
    for (int i = 0; i < 4; i++) {
        more[i] = grpc_open(addr);
        grpc_pump(more[i], 300);
        refused += !grpc_alive(more[i]);
    }
    cr_expect_geq(refused, 1, "past grpc.max_connections");
    for (int i = 0; i < 4; i++)
        grpc_close(more[i]);

    /* a subscriber that never acks cannot pile up pushes: past max_pending_pushes it is closed */
    until = it_now_ms() + WAIT_MS;
    it_grpc *slow = NULL;
    while (!slow && it_now_ms() < until) { /* the refused connections' slots free up */
        slow = grpc_open(addr);
        grpc_pump(slow, 100);
        if (!grpc_alive(slow)) {
            grpc_close(slow);
            slow = NULL;
        }
    }
    grpc_close(slow);
    slow = grpc_open_setup(addr);
    grpc_set_auto_ack(slow, false, true);
    subscribe(slow, "p1", "");
    subscribe(slow, "p2", "");
    register_one(g, "p1", "127.0.0.1", 1, NULL);
    register_one(g, "p2", "127.0.0.1", 2, NULL);
    until = it_now_ms() + WAIT_MS;
    while (grpc_alive(slow) && it_now_ms() < until)
        grpc_pump(slow, 50);
    cr_expect_not(grpc_alive(slow));
    grpc_close(slow);
    expect_ok(g, "HealthCheckRequest", "{}", "HealthCheckResponse");
    grpc_close(g);
}

/* A cairn-grpc killed with SIGKILL leaves its connections' instances in the registry (LMDB keeps
 * ephemeral data); the next incarnation drops them before it listens. */
IT_TEST(grpc, a_restarted_role_drops_what_its_last_run_left)
{
    it_node *n = start(NULL);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *pub = grpc_open_setup(addr);
    register_one(pub, "stale", "127.0.0.1", 5000, NULL);
    json_t *list = nacos_list(n, Q("serviceName", "stale"));
    cr_expect_eq(list_host_count(list), 1);
    json_decref(list);

    pid_t old = node_role_pid(n, "cairn-grpc");
    cr_assert(old > 0);
    cr_assert_eq(kill(old, SIGKILL), 0);
    cr_assert(node_wait_role_restart(n, "cairn-grpc", old, 20000) > 0, "not restarted");
    cr_assert(node_wait_admin_ready(n, "grpc", 20000), "the new incarnation is not ready");
    /* ready means the drop is done */
    list = nacos_list(n, Q("serviceName", "stale"));
    cr_expect_eq(list_host_count(list), 0, "the killed incarnation's instance was dropped");
    json_decref(list);
    grpc_close(pub);

    /* and the new one serves (a new address: the listener was on port 0) */
    grpc_addr(n, addr, sizeof addr);
    it_grpc *g = grpc_open_setup(addr);
    register_one(g, "stale", "127.0.0.2", 5000, NULL);
    list = nacos_list(n, Q("serviceName", "stale"));
    cr_expect_eq(list_host_count(list), 1);
    json_decref(list);
    grpc_close(g);
}
