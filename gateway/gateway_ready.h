/* Whether the node can serve: the gateway's view of every role, kept by one monitor thread so
 * that no request thread ever waits on another role to answer a readiness question.
 *
 * The node is ready when the registry answers the gateway, the list cache follows the registry's
 * events (when the cache is on), every pusher is connected to the subscription publisher, and
 * every other role of the node (registry, healthcheck, pusher-<i>) answers 200 on its admin
 * /ready (their admin listeners are found through <run_dir>/<role>.admin). The monitor checks
 * every gateway.ready_poll_ms and, the first time the node is ready, declares the gateway role
 * ready (sd_notify READY=1: `cairn run` and systemd then report the node up). Every answer that
 * says UP (operator/metrics, /nacos/v1/console/health/readiness, the admin /ready) reads the
 * monitor's last verdict. The same thread expires the gateway's push subscription table. */
#ifndef GATEWAY_READY_H
#define GATEWAY_READY_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn_error.h"

struct gateway;
typedef struct gateway_ready gateway_ready;

/* Starts the monitor for gw (which must outlive it). */
gateway_ready *gateway_ready_start(struct gateway *gw, cairn_status *st);
void gateway_ready_stop(gateway_ready *r);

/* The last verdict on the node; detail names what is missing (or "ready"). Any thread. */
bool gateway_ready_node(gateway_ready *r, char *detail, size_t detail_len);
/* Nacos' server status for the node: "UP" while ready, "STARTING" until it first was, "DOWN"
 * after that. Any thread. */
const char *gateway_ready_state(gateway_ready *r);
/* The last verdict on the registry alone (the gateway role's own health). Any thread. */
bool gateway_ready_registry(gateway_ready *r, char *detail, size_t detail_len);

#endif
