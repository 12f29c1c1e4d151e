/* Start, load and readiness of the Distro data (cluster design §2.8 steps 3-6, §1.7 "#7687",
 * "#15857").
 *
 * Phases: STARTING -> (LOADING from peer X by cursor)* -> CATCHING_UP -> READY. A node that is
 * not READY owns nothing and is in nobody's owner list; READY is never left (a stop ends the
 * process).
 *
 * Decision table, evaluated by distro_load_step in STARTING (first match wins):
 *  1. no peers configured (single member): warm start if the store holds data, else READY empty
 *     ("single member"), at once;
 *  2. a READY peer (not waiting out a failed attempt): LOADING from it: page its snapshot and
 *     REPLACE the local ephemeral data. The first READY peer in sorted order is chosen;
 *  3. every configured peer answered STARTING with a fresh store: a brand-new cluster, at once:
 *     READY empty if self is fresh too, else warm start;
 *  4. before load_wait_ms since start, or while a READY peer waits out its retry: wait;
 *  5. self holds data: warm start from the local store (a full-cluster restart: every answering
 *     peer is STARTING);
 *  6. self is fresh and an answering peer reports data: wait for it to be READY (a fresh store
 *     never warm-starts while a peer reports data, or it would serve an empty registry);
 *  7. self is fresh, no peer reports data and at least one answers: READY empty;
 *  8. self is fresh and no peer answers: wait (an empty node alone cannot tell a new cluster
 *     from a cluster whose data is on nodes that are down), until alone_wait_ms since start
 *     when that is set: then READY empty, so a first node whose peers are all down comes up.
 * In rule 2 a READY peer that reports a fresh store is no source for a node that holds data
 * (it would replace that data with nothing): such a node warm-starts by rule 5.
 * LOADING: one page in flight; a page that fails, or the source turning non-READY or lost,
 * abandons the load (the next one starts over from the first page, with a new replace) and the
 * source waits retry_ms before it is chosen again: another READY peer is taken at once.
 * CATCHING_UP: READY once raft reports caught up (raft_last_applied >= the leader's commit seen at
 * join and the registry watermark caught up), or when raft_ready_timeout_ms since start have
 * passed (reason "raft lagging").
 *
 * Driving it: after every input (peer PONG/PING, lost peer, page result, raft progress, timer),
 * call distro_load_step until it returns WAIT, carry out each action, and arm a timer for the
 * WAIT's at_ms. Actions:
 *   FETCH_PAGE  send DISTRO_SNAPSHOT_PAGE(cursor) to peer and hand the page's states to the
 *               registry as a DISTRO_APPLY in FORCE mode with the load's load_id (first_page:
 *               pick a new random load_id, which replaces any abandoned load); report
 *               distro_load_page_ok / _failed;
 *   COMMIT      the load is complete: DISTRO_LOAD_END(load_id) drops the local states the load
 *               did not bring (a state synced or written meanwhile stays; nothing is deleted
 *               anywhere else);
 *   WARM_START  keep the local store's ephemeral data as it is;
 *   READY       announce READY in PING, join owner lists, start verify rounds and expiry.
 *
 * Ownership: strings are copied; the action's strings are valid until the next call on the
 * engine. Single-threaded: the replicator's loop thread. */
#ifndef DISTRO_LOAD_H
#define DISTRO_LOAD_H

#include "distro_types.h"

typedef enum distro_phase {
    DISTRO_PHASE_STARTING = 0,
    DISTRO_PHASE_LOADING,
    DISTRO_PHASE_CATCHING_UP,
    DISTRO_PHASE_READY,
} distro_phase;

const char *distro_phase_name(distro_phase p);

/* What a peer says of itself in PING/PONG. */
typedef enum distro_remote_phase {
    DISTRO_REMOTE_SILENT = 0, /* no answer (yet, or lost) */
    DISTRO_REMOTE_STARTING,
    DISTRO_REMOTE_READY,
    DISTRO_REMOTE_STOPPING,
} distro_remote_phase;

typedef struct distro_load_config {
    int64_t load_wait_ms;          /* distro.load_wait_ms */
    int64_t raft_ready_timeout_ms; /* raft.ready_timeout_ms */
    int64_t retry_ms;              /* a peer whose load failed is not chosen again before this */
    int64_t alone_wait_ms;         /* distro.load_alone_ms: rule 8's bound; 0 waits forever */
} distro_load_config;

void distro_load_config_defaults(distro_load_config *cfg); /* 5000, 10000, 1000, 0 */

typedef struct distro_load distro_load;

/* peers: the other members' identities (self excluded), copied. store_fresh: the local store
 * never held Distro data (a new or wiped data dir). The clock of load_wait_ms and
 * raft_ready_timeout_ms starts at now_ms. NULL when out of memory. */
distro_load *distro_load_new(const distro_load_config *cfg, const char *const *peers, size_t n,
                             bool store_fresh, int64_t now_ms);
void distro_load_free(distro_load *l);

/* A PING or PONG from a peer: its phase and whether its store is fresh. Unknown peers are
 * ignored. */
void distro_load_peer_report(distro_load *l, const char *peer, distro_remote_phase phase,
                             bool store_fresh, int64_t now_ms);
/* The peer stopped answering (membership DOWN). */
void distro_load_peer_lost(distro_load *l, const char *peer, int64_t now_ms);

/* The page of FETCH_PAGE `request` arrived and was applied: the next cursor (copied) and
 * whether it was the last. A report for any request but the page in flight is ignored (a late
 * answer from an abandoned load). */
void distro_load_page_ok(distro_load *l, uint64_t request, const char *next_cursor, bool done,
                         int64_t now_ms);
void distro_load_page_failed(distro_load *l, uint64_t request, int64_t now_ms);

/* Raft's catch-up condition (§2.8 step 4), re-reported whenever it may have changed. */
void distro_load_set_raft_caught_up(distro_load *l, bool caught_up);

typedef enum distro_load_action_kind {
    DISTRO_LOAD_WAIT = 0,
    DISTRO_LOAD_FETCH_PAGE,
    DISTRO_LOAD_COMMIT,
    DISTRO_LOAD_WARM_START,
    DISTRO_LOAD_READY,
} distro_load_action_kind;

typedef struct distro_load_action {
    distro_load_action_kind kind;
    int64_t at_ms;      /* WAIT: step again at this time (INT64_MAX: only on an input) */
    const char *peer;   /* FETCH_PAGE, COMMIT: the source */
    const char *cursor; /* FETCH_PAGE: "" for the first page */
    bool first_page;    /* FETCH_PAGE: begin a replace */
    uint64_t request;   /* FETCH_PAGE: quoted by the page's report */
} distro_load_action;

/* The next action at now_ms (see the table above). */
void distro_load_step(distro_load *l, int64_t now_ms, distro_load_action *out);

distro_phase distro_load_phase(const distro_load *l);
bool distro_load_ready(const distro_load *l);
/* Why the node is (not) ready, for readiness answers, operator/servers and logs: e.g.
 * "loading from 127.0.0.2:8848 (page 3)", "ready: warm start from the local store",
 * "ready: raft lagging". Valid until the next call on the engine. */
const char *distro_load_reason(const distro_load *l);

typedef struct distro_load_stats {
    uint64_t pages;         /* pages applied, over every attempt */
    uint64_t failed_loads;  /* loads abandoned */
    int64_t load_ms;        /* load_seconds: start to CATCHING_UP; -1 before */
    bool warm_started;
    bool raft_lagging;      /* READY by raft.ready_timeout_ms */
} distro_load_stats;

void distro_load_get_stats(const distro_load *l, distro_load_stats *out);

#endif
