/* `cairn status`: one line per role with its state, process id, uptime and restarts, admin
 * address, health detail and key metrics, from the admin listeners whose addresses the roles
 * wrote into the run directory and from `cairn run`'s state file (cli_state.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_node_roles.h"
#include "cairn_role_probe.h"
#include "cli.h"
#include "cli_options.h"
#include "cli_state.h"
#include "cairn_clock.h"

#define STATUS_TIMEOUT_MS 2000
#define MAX_RECORDS 80 /* role processes: pusher.count is at most 64 */

static cli_role_record records[MAX_RECORDS];

/* Probes one role process and prints its line; rec is what `cairn run` says of it, or NULL.
 * Returns whether the role is healthy. */
static bool print_role(const char *run_dir, const cairn_node_role_instance *inst,
                       const cli_role_record *rec)
{
    cairn_role_report rs;
    cairn_role_probe(run_dir, inst, STATUS_TIMEOUT_MS, &rs);
    char metrics[256], pid[24] = "-", uptime[24] = "-", restarts[24] = "-";
    cairn_role_report_metrics_text(&rs, metrics, sizeof metrics);
    int64_t now = cairn_wall_ms();
    if (rec) {
        snprintf(restarts, sizeof restarts, "%u", rec->restarts);
        if (rec->pid > 0) {
            snprintf(pid, sizeof pid, "%ld", rec->pid);
            cli_format_duration(now - rec->started_ms, uptime, sizeof uptime);
        }
    } else if (rs.start_time > 0) {
        cli_format_duration(now - (int64_t)(rs.start_time * 1000), uptime, sizeof uptime);
    }
    /* A process `cairn run` is about to start again is "restarting" rather than "down". */
    const char *state = rec && rec->pid == 0 && !rs.healthy ? rec->state : rs.state;
    printf("%-12s %-10s %-8s %-8s %-8s %-22s %s%s%s\n", inst->name, state, pid, uptime,
           restarts, rs.address[0] ? rs.address : "-", rs.detail, metrics[0] ? "; " : "",
           metrics);
    return rs.healthy;
}

int cli_status_main(int argc, char **argv)
{
    cairn_config *cfg;
    int rc = cli_options_config("status", argc, argv, &cfg);
    if (!cfg)
        return rc;
    char run_dir[PATH_MAX];
    cairn_config_run_dir(cfg, run_dir, sizeof run_dir);
    size_t process_count = 0;
    cairn_node_role_instance *instances = cairn_node_role_instances(cfg, &process_count);
    bool cluster = *cairn_config_string(cfg, "cluster.members") != '\0';
    cairn_config_free(cfg);
    if (!instances)
        return 1;

    /* Process facts come from `cairn run` while it runs; under systemd only the uptime is
     * known, from the role's own start_time_seconds. */
    long supervisor = 0;
    int record_count = cli_state_read(run_dir, &supervisor, records, MAX_RECORDS);
    if (record_count > 0 && !cli_state_supervisor_alive(supervisor))
        record_count = 0;
    bool all_ready = true;
    printf("%-12s %-10s %-8s %-8s %-8s %-22s %s\n", "ROLE", "STATE", "PID", "UPTIME",
           "RESTARTS", "ADMIN", "DETAIL");
    for (size_t i = 0; i < process_count; i++) {
        const cli_role_record *rec = NULL;
        for (int k = 0; k < record_count && !rec; k++)
            if (strcmp(records[k].name, instances[i].name) == 0)
                rec = &records[k];
        all_ready = print_role(run_dir, &instances[i], rec) && all_ready;
    }
    free(instances);
    if (cluster)
        all_ready = cli_print_members(run_dir, STATUS_TIMEOUT_MS) && all_ready;
    fflush(stdout);
    return all_ready ? 0 : 1;
}
