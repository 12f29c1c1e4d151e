/* Configuration (design §5): bad config exits 78 naming the key and starts nothing; a config
 * file with sections applies to the roles; --set overrides it; config-reference prints every key. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_config.h"
#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(config, .fini = it_teardown, .timeout = 120);

static const char *bin(const char *name)
{
    static char paths[4][PATH_MAX];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", CAIRN_BIN_DIR, name);
    return p;
}

/* Kills whatever a wrongly started command left behind in dir. */
static void kill_leftovers(const char *dir)
{
    static const char *const roles[] = {"cairn", "cairn-registry", "cairn-gateway"};
    for (int round = 0; round < 10; round++) {
        bool any = false;
        for (size_t i = 0; i < 3; i++) {
            pid_t pid = it_find_pid(roles[i], dir, 0);
            if (pid > 0) {
                kill(pid, SIGKILL);
                any = true;
            }
        }
        if (!any)
            return;
    }
}

/* Runs argv expecting exit 78 with `needle` in stderr, empty stdout, and nothing left running
 * or listening in dir. */
static void expect_config_error(const char *const *argv, const char *dir, const char *needle)
{
    char *out = NULL, *err = NULL;
    int code = it_run(argv, 15000, &out, &err);
    pid_t left_gw = it_find_pid("cairn-gateway", dir, 0);
    pid_t left_reg = it_find_pid("cairn-registry", dir, 0);
    kill_leftovers(dir);
    cr_expect_eq(code, CAIRN_EXIT_CONFIG, "%s ... %s: exit %d (expected 78); stderr: %s", argv[0],
                 needle, code, err);
    cr_expect(strstr(err, needle) != NULL, "stderr does not name \"%s\": \"%s\"", needle, err);
    cr_expect(!strstr(out, "node ready"), "printed a ready line on bad config: %s", out);
    cr_expect(left_gw == 0 && left_reg == 0, "roles were started on bad config (%d, %d)",
              (int)left_gw, (int)left_reg);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/run/gateway.http", dir);
    cr_expect(access(path, F_OK) != 0, "gateway.http written on bad config");
    free(out);
    free(err);
}

IT_TEST(config, bad_value_exits_78_naming_the_key)
{
    const char *dir = it_tmpdir();
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/data", dir);
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--set",
                             "gateway.listen=127.0.0.1:0", "--set", "gateway.threads=abc"),
                        data, "gateway.threads");
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--set",
                             "gateway.listen=127.0.0.1:0", "--set", "gateway.threads=0"),
                        data, "gateway.threads");
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--set",
                             "gateway.listen=127.0.0.1:99999"),
                        data, "gateway.listen");
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--set",
                             "log.level=loud"),
                        data, "log.level");
}

IT_TEST(config, unknown_key_exits_78)
{
    const char *dir = it_tmpdir();
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/data", dir);
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--set",
                             "gateway.listen=127.0.0.1:0", "--set", "gateway.nosuch=1"),
                        data, "gateway.nosuch");
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--set", "nodot=1"), data,
                        "nodot");
}

IT_TEST(config, roles_alone_reject_bad_config)
{
    const char *dir = it_tmpdir();
    char data[PATH_MAX], set_dir[PATH_MAX + 32];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(set_dir, sizeof set_dir, "node.data_dir=%s", data);
    expect_config_error(ARGS(bin("cairn-gateway"), "--set", set_dir, "--set",
                             "gateway.listen=127.0.0.1:0", "--set", "gateway.max_body_bytes=12x"),
                        data, "gateway.max_body_bytes");
    expect_config_error(ARGS(bin("cairn-registry"), "--set", set_dir, "--set",
                             "registry.admin_listen=127.0.0.1:0", "--set", "registry.workers=-1"),
                        data, "registry.workers");
    expect_config_error(ARGS(bin("cairn-registry"), "--set", set_dir, "--set", "registry.bogus=1"),
                        data, "registry.bogus");
}

IT_TEST(config, bad_config_file_exits_78)
{
    const char *dir = it_tmpdir();
    char data[PATH_MAX], file[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(file, sizeof file, "%s/bad.conf", dir);
    cr_assert(it_write_file(file, "[gateway]\nlisten = 127.0.0.1:0\nthreads = many\n") == 0);
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--config", file), data,
                        "gateway.threads");
    cr_assert(it_write_file(file, "[gateway]\nlisten = 127.0.0.1:0\nfrobnicate = 1\n") == 0);
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--config", file), data,
                        "gateway.frobnicate");
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/missing.conf", dir);
    expect_config_error(ARGS(bin("cairn"), "run", "--data-dir", data, "--config", missing), data,
                        "missing.conf");
}

static const char *write_conf(void)
{
    const char *dir = it_tmpdir();
    static char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/node.conf", dir);
    cr_assert(it_write_file(file, "# test node\n"
                                  "[gateway]\n"
                                  "listen = 127.0.0.1:0\n"
                                  "admin_listen = 127.0.0.1:0\n"
                                  "max_param_bytes = 300\n"
                                  "registry_timeout_ms = 5000\n"
                                  "\n"
                                  "[registry]\n"
                                  "admin_listen = 127.0.0.1:0\n"
                                  "[run]\n"
                                  "stop_timeout_ms = 5000\n") == 0);
    return file;
}

/* Registers with a metadata value of exactly len bytes; returns the response. */
static http_resp register_with_metadata_len(const it_node *n, size_t len)
{
    char *md = malloc(len + 1);
    cr_assert(md != NULL);
    const char *head = "{\"k\":\"";
    size_t h = strlen(head);
    memcpy(md, head, h);
    memset(md + h, 'v', len - h - 2);
    memcpy(md + len - 2, "\"}", 2);
    md[len] = '\0';
    char *form = http_query(Q("serviceName", "cfg", "ip", "127.0.0.1", "port", "1", "metadata", md));
    http_resp r = nacos_call(n, "POST", NS "/instance", NULL, form, NULL);
    free(form);
    free(md);
    return r;
}

IT_TEST(config, config_file_sections_apply)
{
    const char *file = write_conf();
    it_node_opts o = {.config_file = file, .no_default_sets = true};
    it_node *n = node_start(&o);
    cr_expect(strncmp(n->gateway, "127.0.0.1:", 10) == 0 && strcmp(n->gateway, "127.0.0.1:8848"),
              "[gateway] listen not applied: gateway at %s", n->gateway);
    cr_expect(strcmp(n->gateway_admin, "127.0.0.1:9150") != 0, "[gateway] admin_listen ignored");
    cr_expect(strcmp(n->registry_admin, "127.0.0.1:9151") != 0, "[registry] admin_listen ignored");
    http_resp r = register_with_metadata_len(n, 400);
    cr_expect(r.status == 400 && strcmp(r.body, "Param 'metadata' is too long (max 300 bytes)") == 0,
              "[gateway] max_param_bytes = 300 not applied: %ld \"%s\"", r.status, r.body);
    http_resp_free(&r);
    r = register_with_metadata_len(n, 200);
    cr_expect(r.status == 200, "200-byte metadata refused: %ld \"%s\"", r.status, r.body);
    http_resp_free(&r);
}

IT_TEST(config, set_overrides_config_file)
{
    const char *file = write_conf();
    it_node_opts o = {.config_file = file,
                      .no_default_sets = true,
                      .sets = ARGS("gateway.max_param_bytes=1000")};
    it_node *n = node_start(&o);
    http_resp r = register_with_metadata_len(n, 400);
    cr_expect(r.status == 200, "--set gateway.max_param_bytes=1000 did not override the file: "
                               "%ld \"%s\"",
              r.status, r.body);
    http_resp_free(&r);
    r = register_with_metadata_len(n, 1200);
    cr_expect(r.status == 400 &&
                  strcmp(r.body, "Param 'metadata' is too long (max 1000 bytes)") == 0,
              "1200-byte param: %ld \"%s\"", r.status, r.body);
    http_resp_free(&r);
}

IT_TEST(config, config_reference_lists_every_key)
{
    char *out = NULL, *err = NULL;
    int code = it_run(ARGS(bin("cairn"), "config-reference"), 10000, &out, &err);
    cr_expect_eq(code, 0, "cairn config-reference exit %d; stderr %s", code, err);
    size_t count = 0;
    for (const cairn_config_key *k = cairn_config_reference; k->key; k++) {
        count++;
        cr_expect(strstr(out, k->key) != NULL, "config-reference lacks %s", k->key);
    }
    cr_expect(count > 10);
    free(out);
    free(err);
}

typedef struct log_probe {
    const char *path;
    char needle[128];
} log_probe;

static bool log_has(void *arg)
{
    log_probe *p = arg;
    char *text = it_read_file(p->path);
    bool found = text && strstr(text, p->needle) != NULL;
    free(text);
    return found;
}

/* The port of an address file that must name the wildcard bind "0.0.0.0:<port>"; 0 when it does
 * not. */
static unsigned wildcard_port(const char *run_dir, const char *file)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", run_dir, file);
    char *text = it_read_file(path);
    cr_assert(text != NULL, "no %s", path);
    unsigned port = 0;
    char tail = '\0';
    int got = sscanf(text, "0.0.0.0:%u%c", &port, &tail);
    cr_expect(got == 1 && port > 0 && port < 65536,
              "%s says \"%s\", expected 0.0.0.0:<bound port>", file, text);
    free(text);
    return got == 1 ? port : 0;
}

/* A listener bound to the wildcard address is reported as bound: the log line and the address
 * file say 0.0.0.0 with the port bound (not the loopback address clients dial), for the Nacos
 * listener and for an admin listener alike. Traffic still goes over loopback. */
IT_TEST(config, wildcard_listeners_are_reported_as_bound)
{
    it_node *n = node_start(&(it_node_opts){
        .sets = ARGS("gateway.listen=0.0.0.0:0", "registry.admin_listen=0.0.0.0:0")});
    char log_path[PATH_MAX + 16];
    snprintf(log_path, sizeof log_path, "%s/node.log", n->dir);

    unsigned http_port = wildcard_port(n->run_dir, "gateway.http");
    log_probe lp = {.path = log_path};
    snprintf(lp.needle, sizeof lp.needle, "gateway: http: listening on 0.0.0.0:%u\n", http_port);
    cr_expect(wait_until(log_has, &lp, 5000), "no \"%s\" in %s", lp.needle, log_path);
    char dial[64];
    snprintf(dial, sizeof dial, "127.0.0.1:%u", http_port);
    cr_expect_str_eq(n->gateway, dial, "the ready line's gateway is not its loopback address");
    http_resp r = http_get_addr(dial, "/nacos/v1/console/health/liveness", 5000);
    cr_expect_eq(r.status, 200, "gateway over loopback at %s: %ld %s", dial, r.status, r.error);
    http_resp_free(&r);

    unsigned admin_port = wildcard_port(n->run_dir, "registry.admin");
    snprintf(lp.needle, sizeof lp.needle, "registry: admin listener on 0.0.0.0:%u\n", admin_port);
    cr_expect(wait_until(log_has, &lp, 5000), "no \"%s\" in %s", lp.needle, log_path);
    snprintf(dial, sizeof dial, "127.0.0.1:%u", admin_port);
    cr_expect_str_eq(n->registry_admin, dial, "registry.admin is not dialled over loopback");
    r = http_get_addr(dial, "/ready", 5000);
    cr_expect_eq(r.status, 200, "registry admin over loopback at %s: %ld %s", dial, r.status,
                 r.error);
    http_resp_free(&r);
}
