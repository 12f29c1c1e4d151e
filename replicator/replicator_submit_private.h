/* The submit jobs shared by replicator_submit.c (routing, local answers, the tick) and
 * replicator_submit_peer.c (RAFT_FORWARD both ways). Loop thread unless said. */
#ifndef REPLICATOR_SUBMIT_PRIVATE_H
#define REPLICATOR_SUBMIT_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cairn_metrics.h"
#include "cairn_peer_raft.h"
#include "raft_commands.h"
#include "raft_fsm.h"
#include "replicator.h"
#include "replicator_submit.h"

typedef enum job_state {
    J_ROUTE,   /* waiting for a leader (or a connection to it) */
    J_RAFT,    /* appended here; raft's callback pending */
    J_FORWARD, /* RAFT_FORWARD in flight */
    J_APPLY,   /* committed and accepted; waiting for the local registry (local jobs) */
    J_DONE,
} job_state;

/* What RAFT_SUBMIT results are counted as (raft_submits_total{result}). */
typedef enum submit_result {
    SR_OK, SR_REJECTED, SR_NO_LEADER, SR_UNKNOWN, SR_TIMEOUT, SR_FAILED, SR__COUNT
} submit_result;

typedef enum forward_result {
    FR_OK, FR_NOT_LEADER, FR_UNKNOWN, FR_FAILED, FR_UNREACHABLE, FR__COUNT
} forward_result;

/* The commands of one batch entry, and of one RAFT_FORWARD, stay under this (a command alone
 * may be larger). */
#define REPL_SUBMIT_BATCH_BYTES (256 * 1024)

typedef struct peer_group peer_group;
typedef struct forward_batch forward_batch;

typedef struct submit_job {
    struct submit_job *prev, *next; /* the live list */
    replicator *r;
    bool from_peer;
    cairn_rpc_pending *pending;     /* a local RAFT_SUBMIT */
    peer_group *group;              /* a command of a peer's RAFT_FORWARD ... */
    size_t slot;                    /* ... answered in group->acks.acks[slot] */
    char *cmd;                      /* the encoded write: the raft entry's command */
    size_t cmd_len;
    char what[96];                  /* "service_put ns/svc" for logs */
    int64_t start_ms, deadline_ms, leader_wait_until_ms, apply_until_ms;
    job_state state;
    uint64_t index;
    bool answered;
    int holds; /* a raft callback or a forward outstanding: the job outlives its answer */
} submit_job;

/* A RAFT_FORWARD received (the leader's side): a job per command answers into acks, and the
 * last answer sends the RAFT_FORWARD_ACK on the listener context `worker`. Freed once it has
 * answered and its last job is freed. */
struct peer_group {
    replicator *r;
    int worker;
    cairn_peer_envelope env;
    size_t unanswered, jobs;
    bool nudge; /* a command committed: tell the followers the commit index at once */
    cairn_peer_raft_acks acks;
};

struct repl_submit {
    replicator *r;
    submit_job *jobs;
    uv_timer_t tick;
    bool tick_open, tick_running;
    /* Jobs to append here, gathered during a loop turn and appended as one batch entry when
     * the turn's callbacks have run (a uv_idle, which also keeps the poll from blocking while
     * jobs wait; REPL_SUBMIT_BATCH_BYTES ends a batch early). */
    uv_idle_t batcher;
    bool batcher_open, batcher_running;
    submit_job *batch[CAIRN_RAFT_BATCH_MAX];
    size_t batch_count, batch_bytes;
    /* Jobs to forward to the leader, gathered the same way into one RAFT_FORWARD (NULL: none
     * yet this turn). */
    forward_batch *gather;
    atomic_bool shutting;
    atomic_int peer_deferred;
    int submit_timeout_ms, forward_wait_ms, forward_max_pending;
    raft_cmd_limits lim;
    cairn_counter *submits[SR__COUNT];
    cairn_counter *forwards[FR__COUNT];
    cairn_counter *forwards_in, *commits, *apply_wait_timeouts;
    cairn_histogram *latency, *commit_latency, *forward_commands;
};

/* replicator_submit.c */
void submit_route(submit_job *j);
void submit_job_release(submit_job *j); /* drops a hold; frees an answered job with none */
void submit_finish(submit_job *j);      /* answered: done, freed when nothing holds it */
void submit_answer_local(submit_job *j, cairn_err code, const char *msg, uint64_t index,
                         submit_result result);
void submit_committed(submit_job *j, cairn_err code, const char *msg, uint64_t index);
/* Runs the batcher after this loop turn's callbacks (at once when stopping). */
void submit_wake_batcher(repl_submit *s);
/* Routes the jobs waiting in J_ROUTE again from the next tick on. */
void submit_retry_later(repl_submit *s);
/* replicator_submit_peer.c */
/* Gathers j's command into this turn's RAFT_FORWARD to member idx (the leader). false: not
 * gathered (no connection to it, no budget left, no memory). */
bool submit_forward(submit_job *j, size_t idx);
/* Sends the gathered RAFT_FORWARD (the batcher, or a gather that is full or for another
 * member); its jobs go back to routing if it cannot be sent. */
void submit_forward_flush(repl_submit *s);
/* At stop: the gathered jobs (answered by the drain) are let go unsent. */
void submit_forward_drop(repl_submit *s);
/* The RAFT_FORWARD_ACK a, sealed as the answer to req, in a new nng message (NULL: no memory).
 * Any thread. */
nng_msg *submit_build_acks(replicator *r, const cairn_peer_envelope *req,
                           const cairn_peer_raft_acks *a);
/* Answers j's command in its group; the group's last answer sends the RAFT_FORWARD_ACK. */
void submit_answer_peer(submit_job *j, cairn_raft_fwd_status status, cairn_err code,
                        const char *msg, uint64_t index, const char *leader);
/* The same for a command that has no job (none could be made). */
void submit_group_answer(peer_group *g, size_t slot, cairn_raft_fwd_status status,
                         cairn_err code, const char *msg, uint64_t index, const char *leader);
/* A job of g is freed: g too once it has answered and was the last. */
void submit_group_release(peer_group *g);

#endif
