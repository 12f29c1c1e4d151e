/* cairn-replicator: cluster membership over an authenticated peer channel (cluster-design §2),
 * and Distro sync of owned services (replicator_sync.h). Raft plugs in where this header says.
 *
 * Threads and the files that run them:
 *   main thread       main.c: config, start, wait for SIGTERM, stop.
 *   loop thread       replicator_loop.c: ONE libuv loop that owns the membership state
 *                     (replicator_members.h), the ping rounds, the per-peer dial state, the
 *                     MEMBERSHIP publisher and the metrics updates. No locks on that state: other
 *                     threads hand work over with replicator_post (an MPSC queue + uv_async_send).
 *                     The raft module will run on this same loop (replicator_loop_uv).
 *   nng threads       replicator_peer_server.c: the peer listener's REP contexts check each
 *                     PING's envelope and answer PONG at once from the self card (below), then
 *                     post what they heard to the loop. replicator_peer_dial.c: each peer's REQ
 *                     context completes its PING there, checks the PONG and posts the outcome.
 *                     replicator_local.c: replicator.sock's rpc workers post MEMBERS_GET.
                     replicator_sync*.c: the registry's change events (a SUB aio), the
                     DISTRO_FETCH / DISTRO_APPLY replies (rpc aios) and DISTRO_SYNC and its
                     ack (peer contexts) post to the loop; the loop owns the schedulers.
 *   discovery thread  replicator_discover.c: reads a member's advertised peer and raft addresses
 *                     from its GET /nacos/v1/ns/operator/servers (blocking HTTP, so not on the
 *                     loop) and posts them.
 *
 * Sockets: cluster.peer_listen (nng tcp REP, several contexts), one REQ dialer per peer,
 * replicator.sock (ipc REP: MEMBERS_GET), replicator-events.sock (ipc PUB: MEMBERSHIP), and the
 * admin listener (replicator.admin_listen), and cluster.raft_listen, which the raft node binds
 * through its authenticating transport on the loop (replicator_raft.h). */
#ifndef REPLICATOR_H
#define REPLICATOR_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cairn_cluster_config.h"
#include "cairn_peer.h"
#include "cairn_peer_ping.h"
#include "cairn_role.h"
#include "cairn_rpc.h"
#include "replicator_members.h"
#include "replicator_metrics.h"

typedef struct replicator replicator;
typedef struct repl_sync repl_sync;

/* Contexts of the peer listener: requests answered at once (a deferred FORWARD, DISTRO_SYNC,
 * read or RAFT_FORWARD holds one until answered). Pings, Distro and reads share the first 32
 * (Distro sync takes at most half, reads a quarter); forwarded raft writes have their own, up
 * to raft.forward_max_pending (at most 128). */
#define REPL_PEER_BASE_WORKERS 32
#define REPL_PEER_RAFT_WORKERS 128
#define REPL_PEER_WORKERS (REPL_PEER_BASE_WORKERS + REPL_PEER_RAFT_WORKERS)

/* ---- the loop (replicator_loop.c) --------------------------------------------------------- */

/* Work handed to the loop thread. fn runs on the loop thread, once; when the loop has already
 * stopped, it runs during replicator_destroy with r->closed set, and must only free arg. */
typedef void (*replicator_work_fn)(replicator *r, void *arg);

/* Any thread. Never blocks on the loop. */
void replicator_post(replicator *r, replicator_work_fn fn, void *arg);
/* The loop, for modules that run on it (the raft module). Valid between replicator_start and
 * replicator_stop; use it only from the loop thread (libuv handles are not thread-safe). */
uv_loop_t *replicator_loop_uv(replicator *r);

/* ---- what this node says about itself to peers (read by nng threads) --------------------- */
typedef struct replicator_self_card {
    pthread_mutex_t lock;
    cairn_peer_ping ping; /* phase, hashes, view, addresses, raft */
} replicator_self_card;

/* ---- the raft provider hook ---------------------------------------------------------------- */
/* Fills *out with the raft module's state (role "none" until it exists). Runs on the loop
 * thread, once per ping round. */
typedef void (*replicator_raft_status_fn)(void *arg, cairn_raft_status *out);
/* Installs the provider; loop thread, or before replicator_start. */
void replicator_set_raft_provider(replicator *r, replicator_raft_status_fn fn, void *arg);
/* The raft module saw its role, term or leader change (loop thread): samples the provider now,
 * publishes MEMBERSHIP (operator/servers) and PINGs every idle peer with the new state. */
void repl_loop_raft_changed(replicator *r);

/* ---- one peer's dialing side (replicator_peer_dial.c; loop thread unless said) ------------- */
typedef struct repl_peer {
    replicator *r;
    size_t idx;                 /* member index */
    bool open;
    nng_socket sock;            /* REQ */
    nng_dialer dialer;
    bool dialer_open;
    char dialed[CAIRN_PEER_ID_MAX]; /* the address dialed */
    nng_ctx ctx;
    nng_aio *aio;
    bool busy;                  /* a PING in flight (loop thread) */
    bool sending;               /* the aio is on its send step (its callback's thread) */
    char *reply_buf;            /* set by the callback */
    uint8_t nonce[CAIRN_PEER_NONCE_BYTES];
    int64_t sent_ms;
    int timeout_ms;             /* of the PING in flight, send and receive together */
    int64_t learn_after_ms;     /* next address lookup allowed (loop) */
    atomic_int pipes;           /* connections up (pipe callback) */
    atomic_bool lost;           /* a connection was lost and none is up since */
} repl_peer;

/* ---- the role ------------------------------------------------------------------------------ */
struct replicator {
    cairn_role *role;
    cairn_cluster_config cfg;
    cairn_peer_guard guard;
    const char *member_ids[CAIRN_CLUSTER_MAX_MEMBERS]; /* for the guard */
    uint64_t incarnation;
    replicator_metrics metrics;
    replicator_self_card card;
    /* loop thread state */
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t ping_timer;
    uv_timer_t publish_timer;
    uv_timer_t stop_timer;
    pthread_t loop_thread;
    bool loop_started;  /* the thread exists (main thread) */
    bool loop_running;  /* uv_async_send allowed (queue_lock) */
    bool stopping;
    repl_members members;
    repl_peer peers[CAIRN_CLUSTER_MAX_MEMBERS]; /* by member index; self's unused */
    struct repl_raft *raft;     /* the raft node's glue (replicator_raft.h) */
    replicator_raft_status_fn raft_fn;
    void *raft_arg;
    /* work queue (any thread → loop) */
    pthread_mutex_t queue_lock;
    struct repl_work *queue_head, *queue_tail;
    bool closed; /* the loop has ended: work only frees */
    /* sockets */
    nng_socket peer_rep;
    bool peer_rep_open;
    nng_ctx peer_ctx[REPL_PEER_WORKERS];
    nng_aio *peer_aio[REPL_PEER_WORKERS];
    int peer_workers;
    char peer_bound[CAIRN_PEER_ID_MAX];   /* as advertised (wildcard → member host) */
    char raft_advertised[CAIRN_PEER_ID_MAX];
    nng_socket events_pub;
    bool events_open;
    cairn_rpc_server *local;
    struct repl_discover *discover;
    struct repl_sync *sync; /* Distro sync (replicator_sync.h) */
    struct repl_forward *forward; /* forwarding to the owner (replicator_forward.h) */
    struct repl_submit *submit; /* persistent writes into raft (replicator_submit.h) */
    struct repl_load *load;     /* Distro load on start (replicator_distro.h) */
    struct repl_verify *verify; /* Distro verify rounds (replicator_distro.h) */
    struct repl_grpc_owners *grpc_owners; /* dead members' gRPC instances */
};

/* main.c's steps. replicator_init reads the cluster config (exit 78 on error, printed). */
int replicator_init(replicator *r, cairn_role *role);
/* Opens every socket and starts the loop; then self turns READY (replicator_self_ready_gate). */
cairn_err replicator_start(replicator *r, cairn_status *st);
/* SIGTERM: a last PING saying STOPPING to every peer, then everything closes. */
void replicator_stop(replicator *r);
void replicator_destroy(replicator *r);

/* Self turns READY: announced in PING, in its own owner list, and the role reports ready. The
 * Distro load (replicator_distro.h, cluster-design §2.8 step 3) calls it once loaded. Loop
 * thread. */
void replicator_self_ready_gate(replicator *r);

/* ---- module entry points (each file's own job) -------------------------------------------- */
/* replicator_peer_server.c: listen on cluster.peer_listen; sets r->peer_bound. */
cairn_err repl_peer_server_start(replicator *r, cairn_status *st);
/* Counts a refused peer message in auth_failures_total and logs it, sparsely. Any thread. */
void repl_count_refusal(replicator *r, cairn_peer_verdict v, const char *what,
                        const cairn_status *st);
void repl_peer_server_stop(replicator *r);
/* What a handler returns when its reply comes later: the worker's context waits (not a thread)
 * until repl_peer_server_reply. */
#define REPL_PEER_DEFERRED ((nng_msg *)(uintptr_t)1)
/* Any thread: sends the deferred reply of worker (reply NULL: none, the sender times out), then
 * the worker receives again. Exactly once per deferred request. */
void repl_peer_server_reply(replicator *r, int worker, nng_msg *reply);
/* Any thread: body (encoded by the caller, not taken) sealed with the cluster key as a message of
 * type from self to member id `to`, into a new nng message: the answer to the request whose nonce
 * is answer_nonce, or (answer_nonce NULL) a request, whose own nonce is copied to nonce_out when
 * that is not NULL. NULL when out of memory or past CAIRN_PEER_MAX_BYTES (no peer takes it). The
 * one place a replicator builds a peer message. */
nng_msg *repl_seal(replicator *r, cairn_peer_type type, const char *to,
                   const uint8_t *answer_nonce, const char *body, size_t body_len,
                   uint8_t *nonce_out);
/* replicator_peer_dial.c (loop thread). */
cairn_err repl_peer_open(replicator *r, repl_peer *p, size_t idx, cairn_status *st);
void repl_peer_redial(repl_peer *p, const char *address);
void repl_peer_ping(repl_peer *p, int64_t now_ms, int timeout_ms);
void repl_peer_close(repl_peer *p);
/* replicator_local.c: replicator.sock and replicator-events.sock. */
cairn_err repl_local_start(replicator *r, cairn_status *st);
void repl_local_publish(replicator *r); /* loop thread: MEMBERSHIP on the PUB */
/* Stops replicator.sock; the loop must still run (it answers the deferred requests). */
void repl_local_stop_requests(replicator *r);
/* Closes the PUB too, once the loop has ended. */
void repl_local_stop(replicator *r);
/* replicator_discover.c: asks (any thread) for member idx's advertised addresses. */
cairn_err repl_discover_start(replicator *r, cairn_status *st);
void repl_discover_request(replicator *r, size_t idx);
void repl_discover_stop(replicator *r);
/* replicator_loop.c: what the nng callbacks and discovery post. */
void repl_loop_ping_done(replicator *r, size_t idx, bool ok, const cairn_peer_ping *pong,
                         uint64_t incarnation);
void repl_loop_heard_ping(replicator *r, size_t idx, const cairn_peer_ping *ping,
                          uint64_t incarnation);
void repl_loop_learned(replicator *r, size_t idx, const char *peer, const char *raft);
/* replicator_loop.c: the loop's own life (main thread), and running queued work. */
cairn_err repl_loop_start(replicator *r, cairn_status *st);
void repl_loop_stop(replicator *r);
void repl_loop_drain(replicator *r);

/* Monotonic milliseconds. */
int64_t repl_now_ms(void);

#endif
