/* Instance requests: register / strict update (§2.1, §2.3), patch (§2.4), deregister (§2.2),
 * detail (§2.6) and beat (§2.7). Messages are Nacos' own, word for word. */
#include "registry_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cairn_err nomem(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

/* Looks ip:port up in one cluster, the ephemeral list first, then the persistent one. */
static cairn_err find_instance(registry_store *s, MDB_txn *txn, const char *ns, const char *svc,
                               const char *cluster, const char *ip, int32_t port,
                               cairn_instance *out, bool *found, cairn_status *st)
{
    if (registry_store_get_instance(s, txn, ns, svc, true, cluster, ip, port, out, found, st))
        return st->code;
    if (*found)
        return CAIRN_OK;
    return registry_store_get_instance(s, txn, ns, svc, false, cluster, ip, port, out, found, st);
}

/* The id a snowflake-generated instance gets: the smallest non-negative integer that no instance
 * of the service uses as its id (§1.4). */
static cairn_err snowflake_id(registry_write_ctx *c, const char *ns, const char *svc, char **id,
                              cairn_status *st)
{
    cairn_instance *all;
    uint32_t n;
    if (registry_store_list_instances(c->store, c->txn, ns, svc, &all, &n, st))
        return st->code;
    /* With n instances one of 0..n is always free. */
    bool *used = calloc((size_t)n + 1, sizeof *used);
    cairn_err err = used ? CAIRN_OK : nomem(st);
    for (uint32_t i = 0; i < n; i++) {
        const char *v = all[i].instance_id;
        if (used && v && *v && strspn(v, "0123456789") == strlen(v) && strlen(v) <= 10) {
            unsigned long long x = strtoull(v, NULL, 10);
            if (x <= n)
                used[x] = true;
        }
        cairn_instance_free(&all[i]);
    }
    free(all);
    if (err == CAIRN_OK) {
        uint32_t x = 0;
        while (used[x])
            x++;
        char buf[16];
        snprintf(buf, sizeof buf, "%u", x);
        if (!(*id = strdup(buf)))
            err = nomem(st);
    }
    free(used);
    return err;
}

cairn_err registry_ensure_cluster(cairn_service *svc, const char *name, cairn_status *st)
{
    if (cairn_service_find_cluster(svc, name))
        return CAIRN_OK;
    if (cairn_check_cluster_chars(name, st))
        return st->code;
    cairn_cluster *grown = realloc(svc->clusters, (svc->cluster_count + 1) * sizeof *grown);
    if (!grown)
        return nomem(st);
    svc->clusters = grown;
    cairn_cluster *cl = &svc->clusters[svc->cluster_count];
    cairn_cluster_init_default(cl);
    if (!(cl->name = strdup(name))) {
        cairn_cluster_free(cl);
        return nomem(st);
    }
    svc->cluster_count++;
    return CAIRN_OK;
}

cairn_err registry_new_service(cairn_service *svc, const char *ns, const char *name,
                               cairn_status *st)
{
    cairn_service_init(svc);
    svc->defined = false; /* implicit: created by a registration, not by the service API */
    if (!(svc->namespace_id = strdup(ns)) || !(svc->name = strdup(name)))
        return nomem(st);
    return CAIRN_OK;
}

/* The write every instance change ends with: in, clamped (§2.1 step 5) and stamped with the
 * write time, stored in service svc_name, and the service (svc) given its next revision. */
static cairn_err store_instance(registry_write_ctx *c, const char *ns, const char *svc_name,
                                cairn_service *svc, cairn_instance *in, cairn_status *st)
{
    cairn_instance_normalize_weight(in);
    in->modified_ms = c->now_ms;
    if (registry_store_put_instance(c->store, c->txn, ns, svc_name, in, st))
        return st->code;
    return registry_touch_instances(c, svc, in->ephemeral, !in->ephemeral, st);
}

/* Register (create or replace) or strictly update the instance src of service svc_name in
 * cluster. A beat registration (§2.7) forces healthy and enabled. */
static cairn_err put_instance(registry_write_ctx *c, const char *ns, const char *svc_name,
                              const cairn_instance *src, const char *cluster, bool must_exist,
                              bool from_beat, cairn_status *st)
{
    cairn_instance in;
    if (cairn_instance_copy(&in, src))
        return nomem(st);
    cairn_service svc;
    bool have_svc = false;
    cairn_err err = CAIRN_OK;
    if (!in.cluster || strcmp(in.cluster, cluster) != 0) {
        free(in.cluster);
        if (!(in.cluster = strdup(cluster))) {
            err = nomem(st);
            goto out;
        }
    }
    if (from_beat)
        in.healthy = in.enabled = true;
    if ((err = cairn_instance_validate(&in, st)))
        goto out;

    bool found;
    if ((err = registry_store_get_service(c->store, c->txn, ns, svc_name, &svc, &found, st)))
        goto out;
    if (found) {
        have_svc = true;
    } else {
        if (must_exist) {
            err = cairn_fail(st, CAIRN_E_INVALID, "service not found, namespace: %s, service: %s",
                             ns, svc_name);
            goto out;
        }
        if ((err = cairn_check_service_chars(svc_name, st)))
            goto out;
        have_svc = true;
        if ((err = registry_new_service(&svc, ns, svc_name, st)))
            goto out;
    }
    if ((err = registry_ensure_cluster(&svc, cluster, st)))
        goto out;

    cairn_instance old;
    if ((err = registry_store_get_instance(c->store, c->txn, ns, svc_name, in.ephemeral, cluster,
                                           in.ip, in.port, &old, &found, st)))
        goto out;
    if (found) {
        /* Re-registration keeps the identity and the health the checker arrived at. */
        free(in.instance_id);
        in.instance_id = old.instance_id;
        old.instance_id = NULL;
        in.healthy = old.healthy;
        in.marked = old.marked;
        cairn_instance_free(&old);
    } else {
        if (must_exist) {
            char key[256];
            cairn_instance_datum_key(key, sizeof key, in.ip, in.port, cluster);
            err = cairn_fail(st, CAIRN_E_INVALID, "instance not exist: %s", key);
            goto out;
        }
        uint64_t count;
        if ((err = registry_store_instance_count(c->store, c->txn, ns, svc_name, &count, st)))
            goto out;
        if (count >= (uint64_t)c->max_instances_per_service) {
            err = cairn_fail(st, CAIRN_E_LIMIT, "too many instances in service %s (limit %lld)",
                             svc_name, (long long)c->max_instances_per_service);
            goto out;
        }
        free(in.instance_id);
        in.instance_id = NULL;
        const char *gen = cairn_metadata_get(&in.metadata, CAIRN_META_ID_GENERATOR);
        if (gen && strcmp(gen, "snowflake") == 0) {
            if ((err = snowflake_id(c, ns, svc_name, &in.instance_id, st)))
                goto out;
        } else if (!(in.instance_id = cairn_instance_default_id(in.ip, in.port, cluster,
                                                                 svc_name))) {
            err = nomem(st);
            goto out;
        }
    }
    err = store_instance(c, ns, svc_name, &svc, &in, st);
out:
    if (have_svc)
        cairn_service_free(&svc);
    cairn_instance_free(&in);
    return err;
}

cairn_err registry_instance_upsert(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    if (req->mode != CAIRN_UPSERT_REGISTER && req->mode != CAIRN_UPSERT_MUST_EXIST)
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported upsert mode %u", req->mode);
    return put_instance(c, cairn_req_ns(req), req->service, &req->instance, cluster,
                        req->mode == CAIRN_UPSERT_MUST_EXIST, false, st);
}

cairn_err registry_instance_patch(registry_write_ctx *c, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st)
{
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    cairn_instance in;
    bool found;
    cairn_err err =
        req->patch_mask & CAIRN_PATCH_KIND
            ? registry_store_get_instance(c->store, c->txn, ns, req->service,
                                          req->instance.ephemeral, cluster, req->instance.ip,
                                          req->instance.port, &in, &found, st)
            : find_instance(c->store, c->txn, ns, req->service, cluster, req->instance.ip,
                            req->instance.port, &in, &found, st);
    if (err)
        return st->code;
    if (!found)
        return cairn_fail(st, CAIRN_E_INVALID, "instance not found");
    cairn_service svc;
    bool svc_found = false;
    err = cairn_instance_apply_patch(&in, &req->instance, req->patch_mask, st);
    if (!err)
        err = cairn_instance_validate(&in, st);
    if (!err) /* merged metadata may outgrow what one request could carry */
        err = cairn_instance_check_limits(&in, c->limits, st);
    if (!err) {
        err = registry_need_service(c->store, c->txn, ns, req->service, &svc, st,
                                    CAIRN_E_INVALID, "instance not found");
        svc_found = !err;
    }
    if (!err)
        err = store_instance(c, ns, req->service, &svc, &in, st);
    if (svc_found)
        cairn_service_free(&svc);
    cairn_instance_free(&in);
    return err;
}

cairn_err registry_instance_remove(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    cairn_service svc;
    bool found;
    if (registry_store_get_service(c->store, c->txn, ns, req->service, &svc, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK; /* §2.2: deregistering from a missing service is still "ok" */
    if (req->instance.ephemeral) {
        /* A connection's instance is its client's to remove (as in Nacos 2.x, where the caller
         * is another client): "ok", and nothing changes. */
        cairn_instance cur;
        if (registry_store_get_instance(c->store, c->txn, ns, req->service, true, cluster,
                                        req->instance.ip, req->instance.port, &cur, &found, st)) {
            cairn_service_free(&svc);
            return st->code;
        }
        bool owned = found && cur.owner && cur.owner[0];
        if (found)
            cairn_instance_free(&cur);
        if (owned) {
            cairn_service_free(&svc);
            return CAIRN_OK;
        }
    }
    bool deleted;
    cairn_err err = registry_store_delete_instance(c->store, c->txn, ns, req->service,
                                                   req->instance.ephemeral, cluster,
                                                   req->instance.ip, req->instance.port,
                                                   &deleted, st);
    /* The service stays even when it becomes empty, as in Nacos. */
    if (!err && deleted)
        err = registry_touch_instances(c, &svc, req->instance.ephemeral,
                                       !req->instance.ephemeral, st);
    cairn_service_free(&svc);
    return err;
}

cairn_err registry_instance_get(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st)
{
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    cairn_service svc;
    if (registry_need_service(s, txn, ns, req->service, &svc, st, CAIRN_E_NOT_FOUND,
                              "no service %s found!", req->service))
        return st->code;
    cairn_service_free(&svc);
    cairn_instance in;
    bool found;
    if (find_instance(s, txn, ns, req->service, cluster, req->instance.ip, req->instance.port,
                      &in, &found, st))
        return st->code;
    if (found) {
        cairn_instance_free(&rep->instance);
        rep->instance = in;
        rep->has_instance = true;
        return CAIRN_OK;
    }
    /* Which of Nacos' two messages applies depends on whether the cluster has any instance;
     * this scan happens only on the miss path. */
    cairn_instance *all;
    uint32_t n;
    if (registry_store_list_instances(s, txn, ns, req->service, &all, &n, st))
        return st->code;
    bool cluster_has_ips = false;
    for (uint32_t i = 0; i < n; i++) {
        if (all[i].cluster && strcmp(all[i].cluster, cluster) == 0)
            cluster_has_ips = true;
        cairn_instance_free(&all[i]);
    }
    free(all);
    if (!cluster_has_ips)
        return cairn_fail(st, CAIRN_E_NOT_FOUND, "no ips found for cluster %s in service %s",
                          cluster, req->service);
    return cairn_fail(st, CAIRN_E_NOT_FOUND, "no matched ip found!");
}

static void beat_ok(cairn_reply *rep, const cairn_instance *in)
{
    rep->beat_code = CAIRN_BEAT_CODE_OK;
    rep->beat_interval_ms = cairn_metadata_millis(&in->metadata, CAIRN_META_BEAT_INTERVAL,
                                                  CAIRN_DEFAULT_BEAT_INTERVAL_MS);
}

static void beat_not_found(cairn_reply *rep)
{
    rep->beat_code = CAIRN_BEAT_CODE_NOT_FOUND;
    rep->beat_interval_ms = CAIRN_DEFAULT_BEAT_INTERVAL_MS;
}

/* A beat turns an unhealthy ephemeral instance healthy unless its health was set by hand. */
static bool beat_revives(const cairn_instance *in)
{
    return in->ephemeral && !in->marked && !in->healthy;
}

cairn_err registry_beat_read(registry_store *s, MDB_txn *txn, const cairn_request *req,
                             cairn_reply *rep, bool *handled, cairn_status *st)
{
    *handled = true;
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    cairn_instance in;
    bool found;
    if (find_instance(s, txn, cairn_req_ns(req), req->service, cluster, req->instance.ip,
                      req->instance.port, &in, &found, st))
        return st->code;
    if (!found) {
        if (req->has_body)
            *handled = false; /* re-registers: a write */
        else
            beat_not_found(rep);
        return CAIRN_OK;
    }
    if (beat_revives(&in))
        *handled = false;
    else
        beat_ok(rep, &in);
    cairn_instance_free(&in);
    return CAIRN_OK;
}

cairn_err registry_beat_write(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                              cairn_status *st)
{
    const char *cluster;
    if (cairn_check_instance_ref(req, &cluster, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    const cairn_instance *sel = &req->instance;
    cairn_instance in;
    bool found;
    if (find_instance(c->store, c->txn, ns, req->service, cluster, sel->ip, sel->port, &in,
                      &found, st))
        return st->code;
    if (!found) {
        if (!req->has_body) {
            beat_not_found(rep);
            return CAIRN_OK;
        }
        if (put_instance(c, ns, req->service, sel, cluster, false, true, st) ||
            registry_store_get_instance(c->store, c->txn, ns, req->service, sel->ephemeral,
                                        cluster, sel->ip, sel->port, &in, &found, st))
            return st->code;
        if (!found)
            return cairn_fail(st, CAIRN_E_INTERNAL, "instance vanished after registration");
    }
    cairn_err err = CAIRN_OK;
    if (beat_revives(&in)) {
        cairn_service svc;
        in.healthy = true; /* an ephemeral instance: the change needs no sync */
        err = registry_need_service(c->store, c->txn, ns, req->service, &svc, st,
                                    CAIRN_E_INTERNAL, "service not found: %s@%s", req->service, ns);
        if (!err) {
            err = store_instance(c, ns, req->service, &svc, &in, st);
            cairn_service_free(&svc);
        }
    }
    if (!err)
        beat_ok(rep, &in);
    cairn_instance_free(&in);
    return err;
}
