/* Persistent writes on their way into the raft log (cluster-design §2.4, §2.7): which writes are
 * raft commands, the local RAFT_SUBMIT (gateway → replicator, cairn_msg.h) that wraps one, and
 * the bodies of RAFT_FORWARD / RAFT_FORWARD_ACK on the peer channel (cairn_peer.h carries them).
 *
 * RAFT_SUBMIT is the write request itself with its type moved into `cmd` and the type set to
 * RAFT_SUBMIT, so a write has one encoding and the entry the leader appends is exactly the
 * request the gateway built (cairn_request_encode of the unwrapped request).
 *
 * A follower forwards the writes it gathered in one loop turn as one RAFT_FORWARD, and the leader
 * answers them all in one RAFT_FORWARD_ACK, an ack per command in the same order: the leader
 * appends them with its own writes of that turn (one batch entry, two when the batch fills), so
 * no command waits long for another.
 *
 * RAFT_FORWARD body: a msgpack map, fields in this order:
 *   cmds     array of bin   the encoded write requests (each a raft command,
 *                           1..CAIRN_RAFT_CMD_MAX bytes), 1..CAIRN_RAFT_FORWARD_MAX of them
 *   budgets  array of uint  one per command: milliseconds its client still waits (at most
 *                           CAIRN_RAFT_BUDGET_MAX); the leader appends nothing with a budget of 0
 *                           (raft itself bounds the rest: an entry commits, or the leader steps
 *                           down within an election timeout and answers UNKNOWN)
 * RAFT_FORWARD_ACK body: a msgpack map {acks: array}, one element per command, each a map:
 *   status  uint  cairn_raft_fwd_status
 *   code    uint  COMMITTED: the write's verdict (cairn_err; 0 accepted), else 0
 *   msg     str   the verdict's message, or why not committed ("" when none)
 *   index   uint  COMMITTED: the entry's raft index
 *   leader  str   NOT_LEADER: the leader the receiver knows ("" when none)
 * Unknown fields are skipped; cmds, budgets (as many as cmds), acks and each status are
 * required. Pure functions; any thread. */
#ifndef CAIRN_PEER_RAFT_H
#define CAIRN_PEER_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_msg.h"
#include "cairn_peer.h"

#define CAIRN_RAFT_CMD_MAX (1024 * 1024) /* the largest command a forward carries */
#define CAIRN_RAFT_FORWARD_MAX 64         /* commands in one RAFT_FORWARD */
#define CAIRN_RAFT_BUDGET_MAX 3600000     /* the longest budget a forward may carry (ms) */
/* A RAFT_SUBMIT's local client waits raft.submit_timeout_ms plus this: the replicator answers
 * within the former, so the slack only bounds a replicator that is gone. */
#define CAIRN_RAFT_SUBMIT_SLACK_MS 2000

/* Whether the write goes through the raft log in a cluster: INSTANCE_UPSERT, INSTANCE_PATCH,
 * INSTANCE_REMOVE and INSTANCE_HEALTH of a persistent instance (instance.ephemeral false; a
 * health by hand of a persistent instance is MANUAL with ephemeral false), SERVICE_PUT (create,
 * update, clusters) and SERVICE_REMOVE. Everything else stays with the local registry. */
bool cairn_raft_is_command(const cairn_request *write);

/* In place: the write becomes a RAFT_SUBMIT (cmd = its type). CAIRN_E_INVALID (nothing changed)
 * when it is not a raft command. */
cairn_err cairn_raft_submit_wrap(cairn_request *rq, cairn_status *st);
/* In place: a decoded RAFT_SUBMIT becomes the write it wraps. A cmd that is not a raft command
 * (or a write the command rules refuse, e.g. an ephemeral instance) is CAIRN_E_INVALID with a
 * message, and rq is left a RAFT_SUBMIT. */
cairn_err cairn_raft_submit_unwrap(cairn_request *rq, cairn_status *st);

/* ---- RAFT_FORWARD ------------------------------------------------------------------------- */
typedef struct cairn_peer_raft_forward {
    size_t count;                        /* 1..CAIRN_RAFT_FORWARD_MAX */
    char *cmds[CAIRN_RAFT_FORWARD_MAX];  /* malloc'd (decode) or borrowed (encode) */
    size_t lens[CAIRN_RAFT_FORWARD_MAX];
    uint32_t budgets_ms[CAIRN_RAFT_FORWARD_MAX];
} cairn_peer_raft_forward;

/* CAIRN_E_INVALID when count, a command's length or a budget is out of range. */
cairn_err cairn_peer_raft_forward_encode(const cairn_peer_raft_forward *f, char **out,
                                         size_t *out_len);
/* On success f->cmds are malloc'd (free with cairn_peer_raft_forward_free); on error f is
 * empty. */
cairn_err cairn_peer_raft_forward_decode(const char *buf, size_t len, cairn_peer_raft_forward *f,
                                         cairn_status *st);
void cairn_peer_raft_forward_free(cairn_peer_raft_forward *f);

/* ---- RAFT_FORWARD_ACK --------------------------------------------------------------------- */
typedef enum cairn_raft_fwd_status {
    CAIRN_RAFT_FWD_COMMITTED = 0,  /* committed on a majority; code/msg are the verdict */
    CAIRN_RAFT_FWD_NOT_LEADER = 1, /* not appended: the receiver does not lead (leader: who) */
    CAIRN_RAFT_FWD_UNKNOWN = 2,    /* appended, then leadership lost: outcome unknown */
    CAIRN_RAFT_FWD_FAILED = 3,     /* not appended (refused before the log, busy, I/O) */
    CAIRN_RAFT_FWD__COUNT
} cairn_raft_fwd_status;

typedef struct cairn_peer_raft_ack {
    cairn_raft_fwd_status status;
    uint32_t code; /* cairn_err */
    char msg[256];
    uint64_t index;
    char leader[CAIRN_PEER_ID_MAX];
} cairn_peer_raft_ack;

/* The answers to one RAFT_FORWARD, acks[i] for its cmds[i]. */
typedef struct cairn_peer_raft_acks {
    size_t count; /* 1..CAIRN_RAFT_FORWARD_MAX */
    cairn_peer_raft_ack acks[CAIRN_RAFT_FORWARD_MAX];
} cairn_peer_raft_acks;

/* CAIRN_E_INVALID when count, a status or a code is out of range. */
cairn_err cairn_peer_raft_acks_encode(const cairn_peer_raft_acks *a, char **out, size_t *out_len);
/* A COMMITTED ack without an index does not decode; on error *a is zeroed. */
cairn_err cairn_peer_raft_acks_decode(const char *buf, size_t len, cairn_peer_raft_acks *a,
                                      cairn_status *st);

#endif
