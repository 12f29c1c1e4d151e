/* The registry's one table of request types (registry_dispatch.h) and the two entry points the
 * rpc server calls. */
#include "registry_dispatch.h"

#include "cairn_clock.h"
#include "registry_handlers.h"

/* A read: answered in the calling worker from a read-only transaction. *to_writer set means the
 * request turned out to change state (a beat) and goes to the writer instead. */
typedef cairn_err (*read_fn)(registry_store *s, MDB_txn *txn, const cairn_request *req,
                             cairn_reply *rep, bool *to_writer, cairn_status *st);

static cairn_err read_beat(registry_store *s, MDB_txn *txn, const cairn_request *req,
                           cairn_reply *rep, bool *to_writer, cairn_status *st)
{
    bool handled = true;
    cairn_err err = registry_beat_read(s, txn, req, rep, &handled, st);
    *to_writer = !handled;
    return err;
}

#define READ(fn)                                                                           \
    static cairn_err read_##fn(registry_store *s, MDB_txn *txn, const cairn_request *req,  \
                               cairn_reply *rep, bool *to_writer, cairn_status *st)        \
    {                                                                                      \
        (void)to_writer;                                                                   \
        return registry_##fn(s, txn, req, rep, st);                                        \
    }
READ(service_get)
READ(instance_get)
READ(service_list)
READ(stats)
READ(snapshot_page)
READ(service_catalog)
READ(namespace_list)
READ(distro_digests)
READ(distro_keys)
READ(distro_fetch)
READ(distro_snapshot)

/* A note: kept in the registry's memory, never in the store. */
typedef cairn_err (*note_fn)(registry *r, const cairn_request *req, cairn_status *st);

static cairn_err note_in_use(registry *r, const cairn_request *req, cairn_status *st)
{
    if (!r->in_use)
        return CAIRN_OK; /* the sweep is off: nothing would read the marks */
    return registry_in_use_note(r->in_use, req, cairn_wall_ms(), st);
}

/* Every request type the registry serves: read, write, or both (read first), or a note. */
static const struct route {
    read_fn read;
    registry_apply_fn write;
    note_fn note;
    bool many; /* the write changes many services and names them (registry_write_note_change) */
} routes[CAIRN_MSG__END] = {
    [CAIRN_MSG_INSTANCE_UPSERT] = {.write = registry_instance_upsert},
    [CAIRN_MSG_INSTANCE_PATCH] = {.write = registry_instance_patch},
    [CAIRN_MSG_INSTANCE_REMOVE] = {.write = registry_instance_remove},
    [CAIRN_MSG_INSTANCE_GET] = {.read = read_instance_get},
    [CAIRN_MSG_INSTANCE_HEALTH] = {.write = registry_instance_health},
    /* most beats change nothing: the read path first */
    [CAIRN_MSG_BEAT] = {.read = read_beat, .write = registry_beat_write},
    [CAIRN_MSG_SERVICE_GET] = {.read = read_service_get},
    [CAIRN_MSG_SERVICE_PUT] = {.write = registry_service_put},
    [CAIRN_MSG_SERVICE_REMOVE] = {.write = registry_service_remove},
    [CAIRN_MSG_SERVICE_LIST] = {.read = read_service_list},
    [CAIRN_MSG_SERVICE_CATALOG] = {.read = read_service_catalog},
    [CAIRN_MSG_NAMESPACE_LIST] = {.read = read_namespace_list},
    [CAIRN_MSG_STATS] = {.read = read_stats},
    [CAIRN_MSG_SNAPSHOT_PAGE] = {.read = read_snapshot_page},
    /* cluster replication */
    [CAIRN_MSG_DISTRO_APPLY] = {.write = registry_distro_apply, .many = true},
    [CAIRN_MSG_DISTRO_DIGESTS] = {.read = read_distro_digests},
    [CAIRN_MSG_DISTRO_KEYS] = {.read = read_distro_keys},
    [CAIRN_MSG_DISTRO_FETCH] = {.read = read_distro_fetch},
    [CAIRN_MSG_DISTRO_SNAPSHOT] = {.read = read_distro_snapshot},
    [CAIRN_MSG_DISTRO_LOAD_END] = {.write = registry_distro_load_end, .many = true},
    [CAIRN_MSG_PERSIST_APPLY] = {.write = registry_persist_apply, .many = true},
    [CAIRN_MSG_PERSIST_REPLACE] = {.write = registry_persist_replace, .many = true},
    [CAIRN_MSG_INSTANCE_SET_OWNED] = {.write = registry_instance_set_owned},
    [CAIRN_MSG_OWNER_DROP] = {.write = registry_owner_drop},
    [CAIRN_MSG_SERVICES_IN_USE] = {.note = note_in_use},
};

static const struct route *route_of(cairn_msg_type type)
{
    static const struct route none;
    return (unsigned)type < CAIRN_MSG__END ? &routes[type] : &none;
}

bool registry_is_read(cairn_msg_type type)
{
    return route_of(type)->read != NULL;
}

bool registry_is_write(cairn_msg_type type)
{
    return route_of(type)->write != NULL;
}

/* Answers req from a read transaction; false when it must go to the writer instead. */
static bool handle_read(registry *r, read_fn read, const cairn_request *req, cairn_reply *rep)
{
    cairn_status st;
    cairn_status_clear(&st);
    MDB_txn *txn;
    bool to_writer = false;
    cairn_err err = registry_store_read_begin(r->store, &txn, &st);
    if (err == CAIRN_OK) {
        err = read(r->store, txn, req, rep, &to_writer, &st);
        mdb_txn_abort(txn);
    }
    if (to_writer)
        return false;
    registry_metrics_read(r->metrics, req->type);
    if (err != CAIRN_OK)
        cairn_reply_fail(rep, &st);
    return true;
}

/* The write of req, to be told done(done_arg); names the service its change event is about. */
static registry_write write_of(const struct route *rt, const cairn_request *req,
                               cairn_reply *rep, registry_write_done_fn done, void *done_arg)
{
    return (registry_write){
        .apply = rt->write,
        .req = req,
        .namespace_id = cairn_req_ns(req),
        .service = rt->many ? NULL : req->service ? req->service : "",
        .rep = rep,
        .done = done,
        .done_arg = done_arg,
    };
}

/* The limits on what a write stores; a write that breaks one is answered at once, on the worker,
 * and never reaches the writer. */
static bool within_limits(const registry *r, const cairn_request *req, cairn_reply *rep)
{
    cairn_status st;
    cairn_status_clear(&st);
    if ((req->has_instance && cairn_instance_check_limits(&req->instance, &r->limits, &st)) ||
        (req->has_service && cairn_service_check_limits(&req->service_def, &r->limits, &st))) {
        cairn_reply_fail(rep, &st);
        return false;
    }
    for (uint32_t i = 0; i < req->instance_count; i++) {
        if (cairn_instance_check_limits(&req->instances[i], &r->limits, &st)) {
            cairn_reply_fail(rep, &st);
            return false;
        }
    }
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
    const struct route *rt = route_of(req->type);
    if (!rt->write)
        return false; /* a read: registry_handle answers it */
    cairn_reply *rep = cairn_rpc_pending_reply(p);
    if (!within_limits(r, req, rep)) {
        cairn_rpc_pending_finish(p);
        return true;
    }
    if (rt->read && handle_read(r, rt->read, req, rep)) {
        cairn_rpc_pending_finish(p); /* a beat that changed nothing */
        return true;
    }
    registry_write wr = write_of(rt, req, rep, finish_pending, p);
    registry_writer_submit_async(r->writer, &wr);
    return true;
}

void registry_handle(void *arg, const cairn_request *req, cairn_reply *rep)
{
    registry *r = arg;
    const struct route *rt = route_of(req->type);
    if (rt->write && !within_limits(r, req, rep))
        return;
    if (rt->read && handle_read(r, rt->read, req, rep))
        return;
    if (rt->write) {
        registry_write wr = write_of(rt, req, rep, NULL, NULL);
        registry_writer_submit(r->writer, &wr);
        return;
    }
    cairn_status st;
    if (rt->note) {
        cairn_status_clear(&st);
        if (rt->note(r, req, &st) != CAIRN_OK)
            cairn_reply_fail(rep, &st);
        return;
    }
    cairn_fail(&st, CAIRN_E_INVALID, "unsupported request type %d", (int)req->type);
    cairn_reply_fail(rep, &st);
}
