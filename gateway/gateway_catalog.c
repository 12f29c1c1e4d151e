/* The console's data endpoints, in the shapes of Nacos' own console APIs so Nacos tooling reads
 * them: GET /nacos/v1/ns/catalog/services, GET /nacos/v1/ns/catalog/instances and
 * GET /nacos/v1/console/namespaces. Services are filtered and paged by the registry
 * (SERVICE_CATALOG: one request per page); a service's instances come from one SERVICE_GET and
 * are paged here (a service holds at most limits.max_instances_per_service). */
#include <stdlib.h>
#include <string.h>

#include "cairn_requests.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "gateway_reply.h"

#define CATALOG_MAX_PAGE_SIZE 1000
#define CATALOG_DEFAULT_PAGE_SIZE 10
#define SERVICE_REQUIRED "Param 'serviceName' is required."

/* pageNo (default 1, at least 1) and pageSize (default 10, 1..CATALOG_MAX_PAGE_SIZE). */
static cairn_err page_params(const gateway_params *p, uint32_t *no, uint32_t *size,
                             cairn_status *st)
{
    int32_t n, s;
    if (gateway_param_int(p, "pageNo", false, 1, &n, st) ||
        gateway_param_int(p, "pageSize", false, CATALOG_DEFAULT_PAGE_SIZE, &s, st))
        return st->code;
    if (n < 1)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'pageNo' must be at least 1, got %d", n);
    if (s < 1 || s > CATALOG_MAX_PAGE_SIZE)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'pageSize' must be 1..%d, got %d",
                          CATALOG_MAX_PAGE_SIZE, s);
    *no = (uint32_t)n;
    *size = (uint32_t)s;
    return CAIRN_OK;
}

/* A copy of an optional filter parameter (NULL when blank), with the service name cap. */
static cairn_err filter_param(const gateway_params *p, const char *key, const char **out,
                              cairn_status *st)
{
    *out = gateway_params_get(p, key);
    if (*out && cairn_check_length(key, *out, CAIRN_MAX_SERVICE_LEN, st))
        return st->code;
    return CAIRN_OK;
}

/* Nacos' ServiceView: the bare name, its group, and the counts. triggerFlag is "true" when the
 * healthy share is at or below the protect threshold (never for a service without instances). */
static json_t *service_view(const cairn_service_summary *sum)
{
    char group[CAIRN_MAX_SERVICE_LEN + 1], bare[CAIRN_MAX_SERVICE_LEN + 1];
    cairn_split_grouped(sum->name, group, sizeof group, bare, sizeof bare);
    bool trigger = sum->instance_count > 0 &&
                   (double)sum->healthy_count / sum->instance_count <= sum->protect_threshold;
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "name", bare, "groupName", group,
                     "clusterCount", (json_int_t)sum->cluster_count, "ipCount",
                     (json_int_t)sum->instance_count, "healthyInstanceCount",
                     (json_int_t)sum->healthy_count, "triggerFlag", trigger ? "true" : "false");
}

static json_t *service_page_json(const cairn_reply *rep)
{
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < rep->summary_count; i++)
        if (json_array_append_new(list, service_view(&rep->summaries[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    return json_pack("{s:I, s:o}", "count", (json_int_t)rep->total, "serviceList", list);
}

static void render_services(gateway *gw, const cairn_request *rq, cairn_err rc,
                            cairn_reply *rep, cairn_status *st, void *data,
                            gateway_response *resp)
{
    (void)gw, (void)rq, (void)data;
    if (rc != CAIRN_OK)
        gateway_reply_error(resp, st);
    else
        gateway_reply_json(resp, service_page_json(rep));
}

void gateway_catalog_services(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_CATALOG);
    const char *ns, *filter = NULL, *group = NULL;
    uint32_t no = 0, size = 0;
    cairn_err err = gateway_param_namespace(p, &ns, &st);
    if (!err)
        err = page_params(p, &no, &size, &st);
    if (!err)
        err = filter_param(p, "serviceNameParam", &filter, &st);
    if (!err)
        err = filter_param(p, "groupNameParam", &group, &st);
    if (!err)
        err = cairn_request_service_catalog(&rq, ns, group, filter, no, size, &st);
    if (err) {
        gateway_reply_error(resp, &st);
        cairn_request_free(&rq);
        return;
    }
    gateway_ask_registry(gw, req, resp, &rq, render_services, NULL, NULL);
}

/* One instance as the console lists it (Nacos' Instance keys, disabled ones included). */
static json_t *instance_json(const char *svc, const cairn_instance *in)
{
    return json_pack("{s:s, s:s, s:i, s:o, s:b, s:b, s:b, s:b, s:s, s:s, s:s, s:o}",
                     "instanceId", in->instance_id ? in->instance_id : "", "ip", in->ip,
                     "port", (int)in->port, "weight", cairn_json_double(in->weight), "healthy",
                     in->healthy, "enabled", in->enabled, "ephemeral", in->ephemeral, "marked",
                     in->marked, "clusterName", in->cluster ? in->cluster : CAIRN_DEFAULT_CLUSTER,
                     "serviceName", svc, "app", in->app ? in->app : CAIRN_DEFAULT_APP,
                     "metadata", cairn_json_metadata(&in->metadata));
}

static bool in_cluster(const cairn_instance *in, const char *cluster)
{
    return !cluster || strcmp(in->cluster ? in->cluster : CAIRN_DEFAULT_CLUSTER, cluster) == 0;
}

/* The page [start, start + size) of the instances in cluster (NULL: all) and their count. */
static json_t *instance_page_json(const cairn_service_snapshot *snap, const char *svc,
                                  const char *cluster, uint32_t no, uint32_t size)
{
    uint64_t start = (uint64_t)(no - 1) * size, count = 0;
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < snap->instance_count; i++) {
        if (!in_cluster(&snap->instances[i], cluster))
            continue;
        uint64_t idx = count++;
        if (idx >= start && idx < start + size &&
            json_array_append_new(list, instance_json(svc, &snap->instances[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    return json_pack("{s:I, s:o}", "count", (json_int_t)count, "list", list);
}

/* Whether the service knows cluster: defined, or named by one of its instances. */
static bool has_cluster(const cairn_service_snapshot *snap, const char *cluster)
{
    if (cairn_service_find_cluster(&snap->service, cluster))
        return true;
    for (uint32_t i = 0; i < snap->instance_count; i++)
        if (in_cluster(&snap->instances[i], cluster))
            return true;
    return false;
}

/* Which page of which cluster the console asked for. */
typedef struct instance_page {
    char *cluster; /* NULL: all */
    uint32_t no, size;
} instance_page;

static void page_free(void *arg)
{
    instance_page *page = arg;
    if (page)
        free(page->cluster);
    free(page);
}

static void render_instances(gateway *gw, const cairn_request *rq, cairn_err rc,
                             cairn_reply *rep, cairn_status *st, void *data,
                             gateway_response *resp)
{
    (void)gw;
    const instance_page *page = data;
    if (!rc && (!rep->has_snapshot || !rep->snapshot.found))
        rc = cairn_fail(st, CAIRN_E_NOT_FOUND, "service %s is not found!", rq->service);
    if (!rc && page->cluster && !has_cluster(&rep->snapshot, page->cluster))
        rc = cairn_fail(st, CAIRN_E_NOT_FOUND, "cluster %s is not found!", page->cluster);
    if (rc)
        gateway_reply_error(resp, st);
    else
        gateway_reply_json(resp, instance_page_json(&rep->snapshot, rq->service, page->cluster,
                                                    page->no, page->size));
}

void gateway_catalog_instances(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_GET);
    const char *svc, *ns;
    uint32_t no = 1, size = CATALOG_DEFAULT_PAGE_SIZE;
    cairn_err err = gateway_param_service(p, false, SERVICE_REQUIRED, &svc, &st);
    if (!err)
        err = gateway_param_namespace(p, &ns, &st);
    if (!err)
        err = page_params(p, &no, &size, &st);
    if (!err)
        err = cairn_request_service_get(&rq, ns, svc, &st);
    const char *cluster = gateway_params_get(p, "clusterName");
    instance_page *page = err ? NULL : calloc(1, sizeof *page);
    if (!err && (!page || (cluster && !(page->cluster = strdup(cluster)))))
        err = cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
    if (err) {
        page_free(page);
        gateway_reply_error(resp, &st);
        cairn_request_free(&rq);
        return;
    }
    page->no = no;
    page->size = size;
    gateway_ask_registry(gw, req, resp, &rq, render_instances, page, page_free);
}

/* Nacos' Namespace: public first (id "", type 0), then each other namespace holding services
 * (type 2, custom), named by its id: Cairn keeps no namespace names. */
static json_t *namespace_json(const char *id, const char *show, int type)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:i}", "namespace", id, "namespaceShowName", show,
                     "quota", 200, "configCount", 0, "type", type);
}

static json_t *namespaces_json(const cairn_reply *rep)
{
    json_t *data = json_array();
    if (data && json_array_append_new(data, namespace_json("", CAIRN_DEFAULT_NAMESPACE, 0)) != 0)
        goto fail;
    for (uint32_t i = 0; data && i < rep->name_count; i++) {
        if (strcmp(rep->names[i], CAIRN_DEFAULT_NAMESPACE) == 0)
            continue;
        if (json_array_append_new(data, namespace_json(rep->names[i], rep->names[i], 2)) != 0)
            goto fail;
    }
    return json_pack("{s:i, s:n, s:o}", "code", 200, "message", "data", data);
fail:
    json_decref(data);
    return NULL;
}

static void render_namespaces(gateway *gw, const cairn_request *rq, cairn_err rc,
                              cairn_reply *rep, cairn_status *st, void *data,
                              gateway_response *resp)
{
    (void)gw, (void)rq, (void)data;
    if (rc != CAIRN_OK)
        gateway_reply_error(resp, st);
    else
        gateway_reply_json(resp, namespaces_json(rep));
}

void gateway_console_namespaces(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_request rq;
    cairn_status st;
    cairn_request_namespace_list(&rq, &st); /* allocates nothing: cannot fail */
    gateway_ask_registry(gw, req, resp, &rq, render_namespaces, NULL, NULL);
}
