/* Service requests: create (§3.1), update (§3.4), delete (§3.2), snapshot, list (§3.5), and the
 * store statistics. Messages are Nacos' own, word for word. */
#include "registry_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cairn_err nomem(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

static cairn_err service_create(registry_write_ctx *c, const char *ns, const cairn_request *req,
                                const cairn_service *def, cairn_status *st)
{
    cairn_service svc;
    bool found;
    if (registry_store_get_service(c->store, c->txn, ns, req->service, &svc, &found, st))
        return st->code;
    if (found) {
        cairn_service_free(&svc);
        return cairn_fail(st, CAIRN_E_CONFLICT,
                          "specified service already exists, serviceName : %s", req->service);
    }
    if (cairn_check_service_chars(req->service, st))
        return st->code;
    cairn_service_init(&svc);
    cairn_err err = CAIRN_OK;
    if (def) {
        svc.protect_threshold = def->protect_threshold;
        if (cairn_metadata_copy(&svc.metadata, &def->metadata))
            err = nomem(st);
        if (!err && def->selector_json)
            err = registry_replace_string(&svc.selector_json, def->selector_json, st);
        if (!err)
            err = cairn_service_merge_clusters(&svc, def, st);
    }
    if (!err)
        err = registry_replace_string(&svc.namespace_id, ns, st);
    if (!err)
        err = registry_replace_string(&svc.name, req->service, st);
    svc.defined = true;
    if (!err)
        err = registry_touch_service(c, &svc, CAIRN_CHANGE_SERVICE, true, st);
    cairn_service_free(&svc);
    return err;
}

static cairn_err service_update(registry_write_ctx *c, const char *ns, const cairn_request *req,
                                const cairn_service *def, cairn_status *st)
{
    cairn_service svc;
    if (registry_need_service(c->store, c->txn, ns, req->service, &svc, st, CAIRN_E_INVALID,
                              "service %s not found!", req->service))
        return st->code;
    cairn_err err = CAIRN_OK;
    if (def) {
        /* §3.4: metadata and selector are replaced, not merged; clusters are kept, and those the
         * request names replace the ones of the same name. */
        cairn_metadata md;
        if (cairn_metadata_copy(&md, &def->metadata)) {
            err = nomem(st);
        } else {
            cairn_metadata_free(&svc.metadata);
            svc.metadata = md;
        }
        svc.protect_threshold = def->protect_threshold;
        if (!err)
            err = registry_replace_string(&svc.selector_json, def->selector_json, st);
        if (!err)
            err = cairn_service_merge_clusters(&svc, def, st);
    }
    svc.defined = true;
    if (!err)
        err = registry_touch_service(c, &svc, CAIRN_CHANGE_SERVICE, true, st);
    cairn_service_free(&svc);
    return err;
}

/* §6 PUT /cluster: the clusters named in def are added or replace those of the same name; the
 * rest of the definition is left alone. */
static cairn_err service_clusters(registry_write_ctx *c, const char *ns, const cairn_request *req,
                                  const cairn_service *def, cairn_status *st)
{
    if (!def || def->cluster_count == 0)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'clusterName' is required.");
    cairn_service svc;
    if (registry_need_service(c->store, c->txn, ns, req->service, &svc, st, CAIRN_E_INVALID,
                              "service not found:%s", req->service))
        return st->code;
    cairn_err err = cairn_service_merge_clusters(&svc, def, st);
    if (!err)
        err = registry_touch_service(c, &svc, CAIRN_CHANGE_SERVICE, true, st);
    cairn_service_free(&svc);
    return err;
}

cairn_err registry_service_put(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                               cairn_status *st)
{
    if (cairn_check_service_ref(req, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    const cairn_service *def = req->has_service ? &req->service_def : NULL;
    switch (req->mode) {
    case CAIRN_SERVICE_CREATE:
        return service_create(c, ns, req, def, st);
    case CAIRN_SERVICE_UPDATE:
        return service_update(c, ns, req, def, st);
    case CAIRN_SERVICE_CLUSTERS:
        return service_clusters(c, ns, req, def, st);
    default:
        return cairn_fail(st, CAIRN_E_INVALID, "unsupported service mode %u", req->mode);
    }
}

cairn_err registry_service_remove(registry_write_ctx *c, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st)
{
    if (cairn_check_service_ref(req, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    cairn_service svc;
    if (registry_need_service(c->store, c->txn, ns, req->service, &svc, st, CAIRN_E_INVALID,
                              "specified service not exist, serviceName : %s", req->service))
        return st->code;
    cairn_service_free(&svc);
    return registry_drop_service(c, ns, req->service, true, st);
}

cairn_err registry_service_get(registry_store *s, MDB_txn *txn, const cairn_request *req,
                               cairn_reply *rep, cairn_status *st)
{
    if (cairn_check_service_ref(req, st))
        return st->code;
    const char *ns = cairn_req_ns(req);
    cairn_service_snapshot snap;
    memset(&snap, 0, sizeof snap);
    if (registry_store_get_service(s, txn, ns, req->service, &snap.service, &snap.found, st))
        return st->code;
    if (snap.found && registry_store_list_instances(s, txn, ns, req->service, &snap.instances,
                                                    &snap.instance_count, st)) {
        cairn_service_free(&snap.service);
        return st->code;
    }
    if (!snap.found)
        cairn_service_init(&snap.service);
    cairn_service_snapshot_free(&rep->snapshot);
    rep->snapshot = snap;
    rep->has_snapshot = true;
    return CAIRN_OK;
}

typedef struct list_page {
    const char *prefix; /* "<group>@@", NULL for every group */
    size_t prefix_len;
    registry_names names;
    /* the label selector: scope, and the metadata key and value it asks for */
    cairn_label_scope scope;
    const char *key, *value;
    registry_store *store;
    MDB_txn *txn;
    const char *ns;
    cairn_err err; /* a read that failed: the listing fails */
    cairn_status st;
} list_page;

static bool holds(const cairn_metadata *md, const list_page *p)
{
    const char *v = cairn_metadata_get(md, p->key);
    return v && strcmp(v, p->value) == 0;
}

/* Whether the service matches the label selector (ServiceController.filter*Metadata of 1.4.8:
 * the service's own metadata, or any instance's). */
static bool selected(list_page *p, const char *grouped)
{
    if (p->scope == CAIRN_LABEL_NONE || p->err != CAIRN_OK)
        return p->err == CAIRN_OK;
    bool match = false;
    if (p->scope == CAIRN_LABEL_SERVICE) {
        cairn_service svc;
        bool found = false;
        p->err = registry_store_get_service(p->store, p->txn, p->ns, grouped, &svc, &found, &p->st);
        if (p->err == CAIRN_OK && found) {
            match = holds(&svc.metadata, p);
            cairn_service_free(&svc);
        }
        return match;
    }
    cairn_instance *ins = NULL;
    uint32_t n = 0;
    p->err = registry_store_list_instances(p->store, p->txn, p->ns, grouped, &ins, &n, &p->st);
    for (uint32_t i = 0; i < n; i++) {
        match = match || holds(&ins[i].metadata, p);
        cairn_instance_free(&ins[i]);
    }
    free(ins);
    return match;
}

static void list_one(void *arg, const char *grouped)
{
    list_page *p = arg;
    if (p->prefix && strncmp(grouped, p->prefix, p->prefix_len) != 0)
        return;
    if (!selected(p, grouped))
        return;
    /* Names keep their group prefix only when every group was asked for. */
    registry_names_offer(&p->names, p->prefix ? grouped + p->prefix_len : grouped);
}

cairn_err registry_service_list(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st)
{
    const char *ns = cairn_req_ns(req);
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st))
        return st->code;
    const char *group = req->group && *req->group ? req->group : CAIRN_DEFAULT_GROUP;
    if (cairn_check_length("groupName", group, CAIRN_MAX_SERVICE_LEN, st))
        return st->code;
    char prefix[CAIRN_MAX_SERVICE_LEN + sizeof CAIRN_GROUP_SEPARATOR];
    list_page p = {0};
    if (strcmp(group, "*") != 0) {
        p.prefix_len = (size_t)snprintf(prefix, sizeof prefix, "%s%s", group,
                                        CAIRN_GROUP_SEPARATOR);
        p.prefix = prefix;
    }
    char *key = NULL;
    p.scope = (cairn_label_scope)req->mode;
    if (p.scope != CAIRN_LABEL_NONE) {
        /* "key=value", split at the first '=' */
        const char *eq = req->filter ? strchr(req->filter, '=') : NULL;
        if (!eq)
            return cairn_fail(st, CAIRN_E_INVALID, "a label selector needs key=value");
        if (!(key = strndup(req->filter, (size_t)(eq - req->filter))))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        p.key = key;
        p.value = eq + 1;
        p.store = s;
        p.txn = txn;
        p.ns = ns;
    }
    registry_names_page(&p.names, req->page_no, req->page_size);
    cairn_err err = registry_store_each_service(s, txn, ns, list_one, &p, st);
    if (err == CAIRN_OK && p.err != CAIRN_OK)
        err = (*st = p.st).code;
    free(key);
    if (err != CAIRN_OK) {
        registry_names_free(&p.names);
        return err;
    }
    return registry_names_reply(&p.names, rep, st);
}

cairn_err registry_stats(registry_store *s, MDB_txn *txn, const cairn_request *req,
                         cairn_reply *rep, cairn_status *st)
{
    /* The replication state: the store's Distro epoch, whether it is fresh, the watermark. */
    rep->store_epoch = s->epoch;
    if (registry_store_fresh(s, txn, &rep->store_fresh, st) ||
        registry_store_raft_applied(s, txn, &rep->raft_applied, st))
        return st->code;
    return registry_store_counts(s, txn, &rep->service_count, &rep->instance_count, st);
}
