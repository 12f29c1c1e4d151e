/* The data model: name rules (§1.3), Java-semantics parsers (§1.2, §2.1), metadata parsing,
 * instance rules and the metadata map. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_model.h"

/* ---- grouped names ------------------------------------------------------------------------- */

static void expect_grouped(const char *svc, const char *group, const char *want)
{
    char *got = cairn_grouped_name(svc, group);
    if (!want) {
        cr_expect_null(got, "grouped(%s, %s) should be NULL", svc ? svc : "NULL",
                       group ? group : "NULL");
    } else {
        cr_assert_not_null(got);
        cr_expect_str_eq(got, want);
    }
    free(got);
}

Test(names, grouped_rewrite)
{
    expect_grouped("demo", "grp", "grp@@demo");
    expect_grouped("demo", NULL, "DEFAULT_GROUP@@demo");
    expect_grouped("demo", "", "DEFAULT_GROUP@@demo");
    expect_grouped("demo", "  ", "DEFAULT_GROUP@@demo");
    /* a name with @@ keeps its own group; groupName is ignored */
    expect_grouped("g1@@demo", "g2", "g1@@demo");
    expect_grouped("@@demo", "g2", "@@demo");
    /* DistroFilter trims serviceName */
    expect_grouped("  demo ", "grp", "grp@@demo");
    expect_grouped("", "grp", NULL);
    expect_grouped("   ", "grp", NULL);
    expect_grouped(NULL, "grp", NULL);
}

static const char *const FORMAT_MSG =
    "Param 'serviceName' is illegal, it should be format as 'groupName@@serviceName'";
static const char *const GROUP_EMPTY_MSG =
    "Param 'serviceName' is illegal, groupName can't be empty";

static void expect_format(const char *grouped, cairn_err code, const char *msg)
{
    cairn_status st;
    cairn_status_clear(&st);
    cr_expect_eq(cairn_check_grouped_format(grouped, &st), code, "format(%s)", grouped);
    if (msg)
        cr_expect_str_eq(st.message, msg, "format(%s)", grouped);
}

Test(names, grouped_format)
{
    expect_format("DEFAULT_GROUP@@demo", CAIRN_OK, NULL);
    expect_format("a@@b@@c", CAIRN_OK, NULL);
    expect_format("a@@@b", CAIRN_OK, NULL);
    expect_format("a@@@@b", CAIRN_OK, NULL);
    /* Java's split drops trailing empty parts */
    expect_format("grp@@", CAIRN_E_INVALID, FORMAT_MSG);
    expect_format("grp@@@@", CAIRN_E_INVALID, FORMAT_MSG);
    expect_format("@@", CAIRN_E_INVALID, FORMAT_MSG);
    expect_format("demo", CAIRN_E_INVALID, FORMAT_MSG);
    expect_format("", CAIRN_E_INVALID, FORMAT_MSG);
    expect_format("@@svc", CAIRN_E_INVALID, GROUP_EMPTY_MSG);
    expect_format("@@svc@@", CAIRN_E_INVALID, GROUP_EMPTY_MSG);
}

Test(names, chars)
{
    cairn_status st;
    cr_expect_eq(cairn_check_service_chars("DEFAULT_GROUP@@a.b:c-d_e9", &st), CAIRN_OK);
    cr_expect_eq(cairn_check_service_chars("grp@@svc name", &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message,
                     "dom name can only have these characters: 0-9a-zA-Z-._:, current: "
                     "grp@@svc name");
    cr_expect_eq(cairn_check_service_chars("grp@@sv\xc3\xa9", &st), CAIRN_E_INVALID);
    cr_expect_eq(cairn_check_service_chars("grp@@a/b", &st), CAIRN_E_INVALID);
    cr_expect_eq(cairn_check_service_chars("", &st), CAIRN_E_INVALID);

    cr_expect_eq(cairn_check_cluster_chars("DEFAULT", &st), CAIRN_OK);
    cr_expect_eq(cairn_check_cluster_chars("zone-1a", &st), CAIRN_OK);
    cr_expect_eq(cairn_check_cluster_chars("zone_1", &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message,
                     "cluster name can only have these characters: 0-9a-zA-Z-, current: zone_1");
    cr_expect_eq(cairn_check_cluster_chars("a.b", &st), CAIRN_E_INVALID);
    cr_expect_eq(cairn_check_cluster_chars("", &st), CAIRN_E_INVALID);
}

Test(names, length)
{
    cairn_status st;
    cr_expect_eq(cairn_check_length("ip", "1234", 4, &st), CAIRN_OK);
    cr_expect_eq(cairn_check_length("ip", "12345", 4, &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message, "Param 'ip' is too long (max 4 bytes)");
    cr_expect_eq(cairn_check_length("ip", NULL, 4, &st), CAIRN_OK);
}

Test(names, split)
{
    char g[32], n[32];
    cairn_split_grouped("grp@@demo", g, sizeof g, n, sizeof n);
    cr_expect_str_eq(g, "grp");
    cr_expect_str_eq(n, "demo");
    cairn_split_grouped("demo", g, sizeof g, n, sizeof n);
    cr_expect_str_eq(g, "DEFAULT_GROUP");
    cr_expect_str_eq(n, "demo");
    cairn_split_grouped("", g, sizeof g, n, sizeof n);
    cr_expect_str_eq(g, "");
    cr_expect_str_eq(n, "");
    /* NamingUtils takes split("@@")[1] */
    cairn_split_grouped("a@@b@@c", g, sizeof g, n, sizeof n);
    cr_expect_str_eq(g, "a");
    cr_expect_str_eq(n, "b");
    /* small buffers truncate and stay terminated */
    char g2[3], n2[4];
    cairn_split_grouped("group@@service", g2, sizeof g2, n2, sizeof n2);
    cr_expect_str_eq(g2, "gr");
    cr_expect_str_eq(n2, "ser");
}

/* ---- Java parsers ------------------------------------------------------------------------- */

static void expect_int(const char *s, int32_t want)
{
    int32_t v = 12345;
    cairn_status st;
    cr_expect_eq(cairn_parse_java_int(s, &v, &st), CAIRN_OK, "parseInt(%s)", s);
    cr_expect_eq(v, want, "parseInt(%s)", s);
}

static void expect_int_error(const char *s)
{
    int32_t v = 12345;
    cairn_status st;
    char want[128];
    snprintf(want, sizeof want, "For input string: \"%s\"", s);
    cr_expect_eq(cairn_parse_java_int(s, &v, &st), CAIRN_E_INVALID, "parseInt(%s)", s);
    cr_expect_str_eq(st.message, want);
    cr_expect_eq(v, 12345, "output untouched on error");
}

Test(parse, java_int)
{
    expect_int("0", 0);
    expect_int("8080", 8080);
    expect_int("+5", 5);
    expect_int("-0", 0);
    expect_int("-17", -17);
    expect_int("007", 7);
    expect_int("2147483647", INT32_MAX);
    expect_int("-2147483648", INT32_MIN);
    expect_int_error("2147483648");
    expect_int_error("-2147483649");
    expect_int_error("99999999999999999999");
    expect_int_error("12a");
    expect_int_error(" 1");
    expect_int_error("1 ");
    expect_int_error("");
    expect_int_error("+");
    expect_int_error("-");
    expect_int_error("1.0");
    expect_int_error("abc");
}

static void expect_double(const char *s, double want)
{
    double v = -1;
    cairn_status st;
    cr_expect_eq(cairn_parse_java_double(s, &v, &st), CAIRN_OK, "parseDouble(%s)", s);
    cr_expect_eq(v, want, "parseDouble(%s) = %g", s, v);
}

static void expect_double_error(const char *s)
{
    double v = -1;
    cairn_status st;
    char want[128];
    snprintf(want, sizeof want, "For input string: \"%s\"", s);
    cr_expect_eq(cairn_parse_java_double(s, &v, &st), CAIRN_E_INVALID, "parseDouble(%s)", s);
    cr_expect_str_eq(st.message, want);
    cr_expect_eq(v, -1, "output untouched on error");
}

Test(parse, java_double)
{
    expect_double("1", 1.0);
    expect_double("1.5", 1.5);
    expect_double("-2.25", -2.25);
    expect_double("+3", 3.0);
    expect_double("1e3", 1000.0);
    expect_double("2.5E-1", 0.25);
    expect_double(".5", 0.5);
    expect_double("5.", 5.0);
    expect_double("1.5d", 1.5); /* Java's type suffixes */
    expect_double("2f", 2.0);
    expect_double(" 7 ", 7.0); /* Java trims */
    expect_double("1e-400", 0.0);
    expect_double_error("0x1");
    expect_double_error("0x1p3");
    expect_double_error("NaN");
    expect_double_error("Infinity");
    expect_double_error("-Infinity");
    expect_double_error("1e400"); /* would be Infinity */
    expect_double_error("abc");
    expect_double_error("");
    expect_double_error(".");
    expect_double_error("1e");
    expect_double_error("1e+");
    expect_double_error("1.2.3");
    expect_double_error("1,5");
    expect_double_error("1dd");
}

Test(parse, booleans)
{
    const char *yes[] = {"true", "TRUE", "on", "On", "yes", "YES", "y", "Y", "t", "T"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        cr_expect(cairn_parse_bool_lenient(yes[i]), "lenient(%s)", yes[i]);
    const char *no[] = {"false", "off", "no", "n", "f", "1", "", "tru", "yess"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        cr_expect_not(cairn_parse_bool_lenient(no[i]), "lenient(%s)", no[i]);
    cr_expect_not(cairn_parse_bool_lenient(NULL));

    cr_expect(cairn_parse_bool_strict("true"));
    cr_expect(cairn_parse_bool_strict("TrUe"));
    cr_expect_not(cairn_parse_bool_strict("yes"));
    cr_expect_not(cairn_parse_bool_strict("t"));
    cr_expect_not(cairn_parse_bool_strict("1"));
    cr_expect_not(cairn_parse_bool_strict(NULL));
}

/* ---- metadata ------------------------------------------------------------------------------ */

static void expect_meta(const cairn_metadata *md, const char *key, const char *want)
{
    const char *got = cairn_metadata_get(md, key);
    cr_assert_not_null(got, "metadata has no key %s", key);
    cr_expect_str_eq(got, want, "metadata[%s]", key);
}

Test(metadata, parse_json)
{
    cairn_metadata md = {0};
    cairn_status st;
    cr_assert_eq(cairn_parse_metadata("{\"k\":\"v\",\"a\":\"b=c,d\"}", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 2);
    expect_meta(&md, "k", "v");
    expect_meta(&md, "a", "b=c,d");
    cairn_metadata_free(&md);

    /* scalars become strings */
    cr_assert_eq(cairn_parse_metadata("{\"n\":42,\"neg\":-7,\"r\":1.5,\"t\":true,\"f\":false}", 0,
                                      &md, &st),
                 CAIRN_OK);
    expect_meta(&md, "n", "42");
    expect_meta(&md, "neg", "-7");
    expect_meta(&md, "r", "1.5");
    expect_meta(&md, "t", "true");
    expect_meta(&md, "f", "false");
    cairn_metadata_free(&md);

    cr_assert_eq(cairn_parse_metadata("{}", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 0);

    /* null values are dropped: a Cairn map holds strings only */
    cr_assert_eq(cairn_parse_metadata("{\"a\":null,\"b\":\"x\"}", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 1);
    expect_meta(&md, "b", "x");
    cairn_metadata_free(&md);

    /* a successful parse replaces what was there */
    cairn_metadata_set(&md, "old", "1");
    cr_assert_eq(cairn_parse_metadata("{\"new\":\"2\"}", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 1);
    expect_meta(&md, "new", "2");
    cairn_metadata_free(&md);
}

Test(metadata, parse_kv)
{
    cairn_metadata md = {0};
    cairn_status st;
    cr_assert_eq(cairn_parse_metadata("k1=v1,k2=v2", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 2);
    expect_meta(&md, "k1", "v1");
    expect_meta(&md, "k2", "v2");
    cairn_metadata_free(&md);

    /* Java split semantics: trailing empty parts vanish, a later key wins */
    cr_assert_eq(cairn_parse_metadata("a=1,a=2,", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 1);
    expect_meta(&md, "a", "2");
    cairn_metadata_free(&md);
    cr_assert_eq(cairn_parse_metadata("a=b=", 0, &md, &st), CAIRN_OK);
    expect_meta(&md, "a", "b");
    cairn_metadata_free(&md);
    cr_assert_eq(cairn_parse_metadata("=v", 0, &md, &st), CAIRN_OK);
    expect_meta(&md, "", "v");
    cairn_metadata_free(&md);
}

Test(metadata, parse_empty)
{
    cairn_metadata md = {0};
    cairn_status st;
    cr_assert_eq(cairn_parse_metadata("", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 0);
    cr_assert_eq(cairn_parse_metadata("   ", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 0);
    cr_assert_eq(cairn_parse_metadata(NULL, 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 0);
    /* Java's ",".split(",") has no parts at all */
    cr_assert_eq(cairn_parse_metadata(",,", 0, &md, &st), CAIRN_OK);
    cr_expect_eq(md.len, 0);
}

static void expect_meta_error(const char *raw)
{
    cairn_metadata md = {0};
    cr_assert_eq(cairn_metadata_set(&md, "keep", "me"), CAIRN_OK);
    cairn_status st;
    char want[256];
    snprintf(want, sizeof want, "metadata format incorrect:%s", raw);
    cr_expect_eq(cairn_parse_metadata(raw, 0, &md, &st), CAIRN_E_INVALID, "metadata(%s)", raw);
    cr_expect_str_eq(st.message, want);
    /* a failed parse leaves the previous map alone */
    cr_expect_eq(md.len, 1);
    cairn_metadata_free(&md);
}

Test(metadata, parse_bad)
{
    expect_meta_error("abc");
    expect_meta_error("a=1,b");
    expect_meta_error("a=1,,b=2");
    expect_meta_error("a==b");
    expect_meta_error("a=");
    expect_meta_error(",a=1");
    expect_meta_error("{\"a\":{\"b\":\"c\"}}");
    expect_meta_error("{\"a\":[1,2]}");
    expect_meta_error("[1,2]");
    expect_meta_error("{\"a\":");
}

Test(metadata, parse_too_long)
{
    cairn_metadata md = {0};
    cairn_status st;
    cr_expect_eq(cairn_parse_metadata("a=1234", 6, &md, &st), CAIRN_OK);
    cairn_metadata_free(&md);
    cr_expect_eq(cairn_parse_metadata("a=12345", 6, &md, &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message, "Param 'metadata' is too long (max 6 bytes)");
    cr_expect_eq(md.len, 0);
}

Test(metadata, map_sorted_set_remove_copy)
{
    cairn_metadata md = {0};
    const char *keys[] = {"m", "c", "x", "a", "q"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(cairn_metadata_set(&md, keys[i], "v"), CAIRN_OK);
    cr_assert_eq(md.len, 5);
    for (uint32_t i = 1; i < md.len; i++)
        cr_expect_lt(strcmp(md.items[i - 1].key, md.items[i].key), 0);
    cr_assert_eq(cairn_metadata_set(&md, "c", "new"), CAIRN_OK);
    cr_expect_eq(md.len, 5);
    expect_meta(&md, "c", "new");
    cr_expect_null(cairn_metadata_get(&md, "nope"));

    cairn_metadata copy;
    cr_assert_eq(cairn_metadata_copy(&copy, &md), CAIRN_OK);
    cr_expect(cairn_metadata_remove(&md, "a"));
    cr_expect_not(cairn_metadata_remove(&md, "a"));
    cr_expect_eq(md.len, 4);
    cr_expect_str_eq(md.items[0].key, "c");
    cr_expect_eq(copy.len, 5);
    expect_meta(&copy, "a", "v");
    cairn_metadata_free(&md);
    cairn_metadata_free(&copy);
    cr_expect_eq(md.len, 0);
    cr_expect_null(md.items);
}

Test(metadata, millis_digits_only)
{
    cairn_metadata md = {0};
    cairn_metadata_set(&md, CAIRN_META_BEAT_TIMEOUT, "3000");
    cairn_metadata_set(&md, CAIRN_META_BEAT_INTERVAL, "-100");
    cairn_metadata_set(&md, CAIRN_META_DELETE_TIMEOUT, "30s");
    cairn_metadata_set(&md, "empty", "");
    cairn_metadata_set(&md, "space", " 5");
    cairn_metadata_set(&md, "huge", "99999999999999999999999");
    cr_expect_eq(cairn_metadata_millis(&md, CAIRN_META_BEAT_TIMEOUT, 15000), 3000);
    cr_expect_eq(cairn_metadata_millis(&md, CAIRN_META_BEAT_INTERVAL, 5000), 5000);
    cr_expect_eq(cairn_metadata_millis(&md, CAIRN_META_DELETE_TIMEOUT, 30000), 30000);
    cr_expect_eq(cairn_metadata_millis(&md, "empty", 7), 7);
    cr_expect_eq(cairn_metadata_millis(&md, "space", 7), 7);
    cr_expect_eq(cairn_metadata_millis(&md, "huge", 7), 7);
    cr_expect_eq(cairn_metadata_millis(&md, "absent", 7), 7);
    cairn_metadata_free(&md);
}

/* ---- instances ----------------------------------------------------------------------------- */

static const char *const WEIGHT_MSG =
    "instance format invalid: The weights range from 0.0 to 10000.0";

Test(instance, validate)
{
    cairn_instance in;
    cairn_instance_init(&in);
    cr_expect_eq(in.weight, 1.0);
    cr_expect(in.healthy && in.enabled && in.ephemeral && !in.marked);
    in.ip = strdup("127.0.0.1");
    in.cluster = strdup("DEFAULT");
    cairn_status st;
    cr_expect_eq(cairn_instance_validate(&in, &st), CAIRN_OK);

    double ok[] = {0.0, 0.001, 10000.0};
    for (size_t i = 0; i < 3; i++) {
        in.weight = ok[i];
        cr_expect_eq(cairn_instance_validate(&in, &st), CAIRN_OK, "weight %g", ok[i]);
    }
    double bad[] = {-0.5, 10000.01, NAN};
    for (size_t i = 0; i < 3; i++) {
        in.weight = bad[i];
        cr_expect_eq(cairn_instance_validate(&in, &st), CAIRN_E_INVALID, "weight %g", bad[i]);
        cr_expect_str_eq(st.message, WEIGHT_MSG);
    }
    in.weight = 1;

    free(in.cluster);
    in.cluster = strdup("my_cluster");
    cr_expect_eq(cairn_instance_validate(&in, &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message,
                     "cluster name can only have these characters: 0-9a-zA-Z-, current: "
                     "my_cluster");

    free(in.ip);
    in.ip = strdup("");
    cr_expect_eq(cairn_instance_validate(&in, &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message, "Param 'ip' is required.");
    cairn_instance_free(&in);
}

Test(instance, normalize_weight)
{
    cairn_instance in;
    cairn_instance_init(&in);
    double cases[][2] = {{20000, 10000}, {10000, 10000}, {0.001, 0.01}, {0.01, 0.01},
                         {0, 0},         {1.5, 1.5},     {0.5, 0.5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        in.weight = cases[i][0];
        cairn_instance_normalize_weight(&in);
        cr_expect_eq(in.weight, cases[i][1], "normalize(%g) = %g", cases[i][0], in.weight);
    }
}

Test(instance, default_id)
{
    char *id = cairn_instance_default_id("127.0.0.1", 8080, "DEFAULT", "DEFAULT_GROUP@@demo");
    cr_assert_not_null(id);
    cr_expect_str_eq(id, "127.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@demo");
    free(id);
}

Test(instance, copy_is_deep)
{
    cairn_instance a;
    cairn_instance_init(&a);
    a.ip = strdup("127.2.3.4");
    a.port = 80;
    a.cluster = strdup("c");
    cairn_metadata_set(&a.metadata, "k", "v");
    cairn_instance b;
    cr_assert_eq(cairn_instance_copy(&b, &a), CAIRN_OK);
    cr_expect_neq(a.ip, b.ip);
    cr_expect_str_eq(b.ip, "127.2.3.4");
    cr_expect_null(b.app);
    cairn_instance_free(&a);
    expect_meta(&b.metadata, "k", "v");
    cairn_instance_free(&b);
}

Test(service, init_copy_find)
{
    cairn_service s;
    cairn_service_init(&s);
    cr_expect_str_eq(s.selector_json, "{\"type\":\"none\"}");
    cr_expect_eq(s.protect_threshold, 0.0f);
    s.name = strdup("DEFAULT_GROUP@@demo");
    s.clusters = calloc(2, sizeof *s.clusters);
    s.cluster_count = 2;
    cairn_cluster_init_default(&s.clusters[0]);
    cairn_cluster_init_default(&s.clusters[1]);
    cr_expect_eq(s.clusters[0].check_type, CAIRN_CHECK_TCP);
    s.clusters[0].name = strdup("A");
    s.clusters[1].name = strdup("B");
    cairn_metadata_set(&s.clusters[1].metadata, "x", "y");

    cairn_service c;
    cr_assert_eq(cairn_service_copy(&c, &s), CAIRN_OK);
    cairn_service_free(&s);
    const cairn_cluster *b = cairn_service_find_cluster(&c, "B");
    cr_assert_not_null(b);
    expect_meta(&b->metadata, "x", "y");
    cr_expect_null(cairn_service_find_cluster(&c, "C"));
    cairn_service_free(&c);
}
