/* The Distro writes (cluster-design §2.5, §2.8 step 3): DISTRO_APPLY replaces the ephemeral
 * instances of services by the version rules of cairn_distro_rules.h, and DISTRO_LOAD_END ends
 * a snapshot load by dropping the ephemeral state the load did not bring. Persistent instances
 * and definitions are never touched here. */
#include "registry_handlers.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_distro_rules.h"
#include "cairn_log.h"

static cairn_err nomem(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

/* An owned instance of a state, as stored. */
typedef struct owned_key {
    const char *owner; /* the state's */
    cairn_key key;
} owned_key;

static int by_owner(const void *a, const void *b)
{
    return strcmp(((const owned_key *)a)->owner, ((const owned_key *)b)->owner);
}

/* A replica indexes gRPC owners too: when this node becomes the service's owner, it can drop a
 * dead member's connections (OWNER_DROP) from what it holds. Each owner's entry lists exactly
 * the keys of its instances in the state (the state is the whole ephemeral service). */
static cairn_err index_owners(registry_write_ctx *c, const cairn_service *rec, owned_key *owned,
                              size_t n, cairn_status *st)
{
    if (n == 0)
        return CAIRN_OK;
    qsort(owned, n, sizeof *owned, by_owner);
    cairn_key *keys = malloc(n * sizeof *keys);
    if (!keys)
        return nomem(st);
    cairn_err err = CAIRN_OK;
    for (size_t i = 0, j; !err && i < n; i = j) {
        for (j = i; j < n && strcmp(owned[j].owner, owned[i].owner) == 0; j++)
            keys[j - i] = owned[j].key;
        err = registry_owners_put(c->store, c->txn, owned[i].owner, rec->namespace_id,
                                  rec->name, keys, j - i, st);
    }
    free(keys);
    return err;
}

/* Replaces the ephemeral instances of svc (held in *rec) with ds's, inside txn: only what
 * differs is written or deleted (registry_store_replace_kind). */
static cairn_err replace_ephemeral(registry_write_ctx *c, cairn_service *rec,
                                   const cairn_distro_state *ds, cairn_status *st)
{
    uint32_t n = ds->instance_count, prepared = 0;
    cairn_instance *ins = n ? calloc(n, sizeof *ins) : NULL;
    owned_key *owned = NULL;
    size_t owned_count = 0;
    cairn_err err = n && !ins ? nomem(st) : CAIRN_OK;
    for (uint32_t i = 0; !err && i < n; i++) {
        err = registry_prepare_instance(&ds->instances[i], rec->name, true, &ins[i], st);
        prepared = i + 1; /* prepared or not, ins[i] is initialised */
        if (!err)
            err = registry_ensure_cluster(rec, ins[i].cluster, st);
        const char *owner = ds->instances[i].owner;
        if (!err && owner && owner[0]) {
            if (!owned && !(owned = malloc(n * sizeof *owned)))
                err = nomem(st);
            else if (cairn_key_instance(&owned[owned_count].key, rec->namespace_id, rec->name,
                                        true, ins[i].cluster, ins[i].ip, ins[i].port) == 0)
                owned[owned_count++].owner = owner;
        }
    }
    if (!err)
        err = registry_store_replace_kind(c->store, c->txn, rec->namespace_id, rec->name, true,
                                          ins, n, st);
    if (!err)
        err = index_owners(c, rec, owned, owned_count, st);
    for (uint32_t i = 0; i < prepared; i++)
        cairn_instance_free(&ins[i]);
    free(ins);
    free(owned);
    if (err)
        return err;
    cairn_distro_version_free(&rec->distro);
    return cairn_distro_version_copy(&rec->distro, &ds->version) ? nomem(st) : CAIRN_OK;
}

/* Checks what a state may carry before anything is read. */
static cairn_err check_state(const registry_write_ctx *c, const cairn_distro_state *ds,
                             const char *ns, cairn_status *st)
{
    if (!ds->service || !*ds->service)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'serviceName' is required.");
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("serviceName", ds->service, CAIRN_MAX_SERVICE_LEN, st) ||
        cairn_check_grouped_format(ds->service, st))
        return st->code;
    if (ds->instance_count > (uint64_t)c->max_instances_per_service)
        return cairn_fail(st, CAIRN_E_LIMIT, "too many instances in service %s (limit %lld)",
                          ds->service, (long long)c->max_instances_per_service);
    for (uint32_t i = 0; c->limits && i < ds->instance_count; i++)
        if (cairn_instance_check_limits(&ds->instances[i], c->limits, st))
            return st->code;
    return CAIRN_OK;
}

/* One state, inside c->txn (the caller's nested transaction). *applied says whether it changed
 * anything; *rev is then the service's new revision. */
static cairn_err apply_state(registry_write_ctx *c, const cairn_distro_state *ds,
                             cairn_distro_mode mode, uint64_t load, bool *applied, uint64_t *rev,
                             cairn_status *st)
{
    const char *ns = registry_ns(ds->namespace_id);
    *applied = false;
    if (check_state(c, ds, ns, st))
        return st->code;
    cairn_service rec;
    bool found;
    if (registry_store_get_service(c->store, c->txn, ns, ds->service, &rec, &found, st))
        return st->code;
    cairn_err err = CAIRN_OK;
    if (cairn_distro_decide(found ? &rec.distro : NULL, &ds->version, mode) !=
        CAIRN_DISTRO_VERDICT_APPLY)
        goto out;
    if (!found) {
        if ((err = cairn_check_service_chars(ds->service, st)))
            goto out;
        found = true; /* rec is initialised from here on, whatever happens */
        err = registry_new_service(&rec, ns, ds->service, st);
    }
    if (!err)
        err = replace_ephemeral(c, &rec, ds, st);
    if (!err && load != 0)
        err = registry_store_load_mark(c->store, c->txn, ns, ds->service, load, st);
    if (!err && (err = registry_store_next_revision(c->store, c->txn, rev, st)) == CAIRN_OK) {
        rec.revision = *rev;
        rec.modified_ms = c->now_ms;
        err = registry_store_put_service(c->store, c->txn, &rec, st);
    }
    *applied = err == CAIRN_OK;
out:
    if (found)
        cairn_service_free(&rec);
    return err;
}

/* apply_state as a registry_nested step. */
typedef struct state_step {
    const cairn_distro_state *ds;
    cairn_distro_mode mode;
    uint64_t load;
    uint64_t rev;
} state_step;

static cairn_err run_state(registry_write_ctx *c, void *arg, bool *keep, cairn_status *st)
{
    state_step *s = arg;
    return apply_state(c, s->ds, s->mode, s->load, keep, &s->rev, st);
}

/* One state in a transaction nested in the request's: a state refused leaves nothing behind
 * and the others go on. Sets the outcome; a storage failure fails the whole request. */
static cairn_err apply_one(registry_write_ctx *c, const cairn_distro_state *ds,
                           cairn_distro_mode mode, uint64_t load, uint32_t *outcome,
                           cairn_status *st)
{
    state_step step = {ds, mode, load, 0};
    bool applied;
    cairn_err refused;
    cairn_status why;
    if (registry_nested(c, run_state, &step, &applied, &refused, &why, st))
        return st->code;
    if (refused)
        log_warn("distro state of %s rejected: %s", ds->service ? ds->service : "?",
                 why.message);
    *outcome = applied ? CAIRN_DISTRO_APPLIED : refused ? CAIRN_DISTRO_REJECTED
                                                        : CAIRN_DISTRO_STALE;
    if (!applied)
        return CAIRN_OK;
    return registry_write_note_change(c, registry_ns(ds->namespace_id), ds->service,
                               CAIRN_CHANGE_INSTANCES, step.rev, st);
}

/* The load a state belongs to: the request's, which becomes the load under way; or, for a state
 * outside any load (a sync), the load under way, so that its end keeps what was synced. */
static cairn_err current_load(registry_write_ctx *c, uint64_t requested, uint64_t *load,
                              cairn_status *st)
{
    if (registry_store_load_active(c->store, c->txn, load, st))
        return st->code;
    if (requested == 0 || requested == *load)
        return CAIRN_OK;
    *load = requested;
    return registry_store_set_load_active(c->store, c->txn, requested, st);
}

cairn_err registry_distro_apply(registry_write_ctx *c, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st)
{
    if (req->state_count > CAIRN_DISTRO_MAX_STATES)
        return cairn_fail(st, CAIRN_E_LIMIT, "too many services in one apply (%u, limit %d)",
                          req->state_count, CAIRN_DISTRO_MAX_STATES);
    if (req->mode > CAIRN_DISTRO_FORCE)
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported distro mode %u", req->mode);
    uint64_t load;
    if (current_load(c, req->load_id, &load, st))
        return st->code;
    if (req->state_count > 0 &&
        !(rep->outcomes = calloc(req->state_count, sizeof *rep->outcomes)))
        return nomem(st);
    rep->outcome_count = req->state_count;
    bool any = false;
    for (uint32_t i = 0; i < req->state_count; i++) {
        if (apply_one(c, &req->states[i], (cairn_distro_mode)req->mode, load, &rep->outcomes[i],
                      st))
            return st->code;
        any = any || rep->outcomes[i] == CAIRN_DISTRO_APPLIED;
    }
    /* A page of a load leaves the store fresh until the load ends: a partial load is no data. */
    if (any && req->load_id == 0 && registry_store_clear_fresh(c->store, c->txn, st))
        return st->code;
    return CAIRN_OK;
}

/* ---- DISTRO_LOAD_END ------------------------------------------------------------------------- */

/* Drops the ephemeral state of (ns, svc) unless load marked it; *dropped counts it. A service
 * left with nothing (no definition, no persistent instance) goes. */
static cairn_err drop_unloaded(registry_write_ctx *c, const char *ns, const char *svc,
                               uint64_t load, uint32_t *dropped, cairn_status *st)
{
    bool marked, found;
    if (registry_store_load_marked(c->store, c->txn, ns, svc, load, &marked, st))
        return st->code;
    if (marked)
        return CAIRN_OK;
    cairn_service rec;
    if (registry_store_get_service(c->store, c->txn, ns, svc, &rec, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK;
    uint64_t gone, left;
    cairn_err err = registry_store_delete_kind(c->store, c->txn, ns, svc, true, &gone, st);
    if (!err)
        err = registry_store_instance_count(c->store, c->txn, ns, svc, &left, st);
    if (!err && (gone > 0 || rec.distro.epoch != 0)) {
        (*dropped)++;
        cairn_distro_version_free(&rec.distro);
        if (!rec.defined && left == 0) {
            uint64_t rev;
            if (!(err = registry_store_delete_service(c->store, c->txn, ns, svc, st)) &&
                !(err = registry_store_next_revision(c->store, c->txn, &rev, st)))
                err = registry_write_note_change(c, ns, svc, CAIRN_CHANGE_REMOVED, rev, st);
        } else {
            err = registry_touch_noted(c, &rec, CAIRN_CHANGE_INSTANCES, st);
        }
    }
    cairn_service_free(&rec);
    return err;
}

cairn_err registry_distro_load_end(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    uint64_t active;
    bool fresh;
    if (registry_store_load_active(c->store, c->txn, &active, st) ||
        registry_store_fresh(c->store, c->txn, &fresh, st))
        return st->code;
    /* A load whose source held no ephemeral state sent no page, so none began: a fresh store
     * then ends it with nothing to drop (what syncs brought meanwhile stays). */
    if (req->load_id != 0 && active == 0 && fresh)
        return registry_store_clear_fresh(c->store, c->txn, st);
    if (req->load_id == 0 || active != req->load_id)
        return cairn_fail(st, CAIRN_E_CONFLICT,
                          "load %016llx is not under way (the last one begun: %016llx)",
                          (unsigned long long)req->load_id, (unsigned long long)active);
    registry_keys keys;
    cairn_err err = registry_keys_all(c->store, c->txn, &keys, st);
    uint32_t dropped = 0;
    for (uint32_t i = 0; !err && i < keys.count; i++)
        err = drop_unloaded(c, keys.ns[i], keys.svc[i], active, &dropped, st);
    registry_keys_free(&keys);
    if (!err)
        err = registry_store_set_load_active(c->store, c->txn, 0, st);
    if (!err)
        err = registry_store_clear_fresh(c->store, c->txn, st);
    if (!err)
        rep->total = dropped;
    return err;
}
