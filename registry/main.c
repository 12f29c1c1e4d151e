/* cairn-registry: the node's LMDB store and its only writer. Answers requests on
 * CAIRN_EP_REGISTRY_COMMANDS and publishes change events on CAIRN_EP_REGISTRY_EVENTS. */
#include <stdio.h>

#include "cairn_clock.h"
#include "cairn_endpoints.h"
#include "cairn_role.h"
#include "cairn_rpc.h"
#include "registry_events.h"
#include "registry_dispatch.h"
#include "registry_sweep.h"

int main(int argc, char **argv)
{
    cairn_role role;
    int rc = cairn_role_init(&role, "registry", argc, argv);
    if (rc != 0)
        return rc;
    const cairn_config *cfg = role.config;
    registry_store store;
    registry_metrics metrics;
    registry_writer *writer = NULL;
    registry_events *events = NULL;
    registry_sweep *sweep = NULL;
    registry_in_use *in_use = NULL;
    cairn_rpc_server *server = NULL;
    cairn_status st;
    cairn_status_clear(&st);
    char dir[PATH_MAX + 16], cmd_url[PATH_MAX + 64], ev_url[PATH_MAX + 64];
    registry_metrics_init(&metrics, role.metrics, registry_is_read);
    snprintf(dir, sizeof dir, "%s/registry", role.data_dir);

    if (registry_store_open(&store, dir, cairn_config_int(cfg, "registry.map_size_mb"), &st)) {
        log_error("cannot open the store: %s", st.message);
        registry_metrics_destroy(&metrics);
        cairn_role_finish(&role);
        return 1;
    }
    if (cairn_endpoint_url(role.run_dir, CAIRN_EP_REGISTRY_COMMANDS, cmd_url, sizeof cmd_url) ||
        cairn_endpoint_url(role.run_dir, CAIRN_EP_REGISTRY_EVENTS, ev_url, sizeof ev_url)) {
        cairn_fail(&st, CAIRN_E_INVALID, "run directory path too long for an ipc socket: %s",
                   role.run_dir);
        goto fail;
    }
    if (!(events = registry_events_open(ev_url, &st)))
        goto fail;
    /* Reports of subscribers count from now: none was heard before (registry_in_use.h). */
    int64_t clean_after_ms = cairn_config_int(cfg, "registry.empty_service_clean_after_ms");
    if (!(in_use = registry_in_use_new(REGISTRY_IN_USE_MAX_ENTRIES, clean_after_ms,
                                       cairn_wall_ms()))) {
        cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        goto fail;
    }
    registry_writer_config wcfg = {
        .store = &store,
        .metrics = &metrics,
        .max_batch = (uint32_t)cairn_config_int(cfg, "registry.max_batch"),
        .max_instances_per_service = cairn_config_int(cfg, "limits.max_instances_per_service"),
        .limits = {.max_metadata_bytes =
                       (size_t)cairn_config_int(cfg, "limits.max_metadata_bytes")},
        .publish = registry_events_publish,
        .publish_end = registry_events_flush,
        .publish_arg = events,
        .event_tick_ms = cairn_config_int(cfg, "registry.event_tick_ms"),
        .event_snapshot_max_bytes =
            (size_t)cairn_config_int(cfg, "registry.event_snapshot_max_bytes"),
        .in_use = in_use,
    };
    if (registry_writer_start(&wcfg, &writer, &st))
        goto fail;
    registry_sweep_config scfg = {
        .store = &store,
        .writer = writer,
        .metrics = &metrics,
        .clean_after_ms = clean_after_ms,
        .period_ms = cairn_config_int(cfg, "registry.empty_service_sweep_ms"),
        .in_use = in_use,
    };
    if (cairn_config_bool(cfg, "registry.empty_service_clean") &&
        registry_sweep_start(&scfg, &sweep, &st))
        goto fail;
    registry reg = {
        .store = &store,
        .writer = writer,
        .metrics = &metrics,
        .limits = {.max_metadata_bytes =
                       (size_t)cairn_config_int(cfg, "limits.max_metadata_bytes")},
        .in_use = in_use,
    };
    registry_metrics_attach(&metrics, &store, writer);
    cairn_role_set_health(&role, registry_health, &metrics);
    if (!(server = cairn_rpc_server_start_deferring(
              cmd_url, (int)cairn_config_int(cfg, "registry.workers"), registry_handle,
              registry_defer, &reg, role.metrics, &st)))
        goto fail;

    log_info("store %s, commands on %s, events on %s", dir, cmd_url, ev_url);
    if (sweep)
        log_info("services empty for %lld ms are removed (a sweep every %lld ms)",
                 (long long)scfg.clean_after_ms, (long long)scfg.period_ms);
    cairn_role_ready(&role);
    cairn_role_wait_for_stop(&role);
    rc = 0;
    goto stop;
fail:
    log_error("start-up failed: %s", st.message);
    rc = 1;
stop:
    /* No new requests, then the queued writes finish, then the store closes. */
    if (server)
        cairn_rpc_server_stop(server);
    registry_metrics_detach(&metrics);
    registry_sweep_stop(sweep); /* its writes go through the writer */
    registry_writer_stop(writer);
    registry_in_use_free(in_use); /* after the sweep's and the writer's writes, which read it */
    registry_events_close(events);
    registry_store_close(&store);
    int frc = cairn_role_finish(&role);
    registry_metrics_destroy(&metrics);
    return rc ? rc : frc;
}
