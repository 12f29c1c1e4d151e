/* The bodies of DISTRO_SYNC and DISTRO_SYNC_ACK on the peer channel (cairn_peer.h carries them):
 * an owner sends a peer the current ephemeral states of services it owns (cluster-design §2.5
 * steps 3-6), and the peer answers what its registry did with them.
 *
 * DISTRO_SYNC body: the msgpack encoding of a DISTRO_APPLY request (cairn_msg.h: states with
 * versions, mode, load_id), so a state has one encoding. The sender's mode is not trusted: the
 * receiver chooses its own (cairn_distro_mode_for). Accepted only with 1..CAIRN_DISTRO_MAX_STATES
 * states, each with a version (epoch != 0), load_id 0, and nothing else but the type.
 *
 * DISTRO_SYNC_ACK body: a msgpack map, fields in this order:
 *   code      uint  cairn_err of the receiver's apply (0: the counts below are its outcomes)
 *   applied   uint  states that replaced what was held
 *   stale     uint  states the version rules kept out
 *   rejected  uint  states the registry refused as invalid
 * Unknown fields are skipped. Pure functions; any thread. */
#ifndef CAIRN_PEER_DISTRO_H
#define CAIRN_PEER_DISTRO_H

#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_msg.h"

/* Encodes states[0..n) (borrowed) as a DISTRO_SYNC body into a malloc'd buffer. */
cairn_err cairn_peer_sync_encode(const cairn_distro_state *states, uint32_t n, char **out,
                                 size_t *out_len);
/* Decodes a DISTRO_SYNC body into *req (a DISTRO_APPLY request; free it with
 * cairn_request_free, also on failure). */
cairn_err cairn_peer_sync_decode(const char *buf, size_t len, cairn_request *req,
                                 cairn_status *st);

typedef struct cairn_peer_sync_ack {
    uint32_t code; /* cairn_err */
    uint32_t applied;
    uint32_t stale;
    uint32_t rejected;
} cairn_peer_sync_ack;

cairn_err cairn_peer_sync_ack_encode(const cairn_peer_sync_ack *a, char **out, size_t *out_len);
cairn_err cairn_peer_sync_ack_decode(const char *buf, size_t len, cairn_peer_sync_ack *a,
                                     cairn_status *st);

#endif
