/* cairn-replicator: cluster membership and the peer channel (replicator.h). */
#include <stdlib.h>

#include "cairn_role.h"
#include "replicator.h"

int main(int argc, char **argv)
{
    cairn_role role;
    int rc = cairn_role_init(&role, "replicator", argc, argv);
    if (rc != 0)
        return rc;
    static replicator r; /* large (per-member state): not on the stack */
    if ((rc = replicator_init(&r, &role)) != 0) {
        cairn_role_finish(&role);
        return rc;
    }
    cairn_status st;
    if (replicator_start(&r, &st) != CAIRN_OK) {
        log_error("cannot start: %s", st.message);
        replicator_stop(&r);
        replicator_destroy(&r);
        cairn_role_finish(&role);
        return st.code == CAIRN_E_INVALID ? CAIRN_EXIT_CONFIG : EXIT_FAILURE;
    }
    cairn_role_wait_for_stop(&role);
    replicator_stop(&r);
    replicator_destroy(&r);
    return cairn_role_finish(&role);
}
