/* cairn-grpc's metrics (names prefixed cairn_grpc_ on output):
 *   connections                       gauge: open connections
 *   connections_total{result="accepted|refused"}   refused at accept: over grpc.max_connections
 *                                     or grpc.max_connections_per_ip, or at the descriptor limit
 *   connections_refused_per_ip_total  of those, refused because their address held
 *                                     grpc.max_connections_per_ip
 *   connections_closed_total{reason="client|idle|blocked|error|shutdown"}
 *   requests_total{type="<metadata.type>|other",result="ok|error"}   unary calls
 *   stream_messages_total{type="setup|ack|other"}                    bi-stream input
 *   pushes_sent_total, pushes_acked_total, pushes_retried_total, pushes_failed_total (acked with
 *     a failure), pushes_dropped_total (a connection past grpc.max_pending_pushes)
 *   probes_total                      ClientDetectionRequests sent
 *   bytes_total{direction="in|out"}   socket bytes
 *   malformed_total{what="frame|protobuf|json|size|compressed|content_type|path"}
 *   registry_errors_total             calls answered 500 because the registry failed
 *   owner_drops_total{result="ok|retried"}                           OWNER_DROP at close and start
 *   owned_forwards_total{result="ok|failed"}   a connection's writes sent to another member, the
 *                                     service's owner (cluster; failed: no answer or refused)
 *   owned_releases_total{result="ok|retried"}  cluster: a closed connection's share of a service
 *                                     emptied at the service's owner
 *   event_gaps_total                  lost change events (every subscribed service pushed)
 *   in_use_reports_total{result="ok|failed"}  reports of the subscribed services to the registry
 *                                     (cairn_in_use.h) */
#ifndef GRPC_METRICS_H
#define GRPC_METRICS_H

#include "cairn_in_use.h"
#include "cairn_metrics.h"

typedef struct grpc_metrics {
    cairn_metrics *m;
    cairn_gauge *connections;
    cairn_counter *accepted, *refused, *refused_per_ip;
    cairn_counter *closed_client, *closed_idle, *closed_blocked, *closed_error, *closed_shutdown;
    cairn_counter *setups, *acks, *stream_other;
    cairn_counter *pushes_sent, *pushes_acked, *pushes_retried, *pushes_failed, *pushes_dropped;
    cairn_counter *probes, *bytes_in, *bytes_out;
    cairn_counter *bad_frame, *bad_protobuf, *bad_json, *bad_size, *bad_compressed;
    cairn_counter *bad_content_type, *bad_path;
    cairn_counter *registry_errors, *drops_ok, *drops_retried, *event_gaps;
    cairn_counter *forwards_ok, *forwards_failed, *releases_ok, *releases_retried;
    cairn_counter *resyncs_ok, *resyncs_retried, *resyncs_refused;
    cairn_in_use_metrics in_use;
} grpc_metrics;

int grpc_metrics_init(grpc_metrics *gm, cairn_metrics *m);
/* Counts a unary call of type (a known type name, else counted as "other"). */
void grpc_metrics_request(grpc_metrics *gm, const char *type, bool ok);

#endif
