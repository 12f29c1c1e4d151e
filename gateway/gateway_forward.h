/* Sending a write or beat to its service's owner: a FORWARD (cairn_forward.h) to the local
 * replicator on replicator.sock, which relays it on the peer channel and answers with the
 * owner's reply, or with 503 naming the owner once cluster.forward_timeout_ms has passed. The
 * call is an aio like every other (cairn_rpc_call_async): no thread waits. Cluster only. */
#ifndef GATEWAY_FORWARD_H
#define GATEWAY_FORWARD_H

#include "cairn_config.h"
#include "cairn_metrics.h"
#include "cairn_rpc.h"

typedef struct gateway_forward gateway_forward;

/* Opens the client of replicator.sock. NULL with *st set on failure. */
gateway_forward *gateway_forward_open(const cairn_config *cfg, const char *run_dir,
                                      cairn_metrics *metrics, cairn_status *st);
/* After every call has completed (the HTTP listener is stopped); NULL is fine. */
void gateway_forward_close(gateway_forward *fw);

/* Sends inner (kept by the caller) to owner; done gets the owner's reply as if the local role
 * had answered, or CAIRN_E_UNAVAILABLE with "owner <id> unavailable: ..." in *st. done runs
 * exactly once, on an nng thread (or on this one when the request cannot be built). */
void gateway_forward_call(gateway_forward *fw, const cairn_request *inner, const char *owner,
                          cairn_rpc_done done, void *arg);

#endif
