/* The gateway's request metrics: every request lands in the series of its own endpoint, method
 * and status, whatever the per-thread cache of series holds, and two gateways' metrics in one
 * process never share one. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

#include "cairn_metrics.h"
#include "gateway_metrics.h"

static const char LIST[] = "/nacos/v1/ns/instance/list";
static const char BEAT[] = "/nacos/v1/ns/instance/beat";

static uint64_t requests(cairn_metrics *m, const char *labels)
{
    return cairn_counter_value(cairn_metrics_counter(m, "requests_total", "", labels));
}

static uint64_t observed(cairn_metrics *m, const char *endpoint)
{
    char labels[128];
    snprintf(labels, sizeof labels, "endpoint=\"%s\"", endpoint);
    return cairn_histogram_count(cairn_metrics_histogram(m, "request_seconds", "", labels,
                                                         cairn_latency_buckets,
                                                         cairn_latency_bucket_count));
}

Test(gateway_metrics, each_request_lands_in_its_own_series)
{
    cairn_metrics *a = cairn_metrics_new("gateway"), *b = cairn_metrics_new("gateway");
    gateway_metrics ga, gb;
    gateway_metrics_init(&ga, a);
    gateway_metrics_init(&gb, b);
    for (int i = 0; i < 1000; i++) {
        gateway_metrics_observe(&ga, "GET", LIST, 200, 0.001);
        gateway_metrics_observe(&ga, "PUT", BEAT, i % 2 ? 200 : 400, 0.001);
        gateway_metrics_observe(&gb, "GET", LIST, 200, 0.001);
        gateway_metrics_observe(&ga, "BREW", NULL, 404, 0.001);
    }
    cr_expect_eq(requests(a, "endpoint=\"/nacos/v1/ns/instance/list\",method=\"GET\","
                             "status=\"200\""),
                 1000);
    cr_expect_eq(requests(a, "endpoint=\"/nacos/v1/ns/instance/beat\",method=\"PUT\","
                             "status=\"200\""),
                 500);
    cr_expect_eq(requests(a, "endpoint=\"/nacos/v1/ns/instance/beat\",method=\"PUT\","
                             "status=\"400\""),
                 500);
    cr_expect_eq(requests(a, "endpoint=\"other\",method=\"other\",status=\"404\""), 1000);
    cr_expect_eq(requests(b, "endpoint=\"/nacos/v1/ns/instance/list\",method=\"GET\","
                             "status=\"200\""),
                 1000, "the other gateway's requests are its own");
    cr_expect_eq(observed(a, LIST), 1000);
    cr_expect_eq(observed(a, BEAT), 1000);
    cr_expect_eq(observed(b, LIST), 1000);
    cr_expect_eq(observed(b, BEAT), 0);
    cairn_metrics_free(a);
    cairn_metrics_free(b);

    /* A gateway made after another's end (perhaps at the same address) starts from nothing. */
    cairn_metrics *c = cairn_metrics_new("gateway");
    gateway_metrics gc;
    gateway_metrics_init(&gc, c);
    gateway_metrics_observe(&gc, "GET", LIST, 200, 0.001);
    cr_expect_eq(requests(c, "endpoint=\"/nacos/v1/ns/instance/list\",method=\"GET\","
                             "status=\"200\""),
                 1);
    cairn_metrics_free(c);
}

static gateway_metrics shared;

static void *observe_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        gateway_metrics_observe(&shared, "GET", LIST, 200, 0.0001);
    return NULL;
}

/* Threads with their own caches count into the same series. */
Test(gateway_metrics, threads_count_into_the_same_series)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    gateway_metrics_init(&shared, m);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, observe_many, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(requests(m, "endpoint=\"/nacos/v1/ns/instance/list\",method=\"GET\","
                             "status=\"200\""),
                 80000);
    cr_expect_eq(observed(m, LIST), 80000);
    cairn_metrics_free(m);
}
