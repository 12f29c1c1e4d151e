/* The body of PING and PONG on the peer channel (cairn_peer.h carries it): what a node tells
 * each peer about itself every cluster.ping_interval_ms, and answers with.
 *
 * Wire: a msgpack map, fields in this order ("-": omitted when empty/zero, decoder default):
 *   phase  uint  cairn_peer_phase
 *   mhash  uint  hash of the sorted cluster.members (cairn_cluster_members_hash)
 *   view   uint  the sender's view_version
 *   vhash  uint  hash of the sender's owner list
 *   peer   str   advertised peer address (what it bound; a wildcard host → its member host)
 *   raft   str   advertised raft address (same rule)
 *   fresh  bool  store_fresh: the sender's store has never held data (placeholder until the
 *                Distro load step sets it)
 *   rinit  bool  raft initialized
 *   rrole  str   raft role ("none" until the raft module exists)
 *   rterm  uint  raft term
 *   rlead  str - raft leader identity
 *   rcommit uint raft commit index
 *   rapplied uint raft last applied
 * Unknown fields are skipped (a newer peer may add some). Pure functions; any thread. */
#ifndef CAIRN_PEER_PING_H
#define CAIRN_PEER_PING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_peer.h"

typedef enum cairn_peer_phase {
    CAIRN_PHASE_STARTING = 0,
    CAIRN_PHASE_READY = 1,
    CAIRN_PHASE_STOPPING = 2,
} cairn_peer_phase;

const char *cairn_peer_phase_name(cairn_peer_phase p); /* "STARTING", "READY", "STOPPING" */

/* What the raft module reports; role "none" and zeros until it exists. */
typedef struct cairn_raft_status {
    bool initialized;
    char role[16]; /* "none", "follower", "candidate", "leader" */
    uint64_t term;
    char leader[CAIRN_PEER_ID_MAX]; /* "" when none known */
    uint64_t commit;
    uint64_t applied;
} cairn_raft_status;

typedef struct cairn_peer_ping {
    cairn_peer_phase phase;
    uint64_t members_hash;
    uint64_t view_version;
    uint64_t view_hash;
    char peer_address[CAIRN_PEER_ID_MAX];
    char raft_address[CAIRN_PEER_ID_MAX];
    bool store_fresh;
    cairn_raft_status raft;
} cairn_peer_ping;

cairn_err cairn_peer_ping_encode(const cairn_peer_ping *p, char **out, size_t *out_len);
cairn_err cairn_peer_ping_decode(const char *buf, size_t len, cairn_peer_ping *p,
                                 cairn_status *st);

#endif
