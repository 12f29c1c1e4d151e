/* Instance endpoints of the Nacos v1 naming API (spec §1–§2, §17) against a real node:
 * register, list, detail, update, patch, deregister, and their parameter rules. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(instance_api, .fini = it_teardown, .timeout = 120);

#define INSTANCE NS "/instance"

static void reg(const it_node *n, const char *const *q)
{
    nacos_write_ok(n, "POST", INSTANCE, q);
}

static void expect_bad(const it_node *n, const char *method, const char *const *q,
                       const char *body)
{
    nacos_expect_error(n, method, INSTANCE, q, NULL, 400, body, false);
}

/* Hosts of a list answer as a count, asserting the answer is well-formed. */
static int hosts_of(const it_node *n, const char *const *q)
{
    json_t *l = nacos_list(n, q);
    int c = list_host_count(l);
    cr_assert(c >= 0, "list without a hosts array");
    json_decref(l);
    return c;
}

IT_TEST(instance_api, register_list_detail_deregister)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "demo", "ip", "127.0.0.1", "port", "8080"));

    json_t *l = nacos_list(n, Q("serviceName", "demo"));
    cr_expect_str_eq(jstr(l, "name"), "DEFAULT_GROUP@@demo");
    cr_expect_str_eq(jstr(l, "clusters"), "");
    cr_assert_eq(list_host_count(l), 1);
    json_t *h = list_find_host(l, "127.0.0.1", 8080);
    cr_assert(h != NULL, "127.0.0.1:8080 not listed");
    cr_expect_str_eq(jstr(h, "instanceId"), "127.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@demo");
    cr_expect_str_eq(jstr(h, "clusterName"), "DEFAULT");
    cr_expect(json_is_real(jget(h, "weight")), "weight must print as a double (1.0)");
    cr_expect_float_eq(jnum(h, "weight"), 1.0, 1e-9);
    cr_expect(jbool(h, "healthy"));
    cr_expect(jbool(h, "valid"));
    cr_expect(jbool(h, "enabled"));
    cr_expect(jbool(h, "ephemeral"));
    cr_expect(!jbool(h, "marked"));
    cr_expect(json_is_object(jget(h, "metadata")) && json_object_size(jget(h, "metadata")) == 0);
    json_decref(l);

    http_resp r = nacos_call(n, "GET", INSTANCE,
                             Q("serviceName", "demo", "ip", "127.0.0.1", "port", "8080"), NULL,
                             NULL);
    cr_assert_eq(r.status, 200, "detail: %ld %s", r.status, r.body);
    json_t *d = json_parse_or_fail(r.body);
    cr_expect_str_eq(jstr(d, "service"), "DEFAULT_GROUP@@demo");
    cr_expect_str_eq(jstr(d, "ip"), "127.0.0.1");
    cr_expect_eq(jint(d, "port"), 8080);
    cr_expect_str_eq(jstr(d, "clusterName"), "DEFAULT");
    cr_expect_float_eq(jnum(d, "weight"), 1.0, 1e-9);
    cr_expect(jbool(d, "healthy"));
    cr_expect_str_eq(jstr(d, "instanceId"), "127.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@demo");
    cr_expect(json_is_object(jget(d, "metadata")));
    json_decref(d);
    http_resp_free(&r);

    nacos_write_ok(n, "DELETE", INSTANCE,
                   Q("serviceName", "demo", "ip", "127.0.0.1", "port", "8080"));
    cr_expect_eq(hosts_of(n, Q("serviceName", "demo")), 0, "deregistered instance still listed");
    r = nacos_call(n, "GET", INSTANCE, Q("serviceName", "demo", "ip", "127.0.0.1", "port", "8080"),
                   NULL, NULL);
    cr_expect_eq(r.status, 404, "detail after deregister: %ld %s", r.status, r.body);
    http_resp_free(&r);
    /* §2.2: deregistering what is not there is still ok. */
    nacos_write_ok(n, "DELETE", INSTANCE,
                   Q("serviceName", "demo", "ip", "127.0.0.1", "port", "8080"));
    nacos_write_ok(n, "DELETE", INSTANCE,
                   Q("serviceName", "never-registered", "ip", "127.0.0.1", "port", "8080"));
}

IT_TEST(instance_api, group_rewrite_and_namespaces)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "svc", "groupName", "g", "ip", "127.0.0.1", "port", "1"));

    json_t *l = nacos_list(n, Q("serviceName", "svc", "groupName", "g"));
    cr_expect_str_eq(jstr(l, "name"), "g@@svc");
    cr_expect_eq(list_host_count(l), 1);
    cr_expect_str_eq(jstr(l, "hosts.0.instanceId"), "127.0.0.1#1#DEFAULT#g@@svc");
    json_decref(l);
    l = nacos_list(n, Q("serviceName", "g@@svc"));
    cr_expect_eq(list_host_count(l), 1, "g@@svc not found by its grouped name");
    json_decref(l);
    cr_expect_eq(hosts_of(n, Q("serviceName", "svc")), 0, "svc leaked into DEFAULT_GROUP");

    /* A name that already has @@ ignores groupName. */
    reg(n, Q("serviceName", "g@@svc2", "groupName", "other", "ip", "127.0.0.2", "port", "2"));
    cr_expect_eq(hosts_of(n, Q("serviceName", "g@@svc2")), 1);
    cr_expect_eq(hosts_of(n, Q("serviceName", "svc2", "groupName", "g")), 1);
    cr_expect_eq(hosts_of(n, Q("serviceName", "svc2", "groupName", "other")), 0,
                 "groupName was applied to a name that already had @@");
    cr_expect_eq(hosts_of(n, Q("serviceName", "other@@g@@svc2")), 0);

    /* Namespaces are separate; blank means public. */
    reg(n, Q("serviceName", "nssvc", "namespaceId", "ns1", "ip", "127.0.0.3", "port", "3"));
    cr_expect_eq(hosts_of(n, Q("serviceName", "nssvc", "namespaceId", "ns1")), 1);
    cr_expect_eq(hosts_of(n, Q("serviceName", "nssvc")), 0, "ns1 instance visible in public");
    reg(n, Q("serviceName", "pubsvc", "namespaceId", "", "ip", "127.0.0.4", "port", "4"));
    cr_expect_eq(hosts_of(n, Q("serviceName", "pubsvc", "namespaceId", "public")), 1,
                 "blank namespaceId is not public");

    /* Format checks of §1.3. */
    expect_bad(n, "POST", Q("serviceName", "grp@@", "ip", "127.0.0.1", "port", "1"),
               "Param 'serviceName' is illegal, it should be format as "
               "'groupName@@serviceName'");
    expect_bad(n, "POST", Q("serviceName", "@@svc", "ip", "127.0.0.1", "port", "1"),
               "Param 'serviceName' is illegal, groupName can't be empty");
    expect_bad(n, "POST", Q("serviceName", "bad/name", "ip", "127.0.0.1", "port", "1"),
               "dom name can only have these characters: 0-9a-zA-Z-._:, current: "
               "DEFAULT_GROUP@@bad/name");
}

IT_TEST(instance_api, query_wins_over_form_and_values_are_trimmed)
{
    it_node *n = node_start(NULL);
    http_resp r = nacos_call(n, "POST", INSTANCE, Q("serviceName", "merge", "ip", "127.0.0.2"),
                             "port=9000&weight=3&ip=127.9.9.9", NULL);
    cr_assert(r.status == 200 && strcmp(r.body, "ok") == 0, "register with form body: %ld %s",
              r.status, r.body);
    http_resp_free(&r);
    json_t *l = nacos_list(n, Q("serviceName", "merge"));
    cr_expect_eq(list_host_count(l), 1);
    json_t *h = list_find_host(l, "127.0.0.2", 9000);
    cr_expect(h != NULL, "query ip must win over the form ip");
    if (h)
        cr_expect_float_eq(jnum(h, "weight"), 3.0, 1e-9, "form weight not applied");
    cr_expect(list_find_host(l, "127.9.9.9", 9000) == NULL);
    json_decref(l);

    /* Values are trimmed; a blank optional value means the default. */
    reg(n, Q("serviceName", " trim ", "ip", " 127.0.0.9 ", "port", " 99 ", "weight", " ",
             "clusterName", " "));
    l = nacos_list(n, Q("serviceName", "trim"));
    h = list_find_host(l, "127.0.0.9", 99);
    cr_expect(h != NULL, "trimmed ip/port/serviceName not found");
    if (h) {
        cr_expect_str_eq(jstr(h, "clusterName"), "DEFAULT");
        cr_expect_float_eq(jnum(h, "weight"), 1.0, 1e-9);
    }
    json_decref(l);
}

IT_TEST(instance_api, enable_and_cluster_aliases)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "alias", "ip", "127.0.0.1", "port", "1", "enable", "false"));
    reg(n, Q("serviceName", "alias", "ip", "127.0.0.2", "port", "2", "enabled", "false"));
    reg(n, Q("serviceName", "alias", "ip", "127.0.0.3", "port", "3", "enabled", "true", "enable",
             "false"));
    reg(n, Q("serviceName", "alias", "ip", "127.0.0.4", "port", "4", "cluster", "c1"));
    reg(n, Q("serviceName", "alias", "ip", "127.0.0.5", "port", "5", "clusterName", "c2",
             "cluster", "c1"));
    json_t *l = nacos_list(n, Q("serviceName", "alias"));
    cr_expect(list_find_host(l, "127.0.0.1", 1) == NULL, "enable=false instance listed");
    cr_expect(list_find_host(l, "127.0.0.2", 2) == NULL, "enabled=false instance listed");
    cr_expect(list_find_host(l, "127.0.0.3", 3) != NULL, "enabled=true must win over enable");
    json_t *h4 = list_find_host(l, "127.0.0.4", 4);
    json_t *h5 = list_find_host(l, "127.0.0.5", 5);
    cr_assert(h4 && h5, "cluster alias instances not listed");
    cr_expect_str_eq(jstr(h4, "clusterName"), "c1", "legacy cluster param ignored");
    cr_expect_str_eq(jstr(h5, "clusterName"), "c2", "clusterName must win over cluster");
    cr_expect_eq(list_host_count(l), 3);
    json_decref(l);
}

IT_TEST(instance_api, metadata_forms)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "md", "ip", "127.0.0.1", "port", "1", "metadata",
             "{\"a\":\"1\",\"b\":2}"));
    reg(n, Q("serviceName", "md", "ip", "127.0.0.2", "port", "2", "metadata", "x=1,y=two"));
    json_t *l = nacos_list(n, Q("serviceName", "md"));
    json_t *h1 = list_find_host(l, "127.0.0.1", 1);
    json_t *h2 = list_find_host(l, "127.0.0.2", 2);
    cr_assert(h1 && h2);
    cr_expect_str_eq(jstr(h1, "metadata.a"), "1");
    cr_expect_str_eq(jstr(h1, "metadata.b"), "2", "JSON scalar metadata must become a string");
    cr_expect_eq(json_object_size(jget(h1, "metadata")), 2);
    cr_expect_str_eq(jstr(h2, "metadata.x"), "1");
    cr_expect_str_eq(jstr(h2, "metadata.y"), "two");
    cr_expect_eq(json_object_size(jget(h2, "metadata")), 2);
    json_decref(l);

    expect_bad(n, "POST", Q("serviceName", "md", "ip", "127.0.0.3", "port", "3", "metadata", "a=1,b"),
               "metadata format incorrect:a=1,b");
    cr_expect_eq(hosts_of(n, Q("serviceName", "md")), 2, "a rejected register changed the list");
}

/* Metadata near limits.max_metadata_bytes sent in the query string, as the Node client sends it,
 * with every value byte percent-encoded (three times its size on the wire): the HTTP layer's
 * per-connection buffer must hold it (gateway_http.c sizes it from gateway.max_param_bytes). */
IT_TEST(instance_api, large_metadata_in_the_query_string)
{
    it_node *n = node_start(NULL);
    enum { VALUE = 15000 };
    char *md = malloc(VALUE + 16);
    cr_assert_not_null(md);
    memcpy(md, "{\"k\":\"", 6);
    memset(md + 6, '!', VALUE);
    strcpy(md + 6 + VALUE, "\"}");
    reg(n, Q("serviceName", "bigmd", "ip", "127.0.0.1", "port", "1", "metadata", md));
    json_t *l = nacos_list(n, Q("serviceName", "bigmd"));
    json_t *h = list_find_host(l, "127.0.0.1", 1);
    cr_assert_not_null(h);
    cr_expect_eq(strlen(jstr(h, "metadata.k")), VALUE);
    json_decref(l);
    free(md);
}

IT_TEST(instance_api, parameter_validation)
{
    it_node *n = node_start(NULL);
    expect_bad(n, "POST", Q("serviceName", "val", "ip", "127.0.0.1", "port", "1", "weight", "10001"),
               "instance format invalid: The weights range from 0.0 to 10000.0");
    expect_bad(n, "POST", Q("serviceName", "val", "ip", "127.0.0.1", "port", "1", "weight", "-1"),
               "instance format invalid: The weights range from 0.0 to 10000.0");
    expect_bad(n, "POST", Q("serviceName", "val", "ip", "127.0.0.1", "port", "1", "weight", "abc"),
               "For input string: \"abc\"");
    expect_bad(n, "POST", Q("serviceName", "val", "ip", "127.0.0.1", "port", "x"),
               "For input string: \"x\"");
    expect_bad(n, "POST", Q("serviceName", "val", "port", "1"), "Param 'ip' is required.");
    expect_bad(n, "POST", Q("serviceName", "val", "ip", "", "port", "1"),
               "Param 'ip' is required.");
    expect_bad(n, "POST", Q("serviceName", "val", "ip", "127.0.0.1"), "Param 'port' is required.");
    expect_bad(n, "POST", Q("ip", "127.0.0.1", "port", "1"), "Param 'serviceName' is required.");
    expect_bad(n, "POST",
               Q("serviceName", "val", "ip", "127.0.0.1", "port", "1", "clusterName", "bad_name"),
               "cluster name can only have these characters: 0-9a-zA-Z-, current: bad_name");
    cr_expect_eq(hosts_of(n, Q("serviceName", "val")), 0, "a rejected register was stored");

    /* Bounds are inclusive; tiny weights are raised to 0.01 (§2.1 step 5). */
    reg(n, Q("serviceName", "val", "ip", "127.0.0.1", "port", "1", "weight", "10000"));
    reg(n, Q("serviceName", "val", "ip", "127.0.0.2", "port", "2", "weight", "0.001"));
    json_t *l = nacos_list(n, Q("serviceName", "val"));
    json_t *h1 = list_find_host(l, "127.0.0.1", 1);
    json_t *h2 = list_find_host(l, "127.0.0.2", 2);
    cr_assert(h1 && h2);
    cr_expect_float_eq(jnum(h1, "weight"), 10000.0, 1e-9);
    cr_expect_float_eq(jnum(h2, "weight"), 0.01, 1e-9, "weight 0.001 must be stored as 0.01");
    json_decref(l);
}

IT_TEST(instance_api, clusters_filter_echoes_verbatim)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "cl", "ip", "127.0.0.1", "port", "1", "clusterName", "c1"));
    reg(n, Q("serviceName", "cl", "ip", "127.0.0.2", "port", "2", "clusterName", "c2"));
    reg(n, Q("serviceName", "cl", "ip", "127.0.0.3", "port", "3"));

    json_t *l = nacos_list(n, Q("serviceName", "cl", "clusters", "c1"));
    cr_expect_str_eq(jstr(l, "clusters"), "c1");
    cr_expect_eq(list_host_count(l), 1);
    cr_expect(list_find_host(l, "127.0.0.1", 1) != NULL);
    json_decref(l);

    l = nacos_list(n, Q("serviceName", "cl", "clusters", "c2,c1"));
    cr_expect_str_eq(jstr(l, "clusters"), "c2,c1", "clusters must be echoed verbatim");
    cr_expect_eq(list_host_count(l), 2);
    cr_expect(list_find_host(l, "127.0.0.3", 3) == NULL, "DEFAULT host leaked into c2,c1");
    json_decref(l);

    l = nacos_list(n, Q("serviceName", "cl", "clusters", "c1,nosuch"));
    cr_expect_str_eq(jstr(l, "clusters"), "c1,nosuch");
    cr_expect_eq(list_host_count(l), 1, "unknown cluster names must be ignored");
    json_decref(l);

    l = nacos_list(n, Q("serviceName", "cl", "clusters", "nosuch"));
    cr_expect_eq(list_host_count(l), 0);
    cr_expect_str_eq(jstr(l, "clusters"), "nosuch");
    json_decref(l);

    l = nacos_list(n, Q("serviceName", "cl"));
    cr_expect_eq(list_host_count(l), 3);
    cr_expect_str_eq(jstr(l, "clusters"), "");
    json_decref(l);
}

IT_TEST(instance_api, healthy_only_and_order)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "ho", "ip", "127.0.0.2", "port", "2", "healthy", "false"));
    reg(n, Q("serviceName", "ho", "ip", "127.0.0.1", "port", "1", "healthy", "true"));

    json_t *l = nacos_list(n, Q("serviceName", "ho", "healthyOnly", "true"));
    cr_expect_eq(list_host_count(l), 1);
    cr_expect(list_find_host(l, "127.0.0.1", 1) != NULL);
    json_decref(l);

    l = nacos_list(n, Q("serviceName", "ho", "healthyOnly", "false"));
    cr_assert_eq(list_host_count(l), 2);
    cr_expect_str_eq(jstr(l, "hosts.0.ip"), "127.0.0.1", "healthy hosts must come first");
    json_t *bad = list_find_host(l, "127.0.0.2", 2);
    cr_assert(bad != NULL);
    cr_expect(!jbool(bad, "healthy"), "registered with healthy=false but listed healthy");
    cr_expect(!jbool(bad, "valid"));
    cr_expect(!jbool(l, "reachProtectionThreshold"));
    json_decref(l);

    /* healthyOnly uses Boolean.parseBoolean: only "true" counts. */
    l = nacos_list(n, Q("serviceName", "ho", "healthyOnly", "yes"));
    cr_expect_eq(list_host_count(l), 2, "healthyOnly=yes must mean false");
    json_decref(l);
}

IT_TEST(instance_api, protect_threshold)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "pt", "ip", "127.0.0.1", "port", "1", "healthy", "false", "ephemeral",
             "false"));
    reg(n, Q("serviceName", "pt", "ip", "127.0.0.2", "port", "2", "healthy", "false", "ephemeral",
             "false"));

    /* Threshold 0 and nothing healthy: everything is returned flagged healthy. */
    json_t *l = nacos_list(n, Q("serviceName", "pt"));
    cr_assert_eq(list_host_count(l), 2);
    for (int i = 0; i < 2; i++) {
        char path[32];
        snprintf(path, sizeof path, "hosts.%d.healthy", i);
        cr_expect(jbool(l, path), "protected host %d not flagged healthy", i);
        snprintf(path, sizeof path, "hosts.%d.valid", i);
        cr_expect(jbool(l, path));
        snprintf(path, sizeof path, "hosts.%d.ephemeral", i);
        cr_expect(!jbool(l, path));
    }
    cr_expect(jbool(l, "reachProtectionThreshold"));
    json_decref(l);
    l = nacos_list(n, Q("serviceName", "pt", "healthyOnly", "true"));
    cr_expect_eq(list_host_count(l), 2, "protected hosts must pass healthyOnly");
    json_decref(l);

    /* One healthy of three with threshold 0.6: 0.33 <= 0.6, still protected. */
    reg(n, Q("serviceName", "pt", "ip", "127.0.0.3", "port", "3", "ephemeral", "false"));
    nacos_write_ok(n, "PUT", NS "/service", Q("serviceName", "pt", "protectThreshold", "0.6"));
    l = nacos_list(n, Q("serviceName", "pt", "healthyOnly", "true"));
    cr_expect_eq(list_host_count(l), 3, "threshold 0.6 with 1/3 healthy must protect");
    json_decref(l);

    /* Back to 0: 1/3 > 0, no protection. */
    nacos_write_ok(n, "PUT", NS "/service", Q("serviceName", "pt", "protectThreshold", "0"));
    l = nacos_list(n, Q("serviceName", "pt", "healthyOnly", "true"));
    cr_expect_eq(list_host_count(l), 1);
    json_decref(l);
    l = nacos_list(n, Q("serviceName", "pt"));
    cr_expect_eq(list_host_count(l), 3);
    json_t *h1 = list_find_host(l, "127.0.0.1", 1);
    cr_expect(h1 && !jbool(h1, "healthy"));
    cr_expect(!jbool(l, "reachProtectionThreshold"));
    json_decref(l);
}

IT_TEST(instance_api, union_key_set)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "keys", "ip", "127.0.0.1", "port", "1"));
    json_t *l = nacos_list_java(n, Q("serviceName", "keys"));
    static const char *const top[] = {"name",     "dom",       "groupName",
                                      "clusters", "cacheMillis", "hosts",
                                      "lastRefTime", "checksum", "allIPs",
                                      "reachProtectionThreshold", "valid", "useSpecifiedURL",
                                      "env",      "metadata"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        cr_expect(jget(l, top[i]) != NULL, "list answer lacks \"%s\"", top[i]);
    cr_expect_str_eq(jstr(l, "name"), "DEFAULT_GROUP@@keys");
    cr_expect_str_eq(jstr(l, "dom"), "DEFAULT_GROUP@@keys", "dom must be grouped for Java UA");
    cr_expect_str_eq(jstr(l, "groupName"), "DEFAULT_GROUP");
    cr_expect_eq(jint(l, "cacheMillis"), 3000);
    cr_expect(jint(l, "lastRefTime") > 0);
    cr_expect(strlen(jstr(l, "checksum")) > 0);
    cr_expect(!jbool(l, "allIPs"));
    cr_expect(jbool(l, "valid"));
    cr_expect(!jbool(l, "useSpecifiedURL"));
    cr_expect_str_eq(jstr(l, "env"), "");
    cr_expect(json_is_object(jget(l, "metadata")));
    static const char *const host[] = {"instanceId", "ip",      "port",      "weight",
                                       "healthy",    "valid",   "marked",    "enabled",
                                       "ephemeral",  "clusterName", "serviceName", "metadata"};
    json_t *h = jget(l, "hosts.0");
    cr_assert(h != NULL);
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        cr_expect(jget(h, host[i]) != NULL, "host lacks \"%s\"", host[i]);
    cr_expect_str_eq(jstr(h, "serviceName"), "DEFAULT_GROUP@@keys");
    json_decref(l);

    /* Other user agents get the bare name in dom and host serviceName (§2.5); name stays grouped. */
    l = nacos_list(n, Q("serviceName", "keys"));
    cr_expect_str_eq(jstr(l, "name"), "DEFAULT_GROUP@@keys");
    cr_expect_str_eq(jstr(l, "dom"), "keys");
    cr_expect_str_eq(jstr(l, "hosts.0.serviceName"), "keys");
    json_decref(l);

    /* env is echoed. */
    l = nacos_list(n, Q("serviceName", "keys", "env", "prod"));
    cr_expect_str_eq(jstr(l, "env"), "prod");
    json_decref(l);
}

IT_TEST(instance_api, unknown_service_lists_empty)
{
    it_node *n = node_start(NULL);
    json_t *l = nacos_list_java(n, Q("serviceName", "ghost", "clusters", "a,b"));
    cr_expect_eq(list_host_count(l), 0);
    cr_expect_str_eq(jstr(l, "name"), "DEFAULT_GROUP@@ghost");
    cr_expect_str_eq(jstr(l, "clusters"), "a,b");
    cr_expect_eq(jint(l, "cacheMillis"), 3000);
    json_decref(l);
    nacos_expect_error(n, "GET", INSTANCE "/list", Q("clusters", "a"), NULL, 400,
                       "Param 'serviceName' is required.", false);
}

IT_TEST(instance_api, put_strict_for_java_and_upsert_otherwise)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "upd", "ip", "127.0.0.1", "port", "1", "metadata", "a=1"));

    nacos_expect_error(n, "PUT", INSTANCE, Q("serviceName", "upd", "ip", "127.0.0.2", "port", "2"),
                       Q(JAVA_UA), 400, "instance not exist", true);
    cr_expect_eq(hosts_of(n, Q("serviceName", "upd")), 1, "strict PUT created an instance");
    nacos_expect_error(n, "PUT", INSTANCE,
                       Q("serviceName", "nosvc", "ip", "127.0.0.2", "port", "2"), Q(JAVA_UA), 400,
                       "service not found, namespace: public, service: DEFAULT_GROUP@@nosvc",
                       false);
    /* Client-Version counts when User-Agent is empty (§1.2). */
    nacos_expect_error(n, "PUT", INSTANCE, Q("serviceName", "upd", "ip", "127.0.0.2", "port", "2"),
                       Q("User-Agent:", "Client-Version: Nacos-Java-Client:v1.0.0"), 400,
                       "instance not exist", true);

    /* curl's user agent: register semantics. */
    nacos_write_ok(n, "PUT", INSTANCE,
                   Q("serviceName", "upd", "ip", "127.0.0.2", "port", "2", "weight", "2"));
    json_t *l = nacos_list(n, Q("serviceName", "upd"));
    json_t *h = list_find_host(l, "127.0.0.2", 2);
    cr_expect(h != NULL, "PUT without Java UA must upsert");
    if (h)
        cr_expect_float_eq(jnum(h, "weight"), 2.0, 1e-9);
    json_decref(l);

    /* Strict PUT of an existing instance replaces every field (metadata to {}). */
    http_resp r = nacos_call(n, "PUT", INSTANCE,
                             Q("serviceName", "upd", "ip", "127.0.0.1", "port", "1", "weight", "4"),
                             NULL, Q(JAVA_UA));
    cr_expect(r.status == 200 && strcmp(r.body, "ok") == 0, "strict PUT: %ld %s", r.status,
              r.body);
    http_resp_free(&r);
    l = nacos_list(n, Q("serviceName", "upd"));
    h = list_find_host(l, "127.0.0.1", 1);
    cr_assert(h != NULL);
    cr_expect_float_eq(jnum(h, "weight"), 4.0, 1e-9);
    cr_expect_eq(json_object_size(jget(h, "metadata")), 0, "PUT must replace metadata");
    json_decref(l);
}

IT_TEST(instance_api, patch_changes_only_given_fields)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "pa", "ip", "127.0.0.1", "port", "1", "clusterName", "c1", "weight",
             "2", "metadata", "a=1"));
    nacos_write_ok(n, "PATCH", INSTANCE,
                   Q("serviceName", "pa", "ip", "127.0.0.1", "port", "1", "clusterName", "c1",
                     "weight", "5"));
    json_t *l = nacos_list(n, Q("serviceName", "pa"));
    json_t *h = list_find_host(l, "127.0.0.1", 1);
    cr_assert(h != NULL);
    cr_expect_float_eq(jnum(h, "weight"), 5.0, 1e-9);
    cr_expect_str_eq(jstr(h, "metadata.a"), "1", "PATCH of weight lost the metadata");
    cr_expect(jbool(h, "enabled"));
    cr_expect_str_eq(jstr(h, "clusterName"), "c1");
    json_decref(l);

    nacos_write_ok(n, "PATCH", INSTANCE,
                   Q("cluster", "c1", "serviceName", "pa", "ip", "127.0.0.1", "port", "1",
                     "metadata", "{\"b\":\"2\"}"));
    l = nacos_list(n, Q("serviceName", "pa"));
    h = list_find_host(l, "127.0.0.1", 1);
    cr_assert(h != NULL);
    cr_expect_float_eq(jnum(h, "weight"), 5.0, 1e-9, "PATCH of metadata changed the weight");
    cr_expect(jget(h, "metadata.a") == NULL, "PATCH metadata must replace the map");
    cr_expect_str_eq(jstr(h, "metadata.b"), "2");
    json_decref(l);

    nacos_write_ok(n, "PATCH", INSTANCE,
                   Q("serviceName", "pa", "ip", "127.0.0.1", "port", "1", "clusterName", "c1",
                     "enabled", "false"));
    cr_expect_eq(hosts_of(n, Q("serviceName", "pa")), 0, "PATCH enabled=false still listed");

    nacos_expect_error(n, "PATCH", INSTANCE,
                       Q("serviceName", "pa", "ip", "127.0.0.9", "port", "1", "weight", "3"),
                       NULL, 400, "instance not found", false);
    /* Without clusterName the DEFAULT cluster is searched. */
    nacos_expect_error(n, "PATCH", INSTANCE,
                       Q("serviceName", "pa", "ip", "127.0.0.1", "port", "1", "weight", "3"),
                       NULL, 400, "instance not found", false);
}

IT_TEST(instance_api, detail_not_found_messages)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "det", "ip", "127.0.0.1", "port", "80"));
    nacos_expect_error(n, "GET", INSTANCE, Q("serviceName", "ghost", "ip", "127.0.0.1", "port", "80"),
                       NULL, 404, "no service DEFAULT_GROUP@@ghost found!", false);
    nacos_expect_error(n, "GET", INSTANCE,
                       Q("serviceName", "det", "ip", "127.0.0.1", "port", "80", "clusterName",
                         "other"),
                       NULL, 404, "no ips found for cluster other in service DEFAULT_GROUP@@det",
                       false);
    nacos_expect_error(n, "GET", INSTANCE, Q("serviceName", "det", "ip", "127.0.0.1", "port", "81"),
                       NULL, 404, "no matched ip found!", false);
    nacos_expect_error(n, "GET", INSTANCE, Q("serviceName", "det", "port", "81"), NULL, 400,
                       "Param 'ip' is required.", false);
}

IT_TEST(instance_api, reregister_keeps_instance_id)
{
    it_node *n = node_start(NULL);
    const char *snow = "{\"preserved.instance.id.generator\":\"snowflake\"}";
    reg(n, Q("serviceName", "ids", "ip", "127.0.0.1", "port", "1", "metadata", snow));
    reg(n, Q("serviceName", "ids", "ip", "127.0.0.2", "port", "2", "metadata", snow));
    json_t *l = nacos_list(n, Q("serviceName", "ids"));
    json_t *a = list_find_host(l, "127.0.0.1", 1);
    json_t *b = list_find_host(l, "127.0.0.2", 2);
    cr_assert(a && b);
    char id_a[128];
    snprintf(id_a, sizeof id_a, "%s", jstr(a, "instanceId"));
    cr_expect_str_eq(id_a, "0", "snowflake ids count from 0 (§1.4)");
    cr_expect_str_eq(jstr(b, "instanceId"), "1");
    json_decref(l);

    /* Same datum key again, different fields and no generator: the old id stays. */
    reg(n, Q("serviceName", "ids", "ip", "127.0.0.1", "port", "1", "weight", "3"));
    l = nacos_list(n, Q("serviceName", "ids"));
    a = list_find_host(l, "127.0.0.1", 1);
    cr_assert(a != NULL);
    cr_expect_str_eq(jstr(a, "instanceId"), id_a, "re-register changed the instanceId");
    cr_expect_float_eq(jnum(a, "weight"), 3.0, 1e-9);
    cr_expect_eq(list_host_count(l), 2);
    json_decref(l);
}

IT_TEST(instance_api, ephemeral_and_persistent_are_separate)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "kinds", "ip", "127.0.0.1", "port", "1"));
    reg(n, Q("serviceName", "kinds", "ip", "127.0.0.1", "port", "1", "ephemeral", "false"));
    cr_expect_eq(hosts_of(n, Q("serviceName", "kinds")), 2,
                 "the same ip:port may be both ephemeral and persistent");
    /* Deregister without ephemeral=false leaves the persistent one (§2.2). */
    nacos_write_ok(n, "DELETE", INSTANCE, Q("serviceName", "kinds", "ip", "127.0.0.1", "port", "1"));
    json_t *l = nacos_list(n, Q("serviceName", "kinds"));
    cr_expect_eq(list_host_count(l), 1);
    cr_expect(!jbool(l, "hosts.0.ephemeral"));
    json_decref(l);
    nacos_write_ok(n, "DELETE", INSTANCE,
                   Q("serviceName", "kinds", "ip", "127.0.0.1", "port", "1", "ephemeral", "false"));
    cr_expect_eq(hosts_of(n, Q("serviceName", "kinds")), 0);
}

IT_TEST(instance_api, legacy_dom_parameter)
{
    it_node *n = node_start(NULL);
    /* §1.3 step 1: serviceName falls back to the legacy parameter dom. */
    reg(n, Q("dom", "legacy", "ip", "127.0.0.1", "port", "1"));
    json_t *l = nacos_list(n, Q("serviceName", "legacy"));
    cr_expect_eq(list_host_count(l), 1, "register with dom= did not land in DEFAULT_GROUP@@legacy");
    json_decref(l);
    l = nacos_list(n, Q("dom", "legacy"));
    cr_expect_eq(list_host_count(l), 1, "list with dom= did not find it");
    cr_expect_str_eq(jstr(l, "name"), "DEFAULT_GROUP@@legacy");
    json_decref(l);
}

IT_TEST(instance_api, java_parsing_semantics)
{
    it_node *n = node_start(NULL);
    /* Integer.parseInt takes a sign; out of int range is a NumberFormatException. */
    reg(n, Q("serviceName", "jp", "ip", "127.0.0.1", "port", "+80"));
    expect_bad(n, "POST", Q("serviceName", "jp", "ip", "127.0.0.1", "port", "99999999999"),
               "For input string: \"99999999999\"");
    expect_bad(n, "POST", Q("serviceName", "jp", "ip", "127.0.0.1", "port", "8o"),
               "For input string: \"8o\"");
    /* Double.parseDouble takes exponents. */
    reg(n, Q("serviceName", "jp", "ip", "127.0.0.2", "port", "1", "weight", "1e3"));
    /* BooleanUtils.toBoolean: true/on/yes/y/t (any case) are true, anything else false. */
    reg(n, Q("serviceName", "jp", "ip", "127.0.0.3", "port", "1", "ephemeral", "Y"));
    reg(n, Q("serviceName", "jp", "ip", "127.0.0.4", "port", "1", "ephemeral", "1"));
    reg(n, Q("serviceName", "jp", "ip", "127.0.0.5", "port", "1", "ephemeral", "off", "healthy",
             "On"));
    reg(n, Q("serviceName", "jp", "ip", "127.0.0.6", "port", "1", "healthy", "nope"));
    json_t *l = nacos_list(n, Q("serviceName", "jp"));
    json_t *h;
    cr_expect((h = list_find_host(l, "127.0.0.1", 80)) != NULL, "port +80 not stored as 80");
    h = list_find_host(l, "127.0.0.2", 1);
    cr_expect(h && jnum(h, "weight") == 1000.0, "weight 1e3 not stored as 1000.0");
    h = list_find_host(l, "127.0.0.3", 1);
    cr_expect(h && jbool(h, "ephemeral"), "ephemeral=Y must be true");
    h = list_find_host(l, "127.0.0.4", 1);
    cr_expect(h && !jbool(h, "ephemeral"), "ephemeral=1 must be false (BooleanUtils)");
    h = list_find_host(l, "127.0.0.5", 1);
    cr_expect(h && !jbool(h, "ephemeral") && jbool(h, "healthy"), "ephemeral=off / healthy=On");
    h = list_find_host(l, "127.0.0.6", 1);
    cr_expect(h && !jbool(h, "healthy"), "healthy=nope must be false");
    json_decref(l);
    /* healthyOnly uses Boolean.parseBoolean, which ignores case. */
    l = nacos_list(n, Q("serviceName", "jp", "healthyOnly", "TRUE"));
    cr_expect(list_find_host(l, "127.0.0.6", 1) == NULL, "healthyOnly=TRUE listed an unhealthy host");
    json_decref(l);
}

IT_TEST(instance_api, metadata_edge_cases)
{
    it_node *n = node_start(NULL);
    expect_bad(n, "POST",
               Q("serviceName", "mde", "ip", "127.0.0.1", "port", "1", "metadata", "{\"a\":{\"b\":1}}"),
               "metadata format incorrect:{\"a\":{\"b\":1}}");
    expect_bad(n, "POST", Q("serviceName", "mde", "ip", "127.0.0.1", "port", "1", "metadata", "a=b=c"),
               "metadata format incorrect:a=b=c");
    reg(n, Q("serviceName", "mde", "ip", "127.0.0.1", "port", "1", "metadata", "{}"));
    reg(n, Q("serviceName", "mde", "ip", "127.0.0.2", "port", "2", "metadata", "  "));
    json_t *l = nacos_list(n, Q("serviceName", "mde"));
    cr_expect_eq(list_host_count(l), 2);
    json_t *h = list_find_host(l, "127.0.0.2", 2);
    cr_expect(h && json_object_size(jget(h, "metadata")) == 0, "blank metadata must mean {}");
    json_decref(l);
}

IT_TEST(instance_api, old_java_client_put_upserts)
{
    it_node *n = node_start(NULL);
    reg(n, Q("serviceName", "old", "ip", "127.0.0.1", "port", "1"));
    /* JAVA below 1.0.0 gets register semantics (§2.3). */
    http_resp r = nacos_call(n, "PUT", INSTANCE, Q("serviceName", "old", "ip", "127.0.0.2", "port", "2"),
                             NULL, Q("User-Agent: Nacos-Java-Client:v0.9.0"));
    cr_expect(r.status == 200 && strcmp(r.body, "ok") == 0, "PUT from Java 0.9.0: %ld \"%s\"",
              r.status, r.body);
    http_resp_free(&r);
    cr_expect_eq(hosts_of(n, Q("serviceName", "old")), 2, "PUT from Java 0.9.0 did not upsert");
    nacos_expect_error(n, "PUT", INSTANCE, Q("serviceName", "old", "ip", "127.0.0.3", "port", "3"),
                       Q("User-Agent: Nacos-Java-Client:v1.4.2"), 400, "instance not exist", true);
}
