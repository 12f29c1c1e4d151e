/* Prometheus HTTP service discovery (`http_sd_configs`): registered instances as scrape targets,
 * at the paths Nacos 2.x serves them (its PrometheusController):
 *
 *   GET /nacos/prometheus                                       every namespace
 *   GET /nacos/prometheus/namespaceId/{namespaceId}             one namespace
 *   GET /nacos/prometheus/namespaceId/{namespaceId}/service/{service}
 *
 * each with or without a trailing slash. The path parameters are URL path segments (decoded by
 * the HTTP layer); an empty segment or any other shape is 404 `no such path: <path>`. A
 * namespace longer than CAIRN_MAX_NAMESPACE_LEN, a service longer than CAIRN_MAX_SERVICE_LEN
 * or a grouped name that breaks the group@@name format is 400 with the model's message.
 *
 * The answer is 200 application/json, the http_sd document: an array of target groups
 * `{"targets":["<ip>:<port>"],"labels":{...}}`, one per instance (an IPv6 address in brackets),
 * in store order (namespace, grouped service name, then ephemeral before persistent, cluster, ip,
 * port). An unknown namespace or service is `[]`.
 *
 * Which instances: all of them, healthy or not, enabled or not, ephemeral and persistent, as
 * Nacos' listAllInstances gives them. Health is not a label: a label that flips would start a
 * new series in Prometheus each time; an unhealthy instance shows as `up == 0` instead.
 *
 * {service}: a plain name selects that name in every group, as Nacos compares it with each
 * service's name without its group; `group@@name` (a Cairn extension: in Nacos it matches
 * nothing) selects one service.
 *
 * Labels of a target, every value a string:
 *   __meta_clusterName   the cluster (the one label Nacos emits, so its relabel rules keep
 *                        working; as a __meta_ label Prometheus drops it after relabelling)
 *   namespace, group, service (without its group), cluster
 *   metadata_<key>       one per instance metadata entry; see gateway_prometheus_label_name.
 *                        The prefix keeps metadata from posing as the labels above, as job or
 *                        instance, or as a reserved __ label (__address__, __scheme__,
 *                        __metrics_path__), which would let a registrant redirect the scrape.
 *
 * Bounds: the registry is read a page at a time (SNAPSHOT_PAGE; for a plain {service},
 * SERVICE_LIST then SERVICE_GET per group), each call bounded by gateway.registry_timeout_ms
 * (503 with the message when the registry does not answer, like every endpoint). The body may
 * not exceed gateway.prometheus_max_bytes: past it the answer is 400 naming the key, never a
 * truncated list. Memory held: the body so far plus one page.
 *
 * The handler (gateway_prometheus_sd, in gateway_handlers.h) runs on an HTTP worker thread and
 * blocks on the registry calls. The functions below are pure, for any thread. */
#ifndef GATEWAY_PROMETHEUS_H
#define GATEWAY_PROMETHEUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn_model.h"

#define GATEWAY_PROMETHEUS_ROOT "/nacos/prometheus"
#define GATEWAY_PROMETHEUS_METADATA_PREFIX "metadata_"

/* The label name of metadata key: "metadata_" followed by the key with every character outside
 * [a-zA-Z0-9_] replaced by one '_' (a multi-byte UTF-8 character counts once), so it matches
 * Prometheus' [a-zA-Z_][a-zA-Z0-9_]*. *sanitized tells whether a character was replaced. Returns
 * a malloc'd string, or NULL for an empty key (no label) or when out of memory. */
char *gateway_prometheus_label_name(const char *key, bool *sanitized);

/* The target group of one instance of service grouped (group@@name) in namespace ns, as
 * described above. Two metadata keys that give the same label name (`a.b` and `a_b`): a key
 * that needed no replacement wins, else the first in byte order. NULL when out of memory. */
json_t *gateway_prometheus_target(const char *ns, const char *grouped, const cairn_instance *in);

#endif
