/* Push subscriptions out of the gateway (§12.1).
 *
 * The gateway is where subscriptions are made, so it keeps the table of live ones: every
 * push-capable list request refreshes its entry (identity: namespace, service, clusters, address,
 * agent, as the pushers key them), and an entry not refreshed within push.subscriber_ttl_ms is
 * dropped. Each refresh is also published on an nng PUB socket (CAIRN_EP_GATEWAY_SUBSCRIPTIONS)
 * with a sequence number; the pusher owning the service applies it at once.
 *
 * A pusher never depends on having been connected when a subscription was published: each time
 * it (re)connects, and whenever it sees a gap in the sequence, it asks for a snapshot of the
 * table's entries it owns (SUBSCRIPTION_SNAPSHOT on CAIRN_EP_GATEWAY_COMMANDS), whose revision is
 * the newest sequence number the snapshot covers (cairn_follow.h). So a subscription is recorded
 * even while no pusher is connected, and the counter says which: result="published" when every
 * pusher was connected, "recorded" when one was not (the entry reaches it by snapshot), "refused"
 * when the table is full.
 *
 * The table also says which services have a subscriber, which the registry's empty-service sweep
 * must keep (registry_sweep.h): gateway_push_report sends them every in_use_period_ms, and a
 * subscription that gives a service its first subscriber sends that service at once
 * (cairn_in_use.h).
 *
 * Threads: gateway_push_subscribe is called by the HTTP threads, the snapshot server runs on its
 * own nng worker, expiry and reports on the readiness monitor; one mutex guards the table, the
 * sequence and the send (so sequence numbers go out in order). Reports go out after it is
 * released. */
#ifndef GATEWAY_PUSH_H
#define GATEWAY_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_in_use.h"
#include "cairn_metrics.h"
#include "cairn_rpc.h"

typedef struct gateway_push gateway_push;

typedef struct gateway_push_options {
    const char *publish_url;  /* PUB: subscriptions as they come */
    const char *snapshot_url; /* REP: SUBSCRIPTION_SNAPSHOT */
    bool trust_client_ip;     /* push to the request's clientIP instead of its TCP peer */
    uint32_t pushers;         /* pusher.count (> 0) */
    int64_t ttl_ms;           /* push.subscriber_ttl_ms */
    uint32_t max_entries;     /* table bound: refreshes always pass, new entries are refused */
    cairn_metrics *metrics;   /* may be NULL */
    /* Reports of the services in use (cairn_in_use.h): the registry client (borrowed; it must
     * outlive the gateway_push) and the period; NULL or 0: none. */
    cairn_rpc_client *registry;
    int64_t in_use_period_ms;
} gateway_push_options;

gateway_push *gateway_push_open(const gateway_push_options *opts, cairn_status *st);
void gateway_push_close(gateway_push *p);

/* The UDP push destination of a list request: the TCP peer address, or client_ip when the gateway
 * trusts it and it is a numeric IPv4/IPv6 address a subscriber can have (cairn_ip.h): never an
 * unspecified, multicast, broadcast or reserved one, and a loopback (link-local) one only when
 * the peer is loopback (link-local) too, as behind a proxy on the same host (link). A clientIP
 * refused so falls back to the peer, exactly as without push.trust_client_ip, and is counted
 * (push_client_ip_refused_total): the client still gets its pushes, at the address it proved.
 * NULL when there is no destination (no peer address). Any thread; the result points into
 * peer_ip or client_ip. */
const char *gateway_push_destination(const gateway_push *p, const char *peer_ip,
                                     const char *client_ip);

/* Records (or refreshes) a subscription (§12.1) for a push-capable list request and publishes
 * it. at_ms is wall-clock time. Returns true when it is recorded: the caller then answers
 * cacheMillis 10000; false (table full, out of memory) leaves the request an ordinary poll. */
bool gateway_push_subscribe(gateway_push *p, const char *ns, const char *service,
                            const char *clusters, const char *ip, int32_t udp_port,
                            const char *agent, int64_t at_ms);

/* Drops entries not refreshed within the TTL as of now_ms (wall clock); returns how many. */
size_t gateway_push_expire(gateway_push *p, int64_t now_ms);

/* Reports the services that have a subscriber to the registry when in_use_period_ms has passed
 * since the last report (now_ms: monotonic); nothing when none has one. Returns how many services
 * have one (0 when it is not yet time). Does not wait for the registry. */
size_t gateway_push_report(gateway_push *p, int64_t now_ms);

/* Pushers connected to the publisher now. */
uint32_t gateway_push_connected(const gateway_push *p);

#endif
