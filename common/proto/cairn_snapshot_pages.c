/* The SNAPSHOT_PAGE walk (cairn_snapshot_pages.h). */
#include "cairn_snapshot_pages.h"

#include <stdio.h>
#include <string.h>

#include "cairn_requests.h"

/* The cursor: names are capped (cairn_model.h), so they fit here. */
typedef struct cursor {
    char ns[CAIRN_MAX_NAMESPACE_LEN + 1];
    char svc[CAIRN_MAX_SERVICE_LEN + 1];
} cursor;

static bool usable(const cairn_service_snapshot *snap)
{
    const cairn_service *s = &snap->service;
    return snap->found && s->namespace_id && s->name &&
           strlen(s->namespace_id) <= CAIRN_MAX_NAMESPACE_LEN &&
           strlen(s->name) <= CAIRN_MAX_SERVICE_LEN;
}

/* Visits one page; moves the cursor past it (a page of nothing usable cannot move it: an
 * error rather than asking for the same page again). */
static cairn_err visit_page(const cairn_reply *rep, cursor *cur, cairn_pages_visit_fn visit,
                            void *visit_arg, bool *stop, cairn_status *st)
{
    if (rep->snapshot_count > 0 && !usable(&rep->snapshots[rep->snapshot_count - 1]))
        return cairn_fail(st, CAIRN_E_INTERNAL, "caused: a snapshot page ends without names;");
    for (uint32_t i = 0; i < rep->snapshot_count && !*stop; i++) {
        const cairn_service_snapshot *snap = &rep->snapshots[i];
        if (!usable(snap))
            continue;
        cairn_err err = visit(visit_arg, snap, stop, st);
        if (err != CAIRN_OK)
            return err;
        strcpy(cur->ns, snap->service.namespace_id);
        strcpy(cur->svc, snap->service.name);
    }
    return CAIRN_OK;
}

cairn_err cairn_snapshot_pages(const char *from_ns, uint32_t page_size, cairn_pages_call_fn call,
                               void *call_arg, cairn_pages_visit_fn visit, void *visit_arg,
                               cairn_status *st)
{
    cursor cur = {.svc = ""};
    /* (from_ns, "") sorts before the namespace's first service. */
    snprintf(cur.ns, sizeof cur.ns, "%s", from_ns ? from_ns : "");
    bool stop = false;
    for (bool more = true; more && !stop;) {
        cairn_request rq;
        cairn_reply rep;
        cairn_reply_init(&rep);
        cairn_err err = cairn_request_snapshot_page(&rq, cur.ns, cur.svc, page_size, st);
        if (err == CAIRN_OK)
            err = call(call_arg, &rq, &rep, st);
        cairn_request_free(&rq);
        more = err == CAIRN_OK && rep.more && rep.snapshot_count > 0;
        if (err == CAIRN_OK)
            err = visit_page(&rep, &cur, visit, visit_arg, &stop, st);
        cairn_reply_free(&rep);
        if (err != CAIRN_OK)
            return err;
    }
    return CAIRN_OK;
}
