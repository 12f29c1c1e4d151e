/* One write on its kind's path (gateway_write_step.h). */
#include "gateway_write_step.h"

#include "cairn_cluster_config.h"
#include "cairn_peer_raft.h"
#include "gateway_forward.h"
#include "gateway_route.h"
#include "gateway_route_persist.h"

cairn_err gateway_write_step_send(gateway *gw, gateway_write_step *s, cairn_rpc_done done,
                                  void *arg, cairn_status *st)
{
    s->raft = gateway_route_persist(gw, &s->rq);
    s->client = NULL;
    if (s->raft) {
        if (cairn_raft_submit_wrap(&s->rq, st) != CAIRN_OK)
            return st->code;
        gateway_raft_call(gw, &s->rq, done, arg);
        return CAIRN_OK;
    }
    char owner[CAIRN_CLUSTER_ID_MAX];
    if (gateway_route_write(gw, &s->rq, owner, sizeof owner) == GATEWAY_PATH_OWNER) {
        gateway_forward_call(gw->forward, &s->rq, owner, done, arg);
    } else {
        s->client = gw->registry;
        cairn_rpc_call_async(gw->registry, &s->rq, done, arg);
    }
    return CAIRN_OK;
}

cairn_err gateway_write_step_outcome(gateway *gw, gateway_write_step *s, cairn_err rc,
                                     cairn_reply *rep, cairn_status *st)
{
    if (s->raft)
        return gateway_raft_outcome(gw, &s->rq, rc, rep, st);
    return gateway_call_outcome(gw, s->client, &s->rq, rc, rep, st);
}
