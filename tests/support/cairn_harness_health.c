/* Healthcheck helpers for the integration tests (see cairn_harness_health.h). */
#include "cairn_harness_health.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_http.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"
#include "cairn_prom.h"

bool hc_admin_addr(const hc_node *h, char *buf, size_t len)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/healthcheck.admin", h->node->run_dir);
    return it_read_addr_file(path, buf, len);
}

static bool ready(void *arg)
{
    const hc_node *h = arg;
    char addr[64];
    if (!hc_admin_addr(h, addr, sizeof addr))
        return false;
    http_resp r = http_get_addr(addr, "/ready", 1000);
    bool ok = r.status == 200;
    http_resp_free(&r);
    return ok;
}

bool hc_wait_ready(const hc_node *h, int timeout_ms)
{
    return wait_until(ready, (void *)h, timeout_ms);
}

static void start_alone(hc_node *h)
{
    /* A stale address file of the process that died must not count as ready. */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/healthcheck.admin", h->node->run_dir);
    unlink(path);
    const char *sets[64];
    size_t n = 0;
    static char run_set[PATH_MAX + 32];
    snprintf(run_set, sizeof run_set, "node.run_dir=%s", h->alone_run);
    sets[n++] = run_set;
    for (size_t i = 0; h->sets[i] && n + 1 < sizeof sets / sizeof sets[0]; i++)
        sets[n++] = h->sets[i];
    sets[n] = NULL;
    h->alone = role_start_alone("cairn-healthcheck", h->alone_data, sets);
    cr_assert(hc_wait_ready(h, IT_READY_TIMEOUT_MS), "cairn-healthcheck started by hand is not "
                                                     "ready; see %s",
              h->alone->log_path);
}

void hc_node_start(hc_node *h, const char *const *sets)
{
    memset(h, 0, sizeof *h);
    static const char *const base[] = {HC_BASE_SETS, NULL};
    size_t n = 0;
    for (size_t i = 0; base[i]; i++)
        h->sets[n++] = base[i];
    for (size_t i = 0; sets && sets[i]; i++) {
        cr_assert(n + 1 < sizeof h->sets / sizeof h->sets[0], "too many sets");
        h->sets[n++] = sets[i];
    }
    h->sets[n] = NULL;
    it_node_opts opts = {.sets = h->sets};
    h->node = node_start(&opts);
    if (node_role_pid(h->node, "cairn-healthcheck") > 0) {
        cr_assert(hc_wait_ready(h, IT_READY_TIMEOUT_MS), "the node's healthcheck is not ready");
        return;
    }
    /* Not (yet) a role of `cairn run`: run it beside the node. */
    int a = snprintf(h->alone_data, sizeof h->alone_data, "%.*s/hc-data", PATH_MAX - 16,
                     h->node->dir);
    int b = snprintf(h->alone_run, sizeof h->alone_run, "%.*s/hc-run", PATH_MAX - 16,
                     h->node->dir);
    cr_assert(a > 0 && b > 0);
    cr_assert(symlink(h->node->run_dir, h->alone_run) == 0, "symlink %s", h->alone_run);
    start_alone(h);
}

bool hc_node_supervised(const hc_node *h)
{
    return h->alone == NULL;
}

pid_t hc_pid(const hc_node *h)
{
    if (h->alone)
        return it_proc_exited(h->alone) ? 0 : h->alone->pid;
    return node_role_pid(h->node, "cairn-healthcheck");
}

void hc_restart_alone(hc_node *h)
{
    if (!h->alone)
        return;
    cr_assert(it_proc_wait(h->alone, 5000), "the by-hand healthcheck did not die");
    start_alone(h);
}

void hc_node_stop(hc_node *h)
{
    if (h->alone)
        it_proc_stop(h->alone, true);
}

double hc_metric(const hc_node *h, const char *name, const char *label_part)
{
    char addr[64];
    if (!hc_admin_addr(h, addr, sizeof addr))
        return -1;
    http_resp r = http_get_addr(addr, "/metrics", 2000);
    if (r.status != 200) {
        http_resp_free(&r);
        return -1;
    }
    prom_text t;
    char err[256];
    bool ok = prom_parse(r.body, &t, err, sizeof err);
    http_resp_free(&r);
    cr_assert(ok, "healthcheck /metrics does not parse: %s", err);
    /* The exact name (prom_sum matches prefixes: _total vs _total_x would both count). */
    double sum = 0;
    for (size_t i = 0; i < t.count; i++)
        if (strcmp(t.samples[i].name, name) == 0 &&
            (!label_part || strstr(t.samples[i].labels, label_part)))
            sum += t.samples[i].value;
    prom_free(&t);
    return sum;
}

static bool service_snapshot(const it_node *n, const char *ns, const char *grouped,
                             cairn_reply *rep)
{
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_GET);
    rq.namespace_id = strdup(ns);
    rq.service = strdup(grouped);
    cairn_err err = registry_request(n, &rq, rep, 5000);
    cairn_request_free(&rq);
    cr_assert_eq(err, CAIRN_OK, "SERVICE_GET %s %s failed (%d)", ns, grouped, (int)err);
    cr_assert_eq(rep->code, CAIRN_OK, "SERVICE_GET %s %s: %s", ns, grouped,
                 rep->message ? rep->message : "");
    return rep->has_snapshot && rep->snapshot.found;
}

hc_state hc_instance_state(const it_node *n, const char *ns, const char *grouped, const char *ip,
                           int port, bool ephemeral)
{
    hc_state s = {false, false};
    cairn_reply rep;
    if (service_snapshot(n, ns, grouped, &rep)) {
        for (uint32_t i = 0; i < rep.snapshot.instance_count; i++) {
            const cairn_instance *in = &rep.snapshot.instances[i];
            if (strcmp(in->ip, ip) == 0 && in->port == port && in->ephemeral == ephemeral) {
                s.found = true;
                s.healthy = in->healthy;
            }
        }
    }
    cairn_reply_free(&rep);
    return s;
}

uint64_t hc_service_revision(const it_node *n, const char *ns, const char *grouped)
{
    cairn_reply rep;
    uint64_t rev = service_snapshot(n, ns, grouped, &rep) ? rep.snapshot.service.revision : 0;
    cairn_reply_free(&rep);
    return rev;
}

long hc_beat(const it_node *n, const char *ns, const char *svc, const char *ip, int port,
             long *code, long *interval)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    http_resp r = nacos_call(n, "PUT", NS "/instance/beat",
                             Q("namespaceId", ns, "serviceName", svc, "ip", ip, "port", p), NULL,
                             NULL);
    long status = r.status;
    if (status == 200) {
        json_t *j = json_parse_or_fail(r.body);
        if (code)
            *code = (long)jint(j, "code");
        if (interval)
            *interval = (long)jint(j, "clientBeatInterval");
        json_decref(j);
    }
    http_resp_free(&r);
    return status;
}
