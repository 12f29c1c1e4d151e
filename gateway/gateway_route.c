/* Which path a write takes (gateway_route.h). */
#include "gateway_route.h"

#include "cairn_forward.h"
#include "gateway_members.h"

gateway_path gateway_route_write(gateway *gw, const cairn_request *rq, char *owner,
                                 size_t owner_len)
{
    if (!gw->members || !gw->forward || !cairn_forward_wanted(rq))
        return GATEWAY_PATH_LOCAL;
    if (gateway_members_owner(gw->members, rq->service, owner, owner_len) == GATEWAY_OWNER_PEER)
        return GATEWAY_PATH_OWNER;
    return GATEWAY_PATH_LOCAL;
}
