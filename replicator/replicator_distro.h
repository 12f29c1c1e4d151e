/* The Distro load on start (replicator_load.c, cluster-design §2.8 step 3) and the verify
 * rounds (replicator_verify.c, §2.6), wired to the loop. Both run on the loop thread unless a
 * function says otherwise; both read peers with DISTRO_READ (replicator_read.h) and write to
 * the local registry through the sync's registry client (repl_sync_registry).
 *
 * Start: self is STARTING (in no owner list, PINGs say so) until the load engine (distro_load.h)
 * says READY; only then replicator_self_ready_gate announces READY and the role reports ready
 * (sd_notify, admin /ready), so the node's readiness waits for the load too. */
#ifndef REPLICATOR_DISTRO_H
#define REPLICATOR_DISTRO_H

#include "replicator.h"

typedef struct repl_load repl_load;
typedef struct repl_verify repl_verify;

/* Loop thread, at start: reads the registry's store_fresh and epoch (STATS, again every second
 * for the PING's store_fresh), then runs the load engine to READY. */
void repl_load_start(replicator *r);
/* Loop thread: what a peer said of itself (an answered PING or one it sent), and a peer turning
 * DOWN. */
void repl_load_peer_report(replicator *r, size_t idx, const cairn_peer_ping *ping);
void repl_load_peer_lost(replicator *r, size_t idx);
/* Raft may have caught up (repl_raft_caught_up): READY may follow. Loop thread. */
void repl_load_raft_progress(replicator *r);
/* The local store's epoch as STATS last said (0: not known yet). Loop thread. */
uint64_t repl_load_store_epoch(const replicator *r);
/* The view hash peer idx last announced in a PING or PONG; false when not heard since it was
 * last DOWN. Loop thread. */
bool repl_load_peer_view_hash(const replicator *r, size_t idx, uint64_t *out);
void repl_load_close_handles(replicator *r);
void repl_load_destroy(replicator *r);

/* Loop thread, once self is READY: starts the verify rounds (distro.verify_interval_ms). */
void repl_verify_start(replicator *r);
/* Loop thread: the membership moved (states, owners); rounds follow the peers' readiness. */
void repl_verify_members_changed(replicator *r);

/* Loop thread, while the loop closes its handles: both modules' timers. */
void repl_distro_close_handles(replicator *r);
/* After replicator_stop: frees both modules. */
void repl_distro_destroy(replicator *r);

#endif
