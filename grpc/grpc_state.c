/* Admission and liveness rules of a gRPC connection (grpc_state.h). */
#include "grpc_state.h"

grpc_admission grpc_admit(bool known, bool server_check, bool setup)
{
    if (server_check)
        return GRPC_ADMIT; /* answered at any time, before the setup too */
    if (!known)
        return GRPC_REFUSE_NO_HANDLER;
    return setup ? GRPC_ADMIT : GRPC_REFUSE_UNREGISTERED;
}

void grpc_liveness_init(grpc_liveness *l, int64_t now)
{
    l->last_active = now;
    l->probe_sent = 0;
}

void grpc_liveness_touch(grpc_liveness *l, int64_t now)
{
    if (now > l->last_active)
        l->last_active = now;
    l->probe_sent = 0;
}

grpc_live_action grpc_liveness_check(grpc_liveness *l, int64_t now, int64_t idle_ms,
                                     int64_t timeout_ms)
{
    if (l->probe_sent)
        return now - l->probe_sent >= timeout_ms ? GRPC_LIVE_DEAD : GRPC_LIVE_OK;
    if (now - l->last_active < idle_ms)
        return GRPC_LIVE_OK;
    l->probe_sent = now > 0 ? now : 1;
    return GRPC_LIVE_PROBE;
}

int64_t grpc_liveness_due(const grpc_liveness *l, int64_t idle_ms, int64_t timeout_ms)
{
    return l->probe_sent ? l->probe_sent + timeout_ms : l->last_active + idle_ms;
}
