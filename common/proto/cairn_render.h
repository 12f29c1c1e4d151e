/* The body of GET /nacos/v1/ns/instance/list (§2.5) from a service snapshot: cluster filter,
 * protect threshold, health buckets, and the union of the 1.4.8 and 2.x key sets (§17 item 6).
 * The gateway answers list requests with it and the pushers push the very same document as a
 * push's `data` (§12.3), so there is one rendering. Also the JSON number conventions both use
 * (Java prints floats and doubles with a decimal point and in their shortest form).
 * Pure: no I/O, so it is unit-tested on hand-built snapshots. */
#ifndef CAIRN_RENDER_H
#define CAIRN_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_model.h"

#define CAIRN_LIST_CACHE_MILLIS 3000  /* Nacos defaultCacheMillis: no push subscription */
#define CAIRN_PUSH_CACHE_MILLIS 10000 /* Nacos pushCacheMillis: a push subscriber, and pushes */

/* 16 significant digits: "0.1" rather than "0.10000000000000001"; jansson appends ".0" to
 * integral reals, as Java does ("weight":1.0). */
#define CAIRN_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16))

typedef struct cairn_list_query {
    const char *service;  /* grouped name, echoed as `name` */
    const char *clusters; /* the request's `clusters`, echoed verbatim; "" or NULL: all */
    const char *env;      /* echoed; NULL reads as "" */
    bool healthy_only;    /* pushes: always false (§12.3) */
    bool grouped_names;   /* JAVA >= 1.0.0 client: `dom` and hosts' serviceName are grouped */
    int64_t cache_millis;
} cairn_list_query;

/* The JSON text (malloc'd, *len set) or NULL when out of memory. snap NULL or not found gives
 * the 1.4.8 body for a missing service: {"name","clusters","cacheMillis","hosts":[]}. */
char *cairn_render_list(const cairn_service_snapshot *snap, const cairn_list_query *q,
                        size_t *len);

/* The instances a list shows (§2.5 steps 5–8), shared by the v1 list, the UDP push and the gRPC
 * ServiceInfo so that every client sees the same hosts: the instances of the selected clusters
 * are the candidates; when healthy/total <= protect_threshold, protection shows every candidate
 * as healthy; disabled candidates count for protection but are never shown. `order` holds the
 * shown instances' indexes, the healthy bucket first (in snapshot order), then, unless
 * healthy_only, the unhealthy one; healthy[k] is the health shown for order[k]. */
typedef struct cairn_selection {
    uint32_t *order;
    bool *healthy;
    uint32_t count;
    bool protect; /* reachProtectionThreshold */
} cairn_selection;
/* Returns 0, or -1 when out of memory (sel is then empty). Free with cairn_selection_free. */
int cairn_render_select(const cairn_service_snapshot *snap, const char *clusters,
                        bool healthy_only, cairn_selection *sel);
void cairn_selection_free(cairn_selection *sel);

/* Whether cluster is selected by a comma-separated clusters filter (empty parts are ignored; no
 * names at all selects every cluster). */
bool cairn_render_cluster_selected(const char *clusters, const char *cluster);

/* JSON numbers as Java prints them: a float by its shortest float text (0.7f → 0.7). */
json_t *cairn_json_float(float f);
json_t *cairn_json_double(double d);
/* A metadata map as a JSON object of strings (NULL when out of memory). */
json_t *cairn_json_metadata(const cairn_metadata *md);

#endif
