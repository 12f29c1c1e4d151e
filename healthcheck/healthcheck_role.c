/* Start-up and shut-down of the healthcheck role, its configuration and its /health answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "healthcheck.h"

/* How often start-up checks for a stop signal while it waits for the first load. */
#define LOAD_WAIT_SLICE_MS 200

cairn_err healthcheck_configure(healthcheck *hc, const cairn_config *cfg, cairn_status *st)
{
    hc_config *c = &hc->cfg;
    c->workers = (int)cairn_config_int(cfg, "healthcheck.workers");
    c->registry_timeout_ms = (int)cairn_config_int(cfg, "healthcheck.registry_timeout_ms");
    c->check_interval_ms = cairn_config_int(cfg, "health.check_interval_ms");
    c->beat_timeout_ms = cairn_config_int(cfg, "health.beat_timeout_ms");
    c->delete_timeout_ms = cairn_config_int(cfg, "health.delete_timeout_ms");
    c->expire_instances = cairn_config_bool(cfg, "health.expire_instances");
    c->preservation_ratio = cairn_config_double(cfg, "health.preservation_ratio");
    c->preservation_min_instances = cairn_config_int(cfg, "health.preservation_min_instances");
    c->probe_interval_ms = cairn_config_int(cfg, "health.probe_interval_ms");
    c->probe_timeout_ms = cairn_config_int(cfg, "health.probe_timeout_ms");
    c->probe_healthy_threshold = (int)cairn_config_int(cfg, "health.probe_healthy_threshold");
    c->probe_unhealthy_threshold = (int)cairn_config_int(cfg, "health.probe_unhealthy_threshold");
    c->max_probes_in_flight = (int)cairn_config_int(cfg, "health.max_probes_in_flight");
    cairn_err err = hc_netfilter_parse(&hc->probe_filter,
                                       cairn_config_string(cfg, "health.probe_networks"), st);
    if (err == CAIRN_OK && hc_netfilter_refresh_own(&hc->probe_filter) != 0)
        log_warn("cannot read this host's addresses (%s): probes are kept from loopback and "
                 "special addresses only until they can be read",
                 strerror(errno));
    return err;
}

static void collect(cairn_metrics *m, void *arg)
{
    (void)m;
    healthcheck *hc = arg;
    size_t all, ephemeral, probed;
    hc_table_counts(&hc->table, &all, &ephemeral, &probed);
    cairn_gauge_set(hc->metrics.tracked, (double)all);
    cairn_gauge_set(hc->metrics.tracked_ephemeral, (double)ephemeral);
    cairn_gauge_set(hc->metrics.probed, (double)probed);
    cairn_gauge_set(hc->metrics.probe_denied, (double)hc_table_denied(&hc->table));
}

bool healthcheck_health(void *arg, char *detail, size_t detail_len)
{
    healthcheck *hc = arg;
    size_t all, ephemeral, probed;
    hc_table_counts(&hc->table, &all, &ephemeral, &probed);
    bool registry_ok = !atomic_load(&hc->registry_down);
    snprintf(detail, detail_len, "tracking %zu instances (%zu ephemeral, %zu probed)%s", all,
             ephemeral, probed, registry_ok ? "" : "; registry unavailable");
    /* Beats of known instances are answered without the registry: healthy either way. */
    return true;
}

cairn_err healthcheck_start(healthcheck *hc, cairn_role *role, bool *stopped, cairn_status *st)
{
    *stopped = false;
    hc->role = role;
    snprintf(hc->run_dir, sizeof hc->run_dir, "%s", role->run_dir);
    hc_metrics_init(&hc->metrics, role->metrics);
    if (hc_table_init(&hc->table, &hc->probe_filter, hc->cfg.beat_timeout_ms,
                      hc->cfg.delete_timeout_ms) != 0)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    hc->table_ready = true;
    if (role->metrics)
        cairn_metrics_on_collect(role->metrics, collect, hc);

    char reg_url[PATH_MAX + 64], cmd_url[PATH_MAX + 64];
    if (cairn_endpoint_url(role->run_dir, CAIRN_EP_REGISTRY_COMMANDS, reg_url, sizeof reg_url) ||
        cairn_endpoint_url(role->run_dir, CAIRN_EP_HEALTHCHECK_COMMANDS, cmd_url,
                           sizeof cmd_url)) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   role->run_dir);
        goto fail;
    }
    if (!(hc->registry = cairn_rpc_client_open(reg_url, "registry", hc->cfg.registry_timeout_ms,
                                               st)))
        goto fail;
    if (hc_sync_start(hc, st) != CAIRN_OK || hc_members_start(hc, st) != CAIRN_OK)
        goto fail;
    /* Instances are loaded before beats are answered, so that every instance present now gets
     * the same fresh grace period instead of being looked up one beat at a time. */
    while (!hc_sync_wait_loaded(hc, LOAD_WAIT_SLICE_MS)) {
        if (!cairn_role_running()) {
            *stopped = true;
            healthcheck_stop(hc);
            return CAIRN_OK;
        }
    }
    if (!(hc->server = cairn_rpc_server_start(cmd_url, hc->cfg.workers, hc_handle_request, hc,
                                              role->metrics, st)))
        goto fail;
    if (hc_sweep_start(hc, st) != CAIRN_OK || hc_probe_start(hc, st) != CAIRN_OK)
        goto fail;
    cairn_role_set_health(role, healthcheck_health, hc);
    cairn_role_set_ready_check(role, hc_sync_ready, hc);
    log_info("beats on %s; sweep every %lld ms (beat timeout %lld ms, delete timeout %lld ms); "
             "probes every %lld ms",
             cmd_url, (long long)hc->cfg.check_interval_ms, (long long)hc->cfg.beat_timeout_ms,
             (long long)hc->cfg.delete_timeout_ms, (long long)hc->cfg.probe_interval_ms);
    return CAIRN_OK;
fail:
    healthcheck_stop(hc);
    return st->code != CAIRN_OK ? st->code : CAIRN_E_INTERNAL;
}

void healthcheck_stop(healthcheck *hc)
{
    /* /ready asks the sync thread's state: that question stops before the thread does. */
    if (hc->role)
        cairn_role_set_ready_check(hc->role, NULL, NULL);
    /* No new beats, then the threads, then what they share. */
    cairn_rpc_server_stop(hc->server);
    hc->server = NULL;
    hc_probe_stop(hc);
    hc_sweep_stop(hc);
    hc_members_stop(hc);
    hc_sync_stop(hc);
    cairn_rpc_client_close(hc->registry);
    hc->registry = NULL;
}

void healthcheck_destroy(healthcheck *hc)
{
    if (hc->table_ready)
        hc_table_destroy(&hc->table);
    hc->table_ready = false;
    hc_netfilter_free(&hc->probe_filter);
}
