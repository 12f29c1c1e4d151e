/* Dispatch of registry requests and the checks every handler shares. */
#include "registry_handlers.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

bool registry_is_write(cairn_msg_type type)
{
    switch (type) {
    case CAIRN_MSG_INSTANCE_UPSERT:
    case CAIRN_MSG_INSTANCE_PATCH:
    case CAIRN_MSG_INSTANCE_REMOVE:
    case CAIRN_MSG_SERVICE_PUT:
    case CAIRN_MSG_SERVICE_REMOVE:
    case CAIRN_MSG_BEAT:
    case CAIRN_MSG_INSTANCE_HEALTH:
        return true;
    default:
        return false;
    }
}

void registry_reply_fail(cairn_reply *rep, const cairn_status *st)
{
    cairn_reply_free(rep);
    cairn_reply_init(rep);
    cairn_reply_set_status(rep, st);
}

static cairn_err unsupported(const cairn_request *req, cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_INVALID, "unsupported request type %d", (int)req->type);
}

/* A read: answered in the calling worker from a read-only transaction. */
typedef cairn_err (*read_fn)(registry_store *s, MDB_txn *txn, const cairn_request *req,
                             cairn_reply *rep, bool *handled, cairn_status *st);

static cairn_err read_stats(registry_store *s, MDB_txn *txn, const cairn_request *req,
                            cairn_reply *rep, bool *handled, cairn_status *st)
{
    return registry_stats(s, txn, rep, st);
}

static cairn_err read_beat(registry_store *s, MDB_txn *txn, const cairn_request *req,
                           cairn_reply *rep, bool *handled, cairn_status *st)
{
    return registry_beat_read(s, txn, req, rep, handled, st);
}

#define READ(fn)                                                                           \
    static cairn_err read_##fn(registry_store *s, MDB_txn *txn, const cairn_request *req,  \
                               cairn_reply *rep, bool *handled, cairn_status *st)          \
    {                                                                                      \
        return registry_##fn(s, txn, req, rep, st);                                        \
    }
READ(service_get)
READ(instance_get)
READ(service_list)
READ(snapshot_page)
READ(service_catalog)
READ(namespace_list)

/* Every read request type and its handler: the one list of them (metrics label from it too). */
static const read_fn readers[CAIRN_MSG__END] = {
    [CAIRN_MSG_SERVICE_GET] = read_service_get,
    [CAIRN_MSG_INSTANCE_GET] = read_instance_get,
    [CAIRN_MSG_SERVICE_LIST] = read_service_list,
    [CAIRN_MSG_STATS] = read_stats,
    [CAIRN_MSG_SNAPSHOT_PAGE] = read_snapshot_page,
    [CAIRN_MSG_BEAT] = read_beat, /* most beats change nothing: try the read path first */
    [CAIRN_MSG_SERVICE_CATALOG] = read_service_catalog,
    [CAIRN_MSG_NAMESPACE_LIST] = read_namespace_list,
};

bool registry_is_read(cairn_msg_type type)
{
    return (unsigned)type < CAIRN_MSG__END && readers[type];
}

/* Returns false when the request turned out to need the writer (a beat that changes state). */
static bool handle_read(registry *r, const cairn_request *req, cairn_reply *rep)
{
    cairn_status st;
    cairn_status_clear(&st);
    MDB_txn *txn;
    bool handled = true;
    cairn_err err = registry_store_read_begin(r->store, &txn, &st);
    if (err == CAIRN_OK) {
        err = readers[req->type](r->store, txn, req, rep, &handled, &st);
        mdb_txn_abort(txn);
    }
    if (!handled)
        return false;
    registry_metrics_read(r->metrics, req->type);
    if (err != CAIRN_OK)
        registry_reply_fail(rep, &st);
    return true;
}

static void finish_pending(void *arg)
{
    cairn_rpc_pending_finish(arg);
}

bool registry_defer(void *arg, cairn_rpc_pending *p)
{
    registry *r = arg;
    const cairn_request *req = cairn_rpc_pending_request(p);
    if (!registry_is_write(req->type))
        return false;
    registry_writer_submit_async(r->writer, req, cairn_rpc_pending_reply(p), finish_pending, p);
    return true;
}

void registry_handle(void *arg, const cairn_request *req, cairn_reply *rep)
{
    registry *r = arg;
    if (registry_is_read(req->type) && handle_read(r, req, rep))
        return;
    if (registry_is_write(req->type)) {
        registry_writer_submit(r->writer, req, rep);
        return;
    }
    cairn_status st;
    unsupported(req, &st);
    registry_reply_fail(rep, &st);
}

cairn_err registry_apply_write(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                               cairn_status *st)
{
    cairn_err err;
    switch (req->type) {
    case CAIRN_MSG_INSTANCE_UPSERT:
        err = registry_instance_upsert(c, req, rep, st);
        break;
    case CAIRN_MSG_INSTANCE_PATCH:
        err = registry_instance_patch(c, req, rep, st);
        break;
    case CAIRN_MSG_INSTANCE_REMOVE:
        err = registry_instance_remove(c, req, rep, st);
        break;
    case CAIRN_MSG_SERVICE_PUT:
        err = registry_service_put(c, req, rep, st);
        break;
    case CAIRN_MSG_SERVICE_REMOVE:
        err = registry_service_remove(c, req, rep, st);
        break;
    case CAIRN_MSG_BEAT:
        err = registry_beat_write(c, req, rep, st);
        break;
    case CAIRN_MSG_INSTANCE_HEALTH:
        err = registry_instance_health(c, req, rep, st);
        break;
    default:
        err = unsupported(req, st);
    }
    if (err == CAIRN_OK)
        rep->revision = c->changed ? c->revision : 0;
    return err;
}

const char *registry_req_ns(const cairn_request *req)
{
    return req->namespace_id && *req->namespace_id ? req->namespace_id : CAIRN_DEFAULT_NAMESPACE;
}

cairn_err registry_check_service_ref(const cairn_request *req, cairn_status *st)
{
    if (!req->service || !*req->service)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'serviceName' is required.");
    if (cairn_check_length("namespaceId", registry_req_ns(req), CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("serviceName", req->service, CAIRN_MAX_SERVICE_LEN, st))
        return st->code;
    return CAIRN_OK;
}

cairn_err registry_check_instance_ref(const cairn_request *req, const char **cluster,
                                      cairn_status *st)
{
    if (registry_check_service_ref(req, st))
        return st->code;
    if (!req->has_instance || !req->instance.ip || !*req->instance.ip)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'ip' is required.");
    const char *c = req->instance.cluster;
    *cluster = c && *c ? c : CAIRN_DEFAULT_CLUSTER;
    if (cairn_check_length("ip", req->instance.ip, CAIRN_MAX_IP_LEN, st) ||
        cairn_check_length("clusterName", *cluster, CAIRN_MAX_CLUSTER_LEN, st))
        return st->code;
    return CAIRN_OK;
}

cairn_err registry_need_service(registry_store *s, MDB_txn *txn, const char *ns, const char *name,
                                cairn_service *svc, cairn_status *st, cairn_err code,
                                const char *fmt, ...)
{
    bool found;
    if (registry_store_get_service(s, txn, ns, name, svc, &found, st))
        return st->code;
    if (found)
        return CAIRN_OK;
    va_list ap;
    va_start(ap, fmt);
    cairn_vfail(st, code, fmt, ap);
    va_end(ap);
    return code;
}

cairn_err registry_touch_service(registry_write_ctx *c, cairn_service *svc,
                                 cairn_change_kind kind, bool durable, cairn_status *st)
{
    uint64_t rev;
    if (registry_store_next_revision(c->store, c->txn, &rev, st))
        return st->code;
    svc->revision = rev;
    svc->modified_ms = c->now_ms;
    if (registry_store_put_service(c->store, c->txn, svc, st))
        return st->code;
    c->changed = true;
    c->durable = c->durable || durable;
    c->kind = kind;
    c->revision = rev;
    return CAIRN_OK;
}

void registry_names_page(registry_names *n, uint32_t page_no, uint32_t page_size)
{
    n->start = page_no > 0 ? ((uint64_t)page_no - 1) * page_size : 0;
    n->end = n->start + page_size;
}

void registry_names_add(registry_names *n, const char *name)
{
    if (n->nomem)
        return;
    if (n->count == n->cap) {
        uint32_t ncap = n->cap ? n->cap * 2 : 16;
        char **grown = realloc(n->names, ncap * sizeof *grown);
        if (!grown) {
            n->nomem = true;
            return;
        }
        n->names = grown;
        n->cap = ncap;
    }
    if (!(n->names[n->count] = strdup(name)))
        n->nomem = true;
    else
        n->count++;
}

void registry_names_offer(registry_names *n, const char *name)
{
    uint64_t idx = n->total++;
    if (idx >= n->start && idx < n->end)
        registry_names_add(n, name);
}

void registry_names_free(registry_names *n)
{
    for (uint32_t i = 0; i < n->count; i++)
        free(n->names[i]);
    free(n->names);
    n->names = NULL;
    n->count = n->cap = 0;
}

cairn_err registry_names_reply(registry_names *n, cairn_reply *rep, cairn_status *st)
{
    if (n->nomem) {
        registry_names_free(n);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    rep->names = n->names;
    rep->name_count = n->count;
    rep->total = n->total;
    n->names = NULL;
    n->count = n->cap = 0;
    return CAIRN_OK;
}
