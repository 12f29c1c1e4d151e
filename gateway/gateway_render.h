/* The body of GET /nacos/v1/ns/instance/list (§2.5) from a service snapshot: cluster filter,
 * protect threshold, health buckets, and the union of the 1.4.8 and 2.x key sets (§17 item 6).
 * Pure: no I/O, so it is unit-tested on hand-built snapshots. */
#ifndef GATEWAY_RENDER_H
#define GATEWAY_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_model.h"

#define GATEWAY_LIST_CACHE_MILLIS 3000 /* Nacos defaultCacheMillis: no push subscription */

typedef struct gateway_list_query {
    const char *service;  /* grouped name, echoed as `name` */
    const char *clusters; /* the request's `clusters`, echoed verbatim; "" or NULL: all */
    const char *env;      /* echoed; NULL reads as "" */
    bool healthy_only;
    bool grouped_names; /* JAVA >= 1.0.0 client: `dom` and hosts' serviceName are grouped */
    int64_t cache_millis;
} gateway_list_query;

/* The JSON text (malloc'd, *len set) or NULL when out of memory. snap NULL or not found gives
 * the 1.4.8 body for a missing service: {"name","clusters","cacheMillis","hosts":[]}. */
char *gateway_render_list(const cairn_service_snapshot *snap, const gateway_list_query *q,
                          size_t *len);

/* Whether cluster is selected by a comma-separated clusters filter (empty parts are ignored; no
 * names at all selects every cluster). */
bool gateway_cluster_selected(const char *clusters, const char *cluster);

#endif
