/* Connection-owned instances (cairn-grpc): INSTANCE_SET_OWNED and OWNER_DROP. An owned instance
 * is an ordinary ephemeral instance with cairn_instance.owner set; the owners index
 * (registry_store.h) finds an owner's services. */
#include <stdlib.h>
#include <string.h>

#include "cairn_distro_rules.h"
#include "cairn_grpc_owner.h"
#include "registry_handlers.h"

static cairn_err nomem(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

static bool owned_by(const cairn_instance *in, const char *owner)
{
    return in->ephemeral && in->owner && strcmp(in->owner, owner) == 0;
}

/* Deletes in if owner holds it; *removed counts it. */
static cairn_err remove_if_owned(registry_write_ctx *c, const char *ns, const char *svc_name,
                                 const cairn_instance *in, const char *owner, uint32_t *removed,
                                 cairn_status *st)
{
    bool deleted = false;
    if (owned_by(in, owner) &&
        registry_store_delete_instance(c->store, c->txn, ns, svc_name, true,
                                       in->cluster ? in->cluster : "DEFAULT", in->ip, in->port,
                                       &deleted, st))
        return st->code;
    *removed += deleted;
    return CAIRN_OK;
}

/* Deletes the instances of svc_name that owner holds; *removed counts them. The owners index
 * lists them (registry_store.h): only those are read, unless the entry predates the lists. */
static cairn_err remove_owned(registry_write_ctx *c, const char *ns, const char *svc_name,
                              const char *owner, uint32_t *removed,
                              cairn_status *st)
{
    *removed = 0;
    bool indexed;
    cairn_bytes *keys;
    size_t key_count;
    if (registry_owners_get(c->store, c->txn, owner, ns, svc_name, &indexed, &keys, &key_count,
                            st))
        return st->code;
    if (!indexed)
        return CAIRN_OK; /* the owner never put an instance here */
    if (key_count > 0) {
        cairn_err err = CAIRN_OK;
        for (size_t i = 0; !err && i < key_count; i++) {
            cairn_instance in;
            bool found;
            err = registry_store_get_instance_at(c->store, c->txn, keys[i].ptr, keys[i].len,
                                                 &in, &found, st);
            if (!err && found) {
                err = remove_if_owned(c, ns, svc_name, &in, owner, removed, st);
                cairn_instance_free(&in);
            }
        }
        free(keys);
        return err;
    }
    cairn_instance *all;
    uint32_t n;
    if (registry_store_list_instances(c->store, c->txn, ns, svc_name, &all, &n, st))
        return st->code;
    cairn_err err = CAIRN_OK;
    for (uint32_t i = 0; i < n; i++) {
        if (err == CAIRN_OK)
            err = remove_if_owned(c, ns, svc_name, &all[i], owner, removed, st);
        cairn_instance_free(&all[i]);
    }
    free(all);
    return err;
}

/* in, made the owner's: a checked ephemeral instance of cluster (DEFAULT when blank), with its
 * default id, added to svc's clusters when new there, and stored under *key. */
static cairn_err put_owned(registry_write_ctx *c, const char *ns, const char *svc_name,
                           cairn_service *svc, const cairn_instance *src, const char *owner,
                           cairn_key *key, cairn_status *st)
{
    cairn_instance in;
    if (cairn_instance_copy(&in, src))
        return nomem(st);
    cairn_err err = CAIRN_OK;
    in.ephemeral = true;
    in.marked = false;
    free(in.owner);
    if (!in.cluster || !in.cluster[0]) {
        free(in.cluster);
        in.cluster = strdup("DEFAULT");
    }
    if (!(in.owner = strdup(owner)) || !in.cluster)
        err = nomem(st);
    if (!err)
        err = cairn_instance_validate(&in, st);
    if (!err)
        err = registry_ensure_cluster(svc, in.cluster, st);
    if (!err && (!in.instance_id || !in.instance_id[0])) {
        free(in.instance_id);
        if (!(in.instance_id = cairn_instance_default_id(in.ip, in.port, in.cluster, svc_name)))
            err = nomem(st);
    }
    if (!err) {
        cairn_instance_normalize_weight(&in);
        in.modified_ms = c->now_ms;
        err = registry_store_put_instance(c->store, c->txn, ns, svc_name, &in, st);
    }
    if (!err && cairn_key_instance(key, ns, svc_name, true, in.cluster, in.ip, in.port))
        err = cairn_fail(st, CAIRN_E_INVALID, "instance key too long"); /* stored: cannot be */
    cairn_instance_free(&in);
    return err;
}

/* The service to write into: the stored one, or a new implicit one when there are instances to
 * add. *have is false when there is neither (nothing to do). */
static cairn_err service_for(registry_write_ctx *c, const char *ns, const char *name, bool create,
                             cairn_service *svc, bool *have, cairn_status *st)
{
    bool found;
    *have = false;
    if (registry_store_get_service(c->store, c->txn, ns, name, svc, &found, st))
        return st->code;
    if (found) {
        *have = true;
        return CAIRN_OK;
    }
    if (!create)
        return CAIRN_OK;
    if (cairn_check_service_chars(name, st))
        return st->code;
    *have = true;
    return registry_new_service(svc, ns, name, st);
}

cairn_err registry_instance_set_owned(registry_write_ctx *c, const cairn_request *req,
                                      cairn_reply *rep, cairn_status *st)
{
    if (cairn_check_service_ref(req, st))
        return st->code;
    if (!req->owner || !req->owner[0])
        return cairn_fail(st, CAIRN_E_INVALID, "owner is blank");
    const char *ns = cairn_req_ns(req), *name = req->service;
    cairn_service svc;
    bool have;
    if (service_for(c, ns, name, req->instance_count > 0, &svc, &have, st))
        return st->code;
    if (!have)
        return CAIRN_OK; /* deregistering from a missing service */
    uint32_t removed;
    cairn_err err = remove_owned(c, ns, name, req->owner, &removed, st);
    cairn_key *keys = req->instance_count ? malloc(req->instance_count * sizeof *keys) : NULL;
    if (!err && req->instance_count && !keys)
        err = nomem(st);
    for (uint32_t i = 0; !err && i < req->instance_count; i++)
        err = put_owned(c, ns, name, &svc, &req->instances[i], req->owner, &keys[i], st);
    uint64_t count = 0;
    if (!err)
        err = registry_store_instance_count(c->store, c->txn, ns, name, &count, st);
    if (!err && req->instance_count > 0 && count > (uint64_t)c->max_instances_per_service)
        err = cairn_fail(st, CAIRN_E_LIMIT, "too many instances in service %s (limit %lld)",
                         name, (long long)c->max_instances_per_service);
    if (!err)
        err = req->instance_count > 0
                  ? registry_owners_put(c->store, c->txn, req->owner, ns, name, keys,
                                        req->instance_count, st)
                  : registry_owners_del(c->store, c->txn, req->owner, ns, name, st);
    free(keys);
    /* stamped with this store's Distro version, so the owner's sync carries it */
    if (!err && (removed > 0 || req->instance_count > 0))
        err = registry_touch_instances(c, &svc, true, false, st);
    cairn_service_free(&svc);
    return err;
}

/* Removes what entry i of refs names and records the service's change. */
static cairn_err drop_one(registry_write_ctx *c, const registry_owned_refs *refs, size_t i,
                          uint32_t *total, cairn_status *st)
{
    uint32_t removed; /* the entry lists what to remove: read before it goes */
    if (remove_owned(c, refs->ns[i], refs->svc[i], refs->owner[i], &removed, st) ||
        registry_owners_del(c->store, c->txn, refs->owner[i], refs->ns[i], refs->svc[i], st))
        return st->code;
    if (removed == 0)
        return CAIRN_OK;
    *total += removed;
    cairn_service svc;
    bool have;
    if (service_for(c, refs->ns[i], refs->svc[i], false, &svc, &have, st) || !have)
        return have ? st->code : CAIRN_OK;
    cairn_err err = registry_touch_instances(c, &svc, true, false, st);
    cairn_service_free(&svc);
    c->changed = false; /* the write names no service: each one is an extra */
    if (!err)
        err = registry_write_note_change(c, refs->ns[i], refs->svc[i], CAIRN_CHANGE_INSTANCES,
                                         c->revision, st);
    return err;
}

cairn_err registry_owner_drop(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                              cairn_status *st)
{
    if (!req->owner || !req->owner[0])
        return cairn_fail(st, CAIRN_E_INVALID, "owner is blank");
    /* OTHER_INCARNATIONS: the owner "<node prefix><inc>/" keeps <inc>, drops its node prefix */
    char *node = NULL;
    const char *keep = NULL;
    size_t keep_len = 0;
    if (req->mode == CAIRN_OWNER_OTHER_INCARNATIONS) {
        size_t node_len = cairn_grpc_incarnation_node_len(req->owner);
        if (node_len == 0)
            return cairn_fail(st, CAIRN_E_INVALID,
                              "owner %s names no incarnation (<node>/<incarnation>/)", req->owner);
        if (!(node = strndup(req->owner, node_len)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        keep = req->owner;
        keep_len = strlen(keep);
    }
    registry_owned_refs refs;
    if (registry_owners_find(c->store, c->txn, node ? node : req->owner,
                             req->mode != CAIRN_OWNER_EXACT, &refs, st)) {
        free(node);
        return st->code;
    }
    free(node);
    uint32_t total = 0;
    cairn_err err = CAIRN_OK;
    bool scoped = req->owner_count > 0 || req->self;
    for (size_t i = 0; !err && i < refs.count; i++)
        if ((!keep || strncmp(refs.owner[i], keep, keep_len) != 0) &&
            (!scoped || cairn_distro_selected(refs.svc[i], (const char *const *)req->owners,
                                              req->owner_count, req->self)))
            err = drop_one(c, &refs, i, &total, st);
    registry_owned_refs_free(&refs);
    if (!err)
        rep->total = total;
    return err;
}
