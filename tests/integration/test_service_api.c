/* Service endpoints (spec §3): create, detail, update, list with paging, delete. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(service_api, .fini = it_teardown, .timeout = 120);

#define SERVICE NS "/service"

static json_t *get_json(const it_node *n, const char *path, const char *const *q)
{
    http_resp r = nacos_call(n, "GET", path, q, NULL, NULL);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_parse_or_fail(r.body);
    http_resp_free(&r);
    return j;
}

/* doms of a service/list answer joined with ',' (for compact comparisons). */
static void doms_joined(const json_t *list, char *out, size_t len)
{
    out[0] = '\0';
    json_t *doms = json_object_get(list, "doms");
    cr_assert(json_is_array(doms), "service/list without doms array");
    size_t i;
    json_t *d;
    json_array_foreach(doms, i, d)
    {
        cr_assert(json_is_string(d));
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", i ? "," : "", json_string_value(d));
    }
}

static void expect_page(const it_node *n, const char *const *q, const char *doms, long long count)
{
    json_t *l = get_json(n, SERVICE "/list", q);
    char got[1024];
    doms_joined(l, got, sizeof got);
    char *qs = http_query(q);
    cr_expect_str_eq(got, doms, "service/list?%s doms", qs);
    cr_expect_eq(jint(l, "count"), count, "service/list?%s count", qs);
    free(qs);
    json_decref(l);
}

IT_TEST(service_api, create_detail_conflict)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", SERVICE,
                   Q("serviceName", "s1", "protectThreshold", "0.5", "metadata", "k=v"));
    nacos_expect_error(n, "POST", SERVICE, Q("serviceName", "s1"), NULL, 400,
                       "specified service already exists, serviceName : DEFAULT_GROUP@@s1", false);

    json_t *d = get_json(n, SERVICE, Q("serviceName", "s1"));
    cr_expect_str_eq(jstr(d, "name"), "s1", "detail name must be bare");
    cr_expect_str_eq(jstr(d, "groupName"), "DEFAULT_GROUP");
    cr_expect_str_eq(jstr(d, "namespaceId"), "public");
    cr_expect_float_eq(jnum(d, "protectThreshold"), 0.5, 1e-6);
    cr_expect_str_eq(jstr(d, "metadata.k"), "v");
    cr_expect_str_eq(jstr(d, "selector.type"), "none");
    cr_expect(json_is_array(jget(d, "clusters")));
    json_decref(d);

    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "s2", "groupName", "g"));
    d = get_json(n, SERVICE, Q("serviceName", "s2", "groupName", "g"));
    cr_expect_str_eq(jstr(d, "name"), "s2");
    cr_expect_str_eq(jstr(d, "groupName"), "g");
    cr_expect_float_eq(jnum(d, "protectThreshold"), 0.0, 1e-9);
    json_decref(d);

    nacos_expect_error(n, "GET", SERVICE, Q("serviceName", "nosuch"), NULL, 404,
                       "service DEFAULT_GROUP@@nosuch is not found!", false);
    nacos_expect_error(n, "POST", SERVICE, Q("serviceName", "bad name!"), NULL, 400,
                       "dom name can only have these characters: 0-9a-zA-Z-._:, current: "
                       "DEFAULT_GROUP@@bad name!",
                       false);
    http_resp r = nacos_call(n, "POST", SERVICE, Q("protectThreshold", "0.5"), NULL, NULL);
    cr_expect_eq(r.status, 400, "create without serviceName: %ld %s", r.status, r.body);
    cr_expect(r.body_len > 0, "400 without a message");
    http_resp_free(&r);
    /* A service created this way is listed by instance/list as an empty service. */
    json_t *l = nacos_list(n, Q("serviceName", "s1"));
    cr_expect_eq(list_host_count(l), 0);
    json_decref(l);
}

IT_TEST(service_api, update)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "u1", "metadata", "a=1,b=2"));
    nacos_expect_error(n, "PUT", SERVICE, Q("serviceName", "u1", "metadata", "c=3"), NULL, 400,
                       "Param 'protectThreshold' is required.", false);
    json_t *d = get_json(n, SERVICE, Q("serviceName", "u1"));
    cr_expect_str_eq(jstr(d, "metadata.a"), "1", "a rejected update changed the service");
    json_decref(d);

    nacos_write_ok(n, "PUT", SERVICE,
                   Q("serviceName", "u1", "protectThreshold", "0.8", "metadata", "c=3"));
    d = get_json(n, SERVICE, Q("serviceName", "u1"));
    cr_expect_float_eq(jnum(d, "protectThreshold"), 0.8, 1e-6);
    cr_expect_str_eq(jstr(d, "metadata.c"), "3");
    cr_expect(jget(d, "metadata.a") == NULL, "update must replace the metadata");
    json_decref(d);

    nacos_expect_error(n, "PUT", SERVICE, Q("serviceName", "nosuch", "protectThreshold", "0.1"),
                       NULL, 400, "service DEFAULT_GROUP@@nosuch not found!", false);
}

IT_TEST(service_api, list_paging_and_groups)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "svc-c"));
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "svc-a"));
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "svc-b"));
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "x", "groupName", "g2"));
    /* Services created implicitly by a registration are listed too. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "y", "groupName", "g2", "ip", "127.0.0.1", "port", "1"));

    expect_page(n, Q("pageNo", "1", "pageSize", "2"), "svc-a,svc-b", 3);
    expect_page(n, Q("pageNo", "2", "pageSize", "2"), "svc-c", 3);
    expect_page(n, Q("pageNo", "3", "pageSize", "2"), "", 3);
    expect_page(n, Q("pageNo", "1", "pageSize", "10", "groupName", "g2"), "x,y", 2);
    expect_page(n, Q("pageNo", "1", "pageSize", "10", "groupName", "*"),
                "DEFAULT_GROUP@@svc-a,DEFAULT_GROUP@@svc-b,DEFAULT_GROUP@@svc-c,g2@@x,g2@@y", 5);
    expect_page(n, Q("pageNo", "1", "pageSize", "10", "groupName", "nogroup"), "", 0);
    expect_page(n, Q("pageNo", "1", "pageSize", "10", "namespaceId", "empty-ns"), "", 0);
}

/* Label selectors (§3.5, as Nacos 1.4.8 reads them): services with an instance whose metadata
 * holds key = value, or whose own metadata does; filtered before paging, so count is the
 * filtered total. */
IT_TEST(service_api, list_label_selectors)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "gold", "metadata", "tier=gold"));
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "silver", "metadata", "tier=silver"));
    const char *zones[][2] = {{"east-1", "east"}, {"east-2", "east"}, {"west-1", "west"}};
    for (size_t i = 0; i < 3; i++) {
        char md[32];
        snprintf(md, sizeof md, "zone=%s", zones[i][1]);
        nacos_write_ok(n, "POST", NS "/instance",
                       Q("serviceName", zones[i][0], "ip", "127.0.0.1", "port", "1", "metadata",
                         md));
    }
    /* a second instance of west-1 in the east zone: one matching instance is enough */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "west-1", "ip", "127.0.0.2", "port", "1", "metadata",
                     "zone=east"));
    const char *east = "{\"type\":\"label\",\"expression\":\"INSTANCE.metadata.zone = 'east'\"}";
    expect_page(n, Q("pageNo", "1", "pageSize", "10", "selector", east), "east-1,east-2,west-1", 3);
    expect_page(n, Q("pageNo", "2", "pageSize", "2", "selector", east), "west-1", 3);
    expect_page(n,
                Q("pageNo", "1", "pageSize", "10", "selector",
                  "{\"type\":\"label\",\"expression\":\"SERVICE.metadata.tier=gold\"}"),
                "gold", 1);
    expect_page(n,
                Q("pageNo", "1", "pageSize", "10", "selector",
                  "{\"type\":\"label\",\"expression\":\"SERVICE.metadata.zone=east\"}"),
                "", 0);
    /* none, and a scope Nacos does not filter on, list everything */
    expect_page(n, Q("pageNo", "1", "pageSize", "10", "selector", "{\"type\":\"none\"}"),
                "east-1,east-2,gold,silver,west-1", 5);
    expect_page(n,
                Q("pageNo", "1", "pageSize", "10", "selector",
                  "{\"type\":\"label\",\"expression\":\"CONSUMER.label.zone=east\"}"),
                "east-1,east-2,gold,silver,west-1", 5);
    nacos_expect_error(n, "GET", SERVICE "/list",
                       Q("pageNo", "1", "pageSize", "10", "selector",
                         "{\"type\":\"label\",\"expression\":\"INSTANCE.metadata.zone\"}"),
                       NULL, 400,
                       "label selector expression must be INSTANCE.metadata.<key> = '<value>' or "
                       "SERVICE.metadata.<key> = '<value>'",
                       false);
    nacos_expect_error(n, "GET", SERVICE "/list",
                       Q("pageNo", "1", "pageSize", "10", "selector", "{\"type\":\"bogus\"}"),
                       NULL, 400,
                       "No enum constant com.alibaba.nacos.api.selector.SelectorType.bogus", false);
}

IT_TEST(service_api, delete_removes_instances)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "del"));
    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "del", "ip", "127.0.0.1", "port", "1"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "del", "ip", "127.0.0.2", "port", "2", "ephemeral", "false"));
    json_t *l = nacos_list(n, Q("serviceName", "del"));
    cr_assert_eq(list_host_count(l), 2);
    json_decref(l);

    nacos_write_ok(n, "DELETE", SERVICE, Q("serviceName", "del"));
    l = nacos_list(n, Q("serviceName", "del"));
    cr_expect_eq(list_host_count(l), 0, "instances survived their service's deletion");
    json_decref(l);
    nacos_expect_error(n, "GET", SERVICE, Q("serviceName", "del"), NULL, 404,
                       "service DEFAULT_GROUP@@del is not found!", false);
    expect_page(n, Q("pageNo", "1", "pageSize", "10"), "", 0);

    nacos_expect_error(n, "DELETE", SERVICE, Q("serviceName", "del"), NULL, 400,
                       "specified service not exist, serviceName : DEFAULT_GROUP@@del", false);
    /* It can be created again, empty. */
    nacos_write_ok(n, "POST", SERVICE, Q("serviceName", "del"));
    l = nacos_list(n, Q("serviceName", "del"));
    cr_expect_eq(list_host_count(l), 0, "old instances came back with the re-created service");
    json_decref(l);
}

IT_TEST(service_api, selector_and_clusters_in_detail)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", SERVICE,
                   Q("serviceName", "sel", "selector",
                     "{\"type\":\"label\",\"expression\":\"CONSUMER.label.a = PROVIDER.label.a\"}"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "sel", "ip", "127.0.0.1", "port", "1", "clusterName", "c1"));
    json_t *d = get_json(n, SERVICE, Q("serviceName", "sel"));
    cr_expect_str_eq(jstr(d, "selector.type"), "label");
    json_t *clusters = jget(d, "clusters");
    cr_assert(json_is_array(clusters));
    bool c1 = false;
    size_t i;
    json_t *c;
    json_array_foreach(clusters, i, c)
    {
        json_t *name = json_object_get(c, "name");
        if (json_is_string(name) && strcmp(json_string_value(name), "c1") == 0) {
            c1 = true;
            cr_expect_str_eq(jstr(c, "healthChecker.type"), "TCP", "default checker is TCP");
        }
    }
    cr_expect(c1, "cluster c1 created by a registration is not in the service detail");
    json_decref(d);

    http_resp r = nacos_call(n, "POST", SERVICE,
                             Q("serviceName", "sel2", "selector", "{\"type\":\"bogus\"}"), NULL,
                             NULL);
    cr_expect_eq(r.status, 400, "unknown selector type: %ld \"%s\"", r.status, r.body);
    http_resp_free(&r);
    nacos_expect_error(n, "GET", SERVICE, Q("serviceName", "sel2"), NULL, 404,
                       "service DEFAULT_GROUP@@sel2 is not found!", false);

    /* Update without metadata/selector resets them (replace semantics). */
    nacos_write_ok(n, "PUT", SERVICE, Q("serviceName", "sel", "protectThreshold", "0.1"));
    d = get_json(n, SERVICE, Q("serviceName", "sel"));
    cr_expect_str_eq(jstr(d, "selector.type"), "none", "missing selector on update means none");
    json_decref(d);
}
