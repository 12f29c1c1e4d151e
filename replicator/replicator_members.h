/* The membership state machine: each member's state, this node's owner list and view_version.
 * Pure: no I/O, no clock (every call takes `now_ms`, monotonic), no locks: the loop thread
 * (replicator_loop.h) owns the one instance. Tested in virtual time (tests/unit/test_members.c).
 *
 * Rules (cluster-design §2.9):
 *  - A peer starts DOWN (never heard). Each ping round ends for each peer in a result:
 *    an answer (its PONG, with its phase) or a miss (timeout, error, bad reply).
 *  - Answer, phase READY: ready_streak + 1; UP once in the owner list or after cluster.up_pings
 *    READY answers in a row (it then joins the owner list); until then STARTING.
 *    Answer, phase STARTING: STARTING, out of the owner list, streak reset.
 *    Answer or PING with phase STOPPING: DOWN at once (it is leaving; peers re-hash at once).
 *  - Miss: streak reset; DOWN after cluster.fail_count misses in a row, or at once when the
 *    connection was lost and could not be made again (`refused`, Nacos's "Connection refused"
 *    rule); before that an owner-list member is SUSPICIOUS (it keeps its services), others keep
 *    their state.
 *  - Owner list = identities of UP and SUSPICIOUS peers, plus self when its phase is READY, sorted
 *    by strcmp ("127.0.0.10:8848" before "127.0.0.2:8848"). Every change of it bumps view_version.
 *  - An incoming PING updates what the peer advertises (addresses, phase, hash, raft) but counts
 *    neither as an answer nor as a miss: liveness comes from this node's own pings only, so a
 *    one-way link does not look healthy.
 * Self's phase is set with repl_members_set_self_phase; the replicator sets READY once its sockets
 * are up (replicator_loop.c: replicator_self_ready_gate, the one place a Distro load step will
 * gate later). */
#ifndef REPLICATOR_MEMBERS_H
#define REPLICATOR_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_cluster_config.h"
#include "cairn_msg.h"
#include "cairn_peer_ping.h"

typedef struct repl_member {
    char id[CAIRN_CLUSTER_ID_MAX];
    bool self;
    cairn_member_state state;
    bool in_owners;
    int misses;       /* missed pings in a row */
    int ready_streak; /* READY answers in a row */
    cairn_peer_phase phase;
    bool heard;         /* any answer or PING ever */
    uint64_t incarnation;
    bool members_match;
    int64_t last_answer_ms;  /* monotonic, 0 never */
    int64_t last_refresh_wall_ms;
    double rtt_s;            /* of the last answer */
    char peer_address[CAIRN_PEER_ID_MAX]; /* advertised, or the default until heard */
    char raft_address[CAIRN_PEER_ID_MAX];
    cairn_raft_status raft;
    uint64_t view_hash;      /* the owner-list hash it last reported (PING, PONG) */
} repl_member;

typedef struct repl_members {
    size_t count;
    repl_member m[CAIRN_CLUSTER_MAX_MEMBERS];
    size_t self;
    int fail_count;
    int up_pings;
    uint64_t members_hash;
    cairn_peer_phase self_phase;
    uint64_t view_version;
    uint64_t view_changes; /* owner-list changes since start */
    uint64_t view_hash;    /* FNV-1a of the owner list */
    size_t owner_count;
    size_t owners[CAIRN_CLUSTER_MAX_MEMBERS]; /* indexes into m, in owner order */
} repl_members;

/* What an event changed: publish MEMBERSHIP when non-zero. */
enum { REPL_CHANGED_STATE = 1, REPL_CHANGED_OWNERS = 2 };

/* From the cluster config: every member DOWN but self (STARTING), view_version 1, the default
 * peer and raft addresses (derived with the member's host and its own HTTP port, as every node
 * derives its own). */
void repl_members_init(repl_members *ms, const cairn_cluster_config *cfg);

/* Self's phase; self's advertised addresses (what it bound). */
int repl_members_set_self_phase(repl_members *ms, cairn_peer_phase phase);
void repl_members_set_self_addresses(repl_members *ms, const char *peer, const char *raft);
/* Self's raft status, from the raft provider hook (replicator_raft_hook.h). */
void repl_members_set_self_raft(repl_members *ms, const cairn_raft_status *raft);

/* Peer idx answered our PING with *pong (rtt in seconds). */
int repl_members_answer(repl_members *ms, size_t idx, const cairn_peer_ping *pong,
                        uint64_t incarnation, double rtt_s, int64_t now_ms, int64_t wall_ms);
/* Peer idx did not answer a PING; refused: its connection was lost and not made again. */
int repl_members_miss(repl_members *ms, size_t idx, bool refused, int64_t now_ms);
/* Peer idx sent us a PING carrying *ping. */
int repl_members_heard_ping(repl_members *ms, size_t idx, const cairn_peer_ping *ping,
                            uint64_t incarnation, int64_t wall_ms);

/* The member index of an identity, or -1. */
int repl_members_find(const repl_members *ms, const char *id);

/* Fills a MEMBERSHIP view (strings are borrowed from ms; free only the two arrays with
 * repl_members_view_release). wall_ms stamps self's lastRefreshTime. */
void repl_members_view(const repl_members *ms, int64_t wall_ms, cairn_membership *out);
void repl_members_view_release(cairn_membership *out);

#endif
