/* Which path a write takes. One function decides it for every write and beat the gateway sends
 * (gateway_job.c asks it), so that each routing rule of the cluster lives here:
 *   standalone (no cluster.members)       the local role, as always (no extra hop);
 *   an ephemeral instance write or a beat  the service's Distro owner in the latest MEMBERSHIP
 *   (cairn_forward_wanted)                 view: the local role when self owns it (or no view or
 *                                          owner list is known yet), else forwarded
 *                                          (gateway_forward.h);
 *   anything else                          the local role. */
#ifndef GATEWAY_ROUTE_H
#define GATEWAY_ROUTE_H

#include <stddef.h>

#include "gateway.h"

typedef enum gateway_path {
    GATEWAY_PATH_LOCAL = 0, /* the local registry or beat handler */
    GATEWAY_PATH_OWNER = 1, /* the owner named in *owner, through the local replicator */
} gateway_path;

/* Any thread; never blocks beyond gateway_members' short lock. owner gets the owner's identity
 * when the answer is GATEWAY_PATH_OWNER. */
gateway_path gateway_route_write(gateway *gw, const cairn_request *rq, char *owner,
                                 size_t owner_len);

#endif
