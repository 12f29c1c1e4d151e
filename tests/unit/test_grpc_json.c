/* The JSON of the Nacos 2.x naming messages (grpc/grpc_json.h): the service reference defaults,
 * instances as Java and Rust send them (nulls, omissions, unknown fields), the ServiceInfo
 * shape and its host selection, and the response envelopes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_render.h"
#include "grpc_json.h"

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    cr_assert(j, "bad test JSON: %s", text);
    return j;
}

Test(grpc_json, service_ref_defaults)
{
    grpc_service_ref ref;
    cairn_status st;
    json_t *j = parse("{\"namespace\":\"\",\"serviceName\":\"svc\",\"groupName\":null}");
    cr_assert_eq(grpc_json_service_ref(j, &ref, &st), CAIRN_OK);
    cr_expect_str_eq(ref.ns, "public");
    cr_expect_str_eq(ref.group, "DEFAULT_GROUP");
    cr_expect_str_eq(ref.grouped, "DEFAULT_GROUP@@svc");
    json_decref(j);
    j = parse("{\"namespace\":\"ns1\",\"serviceName\":\"svc\",\"groupName\":\"g\"}");
    cr_assert_eq(grpc_json_service_ref(j, &ref, &st), CAIRN_OK);
    cr_expect_str_eq(ref.ns, "ns1");
    cr_expect_str_eq(ref.grouped, "g@@svc");
    json_decref(j);
    j = parse("{\"serviceName\":\" \"}");
    cr_expect_eq(grpc_json_service_ref(j, &ref, &st), CAIRN_E_INVALID);
    json_decref(j);
}

Test(grpc_json, rust_instance_with_nulls)
{
    json_t *j = parse("{\"instanceId\":null,\"ip\":\"127.0.0.1\",\"port\":8080,\"weight\":1.5,"
                      "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":null,"
                      "\"serviceName\":null,\"metadata\":{\"k\":\"v\"},\"extra\":[1]}");
    cairn_instance in;
    cairn_status st;
    cr_assert_eq(grpc_json_instance(j, &in, &st), CAIRN_OK, "%s", st.message);
    cr_expect_str_eq(in.ip, "127.0.0.1");
    cr_expect_eq(in.port, 8080);
    cr_expect_eq(in.weight, 1.5);
    cr_expect_str_eq(in.cluster, "DEFAULT");
    cr_expect_null(in.instance_id);
    cr_expect_str_eq(cairn_metadata_get(&in.metadata, "k"), "v");
    cairn_instance_free(&in);
    json_decref(j);
}

Test(grpc_json, java_instance_defaults_and_rejections)
{
    json_t *j = parse("{\"ip\":\"127.0.0.1\",\"port\":1,\"instanceHeartBeatInterval\":5000}");
    cairn_instance in;
    cairn_status st;
    cr_assert_eq(grpc_json_instance(j, &in, &st), CAIRN_OK);
    cr_expect_eq(in.weight, 1.0);
    cr_expect(in.healthy && in.enabled && in.ephemeral);
    cairn_instance_free(&in);
    json_decref(j);
    static const char *const bad[] = {
        "{\"port\":1}",
        "{\"ip\":\"127.0.0.1\"}",
        "{\"ip\":\"127.0.0.1\",\"port\":\"1\"}",
        "{\"ip\":\"127.0.0.1\",\"port\":70000}",
        "{\"ip\":\"127.0.0.1\",\"port\":1,\"clusterName\":\"a.b\"}",
        "{\"ip\":\"127.0.0.1\",\"port\":1,\"weight\":\"x\"}",
        "{\"ip\":\"127.0.0.1\",\"port\":1,\"metadata\":{\"k\":1}}",
        "{\"ip\":\"127.0.0.1\",\"port\":1,\"metadata\":{\"preserved.heart.beat.interval\":\"9000\","
        "\"preserved.heart.beat.timeout\":\"3000\"}}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = parse(bad[i]);
        cr_expect_eq(grpc_json_instance(j, &in, &st), CAIRN_E_INVALID, "%s", bad[i]);
        cairn_instance_free(&in);
        json_decref(j);
    }
}

static void add(cairn_service_snapshot *s, const char *ip, const char *cluster, bool healthy,
                bool enabled)
{
    s->instances = realloc(s->instances, (s->instance_count + 1) * sizeof *s->instances);
    cairn_instance *in = &s->instances[s->instance_count++];
    cairn_instance_init(in);
    in->ip = strdup(ip);
    in->port = 80;
    in->cluster = strdup(cluster);
    in->healthy = healthy;
    in->enabled = enabled;
}

Test(grpc_json, service_info_shape_and_selection)
{
    cairn_service_snapshot s;
    memset(&s, 0, sizeof s);
    s.found = true;
    cairn_service_init(&s.service);
    add(&s, "127.0.0.1", "c1", true, true);
    add(&s, "127.0.0.2", "c2", false, true);
    add(&s, "127.0.0.3", "c1", true, false);
    grpc_service_ref ref = {"public", "DEFAULT_GROUP", "svc", "DEFAULT_GROUP@@svc"};
    json_t *info = grpc_json_service_info(&s, &ref, "c1,c2", false, 1234);
    cr_assert(info);
    char *text = json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cr_expect(strncmp(text, "{\"name\":\"svc\",\"groupName\":\"DEFAULT_GROUP\",\"clusters\":"
                            "\"c1,c2\",\"cacheMillis\":10000,\"hosts\":[{\"instanceId\":"
                            "\"127.0.0.1#80#c1#DEFAULT_GROUP@@svc\",\"ip\":\"127.0.0.1\","
                            "\"port\":80,\"weight\":1.0,\"healthy\":true,\"enabled\":true,"
                            "\"ephemeral\":true,\"clusterName\":\"c1\",\"serviceName\":"
                            "\"DEFAULT_GROUP@@svc\",\"metadata\":{}}",
                      strlen("{\"name\":\"svc\",\"groupName\":\"DEFAULT_GROUP\",\"clusters\":"
                             "\"c1,c2\",\"cacheMillis\":10000,\"hosts\":[{\"instanceId\":"
                             "\"127.0.0.1#80#c1#DEFAULT_GROUP@@svc\",\"ip\":\"127.0.0.1\","
                             "\"port\":80,\"weight\":1.0,\"healthy\":true,\"enabled\":true,"
                             "\"ephemeral\":true,\"clusterName\":\"c1\",\"serviceName\":"
                             "\"DEFAULT_GROUP@@svc\",\"metadata\":{}}")) == 0,
              "%s", text);
    cr_expect(strstr(text, "\"lastRefTime\":1234,\"checksum\":\"\",\"allIPs\":false,"
                           "\"reachProtectionThreshold\":false,\"valid\":true}"), "%s", text);
    cr_expect_eq(json_array_size(json_object_get(info, "hosts")), 2, "disabled left out");
    free(text);
    json_decref(info);
    /* healthy only, one cluster */
    info = grpc_json_service_info(&s, &ref, "c2", true, 1);
    cr_expect_eq(json_array_size(json_object_get(info, "hosts")), 0);
    cr_expect_str_eq(json_string_value(json_object_get(info, "clusters")), "c2");
    json_decref(info);
    /* an unknown service: hosts [] */
    info = grpc_json_service_info(NULL, &ref, "", false, 1);
    cr_expect(json_is_array(json_object_get(info, "hosts")));
    cr_expect_eq(json_array_size(json_object_get(info, "hosts")), 0);
    json_decref(info);
    cairn_service_snapshot_free(&s);
}

Test(grpc_json, envelopes)
{
    char *e = grpc_json_error(500, 301, "Connection is unregistered.");
    cr_expect_str_eq(e, "{\"resultCode\":500,\"errorCode\":301,\"message\":"
                        "\"Connection is unregistered.\"}");
    free(e);
    e = grpc_json_ok(json_pack("{s:s}", "type", "registerInstance"));
    cr_expect_str_eq(e, "{\"resultCode\":200,\"errorCode\":0,\"type\":\"registerInstance\"}");
    free(e);
    e = grpc_json_server_request(9, NULL, "internal");
    cr_expect_str_eq(e, "{\"headers\":{},\"requestId\":\"9\",\"module\":\"internal\"}");
    free(e);
    json_t *j = parse("{\"requestId\":\"12\"}");
    cr_expect_eq(grpc_json_request_id(j), 12);
    json_decref(j);
    j = parse("{\"requestId\":\"x1\"}");
    cr_expect_eq(grpc_json_request_id(j), 0);
    json_decref(j);
}

/* The cached ServiceInfo's wrapping gives the bytes the whole answer rendered by jansson has. */
Test(grpc_json, service_answer_is_the_rendered_answer)
{
    cairn_service_snapshot s;
    memset(&s, 0, sizeof s);
    s.found = true;
    cairn_service_init(&s.service);
    add(&s, "127.0.0.1", "c1", true, true);
    add(&s, "127.0.0.2", "c2", false, true);
    grpc_service_ref ref = {"public", "DEFAULT_GROUP", "svc", "DEFAULT_GROUP@@svc"};
    for (int subscribe = 0; subscribe < 2; subscribe++) {
        json_t *info = grpc_json_service_info(&s, &ref, "c1,c2", false, 1234567);
        char *text = json_dumps(info, CAIRN_JSON_FLAGS);
        json_t *extra = subscribe ? json_pack("{s:s, s:O}", "message", "success", "serviceInfo",
                                              info)
                                  : json_pack("{s:O}", "serviceInfo", info);
        char *want = grpc_json_ok(extra);
        char *got = grpc_json_service_answer(subscribe, text);
        cr_assert(want && got);
        cr_expect_str_eq(got, want);
        free(want);
        free(got);
        free(text);
        json_decref(info);
    }
    cairn_service_snapshot_free(&s);
}
