/* Rendering of /instance/list (§2.5 algorithm, §17 items 4–8), for list answers and pushes. */
#include "cairn_render.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>


bool cairn_render_cluster_selected(const char *clusters, const char *cluster)
{
    if (!clusters)
        return true;
    bool any = false;
    const char *p = clusters;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0) {
            any = true;
            if (cluster && strlen(cluster) == n && memcmp(p, cluster, n) == 0)
                return true;
        }
        p += n + (comma ? 1 : 0);
    }
    return !any;
}

/* One host: the 2.x Instance fields plus 1.4.8's valid and marked. `healthy` is the bucket the
 * host was put in, which protection may have changed. */
static json_t *host_json(const cairn_instance *in, bool healthy, const char *service_name,
                         const char *grouped)
{
    const cairn_metadata *md = &in->metadata;
    const char *generator = cairn_metadata_get(md, CAIRN_META_ID_GENERATOR);
    char *id = in->instance_id ? NULL
                               : cairn_instance_default_id(in->ip, in->port, in->cluster, grouped);
    const char *instance_id = in->instance_id ? in->instance_id : id;
    json_t *j = NULL;
    if (instance_id)
        j = json_pack(
            "{s:s, s:s, s:i, s:o, s:b, s:b, s:b, s:b, s:b, s:s, s:s, s:o, s:I, s:I, s:I, s:s}",
            "instanceId", instance_id, "ip", in->ip ? in->ip : "", "port", (int)in->port,
            "weight", cairn_json_double(in->weight), "healthy", healthy, "valid", healthy,
            "marked", 0, "enabled", in->enabled, "ephemeral", in->ephemeral, "clusterName",
            in->cluster ? in->cluster : "", "serviceName", service_name, "metadata",
            cairn_json_metadata(md), "instanceHeartBeatInterval",
            (json_int_t)cairn_metadata_millis(md, CAIRN_META_BEAT_INTERVAL,
                                              CAIRN_DEFAULT_BEAT_INTERVAL_MS),
            "instanceHeartBeatTimeOut",
            (json_int_t)cairn_metadata_millis(md, CAIRN_META_BEAT_TIMEOUT,
                                              CAIRN_DEFAULT_BEAT_TIMEOUT_MS),
            "ipDeleteTimeout",
            (json_int_t)cairn_metadata_millis(md, CAIRN_META_DELETE_TIMEOUT,
                                              CAIRN_DEFAULT_DELETE_TIMEOUT_MS),
            "instanceIdGenerator", generator ? generator : "simple");
    free(id);
    return j;
}

/* Appends the enabled candidates of one bucket; disabled instances count for protection but
 * are never shown (1.4.8). */
static void add_bucket(cairn_selection *sel, const cairn_service_snapshot *snap,
                       const bool *candidate, bool want_healthy)
{
    for (uint32_t i = 0; i < snap->instance_count; i++) {
        const cairn_instance *in = &snap->instances[i];
        if (!candidate[i] || !in->enabled)
            continue;
        bool bucket = sel->protect || in->healthy; /* protection moves everyone to healthy */
        if (bucket != want_healthy)
            continue;
        sel->order[sel->count] = i;
        sel->healthy[sel->count++] = bucket;
    }
}

int cairn_render_select(const cairn_service_snapshot *snap, const char *clusters,
                        bool healthy_only, cairn_selection *sel)
{
    memset(sel, 0, sizeof *sel);
    uint32_t n = snap && snap->found ? snap->instance_count : 0;
    bool *candidate = calloc(n ? n : 1, sizeof *candidate);
    sel->order = calloc(n ? n : 1, sizeof *sel->order);
    sel->healthy = calloc(n ? n : 1, sizeof *sel->healthy);
    if (!candidate || !sel->order || !sel->healthy) {
        free(candidate);
        cairn_selection_free(sel);
        return -1;
    }
    /* Candidates: every instance (both kinds) of the selected clusters. */
    uint32_t total = 0, healthy = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!cairn_render_cluster_selected(clusters, snap->instances[i].cluster))
            continue;
        candidate[i] = true;
        total++;
        healthy += snap->instances[i].healthy;
    }
    /* Protection (step 8), in Java's float arithmetic: healthy/total <= threshold. */
    sel->protect = total > 0 && (float)healthy / (float)total <= snap->service.protect_threshold;
    if (n > 0) {
        add_bucket(sel, snap, candidate, true);
        if (!healthy_only)
            add_bucket(sel, snap, candidate, false);
    }
    free(candidate);
    return 0;
}

void cairn_selection_free(cairn_selection *sel)
{
    free(sel->order);
    free(sel->healthy);
    memset(sel, 0, sizeof *sel);
}

static char *dump(json_t *j, size_t *len)
{
    char *text = j ? json_dumps(j, CAIRN_JSON_FLAGS) : NULL;
    json_decref(j);
    if (text && len)
        *len = strlen(text);
    return text;
}

char *cairn_render_list(const cairn_service_snapshot *snap, const cairn_list_query *q,
                          size_t *len)
{
    const char *clusters = q->clusters ? q->clusters : "";
    if (!snap || !snap->found)
        return dump(json_pack("{s:s, s:s, s:I, s:[]}", "name", q->service, "clusters", clusters,
                              "cacheMillis", (json_int_t)q->cache_millis, "hosts"),
                    len);

    const char *grouped = q->service; /* echoed as requested: clients key their caches on it */
    char group[CAIRN_MAX_SERVICE_LEN + 1], bare[CAIRN_MAX_SERVICE_LEN + 1];
    cairn_split_grouped(grouped, group, sizeof group, bare, sizeof bare);
    const char *shown = q->grouped_names ? grouped : bare;

    cairn_selection sel;
    if (cairn_render_select(snap, clusters, q->healthy_only, &sel) != 0)
        return NULL;
    bool protect = sel.protect;
    json_t *hosts = json_array();
    bool ok = hosts != NULL;
    for (uint32_t k = 0; ok && k < sel.count; k++)
        ok = json_array_append_new(hosts, host_json(&snap->instances[sel.order[k]],
                                                    sel.healthy[k], shown, grouped)) == 0;
    cairn_selection_free(&sel);
    char *hosts_text = ok ? json_dumps(hosts, CAIRN_JSON_FLAGS) : NULL;
    if (!hosts_text) {
        json_decref(hosts);
        return NULL;
    }
    /* Opaque to clients; the revision changes with any change to the service and the CRC with
     * what this particular filter shows. */
    char checksum[40];
    snprintf(checksum, sizeof checksum, "%016" PRIx64 "%08lx", snap->service.revision,
             crc32(0L, (const Bytef *)hosts_text, (uInt)strlen(hosts_text)));
    free(hosts_text);

    return dump(json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:b, s:b, s:b, s:b, s:s, s:o}",
                          "name", grouped, "dom", shown, "groupName", group, "clusters", clusters,
                          "cacheMillis", (json_int_t)q->cache_millis, "hosts", hosts,
                          "lastRefTime", (json_int_t)snap->service.modified_ms, "checksum",
                          checksum, "allIPs", 0, "reachProtectionThreshold", protect, "valid", 1,
                          "useSpecifiedURL", 0, "env", q->env ? q->env : "", "metadata",
                          cairn_json_metadata(&snap->service.metadata)),
                len);
}

json_t *cairn_json_float(float f)
{
    /* Float.toString prints the shortest digits that read back as the same float; turning
     * those digits into a double keeps them short when jansson prints the double. */
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return json_real(strtod(buf, NULL));
}

json_t *cairn_json_double(double d)
{
    return json_real(d);
}

json_t *cairn_json_metadata(const cairn_metadata *md)
{
    json_t *obj = json_object();
    for (uint32_t i = 0; obj && md && i < md->len; i++) {
        if (json_object_set_new(obj, md->items[i].key, json_string(md->items[i].value)) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}
