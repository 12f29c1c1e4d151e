/* Integration helpers for the healthcheck role: a node whose healthcheck runs with the test's
 * (shrunk) timings, the healthcheck's admin address and metrics, and the exact stored health of
 * an instance as the registry has it (no protect-threshold rewriting as in /instance/list).
 * The healthcheck is the one `cairn run` starts and supervises. */
#ifndef CAIRN_HARNESS_HEALTH_H
#define CAIRN_HARNESS_HEALTH_H

#include <stdbool.h>
#include <sys/types.h>

#include "cairn_harness.h"

/* The --set every healthcheck test starts from (before its own): loopback, a free admin port,
 * probes only to loopback. */
#define HC_BASE_SETS                                                                          \
    "healthcheck.admin_listen=127.0.0.1:0", "health.probe_networks=127.0.0.0/8"

typedef struct hc_node {
    it_node *node;
    const char *sets[48]; /* HC_BASE_SETS + the test's, NULL-terminated */
} hc_node;

/* Starts a node with HC_BASE_SETS + sets and makes sure a healthcheck serves it, ready. */
void hc_node_start(hc_node *h, const char *const *sets);
/* pid of the running healthcheck, 0 when none. */
pid_t hc_pid(const hc_node *h);
/* Waits until a healthcheck answers /ready (re-reading its admin file). */
bool hc_wait_ready(const hc_node *h, int timeout_ms);

/* The healthcheck's admin host:port; false when the file is missing. */
bool hc_admin_addr(const hc_node *h, char *buf, size_t len);
/* Sum of the healthcheck's samples named name whose labels contain label_part (NULL: any);
 * -1 when /metrics could not be read. */
double hc_metric(const hc_node *h, const char *name, const char *label_part);

/* The stored state of an instance, through the registry's SERVICE_GET. */
typedef struct hc_state {
    bool found;
    bool healthy;
} hc_state;
hc_state hc_instance_state(const it_node *n, const char *ns, const char *grouped, const char *ip,
                           int port, bool ephemeral);
/* The service's revision (0 when missing). */
uint64_t hc_service_revision(const it_node *n, const char *ns, const char *grouped);

/* PUT /instance/beat without a body (ip, port as parameters); returns the HTTP status and, when
 * 200, the beat code and clientBeatInterval (either pointer may be NULL). */
long hc_beat(const it_node *n, const char *ns, const char *svc, const char *ip, int port,
             long *code, long *interval);

#endif
