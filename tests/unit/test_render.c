/* /instance/list rendering (§2.5, §17 items 4–8) on hand-built snapshots: the body the gateway
 * answers and the pushers push (§12.3). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_render.h"

#include "test_snapshot_fixture.h"

static cairn_list_query query(void)
{
    return (cairn_list_query){.service = SVC,
                                .clusters = "",
                                .env = "",
                                .grouped_names = true,
                                .cache_millis = CAIRN_LIST_CACHE_MILLIS};
}

/* Renders and parses back; *text keeps the raw body. */
static json_t *render(const cairn_service_snapshot *s, const cairn_list_query *q, char **text)
{
    size_t len;
    char *body = cairn_render_list(s, q, &len);
    cr_assert_not_null(body);
    cr_assert_eq(strlen(body), len);
    json_error_t err;
    json_t *j = json_loads(body, 0, &err);
    cr_assert_not_null(j, "%s: %s", err.text, body);
    if (text)
        *text = body;
    else
        free(body);
    return j;
}

static void assert_keys(json_t *obj, const char *const *keys, size_t n)
{
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        cr_assert_lt(i, n, "unexpected key %s", k);
        cr_assert_str_eq(k, keys[i], "key %zu", i);
        i++;
    }
    cr_assert_eq(i, n);
}

static json_t *host(json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "hosts"), i);
}

static const char *host_ip(json_t *doc, size_t i)
{
    return json_string_value(json_object_get(host(doc, i), "ip"));
}

static bool host_healthy(json_t *doc, size_t i)
{
    return json_is_true(json_object_get(host(doc, i), "healthy"));
}

static size_t host_count(json_t *doc)
{
    return json_array_size(json_object_get(doc, "hosts"));
}

Test(render, key_set_order_and_types)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.0f);
    cairn_metadata_set(&s.service.metadata, "owner", "team");
    cairn_instance *in = add(&s, "127.0.0.1", 8080, "DEFAULT", true, true);
    cairn_metadata_set(&in->metadata, "k", "v");
    cairn_list_query q = query();
    q.env = "prod";
    char *text;
    json_t *doc = render(&s, &q, &text);

    static const char *const top[] = {"name", "dom", "groupName", "clusters", "cacheMillis",
                                      "hosts", "lastRefTime", "checksum", "allIPs",
                                      "reachProtectionThreshold", "valid", "useSpecifiedURL",
                                      "env", "metadata"};
    assert_keys(doc, top, sizeof top / sizeof top[0]);
    static const char *const hk[] = {"instanceId", "ip", "port", "weight", "healthy", "valid",
                                     "marked", "enabled", "ephemeral", "clusterName",
                                     "serviceName", "metadata", "instanceHeartBeatInterval",
                                     "instanceHeartBeatTimeOut", "ipDeleteTimeout",
                                     "instanceIdGenerator"};
    assert_keys(host(doc, 0), hk, sizeof hk / sizeof hk[0]);

    cr_assert_str_eq(json_string_value(json_object_get(doc, "name")), SVC);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "groupName")), "DEFAULT_GROUP");
    cr_assert_eq(json_integer_value(json_object_get(doc, "cacheMillis")), 3000);
    cr_assert_eq(json_integer_value(json_object_get(doc, "lastRefTime")), 1700000000000LL);
    cr_assert(json_is_false(json_object_get(doc, "allIPs")));
    cr_assert(json_is_false(json_object_get(doc, "reachProtectionThreshold")));
    cr_assert(json_is_true(json_object_get(doc, "valid")));
    cr_assert(json_is_false(json_object_get(doc, "useSpecifiedURL")));
    cr_assert_str_eq(json_string_value(json_object_get(doc, "env")), "prod");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "metadata"), "owner")),
                     "team");
    json_t *h = host(doc, 0);
    cr_assert_str_eq(json_string_value(json_object_get(h, "instanceId")),
                     "127.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@demo");
    cr_assert(json_is_false(json_object_get(h, "marked")));
    cr_assert_eq(json_integer_value(json_object_get(h, "instanceHeartBeatInterval")), 5000);
    cr_assert_eq(json_integer_value(json_object_get(h, "instanceHeartBeatTimeOut")), 15000);
    cr_assert_eq(json_integer_value(json_object_get(h, "ipDeleteTimeout")), 30000);
    cr_assert_str_eq(json_string_value(json_object_get(h, "instanceIdGenerator")), "simple");
    /* Java prints doubles with a decimal point. */
    cr_assert(strstr(text, "\"weight\":1.0,"), "%s", text);
    cr_assert(strstr(text, "\"metadata\":{\"k\":\"v\"}"), "%s", text);
    free(text);
    json_decref(doc);
    cairn_service_snapshot_free(&s);
}

Test(render, weights_print_like_java)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.0f);
    add(&s, "127.0.0.1", 1, "DEFAULT", true, true)->weight = 0.1;
    add(&s, "127.0.0.2", 1, "DEFAULT", true, true)->weight = 10000.0;
    add(&s, "127.0.0.3", 1, "DEFAULT", true, true)->weight = 2.5;
    cairn_list_query q = query();
    char *text;
    json_decref(render(&s, &q, &text));
    cr_assert(strstr(text, "\"weight\":0.1,"), "%s", text);
    cr_assert(strstr(text, "\"weight\":10000.0,"), "%s", text);
    cr_assert(strstr(text, "\"weight\":2.5,"), "%s", text);
    free(text);
    cairn_service_snapshot_free(&s);
}

Test(render, metadata_overrides_timing_and_generator)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.0f);
    cairn_instance *in = add(&s, "127.0.0.1", 1, "DEFAULT", true, true);
    cairn_metadata_set(&in->metadata, CAIRN_META_BEAT_INTERVAL, "1000");
    cairn_metadata_set(&in->metadata, CAIRN_META_BEAT_TIMEOUT, "3000");
    cairn_metadata_set(&in->metadata, CAIRN_META_DELETE_TIMEOUT, "x9"); /* not digits: default */
    cairn_metadata_set(&in->metadata, CAIRN_META_ID_GENERATOR, "snowflake");
    cairn_list_query q = query();
    json_t *doc = render(&s, &q, NULL);
    json_t *h = host(doc, 0);
    cr_assert_eq(json_integer_value(json_object_get(h, "instanceHeartBeatInterval")), 1000);
    cr_assert_eq(json_integer_value(json_object_get(h, "instanceHeartBeatTimeOut")), 3000);
    cr_assert_eq(json_integer_value(json_object_get(h, "ipDeleteTimeout")), 30000);
    cr_assert_str_eq(json_string_value(json_object_get(h, "instanceIdGenerator")), "snowflake");
    json_decref(doc);
    cairn_service_snapshot_free(&s);
}

Test(render, protection_with_no_healthy_returns_all_as_healthy)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.0f);
    add(&s, "127.0.0.1", 1, "DEFAULT", false, true);
    add(&s, "127.0.0.2", 1, "DEFAULT", false, true);
    cairn_list_query q = query();
    json_t *doc = render(&s, &q, NULL);
    cr_assert_eq(host_count(doc), 2);
    cr_assert(host_healthy(doc, 0));
    cr_assert(host_healthy(doc, 1));
    cr_assert(json_is_true(json_object_get(host(doc, 1), "valid")));
    cr_assert(json_is_true(json_object_get(doc, "reachProtectionThreshold")));
    json_decref(doc);
    /* healthyOnly keeps them: protection put them in the healthy bucket. */
    q.healthy_only = true;
    doc = render(&s, &q, NULL);
    cr_assert_eq(host_count(doc), 2);
    json_decref(doc);
    cairn_service_snapshot_free(&s);
}

Test(render, threshold_half)
{
    /* 1 of 2 healthy: 0.5 <= 0.5, protection applies. */
    cairn_service_snapshot s;
    snap_init(&s, 0.5f);
    add(&s, "127.0.0.1", 1, "DEFAULT", false, true);
    add(&s, "127.0.0.2", 1, "DEFAULT", true, true);
    cairn_list_query q = query();
    json_t *doc = render(&s, &q, NULL);
    cr_assert(json_is_true(json_object_get(doc, "reachProtectionThreshold")));
    cr_assert_eq(host_count(doc), 2);
    cr_assert(host_healthy(doc, 0) && host_healthy(doc, 1));
    json_decref(doc);

    /* 2 of 3 healthy: 0.67 > 0.5, no protection; healthy hosts first, then unhealthy ones. */
    add(&s, "127.0.0.3", 1, "DEFAULT", true, true);
    doc = render(&s, &q, NULL);
    cr_assert(json_is_false(json_object_get(doc, "reachProtectionThreshold")));
    cr_assert_eq(host_count(doc), 3);
    cr_assert_str_eq(host_ip(doc, 0), "127.0.0.2");
    cr_assert_str_eq(host_ip(doc, 1), "127.0.0.3");
    cr_assert_str_eq(host_ip(doc, 2), "127.0.0.1");
    cr_assert(host_healthy(doc, 0) && host_healthy(doc, 1));
    cr_assert_not(host_healthy(doc, 2));
    cr_assert(json_is_false(json_object_get(host(doc, 2), "valid")));
    json_decref(doc);

    q.healthy_only = true;
    doc = render(&s, &q, NULL);
    cr_assert_eq(host_count(doc), 2);
    cr_assert(host_healthy(doc, 0) && host_healthy(doc, 1));
    json_decref(doc);
    cairn_service_snapshot_free(&s);
}

Test(render, disabled_dropped_but_counted)
{
    /* Threshold 0.5, healthy but disabled A, unhealthy B and C: 1/3 <= 0.5 → protection; A is
     * never shown. */
    cairn_service_snapshot s;
    snap_init(&s, 0.5f);
    add(&s, "127.0.0.1", 1, "DEFAULT", true, false);
    add(&s, "127.0.0.2", 1, "DEFAULT", false, true);
    add(&s, "127.0.0.3", 1, "DEFAULT", false, true);
    cairn_list_query q = query();
    json_t *doc = render(&s, &q, NULL);
    cr_assert_eq(host_count(doc), 2);
    cr_assert_str_eq(host_ip(doc, 0), "127.0.0.2");
    cr_assert_str_eq(host_ip(doc, 1), "127.0.0.3");
    cr_assert(host_healthy(doc, 0) && host_healthy(doc, 1));
    json_decref(doc);

    /* Threshold 0: the disabled healthy one makes 1/3 > 0, no protection. */
    s.service.protect_threshold = 0.0f;
    doc = render(&s, &q, NULL);
    cr_assert_eq(host_count(doc), 2);
    cr_assert_not(host_healthy(doc, 0) || host_healthy(doc, 1));
    json_decref(doc);
    cairn_service_snapshot_free(&s);
}

Test(render, clusters_filter_and_echo)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.0f);
    add(&s, "127.0.0.1", 1, "DEFAULT", true, true);
    add(&s, "127.0.0.2", 1, "c1", true, true);
    add(&s, "127.0.0.3", 1, "c2", true, true);
    cairn_list_query q = query();

    q.clusters = "c1";
    json_t *doc = render(&s, &q, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "clusters")), "c1");
    cr_assert_eq(host_count(doc), 1);
    cr_assert_str_eq(host_ip(doc, 0), "127.0.0.2");
    json_decref(doc);

    q.clusters = "c2,nope,DEFAULT";
    doc = render(&s, &q, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "clusters")), "c2,nope,DEFAULT");
    cr_assert_eq(host_count(doc), 2);
    cr_assert_str_eq(host_ip(doc, 0), "127.0.0.1");
    cr_assert_str_eq(host_ip(doc, 1), "127.0.0.3");
    json_decref(doc);

    /* Only unknown names: no candidates, an empty list with the full key set. */
    q.clusters = "nope";
    doc = render(&s, &q, NULL);
    cr_assert_eq(host_count(doc), 0);
    cr_assert_not_null(json_object_get(doc, "checksum"));
    json_decref(doc);

    /* No names at all selects everything. */
    q.clusters = ",";
    doc = render(&s, &q, NULL);
    cr_assert_eq(host_count(doc), 3);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "clusters")), ",");
    json_decref(doc);

    cr_assert(cairn_render_cluster_selected("", "x"));
    cr_assert(cairn_render_cluster_selected(NULL, "x"));
    cr_assert(cairn_render_cluster_selected("a,x", "x"));
    cr_assert_not(cairn_render_cluster_selected("a,xx", "x"));
    cr_assert_not(cairn_render_cluster_selected("a, x", "x")); /* Java does not trim the parts */
    cairn_service_snapshot_free(&s);
}

Test(render, unknown_service_minimal_body)
{
    cairn_list_query q = query();
    q.service = "DEFAULT_GROUP@@nope";
    q.clusters = "DEFAULT";
    size_t len;
    char *body = cairn_render_list(NULL, &q, &len);
    cr_assert_str_eq(body, "{\"name\":\"DEFAULT_GROUP@@nope\",\"clusters\":\"DEFAULT\","
                           "\"cacheMillis\":3000,\"hosts\":[]}");
    free(body);
    cairn_service_snapshot s;
    memset(&s, 0, sizeof s); /* found == false */
    body = cairn_render_list(&s, &q, &len);
    cr_assert_str_eq(body, "{\"name\":\"DEFAULT_GROUP@@nope\",\"clusters\":\"DEFAULT\","
                           "\"cacheMillis\":3000,\"hosts\":[]}");
    free(body);
}

Test(render, dom_and_service_name_grouped_only_for_java_v1)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.0f);
    add(&s, "127.0.0.1", 1, "DEFAULT", true, true);
    cairn_list_query q = query();
    json_t *doc = render(&s, &q, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "dom")), SVC);
    cr_assert_str_eq(json_string_value(json_object_get(host(doc, 0), "serviceName")), SVC);
    json_decref(doc);

    q.grouped_names = false;
    doc = render(&s, &q, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "name")), SVC); /* always grouped */
    cr_assert_str_eq(json_string_value(json_object_get(doc, "dom")), "demo");
    cr_assert_str_eq(json_string_value(json_object_get(host(doc, 0), "serviceName")), "demo");
    json_decref(doc);
    cairn_service_snapshot_free(&s);
}

static char *checksum_of(const cairn_service_snapshot *s, const cairn_list_query *q)
{
    json_t *doc = render(s, q, NULL);
    char *c = strdup(json_string_value(json_object_get(doc, "checksum")));
    json_decref(doc);
    return c;
}

Test(render, checksum_follows_content)
{
    cairn_service_snapshot s;
    snap_init(&s, 0.0f);
    add(&s, "127.0.0.1", 1, "DEFAULT", true, true);
    add(&s, "127.0.0.2", 1, "DEFAULT", true, true);
    cairn_instance *a = &s.instances[0]; /* after the adds, which move the array */
    cairn_list_query q = query();
    char *c1 = checksum_of(&s, &q);
    char *c1again = checksum_of(&s, &q);
    cr_assert_str_eq(c1, c1again);

    a->weight = 2.0; /* same revision: the rendered hosts alone must change it */
    char *c2 = checksum_of(&s, &q);
    cr_assert_str_neq(c1, c2);

    a->healthy = false;
    char *c3 = checksum_of(&s, &q);
    cr_assert_str_neq(c2, c3);

    s.service.revision++;
    char *c4 = checksum_of(&s, &q);
    cr_assert_str_neq(c3, c4);
    free(c1), free(c1again), free(c2), free(c3), free(c4);
    cairn_service_snapshot_free(&s);
}
