/* The Nacos API handlers, one per route (gateway_router.c holds the table). Each reads
 * req->params (serviceName already rewritten to its grouped form for /nacos/v1/ns routes),
 * validates everything before calling another role, and fills resp. */
#ifndef GATEWAY_HANDLERS_H
#define GATEWAY_HANDLERS_H

#include "gateway.h"
#include "gateway_http.h"

typedef void (*gateway_handler_fn)(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_instance.c: §2.1, §2.2, §2.3, §2.4, §2.6 */
void gateway_instance_register(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_instance_deregister(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_instance_update(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_instance_patch(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_instance_detail(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_metadata_batch.c: §2.8 */
void gateway_instance_metadata_put(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_instance_metadata_delete(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_list.c: §2.5 */
void gateway_instance_list(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_beat.c: §2.7 */
void gateway_instance_beat(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_service.c: §3.1 – §3.5 */
void gateway_service_create(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_service_remove(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_service_detail(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_service_update(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_service_list(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_cluster.c: §6 PUT /cluster */
void gateway_cluster_update(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_operator.c: §4.1 – §4.4 */
void gateway_operator_switches(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_operator_switches_put(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_operator_metrics(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_operator_servers(gateway *gw, gateway_request *req, gateway_response *resp);
/* operator/servers in a cluster (gateway_servers.c). */
void gateway_cluster_servers(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_catalog.c: the console's data, in Nacos' console API shapes */
void gateway_catalog_services(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_catalog_instances(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_console_namespaces(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_roles.c: the node's roles, their health and key metrics (a Cairn endpoint) */
void gateway_console_roles(gateway *gw, gateway_request *req, gateway_response *resp);

/* gateway_health.c: §5 /health/server, /health/instance, /health/checkers and the console
 * liveness/readiness probes */
void gateway_health_server(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_health_instance(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_health_checkers(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_health_liveness(gateway *gw, gateway_request *req, gateway_response *resp);
void gateway_health_readiness(gateway *gw, gateway_request *req, gateway_response *resp);
/* gateway_prometheus.c: Prometheus HTTP service discovery below /nacos/prometheus (the contract
 * is gateway_prometheus.h) */
void gateway_prometheus_sd(gateway *gw, gateway_request *req, gateway_response *resp);

/* The role's health callback (cairn_health_fn): the registry answers a STATS call; cached 1 s. */
bool gateway_health_check(void *arg, char *detail, size_t detail_len);
/* The admin /ready callback: the node readiness monitor's verdict. */
bool gateway_ready_check(void *arg, char *detail, size_t detail_len);

#endif
