/* `cairn status`: one line per role with its state, admin address, health detail and key
 * metrics, from the admin listeners whose addresses the roles wrote into the run directory. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_address.h"
#include "cairn_endpoints.h"
#include "cairn_prom_text.h"
#include "cli.h"
#include "cairn_http_get.h"
#include "cli_options.h"
#include "cli_roles.h"

#define STATUS_TIMEOUT_MS 2000

typedef struct role_status {
    const char *state; /* ready, unhealthy, down */
    char address[128];
    char detail[256];
    char metrics[256];
} role_status;

static void read_address(const char *run_dir, const char *name, role_status *rs)
{
    char path[PATH_MAX];
    rs->address[0] = '\0';
    if (cairn_admin_address_path(run_dir, name, path, sizeof path) != 0)
        return;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(rs->detail, sizeof rs->detail, "no %s.admin address file (%s)", name,
                 strerror(errno));
        return;
    }
    if (!fgets(rs->address, sizeof rs->address, f))
        rs->address[0] = '\0';
    fclose(f);
    rs->address[strcspn(rs->address, " \t\r\n")] = '\0';
}

/* "services=3 instances=10 writes=42" from the role's /metrics (nothing when it does not
 * parse); a metric without samples, or NaN, is left out. */
static void summarise_metrics(const cli_role *role, const char *text, size_t len, char *out,
                              size_t out_len)
{
    out[0] = '\0';
    cairn_prom_text t;
    char err[256];
    if (!cairn_prom_parse(text, len, &t, err, sizeof err))
        return;
    for (size_t i = 0; i < CLI_ROLE_MAX_METRICS && role->metrics[i].label; i++) {
        size_t found;
        size_t used = strlen(out);
        double v = cairn_prom_sum_named(&t, role->metrics[i].sample, NULL, &found);
        if (found == 0 || isnan(v))
            continue;
        if (v == floor(v) && fabs(v) < 1e15)
            snprintf(out + used, out_len - used, "%s%s=%.0f", used ? " " : "",
                     role->metrics[i].label, v);
        else
            snprintf(out + used, out_len - used, "%s%s=%g", used ? " " : "",
                     role->metrics[i].label, v);
    }
    cairn_prom_free(&t);
}

static void query_role(const char *run_dir, const cli_role_instance *inst, role_status *rs)
{
    const cli_role *role = inst->role;
    memset(rs, 0, sizeof *rs);
    rs->state = "down";
    read_address(run_dir, inst->name, rs);
    if (!rs->address[0])
        return;
    /* Shown as bound; a wildcard listener is asked over loopback. */
    char dial[sizeof rs->address];
    cairn_dial_address(rs->address, dial, sizeof dial);

    cairn_http_response resp;
    char err[256];
    if (cairn_http_get(dial, "/health", STATUS_TIMEOUT_MS, &resp, err, sizeof err) != 0) {
        snprintf(rs->detail, sizeof rs->detail, "%s", err);
        return;
    }
    rs->state = resp.status == 200 ? "ready" : "unhealthy";
    snprintf(rs->detail, sizeof rs->detail, "%s", resp.body);
    rs->detail[strcspn(rs->detail, "\r\n")] = '\0';
    cairn_http_response_free(&resp);

    if (cairn_http_get(dial, "/metrics", STATUS_TIMEOUT_MS, &resp, err, sizeof err) == 0) {
        if (resp.status == 200)
            summarise_metrics(role, resp.body, resp.body_len, rs->metrics, sizeof rs->metrics);
        cairn_http_response_free(&resp);
    }
}

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
    cli_role_instance *instances = cli_role_instances(cfg, &process_count);
    cairn_config_free(cfg);
    if (!instances)
        return 1;

    bool all_ready = true;
    printf("%-12s %-10s %-22s %s\n", "ROLE", "STATE", "ADMIN", "DETAIL");
    for (size_t i = 0; i < process_count; i++) {
        role_status rs;
        query_role(run_dir, &instances[i], &rs);
        all_ready = all_ready && strcmp(rs.state, "ready") == 0;
        printf("%-12s %-10s %-22s %s%s%s\n", instances[i].name, rs.state,
               rs.address[0] ? rs.address : "-", rs.detail, rs.metrics[0] ? "; " : "",
               rs.metrics);
    }
    free(instances);
    fflush(stdout);
    return all_ready ? 0 : 1;
}
