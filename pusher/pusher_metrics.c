/* Creation of the pusher's metrics; the hot paths keep the pointers. */
#include "pusher_metrics.h"

#include <stdbool.h>

/* Passes a new metric through, noting in *ok when it could not be created (out of memory). */
static void *note(void *metric, bool *ok)
{
    if (!metric)
        *ok = false;
    return metric;
}

int pusher_metrics_init(pusher_metrics *pm, cairn_metrics *m)
{
    bool ok = true;
#define C(name, help, labels) note(cairn_metrics_counter(m, name, help, labels), &ok)
#define G(name, help, labels) note(cairn_metrics_gauge(m, name, help, labels), &ok)
#define H(name, help)                                                                              \
    note(cairn_metrics_histogram(m, name, help, NULL, cairn_latency_buckets,                       \
                                 cairn_latency_bucket_count),                                      \
         &ok)
    static const char subs_help[] = "Subscriptions received for owned services, by result.";
    static const char refused_help[] = "Subscriptions refused, by reason (the client polls).";
    static const char bytes_help[] = "Bytes of the datagrams sent, before (raw) and after gzip.";
    pm->subscribers = G("subscribers", "Push subscribers held.", NULL);
    pm->services = G("services", "Owned services with subscribers.", NULL);
    pm->pending = G("pending_pushes", "Pushes sent and not yet acknowledged, or deferred.", NULL);
    pm->udp_port = G("udp_port", "The UDP port pushes are sent from and acks received on.", NULL);
    static const char up_help[] = "1 while the subscription (gateway) or change-event "
                                  "(registry) connection is up.";
    pm->gateway_connected = G("upstream_connected", up_help, "source=\"gateway\"");
    pm->registry_connected = G("upstream_connected", up_help, "source=\"registry\"");
    pm->sub_added = C("subscriptions_total", subs_help, "result=\"added\"");
    pm->sub_refreshed = C("subscriptions_total", subs_help, "result=\"refreshed\"");
    pm->refused_service = C("subscriptions_refused_total", refused_help,
                            "reason=\"service_limit\"");
    pm->refused_total = C("subscriptions_refused_total", refused_help, "reason=\"total_limit\"");
    pm->refused_invalid = C("subscriptions_refused_total", refused_help, "reason=\"invalid\"");
    pm->rounds = C("push_rounds_total", "Pushes of a changed service (after coalescing).", NULL);
    static const char source_help[] =
        "Service states pushed, by source: the change event's snapshot (or removal), or a "
        "SERVICE_GET read (no snapshot in the event, or events were lost).";
    pm->snapshot_from_event = C("push_snapshots_total", source_help, "source=\"event\"");
    pm->snapshot_from_registry = C("push_snapshots_total", source_help, "source=\"registry\"");
    pm->sent = C("pushes_sent_total", "Push datagrams sent (first transmissions).", NULL);
    pm->acked = C("pushes_acked_total", "Pushes acknowledged by their subscriber.", NULL);
    pm->retried = C("pushes_retried_total", "Retransmissions of unacknowledged pushes.", NULL);
    pm->failed = C("pushes_failed_total",
                   "Pushes given up: no ack after the retries, or a send error.", NULL);
    pm->superseded = C("pushes_superseded_total",
                       "Unacknowledged pushes replaced by a newer push to the same subscriber.",
                       NULL);
    pm->rate_limited = C("rate_limited_total",
                         "Sends deferred by push.max_sends_per_second to one destination.", NULL);
    pm->send_deferred = C("send_deferred_total",
                          "Sends deferred because the socket's send buffer was full.", NULL);
    pm->raw_bytes = C("payload_bytes_total", bytes_help, "stage=\"raw\"");
    pm->sent_bytes = C("payload_bytes_total", bytes_help, "stage=\"sent\"");
    pm->gzip = C("gzip_total", "Datagrams sent gzipped.", NULL);
    pm->oversize = C("oversize_skipped_total",
                     "Push payloads over push.max_datagram_bytes even gzipped (not sent).", NULL);
    pm->zombies = C("zombies_dropped_total",
                    "Subscribers dropped for not refreshing within push.subscriber_ttl_ms.", NULL);
    pm->garbage = C("garbage_datagrams_total", "UDP datagrams received that are not acks.", NULL);
    pm->unmatched = C("acks_unmatched_total",
                      "Acks matching no pending push (late, duplicate or unknown).", NULL);
    pm->registry_errors = C("registry_errors_total",
                            "Service snapshots the registry did not deliver (push retried).",
                            NULL);
    pm->bad_messages = C("bad_messages_total",
                         "Undecodable subscription or change-event messages.", NULL);
    pm->event_gaps = C("event_gaps_total",
                       "Times change events may have been missed (a new connection to the "
                       "registry, or a gap in the revision chain): every subscribed service "
                       "was pushed.",
                       NULL);
    pm->subscription_snapshots = C("subscription_snapshots_total",
                                   "Subscription tables loaded from the gateway (at each "
                                   "connection, and after a gap in the sequence).",
                                   NULL);
    pm->ack_seconds = H("ack_seconds", "Time from a push's transmission to its ack.");
    pm->change_to_send_seconds =
        H("change_to_send_seconds",
          "Time from the registry's commit of a change to the push's first transmission.");
#undef C
#undef G
#undef H
    return ok ? 0 : -1;
}
