/* The replicator's metrics (cluster-design §2.10, membership and security rows), all named
 * cairn_replicator_*. Gauges per member are looked up once at start (the member list is fixed);
 * the loop thread sets them, nng threads count auth failures. */
#ifndef REPLICATOR_METRICS_H
#define REPLICATOR_METRICS_H

#include "cairn_cluster_config.h"
#include "cairn_metrics.h"
#include "cairn_peer.h"

typedef struct replicator_metrics {
    cairn_gauge *ready;        /* 1 when self is READY */
    cairn_gauge *view_version;
    cairn_counter *view_changes;
    cairn_gauge *member_state[CAIRN_CLUSTER_MAX_MEMBERS];  /* cairn_member_state values */
    cairn_gauge *ping_rtt[CAIRN_CLUSTER_MAX_MEMBERS];      /* seconds, last answer */
    cairn_gauge *members_mismatch[CAIRN_CLUSTER_MAX_MEMBERS]; /* 1 when its list differs */
    cairn_counter *auth_failures[CAIRN_PEER__VERDICTS];    /* channel="peer", by reason */
    cairn_counter *pings_sent;
    cairn_counter *pings_failed;
} replicator_metrics;

void replicator_metrics_init(replicator_metrics *m, cairn_metrics *reg,
                             const cairn_cluster_config *cfg);

#endif
