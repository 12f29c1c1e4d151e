/* cairn-healthcheck: heartbeats, expiry sweeps and active probes (healthcheck.h). */
#include <stdlib.h>

#include "cairn_role.h"
#include "healthcheck.h"

int main(int argc, char **argv)
{
    cairn_role role;
    int rc = cairn_role_init(&role, "healthcheck", argc, argv);
    if (rc != 0)
        return rc;
    healthcheck hc = {0};
    cairn_status st;
    cairn_status_clear(&st);
    if (healthcheck_configure(&hc, role.config, &st) != CAIRN_OK) {
        log_error("%s", st.message);
        cairn_role_finish(&role);
        return CAIRN_EXIT_CONFIG;
    }
    /* The metrics collector and /health read the table until the admin listener stops (in
     * cairn_role_finish), so the table is freed after that. */
    bool stopped;
    if (healthcheck_start(&hc, &role, &stopped, &st) != CAIRN_OK) {
        log_error("cannot start: %s", st.message);
        cairn_role_finish(&role);
        healthcheck_destroy(&hc);
        return EXIT_FAILURE;
    }
    if (!stopped) {
        cairn_role_ready(&role);
        cairn_role_wait_for_stop(&role);
        healthcheck_stop(&hc);
    }
    rc = cairn_role_finish(&role);
    healthcheck_destroy(&hc);
    return rc;
}
