/* The stateless checks of a raft command, run before raft_apply (raft_commands.h). */
#include "cairn_peer_raft.h"
#include "cairn_write_rules.h"
#include "raft_commands.h"

cairn_err raft_cmd_check(const raft_cmd_limits *lim, const cairn_request *req, cairn_status *st)
{
    if ((req->has_instance && cairn_instance_check_limits(&req->instance, &lim->limits, st)) ||
        (req->has_service && cairn_service_check_limits(&req->service_def, &lim->limits, st)))
        return st->code;
    if (!cairn_raft_is_command(req)) /* the FSM's words (raft_cmd_apply) */
        return cairn_fail(st, CAIRN_E_INVALID,
                          req->has_instance && req->instance.ephemeral
                              ? "%s of an ephemeral instance is not a raft command"
                              : "%s is not a raft command",
                          cairn_msg_type_name(req->type));
    if (req->type == CAIRN_MSG_SERVICE_PUT || req->type == CAIRN_MSG_SERVICE_REMOVE) {
        if (cairn_check_service_ref(req, st))
            return st->code;
    } else {
        const char *cluster;
        if (cairn_check_instance_ref(req, &cluster, st))
            return st->code;
    }
    if (req->type != CAIRN_MSG_SERVICE_PUT)
        return CAIRN_OK;
    if (req->mode > CAIRN_SERVICE_CLUSTERS)
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported service mode %u", req->mode);
    if (req->mode == CAIRN_SERVICE_CREATE && cairn_check_service_chars(req->service, st))
        return st->code;
    if (req->mode == CAIRN_SERVICE_CLUSTERS &&
        (!req->has_service || req->service_def.cluster_count == 0))
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'clusterName' is required.");
    return CAIRN_OK;
}
