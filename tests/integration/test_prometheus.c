/* Prometheus HTTP service discovery (gateway_prometheus.h): the three Nacos 2.x paths answer the
 * http_sd document of a real node's instances, exactly, in store order; unknown names give [];
 * other shapes 404, bad names 400; the size bound refuses an oversized list; a missing registry
 * gives 503. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_model.h"
#include "cairn_nacos.h"

TestSuite(prometheus, .fini = it_teardown, .timeout = 120);

#define SD "/nacos/prometheus"

static bool valid_label_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* "host:port" with a port in 1..65535, an IPv6 host in brackets. */
static bool valid_target(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return false;
    if (s[0] == '[' ? colon[-1] != ']' : memchr(s, ':', (size_t)(colon - s)) != NULL)
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && end != colon + 1 && port > 0 && port < 65536;
}

/* Asserts the http_sd shape: an array of objects with exactly "targets" (an array of
 * host:port strings) and "labels" (an object of string values under valid label names). */
static void expect_http_sd_shape(const json_t *doc, const char *path)
{
    cr_assert(json_is_array(doc), "%s: not a JSON array", path);
    size_t i;
    json_t *group;
    json_array_foreach(doc, i, group)
    {
        cr_assert(json_is_object(group) && json_object_size(group) == 2,
                  "%s[%zu]: not an object of targets and labels", path, i);
        json_t *targets = json_object_get(group, "targets");
        json_t *labels = json_object_get(group, "labels");
        cr_assert(json_is_array(targets) && json_array_size(targets) > 0,
                  "%s[%zu]: targets is not a non-empty array", path, i);
        cr_assert(json_is_object(labels), "%s[%zu]: labels is not an object", path, i);
        size_t j;
        json_t *t;
        json_array_foreach(targets, j, t)
        {
            cr_expect(json_is_string(t) && valid_target(json_string_value(t)),
                      "%s[%zu]: target %zu is not \"host:port\"", path, i, j);
        }
        const char *name;
        json_t *v;
        json_object_foreach(labels, name, v)
        {
            cr_expect(valid_label_name(name), "%s[%zu]: label name \"%s\" is invalid", path, i,
                      name);
            cr_expect(json_is_string(v), "%s[%zu]: label %s is not a string", path, i, name);
            cr_expect(strncmp(name, "__", 2) != 0 || strcmp(name, "__meta_clusterName") == 0,
                      "%s[%zu]: reserved label %s", path, i, name);
        }
    }
}

/* GET path: 200 application/json in the http_sd shape, equal to want (JSON text; arrays in
 * order, labels in any order). */
static void expect_sd(const it_node *n, const char *path, const char *want)
{
    http_resp r = nacos_call(n, "GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    cr_expect(r.content_type && strncmp(r.content_type, "application/json", 16) == 0,
              "GET %s: content type \"%s\"", path, r.content_type ? r.content_type : "");
    json_t *got = json_parse_or_fail(r.body);
    expect_http_sd_shape(got, path);
    json_error_t e;
    json_t *expected = json_loads(want, 0, &e);
    cr_assert(expected != NULL, "bad expectation for %s: %s", path, e.text);
    cr_expect(json_equal(got, expected), "GET %s:\n got  %s\n want %s", path, r.body, want);
    json_decref(expected);
    json_decref(got);
    http_resp_free(&r);
}

static void expect_status(const it_node *n, const char *method, const char *path, long status,
                          const char *body)
{
    http_resp r = nacos_call(n, method, path, NULL, NULL, NULL);
    cr_expect_eq(r.status, status, "%s %s: %ld \"%s\" (want %ld)", method, path, r.status, r.body,
                 status);
    if (body)
        cr_expect_str_eq(r.body, body, "%s %s", method, path);
    http_resp_free(&r);
}

/* The labels of one target group, as JSON text. */
#define LABELS(ns, group, svc, cluster, extra)                                                  \
    "{\"__meta_clusterName\":\"" cluster "\",\"namespace\":\"" ns "\",\"group\":\"" group       \
    "\",\"service\":\"" svc "\",\"cluster\":\"" cluster "\"" extra "}"
#define GROUP(target, labels) "{\"targets\":[\"" target "\"],\"labels\":" labels "}"

/* The instances every test below expects. */
#define DEV_ORDERS GROUP("127.0.0.5:8080", LABELS("dev", "DEFAULT_GROUP", "orders", "east", ""))
#define BILLING GROUP("127.0.0.4:7000", LABELS("public", "DEFAULT_GROUP", "billing", "DEFAULT", ""))
#define ORDERS_1                                                                                \
    GROUP("127.0.0.1:8080",                                                                     \
          LABELS("public", "DEFAULT_GROUP", "orders", "DEFAULT",                                \
                 ",\"metadata_version\":\"1.2\",\"metadata_zone_name\":\"z1\","                 \
                 "\"metadata___scheme__\":\"https\",\"metadata_a_b\":\"plain\","                \
                 "\"metadata_caf_\":\"x\""))
#define ORDERS_2 GROUP("127.0.0.2:8080", LABELS("public", "DEFAULT_GROUP", "orders", "c2", ""))
#define ORDERS_3 GROUP("127.0.0.3:8081", LABELS("public", "DEFAULT_GROUP", "orders", "c2", ""))
#define G1_ORDERS GROUP("127.0.0.6:9090", LABELS("public", "g1", "orders", "DEFAULT", ""))

static void register_instances(const it_node *n)
{
    /* Metadata keys: valid, sanitized, reserved-looking, colliding (a.b and a_b: the key that
     * needed no change wins) and non-ASCII. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "orders", "ip", "127.0.0.1", "port", "8080", "metadata",
                     "{\"version\":\"1.2\",\"zone.name\":\"z1\",\"__scheme__\":\"https\","
                     "\"a.b\":\"dotted\",\"a_b\":\"plain\",\"caf\xc3\xa9\":\"x\"}"));
    /* Disabled, unhealthy and persistent instances are targets too. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "orders", "ip", "127.0.0.2", "port", "8080", "clusterName",
                     "c2", "enabled", "false"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "orders", "ip", "127.0.0.3", "port", "8081", "clusterName",
                     "c2", "healthy", "false", "ephemeral", "false"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "orders", "groupName", "g1", "ip", "127.0.0.6", "port",
                     "9090"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "billing", "ip", "127.0.0.4", "port", "7000"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "orders", "namespaceId", "dev", "ip", "127.0.0.5", "port",
                     "8080", "clusterName", "east"));
    /* A defined service without instances adds nothing. */
    nacos_write_ok(n, "POST", NS "/service", Q("serviceName", "empty"));
}

IT_TEST(prometheus, targets_of_all_namespaces_one_namespace_one_service)
{
    it_node *n = node_start(NULL);
    register_instances(n);
    /* Namespaces, then grouped names, then ephemeral before persistent, by cluster, ip, port. */
    const char *all = "[" DEV_ORDERS "," BILLING "," ORDERS_1 "," ORDERS_2 "," ORDERS_3
                      "," G1_ORDERS "]";
    expect_sd(n, SD, all);
    expect_sd(n, SD "/", all);
    const char *pub = "[" BILLING "," ORDERS_1 "," ORDERS_2 "," ORDERS_3 "," G1_ORDERS "]";
    expect_sd(n, SD "/namespaceId/public", pub);
    expect_sd(n, SD "/namespaceId/public/", pub);
    expect_sd(n, SD "/namespaceId/dev", "[" DEV_ORDERS "]");
    /* A plain name is that name in every group (Nacos); group@@name one service. */
    expect_sd(n, SD "/namespaceId/public/service/orders",
              "[" ORDERS_1 "," ORDERS_2 "," ORDERS_3 "," G1_ORDERS "]");
    expect_sd(n, SD "/namespaceId/public/service/g1@@orders", "[" G1_ORDERS "]");
    expect_sd(n, SD "/namespaceId/public/service/DEFAULT_GROUP@@orders/",
              "[" ORDERS_1 "," ORDERS_2 "," ORDERS_3 "]");
    expect_sd(n, SD "/namespaceId/dev/service/orders", "[" DEV_ORDERS "]");
    expect_sd(n, SD "/namespaceId/public/service/billing", "[" BILLING "]");

    /* Unknown names: an empty list. */
    expect_sd(n, SD "/namespaceId/nosuch", "[]");
    expect_sd(n, SD "/namespaceId/nosuch/service/orders", "[]");
    expect_sd(n, SD "/namespaceId/public/service/nosuch", "[]");
    expect_sd(n, SD "/namespaceId/public/service/g2@@orders", "[]");
    expect_sd(n, SD "/namespaceId/public/service/empty", "[]");
    expect_sd(n, SD "/namespaceId/dev/service/billing", "[]");

    /* The route's pattern is the metrics label, not the path. */
    const char *pattern = "endpoint=\"" SD "/namespaceId/{namespaceId}/service/{service}\"";
    cr_expect_geq(node_wait_metric(n, "gateway", "cairn_gateway_requests_total", pattern, 10,
                                   5000),
                  10, "requests of the service path are not counted under its pattern");
}

IT_TEST(prometheus, other_shapes_404_bad_names_400)
{
    it_node *n = node_start(NULL);
    static const char *const not_found[] = {
        SD "x",
        SD "/x",
        SD "/namespaceId",
        SD "/namespaceId/",
        SD "//namespaceId/public",
        SD "/namespaceId//service/orders",
        SD "/namespaceId/public/service",
        SD "/namespaceId/public/service/",
        SD "/namespaceId/public/services/orders",
        SD "/namespaceId/public/service/orders/x",
        SD "/namespaceId/public/service/orders//",
        SD "/namespace/public",
    };
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "no such path: %s", not_found[i]);
        expect_status(n, "GET", not_found[i], 404, body);
    }
    expect_status(n, "POST", SD, 404, "no such path: " SD);

    char long_ns[CAIRN_MAX_NAMESPACE_LEN + 2];
    memset(long_ns, 'n', sizeof long_ns - 1);
    long_ns[sizeof long_ns - 1] = '\0';
    char path[512];
    snprintf(path, sizeof path, SD "/namespaceId/%s", long_ns);
    expect_status(n, "GET", path, 400, "Param 'namespaceId' is too long (max 128 bytes)");
    expect_status(n, "GET", SD "/namespaceId/public/service/@@orders", 400,
                  "Param 'serviceName' is illegal, groupName can't be empty");
    expect_status(n, "GET", SD "/namespaceId/public/service/orders@@", 400,
                  "Param 'serviceName' is illegal, it should be format as "
                  "'groupName@@serviceName'");
}

IT_TEST(prometheus, oversized_list_is_refused)
{
    it_node *n = node_start(&(it_node_opts){.sets = ARGS("gateway.prometheus_max_bytes=1024")});
    for (int i = 1; i <= 12; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.1.%d", i);
        nacos_write_ok(n, "POST", NS "/instance",
                       Q("serviceName", i <= 10 ? "big" : "small", "ip", ip, "port", "80"));
    }
    http_resp r = nacos_call(n, "GET", SD, NULL, NULL, NULL);
    cr_expect_eq(r.status, 400, "oversized list: %ld %.200s", r.status, r.body);
    cr_expect(strstr(r.body, "gateway.prometheus_max_bytes") != NULL,
              "the refusal does not name the key: %.200s", r.body);
    http_resp_free(&r);
    /* A narrower scope fits. */
    r = nacos_call(n, "GET", SD "/namespaceId/public/service/small", NULL, NULL, NULL);
    cr_expect_eq(r.status, 200, "small service: %ld %s", r.status, r.body);
    json_t *doc = json_parse_or_fail(r.body);
    cr_expect_eq(json_array_size(doc), 2);
    json_decref(doc);
    http_resp_free(&r);
}

IT_TEST(prometheus, registry_down_503)
{
    char data[PATH_MAX], gw[64];
    gateway_start_alone(data, sizeof data, gw, sizeof gw);
    static const char *const paths[] = {SD, SD "/namespaceId/public",
                                        SD "/namespaceId/public/service/orders",
                                        SD "/namespaceId/public/service/g@@orders"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        http_resp r = nacos_call_at(gw, "GET", paths[i], NULL, NULL, NULL);
        cr_expect_eq(r.status, 503, "GET %s without registry: %ld \"%s\"", paths[i], r.status,
                     r.body);
        cr_expect(strstr(r.body, "try again") != NULL, "GET %s: 503 message \"%s\"", paths[i],
                  r.body);
        cr_expect_lt(r.elapsed_ms, 2000, "GET %s: 503 took %ld ms", paths[i], r.elapsed_ms);
        http_resp_free(&r);
    }
}
