/* The healthcheck role: heartbeats of ephemeral instances, their expiry, and active TCP/HTTP
 * probes of persistent ones (design §4, Nacos §2.7, §13).
 *
 *   rpc workers   answer CAIRN_MSG_BEAT from the gateway (healthcheck_beat.c)
 *   event thread  follows the registry: SUB to change events first, then loads every service
 *                 (SNAPSHOT_PAGE), then reconciles the services events name (healthcheck_sync.c)
 *   sweep thread  every health.check_interval_ms: unhealthy flips and removals of ephemeral
 *                 instances, with self-preservation (healthcheck_sweep.c)
 *   probe thread  a libuv loop probing persistent instances (healthcheck_probe.c)
 * They share the table (healthcheck_table.h) and one rpc client of the registry. */
#ifndef HEALTHCHECK_H
#define HEALTHCHECK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn_role.h"
#include "cairn_rpc.h"
#include "healthcheck_metrics.h"
#include "healthcheck_netfilter.h"
#include "healthcheck_table.h"

typedef struct hc_config {
    int workers;
    int registry_timeout_ms;
    int64_t check_interval_ms;
    int64_t beat_timeout_ms;
    int64_t delete_timeout_ms;
    bool expire_instances;
    double preservation_ratio;
    int64_t preservation_min_instances;
    int64_t probe_interval_ms;
    int64_t probe_timeout_ms;
    int probe_healthy_threshold;
    int probe_unhealthy_threshold;
    int max_probes_in_flight;
} hc_config;

typedef struct hc_sync hc_sync;
typedef struct hc_members hc_members;
typedef struct hc_sweeper hc_sweeper;
typedef struct hc_prober hc_prober;

typedef struct healthcheck {
    hc_config cfg;
    hc_metrics metrics;
    hc_netfilter probe_filter;
    hc_table table;
    bool table_ready;
    cairn_rpc_client *registry;
    cairn_rpc_server *server;
    hc_sync *sync;
    hc_members *members; /* cluster only: follows MEMBERSHIP (healthcheck_members.c) */
    /* cluster only: the replicator, which takes a persistent instance's health flips into the
     * raft log (hc_call_set_health); opened and closed with members */
    cairn_rpc_client *raft;
    hc_sweeper *sweeper;
    hc_prober *prober;
    char run_dir[PATH_MAX];
    cairn_role *role; /* set by healthcheck_start */
    atomic_bool registry_down; /* the last registry call failed as unavailable (for the log) */
} healthcheck;

/* Reads the configuration (the probe network list may be invalid: CAIRN_E_INVALID). */
cairn_err healthcheck_configure(healthcheck *hc, const cairn_config *cfg, cairn_status *st);

/* Starts everything: events and the initial load (waits for it while the role runs), then the
 * beat server, the sweep and the probes. Returns CAIRN_OK, or an error with *st (nothing left
 * running); *stopped is set when a stop signal came before the load finished. */
cairn_err healthcheck_start(healthcheck *hc, cairn_role *role, bool *stopped, cairn_status *st);
void healthcheck_stop(healthcheck *hc);
/* Frees the table and configuration, after healthcheck_stop. */
void healthcheck_destroy(healthcheck *hc);

/* cairn_health_fn for the admin /health. */
bool healthcheck_health(void *arg, char *detail, size_t detail_len);

/* Monotonic milliseconds. */
int64_t hc_now_ms(void);

/* ---- calls to the registry (healthcheck_calls.c) -------------------------------------------- */
/* Each returns the call's outcome (CAIRN_E_UNAVAILABLE when the registry is down or slow) and
 * counts failures; rep-carrying ones leave the reply for the caller to free. */
cairn_err hc_call(healthcheck *hc, const cairn_request *req, cairn_reply *rep, cairn_status *st);
/* INSTANCE_HEALTH BY_CHECKER; in a cluster a persistent instance's goes through raft (hc->raft). */
cairn_err hc_call_set_health(healthcheck *hc, const char *ns, const char *svc, const char *cluster,
                             const char *ip, int32_t port, bool ephemeral, bool healthy,
                             cairn_status *st);
/* INSTANCE_REMOVE. */
cairn_err hc_call_remove(healthcheck *hc, const char *ns, const char *svc, const char *cluster,
                         const char *ip, int32_t port, bool ephemeral, cairn_status *st);
/* SERVICE_GET; the snapshot is in rep->snapshot. */
cairn_err hc_call_service_get(healthcheck *hc, const char *ns, const char *svc, cairn_reply *rep,
                              cairn_status *st);

/* ---- the threads (one file each) ------------------------------------------------------------ */
cairn_err hc_sync_start(healthcheck *hc, cairn_status *st);
/* Waits up to timeout_ms for the first full load; true once it is done. */
bool hc_sync_wait_loaded(healthcheck *hc, int timeout_ms);
/* The /ready check (arg: the healthcheck): following the registry's change events. */
bool hc_sync_ready(void *arg, char *detail, size_t detail_len);
void hc_sync_stop(healthcheck *hc);

/* healthcheck_members.c: in a cluster, follow the replicator's MEMBERSHIP so the sweep and the
 * probes check only owned services (healthcheck_responsibility.h). No-op standalone. */
cairn_err hc_members_start(healthcheck *hc, cairn_status *st);
void hc_members_stop(healthcheck *hc);

cairn_err hc_sweep_start(healthcheck *hc, cairn_status *st);
void hc_sweep_stop(healthcheck *hc);

cairn_err hc_probe_start(healthcheck *hc, cairn_status *st);
void hc_probe_stop(healthcheck *hc);

/* cairn_rpc_handler: BEAT requests (healthcheck_beat.c). */
void hc_handle_request(void *arg, const cairn_request *req, cairn_reply *rep);

#endif
