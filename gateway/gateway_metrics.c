/* Request counters and latency histograms of the Nacos API. */
#include "gateway_metrics.h"

#include <stdio.h>
#include <string.h>

void gateway_metrics_init(gateway_metrics *gm, cairn_metrics *m)
{
    gm->m = m;
    gm->registry_unavailable =
        m ? cairn_metrics_counter(m, "registry_unavailable_total",
                                  "Registry calls that failed because it was down or timed out.",
                                  NULL)
          : NULL;
    gm->healthcheck_unavailable =
        m ? cairn_metrics_counter(m, "healthcheck_unavailable_total",
                                  "Beats that failed because the healthcheck role was down or "
                                  "timed out.",
                                  NULL)
          : NULL;
}

/* Methods outside the usual set collapse into one label value. */
static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (method && strcmp(method, known[i]) == 0)
            return known[i];
    return "other";
}

void gateway_metrics_observe(gateway_metrics *gm, const char *method, const char *endpoint,
                             int status, double seconds)
{
    if (!gm->m)
        return;
    if (!endpoint)
        endpoint = "other";
    char labels[256];
    snprintf(labels, sizeof labels, "endpoint=\"%s\",method=\"%s\",status=\"%d\"", endpoint,
             method_label(method), status);
    cairn_counter *c = cairn_metrics_counter(gm->m, "requests_total",
                                             "Nacos API requests by route, method and status.",
                                             labels);
    if (c)
        cairn_counter_inc(c);
    snprintf(labels, sizeof labels, "endpoint=\"%s\"", endpoint);
    cairn_histogram *h = cairn_metrics_histogram(gm->m, "request_seconds",
                                                 "Nacos API request latency by route.", labels,
                                                 cairn_latency_buckets, cairn_latency_bucket_count);
    if (h)
        cairn_histogram_observe(h, seconds);
}

void gateway_metrics_registry_unavailable(gateway_metrics *gm)
{
    if (gm->registry_unavailable)
        cairn_counter_inc(gm->registry_unavailable);
}

void gateway_metrics_healthcheck_unavailable(gateway_metrics *gm)
{
    if (gm->healthcheck_unavailable)
        cairn_counter_inc(gm->healthcheck_unavailable);
}
