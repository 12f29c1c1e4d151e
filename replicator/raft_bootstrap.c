/* The bootstrap decision (rules in raft_bootstrap.h). */
#include "raft_bootstrap.h"

cairn_raft_start cairn_raft_start_decide(const cairn_raft_start_input *in)
{
    if (!in->self_pristine)
        return CAIRN_RAFT_START_RESUME;
    size_t reachable = 1; /* self */
    bool all_pristine = true;
    for (size_t i = 0; i < in->peer_count; i++) {
        const cairn_raft_peer_view *p = &in->peers[i];
        if (p->ever_initialized)
            return CAIRN_RAFT_START_JOIN;
        if (p->reachable) {
            reachable++;
            all_pristine = all_pristine && p->pristine;
        }
    }
    if (in->peer_count == 0)
        return CAIRN_RAFT_START_BOOTSTRAP;
    if (in->now_ms - in->waiting_since_ms < in->bootstrap_wait_ms)
        return CAIRN_RAFT_START_WAIT;
    size_t members = in->peer_count + 1;
    if (reachable >= members / 2 + 1 && all_pristine)
        return CAIRN_RAFT_START_BOOTSTRAP;
    return CAIRN_RAFT_START_WAIT;
}

const char *cairn_raft_start_name(cairn_raft_start d)
{
    switch (d) {
    case CAIRN_RAFT_START_WAIT:
        return "wait";
    case CAIRN_RAFT_START_BOOTSTRAP:
        return "bootstrap";
    case CAIRN_RAFT_START_JOIN:
        return "join";
    case CAIRN_RAFT_START_RESUME:
        return "resume";
    }
    return "unknown";
}

bool cairn_raft_catchup_step(cairn_raft_catchup *c, const cairn_raft_catchup_input *in)
{
    if (c->done || in->brand_new)
        return c->done = true;
    if (!in->started)
        return false;
    if (!c->have_target && (in->self_leader || in->leader_reported)) {
        c->have_target = true;
        c->target = in->self_leader ? in->self_commit : in->leader_commit;
    }
    c->done = c->have_target && in->applied >= c->target && in->registry_idle;
    return c->done;
}
