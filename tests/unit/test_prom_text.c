/* The Prometheus text reader shared by `cairn status` and the tests (cairn_prom_text.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "cairn_metrics.h"
#include "cairn_prom_text.h"

static const char sample_text[] = "# HELP cairn_registry_writes_total Writes.\n"
                                  "# TYPE cairn_registry_writes_total counter\n"
                                  "cairn_registry_writes_total{type=\"a b\",result=\"ok\"} 40\n"
                                  "cairn_registry_writes_total{type=\"b\",result=\"limit\"} 2\n"
                                  "cairn_registry_writes_total_other 1000\n"
                                  "cairn_registry_services 3 1700000000000\n"
                                  "cairn_registry_ratio NaN\n"
                                  "cairn_registry_commit_seconds_bucket{le=\"+Inf\"} +Inf\n";

static cairn_prom_text parse_ok(const char *text, size_t len)
{
    cairn_prom_text t;
    char err[256];
    cr_assert(cairn_prom_parse(text, len, &t, err, sizeof err), "%s", err);
    return t;
}

Test(prom_text, samples_labels_and_special_values)
{
    cairn_prom_text t = parse_ok(sample_text, sizeof sample_text - 1);
    cr_assert_eq(t.count, 6);
    cr_assert_eq(t.type_lines, 1);
    cr_assert_str_eq(t.samples[0].name, "cairn_registry_writes_total");
    cr_assert_str_eq(t.samples[0].labels, "type=\"a b\",result=\"ok\"");
    cr_assert_float_eq(t.samples[0].value, 40, 1e-9);
    cr_assert_str_eq(t.samples[2].labels, "");
    cr_assert_float_eq(t.samples[3].value, 3, 1e-9, "the timestamp is not the value");
    cr_assert(isnan(t.samples[4].value));
    cr_assert(isinf(t.samples[5].value) && t.samples[5].value > 0);
    cairn_prom_free(&t);
}

Test(prom_text, sum_named_takes_the_exact_name_only)
{
    cairn_prom_text t = parse_ok(sample_text, sizeof sample_text - 1);
    size_t n;
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_registry_writes_total", NULL, &n), 42, 1e-9);
    cr_assert_eq(n, 2);
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_registry_writes_total", "limit", &n), 2,
                       1e-9);
    cr_assert_eq(n, 1);
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_registry_services", NULL, &n), 3, 1e-9);
    cr_assert_eq(n, 1);
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_registry_instances", NULL, &n), 0, 1e-9);
    cr_assert_eq(n, 0);
    cr_assert(isnan(cairn_prom_sum_named(&t, "cairn_registry_ratio", NULL, &n)));
    cr_assert_eq(n, 1);
    cairn_prom_free(&t);
}

Test(prom_text, match_and_sum_by_prefix_part_and_suffix)
{
    cairn_prom_text t = parse_ok(sample_text, sizeof sample_text - 1);
    size_t n;
    /* By prefix and suffix the _total_other sample does not count; by prefix alone it does. */
    cr_assert_float_eq(cairn_prom_sum(&t, "cairn_registry_", "writes", "_total", NULL, &n), 42,
                       1e-9);
    cr_assert_eq(n, 2);
    cr_assert_float_eq(cairn_prom_sum(&t, "cairn_registry_writes", NULL, NULL, NULL, &n), 1042,
                       1e-9);
    cr_assert_eq(n, 3);
    const cairn_prom_sample *s =
        cairn_prom_match(&t, "cairn_registry_", NULL, "_bucket", "le=\"+Inf\"");
    cr_assert_not_null(s);
    cr_assert_str_eq(s->name, "cairn_registry_commit_seconds_bucket");
    cr_assert_null(cairn_prom_match(&t, "cairn_gateway_", NULL, NULL, NULL));
    cairn_prom_free(&t);
}

Test(prom_text, only_len_bytes_are_read)
{
    const char text[] = "a 1\nb 2\nthis line is beyond len";
    cairn_prom_text t = parse_ok(text, strlen("a 1\nb 2"));
    cr_assert_eq(t.count, 2);
    cr_assert_float_eq(t.samples[1].value, 2, 1e-9);
    cairn_prom_free(&t);
    t = parse_ok("", 0);
    cr_assert_eq(t.count, 0);
    cairn_prom_free(&t);
}

Test(prom_text, a_malformed_line_is_an_error_naming_it)
{
    static const char *const bad[] = {
        "ok 1\nno_value\n", "ok 1\nx{a=\"1\" 2\n", "ok 1\nx 1.5abc\n", "ok 1\n9bad 1\n",
        "ok 1\nx{a=\"}\"}\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_prom_text t;
        char err[256] = "";
        cr_assert_not(cairn_prom_parse(bad[i], strlen(bad[i]), &t, err, sizeof err), "%s", bad[i]);
        cr_assert(strstr(err, "line 2") != NULL, "%s: %s", bad[i], err);
        cr_assert_eq(t.count, 0, "left empty");
        cr_assert_null(t.samples);
    }
}

Test(prom_text, reads_what_cairn_metrics_writes)
{
    cairn_metrics *m = cairn_metrics_new("test");
    cairn_counter_add(cairn_metrics_counter(m, "requests_total", "Requests.", "status=\"200\""), 5);
    cairn_gauge_set(cairn_metrics_gauge(m, "ratio", "A fraction.\nSecond line", NULL), 0.25);
    cairn_histogram_observe(cairn_metrics_histogram(m, "seconds", "Time.", "op=\"x\"",
                                                    cairn_latency_buckets,
                                                    cairn_latency_bucket_count),
                            0.5);
    size_t len;
    char *text = cairn_metrics_render(m, &len);
    cr_assert_not_null(text);
    cairn_prom_text t = parse_ok(text, len);
    cr_assert_geq(t.type_lines, 3);
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_test_requests_total", NULL, NULL), 5, 1e-9);
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_test_ratio", NULL, NULL), 0.25, 1e-9);
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_test_seconds_count", "op=\"x\"", NULL), 1,
                       1e-9);
    cr_assert_float_eq(cairn_prom_sum_named(&t, "cairn_test_seconds_bucket", "le=\"+Inf\"", NULL),
                       1, 1e-9);
    cairn_prom_free(&t);
    free(text);
    cairn_metrics_free(m);
}
