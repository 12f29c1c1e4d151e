/* Shared rules of the write requests (contract in cairn_write_rules.h). */
#include "cairn_write_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cairn_err nomem(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

const char *cairn_req_ns(const cairn_request *req)
{
    return req->namespace_id && *req->namespace_id ? req->namespace_id : CAIRN_DEFAULT_NAMESPACE;
}

cairn_err cairn_check_service_ref(const cairn_request *req, cairn_status *st)
{
    if (!req->service || !*req->service)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'serviceName' is required.");
    if (cairn_check_length("namespaceId", cairn_req_ns(req), CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("serviceName", req->service, CAIRN_MAX_SERVICE_LEN, st))
        return st->code;
    return CAIRN_OK;
}

cairn_err cairn_check_service_name(const char *ns, const char *svc, cairn_status *st)
{
    if (!svc || !*svc)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'serviceName' is required.");
    if (cairn_check_length("namespaceId", ns && *ns ? ns : CAIRN_DEFAULT_NAMESPACE,
                           CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("serviceName", svc, CAIRN_MAX_SERVICE_LEN, st) ||
        cairn_check_grouped_format(svc, st))
        return st->code;
    return CAIRN_OK;
}

cairn_err cairn_check_instance_ref(const cairn_request *req, const char **cluster,
                                   cairn_status *st)
{
    if (cairn_check_service_ref(req, st))
        return st->code;
    if (!req->has_instance || !req->instance.ip || !*req->instance.ip)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'ip' is required.");
    *cluster = cairn_cluster_or_default(req->instance.cluster);
    if (cairn_check_length("ip", req->instance.ip, CAIRN_MAX_IP_LEN, st) ||
        cairn_check_length("clusterName", *cluster, CAIRN_MAX_CLUSTER_LEN, st))
        return st->code;
    return CAIRN_OK;
}

void cairn_instance_datum_key(char *buf, size_t len, const char *ip, int32_t port,
                              const char *cluster)
{
    if (port > 0)
        snprintf(buf, len, "%s:%d:unknown:%s", ip, (int)port, cluster);
    else
        snprintf(buf, len, "%s:unknown:%s", ip, cluster);
}

cairn_err cairn_instance_apply_patch(cairn_instance *in, const cairn_instance *p, uint32_t mask,
                                     cairn_status *st)
{
    cairn_metadata md = {0};
    char *app = NULL;
    if ((mask & CAIRN_PATCH_METADATA) && cairn_metadata_copy(&md, &p->metadata))
        return nomem(st);
    if ((mask & CAIRN_PATCH_APP) && p->app && !(app = strdup(p->app))) {
        cairn_metadata_free(&md);
        return nomem(st);
    }
    for (uint32_t i = 0; i < p->metadata.len; i++) {
        const cairn_kv *kv = &p->metadata.items[i];
        if ((mask & CAIRN_PATCH_METADATA_PUT) &&
            cairn_metadata_set(&in->metadata, kv->key, kv->value) != CAIRN_OK) {
            cairn_metadata_free(&md);
            free(app);
            return nomem(st);
        }
        if (mask & CAIRN_PATCH_METADATA_DELETE)
            cairn_metadata_remove(&in->metadata, kv->key);
    }
    if (mask & CAIRN_PATCH_METADATA) {
        cairn_metadata_free(&in->metadata);
        in->metadata = md;
    }
    if (mask & CAIRN_PATCH_APP) {
        free(in->app);
        in->app = app;
    }
    if (mask & CAIRN_PATCH_WEIGHT)
        in->weight = p->weight;
    if (mask & CAIRN_PATCH_HEALTHY)
        in->healthy = p->healthy;
    if (mask & CAIRN_PATCH_ENABLED)
        in->enabled = p->enabled;
    return CAIRN_OK;
}

cairn_err cairn_service_merge_clusters(cairn_service *dst, const cairn_service *src,
                                       cairn_status *st)
{
    for (uint32_t i = 0; i < src->cluster_count; i++) {
        const cairn_cluster *cl = &src->clusters[i];
        cairn_cluster copy;
        if (cairn_cluster_copy(&copy, cl))
            return nomem(st);
        uint32_t j = 0;
        while (j < dst->cluster_count && strcmp(dst->clusters[j].name, cl->name) != 0)
            j++;
        if (j == dst->cluster_count) {
            cairn_cluster *grown = realloc(dst->clusters, (j + 1) * sizeof *grown);
            if (!grown) {
                cairn_cluster_free(&copy);
                return nomem(st);
            }
            dst->clusters = grown;
            dst->cluster_count++;
        } else {
            cairn_cluster_free(&dst->clusters[j]);
        }
        dst->clusters[j] = copy;
    }
    return CAIRN_OK;
}
