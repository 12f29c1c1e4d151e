/* Request counters and latency histograms of the Nacos API. */
#include "gateway_metrics.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The series of one (endpoint, method, status) as a thread last found them. */
typedef struct observed {
    uint64_t owner; /* gateway_metrics.id; 0: empty */
    const char *endpoint, *method;
    int status;
    cairn_counter *requests;
    cairn_histogram *seconds;
} observed;

#define OBSERVED_SLOTS 64 /* per thread, direct-mapped: a miss costs one lookup */

static _Thread_local observed observed_cache[OBSERVED_SLOTS];
static atomic_uint_fast64_t next_id = 1;

void gateway_metrics_init(gateway_metrics *gm, cairn_metrics *m)
{
    gm->m = m;
    gm->id = atomic_fetch_add(&next_id, 1);
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
    method = method_label(method);
    uintptr_t h = ((uintptr_t)endpoint >> 3) * 31u + ((uintptr_t)method >> 3) + (unsigned)status;
    observed *o = &observed_cache[(h ^ (h >> 7)) % OBSERVED_SLOTS];
    if (o->owner == gm->id && o->endpoint == endpoint && o->method == method &&
        o->status == status) {
        cairn_counter_inc(o->requests);
        cairn_histogram_observe(o->seconds, seconds);
        return;
    }
    char labels[256];
    snprintf(labels, sizeof labels, "endpoint=\"%s\",method=\"%s\",status=\"%d\"", endpoint,
             method, status);
    cairn_counter *c = cairn_metrics_counter(gm->m, "requests_total",
                                             "Nacos API requests by route, method and status.",
                                             labels);
    if (c)
        cairn_counter_inc(c);
    snprintf(labels, sizeof labels, "endpoint=\"%s\"", endpoint);
    cairn_histogram *hist =
        cairn_metrics_histogram(gm->m, "request_seconds", "Nacos API request latency by route.",
                                labels, cairn_latency_buckets, cairn_latency_bucket_count);
    if (hist)
        cairn_histogram_observe(hist, seconds);
    if (c && hist) /* a failed allocation is looked up again next time */
        *o = (observed){gm->id, endpoint, method, status, c, hist};
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
