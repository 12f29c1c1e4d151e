/* JSON bodies of the Nacos 2.x naming messages (grpc_json.h). */
#include "grpc_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_render.h"

const char *grpc_json_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool grpc_json_bool(const json_t *obj, const char *key, bool dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static bool blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

cairn_err grpc_json_service_ref(const json_t *body, grpc_service_ref *ref, cairn_status *st)
{
    const char *ns = grpc_json_str(body, "namespace");
    const char *group = grpc_json_str(body, "groupName");
    const char *name = grpc_json_str(body, "serviceName");
    if (blank(ns))
        ns = "public";
    if (blank(group))
        group = CAIRN_DEFAULT_GROUP;
    if (blank(name))
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'serviceName' is illegal, serviceName is blank");
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("groupName", group, CAIRN_MAX_SERVICE_LEN, st) ||
        cairn_check_length("serviceName", name, CAIRN_MAX_SERVICE_LEN, st))
        return st->code;
    snprintf(ref->ns, sizeof ref->ns, "%s", ns);
    snprintf(ref->group, sizeof ref->group, "%s", group);
    snprintf(ref->name, sizeof ref->name, "%s", name);
    snprintf(ref->grouped, sizeof ref->grouped, "%s@@%s", group, name);
    return cairn_check_length("serviceName", ref->grouped, CAIRN_MAX_SERVICE_LEN, st);
}

static cairn_err instance_metadata(const json_t *md, cairn_instance *in, cairn_status *st)
{
    if (!md || json_is_null(md))
        return CAIRN_OK;
    if (!json_is_object(md))
        return cairn_fail(st, CAIRN_E_INVALID, "instance metadata is not an object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)md, k, v) {
        if (!json_is_string(v))
            return cairn_fail(st, CAIRN_E_INVALID, "instance metadata value of %s is not a string", k);
        if (cairn_metadata_set(&in->metadata, k, json_string_value(v)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    /* NamingUtils.checkInstanceIsLegal: the beat interval below both timeouts. */
    int64_t interval = cairn_metadata_millis(&in->metadata, CAIRN_META_BEAT_INTERVAL,
                                             CAIRN_DEFAULT_BEAT_INTERVAL_MS);
    if (cairn_metadata_millis(&in->metadata, CAIRN_META_BEAT_TIMEOUT,
                              CAIRN_DEFAULT_BEAT_TIMEOUT_MS) < interval ||
        cairn_metadata_millis(&in->metadata, CAIRN_META_DELETE_TIMEOUT,
                              CAIRN_DEFAULT_DELETE_TIMEOUT_MS) < interval)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "Instance 'heart beat interval' must less than 'heart beat timeout' and "
                          "'ip delete timeout'.");
    return CAIRN_OK;
}

static cairn_err instance_fields(const json_t *obj, cairn_instance *in, cairn_status *st)
{
    const char *ip = grpc_json_str(obj, "ip");
    const json_t *port = json_object_get(obj, "port");
    if (blank(ip))
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'ip' is illegal, ip is blank");
    if (!json_is_integer(port) || json_integer_value(port) < 0 ||
        json_integer_value(port) > 65535)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'port' is illegal");
    in->port = (int32_t)json_integer_value(port);
    const json_t *w = json_object_get(obj, "weight");
    if (json_is_number(w))
        in->weight = json_number_value(w);
    else if (w && !json_is_null(w))
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'weight' is not a number");
    in->healthy = grpc_json_bool(obj, "healthy", true);
    in->enabled = grpc_json_bool(obj, "enabled", true);
    in->ephemeral = grpc_json_bool(obj, "ephemeral", true);
    const char *cluster = grpc_json_str(obj, "clusterName");
    const char *id = grpc_json_str(obj, "instanceId");
    if (cairn_check_length("ip", ip, CAIRN_MAX_IP_LEN, st) ||
        cairn_check_length("clusterName", blank(cluster) ? "" : cluster, CAIRN_MAX_CLUSTER_LEN,
                           st))
        return st->code;
    in->ip = strdup(ip);
    in->cluster = strdup(blank(cluster) ? CAIRN_DEFAULT_CLUSTER : cluster);
    if (id && *id && !(in->instance_id = strdup(id)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (!in->ip || !in->cluster)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    return cairn_check_cluster_chars(in->cluster, st);
}

cairn_err grpc_json_instance(const json_t *obj, cairn_instance *in, cairn_status *st)
{
    cairn_instance_init(in);
    if (!json_is_object(obj))
        return cairn_fail(st, CAIRN_E_INVALID, "instance is not an object");
    if (instance_fields(obj, in, st) || instance_metadata(json_object_get(obj, "metadata"), in, st))
        return st->code;
    return cairn_instance_validate(in, st);
}

uint64_t grpc_json_request_id(const json_t *body)
{
    const char *s = grpc_json_str(body, "requestId");
    if (!s || !*s || strlen(s) > 19 || strspn(s, "0123456789") != strlen(s))
        return 0;
    return strtoull(s, NULL, 10);
}

static json_t *host(const cairn_instance *in, bool healthy, const char *grouped)
{
    char *id = in->instance_id && *in->instance_id
                   ? NULL
                   : cairn_instance_default_id(in->ip, in->port, in->cluster, grouped);
    const char *instance_id = id ? id : in->instance_id ? in->instance_id : "";
    json_t *j = json_pack("{s:s, s:s, s:i, s:o, s:b, s:b, s:b, s:s, s:s, s:o}", "instanceId",
                          instance_id, "ip", in->ip ? in->ip : "", "port", (int)in->port,
                          "weight", cairn_json_double(in->weight), "healthy", healthy, "enabled",
                          in->enabled, "ephemeral", in->ephemeral, "clusterName",
                          in->cluster ? in->cluster : CAIRN_DEFAULT_CLUSTER, "serviceName",
                          grouped, "metadata", cairn_json_metadata(&in->metadata));
    free(id);
    return j;
}

json_t *grpc_json_service_info(const cairn_service_snapshot *snap, const grpc_service_ref *ref,
                               const char *clusters, bool healthy_only, int64_t last_ref_time)
{
    cairn_selection sel;
    if (cairn_render_select(snap, clusters, healthy_only, &sel) != 0)
        return NULL;
    json_t *hosts = json_array();
    bool ok = hosts != NULL;
    /* healthyOnly: the healthy instances themselves; protection is not applied (as in 2.x) */
    for (uint32_t k = 0; ok && k < sel.count; k++) {
        const cairn_instance *in = &snap->instances[sel.order[k]];
        if (!healthy_only || in->healthy)
            ok = json_array_append_new(hosts, host(in, sel.healthy[k], ref->grouped)) == 0;
    }
    bool protect = sel.protect && !healthy_only;
    cairn_selection_free(&sel);
    if (!ok) {
        json_decref(hosts);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:b, s:b, s:b}", "name", ref->name,
                     "groupName", ref->group, "clusters", clusters ? clusters : "",
                     "cacheMillis", (json_int_t)CAIRN_PUSH_CACHE_MILLIS, "hosts", hosts,
                     "lastRefTime", (json_int_t)last_ref_time, "checksum", "", "allIPs", 0,
                     "reachProtectionThreshold", protect, "valid", 1);
}

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, CAIRN_JSON_FLAGS) : NULL;
    json_decref(j);
    return s;
}

char *grpc_json_error(int result_code, int error_code, const char *message)
{
    return dump(json_pack("{s:i, s:i, s:s}", "resultCode", result_code, "errorCode", error_code,
                          "message", message ? message : ""));
}

char *grpc_json_service_answer(bool subscribe, const char *info)
{
    static const char head[] = "{\"resultCode\":200,\"errorCode\":0,";
    static const char msg[] = "\"message\":\"success\",";
    static const char key[] = "\"serviceInfo\":";
    size_t n = strlen(info), at = 0;
    char *out = malloc(sizeof head + sizeof msg + sizeof key + n + 2);
    if (!out)
        return NULL;
    memcpy(out, head, sizeof head - 1);
    at = sizeof head - 1;
    if (subscribe) {
        memcpy(out + at, msg, sizeof msg - 1);
        at += sizeof msg - 1;
    }
    memcpy(out + at, key, sizeof key - 1);
    at += sizeof key - 1;
    memcpy(out + at, info, n);
    at += n;
    out[at++] = '}';
    out[at] = '\0';
    return out;
}

char *grpc_json_ok(json_t *extra)
{
    json_t *j = json_pack("{s:i, s:i}", "resultCode", 200, "errorCode", 0);
    if (j && extra && json_object_update(j, extra) != 0) {
        json_decref(j);
        j = NULL;
    }
    json_decref(extra);
    return dump(j);
}

char *grpc_json_server_request(uint64_t id, json_t *extra, const char *module)
{
    char rid[24];
    snprintf(rid, sizeof rid, "%" PRIu64, id);
    json_t *j = json_pack("{s:{}, s:s}", "headers", "requestId", rid);
    if (j && extra && json_object_update(j, extra) != 0) {
        json_decref(j);
        j = NULL;
    }
    json_decref(extra);
    if (j && json_object_set_new(j, "module", json_string(module)) != 0) {
        json_decref(j);
        j = NULL;
    }
    return dump(j);
}
