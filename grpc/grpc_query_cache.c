/* cairn-grpc's ServiceInfo cache (grpc.h "grpc_query_cache.c"): a cairn_body_cache keyed by
 * (namespace, grouped service, clusters string, healthyOnly), holding ServiceInfo text. */
#include <stdint.h>

#include "cairn_config.h"
#include "grpc.h"

int grpc_query_cache_open(grpc_server *s)
{
    const cairn_config *cfg = s->role->config;
    int64_t max_age_ms = cairn_config_int(cfg, "grpc.query_cache_max_age_ms");
    if (max_age_ms <= 0)
        return 0;
    cairn_body_cache_options o = {
        .max_entries = (size_t)cairn_config_int(cfg, "grpc.query_cache_entries"),
        .max_bytes = (size_t)cairn_config_int(cfg, "grpc.query_cache_max_bytes"),
        .max_age_ms = max_age_ms,
        .metrics = s->role->metrics,
        .metric_prefix = "query_cache",
        .what = "ServiceInfo answers (queries and subscriptions)",
    };
    return (s->query_cache = cairn_body_cache_new(&o)) ? 0 : -1;
}

void grpc_query_cache_close(grpc_server *s)
{
    cairn_body_cache_free(s->query_cache);
    s->query_cache = NULL;
}

static cairn_body_cache_key key_of(const grpc_service_ref *ref, const char *clusters,
                                   bool healthy_only)
{
    return (cairn_body_cache_key){.namespace_id = ref->ns,
                                  .service = ref->grouped,
                                  .clusters = clusters,
                                  .healthy_only = healthy_only};
}

char *grpc_query_cache_get(grpc_server *s, const grpc_service_ref *ref, const char *clusters,
                           bool healthy_only, size_t *len)
{
    if (!s->query_cache)
        return NULL;
    cairn_body_cache_key k = key_of(ref, clusters, healthy_only);
    return cairn_body_cache_get(s->query_cache, &k, grpc_now_ms(), len);
}

uint64_t grpc_query_cache_ticket(grpc_server *s, const grpc_service_ref *ref)
{
    return s->query_cache ? cairn_body_cache_ticket(s->query_cache, ref->ns, ref->grouped) : 0;
}

void grpc_query_cache_put(grpc_server *s, const grpc_service_ref *ref, const char *clusters,
                          bool healthy_only, uint64_t ticket, uint64_t revision,
                          const char *info, size_t len)
{
    if (!s->query_cache || !ticket)
        return;
    cairn_body_cache_key k = key_of(ref, clusters, healthy_only);
    cairn_body_cache_put(s->query_cache, &k, ticket, revision, info, len, grpc_now_ms());
}

void grpc_query_cache_changed(grpc_server *s, const char *ns, const char *svc, uint64_t revision)
{
    if (s->query_cache)
        cairn_body_cache_invalidate(s->query_cache, ns, svc, revision);
}

void grpc_query_cache_flush(grpc_server *s)
{
    if (s->query_cache)
        cairn_body_cache_flush(s->query_cache);
}

void grpc_query_cache_set_live(grpc_server *s, bool live)
{
    if (s->query_cache)
        cairn_body_cache_set_live(s->query_cache, live);
}
