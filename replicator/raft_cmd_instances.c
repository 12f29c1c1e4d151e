/* Persistent instance writes on the CP state: register / strict update, patch, deregister, with
 * the registry's rules and messages (registry/registry_instances.c). Contract in
 * raft_commands.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_cmd_private.h"

static void copy_instance(cairn_instance *dst, const cairn_instance *src)
{
    if (cairn_instance_copy(dst, src))
        raft_state_oom();
}

/* The smallest non-negative integer no persistent instance of svc uses as its id. */
static char *snowflake_id(const raft_cp_service *svc)
{
    size_t n;
    cairn_instance **all = raft_state_sorted_instances(svc, &n);
    bool *used = calloc(n + 1, sizeof *used);
    if (!used)
        raft_state_oom();
    for (size_t i = 0; i < n; i++) {
        const char *v = all[i]->instance_id;
        if (v && *v && strspn(v, "0123456789") == strlen(v) && strlen(v) <= 10) {
            unsigned long long x = strtoull(v, NULL, 10);
            if (x <= n)
                used[x] = true;
        }
    }
    size_t x = 0;
    while (used[x])
        x++;
    free(used);
    free(all);
    char buf[24];
    snprintf(buf, sizeof buf, "%zu", x);
    return raft_state_strdup(buf);
}

/* A new service's definition, as a registration creates it implicitly (not "defined"). */
static void implicit_service(cairn_service *def, const char *ns, const char *name)
{
    cairn_service_init(def);
    def->defined = false;
    def->namespace_id = raft_state_strdup(ns);
    def->name = raft_state_strdup(name);
}

/* Appends a default cluster named name to def. */
static void add_cluster(cairn_service *def, const char *name)
{
    cairn_cluster *grown = realloc(def->clusters, (def->cluster_count + 1) * sizeof *grown);
    if (!grown)
        raft_state_oom();
    def->clusters = grown;
    cairn_cluster *cl = &def->clusters[def->cluster_count++];
    cairn_cluster_init_default(cl);
    cl->name = raft_state_strdup(name);
}

/* The checks of a registration against what exists: the rejections, before any change. */
static cairn_err check_upsert(const raft_cmd_limits *lim, const cairn_request *req,
                              const raft_cp_service *svc, const char *cluster,
                              const cairn_instance *old, cairn_status *st)
{
    bool must_exist = req->mode == CAIRN_UPSERT_MUST_EXIST;
    const char *ns = cairn_req_ns(req);
    if (!svc && must_exist)
        return cairn_fail(st, CAIRN_E_INVALID, "service not found, namespace: %s, service: %s",
                          ns, req->service);
    if (!svc && cairn_check_service_chars(req->service, st))
        return st->code;
    if ((!svc || !cairn_service_find_cluster(&svc->def, cluster)) &&
        cairn_check_cluster_chars(cluster, st))
        return st->code;
    if (old)
        return CAIRN_OK;
    if (must_exist) {
        char key[256];
        cairn_instance_datum_key(key, sizeof key, req->instance.ip, req->instance.port, cluster);
        return cairn_fail(st, CAIRN_E_INVALID, "instance not exist: %s", key);
    }
    uint64_t count = svc ? cairn_hashmap_size(svc->instances) : 0;
    if (count >= (uint64_t)lim->max_instances_per_service)
        return cairn_fail(st, CAIRN_E_LIMIT, "too many instances in service %s (limit %lld)",
                          req->service, (long long)lim->max_instances_per_service);
    return CAIRN_OK;
}

/* Makes sure the service exists and names cluster, recording a definition change. */
static raft_cp_service *ensure_service(raft_cp_state *s, const cairn_request *req,
                                       raft_cp_service *svc, const char *cluster,
                                       cairn_raft_batch *out)
{
    bool changed = false;
    cairn_service def;
    if (svc) {
        if (cairn_service_find_cluster(&svc->def, cluster))
            return svc;
        if (cairn_service_copy(&def, &svc->def))
            raft_state_oom();
    } else {
        implicit_service(&def, cairn_req_ns(req), req->service);
        changed = true;
    }
    if (!cairn_service_find_cluster(&def, cluster)) {
        add_cluster(&def, cluster);
        changed = true;
    }
    svc = raft_state_put_service(s, &def);
    if (changed)
        cairn_raft_batch_service_put(out, &svc->def);
    return svc;
}

cairn_err raft_cmd_instance_upsert(raft_cp_state *s, const raft_cmd_limits *lim,
                                   const cairn_request *req, cairn_raft_batch *out,
                                   cairn_status *st)
{
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    if (req->mode != CAIRN_UPSERT_REGISTER && req->mode != CAIRN_UPSERT_MUST_EXIST)
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported upsert mode %u", req->mode);
    cairn_instance in;
    copy_instance(&in, &req->instance);
    free(in.cluster);
    in.cluster = raft_state_strdup(cluster);
    raft_cp_service *svc = raft_state_service(s, cairn_req_ns(req), req->service);
    cairn_instance *old = svc ? raft_state_instance(svc, cluster, in.ip, in.port) : NULL;
    if (cairn_instance_validate(&in, st) || check_upsert(lim, req, svc, cluster, old, st)) {
        cairn_instance_free(&in);
        return st->code;
    }
    svc = ensure_service(s, req, svc, cluster, out);
    free(in.instance_id);
    if (old) { /* re-registration keeps the identity and the health the checker arrived at */
        in.instance_id = raft_state_strdup(old->instance_id);
        in.healthy = old->healthy;
        in.marked = old->marked;
    } else {
        const char *gen = cairn_metadata_get(&in.metadata, CAIRN_META_ID_GENERATOR);
        in.instance_id = gen && strcmp(gen, "snowflake") == 0
                             ? snowflake_id(svc)
                             : cairn_instance_default_id(in.ip, in.port, cluster, req->service);
        if (!in.instance_id)
            raft_state_oom();
    }
    cairn_instance_normalize_weight(&in);
    in.modified_ms = 0;
    cairn_raft_batch_instance(out, CAIRN_RAFT_PUT, cairn_req_ns(req), req->service,
                              raft_state_put_instance(s, svc, &in));
    return CAIRN_OK;
}

/* The reference checks, then the persistent instance req names (*cur NULL when none). */
static cairn_err find_named(raft_cp_state *s, const cairn_request *req, raft_cp_service **svc,
                            const char **cluster, cairn_instance **cur, cairn_status *st)
{
    if (cairn_check_instance_ref(req, cluster, st))
        return st->code;
    *svc = raft_state_service(s, cairn_req_ns(req), req->service);
    *cur = *svc ? raft_state_instance(*svc, *cluster, req->instance.ip, req->instance.port)
                : NULL;
    return CAIRN_OK;
}

cairn_err raft_cmd_instance_patch(raft_cp_state *s, const raft_cmd_limits *lim,
                                  const cairn_request *req, cairn_raft_batch *out,
                                  cairn_status *st)
{
    const char *cluster;
    raft_cp_service *svc = NULL;
    cairn_instance *cur = NULL;
    if (find_named(s, req, &svc, &cluster, &cur, st))
        return st->code;
    if (!cur)
        return cairn_fail(st, CAIRN_E_INVALID, "instance not found");
    cairn_instance in;
    cairn_status nomem;
    copy_instance(&in, cur);
    if (cairn_instance_apply_patch(&in, &req->instance, req->patch_mask, &nomem))
        raft_state_oom();
    /* merged metadata may outgrow what one request could carry */
    if (cairn_instance_validate(&in, st) || cairn_instance_check_limits(&in, &lim->limits, st)) {
        cairn_instance_free(&in);
        return st->code;
    }
    cairn_instance_normalize_weight(&in);
    in.modified_ms = 0;
    cairn_raft_batch_instance(out, CAIRN_RAFT_PUT, cairn_req_ns(req), req->service,
                              raft_state_put_instance(s, svc, &in));
    return CAIRN_OK;
}

cairn_err raft_cmd_instance_remove(raft_cp_state *s, const cairn_request *req,
                                   cairn_raft_batch *out, cairn_status *st)
{
    const char *cluster;
    raft_cp_service *svc = NULL;
    cairn_instance *cur = NULL;
    if (find_named(s, req, &svc, &cluster, &cur, st))
        return st->code;
    if (!cur)
        return CAIRN_OK; /* §2.2: deregistering what is not there is still "ok" */
    cairn_raft_batch_instance(out, CAIRN_RAFT_DEL, cairn_req_ns(req), req->service, cur);
    raft_state_del_instance(s, svc, cluster, req->instance.ip, req->instance.port);
    /* The last persistent instance of a service that registrations made takes its definition
     * with it: the registries keep the service until their empty-service sweep (which does not
     * go through the log), and while one holds it, its `held` keeps a create from making a
     * second one. Kept here, it would outlive the sweep and refuse every later create. */
    if (cairn_hashmap_size(svc->instances) == 0 && cairn_service_is_implicit(&svc->def))
        raft_state_drop_service(s, cairn_req_ns(req), req->service);
    return CAIRN_OK;
}
