/* Access tokens on the gRPC port (auth.enabled) over real HTTP/2 connections: a Nacos 2.x client
 * logs in over HTTP (/nacos/v1/auth/login) and sends the token in every request's metadata
 * headers. Without a token, with a bad one, or without the permission, naming calls get their
 * own response type with resultCode 500 and errorCode 403 (Nacos 2.3.2's
 * RemoteRequestAuthFilter) and change nothing; the connection messages stay open; with auth off
 * no token is needed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_grpc_client.h"
#include "cairn_harness.h"
#include "cairn_nacos.h"
#include "grpc_codec.h"
#include "grpc_payload.pb-c.h"

TestSuite(grpc_auth, .fini = it_teardown, .timeout = 240);

#define WAIT_MS 10000

static void grpc_addr(const it_node *n, char *addr, size_t len)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/grpc.addr", n->run_dir);
    cr_assert(it_read_addr_file(path, addr, len), "no %s", path);
}

static char users_set[PATH_MAX + 64]; /* auth.users_file=... of the node */

/* `cairn user add name --role roles` with the password on stdin (roles NULL: `user del`). */
static void user_cmd(const char *name, const char *pw, const char *roles)
{
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "printf '%%s\\n' '%s' | '%s/cairn' user %s %s %s%s --set '%s'", pw,
             CAIRN_BIN_DIR, roles ? "add" : "del", name, roles ? "--role " : "",
             roles ? roles : "", users_set);
    char *out = NULL, *err = NULL;
    int code = it_run(ARGS("/bin/sh", "-c", cmd), 60000, &out, &err);
    cr_assert_eq(code, 0, "cairn user %s: %s", name, err ? err : "");
    free(out);
    free(err);
}

/* A node with auth on and three users: root (admin), app (write:public), reader (read:public);
 * tokens live ttl seconds. */
static it_node *auth_node(const char *ttl)
{
    const char *dir = it_tmpdir();
    static char secret_set[PATH_MAX + 64], ttl_set[64];
    char secret[PATH_MAX];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    cr_assert_eq(it_write_file(secret, "0123456789abcdef0123456789abcdef-test-only\n"), 0);
    snprintf(secret_set, sizeof secret_set, "auth.token_secret_file=%s", secret);
    snprintf(users_set, sizeof users_set, "auth.users_file=%s/users", dir);
    user_cmd("root", "root-pw", "admin");
    user_cmd("app", "app-pw", "write:public");
    user_cmd("reader", "reader-pw", "read:public");
    snprintf(ttl_set, sizeof ttl_set, "auth.token_ttl_s=%s", ttl);
    it_node_opts o = {.sets = ARGS("auth.enabled=true", secret_set, users_set, ttl_set)};
    return node_start(&o);
}

/* The accessToken of a login over HTTP (malloc'd). */
static char *login(const it_node *n, const char *user, const char *pw)
{
    http_resp r = nacos_call(n, "POST", "/nacos/v1/auth/login",
                             Q("username", user, "password", pw), NULL, NULL);
    cr_assert_eq(r.status, 200, "login %s: %ld %s", user, r.status, r.body);
    json_t *j = json_parse_or_fail(r.body);
    char *token = strdup(jstr(j, "accessToken"));
    json_decref(j);
    http_resp_free(&r);
    return token;
}

/* A unary call whose Payload carries the metadata header name: value (name NULL: none), as the
 * Java client sends its accessToken. Returns the parsed body; *type gets the response type. */
static json_t *call_with(it_grpc *g, const char *type, const char *body, const char *name,
                         const char *value, char *resp_type, size_t resp_len)
{
    Metadata__HeadersEntry h = METADATA__HEADERS_ENTRY__INIT;
    Metadata__HeadersEntry *hs[1] = {&h};
    Metadata md = METADATA__INIT;
    md.type = (char *)type;
    if (name) {
        h.key = (char *)name;
        h.value = (char *)value;
        md.headers = hs;
        md.n_headers = 1;
    }
    Any any = ANY__INIT;
    any.value.data = (uint8_t *)body;
    any.value.len = strlen(body);
    Payload p = PAYLOAD__INIT;
    p.metadata = &md;
    p.body = &any;
    size_t n = payload__get_packed_size(&p);
    uint8_t *framed = malloc(5 + n);
    cr_assert(framed);
    framed[0] = 0;
    framed[1] = (uint8_t)(n >> 24);
    framed[2] = (uint8_t)(n >> 16);
    framed[3] = (uint8_t)(n >> 8);
    framed[4] = (uint8_t)n;
    payload__pack(&p, framed + 5);
    it_grpc_reply r;
    grpc_call_raw(g, "/Request/request", "application/grpc", framed, 5 + n, &r, WAIT_MS);
    free(framed);
    cr_assert_eq(r.grpc_status, 0, "%s: grpc-status %d", type, r.grpc_status);
    cr_assert(r.type && r.json, "%s: no answer", type);
    snprintf(resp_type, resp_len, "%s", r.type);
    json_t *j = json_parse_or_fail(r.json);
    grpc_reply_free(&r);
    return j;
}

/* The call is refused as Nacos refuses it: its own response type, 500/403, Nacos' text. */
static void expect_denied(it_grpc *g, const char *type, const char *body, const char *name,
                          const char *value, const char *want_type, const char *want_msg)
{
    char got[64];
    json_t *j = call_with(g, type, body, name, value, got, sizeof got);
    cr_expect_str_eq(got, want_type, "%s", type);
    cr_expect_eq(jint(j, "resultCode"), 500, "%s", type);
    cr_expect_eq(jint(j, "errorCode"), 403, "%s", type);
    cr_expect_str_eq(jstr(j, "message"), want_msg, "%s", type);
    json_decref(j);
}

static void expect_allowed(it_grpc *g, const char *type, const char *body, const char *name,
                           const char *value, const char *want_type)
{
    char got[64];
    json_t *j = call_with(g, type, body, name, value, got, sizeof got);
    cr_expect_str_eq(got, want_type, "%s", type);
    cr_expect_eq(jint(j, "resultCode"), 200, "%s: %s", type, jstr(j, "message"));
    json_decref(j);
}

static const char *register_body(const char *ns, const char *svc, int port)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"127.0.0.1\",\"port\":%d,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true}",
             port);
    return grpc_naming_body(ns, svc, extra);
}

/* Hosts of svc in public, read over HTTP with the admin's token. */
static int hosts(const it_node *n, const char *token, const char *svc)
{
    json_t *list = nacos_list(n, Q("serviceName", svc, "accessToken", token));
    int count = list_host_count(list);
    json_decref(list);
    return count;
}

IT_TEST(grpc_auth, tokens_from_the_http_login_guard_naming_calls)
{
    it_node *n = auth_node("18000");
    char *root = login(n, "root", "root-pw");
    char *app = login(n, "app", "app-pw");
    char *reader = login(n, "reader", "reader-pw");
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    /* ServerCheckRequest and the bi-stream's setup need no token */
    it_grpc *g = grpc_open_setup(addr);
    expect_allowed(g, "HealthCheckRequest", "{}", NULL, NULL, "HealthCheckResponse");

    /* no token, a made-up one, a tampered one: refused, nothing written */
    expect_denied(g, "InstanceRequest", register_body("public", "guarded", 1), NULL, NULL,
                  "InstanceResponse", "user not found!");
    expect_denied(g, "InstanceRequest", register_body("public", "guarded", 1), "accessToken",
                  "not-a-token", "InstanceResponse", "token invalid!");
    char *tampered = strdup(app);
    tampered[strlen(tampered) - 2] ^= 1;
    expect_denied(g, "InstanceRequest", register_body("public", "guarded", 1), "accessToken",
                  tampered, "InstanceResponse", "token invalid!");
    free(tampered);
    cr_expect_eq(hosts(n, root, "guarded"), 0, "a refused register writes nothing");

    /* the login's token works, in accessToken or as a Bearer Authorization */
    expect_allowed(g, "InstanceRequest", register_body("public", "guarded", 1), "accessToken", app,
                   "InstanceResponse");
    cr_expect_eq(hosts(n, root, "guarded"), 1);
    char bearer[1024];
    snprintf(bearer, sizeof bearer, "Bearer %s", app);
    expect_allowed(g, "ServiceQueryRequest", grpc_naming_body("public", "guarded", ""),
                   "Authorization", bearer, "QueryServiceResponse");

    /* read vs write, and the namespace, as v1: read:public queries but does not write */
    expect_allowed(g, "SubscribeServiceRequest",
                   grpc_naming_body("public", "guarded", "\"subscribe\":true,\"clusters\":\"\""),
                   "accessToken", reader, "SubscribeServiceResponse");
    expect_allowed(g, "ServiceListRequest",
                   "{\"headers\":{},\"namespace\":\"public\",\"groupName\":\"DEFAULT_GROUP\","
                   "\"pageNo\":1,\"pageSize\":10,\"module\":\"naming\"}",
                   "accessToken", reader, "ServiceListResponse");
    expect_denied(g, "InstanceRequest", register_body("public", "guarded", 2), "accessToken",
                  reader, "InstanceResponse", "authorization failed!");
    expect_denied(g, "BatchInstanceRequest",
                  grpc_naming_body("other", "guarded",
                                   "\"type\":\"batchRegisterInstance\",\"instances\":[]"),
                  "accessToken", app, "BatchInstanceResponse", "authorization failed!");
    expect_denied(g, "ServiceQueryRequest", grpc_naming_body("public", "guarded", ""), NULL, NULL,
                  "QueryServiceResponse", "user not found!");
    expect_denied(g, "SubscribeServiceRequest", grpc_naming_body("public", "guarded", ""), NULL,
                  NULL, "SubscribeServiceResponse", "user not found!");
    expect_denied(g, "PersistentInstanceRequest", register_body("public", "guarded", 3), NULL,
                  NULL, "InstanceResponse", "user not found!");
    expect_denied(g, "ServiceListRequest", "{\"headers\":{},\"namespace\":\"public\"}", NULL, NULL,
                  "ServiceListResponse", "user not found!");

    /* headers inside the JSON body count too (Nacos merges them with the metadata's) */
    char body[2048];
    snprintf(body, sizeof body,
             "{\"headers\":{\"accessToken\":\"%s\"},\"namespace\":\"public\","
             "\"serviceName\":\"guarded\",\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\"}",
             reader);
    expect_allowed(g, "ServiceQueryRequest", body, NULL, NULL, "QueryServiceResponse");
    cr_expect(grpc_alive(g), "refusals never close the connection");
    grpc_close(g);

    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_auth_denied_total", "no_user"), 5);
    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_auth_denied_total", "token_invalid"), 2);
    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_auth_denied_total", "forbidden"), 2);
    free(root);
    free(app);
    free(reader);
}

/* With auth off (the default) nothing asks for a token, and a stray one changes nothing. */
IT_TEST(grpc_auth, auth_off_needs_no_token)
{
    it_node_opts o = {0};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *g = grpc_open_setup(addr);
    expect_allowed(g, "InstanceRequest", register_body("public", "open", 1), NULL, NULL,
                   "InstanceResponse");
    expect_allowed(g, "InstanceRequest", register_body("public", "open", 2), "accessToken",
                   "not-a-token", "InstanceResponse");
    expect_allowed(g, "ServiceQueryRequest", grpc_naming_body("public", "open", ""), NULL, NULL,
                   "QueryServiceResponse");
    json_t *list = nacos_list(n, Q("serviceName", "open"));
    cr_expect_eq(list_host_count(list), 1, "the second register replaced the connection's share");
    json_decref(list);
    cr_expect_eq(node_metric(n, "grpc", "cairn_grpc_auth_denied_total", NULL), 0);
    grpc_close(g);
}

typedef struct refusal {
    it_grpc *g;
    const char *token;
    const char *want; /* the message awaited */
} refusal;

static bool refused_with(void *arg)
{
    refusal *r = arg;
    char got[64];
    json_t *j = call_with(r->g, "ServiceQueryRequest", grpc_naming_body("public", "s", ""),
                          "accessToken", r->token, got, sizeof got);
    bool hit = jint(j, "errorCode") == 403 && strcmp(jstr(j, "message"), r->want) == 0;
    json_decref(j);
    return hit;
}

/* `cairn user del` reaches a running cairn-grpc within about a second, and tokens expire. */
IT_TEST(grpc_auth, deleted_users_and_expired_tokens_are_refused)
{
    it_node *n = auth_node("3");
    char *reader = login(n, "reader", "reader-pw");
    char *app = login(n, "app", "app-pw");
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *g = grpc_open_setup(addr);
    user_cmd("reader", "", NULL);
    refusal gone = {g, reader, "authorization failed!"};
    cr_expect(wait_until(refused_with, &gone, WAIT_MS), "the deleted user's token is refused");
    refusal old = {g, app, "token expired!"};
    cr_expect(wait_until(refused_with, &old, WAIT_MS), "an expired token is refused");
    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_auth_denied_total", "token_expired"), 1);
    grpc_close(g);
    free(reader);
    free(app);
}
