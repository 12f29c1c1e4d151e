/* Persistent writes in a cluster (cluster-design §2.5, §2.7 step 1): the one routing decision
 * for them, and the job that sends one to the local replicator as RAFT_SUBMIT instead of to the
 * registry. The replicator answers once the write is committed by a raft majority and applied
 * to this node's registry (read-your-writes), or 503 within raft.submit_timeout_ms; the answer
 * is rendered as the registry's would be (`ok`, or its code and message). Standalone nothing
 * changes: the gateway writes to the registry as always.
 *
 * Threads: open and close on the main thread; the rest on HTTP threads (the job ends on an nng
 * thread). */
#ifndef GATEWAY_ROUTE_PERSIST_H
#define GATEWAY_ROUTE_PERSIST_H

#include <stdbool.h>

#include "gateway.h"

typedef struct gateway_raft gateway_raft;

/* The client to replicator.sock when the node is in a cluster (cluster.members non-empty);
 * NULL with *st OK when standalone, NULL with *st set on failure. */
gateway_raft *gateway_raft_open(const cairn_config *cfg, const char *run_dir, bool cluster,
                                cairn_status *st);
void gateway_raft_close(gateway_raft *gr);

/* The routing decision: whether the write rq goes through raft (a cluster, and a raft command:
 * cairn_raft_is_command). */
bool gateway_route_persist(const gateway *gw, const cairn_request *rq);

/* Sends *rq (taken) to the replicator as RAFT_SUBMIT and answers req with the outcome. */
void gateway_raft_submit(gateway *gw, gateway_request *req, gateway_response *resp,
                         cairn_request *rq);

/* The pieces of gateway_raft_submit for a job that chains calls (gateway_route_kind.c): sends
 * *submit (a RAFT_SUBMIT, kept by the caller until done runs) to the replicator; and shapes the
 * outcome as gateway_raft_submit answers it (the reply's verdict, "; try again" on 503, the
 * gateway's caches dropping the service: gateway_caches_drop). */
void gateway_raft_call(gateway *gw, cairn_request *submit, cairn_rpc_done done, void *arg);
cairn_err gateway_raft_outcome(gateway *gw, const cairn_request *rq, cairn_err rc,
                               const cairn_reply *rep, cairn_status *st);

#endif
