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
#include "cairn_requests.h"

bool hc_admin_addr(const hc_node *h, char *buf, size_t len)
{
    return node_admin_addr(h->node, "healthcheck", buf, len);
}

bool hc_wait_ready(const hc_node *h, int timeout_ms)
{
    return node_wait_admin_ready(h->node, "healthcheck", timeout_ms);
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
    cr_assert_gt(node_role_pid(h->node, "cairn-healthcheck"), 0,
                 "cairn run did not start cairn-healthcheck");
    cr_assert(hc_wait_ready(h, IT_READY_TIMEOUT_MS), "the node's healthcheck is not ready");
}

pid_t hc_pid(const hc_node *h)
{
    return node_role_pid(h->node, "cairn-healthcheck");
}

double hc_metric(const hc_node *h, const char *name, const char *label_part)
{
    return node_metric(h->node, "healthcheck", name, label_part);
}

static bool service_snapshot(const it_node *n, const char *ns, const char *grouped,
                             cairn_reply *rep)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_service_get(&rq, ns, grouped, &st), CAIRN_OK, "%s", st.message);
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
    } else {
        cr_log_info("beat of %s %s:%d answered %ld: %s", svc, ip, port, status,
                    r.body ? r.body : "");
    }
    http_resp_free(&r);
    return status;
}
