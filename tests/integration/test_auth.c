/* Authentication and authorisation (auth.enabled): off by default; when on, every call needs a
 * user with the permission, refusals are 403 with Nacos' texts and change nothing, tokens from
 * the login endpoint work until they expire, `cairn user` edits (add, passwd, roles, del) reach a
 * running node, and a node without a token secret does not start. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(auth, .fini = it_teardown, .timeout = 240);

#define LOGIN "/nacos/v1/auth/login"

typedef struct auth_files {
    char secret_set[PATH_MAX + 64]; /* auth.token_secret_file=... */
    char users_set[PATH_MAX + 64];  /* auth.users_file=... */
    char users[PATH_MAX];
} auth_files;

static const char *bin(const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", CAIRN_BIN_DIR, name);
    return path;
}

/* stderr of the last user_cmd, for assertion messages. */
static char user_err[1024];

/* `cairn user <action> <name> [--role roles]` with password on stdin; returns the exit code. */
static int user_cmd(const auth_files *f, const char *action, const char *name,
                    const char *password, const char *role)
{
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "printf '%%s\\n' '%s' | '%s' user %s %s %s%s --set '%s'",
             password ? password : "", bin("cairn"), action, name, role ? "--role " : "",
             role ? role : "", f->users_set);
    char *out = NULL, *err = NULL;
    int code = it_run(ARGS("/bin/sh", "-c", cmd), 60000, &out, &err);
    snprintf(user_err, sizeof user_err, "%s", err ? err : "");
    free(out);
    free(err);
    return code;
}

/* A secret and four users: admin, a reader of public, a writer of namespace a, a writer of
 * public. */
static void make_files(auth_files *f)
{
    const char *dir = it_tmpdir();
    char secret[PATH_MAX];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    cr_assert_eq(it_write_file(secret, "0123456789abcdef0123456789abcdef-test-only\n"), 0);
    snprintf(f->users, sizeof f->users, "%s/users", dir);
    snprintf(f->secret_set, sizeof f->secret_set, "auth.token_secret_file=%s", secret);
    snprintf(f->users_set, sizeof f->users_set, "auth.users_file=%s", f->users);
    cr_assert_eq(user_cmd(f, "add", "root", "root-pw", "admin"), 0, "%s", user_err);
    cr_assert_eq(user_cmd(f, "add", "reader", "reader-pw", "read:public"), 0, "%s", user_err);
    cr_assert_eq(user_cmd(f, "add", "writer_a", "writer-pw", "write:a"), 0, "%s", user_err);
    cr_assert_eq(user_cmd(f, "add", "app", "app-pw", "write:public"), 0, "%s", user_err);
}

static it_node *auth_node(auth_files *f, const char *extra)
{
    make_files(f);
    it_node_opts o = {.sets = ARGS("auth.enabled=true", f->secret_set, f->users_set,
                                   extra ? extra : "auth.token_ttl_s=18000")};
    return node_start(&o);
}

static http_resp call(const it_node *n, const char *method, const char *path,
                      const char *const *q)
{
    return nacos_call(n, method, path, q, NULL, NULL);
}

static void expect(const it_node *n, const char *method, const char *path, const char *const *q,
                   long status, const char *body)
{
    http_resp r = call(n, method, path, q);
    cr_expect_eq(r.status, status, "%s %s: %ld \"%s\" (want %ld \"%s\")", method, path,
                 r.status, r.body, status, body);
    if (body)
        cr_expect_str_eq(r.body, body, "%s %s", method, path);
    http_resp_free(&r);
}

/* The accessToken of a login (asserts 200). */
static char *login(const it_node *n, const char *user, const char *pw, bool *admin)
{
    http_resp r = call(n, "POST", LOGIN, Q("username", user, "password", pw));
    cr_assert_eq(r.status, 200, "login %s: %ld %s", user, r.status, r.body);
    json_t *j = json_parse_or_fail(r.body);
    char *token = strdup(jstr(j, "accessToken"));
    cr_expect_eq(jint(j, "tokenTtl"), 18000);
    cr_expect_str_eq(jstr(j, "username"), user);
    if (admin)
        *admin = jbool(j, "globalAdmin");
    json_decref(j);
    http_resp_free(&r);
    return token;
}

static int hosts_of(const it_node *n, const char *service, const char *ns)
{
    http_resp r = call(n, "GET", NS "/instance/list",
                       Q("serviceName", service, "namespaceId", ns, "username", "root",
                         "password", "root-pw"));
    int count = -1;
    if (r.status == 200) {
        json_t *j = json_parse_or_fail(r.body);
        count = list_host_count(j);
        json_decref(j);
    }
    http_resp_free(&r);
    return count;
}

/* The type of the DEFAULT cluster's checker of service (read as root), or "" when it has none. */
static const char *checker_type(const it_node *n, const char *service)
{
    static char type[16];
    type[0] = '\0';
    http_resp r = call(n, "GET", NS "/service",
                       Q("serviceName", service, "username", "root", "password", "root-pw"));
    cr_assert_eq(r.status, 200, "GET service %s: %ld %s", service, r.status, r.body);
    json_t *j = json_parse_or_fail(r.body);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "clusters"), i, c)
    {
        const char *t = json_string_value(json_object_get(json_object_get(c, "healthChecker"),
                                                          "type"));
        if (strcmp(json_string_value(json_object_get(c, "name")), "DEFAULT") == 0 && t)
            snprintf(type, sizeof type, "%s", t);
    }
    json_decref(j);
    http_resp_free(&r);
    return type;
}

IT_TEST(auth, off_by_default_everything_works_as_before)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "open", "ip", "127.0.0.1", "port", "1"));
    nacos_write_ok(n, "POST", NS "/service", Q("serviceName", "open2"));
    /* Credentials are ignored, even wrong ones; a login succeeds with an empty token. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "open", "ip", "127.0.0.2", "port", "1", "username", "x",
                     "password", "y", "accessToken", "junk"));
    http_resp r = call(n, "POST", LOGIN, Q("username", "nacos", "password", "nacos"));
    cr_expect_eq(r.status, 200, "%s", r.body);
    json_t *j = json_parse_or_fail(r.body);
    cr_expect_str_eq(jstr(j, "accessToken"), "");
    json_decref(j);
    http_resp_free(&r);
}

IT_TEST(auth, on_refuses_calls_without_a_user_and_changes_nothing)
{
    auth_files f;
    it_node *n = auth_node(&f, NULL);
    const char *const *reg = Q("serviceName", "s1", "ip", "127.0.0.1", "port", "1");
    expect(n, "POST", NS "/instance", reg, 403, "user not found!");
    expect(n, "POST", NS "/service", Q("serviceName", "s1"), 403, "user not found!");
    expect(n, "GET", NS "/instance/list", Q("serviceName", "s1"), 403, "user not found!");
    expect(n, "GET", NS "/catalog/services", NULL, 403, "user not found!");
    expect(n, "GET", NS "/operator/metrics", NULL, 403, "user not found!");
    expect(n, "GET", "/nacos/prometheus/", NULL, 403, "user not found!");
    /* The user agent grants nothing (Nacos 1.x let "Nacos-Server" agents through). */
    http_resp r = nacos_call(n, "POST", NS "/instance", reg, NULL,
                             ARGS("User-Agent: Nacos-Server:v1.4.8"));
    cr_expect_eq(r.status, 403, "Nacos-Server agent: %ld %s", r.status, r.body);
    http_resp_free(&r);
    cr_expect_leq(hosts_of(n, "s1", "public"), 0, "a refused register changed the registry");
    /* Still open: console health, the console's files, the login endpoints. */
    expect(n, "GET", "/nacos/v1/console/health/liveness", NULL, 200, NULL);
    expect(n, "GET", "/nacos/v1/console/health/readiness", NULL, 200, NULL);
    expect(n, "GET", "/nacos/index.html", NULL, 200, NULL);
    expect(n, "POST", "/nacos/v1/auth/users/login", Q("username", "root", "password", "nope"), 403,
           "unknown user!");
    cr_expect_geq(node_metric(n, "gateway", "cairn_gateway_auth_total", "result=\"no_user\""), 6);
}

IT_TEST(auth, login_token_works_wrong_password_and_bad_token_do_not)
{
    auth_files f;
    it_node *n = auth_node(&f, NULL);
    expect(n, "POST", LOGIN, Q("username", "app", "password", "wrong"), 403, "unknown user!");
    expect(n, "POST", LOGIN, Q("username", "ghost", "password", "x"), 403, "unknown user!");
    expect(n, "POST", NS "/instance",
           Q("serviceName", "s2", "ip", "127.0.0.1", "port", "1", "username", "app", "password",
             "wrong"),
           403, "unknown user!");
    bool admin = true;
    char *token = login(n, "app", "app-pw", &admin);
    cr_expect(!admin, "app is no admin");
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "s2", "ip", "127.0.0.1", "port", "1", "accessToken", token));
    char header[1024];
    snprintf(header, sizeof header, "Authorization: Bearer %s", token);
    http_resp r = nacos_call(n, "GET", NS "/instance/list", Q("serviceName", "s2"), NULL,
                             ARGS(header));
    cr_expect_eq(r.status, 200, "bearer header: %ld %s", r.status, r.body);
    http_resp_free(&r);
    /* Username and password on every call, as the Node client sends them. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "s2", "ip", "127.0.0.2", "port", "1", "username", "app",
                     "password", "app-pw"));
    cr_expect_eq(hosts_of(n, "s2", "public"), 2);
    token[strlen(token) - 2] ^= 1; /* a forged signature */
    expect(n, "GET", NS "/instance/list", Q("serviceName", "s2", "accessToken", token), 403,
           "token invalid!");
    free(token);
    char *root = login(n, "root", "root-pw", &admin);
    cr_expect(admin, "root is admin");
    free(root);
}

typedef struct expiry {
    const it_node *n;
    const char *token;
} expiry;

static bool token_expired(void *arg)
{
    expiry *e = arg;
    http_resp r = call(e->n, "GET", NS "/instance/list",
                       Q("serviceName", "s3", "accessToken", e->token));
    bool gone = r.status == 403 && strcmp(r.body, "token expired!") == 0;
    http_resp_free(&r);
    return gone;
}

IT_TEST(auth, an_expired_token_is_refused)
{
    auth_files f;
    it_node *n = auth_node(&f, "auth.token_ttl_s=1");
    http_resp r = call(n, "POST", LOGIN, Q("username", "app", "password", "app-pw"));
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = json_parse_or_fail(r.body);
    cr_expect_eq(jint(j, "tokenTtl"), 1);
    expiry e = {n, jstr(j, "accessToken")};
    cr_expect(wait_until(token_expired, &e, 10000), "the token did not expire");
    json_decref(j);
    http_resp_free(&r);
}

IT_TEST(auth, permissions_by_role_and_namespace)
{
    auth_files f;
    it_node *n = auth_node(&f, NULL);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "s4", "ip", "127.0.0.1", "port", "1", "username", "root",
                     "password", "root-pw"));
    /* read:public lists but does not register. */
    http_resp r = call(n, "GET", NS "/instance/list",
                       Q("serviceName", "s4", "username", "reader", "password", "reader-pw"));
    cr_expect_eq(r.status, 200, "reader list: %ld %s", r.status, r.body);
    http_resp_free(&r);
    expect(n, "POST", NS "/instance",
           Q("serviceName", "s4", "ip", "127.0.0.2", "port", "1", "username", "reader",
             "password", "reader-pw"),
           403, "authorization failed!");
    /* write:a writes (and reads) a, nothing in b or public. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "s4", "namespaceId", "a", "ip", "127.0.0.3", "port", "1",
                     "username", "writer_a", "password", "writer-pw"));
    expect(n, "POST", NS "/instance",
           Q("serviceName", "s4", "namespaceId", "b", "ip", "127.0.0.3", "port", "1", "username",
             "writer_a", "password", "writer-pw"),
           403, "authorization failed!");
    expect(n, "GET", NS "/instance/list",
           Q("serviceName", "s4", "username", "writer_a", "password", "writer-pw"), 403,
           "authorization failed!");
    cr_expect_leq(hosts_of(n, "s4", "b"), 0);
    cr_expect_eq(hosts_of(n, "s4", "public"), 1);
    /* Service and cluster settings, health overrides and the console's role table: admin. */
    const char *const *w = Q("serviceName", "s4", "username", "app", "password", "app-pw");
    expect(n, "POST", NS "/service", w, 403, "authorization failed!");
    expect(n, "PUT", NS "/service",
           Q("serviceName", "s4", "protectThreshold", "0.5", "username", "app", "password",
             "app-pw"),
           403, "authorization failed!");
    expect(n, "DELETE", NS "/service", w, 403, "authorization failed!");
    /* Only an admin sets a cluster's checker: an HTTP checker from a writer changes nothing. */
    const char *http_checker = "{\"type\":\"HTTP\",\"path\":\"/probe\"}";
    expect(n, "PUT", NS "/cluster",
           Q("serviceName", "s4", "clusterName", "DEFAULT", "healthChecker", http_checker,
             "username", "app", "password", "app-pw"),
           403, "authorization failed!");
    cr_expect_str_eq(checker_type(n, "s4"), "TCP", "a writer's checker was stored");
    nacos_write_ok(n, "PUT", NS "/cluster",
                   Q("serviceName", "s4", "clusterName", "DEFAULT", "healthChecker",
                     http_checker, "username", "root", "password", "root-pw"));
    cr_expect_str_eq(checker_type(n, "s4"), "HTTP", "the admin's checker was not stored");
    expect(n, "PUT", NS "/health/instance",
           Q("serviceName", "s4", "ip", "127.0.0.1", "port", "1", "healthy", "false", "username",
             "app", "password", "app-pw"),
           403, "authorization failed!");
    expect(n, "GET", "/nacos/v1/console/cairn/roles", Q("username", "app", "password", "app-pw"),
           403, "authorization failed!");
    nacos_write_ok(n, "POST", NS "/service",
                   Q("serviceName", "s5", "username", "root", "password", "root-pw"));
    /* Prometheus discovery needs read in the namespace it names; all of them for the root. */
    r = call(n, "GET", "/nacos/prometheus/namespaceId/public",
             Q("username", "reader", "password", "reader-pw"));
    cr_expect_eq(r.status, 200, "prometheus public: %ld %s", r.status, r.body);
    http_resp_free(&r);
    expect(n, "GET", "/nacos/prometheus/", Q("username", "reader", "password", "reader-pw"), 403,
           "authorization failed!");
}

typedef struct login_state {
    const it_node *n;
    long want;
    const char *password; /* NULL: late-pw */
} login_state;

static bool login_answers(void *arg)
{
    login_state *s = arg;
    http_resp r = call(s->n, "POST", LOGIN,
                       Q("username", "late", "password", s->password ? s->password : "late-pw"));
    bool ok = r.status == s->want;
    http_resp_free(&r);
    return ok;
}

/* Whether late (password late-pw2) registers an instance in public with the answer want. */
static bool late_registers(void *arg)
{
    login_state *s = arg;
    http_resp r = call(s->n, "POST", NS "/instance",
                       Q("serviceName", "late-svc", "ip", "127.0.0.9", "port", "1", "username",
                         "late", "password", "late-pw2"));
    bool ok = r.status == s->want;
    http_resp_free(&r);
    return ok;
}

IT_TEST(auth, cairn_user_edits_reach_a_running_node)
{
    auth_files f;
    it_node *n = auth_node(&f, NULL);
    login_state s = {.n = n, .want = 403};
    cr_expect(login_answers(&s), "an unknown user logged in");
    cr_assert_eq(user_cmd(&f, "add", "late", "late-pw", "read:*"), 0, "%s", user_err);
    cr_expect_neq(user_cmd(&f, "add", "late", "other", NULL), 0, "added twice");
    s.want = 200;
    cr_expect(wait_until(login_answers, &s, 10000), "the added user cannot log in");
    /* passwd: the old password stops working, the new one works. */
    cr_assert_eq(user_cmd(&f, "passwd", "late", "late-pw2", NULL), 0, "%s", user_err);
    s.want = 403;
    cr_expect(wait_until(login_answers, &s, 10000), "the old password still logs in");
    login_state changed = {.n = n, .want = 200, .password = "late-pw2"};
    cr_expect(wait_until(login_answers, &changed, 10000), "the new password does not log in");
    cr_expect_neq(user_cmd(&f, "passwd", "nobody", "pw", NULL), 0, "passwd of an unknown user");
    s.password = "late-pw2";
    /* roles: read:* does not register; write:public does. */
    login_state reg = {.n = n, .want = 403};
    cr_expect(late_registers(&reg), "read:* registered an instance");
    cr_assert_eq(user_cmd(&f, "roles", "late", NULL, "write:public"), 0, "%s", user_err);
    reg.want = 200;
    cr_expect(wait_until(late_registers, &reg, 10000), "write:public does not register");
    /* list: names and roles, no hashes. */
    char *out = NULL, *err = NULL;
    cr_expect_eq(it_run(ARGS(bin("cairn"), "user", "list", "--set", f.users_set), 60000, &out,
                        &err),
                 0, "%s", err ? err : "");
    cr_expect(out && strstr(out, "late\twrite:public\n") && strstr(out, "root\tadmin\n"),
              "cairn user list: %s", out ? out : "");
    cr_expect(out && !strstr(out, "argon2"), "cairn user list shows hashes: %s", out);
    free(out), free(err);
    cr_assert_eq(user_cmd(&f, "del", "late", NULL, NULL), 0, "%s", user_err);
    s.want = 403;
    cr_expect(wait_until(login_answers, &s, 10000), "the deleted user still logs in");
    cr_expect_neq(user_cmd(&f, "del", "late", NULL, NULL), 0, "deleted twice");
    cr_expect_neq(user_cmd(&f, "add", "bad:name", "pw", NULL), 0, "a name with ':'");
    cr_expect_neq(user_cmd(&f, "add", "x", "pw", "owner"), 0, "an unknown role");
    char *text = it_read_file(f.users);
    cr_assert(text);
    cr_expect(strstr(text, "root:$argon2id$"), "users file: %s", text);
    cr_expect(!strstr(text, "root-pw"), "a password in the users file");
    free(text);
    struct stat sb;
    cr_assert_eq(stat(f.users, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "users file mode %o", sb.st_mode & 0777);
}

IT_TEST(auth, a_node_without_secret_or_with_a_public_admin_listener_does_not_start)
{
    const char *dir = it_tmpdir();
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/data", dir);
    char *out = NULL, *err = NULL;
    int code = it_run(ARGS(bin("cairn"), "run", "--data-dir", data, "--set", "auth.enabled=true",
                           "--set", "gateway.listen=127.0.0.1:0"),
                      15000, &out, &err);
    cr_expect_eq(code, 78, "exit %d: %s", code, err);
    cr_expect(strstr(err, "auth.token_secret_file"), "message: %s", err);
    free(out), free(err);
    auth_files f;
    make_files(&f);
    code = it_run(ARGS(bin("cairn"), "run", "--data-dir", data, "--set", "auth.enabled=true",
                       "--set", f.secret_set, "--set", "gateway.listen=127.0.0.1:0", "--set",
                       "registry.admin_listen=0.0.0.0:0"),
                  15000, &out, &err);
    cr_expect_eq(code, 78, "exit %d: %s", code, err);
    cr_expect(strstr(err, "registry.admin_listen"), "message: %s", err);
    free(out), free(err);
    /* A role started on its own refuses too. */
    char data_set[PATH_MAX + 32];
    snprintf(data_set, sizeof data_set, "node.data_dir=%s", data);
    code = it_run(ARGS(bin("cairn-gateway"), "--set", data_set, "--set", "auth.enabled=true",
                       "--set", "gateway.listen=127.0.0.1:0", "--set",
                       "gateway.admin_listen=127.0.0.1:0"),
                  15000, &out, &err);
    cr_expect_eq(code, 78, "exit %d: %s", code, err);
    free(out), free(err);
}
