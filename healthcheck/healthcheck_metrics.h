/* The healthcheck's metrics (prefixed cairn_healthcheck_ on output):
 *   beats_total                      beats answered (any outcome but an error)
 *   unknown_beats_total              beats for instances the registry does not have (20404 or a
 *                                    re-registration from the beat body)
 *   instances_tracked                gauge: instances in the table (ephemeral_instances_tracked,
 *                                    probed_instances: parts of it)
 *   flips_total{to}                  health changes written: to="healthy" | "unhealthy"
 *   deletions_total                  expired instances removed
 *   held_deletions_total             removals held back by self-preservation
 *   preservation_active{namespace}   gauge: 1 while a namespace's removals are held
 *   probe_denied_instances           gauge: instances with a TCP/HTTP checker whose address may
 *                                    not be probed (healthcheck_netfilter.h); never probed
 *   probes_total{type,result}        active probes: type="tcp"|"http", result="success" |
 *                                    "failure" | "timeout" | "denied" (a hostname resolved to an
 *                                    address that may not be probed: nothing was sent)
 *   probe_seconds{type}              probe latency (denied ones not included)
 *   sweeps_total                     expiry sweeps run
 *   sweep_seconds                    time one sweep takes (decisions and writes)
 *   registry_errors_total            registry calls that failed (down, timed out, refused) */
#ifndef HEALTHCHECK_METRICS_H
#define HEALTHCHECK_METRICS_H

#include <pthread.h>
#include <stdbool.h>

#include "cairn_metrics.h"
#include "cairn_model.h"

typedef enum hc_probe_result {
    HC_PROBE_SUCCESS = 0,
    HC_PROBE_FAILURE,
    HC_PROBE_TIMEOUT,
    HC_PROBE_DENIED, /* not made: the address may not be probed */
    HC_PROBE__RESULTS
} hc_probe_result;

typedef struct hc_metrics {
    cairn_metrics *m; /* NULL: every update is a no-op */
    cairn_counter *beats;
    cairn_counter *unknown_beats;
    cairn_counter *flips_healthy;
    cairn_counter *flips_unhealthy;
    cairn_counter *deletions;
    cairn_counter *held_deletions;
    cairn_counter *registry_errors;
    cairn_counter *sweeps;
    cairn_histogram *sweep_seconds;
    cairn_gauge *tracked;
    cairn_gauge *tracked_ephemeral;
    cairn_gauge *probed;
    cairn_gauge *probe_denied;
    cairn_counter *probes[2][HC_PROBE__RESULTS]; /* [0] tcp, [1] http */
    cairn_histogram *probe_seconds[2];
} hc_metrics;

void hc_metrics_init(hc_metrics *hm, cairn_metrics *m);

/* Safe with NULL metrics / series. */
void hc_count(cairn_counter *c, uint64_t n);
void hc_metrics_probe(hc_metrics *hm, cairn_check_type type, hc_probe_result result,
                      double seconds);
/* The preservation_active gauge of one namespace (created on first use; NULL without metrics). */
cairn_gauge *hc_metrics_preservation(hc_metrics *hm, const char *ns);

#endif
