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
    registry_names names;   /* the page of the matching names */
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
    if (matches(p, grouped))
        registry_names_offer(&p->names, grouped);
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

/* The summaries of the page's names into rep (the names move into the summaries). */
static cairn_err summarize_page(registry_store *s, MDB_txn *txn, const char *ns,
                                registry_names *names, cairn_reply *rep, cairn_status *st)
{
    rep->total = names->total;
    if (names->count == 0)
        return CAIRN_OK;
    if (!(rep->summaries = calloc(names->count, sizeof *rep->summaries))) {
        registry_names_free(names);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    cairn_err err = CAIRN_OK;
    uint32_t done = 0;
    while (done < names->count && !err) {
        err = summarize(s, txn, ns, names->names[done], &rep->summaries[done], st);
        names->names[done++] = NULL; /* moved; freed with the reply, also after an error */
    }
    rep->summary_count = done;
    registry_names_free(names);
    return err;
}

cairn_err registry_service_catalog(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    const char *ns = cairn_req_ns(req);
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st))
        return st->code;
    catalog_page p = {.group_part = req->group, .name_part = req->filter};
    registry_names_page(&p.names, req->page_no, req->page_size);
    cairn_err err = registry_store_each_service(s, txn, ns, collect_one, &p, st);
    if (!err && p.names.nomem)
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (err) {
        registry_names_free(&p.names);
        return err;
    }
    return summarize_page(s, txn, ns, &p.names, rep, st);
}

static void add_namespace(void *arg, const char *ns)
{
    registry_names_add(arg, ns);
}

cairn_err registry_namespace_list(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st)
{
    registry_names names = {0};
    if (registry_store_each_namespace(s, txn, add_namespace, &names, st)) {
        registry_names_free(&names);
        return st->code;
    }
    names.total = names.count;
    return registry_names_reply(&names, rep, st);
}
