/* The console's reads: SERVICE_CATALOG (a filtered page of services with their instance counts)
 * and NAMESPACE_LIST. Filtering happens here, before paging, so `total` counts what matched;
 * only the services of the page are opened to count their instances, so a page costs one scan
 * of the namespace's service keys plus the page's own instances. */
#include "registry_handlers.h"

#include <stdlib.h>
#include <string.h>

typedef struct catalog_page {
    const char *group_part; /* NULL or "": any group */
    const char *name_part;  /* NULL or "": any name */
    uint64_t start, end;    /* slice [start, end) of the matching names */
    uint32_t total;
    char **names;
    uint32_t count, cap;
    bool nomem;
} catalog_page;

static bool blank(const char *s)
{
    return !s || !*s;
}

/* Whether grouped ("group@@name") matches both substring filters. */
static bool matches(const catalog_page *p, const char *grouped)
{
    const char *sep = strstr(grouped, CAIRN_GROUP_SEPARATOR);
    const char *name = sep ? sep + strlen(CAIRN_GROUP_SEPARATOR) : grouped;
    size_t group_len = sep ? (size_t)(sep - grouped) : 0;
    if (!blank(p->group_part) &&
        !memmem(grouped, group_len, p->group_part, strlen(p->group_part)))
        return false;
    return blank(p->name_part) || strstr(name, p->name_part) != NULL;
}

static void collect_one(void *arg, const char *grouped)
{
    catalog_page *p = arg;
    if (!matches(p, grouped))
        return;
    uint64_t idx = p->total++;
    if (idx < p->start || idx >= p->end || p->nomem)
        return;
    if (p->count == p->cap) {
        uint32_t ncap = p->cap ? p->cap * 2 : 16;
        char **grown = realloc(p->names, ncap * sizeof *grown);
        if (!grown) {
            p->nomem = true;
            return;
        }
        p->names = grown;
        p->cap = ncap;
    }
    if (!(p->names[p->count] = strdup(grouped)))
        p->nomem = true;
    else
        p->count++;
}

static void free_names(char **names, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* Whether an earlier instance than i, or a defined cluster, already has i's cluster. */
static bool cluster_seen(const cairn_service *svc, const cairn_instance *insts, uint32_t i)
{
    const char *name = insts[i].cluster ? insts[i].cluster : CAIRN_DEFAULT_CLUSTER;
    if (cairn_service_find_cluster(svc, name))
        return true;
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(insts[j].cluster ? insts[j].cluster : CAIRN_DEFAULT_CLUSTER, name) == 0)
            return true;
    return false;
}

/* The counts of one service; name is moved into *sum. */
static cairn_err summarize(registry_store *s, MDB_txn *txn, const char *ns, char *name,
                           cairn_service_summary *sum, cairn_status *st)
{
    memset(sum, 0, sizeof *sum);
    sum->name = name;
    cairn_service svc;
    bool found;
    if (registry_store_get_service(s, txn, ns, name, &svc, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK; /* cannot happen inside one transaction */
    cairn_instance *insts = NULL;
    uint32_t n = 0;
    cairn_err err = registry_store_list_instances(s, txn, ns, name, &insts, &n, st);
    sum->protect_threshold = svc.protect_threshold;
    sum->cluster_count = svc.cluster_count;
    sum->instance_count = n;
    for (uint32_t i = 0; i < n; i++) {
        sum->healthy_count += insts[i].healthy;
        sum->cluster_count += !cluster_seen(&svc, insts, i);
    }
    for (uint32_t i = 0; i < n; i++)
        cairn_instance_free(&insts[i]);
    free(insts);
    cairn_service_free(&svc);
    return err;
}

cairn_err registry_service_catalog(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    const char *ns = registry_req_ns(req);
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st))
        return st->code;
    catalog_page p = {.group_part = req->group, .name_part = req->filter};
    p.start = req->page_no > 0 ? ((uint64_t)req->page_no - 1) * req->page_size : 0;
    p.end = p.start + req->page_size;
    cairn_err err = registry_store_each_service(s, txn, ns, collect_one, &p, st);
    if (!err && p.nomem)
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    cairn_service_summary *sums = NULL;
    if (!err && p.count > 0 && !(sums = calloc(p.count, sizeof *sums)))
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (err) {
        free_names(p.names, p.count);
        return err;
    }
    uint32_t done = 0;
    for (; done < p.count && !err; done++)
        err = summarize(s, txn, ns, p.names[done], &sums[done], st);
    for (uint32_t i = done; i < p.count; i++)
        free(p.names[i]); /* not moved into a summary */
    free(p.names);
    rep->summaries = sums;
    rep->summary_count = done; /* freed with the reply, also after an error */
    rep->total = p.total;
    return err;
}

typedef struct name_list {
    char **names;
    uint32_t count, cap;
    bool nomem;
} name_list;

static void add_name(void *arg, const char *name)
{
    name_list *l = arg;
    if (l->nomem)
        return;
    if (l->count == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 8;
        char **grown = realloc(l->names, ncap * sizeof *grown);
        if (!grown) {
            l->nomem = true;
            return;
        }
        l->names = grown;
        l->cap = ncap;
    }
    if (!(l->names[l->count] = strdup(name)))
        l->nomem = true;
    else
        l->count++;
}

cairn_err registry_namespace_list(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st)
{
    name_list l = {0};
    cairn_err err = registry_store_each_namespace(s, txn, add_name, &l, st);
    if (!err && l.nomem)
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (err) {
        free_names(l.names, l.count);
        return err;
    }
    rep->names = l.names;
    rep->name_count = l.count;
    rep->total = l.count;
    return CAIRN_OK;
}
