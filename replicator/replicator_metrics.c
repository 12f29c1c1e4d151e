/* Registers the replicator's metrics (replicator_metrics.h). */
#include "replicator_metrics.h"

#include <stdio.h>

void replicator_metrics_init(replicator_metrics *m, cairn_metrics *reg,
                             const cairn_cluster_config *cfg)
{
    m->ready = cairn_metrics_gauge(reg, "ready", "1 when this node is READY in its cluster.", NULL);
    m->view_version = cairn_metrics_gauge(reg, "view_version",
                                          "Version of this node's owner list.", NULL);
    m->view_changes = cairn_metrics_counter(reg, "view_changes_total",
                                            "Changes of this node's owner list.", NULL);
    m->pings_sent = cairn_metrics_counter(reg, "pings_total", "PINGs sent to peers.", NULL);
    m->pings_failed = cairn_metrics_counter(reg, "ping_failures_total",
                                            "PINGs that got no valid PONG in time.", NULL);
    for (size_t i = 0; i < cfg->count; i++) {
        char labels[CAIRN_CLUSTER_ID_MAX + 16];
        snprintf(labels, sizeof labels, "member=\"%s\"", cfg->members[i].id);
        m->member_state[i] = cairn_metrics_gauge(
            reg, "member_state", "Member state: 0 DOWN, 1 STARTING, 2 SUSPICIOUS, 3 UP.", labels);
        if (i == cfg->self)
            continue;
        snprintf(labels, sizeof labels, "peer=\"%s\"", cfg->members[i].id);
        m->ping_rtt[i] = cairn_metrics_gauge(reg, "ping_rtt_seconds",
                                             "Round trip of the last answered PING.", labels);
        m->members_mismatch[i] = cairn_metrics_gauge(
            reg, "members_mismatch", "1 when the peer's cluster.members differs from ours.",
            labels);
    }
    for (int v = CAIRN_PEER_BAD_FORMAT; v < CAIRN_PEER__VERDICTS; v++) {
        char labels[96];
        snprintf(labels, sizeof labels, "channel=\"peer\",reason=\"%s\"",
                 cairn_peer_verdict_name((cairn_peer_verdict)v));
        m->auth_failures[v] = cairn_metrics_counter(
            reg, "auth_failures_total", "Peer messages refused, by channel and reason.", labels);
    }
}
