/* The authenticating raft transport: a struct raft_uv_transport for raft_uv_init that owns the
 * raft listener and runs the handshake of raft_handshake.h on every connection before libraft
 * gets the stream (cluster-design §2.3). libraft's stock TCP transport is not used: its preamble
 * authenticates nothing.
 *
 * Addresses. Raft knows servers by (id, member identity); the transport asks the resolver for
 * the "host:port" to dial for an id each time it connects, so the role can learn raft addresses
 * at runtime and ports may change between restarts. Hosts are numeric (IPv4, or IPv6 in
 * brackets): the role resolves names before it answers.
 *
 * A connection whose handshake fails (wrong secret, not a Cairn raft peer, a dialed address that
 * is another member, silence past the timeout, a close half-way) is closed and counted in
 * auth_failures; raft never sees it, so it changes nothing. A dial that fails to connect is
 * reported to raft (which retries) and not counted.
 *
 * Lifetime and threads: everything runs on opts.loop's thread. cairn_raft_transport_new binds
 * the listener at once (port 0 picks a free port; cairn_raft_transport_address reports it) and
 * starts accepting when raft calls listen. raft_uv closes the transport with the raft instance;
 * cairn_raft_transport_free may be called only after that close completed, or when the
 * transport was never given to raft_uv_init (it then closes its listener and needs the loop to
 * run once more before the memory is gone: it frees itself from the close callback). */
#ifndef CAIRN_RAFT_TRANSPORT_H
#define CAIRN_RAFT_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cairn_error.h"

/* Writes the address to dial for server id (identity is its member identity) into buf;
 * returns 0, or -1 when none is known yet (raft retries later). */
typedef int (*cairn_raft_resolve_fn)(void *arg, raft_id id, const char *identity, char *buf,
                                     size_t len);

typedef struct cairn_raft_transport_options {
    uv_loop_t *loop;
    const char *listen;          /* "host:port"; port 0 picks a free one */
    const unsigned char *secret; /* copied; at least 1 byte */
    size_t secret_len;
    cairn_raft_resolve_fn resolve;
    void *resolve_arg;
    unsigned handshake_timeout_ms; /* 0: 5000 */
} cairn_raft_transport_options;

typedef struct cairn_raft_transport cairn_raft_transport;

/* Why a handshake failed (auth_failures by reason). */
typedef enum cairn_raft_auth_reason {
    CAIRN_RAFT_AUTH_NOT_CAIRN = 0, /* no HELLO magic, or an identity that does not match its id */
    CAIRN_RAFT_AUTH_BAD_MAC,       /* wrong secret (either side) */
    CAIRN_RAFT_AUTH_WRONG_PEER,    /* the dialed address answered as another member */
    CAIRN_RAFT_AUTH_TIMEOUT,
    CAIRN_RAFT_AUTH_CLOSED,        /* closed or failed half-way */
    CAIRN_RAFT_AUTH__COUNT
} cairn_raft_auth_reason;
const char *cairn_raft_auth_reason_name(cairn_raft_auth_reason r);

typedef struct cairn_raft_transport_stats {
    uint64_t auth_failures;                           /* total */
    uint64_t auth_failures_by[CAIRN_RAFT_AUTH__COUNT];
    uint64_t accepted;                                /* inbound handed to raft */
    uint64_t connected;                               /* outbound handed to raft */
    uint64_t dial_failures;                           /* no address, or connect failed */
} cairn_raft_transport_stats;

cairn_err cairn_raft_transport_new(const cairn_raft_transport_options *o,
                                   cairn_raft_transport **out, cairn_status *st);
/* The struct to pass to raft_uv_init; valid as long as t. */
struct raft_uv_transport *cairn_raft_transport_uv(cairn_raft_transport *t);
/* The bound listener address ("127.0.0.1:41234"). */
const char *cairn_raft_transport_address(const cairn_raft_transport *t);
cairn_raft_transport_stats cairn_raft_transport_stats_get(const cairn_raft_transport *t);
void cairn_raft_transport_free(cairn_raft_transport *t);

#endif
