/* What one role process of this node says about itself: its admin address (from
 * <run_dir>/<name>.admin), GET /health and a few key metrics from GET /metrics. `cairn status`
 * prints it; the gateway's console shows it (GET /nacos/v1/console/cairn/roles).
 *
 * Thread-safe (no shared state) and bounded: one probe never takes longer than its timeout_ms in
 * all, whatever the role does, so a gateway worker may call it. */
#ifndef CAIRN_ROLE_PROBE_H
#define CAIRN_ROLE_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn_node_roles.h"

typedef struct cairn_role_probe_metric {
    const char *label; /* the role table's static label ("writes") */
    double value;      /* summed over the sample's label sets; never NaN */
} cairn_role_probe_metric;

typedef struct cairn_role_report {
    const char *state; /* static: "ready" (/health 200), "unhealthy" (other status), "down" */
    bool healthy;      /* state is "ready" */
    char address[128]; /* admin host:port as bound, "" when the address file is missing */
    char detail[256];  /* /health's first line, or why the role could not be asked */
    cairn_role_probe_metric metrics[CAIRN_NODE_ROLE_MAX_METRICS]; /* only those found */
    size_t metric_count;
    double start_time; /* the process's start, seconds since the epoch; 0 when not known */
} cairn_role_report;

/* The admin listener of role process name ("registry", "pusher-0") from <run_dir>/<name>.admin:
 * as bound (what the file says) into bound, and as a client on this host dials it into dial (a
 * wildcard bind over loopback). False with the reason in why ("registry has not started (no
 * registry.admin)") when the file cannot be read. */
bool cairn_role_admin_address(const char *run_dir, const char *name, char *bound, size_t bound_len,
                              char *dial, size_t dial_len, char *why, size_t why_len);

/* Fills *out for the role process inst of the node whose run directory is run_dir, within
 * timeout_ms in all (both requests share it). Never fails: an unreachable role is "down". */
void cairn_role_probe(const char *run_dir, const cairn_node_role_instance *inst, int timeout_ms,
                      cairn_role_report *out);

/* "services=3 instances=10" (integers without decimals) into buf; "" when there are none. */
void cairn_role_report_metrics_text(const cairn_role_report *r, char *buf, size_t len);

#endif
