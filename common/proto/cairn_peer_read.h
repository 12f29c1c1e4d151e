/* The bodies of DISTRO_READ and DISTRO_READ_REPLY on the peer channel (cairn_peer.h carries
 * them): one member reads another's ephemeral states, to load them on start (cluster-design
 * §2.8 step 3) and to compare them in verify rounds (§2.6).
 *
 * DISTRO_READ body: the msgpack encoding of a registry read request (cairn_msg.h), one of
 * DISTRO_SNAPSHOT (a load page), DISTRO_DIGESTS, DISTRO_KEYS, DISTRO_FETCH (verify) and STATS
 * (the store epoch). Any other type is refused: a peer may read, never write, through it. The
 * receiver hands the request to its own registry unchanged.
 * DISTRO_READ_REPLY body: the msgpack encoding of the registry's reply (cairn_reply_encode),
 * decoded with cairn_reply_decode. So a state, a digest and a cursor have exactly one encoding,
 * the registry's, golden-tested in test_msg_cluster.c.
 *
 * Bounds: the registry's own (a snapshot page ≤ 1 MiB, a DISTRO_FETCH ≤ 512 services, a keys
 * page ≤ 8192 keys); a reply that would not fit a peer envelope (CAIRN_PEER_MAX_BYTES) is
 * answered as an error, and callers ask for few enough services that it never does.
 * Pure functions; any thread. */
#ifndef CAIRN_PEER_READ_H
#define CAIRN_PEER_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn_error.h"
#include "cairn_msg.h"

/* Whether a registry request type may travel in a DISTRO_READ. */
bool cairn_peer_read_allowed(cairn_msg_type type);

/* Decodes a DISTRO_READ body into *req (free it with cairn_request_free, also on failure);
 * CAIRN_E_DECODE for a request that is not an allowed read. */
cairn_err cairn_peer_read_decode(const char *buf, size_t len, cairn_request *req,
                                 cairn_status *st);

#endif
