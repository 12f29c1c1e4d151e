/* Admin listeners (design §6): Prometheus metrics of the gateway and the registry, /health,
 * /ready, and `cairn status`. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"
#include "cairn_prom_text.h"

TestSuite(metrics, .fini = it_teardown, .timeout = 120);

static cairn_prom_text scrape(const char *hostport, const char *who)
{
    http_resp r = http_get_addr(hostport, "/metrics", 5000);
    cr_assert_eq(r.status, 200, "%s /metrics at %s: %ld %s", who, hostport, r.status, r.error);
    cr_expect(r.content_type && strncmp(r.content_type, "text/plain", 10) == 0,
              "%s /metrics content type \"%s\"", who, r.content_type ? r.content_type : "");
    cairn_prom_text t;
    char err[512];
    bool ok = cairn_prom_parse(r.body, r.body_len, &t, err, sizeof err);
    cr_assert(ok, "%s /metrics is not Prometheus text: %s", who, err);
    cr_expect(t.type_lines > 0, "%s /metrics has no # TYPE lines", who);
    http_resp_free(&r);
    return t;
}

static void some_traffic(const it_node *n)
{
    for (int i = 1; i <= 3; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", i);
        nacos_write_ok(n, "POST", NS "/instance",
                       Q("serviceName", "met", "ip", ip, "port", "1", "ephemeral",
                         i == 3 ? "false" : "true"));
    }
    json_t *l = nacos_list(n, Q("serviceName", "met"));
    json_decref(l);
    nacos_expect_error(n, "POST", NS "/instance", Q("serviceName", "met", "ip", "127.0.0.9"), NULL,
                       400, "Param 'port' is required.", false);
}

IT_TEST(metrics, gateway_metrics)
{
    it_node *n = node_start(NULL);
    some_traffic(n);
    cairn_prom_text t = scrape(n->gateway_admin, "gateway");
    size_t c200 = 0, c400 = 0;
    double ok =
        cairn_prom_sum(&t, "cairn_gateway_", NULL, "requests_total", "status=\"200\"", &c200);
    double bad =
        cairn_prom_sum(&t, "cairn_gateway_", NULL, "requests_total", "status=\"400\"", &c400);
    cr_expect(c200 > 0 && ok >= 4, "requests_total{status=\"200\"} sums to %g (want >= 4)", ok);
    cr_expect(c400 > 0 && bad >= 1, "requests_total{status=\"400\"} sums to %g (want >= 1)", bad);
    const cairn_prom_sample *s =
        cairn_prom_match(&t, "cairn_gateway_", NULL, "requests_total", "endpoint=");
    cr_expect(s != NULL, "requests_total has no endpoint label");
    size_t n_inst = 0;
    cairn_prom_sum(&t, "cairn_gateway_", NULL, "requests_total", "instance", &n_inst);
    cr_expect(n_inst > 0, "no requests_total sample names the instance endpoint");

    size_t n_inf = 0;
    double inf = cairn_prom_sum(&t, "cairn_gateway_", NULL, "_bucket", "le=\"+Inf\"", &n_inf);
    cr_expect(n_inf > 0 && inf >= 5, "latency histogram +Inf buckets sum to %g (want >= 5)", inf);
    size_t buckets = 0;
    cairn_prom_sum(&t, "cairn_gateway_", NULL, "_bucket", NULL, &buckets);
    cr_expect(buckets > 5, "latency histogram has only %zu buckets", buckets);
    cr_expect(cairn_prom_match(&t, "cairn_gateway_", NULL, "_count", NULL) != NULL);
    cr_expect(cairn_prom_match(&t, "cairn_gateway_", NULL, "_sum", NULL) != NULL);
    cairn_prom_free(&t);
}

IT_TEST(metrics, registry_metrics)
{
    it_node *n = node_start(NULL);
    some_traffic(n);
    cairn_prom_text t = scrape(n->registry_admin, "registry");
    size_t nw = 0;
    double writes = cairn_prom_sum(&t, "cairn_registry_", "write", "_total", NULL, &nw);
    cr_expect(nw > 0 && writes >= 3, "registry write counters sum to %g (want >= 3)", writes);
    const cairn_prom_sample *batch =
        cairn_prom_match(&t, "cairn_registry_", "batch", "_bucket", "le=\"+Inf\"");
    cr_expect(batch != NULL && batch->value >= 1, "no write batch histogram with observations");
    const cairn_prom_sample *commit =
        cairn_prom_match(&t, "cairn_registry_", "commit", "_count", NULL);
    cr_expect(commit != NULL && commit->value >= 1, "no commit time histogram with observations");
    const cairn_prom_sample *commit_sum =
        cairn_prom_match(&t, "cairn_registry_", "commit", "_sum", NULL);
    cr_expect(commit_sum != NULL && commit_sum->value > 0, "commit time sum is not > 0");
    bool lmdb_size = false;
    for (size_t i = 0; i < t.count; i++) {
        const cairn_prom_sample *x = &t.samples[i];
        if (strncmp(x->name, "cairn_registry_", 15) == 0 && strstr(x->name, "lmdb") &&
            !strstr(x->name, "map") && x->value > 0)
            lmdb_size = true;
    }
    cr_expect(lmdb_size, "no LMDB size gauge > 0 (other than the map size)");
    cairn_prom_free(&t);
}

IT_TEST(metrics, health_and_ready)
{
    it_node *n = node_start(NULL);
    const char *addrs[] = {n->gateway_admin, n->registry_admin};
    for (int i = 0; i < 2; i++) {
        http_resp r = http_get_addr(addrs[i], "/health", 5000);
        cr_expect_eq(r.status, 200, "/health at %s: %ld \"%s\"", addrs[i], r.status, r.body);
        http_resp_free(&r);
        r = http_get_addr(addrs[i], "/ready", 5000);
        cr_expect_eq(r.status, 200, "/ready at %s: %ld \"%s\"", addrs[i], r.status, r.body);
        http_resp_free(&r);
        r = http_get_addr(addrs[i], "/nosuch", 5000);
        cr_expect_eq(r.status, 404, "unknown admin path at %s: %ld", addrs[i], r.status);
        http_resp_free(&r);
    }
}

IT_TEST(metrics, cairn_status_lists_roles)
{
    it_node *n = node_start(NULL);
    some_traffic(n);
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/cairn", CAIRN_BIN_DIR);
    char *out = NULL, *err = NULL;
    int code = it_run(ARGS(bin, "status", "--data-dir", n->data_dir), 10000, &out, &err);
    cr_expect_eq(code, 0, "cairn status exit %d; stdout:\n%s\nstderr:\n%s", code, out, err);
    cr_expect(strstr(out, "gateway") != NULL, "cairn status does not list the gateway:\n%s", out);
    cr_expect(strstr(out, "registry") != NULL, "cairn status does not list the registry:\n%s",
              out);
    cr_expect(strstr(out, n->gateway_admin) != NULL && strstr(out, n->registry_admin) != NULL,
              "cairn status does not show the admin addresses (%s, %s):\n%s", n->gateway_admin,
              n->registry_admin, out);
    free(out);
    free(err);
}

IT_TEST(metrics, cairn_status_fails_when_a_role_is_down)
{
    /* Only the gateway runs: status must say so with a non-zero exit. */
    char data[PATH_MAX], gw[64];
    gateway_start_alone(data, sizeof data, gw, sizeof gw);
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/cairn", CAIRN_BIN_DIR);
    char *out = NULL, *err = NULL;
    int code = it_run(ARGS(bin, "status", "--data-dir", data), 10000, &out, &err);
    cr_expect_neq(code, 0, "cairn status exit 0 with the registry down:\n%s", out);
    cr_expect(code != -2, "cairn status hung");
    cr_expect(strstr(out, "registry") != NULL, "status does not mention the registry:\n%s", out);
    free(out);
    free(err);
}

/* One role's line of `cairn status`: ROLE STATE PID UPTIME RESTARTS ADMIN DETAIL. */
typedef struct status_row {
    const it_node *n;
    const char *role;
    char state[16], pid[24], uptime[24], restarts[24];
    char out[4096]; /* the whole output, for messages */
} status_row;

static bool read_status_row(status_row *row)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/cairn", CAIRN_BIN_DIR);
    char *out = NULL, *err = NULL;
    it_run(ARGS(bin, "status", "--data-dir", row->n->data_dir), 10000, &out, &err);
    snprintf(row->out, sizeof row->out, "%s", out ? out : "");
    free(out);
    free(err);
    char lines[sizeof row->out];
    snprintf(lines, sizeof lines, "%s", row->out);
    for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        if (sscanf(line, "%63s %15s %23s %23s %23s", name, row->state, row->pid, row->uptime,
                   row->restarts) == 5 &&
            strcmp(name, row->role) == 0)
            return true;
    }
    return false;
}

typedef struct restart_wait {
    status_row row;
    long pid;
} restart_wait;

/* Whether status shows the role restarted once, in process pid. */
static bool status_shows_restart(void *arg)
{
    restart_wait *w = arg;
    return read_status_row(&w->row) && atol(w->row.pid) == w->pid &&
           strcmp(w->row.restarts, "1") == 0 && strcmp(w->row.state, "ready") == 0;
}

IT_TEST(metrics, cairn_status_shows_pid_uptime_and_restarts)
{
    it_node *n = node_start(NULL);
    status_row row = {.n = n, .role = "registry"};
    cr_assert(read_status_row(&row), "no registry line in cairn status");
    pid_t reg = node_role_pid(n, "cairn-registry");
    cr_expect_eq(atol(row.pid), (long)reg, "registry pid %s, running %ld", row.pid, (long)reg);
    cr_expect_str_eq(row.restarts, "0");
    cr_expect(strchr(row.uptime, 's') || strchr(row.uptime, 'm'), "uptime \"%s\"", row.uptime);
    status_row gw = {.n = n, .role = "gateway"};
    cr_assert(read_status_row(&gw), "no gateway line in cairn status");
    cr_expect_eq(atol(gw.pid), (long)node_role_pid(n, "cairn-gateway"));

    cr_assert_eq(kill(reg, SIGKILL), 0);
    pid_t again = node_wait_role_restart(n, "cairn-registry", reg, IT_READY_TIMEOUT_MS);
    cr_assert_neq(again, 0, "the registry was not restarted");
    restart_wait w = {.row = {.n = n, .role = "registry"}, .pid = (long)again};
    cr_assert(wait_until(status_shows_restart, &w, IT_READY_TIMEOUT_MS),
              "cairn status does not show the restart (want pid %ld, restarts 1):\n%s",
              (long)again, w.row.out);
    cr_assert(read_status_row(&gw));
    cr_expect_str_eq(gw.restarts, "0", "only the registry restarted");
    cr_assert(node_wait_registry_ready(n, IT_READY_TIMEOUT_MS));
    cr_expect_eq(node_metric(n, "registry", "cairn_registry_restarts", NULL), 1);
    cr_expect_eq(node_metric(n, "gateway", "cairn_gateway_restarts", NULL), 0);
}
