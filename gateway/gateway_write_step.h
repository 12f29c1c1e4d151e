/* One built write sent on the path its kind takes, for jobs that chain or fan out writes
 * (gateway_route_kind.c, gateway_metadata_batch.c); gateway_finish_write makes the same decision
 * for a handler's single write:
 *   a raft command in a cluster (a persistent instance write, a service write)  through raft
 *                                                   (gateway_route_persist.h);
 *   anything else                                   the Distro owner (gateway_route.h), or the
 *                                                   local registry when this node owns the
 *                                                   service or runs alone.
 *
 * Threads: any; done runs once, on an nng thread. */
#ifndef GATEWAY_WRITE_STEP_H
#define GATEWAY_WRITE_STEP_H

#include <stdbool.h>

#include "gateway.h"

typedef struct gateway_write_step {
    cairn_request rq;         /* the write: the caller's, kept until done has run */
    cairn_rpc_client *client; /* the local role it went to, for the outcome; NULL otherwise */
    bool raft;                /* rq went through raft (as a RAFT_SUBMIT) */
} gateway_write_step;

/* Sends s->rq on its path; done(arg, ...) follows. Fails (done is then never called, *st says
 * why) only when a raft command cannot be wrapped. */
cairn_err gateway_write_step_send(gateway *gw, gateway_write_step *s, cairn_rpc_done done,
                                  void *arg, cairn_status *st);

/* The outcome done received, shaped as the write's endpoint answers it (gateway_raft_outcome or
 * gateway_call_outcome). */
cairn_err gateway_write_step_outcome(gateway *gw, gateway_write_step *s, cairn_err rc,
                                     cairn_reply *rep, cairn_status *st);

#endif
