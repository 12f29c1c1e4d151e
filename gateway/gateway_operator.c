/* Operator endpoints: switches (§4.1, §4.2), metrics (§4.3), servers (§4.4). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "cairn_requests.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "cairn_render.h"
#include "gateway_reply.h"

/* The SwitchDomain defaults of Nacos 1.4.8 (§4.1), in its field order. Cairn's behaviour is set
 * by configuration keys, not switches, so these are fixed. */
static json_t *switches_json(void)
{
    return json_pack(
        "{s:s, s:{}, s:I, s:I, s:I, s:o, s:b, s:b, s:b, s:b, s:b, s:i,"
        " s:{s:i, s:i, s:o}, s:{s:i, s:i, s:o}, s:{s:i, s:i, s:o}, s:[], s:I, s:I, s:b, s:b, s:b,"
        " s:{}, s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:[]}",
        "name", "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00", "adWeightMap",
        "defaultPushCacheMillis", (json_int_t)10000, "clientBeatInterval",
        (json_int_t)CAIRN_DEFAULT_BEAT_INTERVAL_MS, "defaultCacheMillis",
        (json_int_t)CAIRN_LIST_CACHE_MILLIS, "distroThreshold", cairn_json_float(0.7f),
        "healthCheckEnabled", 1, "autoChangeHealthCheckEnabled", 1, "distroEnabled", 1,
        "enableStandalone", 1, "pushEnabled", 1, "checkTimes", 3, "httpHealthParams", "max", 5000,
        "min", 500, "factor", cairn_json_float(0.85f), "tcpHealthParams", "max", 5000, "min",
        1000, "factor", cairn_json_float(0.75f), "mysqlHealthParams", "max", 3000, "min", 2000,
        "factor", cairn_json_float(0.65f), "incrementalList",
        "serverStatusSynchronizationPeriodMillis", (json_int_t)2000,
        "serviceStatusSynchronizationPeriodMillis", (json_int_t)5000, "disableAddIP", 0,
        "sendBeatOnly", 0, "lightBeatEnabled", 1, "limitedUrlMap", "distroServerExpiredMillis",
        (json_int_t)10000, "pushGoVersion", "0.1.0", "pushJavaVersion", "0.1.0",
        "pushPythonVersion", "0.4.3", "pushCVersion", "1.0.12", "pushCSharpVersion", "0.9.0",
        "enableAuthentication", 0, "defaultInstanceEphemeral", 1, "healthCheckWhiteList");
}

void gateway_operator_switches(gateway *gw, gateway_request *req, gateway_response *resp)
{
    (void)gw, (void)req;
    gateway_reply_json(resp, switches_json());
}

void gateway_operator_switches_put(gateway *gw, gateway_request *req, gateway_response *resp)
{
    (void)gw;
    cairn_status st;
    cairn_status_clear(&st);
    const char *entry = gateway_param_required(req->params, "entry", &st);
    if (entry && gateway_param_required(req->params, "value", &st))
        cairn_fail(&st, CAIRN_E_INVALID,
                   "switch %s cannot be changed at run time in Cairn; set the matching "
                   "configuration key",
                   entry);
    gateway_reply_error(resp, &st);
}

static double monotonic_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The share of all CPUs this process used since the previous sample (like Java's
 * getProcessCpuLoad). Samples are at least a second apart so that back-to-back calls do not
 * measure noise. */
static float process_cpu(gateway *gw)
{
    double wall = monotonic_s(CLOCK_MONOTONIC), proc = monotonic_s(CLOCK_PROCESS_CPUTIME_ID);
    pthread_mutex_lock(&gw->cpu_lock);
    double dw = wall - gw->cpu_wall_s, dp = proc - gw->cpu_proc_s;
    if (dw >= 1.0) {
        gw->cpu_wall_s = wall;
        gw->cpu_proc_s = proc;
    }
    pthread_mutex_unlock(&gw->cpu_lock);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    if (dw <= 0.0)
        return 0.0f;
    double v = dp / dw / (double)cpus;
    return (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
}

/* Used share of physical memory: 1 - free/total, as Java's OperatingSystemMXBean reports it. */
static float memory_used(void)
{
    struct sysinfo si;
    if (sysinfo(&si) != 0 || si.totalram == 0)
        return 0.0f;
    return (float)(1.0 - (double)si.freeram / (double)si.totalram);
}

static void render_metrics(gateway *gw, const cairn_request *rq, cairn_err rc,
                           cairn_reply *rep, cairn_status *st, void *data, gateway_response *resp)
{
    (void)rq, (void)data;
    if (rc != CAIRN_OK) {
        gateway_reply_error(resp, st);
        return;
    }
    double load = 0.0;
    if (getloadavg(&load, 1) != 1)
        load = 0.0;
    /* Standalone: this node is responsible for everything. */
    gateway_reply_json(
        resp, json_pack("{s:s, s:I, s:I, s:i, s:I, s:I, s:o, s:o, s:o}", "status",
                        gateway_ready_state(gw->ready),
                        "serviceCount", (json_int_t)rep->service_count, "instanceCount",
                        (json_int_t)rep->instance_count, "raftNotifyTaskCount", 0,
                        "responsibleServiceCount", (json_int_t)rep->service_count,
                        "responsibleInstanceCount", (json_int_t)rep->instance_count, "cpu",
                        cairn_json_float(process_cpu(gw)), "load",
                        cairn_json_float((float)load), "mem", cairn_json_float(memory_used())));
}

void gateway_operator_metrics(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_request rq;
    cairn_status st;
    cairn_request_stats(&rq, &st); /* allocates nothing: cannot fail */
    gateway_ask_registry(gw, req, resp, &rq, render_metrics, NULL, NULL);
}

void gateway_operator_servers(gateway *gw, gateway_request *req, gateway_response *resp)
{
    if (gw->members) {
        gateway_cluster_servers(gw, req, resp);
        return;
    }
    /* A wildcard listener is reached over loopback. */
    const char *ip = gw->listen_host;
    if (!*ip || strcmp(ip, "0.0.0.0") == 0)
        ip = "127.0.0.1";
    else if (strcmp(ip, "::") == 0)
        ip = "::1";
    char address[300];
    snprintf(address, sizeof address, "%s:%u", ip, gw->listen_port);
    json_t *member = json_pack(
        "{s:s, s:i, s:s, s:{s:s, s:s, s:s, s:s, s:I}, s:s, s:i}", "ip", ip, "port",
        (int)gw->listen_port, "state", "UP", "extendInfo", "version", CAIRN_VERSION, "site",
        "unknow", "adWeight", "0", "weight", "1", "lastRefreshTime", (json_int_t)gateway_wall_ms(),
        "address", address, "failAccessCnt", 0);
    gateway_reply_json(resp, json_pack("{s:[o]}", "servers", member));
}
