/* INSTANCE_HEALTH: the health of one instance set by the healthcheck role (beat expiry, beat
 * revival, active probes) or by hand through PUT /health/instance (§5). */
#include "registry_handlers.h"

#include <string.h>

/* Sets the health of the instance of one kind; *changed reports a write. */
static cairn_err set_one(registry_write_ctx *c, const char *ns, const cairn_request *req,
                         const char *cluster, bool ephemeral, bool *changed, cairn_status *st)
{
    cairn_instance in;
    bool found;
    if (registry_store_get_instance(c->store, c->txn, ns, req->service, ephemeral, cluster,
                                    req->instance.ip, req->instance.port, &in, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK; /* unknown ip:port: "ok", nothing changes (§5) */
    cairn_err err = CAIRN_OK;
    /* Health set by hand (marked) is left alone by the checkers. */
    bool skip = req->mode == CAIRN_HEALTH_BY_CHECKER && in.marked;
    if (!skip && in.healthy != req->instance.healthy) {
        in.healthy = req->instance.healthy;
        in.modified_ms = c->now_ms;
        err = registry_store_put_instance(c->store, c->txn, ns, req->service, &in, st);
        if (!err)
            *changed = true;
    }
    cairn_instance_free(&in);
    return err;
}

cairn_err registry_instance_health(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    (void)rep;
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    if (req->mode > CAIRN_HEALTH_MANUAL_KIND)
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported health mode %u", req->mode);
    const char *ns = cairn_req_ns(req);
    cairn_service svc;
    if (registry_need_service(c->store, c->txn, ns, req->service, &svc, st, CAIRN_E_INVALID,
                              "service not found: %s", req->service))
        return st->code;
    cairn_err err = CAIRN_OK;
    bool changed = false, persistent_changed = false; /* changed: the ephemeral one */
    if (req->mode == CAIRN_HEALTH_MANUAL || req->mode == CAIRN_HEALTH_MANUAL_KIND) {
        /* Nacos answers a missing cluster with a NullPointerException (500); say what is
         * missing instead. Health by hand is only for clusters nobody checks (§5). */
        const cairn_cluster *cl = cairn_service_find_cluster(&svc, cluster);
        if (!cl)
            err = cairn_fail(st, CAIRN_E_INVALID, "cluster not found: %s, service: %s", cluster,
                             req->service);
        else if (cl->check_type != CAIRN_CHECK_NONE)
            err = cairn_fail(st, CAIRN_E_INVALID, "health check is still working, service: %s",
                             req->service);
        /* The API names no kind: like Nacos, it sets every instance with that ip:port in the
         * cluster, ephemeral and persistent. In a cluster the gateway sends each kind on its own
         * path (MANUAL_KIND to the Distro owner, the persistent one through raft). */
        bool eph = req->mode == CAIRN_HEALTH_MANUAL || req->instance.ephemeral;
        bool pers = req->mode == CAIRN_HEALTH_MANUAL || !req->instance.ephemeral;
        if (!err && eph)
            err = set_one(c, ns, req, cluster, true, &changed, st);
        if (!err && pers)
            err = set_one(c, ns, req, cluster, false, &persistent_changed, st);
    } else {
        bool one = false;
        err = set_one(c, ns, req, cluster, req->instance.ephemeral, &one, st);
        changed = one && req->instance.ephemeral;
        persistent_changed = one && !req->instance.ephemeral;
    }
    if (!err && (changed || persistent_changed))
        err = registry_touch_instances(c, &svc, changed, persistent_changed, st);
    cairn_service_free(&svc);
    return err;
}
