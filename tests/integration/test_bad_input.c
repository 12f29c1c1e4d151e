/* Garbage in (design §6 "bad input from anyone"): malformed HTTP, oversized bodies and
 * parameters, bad JSON, unknown routes, raw TCP junk, and undecodable nng messages. After each,
 * no process has restarted and the previously registered instances are unchanged. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"
#include "cairn_requests.h"

TestSuite(bad_input, .fini = it_teardown, .timeout = 180);

#define INSTANCE NS "/instance"

typedef struct ctx {
    it_node *n;
    pid_t gateway, registry;
    char *snapshot;
} ctx;

/* The stored instances of the baseline services in a canonical text form. */
static char *snapshot(const it_node *n)
{
    static const char *const services[][2] = {{"keep", "DEFAULT_GROUP"}, {"keep2", "g"}};
    json_t *all = json_object();
    for (size_t s = 0; s < 2; s++) {
        json_t *l = nacos_list(n, Q("serviceName", services[s][0], "groupName", services[s][1]));
        json_t *hosts = json_object();
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(l, "hosts"), i, h)
        {
            json_t *c = json_deep_copy(h);
            json_object_set(hosts, jstr(h, "instanceId"), c);
            json_decref(c);
        }
        json_object_set_new(all, services[s][0], hosts);
        json_decref(l);
    }
    char *text = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(all);
    cr_assert(text != NULL);
    return text;
}

static void setup(ctx *c, const char *const *sets)
{
    it_node_opts o = {.sets = sets};
    c->n = node_start(&o);
    nacos_write_ok(c->n, "POST", INSTANCE,
                   Q("serviceName", "keep", "ip", "127.0.0.1", "port", "1", "weight", "2",
                     "metadata", "a=1"));
    nacos_write_ok(c->n, "POST", INSTANCE,
                   Q("serviceName", "keep", "ip", "127.0.0.2", "port", "2", "clusterName", "c1"));
    nacos_write_ok(c->n, "POST", INSTANCE,
                   Q("serviceName", "keep", "ip", "127.0.0.3", "port", "3", "ephemeral", "false"));
    nacos_write_ok(c->n, "POST", INSTANCE,
                   Q("serviceName", "keep2", "groupName", "g", "ip", "127.0.1.1", "port", "1"));
    c->gateway = node_role_pid(c->n, "cairn-gateway");
    c->registry = node_role_pid(c->n, "cairn-registry");
    cr_assert(c->gateway > 0 && c->registry > 0, "role pids not found");
    c->snapshot = snapshot(c->n);
    json_t *j = json_parse_or_fail(c->snapshot);
    cr_assert_eq(json_object_size(jget(j, "keep")), 3, "baseline not stored: %s", c->snapshot);
    json_decref(j);
}

/* After a bad input: nobody restarted, nothing changed, and the node still answers. */
static void check_intact(ctx *c, const char *after)
{
    cr_expect_eq(node_role_pid(c->n, "cairn-gateway"), c->gateway,
                 "after %s: the gateway was restarted (crash?)", after);
    cr_expect_eq(node_role_pid(c->n, "cairn-registry"), c->registry,
                 "after %s: the registry was restarted (crash?)", after);
    char *now = snapshot(c->n);
    cr_expect_str_eq(now, c->snapshot, "after %s: stored instances changed", after);
    free(now);
}

static void done(ctx *c)
{
    free(c->snapshot);
}

/* A request with a hand-written (possibly malformed) query string. */
static http_resp raw_query(const ctx *c, const char *method, const char *path_and_query,
                           const char *body)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", c->n->gateway_url, path_and_query);
    return http_request(method, url, body, body ? strlen(body) : 0, NULL, NULL,
                        IT_HTTP_TIMEOUT_MS);
}

IT_TEST(bad_input, malformed_percent_encoding)
{
    ctx c;
    setup(&c, NULL);
    static const char *const lists[] = {
        NS "/instance/list?serviceName=%ZZkeep%",
        NS "/instance/list?serviceName=keep%",
        NS "/instance/list?serviceName=keep&clusters=%E0%A4%A",
        NS "/instance/list?%=%&serviceName=keep",
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        http_resp r = raw_query(&c, "GET", lists[i], NULL);
        cr_expect(r.status == 200 || r.status == 400, "GET %s: %ld \"%s\" %s", lists[i], r.status,
                  r.body, r.error);
        http_resp_free(&r);
        check_intact(&c, lists[i]);
    }
    static const char *const writes[] = {
        INSTANCE "?serviceName=ab%ZZcd&ip=127.0.0.1&port=1",
        INSTANCE "?serviceName=%FF%FE&ip=127.0.0.1&port=1",
        INSTANCE "?serviceName=keep&ip=127.0.0.1&port=%G1",
        INSTANCE "?serviceName=keep&ip=127.0.0.1&port=1&weight=%",
        INSTANCE "?serviceName=keep&ip=127.0.0.1&port=1&metadata=%7B%22a%22%3A",
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        http_resp r = raw_query(&c, "POST", writes[i], NULL);
        cr_expect_eq(r.status, 400, "POST %s: %ld \"%s\" %s", writes[i], r.status, r.body,
                     r.error);
        cr_expect(r.body_len > 0, "POST %s: 400 without a message", writes[i]);
        http_resp_free(&r);
        check_intact(&c, writes[i]);
    }
    /* Malformed form body. */
    http_resp r = raw_query(&c, "POST", INSTANCE, "serviceName=keep&ip=127.0.0.1&port=%G1&&=&%");
    cr_expect_eq(r.status, 400, "malformed form body: %ld \"%s\"", r.status, r.body);
    http_resp_free(&r);
    check_intact(&c, "a malformed form body");
    /* An embedded NUL must not reach a key (keys use NUL separators). */
    r = raw_query(&c, "POST", INSTANCE "?serviceName=keep&ip=127.0.0.1%00x&port=1&weight=7", NULL);
    cr_expect(r.status < 500 && r.status > 0, "NUL in ip: %ld \"%s\" %s", r.status, r.body,
              r.error);
    http_resp_free(&r);
    r = raw_query(&c, "POST", INSTANCE "?serviceName=keep%00x&ip=127.0.0.9&port=1", NULL);
    cr_expect(r.status < 500 && r.status > 0, "NUL in serviceName: %ld \"%s\"", r.status, r.body);
    http_resp_free(&r);
    /* If the NUL truncated the ip, that was a write to 127.0.0.1: re-take the baseline, but the
     * processes must still be the same. */
    free(c.snapshot);
    c.snapshot = snapshot(c.n);
    check_intact(&c, "NUL bytes");
    done(&c);
}

static char *big_form(const char *prefix, size_t value_len)
{
    size_t plen = strlen(prefix);
    char *b = malloc(plen + value_len + 1);
    cr_assert(b != NULL);
    memcpy(b, prefix, plen);
    memset(b + plen, 'a', value_len);
    b[plen + value_len] = '\0';
    return b;
}

IT_TEST(bad_input, oversized_body_and_params)
{
    ctx c;
    setup(&c, NULL);
    /* 2 MiB body > gateway.max_body_bytes (1 MiB): 413. */
    char *body = big_form("metadata=", 2 * 1024 * 1024);
    http_resp r = nacos_call(c.n, "POST", INSTANCE,
                             Q("serviceName", "keep", "ip", "127.0.0.1", "port", "1"), body, NULL);
    cr_expect_eq(r.status, 413, "2 MiB body: %ld \"%.200s\" %s", r.status, r.body, r.error);
    http_resp_free(&r);
    free(body);
    check_intact(&c, "a 2 MiB body");

    /* One form value over gateway.max_param_bytes (64 KiB). */
    body = big_form("serviceName=keep&ip=127.0.0.1&port=1&metadata=", 70000);
    r = nacos_call(c.n, "POST", INSTANCE, NULL, body, NULL);
    cr_expect(r.status == 400 &&
                  strcmp(r.body, "Param 'metadata' is too long (max 65536 bytes)") == 0,
              "70000-byte form param: %ld \"%.200s\"", r.status, r.body);
    http_resp_free(&r);
    free(body);
    check_intact(&c, "a too-long form param");

    /* The same in the query string: 400 from the gateway, or 414/431 from the HTTP layer. */
    char *val = big_form("", 70000);
    r = nacos_call(c.n, "POST", INSTANCE,
                   Q("serviceName", "keep", "ip", "127.0.0.1", "port", "1", "metadata", val), NULL,
                   NULL);
    cr_expect(r.status == 400 || r.status == 414 || r.status == 431,
              "70000-byte query param: %ld \"%.200s\" %s", r.status, r.body, r.error);
    if (r.status == 400)
        cr_expect_str_eq(r.body, "Param 'metadata' is too long (max 65536 bytes)");
    http_resp_free(&r);
    free(val);
    check_intact(&c, "a too-long query param");

    /* Metadata over limits.max_metadata_bytes (16 KiB) but under the param limit. */
    body = big_form("serviceName=keep&ip=127.0.0.1&port=1&metadata=k=", 20000);
    r = nacos_call(c.n, "POST", INSTANCE, NULL, body, NULL);
    cr_expect(r.status == 400 && r.body_len > 0, "20000-byte metadata: %ld \"%.200s\"", r.status,
              r.body);
    http_resp_free(&r);
    free(body);
    check_intact(&c, "metadata over the limit");

    /* Names longer than the key limits allow. */
    char *lng = big_form("", 600);
    struct {
        const char *what;
        const char *const *q;
    } longs[] = {
        {"serviceName", Q("serviceName", lng, "ip", "127.0.0.1", "port", "1")},
        {"ip", Q("serviceName", "keep", "ip", lng, "port", "1")},
        {"clusterName", Q("serviceName", "keep", "ip", "127.0.0.1", "port", "1", "clusterName", lng)},
        {"namespaceId", Q("serviceName", "keep", "ip", "127.0.0.1", "port", "1", "namespaceId", lng)},
        {"groupName", Q("serviceName", "keep", "groupName", lng, "ip", "127.0.0.1", "port", "1")},
    };
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        r = nacos_call(c.n, "POST", INSTANCE, longs[i].q, NULL, NULL);
        cr_expect_eq(r.status, 400, "600-byte %s: %ld \"%.200s\"", longs[i].what, r.status, r.body);
        http_resp_free(&r);
        char what[64];
        snprintf(what, sizeof what, "a 600-byte %s", longs[i].what);
        check_intact(&c, what);
    }
    free(lng);
    done(&c);
}

IT_TEST(bad_input, bad_beats_and_routes)
{
    ctx c;
    setup(&c, NULL);
    static const char *const beats[] = {"notjson", "{", "{\"ip\":\"127.0.0.1\",\"port\":1"};
    for (size_t i = 0; i < sizeof beats / sizeof beats[0]; i++) {
        http_resp r = nacos_call(c.n, "PUT", NS "/instance/beat",
                                 Q("serviceName", "keep", "beat", beats[i]), NULL, NULL);
        cr_expect_eq(r.status, 400, "beat=%s: %ld \"%s\"", beats[i], r.status, r.body);
        cr_expect(r.body_len > 0, "beat=%s: 400 without a message", beats[i]);
        http_resp_free(&r);
        check_intact(&c, "a non-JSON beat");
    }
    static const char *const odd_beats[] = {"[1,2]", "{\"ip\":\"127.0.0.1\",\"port\":\"abc\"}",
                                            "{\"ip\":\"127.0.0.1\",\"port\":1,\"weight\":1e999}",
                                            "{\"ip\":\"127.0.0.1\",\"port\":1,\"metadata\":[1]}"};
    for (size_t i = 0; i < sizeof odd_beats / sizeof odd_beats[0]; i++) {
        http_resp r = nacos_call(c.n, "PUT", NS "/instance/beat",
                                 Q("serviceName", "keep", "beat", odd_beats[i]), NULL, NULL);
        cr_expect(r.status >= 400 && r.status < 500, "beat=%s: %ld \"%s\"", odd_beats[i],
                  r.status, r.body);
        http_resp_free(&r);
        check_intact(&c, odd_beats[i]);
    }

    nacos_expect_error(c.n, "BREW", INSTANCE, Q("serviceName", "keep"), NULL, 501,
                       "no such api:BREW:/nacos/v1/ns/instance", false);
    nacos_expect_error(c.n, "PATCH", NS "/service", Q("serviceName", "keep"), NULL, 501,
                       "no such api:PATCH:/nacos/v1/ns/service", false);
    nacos_expect_error(c.n, "GET", NS "/nosuch", Q("x", "1"), NULL, 501,
                       "no such api:GET:/nacos/v1/ns/nosuch", false);
    nacos_expect_error(c.n, "DELETE", NS "/instance/list", Q("serviceName", "keep"), NULL, 501,
                       "no such api:DELETE:/nacos/v1/ns/instance/list", false);
    nacos_expect_error(c.n, "POST", NS "/instance/list", Q("serviceName", "keep"), NULL, 501,
                       "no such api:POST:/nacos/v1/ns/instance/list", false);
    http_resp r = nacos_call(c.n, "GET", "/not/nacos", NULL, NULL, NULL);
    cr_expect(r.status >= 400 && r.status < 500, "GET /not/nacos: %ld", r.status);
    http_resp_free(&r);
    check_intact(&c, "unknown routes");
    done(&c);
}

IT_TEST(bad_input, raw_tcp_garbage)
{
    ctx c;
    setup(&c, NULL);
    char *long_line = big_form("GET /", 100000);
    struct {
        const char *what;
        const char *data;
        size_t len;
    } junk[] = {
        {"binary junk", "\x00\x01\x02garbage\xff\r\n\r\n", 15},
        {"HTTP/9.9", "GET / HTTP/9.9\r\n\r\n", 0},
        {"no version", "GET /nacos/v1/ns/instance/list?serviceName=keep\r\n\r\n", 0},
        {"negative length",
         "POST /nacos/v1/ns/instance?serviceName=keep&ip=127.0.0.1&port=1&weight=9 HTTP/1.1\r\n"
         "Host: x\r\nContent-Length: -5\r\n\r\n",
         0},
        {"bad chunk",
         "POST /nacos/v1/ns/instance?serviceName=keep&ip=127.0.0.1&port=1&weight=9 HTTP/1.1\r\n"
         "Host: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n",
         0},
        {"truncated body",
         "POST /nacos/v1/ns/instance?serviceName=keep&ip=127.0.0.1&port=1 HTTP/1.1\r\n"
         "Host: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n"
         "\r\nweight=9",
         0},
        {"header without colon", "GET /nacos/v1/ns/instance/list HTTP/1.1\r\nHost x\r\n\r\n", 0},
        {"100 KB request line", long_line, 0},
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        size_t len = junk[i].len ? junk[i].len : strlen(junk[i].data);
        size_t rlen = 0;
        char *reply = tcp_exchange(c.n->gateway, junk[i].data, len, 5000, &rlen);
        cr_expect(reply != NULL, "%s: could not connect to the gateway", junk[i].what);
        if (reply) {
            cr_expect(strncmp(reply, "HTTP/1.1 200", 12) != 0 && strstr(reply, "\r\n\r\nok") == NULL,
                      "%s: answered 200: %.200s", junk[i].what, reply);
            free(reply);
        }
        check_intact(&c, junk[i].what);
    }
    free(long_line);
    done(&c);
}

/* Packs a msgpack map of string keys to given values into an sbuffer. */
static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void expect_rejected(ctx *c, const char *what, const void *data, size_t len,
                            bool must_be_decode)
{
    char err[256];
    size_t rlen = 0;
    char *raw = registry_raw_request(c->n, data, len, &rlen, 5000, err, sizeof err);
    cr_expect(raw != NULL, "%s: no reply from registry.sock: %s", what, err);
    if (raw) {
        cairn_reply rep;
        cairn_reply_init(&rep);
        cairn_status st;
        cairn_err e = cairn_reply_decode(raw, rlen, &rep, &st);
        cr_expect_eq(e, CAIRN_OK, "%s: the reply does not decode: %s", what, st.message);
        if (e == CAIRN_OK) {
            if (must_be_decode)
                cr_expect_eq(rep.code, CAIRN_E_DECODE, "%s: reply code %s (want decode), \"%s\"",
                             what, cairn_err_name(rep.code), rep.message ? rep.message : "");
            else
                cr_expect(rep.code == CAIRN_E_DECODE || rep.code == CAIRN_E_INVALID,
                          "%s: reply code %s (want decode or invalid)", what,
                          cairn_err_name(rep.code));
            cr_expect(rep.message && *rep.message, "%s: error reply without a message", what);
            cairn_reply_free(&rep);
        }
        free(raw);
    }
    check_intact(c, what);
}

IT_TEST(bad_input, registry_rejects_undecodable_messages)
{
    ctx c;
    setup(&c, NULL);
    /* Deterministic pseudo-random junk. */
    unsigned char junk[64];
    uint32_t x = 2463534242u;
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk[i] = (unsigned char)x;
        }
        junk[0] = 0xc1; /* never-used msgpack byte: certainly not a message */
        expect_rejected(&c, "random bytes", junk, sizeof junk, true);
    }
    expect_rejected(&c, "an empty message", "", 0, true);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    /* A map with an unknown type. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "t");
    msgpack_pack_uint32(&pk, 99);
    pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, CAIRN_MSG_VERSION);
    expect_rejected(&c, "unknown message type", sb.data, sb.size, false);
    msgpack_sbuffer_destroy(&sb);

    /* A future version. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "t");
    msgpack_pack_uint32(&pk, CAIRN_MSG_STATS);
    pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, CAIRN_MSG_VERSION + 99);
    expect_rejected(&c, "unknown version", sb.data, sb.size, true);
    msgpack_sbuffer_destroy(&sb);

    /* Fields of the wrong type. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "t");
    msgpack_pack_uint32(&pk, CAIRN_MSG_INSTANCE_UPSERT);
    pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, CAIRN_MSG_VERSION);
    pack_str(&pk, "ns");
    msgpack_pack_int(&pk, 5);
    pack_str(&pk, "svc");
    msgpack_pack_true(&pk);
    expect_rejected(&c, "wrong field types", sb.data, sb.size, true);
    msgpack_sbuffer_destroy(&sb);

    /* A valid write cut short must not be applied. */
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup("127.0.0.1");
    in.port = 1;
    in.cluster = strdup("DEFAULT");
    in.weight = 9;
    cairn_request req;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_upsert(&req, "public", "DEFAULT_GROUP@@keep", &in,
                                               CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK, "%s", st.message);
    char *enc = NULL;
    size_t enc_len = 0;
    cr_assert_eq(cairn_request_encode(&req, &enc, &enc_len), CAIRN_OK);
    expect_rejected(&c, "a truncated upsert", enc, enc_len / 2, true);
    expect_rejected(&c, "an upsert minus its last byte", enc, enc_len - 1, true);
    free(enc);
    cairn_request_free(&req);

    /* And the registry still serves well-formed requests. */
    cairn_request stats;
    cr_assert_eq(cairn_request_stats(&stats, &st), CAIRN_OK);
    cairn_reply rep;
    cairn_reply_init(&rep);
    cr_assert_eq(registry_request(c.n, &stats, &rep, 5000), CAIRN_OK);
    cr_expect_eq(rep.code, CAIRN_OK, "STATS after junk: %s", rep.message ? rep.message : "");
    cr_expect_geq(rep.service_count, 2);
    cr_expect_geq(rep.instance_count, 4);
    cairn_reply_free(&rep);
    cairn_request_free(&stats);
    done(&c);
}

IT_TEST(bad_input, instances_per_service_limit)
{
    ctx c;
    setup(&c, ARGS("limits.max_instances_per_service=4"));
    /* keep has 3: one more is fine, the fifth is refused, re-registering is not "new". */
    nacos_write_ok(c.n, "POST", INSTANCE, Q("serviceName", "keep", "ip", "127.0.0.4", "port", "4"));
    http_resp r = nacos_call(c.n, "POST", INSTANCE,
                             Q("serviceName", "keep", "ip", "127.0.0.5", "port", "5"), NULL, NULL);
    cr_expect_eq(r.status, 400, "5th instance with limit 4: %ld \"%s\"", r.status, r.body);
    cr_expect(r.body_len > 0);
    http_resp_free(&r);
    nacos_write_ok(c.n, "POST", INSTANCE,
                   Q("serviceName", "keep", "ip", "127.0.0.4", "port", "4", "weight", "3"));
    json_t *l = nacos_list(c.n, Q("serviceName", "keep"));
    cr_expect_eq(list_host_count(l), 4);
    cr_expect(list_find_host(l, "127.0.0.5", 5) == NULL, "the refused instance was stored");
    json_decref(l);
    done(&c);
}
