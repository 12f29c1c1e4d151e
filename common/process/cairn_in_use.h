/* The senders' side of SERVICES_IN_USE: the roles that hold subscribers (the gateway its v1 UDP
 * push subscriptions, cairn-grpc its gRPC subscriptions) tell the registry which services have
 * one, so that its empty-service sweep keeps them (registry_sweep.h) and their change events
 * carry the whole snapshot the pushers push (registry_writer.h). Each sends the services with
 * at least one live subscriber every cairn_in_use_period_ms and a service at once when it gets
 * its first subscriber; never an empty list.
 *
 * A report is fire-and-forget on the role's asynchronous client (cairn_rpc_call_async): no
 * thread waits for the registry, and a reply is only counted (in_use_reports_total{result}), so
 * a lost report costs at most a removal the next report would have prevented. */
#ifndef CAIRN_IN_USE_H
#define CAIRN_IN_USE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn_config.h"
#include "cairn_metrics.h"
#include "cairn_rpc.h"

/* How often a sender reports: a third of registry.empty_service_clean_after_ms (how long the
 * registry keeps a report), so that about three reports in a row must be lost before a service
 * in use is removed or its events go without the snapshot. */
int64_t cairn_in_use_period_ms(const cairn_config *cfg);

/* in_use_reports_total{result="ok|failed"} on m (m may be NULL: counters NULL, nothing counted).
 * failed: not built, not answered, or answered with an error. */
typedef struct cairn_in_use_metrics {
    cairn_counter *ok, *failed;
} cairn_in_use_metrics;
void cairn_in_use_metrics_init(cairn_in_use_metrics *im, cairn_metrics *m);

/* Reports the count services (ns[i], grouped svc[i]) in use, as SERVICES_IN_USE requests of at
 * most CAIRN_IN_USE_MAX_SERVICES each, without waiting; count 0 sends nothing, nor does a name
 * the registry would refuse (cairn_check_service_name: no such service can exist). The strings are
 * only read during the call; im (may be NULL) must outlive registry (whose close waits for the
 * replies). Any thread; the replies are counted on nng's threads. */
void cairn_in_use_send(cairn_rpc_client *registry, const char *const *ns, const char *const *svc,
                       size_t count, cairn_in_use_metrics *im);

#endif
