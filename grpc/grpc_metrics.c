/* Creation of cairn-grpc's metrics (grpc_metrics.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "grpc_metrics.h"

static void *note(void *metric, bool *ok)
{
    if (!metric)
        *ok = false;
    return metric;
}

int grpc_metrics_init(grpc_metrics *gm, cairn_metrics *m)
{
    bool ok = true;
    gm->m = m;
#define C(name, help, labels) note(cairn_metrics_counter(m, name, help, labels), &ok)
    static const char conn_help[] = "Connections accepted, or refused at accept (over "
                                    "max_connections or max_connections_per_ip, or at the "
                                    "descriptor limit).";
    static const char closed_help[] = "Connections closed, by reason.";
    static const char stream_help[] = "Messages on bi-streams, by kind.";
    static const char bytes_help[] = "Socket bytes, by direction.";
    static const char bad_help[] = "Malformed input, by what was wrong.";
    static const char drop_help[] = "OWNER_DROP requests answered, or retried after a failure.";
    static const char fwd_help[] = "Connection writes forwarded to the service's owner member.";
    static const char rel_help[] = "A closed connection's instances of one service removed at "
                                   "its owner member, or retried.";
    gm->connections = note(cairn_metrics_gauge(m, "connections", "Open gRPC connections.", NULL),
                           &ok);
    gm->accepted = C("connections_total", conn_help, "result=\"accepted\"");
    gm->refused = C("connections_total", conn_help, "result=\"refused\"");
    gm->refused_per_ip = C("connections_refused_per_ip_total",
                           "Connections refused at accept because their client address held "
                           "max_connections_per_ip (counted in connections_total too).",
                           NULL);
    gm->closed_client = C("connections_closed_total", closed_help, "reason=\"client\"");
    gm->closed_idle = C("connections_closed_total", closed_help, "reason=\"idle\"");
    gm->closed_blocked = C("connections_closed_total", closed_help, "reason=\"blocked\"");
    gm->closed_error = C("connections_closed_total", closed_help, "reason=\"error\"");
    gm->closed_shutdown = C("connections_closed_total", closed_help, "reason=\"shutdown\"");
    gm->setups = C("stream_messages_total", stream_help, "type=\"setup\"");
    gm->acks = C("stream_messages_total", stream_help, "type=\"ack\"");
    gm->stream_other = C("stream_messages_total", stream_help, "type=\"other\"");
    gm->pushes_sent = C("pushes_sent_total", "NotifySubscriberRequests sent (retries too).", NULL);
    gm->pushes_acked = C("pushes_acked_total", "Pushes acknowledged with resultCode 200.", NULL);
    gm->pushes_retried = C("pushes_retried_total", "Pushes due again after an ack timeout.", NULL);
    gm->pushes_failed = C("pushes_failed_total", "Pushes acknowledged with a failure.", NULL);
    gm->pushes_dropped = C("pushes_dropped_total",
                           "Pushes refused to a connection past max_pending_pushes.", NULL);
    gm->probes = C("probes_total", "ClientDetectionRequests sent to idle connections.", NULL);
    gm->bytes_in = C("bytes_total", bytes_help, "direction=\"in\"");
    gm->bytes_out = C("bytes_total", bytes_help, "direction=\"out\"");
    gm->bad_frame = C("malformed_total", bad_help, "what=\"frame\"");
    gm->bad_protobuf = C("malformed_total", bad_help, "what=\"protobuf\"");
    gm->bad_json = C("malformed_total", bad_help, "what=\"json\"");
    gm->bad_size = C("malformed_total", bad_help, "what=\"size\"");
    gm->bad_compressed = C("malformed_total", bad_help, "what=\"compressed\"");
    gm->bad_content_type = C("malformed_total", bad_help, "what=\"content_type\"");
    gm->bad_path = C("malformed_total", bad_help, "what=\"path\"");
    gm->registry_errors = C("registry_errors_total",
                            "Calls answered with an error because the registry failed.", NULL);
    gm->drops_ok = C("owner_drops_total", drop_help, "result=\"ok\"");
    gm->drops_retried = C("owner_drops_total", drop_help, "result=\"retried\"");
    gm->forwards_ok = C("owned_forwards_total", fwd_help, "result=\"ok\"");
    gm->forwards_failed = C("owned_forwards_total", fwd_help, "result=\"failed\"");
    gm->releases_ok = C("owned_releases_total", rel_help, "result=\"ok\"");
    gm->releases_retried = C("owned_releases_total", rel_help, "result=\"retried\"");
    const char *resync_help = "Re-sends of a connection's instances in a service to the "
                              "service's owner after the owner list changed, by result.";
    gm->resyncs_ok = C("owned_resyncs_total", resync_help, "result=\"ok\"");
    gm->resyncs_retried = C("owned_resyncs_total", resync_help, "result=\"retried\"");
    gm->resyncs_refused = C("owned_resyncs_total", resync_help, "result=\"refused\"");
    gm->event_gaps = C("event_gaps_total", "Lost change events (every subscription pushed).",
                       NULL);
#undef C
    cairn_in_use_metrics_init(&gm->in_use, m);
    if (!gm->in_use.ok || !gm->in_use.failed)
        ok = false;
    return ok ? 0 : -1;
}

/* The types counted under their own name; anything else is "other", so that a client cannot
 * grow the label set. */
static const char *const known[] = {
    "ServerCheckRequest",   "HealthCheckRequest",      "InstanceRequest",
    "BatchInstanceRequest", "PersistentInstanceRequest", "ServiceQueryRequest",
    "SubscribeServiceRequest", "ServiceListRequest",
};

void grpc_metrics_request(grpc_metrics *gm, const char *type, bool ok)
{
    const char *t = "other";
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (type && strcmp(type, known[i]) == 0)
            t = known[i];
    char labels[128];
    snprintf(labels, sizeof labels, "type=\"%s\",result=\"%s\"", t, ok ? "ok" : "error");
    cairn_counter *c = cairn_metrics_counter(gm->m, "requests_total",
                                             "Unary calls, by metadata.type and result.", labels);
    if (c)
        cairn_counter_inc(c);
}
