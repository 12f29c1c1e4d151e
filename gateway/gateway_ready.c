/* The node readiness monitor (gateway_ready.h). */
#include "gateway_ready.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_clock.h"
#include "cairn_http_get.h"
#include "cairn_requests.h"
#include "cairn_log.h"
#include "cairn_node_roles.h"
#include "cairn_role_probe.h"
#include "gateway.h"
#include "gateway_members.h"

#define ADMIN_TIMEOUT_MS 500

struct gateway_ready {
    gateway *gw;
    int64_t poll_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stopping;
    /* the last verdicts, under mu */
    bool node_ok, registry_ok, ever_ready;
    char node_detail[256], registry_detail[256];
};

/* "registry" answers 200 on its admin /ready; else a reason in why. */
static bool role_ready(const char *run_dir, const char *name, char *why, size_t why_len)
{
    char address[128], dial[128];
    if (!cairn_role_admin_address(run_dir, name, address, sizeof address, dial, sizeof dial, why,
                                  why_len))
        return false;
    cairn_http_response resp;
    char err[160];
    if (cairn_http_get(dial, "/ready", ADMIN_TIMEOUT_MS, &resp, err, sizeof err) != 0) {
        snprintf(why, why_len, "%s unreachable: %s", name, err);
        return false;
    }
    bool ok = resp.status == 200;
    if (!ok)
        snprintf(why, why_len, "%s %.*s", name, (int)strcspn(resp.body, "\n"), resp.body);
    cairn_http_response_free(&resp);
    return ok;
}

static bool registry_answers(gateway *gw, char *why, size_t why_len)
{
    cairn_status st;
    cairn_request rq;
    cairn_request_stats(&rq, &st); /* allocates nothing: cannot fail */
    cairn_reply rep;
    bool ok = gateway_call_registry(gw, &rq, &rep, &st) == CAIRN_OK;
    cairn_reply_free(&rep);
    cairn_request_free(&rq);
    snprintf(why, why_len, "%.200s", ok ? "registry reachable" : st.message);
    return ok;
}

/* Every other role process of the node (the shared role table, as `cairn run` starts them), in
 * start order; the first one not ready is the reason. */
static bool roles_ready(gateway *gw, char *why, size_t why_len)
{
    size_t count = 0;
    cairn_node_role_instance *procs = cairn_node_role_instances(gw->role->config, &count);
    if (!procs) {
        snprintf(why, why_len, "out of memory listing the node's roles");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < count; i++)
        if (strcmp(procs[i].name, gw->role->name) != 0)
            ok = role_ready(gw->role->run_dir, procs[i].name, why, why_len);
    free(procs);
    if (!ok)
        return false;
    if (gw->push && gateway_push_connected(gw->push) < gw->pushers) {
        snprintf(why, why_len, "%u of %u pushers connected to the gateway",
                 gateway_push_connected(gw->push), gw->pushers);
        return false;
    }
    if (!gateway_members_serving(gw->members)) { /* the gateway answers reads 503 until then */
        snprintf(why, why_len, "the cluster view does not say this member is READY yet");
        return false;
    }
    if (gw->list_cache && !cairn_body_cache_live(gw->list_cache)) {
        snprintf(why, why_len, "the gateway is not following the registry's change events");
        return false;
    }
    return true;
}

static void check_once(gateway_ready *r)
{
    gateway *gw = r->gw;
    char reg_why[256], node_why[256];
    bool reg = registry_answers(gw, reg_why, sizeof reg_why);
    bool node = reg && roles_ready(gw, node_why, sizeof node_why);
    if (!reg)
        snprintf(node_why, sizeof node_why, "%s", reg_why);
    pthread_mutex_lock(&r->mu);
    bool was = r->node_ok;
    r->registry_ok = reg;
    r->node_ok = node;
    r->ever_ready = r->ever_ready || node;
    snprintf(r->registry_detail, sizeof r->registry_detail, "%s", reg_why);
    snprintf(r->node_detail, sizeof r->node_detail, "%s", node ? "ready" : node_why);
    pthread_mutex_unlock(&r->mu);
    if (node && !was)
        log_info("node ready: every role is up and connected");
    else if (!node && was)
        log_warn("node not ready: %s", node_why);
    if (node)
        cairn_role_ready(gw->role); /* the first time: sd_notify READY=1 */
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *monitor_main(void *arg)
{
    gateway_ready *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        pthread_mutex_unlock(&r->mu);
        check_once(r);
        if (r->gw->push) {
            gateway_push_expire(r->gw->push, wall_ms());
            gateway_push_report(r->gw->push, gateway_now_ms()); /* what is left in use */
        }
        pthread_mutex_lock(&r->mu);
        if (r->stopping)
            break;
        struct timespec until = cairn_monotonic_after_ms(r->poll_ms);
        pthread_cond_timedwait(&r->wake, &r->mu, &until);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static bool read_verdict(gateway_ready *r, bool node, char *detail, size_t detail_len)
{
    pthread_mutex_lock(&r->mu);
    bool ok = node ? r->node_ok : r->registry_ok;
    snprintf(detail, detail_len, "%s", node ? r->node_detail : r->registry_detail);
    pthread_mutex_unlock(&r->mu);
    return ok;
}

bool gateway_ready_node(gateway_ready *r, char *detail, size_t detail_len)
{
    return read_verdict(r, true, detail, detail_len);
}

const char *gateway_ready_state(gateway_ready *r)
{
    pthread_mutex_lock(&r->mu);
    const char *s = r->node_ok ? "UP" : r->ever_ready ? "DOWN" : "STARTING";
    pthread_mutex_unlock(&r->mu);
    return s;
}

bool gateway_ready_registry(gateway_ready *r, char *detail, size_t detail_len)
{
    return read_verdict(r, false, detail, detail_len);
}

gateway_ready *gateway_ready_start(gateway *gw, cairn_status *st)
{
    gateway_ready *r = calloc(1, sizeof *r);
    if (!r) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    r->gw = gw;
    r->poll_ms = cairn_config_int(gw->role->config, "gateway.ready_poll_ms");
    snprintf(r->node_detail, sizeof r->node_detail, "starting");
    snprintf(r->registry_detail, sizeof r->registry_detail, "starting");
    pthread_mutex_init(&r->mu, NULL);
    cairn_cond_init_monotonic(&r->wake);
    int rc = pthread_create(&r->thread, NULL, monitor_main, r);
    if (rc) {
        cairn_fail(st, CAIRN_E_INTERNAL, "start the readiness monitor: %s", strerror(rc));
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return NULL;
    }
    return r;
}

void gateway_ready_stop(gateway_ready *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
