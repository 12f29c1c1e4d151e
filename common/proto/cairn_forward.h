/* Forwarding a write to its service's Distro owner (cluster-design §2.5 step 1;
 * docs/architecture.md, "Cluster: forwarding to the owner"): which requests travel, and their
 * messages on both legs.
 *
 * Local leg, gateway → its replicator (replicator.sock): a FORWARD request (cairn_msg.h, type
 * 50) carrying the owner's identity, the encoded inner request and a deadline.
 *
 * Peer leg, entry replicator → owner's replicator (cairn_peer.h envelope):
 *   FORWARD body: a msgpack map, fields in this order:
 *     req  bin   the inner request, encoded by cairn_request_encode
 *     ms   uint  the time left to the entry node's deadline when sent (1..CAIRN_FORWARD_MAX_MS)
 *   Unknown fields are skipped. Accepted only when req decodes as a request that
 *   cairn_forward_wanted allows: a peer cannot use FORWARD to reach any other registry request.
 *   FORWARD_REPLY body: the owner's reply, encoded by cairn_reply_encode.
 *
 * Pure functions; any thread. */
#ifndef CAIRN_FORWARD_H
#define CAIRN_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_msg.h"

#define CAIRN_FORWARD_MAX_MS 60000 /* cluster.forward_timeout_ms's maximum */

/* Whether a request goes to its service's owner in a cluster: an ephemeral instance's register,
 * update, patch or deregister (INSTANCE_UPSERT, _PATCH, _REMOVE with instance.ephemeral), its
 * health by hand (INSTANCE_HEALTH MANUAL_KIND with instance.ephemeral), every BEAT, a gRPC
 * connection's INSTANCE_SET_OWNED, and the OWNER_DROP of a gRPC owner (grpc/...) that a
 * restarted cairn-grpc sends every member for its earlier incarnations. Everything else
 * (persistent instances, services, the checkers' health, reads) does not. */
bool cairn_forward_wanted(const cairn_request *rq);

/* FORWARD (local leg): *fw gets a copy of owner and the encoding of inner (kept by the caller). */
cairn_err cairn_request_forward(cairn_request *fw, const cairn_request *inner, const char *owner,
                                int64_t deadline_ms, cairn_status *st);

/* The FORWARD body (peer leg): inner_buf is an encoded request, copied as is. */
cairn_err cairn_peer_forward_encode(const char *inner_buf, size_t inner_len, uint32_t budget_ms,
                                    char **out, size_t *out_len);
/* Decodes a FORWARD body into *inner (free it with cairn_request_free, also on failure) and
 * *budget_ms; a request cairn_forward_wanted refuses is CAIRN_E_DECODE. */
cairn_err cairn_peer_forward_decode(const char *buf, size_t len, cairn_request *inner,
                                    uint32_t *budget_ms, cairn_status *st);

#endif
