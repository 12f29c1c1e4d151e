/* The authenticated envelope of every message between two nodes' replicators (the peer channel,
 * cluster.peer_listen). The body inside is the message's own encoding (cairn_peer_ping.h, later
 * Distro and Raft forwarding); the envelope proves who sent it, to whom, and that it is fresh.
 *
 * Wire: one msgpack map, fields in this order:
 *   t      uint   cairn_peer_type
 *   from   str    sender's identity (its cluster.members entry)
 *   to     str    receiver's identity
 *   inc    uint   sender's incarnation (random per process start)
 *   ts     int    sender's wall clock, ms since the epoch
 *   nonce  bin16  random per message
 *   body   bin    the message
 *   mac    bin32  HMAC-SHA256(cluster secret, the MAC input below)
 * MAC input: "cairn-peer-v1" ‖ be32 t ‖ be32 len(from) ‖ from ‖ be32 len(to) ‖ to ‖ be64 inc ‖
 * be64 ts ‖ nonce ‖ (0x00 for a request | 0x01 ‖ the request's nonce for a reply) ‖ be32
 * len(body) ‖ body. A canonical byte string, not the msgpack bytes, so that two encoders of the
 * same values always agree; a reply's MAC covers its request's nonce, so a reply cannot be
 * replayed as the answer to another request.
 *
 * Acceptance (cairn_peer_guard_open), in this order: the bytes decode as above within
 * CAIRN_PEER_MAX_BYTES (bounded decoding, cairn_msgpack_codec.h); the MAC is right; `from` is a
 * configured member other than self; `to` is self; ts is within CAIRN_PEER_CLOCK_WINDOW_MS of the
 * receiver's clock (members need NTP); the (from, nonce) pair was not seen before. Only a message
 * that passes all of them is remembered in the replay cache, so garbage cannot fill it.
 *
 * The replay cache is bounded (CAIRN_PEER_REPLAY_CAPACITY entries): entries older than the clock
 * window are dropped (the window rejects their replays anyway); when it is full of younger ones,
 * the oldest is evicted and its ts becomes a floor: anything at or below it is refused as a
 * possible replay. A flood therefore costs the flood's sender, never opens a replay. */
#ifndef CAIRN_PEER_H
#define CAIRN_PEER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"

#define CAIRN_PEER_ID_MAX 272 /* a member identity, "host:port" (CAIRN_CLUSTER_ID_MAX) */
#define CAIRN_PEER_NONCE_BYTES 16
#define CAIRN_PEER_MAC_BYTES 32
#define CAIRN_PEER_CLOCK_WINDOW_MS 30000
#define CAIRN_PEER_REPLAY_CAPACITY 16384
#define CAIRN_PEER_MAX_BYTES (2 * 1024 * 1024) /* the largest envelope (1 MiB pages + slack) */

/* Peer message types. Wire values are fixed: never renumber, only append. */
typedef enum cairn_peer_type {
    CAIRN_PEER_PING = 1, /* liveness and state, every cluster.ping_interval_ms */
    CAIRN_PEER_PONG = 2, /* the reply to PING, same fields */
    CAIRN_PEER_DISTRO_SYNC = 3,     /* an owner's current states of services (cairn_peer_distro.h) */
    CAIRN_PEER_DISTRO_SYNC_ACK = 4, /* the reply to DISTRO_SYNC: what was applied */
    /* 10-14: forwarding a write to its Distro owner (cairn_forward.h) */
    CAIRN_PEER_FORWARD = 10,       /* entry node → owner: a write or beat to run there */
    CAIRN_PEER_FORWARD_REPLY = 11, /* the owner's reply to it */
    /* 15-19: persistent writes through raft (cairn_peer_raft.h) */
    CAIRN_PEER_RAFT_FORWARD = 15,     /* follower → leader: a write for the raft log */
    CAIRN_PEER_RAFT_FORWARD_ACK = 16, /* the reply: committed (with the index), or why not */
    /* 20-29: the Distro load and verify rounds (cairn_peer_read.h) */
    CAIRN_PEER_DISTRO_READ = 20,       /* a read of the peer's ephemeral states: load, verify */
    CAIRN_PEER_DISTRO_READ_REPLY = 21, /* the reply: the peer registry's answer */
    CAIRN_PEER__END
} cairn_peer_type;

/* Why a message was refused: the `reason` label of auth_failures_total. */
typedef enum cairn_peer_verdict {
    CAIRN_PEER_ACCEPTED = 0,
    CAIRN_PEER_BAD_FORMAT, /* not an envelope, too large, an unknown type */
    CAIRN_PEER_BAD_MAC,
    CAIRN_PEER_UNKNOWN_FROM,
    CAIRN_PEER_WRONG_TO,
    CAIRN_PEER_CLOCK,
    CAIRN_PEER_REPLAY,
    CAIRN_PEER__VERDICTS
} cairn_peer_verdict;

/* "bad_format", "bad_mac", "unknown_from", "wrong_to", "clock", "replay" ("accepted"). */
const char *cairn_peer_verdict_name(cairn_peer_verdict v);
const char *cairn_peer_type_name(cairn_peer_type t);

typedef struct cairn_peer_envelope {
    cairn_peer_type type;
    char from[CAIRN_PEER_ID_MAX];
    char to[CAIRN_PEER_ID_MAX];
    uint64_t incarnation;
    int64_t ts_ms;
    uint8_t nonce[CAIRN_PEER_NONCE_BYTES];
} cairn_peer_envelope;

/* ---- the codec (pure; any thread) ---------------------------------------------------------- */

/* Encodes env and body, with the MAC under key (request_nonce NULL for a request, the request's
 * nonce for its reply), into a malloc'd buffer the caller frees. */
cairn_err cairn_peer_seal(const uint8_t *key, size_t key_len, const cairn_peer_envelope *env,
                          const uint8_t *request_nonce, const void *body, size_t body_len,
                          char **out, size_t *out_len);

/* Decodes buf into *env and a malloc'd copy of the body (*body, *body_len; freed by the caller
 * on success, NULL on failure) and checks the MAC under key. Returns ACCEPTED, BAD_FORMAT (with
 * the reason in *st) or BAD_MAC. Checks nothing else (see cairn_peer_guard_open). */
cairn_peer_verdict cairn_peer_unseal(const uint8_t *key, size_t key_len, const char *buf,
                                     size_t len, const uint8_t *request_nonce,
                                     cairn_peer_envelope *env, char **body, size_t *body_len,
                                     cairn_status *st);

/* A fresh envelope from self to `to`: the incarnation, ts = now_ms and a random nonce. */
void cairn_peer_envelope_init(cairn_peer_envelope *env, cairn_peer_type type, const char *self,
                              const char *to, uint64_t incarnation, int64_t now_ms);

/* ---- the guard: membership, clock window and replay cache --------------------------------- */

typedef struct cairn_peer_replay_entry {
    int64_t ts_ms;
    uint64_t from_hash;
    uint8_t nonce[CAIRN_PEER_NONCE_BYTES];
} cairn_peer_replay_entry;

/* Everything needed to accept a message. Thread-safe: the replay cache has its own lock, the
 * rest is read-only after cairn_peer_guard_init. Borrows the key, self and the member ids, which
 * must outlive the guard. */
typedef struct cairn_peer_guard {
    const uint8_t *key;
    size_t key_len;
    const char *self;
    const char *const *members; /* every member's identity, self included */
    size_t member_count;
    pthread_mutex_t lock;
    cairn_peer_replay_entry *ring; /* CAIRN_PEER_REPLAY_CAPACITY, oldest first from head */
    size_t head, count;
    struct cairn_hashmap *seen; /* from_hash + nonce of every entry of the ring: a lookup per
                                   message instead of a walk of up to the whole ring */
    int64_t floor_ts_ms; /* refuse ts at or below this (an evicted entry's) */
} cairn_peer_guard;

cairn_err cairn_peer_guard_init(cairn_peer_guard *g, const uint8_t *key, size_t key_len,
                                const char *self, const char *const *members,
                                size_t member_count);
void cairn_peer_guard_destroy(cairn_peer_guard *g);

/* Unseals buf with the cluster secret and applies every acceptance rule at now_ms (wall clock).
 * On ACCEPTED fills *env and *body (malloc'd, the caller frees); otherwise *body is NULL and *st
 * says why. request_nonce: NULL for an incoming request, the nonce of the request this reply
 * answers. */
cairn_peer_verdict cairn_peer_guard_open(cairn_peer_guard *g, const char *buf, size_t len,
                                         const uint8_t *request_nonce, int64_t now_ms,
                                         cairn_peer_envelope *env, char **body,
                                         size_t *body_len, cairn_status *st);

/* Seals a message with the guard's key. */
cairn_err cairn_peer_guard_seal(const cairn_peer_guard *g, const cairn_peer_envelope *env,
                                const uint8_t *request_nonce, const void *body, size_t body_len,
                                char **out, size_t *out_len);

#endif
