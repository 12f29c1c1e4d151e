#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_config.h"
#include "cairn_msg.h"

static char tmp_dir[] = "/tmp/cairn-config-test-XXXXXX";
static char conf_path[PATH_MAX];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmp_dir));
    snprintf(conf_path, sizeof conf_path, "%s/cairn.conf", tmp_dir);
}

static void teardown(void)
{
    unlink(conf_path);
    rmdir(tmp_dir);
}

TestSuite(config, .init = setup, .fini = teardown);

static void write_conf(const char *text)
{
    FILE *f = fopen(conf_path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static cairn_config *load_text(const char *text, cairn_status *st)
{
    write_conf(text);
    return cairn_config_load(conf_path, NULL, 0, st);
}

/* The error message must name the file and line, then the key, then what is wrong. */
static void expect_file_error(const char *text, unsigned line, const char *rest)
{
    cairn_status st;
    cairn_config *cfg = load_text(text, &st);
    cr_assert_null(cfg, "accepted: %s", text);
    cr_assert_eq(st.code, CAIRN_E_INVALID);
    char expected[PATH_MAX + 256];
    snprintf(expected, sizeof expected, "config: %s:%u: %s", conf_path, line, rest);
    cr_assert_str_eq(st.message, expected);
}

static void expect_set_error(const char *set, const char *expected)
{
    cairn_status st;
    const char *sets[] = {set};
    cairn_config *cfg = cairn_config_load(NULL, sets, 1, &st);
    cr_assert_null(cfg, "accepted --set %s", set);
    cr_assert_eq(st.code, CAIRN_E_INVALID);
    cr_assert_str_eq(st.message, expected);
}

Test(config, defaults_match_the_reference_table)
{
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, NULL, 0, &st);
    cr_assert_not_null(cfg, "%s", st.message);
    cr_assert_eq(st.code, CAIRN_OK);
    cr_assert_eq(cairn_config_int(cfg, "gateway.threads"), 4);
    cr_assert_eq(cairn_config_int(cfg, "registry.map_size_mb"), 4096);
    cr_assert_str_eq(cairn_config_string(cfg, "node.run_dir"), "");

    char host[64];
    uint16_t port;
    cairn_config_address(cfg, "gateway.listen", host, sizeof host, &port);
    cr_assert_str_eq(host, "0.0.0.0");
    cr_assert_eq(port, 8848);

    /* node.data_dir is made absolute against the current directory at load time. */
    char cwd[PATH_MAX], expected[PATH_MAX + 32], run[PATH_MAX + 64];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(expected, sizeof expected, "%s/cairn-data", cwd);
    cr_assert_str_eq(cairn_config_string(cfg, "node.data_dir"), expected);
    cairn_config_run_dir(cfg, run, sizeof run);
    snprintf(expected, sizeof expected, "%s/cairn-data/run", cwd);
    cr_assert_str_eq(run, expected);
    cairn_config_free(cfg);
}

Test(config, file_with_sections_quotes_comments_and_blank_lines)
{
    cairn_status st;
    cairn_config *cfg = load_text("# a node\n"
                                  "\n"
                                  "node.data_dir = /var/lib/cairn\n"
                                  "   log.level=debug   \n"
                                  "; ini-style comment\n"
                                  "[gateway]\n"
                                  "listen = \"127.0.0.1:0\"   # quoted, comment after\n"
                                  "threads\t=\t8\r\n"
                                  "  [ registry ]  \n"
                                  "workers = 2\n"
                                  "[node]\n"
                                  "run_dir = \"/tmp/with space \\\"q\\\"\"\n",
                                  &st);
    cr_assert_not_null(cfg, "%s", st.message);
    cr_assert_str_eq(cairn_config_string(cfg, "node.data_dir"), "/var/lib/cairn");
    cr_assert_eq(cairn_config_int(cfg, "log.level"), 0 /* debug */);
    cr_assert_eq(cairn_config_int(cfg, "gateway.threads"), 8);
    cr_assert_eq(cairn_config_int(cfg, "registry.workers"), 2);
    cr_assert_str_eq(cairn_config_string(cfg, "node.run_dir"), "/tmp/with space \"q\"");
    char host[64];
    uint16_t port = 1;
    cairn_config_address(cfg, "gateway.listen", host, sizeof host, &port);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 0);
    char run[PATH_MAX];
    cairn_config_run_dir(cfg, run, sizeof run);
    cr_assert_str_eq(run, "/tmp/with space \"q\"");
    cairn_config_free(cfg);
}

Test(config, duplicate_keys_last_wins)
{
    cairn_status st;
    cairn_config *cfg = load_text("[gateway]\nthreads = 2\nthreads = 3\n"
                                  "[other]\n[gateway]\nthreads = 5\n",
                                  &st);
    cr_assert_not_null(cfg, "%s", st.message);
    cr_assert_eq(cairn_config_int(cfg, "gateway.threads"), 5);
    cairn_config_free(cfg);
}

Test(config, empty_quoted_string)
{
    cairn_status st;
    cairn_config *cfg = load_text("node.run_dir = \"\"\n", &st);
    cr_assert_not_null(cfg, "%s", st.message);
    cr_assert_str_eq(cairn_config_string(cfg, "node.run_dir"), "");
    cairn_config_free(cfg);
}

Test(config, not_an_integer)
{
    expect_file_error("[gateway]\nthreads = abc\n", 2,
                      "gateway.threads: \"abc\" is not an integer");
    expect_file_error("gateway.threads = 4x\n", 1, "gateway.threads: \"4x\" is not an integer");
    expect_file_error("gateway.threads = \"\"\n", 1, "gateway.threads: \"\" is not an integer");
    expect_file_error("gateway.threads = 99999999999999999999\n", 1,
                      "gateway.threads: \"99999999999999999999\" is not an integer");
}

Test(config, unknown_key)
{
    expect_file_error("\n[gateway]\nthread = 4\n", 3, "unknown key \"gateway.thread\"");
    expect_file_error("nosuch = 1\n", 1, "unknown key \"nosuch\"");
}

Test(config, out_of_range)
{
    expect_file_error("[gateway]\nthreads = 0\n", 2, "gateway.threads: 0 is below the minimum 1");
    expect_file_error("[gateway]\nthreads = 257\n", 2,
                      "gateway.threads: 257 is above the maximum 256");
    expect_file_error("registry.max_batch = -1\n", 1,
                      "registry.max_batch: -1 is below the minimum 1");
}

Test(config, bad_address_and_log_level)
{
    expect_file_error("[gateway]\nlisten = x\n", 2, "gateway.listen: \"x\" is not host:port");
    expect_file_error("[gateway]\nlisten = 127.2.3.4:70000\n", 2,
                      "gateway.listen: \"127.2.3.4:70000\" is not host:port "
                      "(port must be 0..65535)");
    expect_file_error("log.level = loud\n", 1,
                      "log.level: \"loud\" is not a log level (debug, info, warn, error)");
}

Test(config, syntax_errors)
{
    expect_file_error("[gateway]\nthreads 4\n", 2, "expected \"key = value\", got \"threads 4\"");
    expect_file_error("[gateway\n", 1, "malformed section header \"[gateway\"");
    expect_file_error("[]\n", 1, "invalid section name \"[]\"");
    expect_file_error("= 4\n", 1, "missing key before \"=\"");
    expect_file_error("[gateway]\nlisten = \"127.0.0.1:1\n", 2,
                      "gateway.listen: unterminated quoted value");
    expect_file_error("[gateway]\nlisten = \"127.0.0.1:1\" x\n", 2,
                      "gateway.listen: unexpected text after the closing quote");
}

Test(config, missing_file_is_named)
{
    cairn_status st;
    cairn_config *cfg = cairn_config_load("/nonexistent/cairn.conf", NULL, 0, &st);
    cr_assert_null(cfg);
    cr_assert_str_eq(st.message,
                     "config: cannot read \"/nonexistent/cairn.conf\": No such file or directory");
}

Test(config, set_overrides_file_in_order)
{
    write_conf("[gateway]\nthreads = 8\nmax_connections = 100\n");
    const char *sets[] = {"gateway.threads=16", " gateway.threads = 32 ",
                          "gateway.listen=127.0.0.1:0"};
    cairn_status st;
    cairn_config *cfg = cairn_config_load(conf_path, sets, 3, &st);
    cr_assert_not_null(cfg, "%s", st.message);
    cr_assert_eq(cairn_config_int(cfg, "gateway.threads"), 32);
    cr_assert_eq(cairn_config_int(cfg, "gateway.max_connections"), 100);
    uint16_t port = 1;
    cairn_config_address(cfg, "gateway.listen", NULL, 0, &port);
    cr_assert_eq(port, 0);
    cairn_config_free(cfg);
}

Test(config, set_errors_name_the_key)
{
    expect_set_error("gateway.listen=x", "--set gateway.listen: \"x\" is not host:port");
    expect_set_error("gateway.thread=4", "--set: unknown key \"gateway.thread\"");
    expect_set_error("gateway.threads", "--set: expected key=value, got \"gateway.threads\"");
    expect_set_error("gateway.threads=0", "--set gateway.threads: 0 is below the minimum 1");
}

Test(config, a_bad_set_fails_even_when_the_file_is_good)
{
    write_conf("[gateway]\nthreads = 8\n");
    const char *sets[] = {"gateway.threads=abc"};
    cairn_status st;
    cr_assert_null(cairn_config_load(conf_path, sets, 1, &st));
    cr_assert_str_eq(st.message, "--set gateway.threads: \"abc\" is not an integer");
}

static void expect_address(const char *text, const char *host, uint16_t port)
{
    char set[128];
    snprintf(set, sizeof set, "gateway.listen=%s", text);
    const char *sets[] = {set};
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, sets, 1, &st);
    cr_assert_not_null(cfg, "%s: %s", text, st.message);
    char h[256];
    uint16_t p;
    cairn_config_address(cfg, "gateway.listen", h, sizeof h, &p);
    cr_assert_str_eq(h, host);
    cr_assert_eq(p, port);
    cairn_config_free(cfg);
}

Test(config, address_parsing)
{
    expect_address("127.0.0.1:0", "127.0.0.1", 0);
    expect_address("0.0.0.0:65535", "0.0.0.0", 65535);
    expect_address("localhost:8848", "localhost", 8848);
    expect_address("[::1]:9000", "::1", 9000);
    expect_address("[::]:0", "::", 0);
    const char *bad[] = {"127.0.0.1",   ":80",         "host:",      "host:abc", "a:b:c",
                         "::1:80",      "[::1]80",     "host:-1",    "host:+80", "ho st:80",
                         "[]:80",       "host:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char set[128], msg[256];
        snprintf(set, sizeof set, "gateway.listen=%s", bad[i]);
        const char *sets[] = {set};
        cairn_status st;
        cr_assert_null(cairn_config_load(NULL, sets, 1, &st), "accepted %s", bad[i]);
        snprintf(msg, sizeof msg, "--set gateway.listen: \"%s\" is not host:port", bad[i]);
        cr_assert(strncmp(st.message, msg, strlen(msg)) == 0, "%s: %s", bad[i], st.message);
    }
}

Test(config, relative_dirs_become_absolute)
{
    const char *sets[] = {"node.data_dir=rel/data", "node.run_dir=./rel-run"};
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, sets, 2, &st);
    cr_assert_not_null(cfg, "%s", st.message);
    char cwd[PATH_MAX], expected[PATH_MAX + 32];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(expected, sizeof expected, "%s/rel/data", cwd);
    cr_assert_str_eq(cairn_config_string(cfg, "node.data_dir"), expected);
    snprintf(expected, sizeof expected, "%s/rel-run", cwd);
    cr_assert_str_eq(cairn_config_string(cfg, "node.run_dir"), expected);
    cairn_config_free(cfg);
}

Test(config, whole_config_checks)
{
    expect_set_error("node.data_dir=", "config: node.data_dir: must not be empty");

    const char *backoff[] = {"run.restart_backoff_min_ms=500", "run.restart_backoff_max_ms=100"};
    cairn_status st;
    cr_assert_null(cairn_config_load(NULL, backoff, 2, &st));
    cr_assert_str_eq(st.message, "config: run.restart_backoff_max_ms: 100 is below "
                                 "run.restart_backoff_min_ms (500)");

    /* ipc socket paths must fit in sun_path. */
    char set[256] = "node.data_dir=/";
    memset(set + strlen(set), 'd', 120);
    const char *sets[] = {set};
    cr_assert_null(cairn_config_load(NULL, sets, 1, &st));
    cr_assert(strstr(st.message, "node.run_dir") && strstr(st.message, "too long"), "%s",
              st.message);
}

Test(config, reference_table_is_complete_markdown)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cairn_config_print_reference(f);
    fclose(f);
    cr_assert(strncmp(buf, "| key | default | meaning |\n|---|---|---|\n", 41) == 0, "%s", buf);
    size_t rows = 0;
    for (const cairn_config_key *k = cairn_config_reference; k->key; k++) {
        char cell[128];
        snprintf(cell, sizeof cell, "| `%s` |", k->key);
        cr_assert_not_null(strstr(buf, cell), "missing %s", k->key);
        rows++;
    }
    size_t lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, rows + 2);
    cr_assert_not_null(strstr(buf, "| `gateway.threads` | `4` | HTTP threads (libmicrohttpd poll loops). "));
    cr_assert_not_null(strstr(buf, "Range 1..256. |\n| `gateway.max_connections` |"));
    cr_assert_not_null(strstr(buf, "| `node.run_dir` | (empty) |"));
    free(buf);
}

Test(config, booleans_and_doubles)
{
    const char *sets[] = {"health.expire_instances=off", "health.preservation_ratio=0.25"};
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, sets, 2, &st);
    cr_assert_not_null(cfg, "%s", st.message);
    cr_assert_eq(cairn_config_bool(cfg, "health.expire_instances"), false);
    cr_assert_float_eq(cairn_config_double(cfg, "health.preservation_ratio"), 0.25, 1e-12);
    cairn_config_free(cfg);

    const char *yes[] = {"TRUE", "yes", "On", "1"};
    for (size_t i = 0; i < 4; i++) {
        char set[64];
        snprintf(set, sizeof set, "health.expire_instances=%s", yes[i]);
        const char *s1[] = {"health.expire_instances=false", set};
        cfg = cairn_config_load(NULL, s1, 2, &st);
        cr_assert_not_null(cfg, "%s", st.message);
        cr_assert(cairn_config_bool(cfg, "health.expire_instances"), "%s", yes[i]);
        cairn_config_free(cfg);
    }
    expect_set_error("health.expire_instances=maybe",
                     "--set health.expire_instances: \"maybe\" is not a boolean (true/false, "
                     "yes/no, on/off, 1/0)");
    expect_set_error("health.preservation_ratio=half",
                     "--set health.preservation_ratio: \"half\" is not a number");
    expect_set_error("health.preservation_ratio=nan",
                     "--set health.preservation_ratio: \"nan\" is not a number");
    expect_set_error("health.preservation_ratio=1.5",
                     "--set health.preservation_ratio: 1.5 is above the maximum 1");
    expect_set_error("health.preservation_ratio=-0.1",
                     "--set health.preservation_ratio: -0.1 is below the minimum 0");
}

/* Outside the fixture: the abort skips the suite teardown. */
Test(config_misuse, getter_misuse_aborts, .signal = SIGABRT)
{
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, NULL, 0, &st);
    cr_assert_not_null(cfg);
    cairn_config_int(cfg, "gateway.listen"); /* an address, not an int */
}

/* Subscribers size their receive limit for the largest snapshot the key allows. */
Test(config, event_snapshot_cap_fits_the_subscribers_limit)
{
    const cairn_config_key *k = cairn_config_reference;
    while (k->key && strcmp(k->key, "registry.event_snapshot_max_bytes") != 0)
        k++;
    cr_assert_not_null(k->key);
    cr_assert_eq(k->max, CAIRN_EVENT_SNAPSHOT_MAX_BYTES);
}
