#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_metrics.h"

static char *render(cairn_metrics *m)
{
    size_t len = 99;
    char *text = cairn_metrics_render(m, &len);
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), len);
    return text;
}

static size_t count_occurrences(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(metrics, counter_and_gauge_text_format)
{
    cairn_metrics *m = cairn_metrics_new("test");
    cairn_counter *a = cairn_metrics_counter(m, "requests_total", "Requests served.",
                                             "endpoint=\"/a\",status=\"200\"");
    cairn_counter *b = cairn_metrics_counter(m, "requests_total", "ignored second help",
                                             "endpoint=\"/b\",status=\"404\"");
    cairn_gauge *g = cairn_metrics_gauge(m, "queue_depth", "Waiting writes.", NULL);
    cairn_gauge *g2 = cairn_metrics_gauge(m, "ratio", "A fraction.\nSecond line \\ slash", "");
    cairn_counter_add(a, 41);
    cairn_counter_inc(a);
    cairn_counter_inc(b);
    cairn_gauge_set(g, 3);
    cairn_gauge_add(g, 1.5);
    cairn_gauge_set(g2, 0.1);
    cr_assert_eq(cairn_counter_value(a), 42);
    cr_assert_float_eq(cairn_gauge_value(g), 4.5, 1e-12);

    char *text = render(m);
    const char *expected = "# HELP cairn_test_requests_total Requests served.\n"
                           "# TYPE cairn_test_requests_total counter\n"
                           "cairn_test_requests_total{endpoint=\"/a\",status=\"200\"} 42\n"
                           "cairn_test_requests_total{endpoint=\"/b\",status=\"404\"} 1\n"
                           "# HELP cairn_test_queue_depth Waiting writes.\n"
                           "# TYPE cairn_test_queue_depth gauge\n"
                           "cairn_test_queue_depth 4.5\n"
                           "# HELP cairn_test_ratio A fraction.\\nSecond line \\\\ slash\n"
                           "# TYPE cairn_test_ratio gauge\n"
                           "cairn_test_ratio 0.1\n";
    cr_assert_str_eq(text, expected);
    free(text);
    cairn_metrics_free(m);
}

Test(metrics, lookup_returns_the_same_series)
{
    cairn_metrics *m = cairn_metrics_new("test");
    cairn_counter *a = cairn_metrics_counter(m, "x_total", "X.", "k=\"v\"");
    cr_assert_eq(cairn_metrics_counter(m, "x_total", "X.", "k=\"v\""), a);
    cr_assert_neq(cairn_metrics_counter(m, "x_total", "X.", "k=\"w\""), a);
    cr_assert_eq(cairn_metrics_counter(m, "y_total", "Y.", NULL),
                 cairn_metrics_counter(m, "y_total", "Y.", ""));
    cairn_metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative)
{
    cairn_metrics *m = cairn_metrics_new("test");
    const double bounds[] = {0.125, 1, 2.5};
    cairn_histogram *h =
        cairn_metrics_histogram(m, "op_seconds", "Operation time.", "op=\"put\"", bounds, 3);
    cairn_histogram *plain = cairn_metrics_histogram(m, "op_seconds", "", NULL, bounds, 3);
    cairn_histogram_observe(h, 0.0625);
    cairn_histogram_observe(h, 0.125); /* le is inclusive */
    cairn_histogram_observe(h, 0.5);
    cairn_histogram_observe(h, 5);
    cairn_histogram_observe(h, 7);
    cr_assert_eq(cairn_histogram_count(h), 5);
    cr_assert_eq(cairn_histogram_count(plain), 0);

    char *text = render(m);
    const char *expected = "# HELP cairn_test_op_seconds Operation time.\n"
                           "# TYPE cairn_test_op_seconds histogram\n"
                           "cairn_test_op_seconds_bucket{op=\"put\",le=\"0.125\"} 2\n"
                           "cairn_test_op_seconds_bucket{op=\"put\",le=\"1\"} 3\n"
                           "cairn_test_op_seconds_bucket{op=\"put\",le=\"2.5\"} 3\n"
                           "cairn_test_op_seconds_bucket{op=\"put\",le=\"+Inf\"} 5\n"
                           "cairn_test_op_seconds_sum{op=\"put\"} 12.6875\n"
                           "cairn_test_op_seconds_count{op=\"put\"} 5\n"
                           "cairn_test_op_seconds_bucket{le=\"0.125\"} 0\n"
                           "cairn_test_op_seconds_bucket{le=\"1\"} 0\n"
                           "cairn_test_op_seconds_bucket{le=\"2.5\"} 0\n"
                           "cairn_test_op_seconds_bucket{le=\"+Inf\"} 0\n"
                           "cairn_test_op_seconds_sum 0\n"
                           "cairn_test_op_seconds_count 0\n";
    cr_assert_str_eq(text, expected);
    free(text);
    cairn_metrics_free(m);
}

Test(metrics, latency_buckets)
{
    cr_assert_geq(cairn_latency_bucket_count, 14);
    cr_assert_leq(cairn_latency_bucket_count, 20);
    cr_assert_float_eq(cairn_latency_buckets[0], 0.00005, 1e-12);
    cr_assert_float_eq(cairn_latency_buckets[cairn_latency_bucket_count - 1], 10.0, 1e-12);
    for (size_t i = 1; i < cairn_latency_bucket_count; i++)
        cr_assert_gt(cairn_latency_buckets[i], cairn_latency_buckets[i - 1]);

    cairn_metrics *m = cairn_metrics_new("test");
    cairn_histogram *h = cairn_metrics_histogram(m, "lat_seconds", "Latency.", NULL,
                                                 cairn_latency_buckets,
                                                 cairn_latency_bucket_count);
    cairn_histogram_observe(h, 0.00003);
    char *text = render(m);
    cr_assert_not_null(strstr(text, "cairn_test_lat_seconds_bucket{le=\"5e-05\"} 1\n"), "%s", text);
    cr_assert_not_null(strstr(text, "cairn_test_lat_seconds_bucket{le=\"10\"} 1\n"), "%s", text);
    cr_assert_eq(count_occurrences(text, "_bucket{"), cairn_latency_bucket_count + 1);
    free(text);
    cairn_metrics_free(m);
}

static void collect(cairn_metrics *m, void *arg)
{
    int *calls = arg;
    (*calls)++;
    cairn_gauge_set(cairn_metrics_gauge(m, "computed", "Computed at render.", NULL), *calls * 10);
}

Test(metrics, collector_runs_before_each_render)
{
    cairn_metrics *m = cairn_metrics_new("test");
    int calls = 0;
    cairn_metrics_on_collect(m, collect, &calls);
    char *text = render(m);
    cr_assert_eq(calls, 1);
    cr_assert_not_null(strstr(text, "cairn_test_computed 10\n"));
    free(text);
    text = render(m);
    cr_assert_not_null(strstr(text, "cairn_test_computed 20\n"));
    cr_assert_eq(count_occurrences(text, "# TYPE cairn_test_computed gauge\n"), 1);
    free(text);
    cairn_metrics_free(m);
}

Test(metrics, role_name_is_sanitised_and_null_metrics_are_noops)
{
    cairn_metrics *m = cairn_metrics_new("health-check");
    cairn_counter_inc(cairn_metrics_counter(m, "beats_total", "Beats.", NULL));
    char *text = render(m);
    cr_assert_not_null(strstr(text, "cairn_health_check_beats_total 1\n"));
    free(text);
    cairn_metrics_free(m);

    cairn_counter_inc(NULL);
    cairn_gauge_set(NULL, 1);
    cairn_histogram_observe(NULL, 1);
    cr_assert_null(cairn_metrics_counter(NULL, "x", "", NULL));
    cr_assert_eq(cairn_counter_value(NULL), 0);
}

#define THREADS 8
#define ROUNDS 20000

typedef struct hammer_arg {
    cairn_metrics *m;
    int id;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *a = p;
    /* Each thread looks the series up itself, racing the creation too. */
    cairn_counter *c = cairn_metrics_counter(a->m, "ops_total", "Ops.", "k=\"shared\"");
    cairn_gauge *g = cairn_metrics_gauge(a->m, "level", "Level.", NULL);
    cairn_histogram *h = cairn_metrics_histogram(a->m, "op_seconds", "Op time.", NULL,
                                                 cairn_latency_buckets,
                                                 cairn_latency_bucket_count);
    for (int i = 0; i < ROUNDS; i++) {
        cairn_counter_inc(c);
        cairn_gauge_add(g, 0.5);
        cairn_histogram_observe(h, (i % 2) ? 0.25 : 0.75);
        if (i % 5000 == 0) {
            char label[32];
            snprintf(label, sizeof label, "t=\"%d\"", a->id);
            cairn_counter_inc(cairn_metrics_counter(a->m, "per_thread_total", "P.", label));
            free(cairn_metrics_render(a->m, NULL)); /* rendering concurrently with updates */
        }
    }
    return NULL;
}

Test(metrics, concurrent_updates_sum_exactly)
{
    cairn_metrics *m = cairn_metrics_new("test");
    pthread_t t[THREADS];
    hammer_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (hammer_arg){m, i};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    cr_assert_eq(cairn_counter_value(cairn_metrics_counter(m, "ops_total", "", "k=\"shared\"")),
                 (uint64_t)THREADS * ROUNDS);
    cr_assert_float_eq(cairn_gauge_value(cairn_metrics_gauge(m, "level", "", NULL)),
                       THREADS * ROUNDS * 0.5, 1e-9);
    cairn_histogram *h = cairn_metrics_histogram(m, "op_seconds", "", NULL, cairn_latency_buckets,
                                                 cairn_latency_bucket_count);
    cr_assert_eq(cairn_histogram_count(h), (uint64_t)THREADS * ROUNDS);
    char *text = render(m);
    char line[128];
    snprintf(line, sizeof line, "cairn_test_op_seconds_sum %d\n", THREADS * ROUNDS / 2);
    cr_assert_not_null(strstr(text, line), "%s", text);
    snprintf(line, sizeof line, "cairn_test_op_seconds_bucket{le=\"0.25\"} %d\n",
             THREADS * ROUNDS / 2);
    cr_assert_not_null(strstr(text, line), "%s", text);
    cr_assert_eq(count_occurrences(text, "cairn_test_per_thread_total{t="), THREADS);
    cr_assert_eq(count_occurrences(text, "# TYPE cairn_test_ops_total counter"), 1);
    free(text);
    cairn_metrics_free(m);
}
