/* DISTRO_READ bodies (cairn_peer_read.h). */
#include "cairn_peer_read.h"

bool cairn_peer_read_allowed(cairn_msg_type type)
{
    switch (type) {
    case CAIRN_MSG_DISTRO_SNAPSHOT:
    case CAIRN_MSG_DISTRO_DIGESTS:
    case CAIRN_MSG_DISTRO_KEYS:
    case CAIRN_MSG_DISTRO_FETCH:
    case CAIRN_MSG_STATS:
        return true;
    default:
        return false;
    }
}

cairn_err cairn_peer_read_decode(const char *buf, size_t len, cairn_request *req,
                                 cairn_status *st)
{
    if (cairn_request_decode(buf, len, req, st) != CAIRN_OK)
        return st->code;
    if (!cairn_peer_read_allowed(req->type))
        return cairn_fail(st, CAIRN_E_DECODE, "a %s may not travel in a DISTRO_READ",
                          cairn_msg_type_name(req->type));
    return CAIRN_OK;
}
