/* The replicator's raft node: the one module that calls libraft (every raft_* call is here or in
 * the FSM and transport it owns), on a uv loop the role gives it (cluster-design §2.7, §2.8, §5).
 *
 * Life: cairn_raft_node_new binds the raft listener at once (so the role can advertise the bound
 * address while it decides how to start), creates the FSM and makes sure the raft dir exists.
 * The role then runs the bootstrap decision (raft_bootstrap.h) and calls cairn_raft_node_start
 * with bootstrap true (every member, identities sorted) or false (resume, or join and wait for
 * the leader). cairn_raft_node_stop transfers leadership first when this node leads, closes raft
 * and calls back once everything is released; then cairn_raft_node_free.
 *
 * Settings: pre-vote on; election and heartbeat timeouts, snapshot threshold and trailing are
 * set explicitly (libraft's defaults are not what the design measured, §5 pitfalls 3, 5, 6).
 *
 * Threads: every function, and every callback, runs on the loop's thread. No locks.
 * Signals: the process must ignore SIGPIPE (the role skeleton does): libuv writes raft messages
 * to sockets a peer may have closed. */
#ifndef CAIRN_RAFT_NODE_H
#define CAIRN_RAFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cairn_error.h"
#include "raft_fsm.h"
#include "raft_reconfigure.h"
#include "raft_transport.h"

typedef struct cairn_raft_node_options {
    uv_loop_t *loop;
    const char *dir;              /* raft.dir; created (one level) when missing */
    const char *self;             /* own member identity */
    const char *const *members;   /* every member identity, self included (copied) */
    size_t member_count;
    unsigned election_timeout_ms; /* raft.election_timeout_ms (500) */
    unsigned heartbeat_ms;        /* raft.heartbeat_ms (50); must be below the election timeout */
    unsigned snapshot_threshold;  /* raft.snapshot_threshold (8192) */
    unsigned snapshot_trailing;   /* raft.snapshot_trailing (2048) */
    unsigned install_snapshot_timeout_ms; /* 0: 5000 (see raft_node.c: not libraft's 30 s) */
    size_t segment_size;          /* 0: libraft's 8 MiB; tests shrink it */
    unsigned connect_retry_ms;    /* redial delay after a failed connection; 0: 250 */
    cairn_raft_transport_options transport; /* loop is filled in from above */
    /* Called (loop thread) as soon as the poll sees this node's raft state, term or known
     * leader change, so the role publishes it at once instead of on its next ping round.
     * Optional. */
    void (*changed)(void *arg);
    void *changed_arg;
    cairn_raft_fsm_options fsm;
} cairn_raft_node_options;

typedef struct cairn_raft_node cairn_raft_node;

cairn_err cairn_raft_node_new(const cairn_raft_node_options *o, cairn_raft_node **out,
                              cairn_status *st);
/* Whether dir holds no raft state (no metadata file): what PING reports as `initialized` false. */
bool cairn_raft_dir_pristine(const char *dir);
/* The bound raft listener ("127.0.0.1:41234"). */
const char *cairn_raft_node_address(const cairn_raft_node *n);

cairn_err cairn_raft_node_start(cairn_raft_node *n, bool bootstrap, cairn_status *st);

/* ---- submitting a command ------------------------------------------------------------- */
typedef enum cairn_raft_submit_status {
    CAIRN_RAFT_COMMITTED = 0, /* committed and applied here; result says accepted or rejected */
    CAIRN_RAFT_NOT_LEADER,    /* not appended; leader is the leader's identity ("" if none known) */
    CAIRN_RAFT_UNKNOWN,       /* appended, then leadership lost or shutdown: outcome unknown */
    CAIRN_RAFT_FAILED,        /* not appended (I/O error, out of memory, not started) */
} cairn_raft_submit_status;

typedef struct cairn_raft_submit_result {
    cairn_raft_submit_status status;
    uint64_t index;             /* COMMITTED: the entry's index */
    cairn_status result;        /* COMMITTED: the FSM's verdict; otherwise why */
    char leader[256];           /* NOT_LEADER: the leader's identity, "" when unknown */
} cairn_raft_submit_result;

/* r is valid during the call only. */
typedef void (*cairn_raft_submit_cb)(void *arg, const cairn_raft_submit_result *r);

/* Appends cmd (an encoded registry write message; copied) when this node leads. cb runs exactly
 * once: later for an appended entry, or before this returns (NOT_LEADER, FAILED). */
void cairn_raft_node_submit(cairn_raft_node *n, const void *cmd, size_t len,
                            cairn_raft_submit_cb cb, void *arg);
/* The same for n commands (1..CAIRN_RAFT_BATCH_MAX) appended as one batch entry (raft_fsm.h):
 * cb runs exactly once per command, with args[i] and that command's verdict, in order. */
void cairn_raft_node_submit_batch(cairn_raft_node *n, size_t count, const void *const *cmds,
                                  const size_t *lens, cairn_raft_submit_cb cb, void *const *args);

/* Leader only: tells the followers the current commit index now rather than with the next
 * heartbeat (which libraft 0.15 sends up to two heartbeat intervals later), by appending a
 * barrier entry, which replicates at once. A follower that forwarded a write acknowledges it
 * only once its own registry has applied it, so this cuts a forwarded write's latency from
 * about two heartbeats to a round trip. One barrier is in flight at a time; calls meanwhile ask
 * for one more after it. A no-op on a follower. */
void cairn_raft_node_nudge(cairn_raft_node *n);

/* ---- configuration changes (raft_reconfigure.h) ------------------------------------------- */
typedef void (*cairn_raft_change_cb)(void *arg, int status, const char *errmsg);
/* Leader only, one at a time: starts a change of the raft configuration (ADD as a spare with
 * address, PROMOTE to voter, which libraft does once it has caught the server up, REMOVE). cb
 * runs once on the loop thread when the change is committed (status 0) or failed (a raft error
 * code and message: leadership lost, catch-up failed, the node closing). When this returns an
 * error (CAIRN_E_UNAVAILABLE: not started or stopping, not the leader, a change in flight;
 * CAIRN_E_INVALID: raft refused it), cb never runs. */
cairn_err cairn_raft_node_change(cairn_raft_node *n, raft_reconf_kind kind, raft_id id,
                                 const char *address, cairn_raft_change_cb cb, void *arg,
                                 cairn_status *st);
/* Whether a change is in flight: this node's own, or an appended configuration raft has not
 * committed yet. */
bool cairn_raft_node_changing(const cairn_raft_node *n);
/* The current configuration (the last appended, committed or not), or NULL before start. Read
 * it before the next raft call: raft may replace it. */
const struct raft_configuration *cairn_raft_node_configuration(const cairn_raft_node *n);

/* ---- state, for PING, operator/servers and metrics ---------------------------------------- */
typedef struct cairn_raft_node_status {
    bool started;
    int state; /* RAFT_UNAVAILABLE, RAFT_FOLLOWER, RAFT_CANDIDATE, RAFT_LEADER */
    uint64_t term, commit, last_applied, last_index;
    uint64_t leader_id;
    char leader[256]; /* the leader's identity, "" when unknown */
    uint64_t leader_changes; /* times the known leader changed (polled, see below) */
} cairn_raft_node_status;

/* libraft 0.15 has no state-change callback: the node polls raft_state()/raft_leader() and the
 * term every heartbeat (options.changed hears of a change); status reads the current values
 * directly. */
void cairn_raft_node_status_get(cairn_raft_node *n, cairn_raft_node_status *out);
const char *cairn_raft_state_name(int state);
cairn_raft_fsm *cairn_raft_node_fsm(cairn_raft_node *n);
cairn_raft_transport *cairn_raft_node_transport(cairn_raft_node *n);

/* ---- stopping --------------------------------------------------------------------------- */
typedef void (*cairn_raft_stopped_cb)(void *arg);
/* A leader hands leadership to the most up-to-date voter first (bounded by raft's own transfer
 * timeout), then raft closes. Pending submits get UNKNOWN. cb runs once all is released. */
void cairn_raft_node_stop(cairn_raft_node *n, cairn_raft_stopped_cb cb, void *arg);
/* Starts handing leadership over without stopping: true when this node leads another member
 * and the transfer began; cb runs once it ends (another node leads, or raft gave up after one
 * election timeout). A stop meanwhile waits for the transfer to end before raft closes. */
bool cairn_raft_node_hand_over(cairn_raft_node *n, cairn_raft_stopped_cb cb, void *arg);
/* The same without handing leadership over: for fatal errors (the followers elect a new leader
 * after an election timeout, as after a crash). */
void cairn_raft_node_abort(cairn_raft_node *n, cairn_raft_stopped_cb cb, void *arg);
/* Only after stop's (or abort's) callback, also for a node never started: its flush and poll
 * handles stay open until stop has closed them, so freeing it earlier is a use after free. */
void cairn_raft_node_free(cairn_raft_node *n);

#endif
