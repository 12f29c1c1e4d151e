/* The pusher's metrics (names prefixed cairn_pusher_ on output):
 *   subscribers, services, pending_pushes, udp_port       gauges
 *   upstream_connected{source="gateway|registry"}         1 while the SUB connection is up
 *   subscriptions_total{result="added|refreshed"}
 *   subscriptions_refused_total{reason="service_limit|total_limit|invalid"}
 *   push_rounds_total                                     pushes of a service (after coalescing)
 *   push_snapshots_total{source="event|registry"}         where a push's service state came from
 *   pushes_sent_total                                     first transmissions
 *   pushes_acked_total, pushes_retried_total, pushes_failed_total (no ack after the retries,
 *     or a send error), pushes_superseded_total (a newer push replaced an unacked one)
 *   rate_limited_total                                    sends deferred by max_sends_per_second
 *   send_deferred_total                                   sends deferred by a full socket buffer
 *   ack_seconds                                           transmission → ack histogram
 *   change_to_send_seconds                                registry commit → first transmission
 *   payload_bytes_total{stage="raw|sent"}                 per datagram sent, before/after gzip
 *   gzip_total                                            datagrams sent gzipped
 *   oversize_skipped_total                                payloads over max_datagram_bytes
 *   zombies_dropped_total                                 subscribers past their TTL
 *   garbage_datagrams_total, acks_unmatched_total         UDP input that is no ack / no match
 *   registry_errors_total, bad_messages_total             snapshot failures, undecodable input
 *   event_gaps_total, subscription_snapshots_total        repairs: lost events, gateway reloads */
#ifndef PUSHER_METRICS_H
#define PUSHER_METRICS_H

#include "cairn_metrics.h"

typedef struct pusher_metrics {
    cairn_gauge *subscribers, *services, *pending, *udp_port;
    cairn_gauge *gateway_connected, *registry_connected;
    cairn_counter *sub_added, *sub_refreshed;
    cairn_counter *refused_service, *refused_total, *refused_invalid;
    cairn_counter *rounds, *sent, *acked, *retried, *failed, *superseded;
    cairn_counter *rate_limited, *send_deferred;
    cairn_counter *raw_bytes, *sent_bytes, *gzip, *oversize, *zombies;
    cairn_counter *garbage, *unmatched, *registry_errors, *bad_messages;
    cairn_counter *snapshot_from_event, *snapshot_from_registry;
    cairn_counter *event_gaps, *subscription_snapshots;
    cairn_histogram *ack_seconds, *change_to_send_seconds;
} pusher_metrics;

/* Creates every metric up front, so that a scrape shows zeros rather than nothing. Returns -1
 * when out of memory. */
int pusher_metrics_init(pusher_metrics *pm, cairn_metrics *m);

#endif
