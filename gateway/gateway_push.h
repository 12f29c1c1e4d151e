/* Push subscriptions out of the gateway (§12.1): an nng PUB socket on
 * CAIRN_EP_GATEWAY_SUBSCRIPTIONS carrying cairn_subscription messages; every pusher subscribes
 * and keeps the services it owns. Publishing never blocks and never fails a list request: PUB
 * drops a message no pusher takes, and failures are only counted
 * (push_subscriptions_total{result="failed"}). */
#ifndef GATEWAY_PUSH_H
#define GATEWAY_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_metrics.h"

typedef struct gateway_push gateway_push;

/* Listens on url. trust_client_ip: push to the request's clientIP instead of its TCP peer. */
gateway_push *gateway_push_open(const char *url, bool trust_client_ip, cairn_metrics *metrics,
                                cairn_status *st);
void gateway_push_close(gateway_push *p);

/* The UDP push destination of a list request: the TCP peer address, or client_ip when the gateway
 * trusts it and it is a numeric IPv4/IPv6 address. NULL when there is none (no peer address). */
const char *gateway_push_destination(const gateway_push *p, const char *peer_ip,
                                     const char *client_ip);

/* Publishes a subscription (§12.1) for a push-capable list request. Returns true when it was
 * handed to the socket: the caller then answers cacheMillis 10000. */
bool gateway_push_subscribe(gateway_push *p, const char *ns, const char *service,
                            const char *clusters, const char *ip, int32_t udp_port,
                            const char *agent, int64_t at_ms);

#endif
