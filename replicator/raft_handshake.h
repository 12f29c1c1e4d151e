/* The raft connection handshake: a mutual challenge-response with the cluster secret that runs
 * on every raft TCP connection before libraft sees the stream (cluster-design §2.3; libraft's own
 * preamble authenticates nothing). Message formats and MACs only; raft_transport.c drives them.
 *
 *   dialer → listener  HELLO      "CAIRNRH1", dialer id (u64 BE), dialer nonce (32),
 *                                 identity length (u8, 1..255), identity (the dialer's member
 *                                 identity; its FNV-1a id must equal the id sent)
 *   listener → dialer  CHALLENGE  listener id (u64 BE), listener nonce (32), MAC_L (32)
 *   dialer → listener  PROOF      MAC_D (32)
 *
 * MAC_x = HMAC-SHA256(secret, "cairn-raft-" x ‖ dialer nonce ‖ listener nonce ‖ dialer id ‖
 * listener id ‖ identity), x = 'L' or 'D', so neither MAC can be replayed as the other or on
 * another connection (fresh nonces each way). The dialer also checks that the listener is the
 * member it meant to reach. Reads are sized exactly, so no byte meant for raft is consumed.
 * Pure functions; any thread. */
#ifndef CAIRN_RAFT_HANDSHAKE_H
#define CAIRN_RAFT_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAIRN_RAFT_HS_NONCE 32
#define CAIRN_RAFT_HS_MAC 32
#define CAIRN_RAFT_HS_HELLO_FIXED (8 + 8 + CAIRN_RAFT_HS_NONCE + 1)
#define CAIRN_RAFT_HS_HELLO_MAX (CAIRN_RAFT_HS_HELLO_FIXED + 255)
#define CAIRN_RAFT_HS_CHALLENGE (8 + CAIRN_RAFT_HS_NONCE + CAIRN_RAFT_HS_MAC)
#define CAIRN_RAFT_HS_PROOF CAIRN_RAFT_HS_MAC

typedef struct cairn_raft_hs_secret {
    const unsigned char *bytes;
    size_t len;
} cairn_raft_hs_secret;

/* Both sides' view of one handshake. */
typedef struct cairn_raft_hs {
    uint64_t dialer_id, listener_id;
    unsigned char dialer_nonce[CAIRN_RAFT_HS_NONCE], listener_nonce[CAIRN_RAFT_HS_NONCE];
    char identity[256]; /* the dialer's */
} cairn_raft_hs;

/* HELLO from hs (dialer_id, dialer_nonce, identity) into out; returns its length. */
size_t cairn_raft_hs_hello(const cairn_raft_hs *hs, unsigned char out[CAIRN_RAFT_HS_HELLO_MAX]);
/* The fixed part of a HELLO: fills dialer_id and dialer_nonce and says how many identity bytes
 * follow; false when it is not a HELLO. */
bool cairn_raft_hs_hello_fixed(cairn_raft_hs *hs, const unsigned char *in, size_t *ident_len);
/* The identity bytes of a HELLO: false when its id is not the FNV-1a id of the identity. */
bool cairn_raft_hs_hello_identity(cairn_raft_hs *hs, const unsigned char *in, size_t len);

/* MAC_L ('L') or MAC_D ('D') of hs. */
void cairn_raft_hs_mac(const cairn_raft_hs *hs, const cairn_raft_hs_secret *secret, char who,
                       unsigned char out[CAIRN_RAFT_HS_MAC]);
/* CHALLENGE from hs (listener_id, listener_nonce, MAC_L). */
void cairn_raft_hs_challenge(const cairn_raft_hs *hs, const cairn_raft_hs_secret *secret,
                             unsigned char out[CAIRN_RAFT_HS_CHALLENGE]);
/* Reads a CHALLENGE into hs; true when its MAC_L is right. */
bool cairn_raft_hs_check_challenge(cairn_raft_hs *hs, const cairn_raft_hs_secret *secret,
                                   const unsigned char in[CAIRN_RAFT_HS_CHALLENGE]);
/* True when in is the right MAC_D. */
bool cairn_raft_hs_check_proof(const cairn_raft_hs *hs, const cairn_raft_hs_secret *secret,
                               const unsigned char in[CAIRN_RAFT_HS_PROOF]);

#endif
