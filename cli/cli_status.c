/* `cairn status`: one line per role with its state, admin address, health detail and key
 * metrics, from the admin listeners whose addresses the roles wrote into the run directory. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_node_roles.h"
#include "cairn_role_probe.h"
#include "cli.h"
#include "cli_options.h"

#define STATUS_TIMEOUT_MS 2000

int cli_status_main(int argc, char **argv)
{
    cli_options opts;
    int rc = cli_options_parse(&opts, "status", argc, argv);
    if (rc != 0) {
        cli_options_free(&opts);
        return rc == CLI_OPTIONS_HELP ? 0 : rc;
    }
    cairn_config *cfg = cli_options_load(&opts);
    cli_options_free(&opts);
    if (!cfg)
        return CAIRN_EXIT_CONFIG;
    char run_dir[PATH_MAX];
    cairn_config_run_dir(cfg, run_dir, sizeof run_dir);
    size_t process_count = 0;
    cairn_node_role_instance *instances = cairn_node_role_instances(cfg, &process_count);
    cairn_config_free(cfg);
    if (!instances)
        return 1;

    bool all_ready = true;
    printf("%-12s %-10s %-22s %s\n", "ROLE", "STATE", "ADMIN", "DETAIL");
    for (size_t i = 0; i < process_count; i++) {
        cairn_role_report rs;
        cairn_role_probe(run_dir, &instances[i], STATUS_TIMEOUT_MS, &rs);
        all_ready = all_ready && rs.healthy;
        char metrics[256];
        cairn_role_report_metrics_text(&rs, metrics, sizeof metrics);
        printf("%-12s %-10s %-22s %s%s%s\n", instances[i].name, rs.state,
               rs.address[0] ? rs.address : "-", rs.detail, metrics[0] ? "; " : "", metrics);
    }
    free(instances);
    fflush(stdout);
    return all_ready ? 0 : 1;
}
