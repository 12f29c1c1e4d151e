/* Following the local replicator's view of the cluster: one thread per follower reads the
 * MEMBERSHIP PUB (CAIRN_EP_REPLICATOR_EVENTS) and, whenever that connection comes up, asks
 * MEMBERS_GET once on replicator.sock (so a role started after the replicator does not wait for
 * the next publication). Each valid MEMBERSHIP is handed to the caller's callback; invalid ones
 * are logged and dropped. The gateway (its view and its owner routing) and the healthcheck (the
 * services it checks) both follow this way.
 *
 * Threads: the callback runs on the follower's own thread, one call at a time; it must not keep
 * the decoded message (it is freed after the call) and should return quickly. */
#ifndef CAIRN_MEMBERS_FOLLOW_H
#define CAIRN_MEMBERS_FOLLOW_H

#include <stddef.h>

#include "cairn_error.h"
#include "cairn_msg.h"

typedef struct cairn_members_follower cairn_members_follower;

/* m: the decoded view; buf/len: its encoded bytes (MEMBERSHIP), valid during the call. */
typedef void (*cairn_members_fn)(void *arg, const cairn_membership *m, const char *buf,
                                 size_t len);

/* Starts following the replicator of the node whose run directory is run_dir. NULL with *st set
 * on failure (nothing left running). */
cairn_members_follower *cairn_members_follow_start(const char *run_dir, cairn_members_fn fn,
                                                   void *arg, cairn_status *st);
/* Stops the thread (no callback runs after this returns) and frees f; NULL is fine. */
void cairn_members_follow_stop(cairn_members_follower *f);

#endif
