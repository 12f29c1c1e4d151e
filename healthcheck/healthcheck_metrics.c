/* Healthcheck metrics. */
#include "healthcheck_metrics.h"

#include <stdio.h>

void hc_metrics_init(hc_metrics *hm, cairn_metrics *m)
{
    *hm = (hc_metrics){.m = m};
    if (!m)
        return;
    hm->beats = cairn_metrics_counter(m, "beats_total", "Beats answered.", NULL);
    hm->unknown_beats = cairn_metrics_counter(
        m, "unknown_beats_total",
        "Beats for instances the registry does not have (20404, or re-registered from the body).",
        NULL);
    const char *flips_help = "Instance health changes written to the registry.";
    hm->flips_healthy = cairn_metrics_counter(m, "flips_total", flips_help, "to=\"healthy\"");
    hm->flips_unhealthy = cairn_metrics_counter(m, "flips_total", flips_help, "to=\"unhealthy\"");
    hm->deletions =
        cairn_metrics_counter(m, "deletions_total", "Expired ephemeral instances removed.", NULL);
    hm->held_deletions = cairn_metrics_counter(
        m, "held_deletions_total", "Removals of expired instances held by self-preservation.",
        NULL);
    hm->registry_errors = cairn_metrics_counter(
        m, "registry_errors_total", "Registry calls that failed (down, timed out or refused).",
        NULL);
    hm->sweeps = cairn_metrics_counter(m, "sweeps_total", "Expiry sweeps run.", NULL);
    hm->sweep_seconds = cairn_metrics_histogram(m, "sweep_seconds",
                                                "Time one expiry sweep takes, writes included.",
                                                NULL, cairn_latency_buckets,
                                                cairn_latency_bucket_count);
    hm->tracked = cairn_metrics_gauge(m, "instances_tracked", "Instances in the table.", NULL);
    hm->tracked_ephemeral = cairn_metrics_gauge(
        m, "ephemeral_instances_tracked", "Ephemeral (beating) instances in the table.", NULL);
    hm->probed = cairn_metrics_gauge(m, "probed_instances",
                                     "Persistent instances under active TCP/HTTP probes.", NULL);
    hm->probe_denied = cairn_metrics_gauge(
        m, "probe_denied_instances",
        "Persistent instances with a TCP/HTTP checker whose address may not be probed.", NULL);
    static const char *const types[2] = {"tcp", "http"};
    static const char *const results[HC_PROBE__RESULTS] = {"success", "failure", "timeout",
                                                              "denied"};
    for (int t = 0; t < 2; t++) {
        char labels[64];
        for (int r = 0; r < HC_PROBE__RESULTS; r++) {
            snprintf(labels, sizeof labels, "type=\"%s\",result=\"%s\"", types[t], results[r]);
            hm->probes[t][r] =
                cairn_metrics_counter(m, "probes_total", "Active probes by result.", labels);
        }
        snprintf(labels, sizeof labels, "type=\"%s\"", types[t]);
        hm->probe_seconds[t] = cairn_metrics_histogram(
            m, "probe_seconds", "Time from starting a probe to its result.", labels,
            cairn_latency_buckets, cairn_latency_bucket_count);
    }
}

void hc_count(cairn_counter *c, uint64_t n)
{
    if (c && n)
        cairn_counter_add(c, n);
}

void hc_metrics_probe(hc_metrics *hm, cairn_check_type type, hc_probe_result result,
                      double seconds)
{
    if (!hm->m || (unsigned)result >= HC_PROBE__RESULTS)
        return;
    int t = type == CAIRN_CHECK_HTTP ? 1 : 0;
    cairn_counter_inc(hm->probes[t][result]);
    if (result != HC_PROBE_DENIED)
        cairn_histogram_observe(hm->probe_seconds[t], seconds);
}

cairn_gauge *hc_metrics_preservation(hc_metrics *hm, const char *ns)
{
    if (!hm->m)
        return NULL;
    /* A namespace is any string: escape it as a Prometheus label value. */
    char labels[2 * CAIRN_MAX_NAMESPACE_LEN + 32];
    size_t n = (size_t)snprintf(labels, sizeof labels, "namespace=\"");
    for (const char *c = ns; *c && n + 4 < sizeof labels; c++) {
        if (*c == '\\' || *c == '"') {
            labels[n++] = '\\';
            labels[n++] = *c;
        } else if (*c == '\n') {
            labels[n++] = '\\';
            labels[n++] = 'n';
        } else {
            labels[n++] = *c;
        }
    }
    labels[n++] = '"';
    labels[n] = '\0';
    return cairn_metrics_gauge(hm->m, "preservation_active",
                               "1 while self-preservation holds a namespace's removals.", labels);
}
