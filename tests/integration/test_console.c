/* The operator console against a real node: its data endpoints (catalog/services,
 * catalog/instances, console/namespaces, console/cairn/roles) and its static files under /nacos/. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(console, .fini = it_teardown, .timeout = 120);

#define CATALOG NS "/catalog"

static json_t *get_json(const it_node *n, const char *path, const char *const *q)
{
    http_resp r = nacos_call(n, "GET", path, q, NULL, NULL);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    cr_expect(r.content_type && strncmp(r.content_type, "application/json", 16) == 0,
              "GET %s: content type %s", path, r.content_type ? r.content_type : "");
    json_t *j = json_parse_or_fail(r.body);
    http_resp_free(&r);
    return j;
}

static void register_at(const it_node *n, const char *group, const char *svc, const char *ip,
                        const char *extra_key, const char *extra_value)
{
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", svc, "groupName", group, "ip", ip, "port", "8080",
                     extra_key ? extra_key : "app", extra_value ? extra_value : "DEFAULT"));
}

/* "group@@name:ip/healthy,..." of a catalog/services page, and its count. */
static void expect_services(const it_node *n, const char *const *q, const char *want,
                            long long count)
{
    json_t *j = get_json(n, CATALOG "/services", q);
    char got[1024] = "";
    size_t i;
    json_t *s;
    json_array_foreach(jget(j, "serviceList"), i, s)
    {
        size_t used = strlen(got);
        snprintf(got + used, sizeof got - used, "%s%s@@%s:%lld/%lld", i ? "," : "",
                 jstr(s, "groupName"), jstr(s, "name"), jint(s, "ipCount"),
                 jint(s, "healthyInstanceCount"));
    }
    char *qs = http_query(q);
    cr_expect_str_eq(got, want, "catalog/services?%s", qs);
    cr_expect_eq(jint(j, "count"), count, "catalog/services?%s count", qs);
    free(qs);
    json_decref(j);
}

IT_TEST(console, catalog_services_counts_paging_and_search)
{
    it_node *n = node_start(NULL);
    register_at(n, "DEFAULT_GROUP", "orders", "127.0.0.1", NULL, NULL);
    register_at(n, "DEFAULT_GROUP", "orders", "127.0.0.2", "healthy", "false");
    register_at(n, "DEFAULT_GROUP", "payments", "127.0.0.1", NULL, NULL);
    register_at(n, "DEFAULT_GROUP", "pay-gw", "127.0.0.1", "enabled", "false");
    register_at(n, "billing", "payouts", "127.0.0.1", NULL, NULL);
    nacos_write_ok(n, "POST", NS "/service", Q("serviceName", "empty", "groupName", "billing"));

    expect_services(n, Q("pageNo", "1", "pageSize", "10"),
                    "DEFAULT_GROUP@@orders:2/1,DEFAULT_GROUP@@pay-gw:1/1,"
                    "DEFAULT_GROUP@@payments:1/1,billing@@empty:0/0,billing@@payouts:1/1",
                    5);
    expect_services(n, Q("pageNo", "2", "pageSize", "2"),
                    "DEFAULT_GROUP@@payments:1/1,billing@@empty:0/0", 5);
    expect_services(n, Q("pageNo", "9", "pageSize", "2"), "", 5);
    /* defaults: page 1 of 10 */
    expect_services(n, Q("namespaceId", ""),
                    "DEFAULT_GROUP@@orders:2/1,DEFAULT_GROUP@@pay-gw:1/1,"
                    "DEFAULT_GROUP@@payments:1/1,billing@@empty:0/0,billing@@payouts:1/1",
                    5);
    /* filters apply before paging: count is the filtered total */
    expect_services(n, Q("pageNo", "1", "pageSize", "2", "serviceNameParam", "pay"),
                    "DEFAULT_GROUP@@pay-gw:1/1,DEFAULT_GROUP@@payments:1/1", 3);
    expect_services(n, Q("pageNo", "2", "pageSize", "2", "serviceNameParam", "pay"),
                    "billing@@payouts:1/1", 3);
    expect_services(n, Q("pageNo", "1", "pageSize", "10", "groupNameParam", "bill"),
                    "billing@@empty:0/0,billing@@payouts:1/1", 2);
    expect_services(n,
                    Q("pageNo", "1", "pageSize", "10", "groupNameParam", "billing",
                      "serviceNameParam", "out"),
                    "billing@@payouts:1/1", 1);
    expect_services(n, Q("pageNo", "1", "pageSize", "10", "serviceNameParam", "nothing"), "", 0);
    expect_services(n, Q("pageNo", "1", "pageSize", "10", "namespaceId", "other"), "", 0);

    /* Nacos' ServiceView keys, and the protect threshold's trigger flag */
    json_t *j = get_json(n, CATALOG "/services",
                         Q("pageNo", "1", "pageSize", "1", "serviceNameParam", "orders"));
    json_t *s = jget(j, "serviceList.0");
    cr_expect_str_eq(jstr(s, "name"), "orders");
    cr_expect_str_eq(jstr(s, "groupName"), "DEFAULT_GROUP");
    cr_expect_eq(jint(s, "clusterCount"), 1);
    cr_expect_str_eq(jstr(s, "triggerFlag"), "false");
    json_decref(j);
    nacos_write_ok(n, "PUT", NS "/service", Q("serviceName", "orders", "protectThreshold", "0.6"));
    j = get_json(n, CATALOG "/services",
                 Q("pageNo", "1", "pageSize", "1", "serviceNameParam", "orders"));
    cr_expect_str_eq(jstr(j, "serviceList.0.triggerFlag"), "true", "1 of 2 healthy <= 0.6");
    json_decref(j);
}

IT_TEST(console, catalog_bad_parameters)
{
    it_node *n = node_start(NULL);
    register_at(n, "DEFAULT_GROUP", "s", "127.0.0.1", NULL, NULL);
    nacos_expect_error(n, "GET", CATALOG "/services", Q("pageNo", "x"), NULL, 400, "", true);
    nacos_expect_error(n, "GET", CATALOG "/services", Q("pageNo", "0"), NULL, 400,
                       "Param 'pageNo' must be at least 1, got 0", false);
    nacos_expect_error(n, "GET", CATALOG "/services", Q("pageSize", "1001"), NULL, 400,
                       "Param 'pageSize' must be 1..1000, got 1001", false);
    nacos_expect_error(n, "GET", CATALOG "/services", Q("pageSize", "0"), NULL, 400,
                       "Param 'pageSize' must be 1..1000, got 0", false);
    nacos_expect_error(n, "GET", CATALOG "/instances", Q("pageNo", "1"), NULL, 400,
                       "Param 'serviceName' is required.", false);
    nacos_expect_error(n, "GET", CATALOG "/instances", Q("serviceName", "s", "pageSize", "-1"),
                       NULL, 400, "Param 'pageSize' must be 1..1000, got -1", false);
    nacos_expect_error(n, "GET", CATALOG "/instances", Q("serviceName", "nosuch"), NULL, 404,
                       "service DEFAULT_GROUP@@nosuch is not found!", false);
    nacos_expect_error(n, "GET", CATALOG "/instances", Q("serviceName", "s", "clusterName", "c9"),
                       NULL, 404, "cluster c9 is not found!", false);
    /* other methods and paths under the naming prefix stay Nacos' 501 */
    nacos_expect_error(n, "POST", CATALOG "/services", NULL, NULL, 501,
                       "no such api:POST:/nacos/v1/ns/catalog/services", false);
}

IT_TEST(console, catalog_instances_lists_disabled_and_pages)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "inv", "ip", "127.0.0.1", "port", "1", "clusterName", "c1",
                     "weight", "2.5", "metadata", "{\"v\":\"1\"}"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "inv", "ip", "127.0.0.2", "port", "1", "clusterName", "c1",
                     "enabled", "false"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "inv", "ip", "127.0.0.3", "port", "1", "clusterName", "c2",
                     "ephemeral", "false"));
    /* instance/list leaves the disabled one out; the console lists it */
    json_t *l = nacos_list(n, Q("serviceName", "inv"));
    cr_expect_eq(list_host_count(l), 2);
    json_decref(l);

    json_t *j = get_json(n, CATALOG "/instances",
                         Q("serviceName", "inv", "pageNo", "1", "pageSize", "10"));
    cr_expect_eq(jint(j, "count"), 3);
    cr_assert_eq(json_array_size(jget(j, "list")), 3);
    json_t *a = jget(j, "list.0"), *b = jget(j, "list.1"), *c = jget(j, "list.2");
    cr_expect_str_eq(jstr(a, "ip"), "127.0.0.1");
    cr_expect_eq(jint(a, "port"), 1);
    cr_expect_str_eq(jstr(a, "clusterName"), "c1");
    cr_expect_float_eq(jnum(a, "weight"), 2.5, 1e-9);
    cr_expect(jbool(a, "healthy") && jbool(a, "enabled") && jbool(a, "ephemeral"));
    cr_expect_str_eq(jstr(a, "metadata.v"), "1");
    cr_expect_str_eq(jstr(a, "serviceName"), "DEFAULT_GROUP@@inv");
    cr_expect_str_eq(jstr(a, "instanceId"), "127.0.0.1#1#c1#DEFAULT_GROUP@@inv");
    cr_expect_str_eq(jstr(b, "ip"), "127.0.0.2");
    cr_expect(!jbool(b, "enabled"), "the disabled instance is listed as disabled");
    cr_expect_str_eq(jstr(c, "ip"), "127.0.0.3");
    cr_expect(!jbool(c, "ephemeral"));
    json_decref(j);

    j = get_json(n, CATALOG "/instances",
                 Q("serviceName", "inv", "clusterName", "c1", "pageNo", "2", "pageSize", "1"));
    cr_expect_eq(jint(j, "count"), 2, "count is the cluster's");
    cr_expect_str_eq(jstr(j, "list.0.ip"), "127.0.0.2");
    cr_expect_eq(json_array_size(jget(j, "list")), 1);
    json_decref(j);
    j = get_json(n, CATALOG "/instances", Q("serviceName", "inv", "pageNo", "5"));
    cr_expect_eq(jint(j, "count"), 3);
    cr_expect_eq(json_array_size(jget(j, "list")), 0);
    json_decref(j);
}

IT_TEST(console, namespaces_from_the_store)
{
    it_node *n = node_start(NULL);
    json_t *j = get_json(n, "/nacos/v1/console/namespaces", NULL);
    cr_expect_eq(jint(j, "code"), 200);
    cr_expect(json_is_null(jget(j, "message")));
    cr_expect_eq(json_array_size(jget(j, "data")), 1, "public is always listed");
    cr_expect_str_eq(jstr(j, "data.0.namespace"), "");
    cr_expect_str_eq(jstr(j, "data.0.namespaceShowName"), "public");
    cr_expect_eq(jint(j, "data.0.quota"), 200);
    cr_expect_eq(jint(j, "data.0.configCount"), 0);
    cr_expect_eq(jint(j, "data.0.type"), 0);
    json_decref(j);

    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "a", "ip", "127.0.0.1", "port", "1", "namespaceId", "prod"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "a", "ip", "127.0.0.1", "port", "1", "namespaceId", "dev"));
    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "a", "ip", "127.0.0.1", "port", "1"));
    j = get_json(n, "/nacos/v1/console/namespaces", NULL);
    cr_assert_eq(json_array_size(jget(j, "data")), 3);
    cr_expect_str_eq(jstr(j, "data.0.namespaceShowName"), "public");
    cr_expect_str_eq(jstr(j, "data.1.namespace"), "dev");
    cr_expect_str_eq(jstr(j, "data.1.namespaceShowName"), "dev");
    cr_expect_eq(jint(j, "data.1.type"), 2);
    cr_expect_str_eq(jstr(j, "data.2.namespace"), "prod");
    json_decref(j);
    expect_services(n, Q("namespaceId", "dev"), "DEFAULT_GROUP@@a:1/1", 1);
}

/* Every role of the node answers ready, with its key metrics. */
static bool roles_ready(void *arg)
{
    const it_node *n = arg;
    http_resp r = nacos_call(n, "GET", "/nacos/v1/console/cairn/roles", NULL, NULL, NULL);
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    http_resp_free(&r);
    bool ok = j && json_array_size(json_object_get(j, "roles")) == 5;
    size_t i;
    json_t *role;
    json_array_foreach(json_object_get(j, "roles"), i, role)
        ok = ok && json_is_true(json_object_get(role, "healthy"));
    json_decref(j);
    return ok;
}

IT_TEST(console, roles_with_health_and_metrics)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "r", "ip", "127.0.0.1", "port", "1"));
    cr_assert(wait_until(roles_ready, n, 10000), "not every role reported ready");
    json_t *j = get_json(n, "/nacos/v1/console/cairn/roles", NULL);
    cr_expect_str_eq(jstr(j, "cluster.mode"), "standalone");
    cr_expect_eq(json_array_size(jget(j, "cluster.members")), 0);
    const char *names[] = {"registry", "healthcheck", "pusher-0", "gateway", "grpc"};
    for (size_t i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof path, "roles.%zu", i);
        json_t *role = jget(j, path);
        cr_expect_str_eq(jstr(role, "name"), names[i]);
        cr_expect_str_eq(jstr(role, "state"), "ready");
        cr_expect(strncmp(jstr(role, "address"), "127.0.0.1:", 10) == 0);
        cr_expect(strncmp(jstr(role, "detail"), "ok", 2) == 0, "%s", jstr(role, "detail"));
    }
    cr_expect_eq(jnum(j, "roles.0.metrics.services"), 1.0);
    cr_expect_eq(jnum(j, "roles.0.metrics.instances"), 1.0);
    cr_expect(jget(j, "roles.3.metrics.requests") != NULL);
    json_decref(j);

    /* A role that is gone is reported down, quickly. */
    char admin[64];
    cr_assert(node_admin_addr(n, "pusher-0", admin, sizeof admin));
    /* every thread stopped before the probe: one still running could answer it */
    pid_t pid = node_freeze_role(n, "cairn-pusher");
    http_resp r = nacos_call(n, "GET", "/nacos/v1/console/cairn/roles", NULL, NULL, NULL);
    kill(pid, SIGCONT);
    cr_assert_eq(r.status, 200);
    cr_expect_lt(r.elapsed_ms, 2500, "a hung role held the request for %ld ms", r.elapsed_ms);
    j = json_parse_or_fail(r.body);
    cr_expect(!jbool(j, "roles.2.healthy"), "a stopped pusher reported healthy");
    json_decref(j);
    http_resp_free(&r);
}

/* A raw HTTP/1.0 GET: the whole response, headers included (malloc'd). */
static char *raw_get(const it_node *n, const char *path)
{
    char req[256];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    size_t out_len;
    char *resp = tcp_exchange(n->gateway, req, (size_t)len, IT_HTTP_TIMEOUT_MS, &out_len);
    cr_assert_not_null(resp, "GET %s: no connection", path);
    return resp;
}

static void expect_file(const it_node *n, const char *path, const char *type, const char *marker)
{
    http_resp r = nacos_call(n, "GET", path, NULL, NULL, NULL);
    cr_expect_eq(r.status, 200, "GET %s: %ld", path, r.status);
    cr_expect_str_eq(r.content_type ? r.content_type : "", type, "GET %s", path);
    cr_expect(strstr(r.body, marker) != NULL, "GET %s: no \"%s\" in the body", path, marker);
    http_resp_free(&r);
    char *raw = raw_get(n, path);
    cr_expect(strstr(raw, "\r\nCache-Control: no-cache\r\n") != NULL, "GET %s: %s", path, raw);
    cr_expect(strstr(raw, "\r\nContent-Security-Policy: default-src 'self'") != NULL,
              "GET %s: no CSP", path);
    free(raw);
}

IT_TEST(console, static_files)
{
    it_node *n = node_start(NULL);
    expect_file(n, "/nacos/", "text/html; charset=utf-8", "<title>Cairn console</title>");
    expect_file(n, "/nacos/index.html", "text/html; charset=utf-8", "console.js");
    expect_file(n, "/nacos/console.js", "text/javascript; charset=utf-8", "'use strict'");
    expect_file(n, "/nacos/console.css", "text/css; charset=utf-8", ".grid");

    char *raw = raw_get(n, "/nacos");
    cr_expect(strncmp(raw, "HTTP/1.1 302", 12) == 0 || strncmp(raw, "HTTP/1.0 302", 12) == 0,
              "%s", raw);
    cr_expect(strstr(raw, "\r\nLocation: /nacos/\r\n") != NULL, "%s", raw);
    free(raw);

    nacos_expect_error(n, "GET", "/nacos/nosuch.js", NULL, NULL, 404,
                       "no such path: /nacos/nosuch.js", false);
    nacos_expect_error(n, "GET", "/nacos/../README.md", NULL, NULL, 404, "no such path:", true);
    http_resp r = nacos_call(n, "POST", "/nacos/", NULL, NULL, NULL);
    cr_expect_eq(r.status, 404, "POST /nacos/: %ld", r.status);
    http_resp_free(&r);
}
