/* The role table of a node and its expansion into processes. */
#include "cairn_node_roles.h"

#include <stdio.h>
#include <stdlib.h>

#include "cairn_config.h"

/* Start order: the registry first, since every other role asks it for data; the gateway last,
 * so that clients reach a node whose beat and push roles are already up. */
const cairn_node_role cairn_node_roles[] = {
    {"registry",
     "cairn-registry",
     NULL,
     NULL,
     {{"services", "cairn_registry_services"},
      {"instances", "cairn_registry_instances"},
      {"writes", "cairn_registry_writes_total"},
      {"requests", "cairn_registry_rpc_requests_total"}}, NULL},
    {"healthcheck",
     "cairn-healthcheck",
     NULL,
     NULL,
     {{"tracked", "cairn_healthcheck_instances_tracked"},
      {"beats", "cairn_healthcheck_beats_total"},
      {"flips", "cairn_healthcheck_flips_total"},
      {"deletions", "cairn_healthcheck_deletions_total"}}, NULL},
    {"pusher",
     "cairn-pusher",
     "pusher.count",
     "pusher.index",
     {{"subscribers", "cairn_pusher_subscribers"},
      {"sent", "cairn_pusher_pushes_sent_total"},
      {"acked", "cairn_pusher_pushes_acked_total"},
      {"failed", "cairn_pusher_pushes_failed_total"}}, NULL},
    /* cluster nodes only (cluster.members set): membership and the peer channel */
    {"replicator",
     "cairn-replicator",
     NULL,
     NULL,
     {{"view", "cairn_replicator_view_version"},
      {"view_changes", "cairn_replicator_view_changes_total"},
      {"auth_failures", "cairn_replicator_auth_failures_total"}},
     "cluster.members"},
    {"gateway",
     "cairn-gateway",
     NULL,
     NULL,
     {{"requests", "cairn_gateway_requests_total"},
      {"registry_unavailable", "cairn_gateway_registry_unavailable_total"}}, NULL},
    /* after the gateway: by default it listens on the gateway's port + 1000 */
    {"grpc",
     "cairn-grpc",
     NULL,
     NULL,
     {{"connections", "cairn_grpc_connections"},
      {"requests", "cairn_grpc_requests_total"},
      {"pushes", "cairn_grpc_pushes_sent_total"},
      {"acked", "cairn_grpc_pushes_acked_total"}},
     NULL},
};

const size_t cairn_node_role_count = sizeof cairn_node_roles / sizeof cairn_node_roles[0];

cairn_node_role_instance *cairn_node_role_instances(const cairn_config *cfg, size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < cairn_node_role_count; i++)
        total += cairn_node_roles[i].count_key ? (size_t)cairn_config_int(cfg, cairn_node_roles[i].count_key) : 1;
    /* (roles skipped for an empty when_set key only make the array a little larger) */
    cairn_node_role_instance *out = calloc(total ? total : 1, sizeof *out);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < cairn_node_role_count; i++) {
        const cairn_node_role *r = &cairn_node_roles[i];
        if (r->when_set && !*cairn_config_string(cfg, r->when_set))
            continue;
        if (!r->count_key) {
            out[n].role = r;
            snprintf(out[n].name, sizeof out[n].name, "%s", r->name);
            n++;
            continue;
        }
        int64_t copies = cairn_config_int(cfg, r->count_key);
        for (int64_t k = 0; k < copies; k++) {
            out[n].role = r;
            snprintf(out[n].name, sizeof out[n].name, "%s-%lld", r->name, (long long)k);
            snprintf(out[n].index_set, sizeof out[n].index_set, "%s=%lld", r->index_key,
                     (long long)k);
            n++;
        }
    }
    *count = n;
    return out;
}
