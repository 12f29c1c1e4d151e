/* The SNAPSHOT_PAGE walk against a fake registry: cursors, the namespace start, stopping, errors
 * and a page that could not move the cursor. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_snapshot_pages.h"

/* The fake store: services in key order. */
static const char *const store[][2] = {
    {"a", "G@@s1"}, {"a", "G@@s2"}, {"b", "G@@s1"}, {"b", "G@@s2"}, {"b", "G@@s3"}, {"c", "G@@s1"},
};
#define STORE_LEN (sizeof store / sizeof store[0])

typedef struct fake {
    int calls;
    char cursors[16][64]; /* "ns/svc" of each request */
    int fail_at;          /* call number that fails with UNAVAILABLE (0: none) */
    bool nameless;        /* pages lack names */
} fake;

static int key_cmp(const char *ns1, const char *s1, const char *ns2, const char *s2)
{
    int c = strcmp(ns1, ns2);
    return c ? c : strcmp(s1, s2);
}

static cairn_err fake_call(void *arg, const cairn_request *req, cairn_reply *rep, cairn_status *st)
{
    fake *f = arg;
    cr_assert_eq(req->type, CAIRN_MSG_SNAPSHOT_PAGE);
    const char *ns = req->namespace_id ? req->namespace_id : "";
    const char *svc = req->service ? req->service : "";
    snprintf(f->cursors[f->calls], sizeof f->cursors[0], "%s/%s", ns, svc);
    if (++f->calls == f->fail_at)
        return cairn_fail(st, CAIRN_E_UNAVAILABLE, "registry unavailable");
    cairn_reply_init(rep);
    rep->snapshots = calloc(req->page_size, sizeof *rep->snapshots);
    for (size_t i = 0; i < STORE_LEN; i++) {
        if (ns[0] && key_cmp(store[i][0], store[i][1], ns, svc) <= 0)
            continue;
        if (rep->snapshot_count == req->page_size) {
            rep->more = true;
            break;
        }
        cairn_service_snapshot *snap = &rep->snapshots[rep->snapshot_count++];
        cairn_service_init(&snap->service);
        snap->found = true;
        if (!f->nameless) {
            snap->service.namespace_id = strdup(store[i][0]);
            snap->service.name = strdup(store[i][1]);
        }
    }
    return CAIRN_OK;
}

typedef struct seen {
    char list[256];
    const char *stop_at_ns; /* stop at the first service of another namespace than this */
    const char *fail_at;    /* grouped name whose visit fails */
} seen;

static cairn_err visit(void *arg, const cairn_service_snapshot *snap, bool *stop, cairn_status *st)
{
    seen *s = arg;
    if (s->stop_at_ns && strcmp(snap->service.namespace_id, s->stop_at_ns) != 0) {
        *stop = true;
        return CAIRN_OK;
    }
    if (s->fail_at && strcmp(snap->service.name, s->fail_at) == 0)
        return cairn_fail(st, CAIRN_E_LIMIT, "too much");
    size_t n = strlen(s->list);
    snprintf(s->list + n, sizeof s->list - n, "%s%s/%s", n ? " " : "",
             snap->service.namespace_id, snap->service.name);
    return CAIRN_OK;
}

Test(snapshot_pages, walks_every_page_with_the_cursor)
{
    fake f = {0};
    seen s = {.fail_at = NULL};
    cairn_status st;
    cr_assert_eq(cairn_snapshot_pages(NULL, 4, fake_call, &f, visit, &s, &st), CAIRN_OK);
    cr_expect_str_eq(s.list, "a/G@@s1 a/G@@s2 b/G@@s1 b/G@@s2 b/G@@s3 c/G@@s1");
    cr_assert_eq(f.calls, 2);
    cr_expect_str_eq(f.cursors[0], "/");
    cr_expect_str_eq(f.cursors[1], "b/G@@s2");
}

Test(snapshot_pages, one_namespace_from_its_start_until_visit_stops)
{
    fake f = {0};
    seen s = {.stop_at_ns = "b"};
    cairn_status st;
    cr_assert_eq(cairn_snapshot_pages("b", 2, fake_call, &f, visit, &s, &st), CAIRN_OK);
    cr_expect_str_eq(s.list, "b/G@@s1 b/G@@s2 b/G@@s3");
    cr_expect_eq(f.calls, 2, "no page is asked for after the stop");
    cr_expect_str_eq(f.cursors[0], "b/");
}

Test(snapshot_pages, errors_end_the_walk)
{
    fake f = {.fail_at = 2};
    seen s = {.fail_at = NULL};
    cairn_status st;
    cr_expect_eq(cairn_snapshot_pages(NULL, 2, fake_call, &f, visit, &s, &st),
                 CAIRN_E_UNAVAILABLE);
    cr_expect_str_eq(st.message, "registry unavailable");
    cr_expect_str_eq(s.list, "a/G@@s1 a/G@@s2");

    fake g = {0};
    seen t = {.fail_at = "G@@s2"};
    cr_expect_eq(cairn_snapshot_pages(NULL, 10, fake_call, &g, visit, &t, &st), CAIRN_E_LIMIT);
    cr_expect_str_eq(t.list, "a/G@@s1");

    fake h = {.nameless = true};
    seen u = {.fail_at = NULL};
    cr_expect_eq(cairn_snapshot_pages(NULL, 2, fake_call, &h, visit, &u, &st), CAIRN_E_INTERNAL,
                 "a page that cannot move the cursor must not be asked for again");
    cr_expect_eq(h.calls, 1);
}
