/* The projection of the raft state machine into the store (cluster-design §2.7 steps 4-5):
 * PERSIST_APPLY applies a batch of committed records in the writer's transaction together with
 * meta.raft_applied = last, and PERSIST_REPLACE puts a whole state in place of the persistent
 * data. The watermark commits in the same transaction as the records, so both are on disk
 * together or not at all. Only a replace is synced before its reply: an applied batch is
 * already durable in the raft log of a majority, and a batch lost with the page cache (an OS
 * crash; kill -9 loses nothing) takes its watermark with it, so raft applies it again from its
 * log or snapshot after the restart. The watermark never goes back:
 * a batch or state at or below it changes nothing and is answered with it (skipped).
 *
 * A record the registry cannot store (a name the model refuses) is skipped and logged rather
 * than failing the batch: it was committed, so refusing it would stop every later entry. Only a
 * storage failure fails the batch (nothing of it stays, the watermark included). Ephemeral
 * instances are left alone, but for a service delete, which takes them too (1.4.8 behaviour). */
#include "registry_handlers.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"

static cairn_err nomem(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

/* The service (ns, name) into *rec, made implicit when missing (*created). */
static cairn_err service_or_new(registry_write_ctx *c, const char *ns, const char *name,
                                cairn_service *rec, cairn_status *st)
{
    bool found;
    if (registry_store_get_service(c->store, c->txn, ns, name, rec, &found, st))
        return st->code;
    if (found)
        return CAIRN_OK;
    if (cairn_check_service_chars(name, st))
        return st->code;
    return registry_new_service(rec, ns, name, st);
}

/* The definition of def onto rec: threshold, metadata, selector and defined replaced; def's
 * clusters replace those of the same name, the others (named by instances) stay. */
static cairn_err put_definition(cairn_service *rec, const cairn_service *def, cairn_status *st)
{
    cairn_metadata md;
    if (cairn_metadata_copy(&md, &def->metadata))
        return nomem(st);
    cairn_metadata_free(&rec->metadata);
    rec->metadata = md;
    rec->protect_threshold = def->protect_threshold;
    rec->defined = def->defined;
    const char *selector = def->selector_json ? def->selector_json : "{\"type\":\"none\"}";
    if (registry_replace_string(&rec->selector_json, selector, st))
        return st->code;
    for (uint32_t i = 0; i < def->cluster_count; i++) {
        const cairn_cluster *cl = &def->clusters[i];
        if (!cl->name || registry_ensure_cluster(rec, cl->name, st))
            return cl->name ? st->code : cairn_fail(st, CAIRN_E_INVALID, "a cluster has no name");
        for (uint32_t j = 0; j < rec->cluster_count; j++) {
            if (strcmp(rec->clusters[j].name, cl->name) != 0)
                continue;
            cairn_cluster copy;
            if (cairn_cluster_copy(&copy, cl))
                return nomem(st);
            cairn_cluster_free(&rec->clusters[j]);
            rec->clusters[j] = copy;
        }
    }
    return CAIRN_OK;
}

static cairn_err put_instance_record(registry_write_ctx *c, const char *ns,
                                     const cairn_persist_record *r, cairn_service *rec,
                                     cairn_status *st)
{
    cairn_instance in;
    cairn_err err = registry_prepare_instance(&r->instance, r->service, false, &in, st);
    if (!err && in.modified_ms == 0)
        in.modified_ms = c->now_ms; /* a record without a write time gets this store's */
    if (!err)
        err = registry_ensure_cluster(rec, in.cluster, st);
    if (!err)
        err = registry_store_put_instance(c->store, c->txn, ns, r->service, &in, st);
    cairn_instance_free(&in);
    return err ? err : registry_touch_noted(c, rec, CAIRN_CHANGE_INSTANCES, st);
}

static cairn_err del_instance_record(registry_write_ctx *c, const char *ns,
                                     const cairn_persist_record *r, cairn_service *rec,
                                     cairn_status *st)
{
    const cairn_instance *sel = &r->instance;
    const char *cluster = cairn_cluster_or_default(sel->cluster);
    bool deleted = false;
    if (!sel->ip ||
        registry_store_delete_instance(c->store, c->txn, ns, r->service, false, cluster,
                                       sel->ip, sel->port, &deleted, st))
        return sel->ip ? st->code : cairn_fail(st, CAIRN_E_INVALID, "no ip to delete");
    return deleted ? registry_touch_noted(c, rec, CAIRN_CHANGE_INSTANCES, st) : CAIRN_OK;
}

static cairn_err del_service_record(registry_write_ctx *c, const char *ns, const char *svc,
                                    cairn_status *st)
{
    cairn_service rec;
    bool found;
    uint64_t rev;
    if (registry_store_get_service(c->store, c->txn, ns, svc, &rec, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK;
    cairn_service_free(&rec);
    if (registry_store_delete_service(c->store, c->txn, ns, svc, st) ||
        registry_store_next_revision(c->store, c->txn, &rev, st))
        return st->code;
    return registry_write_note_change(c, ns, svc, CAIRN_CHANGE_REMOVED, rev, st);
}

/* One record, in c->txn. */
static cairn_err apply_record(registry_write_ctx *c, const cairn_persist_record *r,
                              cairn_status *st)
{
    const char *ns = registry_ns(r->namespace_id);
    if (!r->service || !*r->service)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'serviceName' is required.");
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("serviceName", r->service, CAIRN_MAX_SERVICE_LEN, st))
        return st->code;
    if (r->kind == CAIRN_PERSIST_SERVICE && r->op == CAIRN_PERSIST_DEL)
        return del_service_record(c, ns, r->service, st);
    if (!r->has_value)
        return cairn_fail(st, CAIRN_E_INVALID, "record of %s without a value", r->service);
    cairn_service rec;
    cairn_err err = service_or_new(c, ns, r->service, &rec, st);
    if (err)
        return err;
    if (r->kind == CAIRN_PERSIST_SERVICE) {
        if (!(err = put_definition(&rec, &r->service_def, st)))
            err = registry_touch_noted(c, &rec, CAIRN_CHANGE_SERVICE, st);
    } else if (r->op == CAIRN_PERSIST_PUT) {
        err = put_instance_record(c, ns, r, &rec, st);
    } else {
        err = del_instance_record(c, ns, r, &rec, st);
    }
    cairn_service_free(&rec);
    return err;
}

static cairn_err run_record(registry_write_ctx *c, void *arg, bool *keep, cairn_status *st)
{
    return apply_record(c, arg, st);
}

/* Applies each record in its own nested transaction: a record refused leaves nothing behind and
 * is skipped; a storage failure fails them all. *applied counts the ones stored. */
static cairn_err apply_records(registry_write_ctx *c, const cairn_request *req,
                               uint32_t *applied, cairn_status *st)
{
    *applied = 0;
    for (uint32_t i = 0; i < req->record_count; i++) {
        bool kept;
        cairn_err refused;
        cairn_status why;
        if (registry_nested(c, run_record, &req->records[i], &kept, &refused, &why, st))
            return st->code;
        if (refused)
            log_warn("raft record %u of %llu..%llu skipped: %s", i,
                     (unsigned long long)req->first, (unsigned long long)req->last,
                     why.message);
        *applied += kept;
    }
    return CAIRN_OK;
}

/* Whether a batch or state ending at last is at or below the watermark: then it is answered
 * with the watermark and changes nothing. */
static cairn_err check_watermark(registry_write_ctx *c, uint64_t last, cairn_reply *rep,
                                 bool *skip, cairn_status *st)
{
    uint64_t wm;
    if (registry_store_raft_applied(c->store, c->txn, &wm, st))
        return st->code;
    *skip = last <= wm;
    rep->skipped = *skip;
    rep->raft_applied = wm;
    return CAIRN_OK;
}

/* Sets the watermark to last in the batch's transaction; `synced`: the batch is synced before
 * the reply (the file comment says why an applied batch need not be). */
static cairn_err advance(registry_write_ctx *c, uint64_t last, bool synced, cairn_reply *rep,
                         cairn_status *st)
{
    if (registry_store_set_raft_applied(c->store, c->txn, last, st))
        return st->code;
    c->durable = c->durable || synced;
    rep->raft_applied = last;
    return CAIRN_OK;
}

cairn_err registry_persist_apply(registry_write_ctx *c, const cairn_request *req,
                                 cairn_reply *rep, cairn_status *st)
{
    if (req->first == 0 || req->first > req->last)
        return cairn_fail(st, CAIRN_E_INVALID, "bad raft index range %llu..%llu",
                          (unsigned long long)req->first, (unsigned long long)req->last);
    bool skip = false;
    if (check_watermark(c, req->last, rep, &skip, st))
        return st->code;
    if (skip)
        return CAIRN_OK;
    uint32_t applied;
    if (apply_records(c, req, &applied, st))
        return st->code;
    rep->total = applied;
    return advance(c, req->last, false, rep, st);
}

/* ---- PERSIST_REPLACE ------------------------------------------------------------------------- */

/* Takes the persistent part out of service (ns, svc): its persistent instances go, and its
 * definition becomes an implicit one. What is left is its ephemeral state; a service left with
 * nothing goes. The records of the new state then put back what it holds. */
static cairn_err clear_persistent(registry_write_ctx *c, const char *ns, const char *svc,
                                  cairn_status *st)
{
    cairn_service rec;
    bool found;
    uint64_t gone, left;
    if (registry_store_get_service(c->store, c->txn, ns, svc, &rec, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK;
    cairn_err err = registry_store_delete_kind(c->store, c->txn, ns, svc, false, &gone, st);
    if (!err)
        err = registry_store_instance_count(c->store, c->txn, ns, svc, &left, st);
    if (!err && left == 0 && rec.distro.epoch == 0) {
        cairn_service_free(&rec);
        return del_service_record(c, ns, svc, st);
    }
    if (!err && (gone > 0 || rec.defined)) {
        cairn_service blank;
        cairn_service_init(&blank);
        err = put_definition(&rec, &blank, st);
        cairn_service_free(&blank);
        if (!err)
            err = registry_touch_noted(c, &rec, CAIRN_CHANGE_SERVICE, st);
    }
    cairn_service_free(&rec);
    return err;
}

cairn_err registry_persist_replace(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    bool skip = false;
    if (check_watermark(c, req->last, rep, &skip, st))
        return st->code;
    if (skip)
        return CAIRN_OK;
    registry_keys names;
    cairn_err err = registry_keys_all(c->store, c->txn, &names, st);
    for (uint32_t i = 0; !err && i < names.count; i++)
        err = clear_persistent(c, names.ns[i], names.svc[i], st);
    registry_keys_free(&names);
    uint32_t applied = 0;
    if (!err)
        err = apply_records(c, req, &applied, st);
    if (err)
        return err;
    rep->total = applied;
    return advance(c, req->last, true, rep, st);
}
