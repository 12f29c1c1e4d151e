/* Prometheus service discovery target groups: label names from metadata keys, collisions, the
 * fixed labels and the target address. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_prometheus.h"

Test(gateway_prometheus, label_names)
{
    static const struct {
        const char *key, *name;
        bool sanitized;
    } cases[] = {
        {"version", "metadata_version", false},
        {"Zone_1", "metadata_Zone_1", false},
        {"9lives", "metadata_9lives", false},
        {"zone.name", "metadata_zone_name", true},
        {"a-b c", "metadata_a_b_c", true},
        {"__address__", "metadata___address__", false},
        {"caf\xc3\xa9", "metadata_caf_", true},         /* one character, one '_' */
        {"\xe2\x82\xac" "1", "metadata__1", true},      /* a three-byte character */
        {"preserved.register.source", "metadata_preserved_register_source", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool sanitized = !cases[i].sanitized;
        char *name = gateway_prometheus_label_name(cases[i].key, &sanitized);
        cr_assert_not_null(name, "%s", cases[i].key);
        cr_expect_str_eq(name, cases[i].name);
        cr_expect_eq(sanitized, cases[i].sanitized, "%s", cases[i].key);
        free(name);
    }
    bool sanitized;
    cr_expect_null(gateway_prometheus_label_name("", &sanitized));
}

static json_t *target_of(const char *ip, const char *grouped, const char *const *kv)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup(ip);
    in.port = 9100;
    in.cluster = strdup("c1");
    for (; kv && kv[0]; kv += 2)
        cr_assert_eq(cairn_metadata_set(&in.metadata, kv[0], kv[1]), CAIRN_OK);
    json_t *t = gateway_prometheus_target("ns1", grouped, &in);
    cairn_instance_free(&in);
    cr_assert_not_null(t);
    return t;
}

Test(gateway_prometheus, target_group)
{
    json_t *t = target_of("127.0.0.1", "g@@svc",
                          (const char *const[]){"a.b", "dotted", "a_b", "plain", "b-c", "first",
                                                "b.c", "second", "", "empty key", NULL});
    char *text = json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER);
    /* a_b needed no change and wins over a.b; of b-c and b.c the first in byte order wins. */
    cr_expect_str_eq(text, "{\"targets\":[\"127.0.0.1:9100\"],\"labels\":{"
                           "\"__meta_clusterName\":\"c1\",\"namespace\":\"ns1\",\"group\":\"g\","
                           "\"service\":\"svc\",\"cluster\":\"c1\",\"metadata_a_b\":\"plain\","
                           "\"metadata_b_c\":\"first\"}}");
    free(text);
    json_decref(t);

    /* A plain name is in DEFAULT_GROUP; an IPv6 address is bracketed. */
    t = target_of("::1", "svc", NULL);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t, "targets"), 0)),
                     "[::1]:9100");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(t, "labels"), "group")),
                     "DEFAULT_GROUP");
    json_decref(t);

    /* Metadata cannot replace a fixed label. */
    t = target_of("127.0.0.1", "g@@svc",
                  (const char *const[]){"namespace", "other", "service", "other", NULL});
    json_t *labels = json_object_get(t, "labels");
    cr_expect_str_eq(json_string_value(json_object_get(labels, "namespace")), "ns1");
    cr_expect_str_eq(json_string_value(json_object_get(labels, "metadata_namespace")), "other");
    json_decref(t);
}
