/* Operator endpoints (spec §4): metrics, switches, servers, and the /ops alias. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(operator, .fini = it_teardown, .timeout = 120);

static json_t *get_json(const it_node *n, const char *path, const char *const *q)
{
    http_resp r = nacos_call(n, "GET", path, q, NULL, NULL);
    cr_assert_eq(r.status, 200, "GET %s: %ld \"%s\" %s", path, r.status, r.body, r.error);
    json_t *j = json_parse_or_fail(r.body);
    http_resp_free(&r);
    return j;
}

static void expect_metrics_shape(const json_t *m, const char *path)
{
    static const char *const keys[] = {"status", "serviceCount", "instanceCount",
                                       "raftNotifyTaskCount", "responsibleServiceCount",
                                       "responsibleInstanceCount", "cpu", "load", "mem"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect(jget(m, keys[i]) != NULL, "%s lacks \"%s\"", path, keys[i]);
    cr_expect_str_eq(jstr(m, "status"), "UP", "%s status", path);
}

typedef struct counts {
    const it_node *n;
    long long services, instances;
} counts;

static bool metrics_reach(void *arg)
{
    counts *c = arg;
    json_t *m = get_json(c->n, NS "/operator/metrics", NULL);
    json_t *s = json_object_get(m, "serviceCount"), *i = json_object_get(m, "instanceCount");
    bool ok = json_is_integer(s) && json_is_integer(i) && json_integer_value(s) == c->services &&
              json_integer_value(i) == c->instances;
    json_decref(m);
    return ok;
}

IT_TEST(operator, metrics_counts_follow_registrations)
{
    it_node *n = node_start(NULL);
    json_t *m = get_json(n, NS "/operator/metrics", Q("namespaceId", "public"));
    expect_metrics_shape(m, "operator/metrics");
    cr_expect_eq(jint(m, "serviceCount"), 0, "fresh node has services");
    cr_expect_eq(jint(m, "instanceCount"), 0, "fresh node has instances");
    json_decref(m);

    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "m1", "ip", "127.0.0.1", "port", "1"));
    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "m1", "ip", "127.0.0.2", "port", "1"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "m2", "namespaceId", "other", "ip", "127.0.0.3", "port", "1",
                     "ephemeral", "false"));
    counts want = {n, 2, 3};
    cr_expect(wait_until(metrics_reach, &want, 5000),
              "operator/metrics did not reach serviceCount 2, instanceCount 3 (all namespaces)");

    nacos_write_ok(n, "DELETE", NS "/instance", Q("serviceName", "m1", "ip", "127.0.0.2", "port", "1"));
    want.instances = 2;
    cr_expect(wait_until(metrics_reach, &want, 5000), "instanceCount did not drop to 2");

    /* The /ops alias answers the same. */
    m = get_json(n, NS "/ops/metrics", NULL);
    expect_metrics_shape(m, "ops/metrics");
    cr_expect_eq(jint(m, "instanceCount"), 2);
    json_decref(m);
}

IT_TEST(operator, switches)
{
    it_node *n = node_start(NULL);
    json_t *s = get_json(n, NS "/operator/switches", NULL);
    static const char *const keys[] = {
        "name", "adWeightMap", "defaultPushCacheMillis", "clientBeatInterval",
        "defaultCacheMillis", "distroThreshold", "healthCheckEnabled",
        "autoChangeHealthCheckEnabled", "distroEnabled", "enableStandalone", "pushEnabled",
        "checkTimes", "httpHealthParams", "tcpHealthParams", "mysqlHealthParams",
        "incrementalList", "serverStatusSynchronizationPeriodMillis",
        "serviceStatusSynchronizationPeriodMillis", "disableAddIP", "sendBeatOnly",
        "lightBeatEnabled", "limitedUrlMap", "distroServerExpiredMillis", "pushGoVersion",
        "pushJavaVersion", "pushPythonVersion", "pushCVersion", "pushCSharpVersion",
        "enableAuthentication", "defaultInstanceEphemeral", "healthCheckWhiteList"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect(jget(s, keys[i]) != NULL, "switches lack \"%s\"", keys[i]);
    cr_expect_str_eq(jstr(s, "name"), "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00");
    cr_expect_eq(jint(s, "clientBeatInterval"), 5000);
    cr_expect_eq(jint(s, "defaultCacheMillis"), 3000);
    cr_expect_eq(jint(s, "defaultPushCacheMillis"), 10000);
    cr_expect_eq(jint(s, "checkTimes"), 3);
    cr_expect(jbool(s, "lightBeatEnabled"));
    cr_expect(jbool(s, "defaultInstanceEphemeral"));
    cr_expect(jbool(s, "healthCheckEnabled"));
    cr_expect_eq(jint(s, "tcpHealthParams.max"), 5000);
    cr_expect(jget(s, "masters") == NULL || !json_is_null(jget(s, "masters")),
              "null fields must be omitted");
    json_decref(s);

    /* Cairn's switches are read-only. */
    http_resp r = nacos_call(n, "PUT", NS "/operator/switches",
                             Q("entry", "clientBeatInterval", "value", "1000"), NULL, NULL);
    cr_expect_eq(r.status, 400, "PUT switches: %ld \"%s\"", r.status, r.body);
    cr_expect(r.body_len > 0, "PUT switches 400 without a message");
    http_resp_free(&r);
    s = get_json(n, NS "/operator/switches", NULL);
    cr_expect_eq(jint(s, "clientBeatInterval"), 5000, "a refused PUT changed a switch");
    json_decref(s);
}

IT_TEST(operator, servers_has_one_member_up)
{
    it_node *n = node_start(NULL);
    json_t *s = get_json(n, NS "/operator/servers", NULL);
    json_t *servers = jget(s, "servers");
    cr_assert(json_is_array(servers), "no servers array");
    cr_assert_eq(json_array_size(servers), 1);
    json_t *m = json_array_get(servers, 0);
    cr_expect_str_eq(jstr(m, "state"), "UP");
    const char *ip = jstr(m, "ip");
    long long port = jint(m, "port");
    char addr[128];
    snprintf(addr, sizeof addr, "%s:%lld", ip, port);
    cr_expect_str_eq(jstr(m, "address"), addr);
    cr_expect(port > 0);
    json_decref(s);
    s = get_json(n, NS "/operator/servers", Q("healthy", "true"));
    cr_expect_eq(json_array_size(jget(s, "servers")), 1);
    json_decref(s);
}
