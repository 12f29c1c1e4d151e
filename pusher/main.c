/* cairn-pusher: UDP change pushes to subscribers (§12); pusher.count of them run side by side,
 * each owning the services that hash to its pusher.index. */
#include <stdlib.h>

#include "cairn_role.h"
#include "pusher.h"

int main(int argc, char **argv)
{
    cairn_role role;
    int rc = cairn_role_init(&role, "pusher", argc, argv);
    if (rc != 0)
        return rc;
    pusher p;
    cairn_status st;
    cairn_err err = pusher_open(&p, &role, &st);
    if (err != CAIRN_OK) {
        log_error("cannot start: %s", st.message);
        cairn_role_finish(&role);
        return err == CAIRN_E_INVALID ? CAIRN_EXIT_CONFIG : EXIT_FAILURE;
    }
    /* The loop declares the role ready once it is connected and caught up (pusher.h). */
    cairn_role_wait_for_stop(&role);
    pusher_close(&p);
    return cairn_role_finish(&role);
}
