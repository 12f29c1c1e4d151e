/* SNAPSHOT_PAGE: every service with its instances, a page at a time, in key order (namespace,
 * then grouped name). A role that starts (the healthcheck, a pusher) loads the whole store this
 * way after subscribing to change events. */
#include "registry_handlers.h"

#include <stdlib.h>
#include <string.h>

/* A page stops early once it holds this many instances (and at least one service), so that one
 * reply stays a bounded message whatever page_size asks for. */
#define PAGE_MAX_INSTANCES 50000
#define PAGE_MAX_SERVICES 10000

typedef struct page {
    registry_store *store;
    MDB_txn *txn;
    uint32_t limit;
    cairn_service_snapshot *snaps;
    uint32_t count, cap;
    uint64_t instances;
    bool more;
    cairn_err err;
    cairn_status *st;
} page;

static bool add_service(void *arg, const char *ns, const char *grouped)
{
    page *p = arg;
    if (p->count >= p->limit || (p->count > 0 && p->instances >= PAGE_MAX_INSTANCES)) {
        p->more = true;
        return false;
    }
    if (p->count == p->cap) {
        uint32_t ncap = p->cap ? p->cap * 2 : 16;
        if (ncap > p->limit)
            ncap = p->limit;
        cairn_service_snapshot *grown = realloc(p->snaps, ncap * sizeof *grown);
        if (!grown) {
            p->err = cairn_fail(p->st, CAIRN_E_NOMEM, "out of memory paging snapshots");
            return false;
        }
        p->snaps = grown;
        p->cap = ncap;
    }
    cairn_service_snapshot *snap = &p->snaps[p->count];
    memset(snap, 0, sizeof *snap);
    if ((p->err = registry_store_get_service(p->store, p->txn, ns, grouped, &snap->service,
                                             &snap->found, p->st)))
        return false;
    if (!snap->found)
        return true; /* cannot happen inside one transaction; nothing to deliver */
    if ((p->err = registry_store_list_instances(p->store, p->txn, ns, grouped, &snap->instances,
                                                &snap->instance_count, p->st))) {
        cairn_service_free(&snap->service);
        return false;
    }
    p->instances += snap->instance_count;
    p->count++;
    return true;
}

cairn_err registry_snapshot_page(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                 cairn_reply *rep, cairn_status *st)
{
    if (req->page_size == 0)
        return cairn_fail(st, CAIRN_E_INVALID, "page_size must be at least 1");
    const char *ns = req->namespace_id ? req->namespace_id : "";
    const char *svc = req->service ? req->service : "";
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("serviceName", svc, CAIRN_MAX_SERVICE_LEN, st))
        return st->code;
    page p = {
        .store = s,
        .txn = txn,
        .limit = req->page_size < PAGE_MAX_SERVICES ? req->page_size : PAGE_MAX_SERVICES,
        .st = st,
    };
    /* The revision this page was read at: a follower's first page tells it which change events
     * its load already covers (cairn_follow.h). */
    cairn_err err = registry_store_revision(s, txn, &rep->revision, st);
    if (!err)
        err = registry_store_scan_services(s, txn, ns, svc, add_service, &p, st);
    if (!err)
        err = p.err;
    if (err) {
        for (uint32_t i = 0; i < p.count; i++)
            cairn_service_snapshot_free(&p.snaps[i]);
        free(p.snaps);
        return err;
    }
    rep->snapshots = p.snaps;
    rep->snapshot_count = p.count;
    rep->more = p.more;
    return CAIRN_OK;
}
