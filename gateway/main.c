/* cairn-gateway: the Nacos v1 naming HTTP API in front of the registry. */
#include <stdlib.h>

#include "cairn_cluster_config.h"
#include "cairn_role.h"
#include "gateway.h"

int main(int argc, char **argv)
{
    cairn_role role;
    int rc = cairn_role_init(&role, "gateway", argc, argv);
    if (rc != 0)
        return rc;
    gateway gw;
    cairn_status st;
    /* a bad cluster configuration is a configuration error (78), like any other key's */
    cairn_cluster_config *cc = malloc(sizeof *cc);
    cairn_err cluster = cc ? cairn_cluster_config_load(role.config, cc, &st) : CAIRN_E_NOMEM;
    free(cc);
    if (cluster != CAIRN_OK) {
        log_error("config: %s", st.message);
        cairn_role_finish(&role);
        return cluster == CAIRN_E_INVALID ? CAIRN_EXIT_CONFIG : EXIT_FAILURE;
    }
    if (gateway_open(&gw, &role, &st) != CAIRN_OK) {
        log_error("cannot start: %s", st.message);
        cairn_role_finish(&role);
        return EXIT_FAILURE;
    }
    /* The readiness monitor declares the role ready once the whole node is (gateway_ready.h). */
    cairn_role_wait_for_stop(&role);
    gateway_close(&gw);
    return cairn_role_finish(&role);
}
