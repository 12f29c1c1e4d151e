/* The raft command dispatch, the reference checks, service definitions and instance health, with
 * the registry's rules and messages (registry/registry_services.c, registry_health.c). Contract
 * in raft_commands.h. */
#include <stdlib.h>
#include <string.h>

#include "raft_cmd_private.h"

/* Whether the service exists for a command: defined in the raft state, or held by the entry
 * node's registry (req->held: a service made by ephemeral registrations is Distro's, and the log
 * has no definition of it until one is put). */
static bool service_exists(const cairn_request *req, const raft_cp_service *cur)
{
    return cur || req->held;
}

/* The definition a SERVICE_PUT leads to from cur (NULL: none yet), or a rejection. */
static cairn_err next_definition(const cairn_request *req, const raft_cp_service *cur,
                                 cairn_service *def, cairn_status *st)
{
    const cairn_service *in = req->has_service ? &req->service_def : NULL;
    const char *ns = cairn_req_ns(req);
    bool exists = service_exists(req, cur);
    if (req->mode == CAIRN_SERVICE_CREATE && exists)
        return cairn_fail(st, CAIRN_E_CONFLICT,
                          "specified service already exists, serviceName : %s", req->service);
    if (req->mode == CAIRN_SERVICE_CREATE && cairn_check_service_chars(req->service, st))
        return st->code;
    if (req->mode == CAIRN_SERVICE_UPDATE && !exists)
        return cairn_fail(st, CAIRN_E_INVALID, "service %s not found!", req->service);
    if (req->mode == CAIRN_SERVICE_CLUSTERS && (!in || in->cluster_count == 0))
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'clusterName' is required.");
    if (req->mode == CAIRN_SERVICE_CLUSTERS && !exists)
        return cairn_fail(st, CAIRN_E_INVALID, "service not found:%s", req->service);
    if (req->mode > CAIRN_SERVICE_CLUSTERS)
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported service mode %u", req->mode);
    if (cur) {
        if (cairn_service_copy(def, &cur->def))
            raft_state_oom();
    } else {
        cairn_service_init(def);
        def->namespace_id = raft_state_strdup(ns);
        def->name = raft_state_strdup(req->service);
    }
    if (in && req->mode != CAIRN_SERVICE_CLUSTERS) {
        /* §3.4: metadata and selector replaced, not merged; named clusters replaced. */
        cairn_metadata_free(&def->metadata);
        if (cairn_metadata_copy(&def->metadata, &in->metadata))
            raft_state_oom();
        def->protect_threshold = in->protect_threshold;
        if (in->selector_json || req->mode == CAIRN_SERVICE_UPDATE) {
            free(def->selector_json);
            def->selector_json = in->selector_json ? raft_state_strdup(in->selector_json) : NULL;
        }
    }
    cairn_status nomem;
    if (in && cairn_service_merge_clusters(def, in, &nomem))
        raft_state_oom();
    if (req->mode != CAIRN_SERVICE_CLUSTERS)
        def->defined = true;
    return CAIRN_OK;
}

static cairn_err service_put(raft_cp_state *s, const cairn_request *req, cairn_raft_batch *out,
                             cairn_status *st)
{
    if (cairn_check_service_ref(req, st))
        return st->code;
    cairn_service def;
    if (next_definition(req, raft_state_service(s, cairn_req_ns(req), req->service), &def, st))
        return st->code;
    def.revision = 0;
    def.modified_ms = 0;
    cairn_raft_batch_service_put(out, &raft_state_put_service(s, &def)->def);
    return CAIRN_OK;
}

static cairn_err service_remove(raft_cp_state *s, const cairn_request *req,
                                cairn_raft_batch *out, cairn_status *st)
{
    if (cairn_check_service_ref(req, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    bool defined = raft_state_drop_service(s, ns, req->service);
    if (!defined && !req->held) /* held only: every node removes what it holds of it */
        return cairn_fail(st, CAIRN_E_INVALID, "specified service not exist, serviceName : %s",
                          req->service);
    cairn_raft_batch_service_del(out, ns, req->service);
    return CAIRN_OK;
}

static cairn_err instance_health(raft_cp_state *s, const cairn_request *req,
                                 cairn_raft_batch *out, cairn_status *st)
{
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    if (req->mode > CAIRN_HEALTH_MANUAL_KIND)
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported health mode %u", req->mode);
    raft_cp_service *svc = raft_state_service(s, cairn_req_ns(req), req->service);
    if (!svc)
        return cairn_fail(st, CAIRN_E_INVALID, "service not found: %s", req->service);
    if (req->mode != CAIRN_HEALTH_BY_CHECKER) { /* by hand (of the persistent kind here) */
        const cairn_cluster *cl = cairn_service_find_cluster(&svc->def, cluster);
        if (!cl)
            return cairn_fail(st, CAIRN_E_INVALID, "cluster not found: %s, service: %s", cluster,
                              req->service);
        if (cl->check_type != CAIRN_CHECK_NONE)
            return cairn_fail(st, CAIRN_E_INVALID, "health check is still working, service: %s",
                              req->service);
    }
    cairn_instance *in = raft_state_instance(svc, cluster, req->instance.ip, req->instance.port);
    if (!in)
        return CAIRN_OK; /* unknown ip:port: "ok", nothing changes (§5) */
    bool skip = req->mode == CAIRN_HEALTH_BY_CHECKER && in->marked;
    if (!skip && in->healthy != req->instance.healthy) {
        in->healthy = req->instance.healthy;
        cairn_raft_batch_instance(out, CAIRN_RAFT_PUT, cairn_req_ns(req), req->service, in);
    }
    return CAIRN_OK;
}

/* Ephemeral instances travel by Distro, never through raft. */
static bool ephemeral_write(const cairn_request *req)
{
    bool manual = req->type == CAIRN_MSG_INSTANCE_HEALTH && req->mode == CAIRN_HEALTH_MANUAL;
    return req->has_instance && req->instance.ephemeral && !manual;
}

cairn_err raft_cmd_apply(raft_cp_state *s, const raft_cmd_limits *lim, const cairn_request *req,
                         cairn_raft_batch *out, cairn_status *st)
{
    if ((req->has_instance && cairn_instance_check_limits(&req->instance, &lim->limits, st)) ||
        (req->has_service && cairn_service_check_limits(&req->service_def, &lim->limits, st)))
        return st->code;
    if (ephemeral_write(req))
        return cairn_fail(st, CAIRN_E_INVALID, "%s of an ephemeral instance is not a raft command",
                          cairn_msg_type_name(req->type));
    switch (req->type) {
    case CAIRN_MSG_INSTANCE_UPSERT:
        return raft_cmd_instance_upsert(s, lim, req, out, st);
    case CAIRN_MSG_INSTANCE_PATCH:
        return raft_cmd_instance_patch(s, lim, req, out, st);
    case CAIRN_MSG_INSTANCE_REMOVE:
        return raft_cmd_instance_remove(s, req, out, st);
    case CAIRN_MSG_INSTANCE_HEALTH:
        return instance_health(s, req, out, st);
    case CAIRN_MSG_SERVICE_PUT:
        return service_put(s, req, out, st);
    case CAIRN_MSG_SERVICE_REMOVE:
        return service_remove(s, req, out, st);
    default:
        return cairn_fail(st, CAIRN_E_INVALID, "%s is not a raft command",
                          cairn_msg_type_name(req->type));
    }
}
