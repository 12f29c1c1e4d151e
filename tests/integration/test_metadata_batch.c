/* PUT / DELETE /nacos/v1/ns/instance/metadata/batch (spec §2.8) against a real node: which
 * instances a request locates (by kind with consistencyType, else by the `instances` list as
 * Nacos 1.4.8 matches them), keys merged into and removed from the stored metadata, the
 * `updated` answer, and Nacos' rule that a request locating nothing answers an empty list. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(metadata_batch, .fini = it_teardown, .timeout = 120);

#define BATCH NS "/instance/metadata/batch"

/* The batch call with its parameters in a form body (as a Java client sends them); asserts 200
 * and returns the `updated` array joined by spaces. */
static char *batch_ok(const it_node *n, const char *method, const char *form)
{
    http_resp r = nacos_call(n, method, BATCH, NULL, form, NULL);
    cr_assert_eq(r.status, 200, "%s %s: %ld %s", method, form, r.status, r.body);
    json_t *j = json_parse_or_fail(r.body);
    json_t *u = jget(j, "updated");
    cr_assert(json_is_array(u), "no updated array: %s", r.body);
    char *out = calloc(1, 4096);
    cr_assert_not_null(out);
    for (size_t i = 0; i < json_array_size(u); i++) {
        if (i)
            strcat(out, " ");
        strncat(out, json_string_value(json_array_get(u, i)), 4000 - strlen(out));
    }
    json_decref(j);
    http_resp_free(&r);
    return out;
}

static void expect_updated(const it_node *n, const char *method, const char *form,
                           const char *want)
{
    char *got = batch_ok(n, method, form);
    cr_expect_str_eq(got, want, "%s %s", method, form);
    free(got);
}

/* The instance's metadata as one "k=v,k=v" text in key order ("" when empty), from its detail. */
static char *metadata_of(const it_node *n, const char *ip, const char *port, const char *cluster)
{
    http_resp r = nacos_call(
        n, "GET", NS "/instance",
        Q("serviceName", "mb", "ip", ip, "port", port, "clusterName", cluster), NULL, NULL);
    cr_assert_eq(r.status, 200, "detail of %s:%s: %ld %s", ip, port, r.status, r.body);
    json_t *d = json_parse_or_fail(r.body);
    json_t *md = jget(d, "metadata");
    char *out = calloc(1, 1024);
    cr_assert_not_null(out);
    const char *k;
    json_t *v;
    /* jansson keeps insertion order; the node renders keys sorted */
    json_object_foreach(md, k, v)
    {
        if (*out)
            strcat(out, ",");
        snprintf(out + strlen(out), 1024 - strlen(out), "%s=%s", k, json_string_value(v));
    }
    json_decref(d);
    http_resp_free(&r);
    return out;
}

static void expect_metadata(const it_node *n, const char *ip, const char *port,
                            const char *cluster, const char *want)
{
    char *got = metadata_of(n, ip, port, cluster);
    cr_expect_str_eq(got, want, "metadata of %s:%s in %s", ip, port, cluster);
    free(got);
}

/* Two ephemeral instances (one in cluster c2) and a persistent one. */
static it_node *three_instances(const it_node_opts *opts)
{
    it_node *n = node_start(opts);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mb", "ip", "127.0.0.1", "port", "80", "metadata", "a=1"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mb", "ip", "127.0.0.2", "port", "80", "clusterName", "c2"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mb", "ip", "127.0.0.3", "port", "81", "ephemeral", "false"));
    return n;
}

IT_TEST(metadata_batch, keys_set_and_removed_by_kind_and_by_list)
{
    it_node *n = three_instances(NULL);

    /* every ephemeral instance; the persistent one untouched */
    expect_updated(n, "PUT", "serviceName=mb&metadata=k%3Dv%2Cx%3Dy&consistencyType=ephemeral",
                   "127.0.0.1:80:unknown:DEFAULT:ephemeral 127.0.0.2:80:unknown:c2:ephemeral");
    expect_metadata(n, "127.0.0.1", "80", "DEFAULT", "a=1,k=v,x=y");
    expect_metadata(n, "127.0.0.2", "80", "c2", "k=v,x=y");
    expect_metadata(n, "127.0.0.3", "81", "DEFAULT", "");

    /* a list: persistent targets first (Nacos' order), a port as text, a blank cluster is
     * DEFAULT, and a target in the wrong cluster or of the wrong kind locates nothing */
    expect_updated(n, "PUT",
                   "serviceName=mb&metadata=%7B%22k%22%3A%22w%22%7D&instances="
                   "%5B%7B%22ip%22%3A%22127.0.0.2%22%2C%22port%22%3A%2280%22%2C%22clusterName%22"
                   "%3A%22c2%22%7D%2C%7B%22ip%22%3A%22127.0.0.3%22%2C%22port%22%3A81%2C%22ephemeral"
                   "%22%3Afalse%2C%22clusterName%22%3A%22%20%22%7D%2C%7B%22ip%22%3A%22127.0.0.1%22"
                   "%2C%22port%22%3A80%2C%22clusterName%22%3A%22c2%22%7D%2C%7B%22ip%22%3A%22127.0.0"
                   ".1%22%2C%22port%22%3A80%2C%22ephemeral%22%3Afalse%7D%5D",
                   "127.0.0.3:81:unknown:DEFAULT:persist 127.0.0.2:80:unknown:c2:ephemeral");
    expect_metadata(n, "127.0.0.1", "80", "DEFAULT", "a=1,k=v,x=y");
    expect_metadata(n, "127.0.0.2", "80", "c2", "k=w,x=y");
    expect_metadata(n, "127.0.0.3", "81", "DEFAULT", "k=w");

    /* DELETE takes the keys of its metadata (values ignored); an absent key changes nothing
     * but the instance is still located, so listed */
    expect_updated(n, "DELETE", "serviceName=mb&metadata=k%3D-%2Cnone%3D-&consistencyType=persist",
                   "127.0.0.3:81:unknown:DEFAULT:persist");
    expect_updated(n, "DELETE", "serviceName=mb&metadata=x%3D-&consistencyType=ephemeral",
                   "127.0.0.1:80:unknown:DEFAULT:ephemeral 127.0.0.2:80:unknown:c2:ephemeral");
    expect_metadata(n, "127.0.0.1", "80", "DEFAULT", "a=1,k=v");
    expect_metadata(n, "127.0.0.2", "80", "c2", "k=w");
    expect_metadata(n, "127.0.0.3", "81", "DEFAULT", "");

    /* the list answer shows it too (its cache is dropped by the writes) */
    json_t *l = nacos_list(n, Q("serviceName", "mb"));
    json_t *h = list_find_host(l, "127.0.0.2", 80);
    cr_assert_not_null(h);
    cr_expect_str_eq(jstr(h, "metadata.k"), "w");
    json_decref(l);
}

IT_TEST(metadata_batch, parameters_and_locating_nothing)
{
    it_node *n = three_instances(NULL);
    nacos_expect_error(n, "PUT", BATCH, Q("metadata", "a=b"), NULL, 400,
                       "Param 'serviceName' is required.", false);
    nacos_expect_error(n, "PUT", BATCH, Q("serviceName", "mb"), NULL, 400,
                       "Param 'metadata' is required.", false);
    nacos_expect_error(n, "DELETE", BATCH, Q("serviceName", "mb", "metadata", "a"), NULL, 400,
                       "metadata format incorrect:a", false);

    /* Nacos swallows these: the answer is an empty list and nothing changes */
    expect_updated(n, "PUT", "serviceName=nosuch&metadata=a%3Db&consistencyType=ephemeral", "");
    expect_updated(n, "PUT", "serviceName=mb&metadata=a%3Db&consistencyType=both", "");
    expect_updated(n, "PUT", "serviceName=mb&metadata=a%3Db&instances=not%20json", "");
    expect_updated(n, "PUT", "serviceName=mb&metadata=a%3Db&instances=%7B%7D", "");
    expect_updated(n, "PUT", "serviceName=mb&metadata=a%3Db", "");
    /* one malformed element spoils the list, as Jackson's failure does */
    expect_updated(n, "PUT",
                   "serviceName=mb&metadata=a%3Db&instances=%5B%7B%22ip%22%3A%22127.0.0.1%22%2C"
                   "%22port%22%3A80%7D%2C%7B%22ip%22%3A%22127.0.0.2%22%2C%22port%22%3A%5B%5D%7D%5D",
                   "");
    /* a target's port 0 is no wildcard (Nacos' equals lets only a stored port 0 match any) */
    expect_updated(n, "PUT",
                   "serviceName=mb&metadata=a%3Db&instances=%5B%7B%22ip%22%3A%22127.0.0.1%22%7D%5D",
                   "");
    expect_metadata(n, "127.0.0.1", "80", "DEFAULT", "a=1");
}

/* Keys merged past limits.max_metadata_bytes: that instance is refused (and not listed), the
 * others still get theirs. */
IT_TEST(metadata_batch, a_merge_past_the_metadata_limit_is_refused)
{
    it_node_opts o = {.sets = ARGS("limits.max_metadata_bytes=64")};
    it_node *n = node_start(&o);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mb", "ip", "127.0.0.1", "port", "80", "metadata",
                     "long=0123456789012345678901234567890123456789"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mb", "ip", "127.0.0.2", "port", "80"));
    expect_updated(n, "PUT",
                   "serviceName=mb&consistencyType=ephemeral&metadata=more%3D"
                   "01234567890123456789012345",
                   "127.0.0.2:80:unknown:DEFAULT:ephemeral");
    expect_metadata(n, "127.0.0.1", "80", "DEFAULT",
                    "long=0123456789012345678901234567890123456789");
    expect_metadata(n, "127.0.0.2", "80", "DEFAULT", "more=01234567890123456789012345");
}
