/* The gateway's own metrics (on the role's registry, served by the admin listener):
 *   requests_total{endpoint,method,status}  endpoint is the route pattern, "other" when none
 *                                           matched, so label cardinality stays bounded;
 *   request_seconds{endpoint}               latency histogram (cairn_latency_buckets);
 *   registry_unavailable_total              registry calls that timed out or found it down;
 *   healthcheck_unavailable_total           the same for beats sent to the healthcheck role. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include "cairn_metrics.h"

typedef struct gateway_metrics {
    cairn_metrics *m;
    uint64_t id; /* tells this instance's entries in the per-thread cache of series apart */
    cairn_counter *registry_unavailable;
    cairn_counter *healthcheck_unavailable;
} gateway_metrics;

void gateway_metrics_init(gateway_metrics *gm, cairn_metrics *m);
/* Counts one request and its latency. endpoint (NULL: "other") must live as long as the
 * process: a route's path. The series are found through a small per-thread cache keyed by the
 * endpoint and method pointers and the status, so a request costs no lookup under the metrics'
 * lock. Any thread. */
void gateway_metrics_observe(gateway_metrics *gm, const char *method, const char *endpoint,
                             int status, double seconds);
void gateway_metrics_registry_unavailable(gateway_metrics *gm);
void gateway_metrics_healthcheck_unavailable(gateway_metrics *gm);

#endif
