/* Request/reply over nng REQ/REP with cairn_msg bodies. nng errors are translated here into
 * CAIRN_E_UNAVAILABLE (peer down or slow) or CAIRN_E_INTERNAL (local setup failure). */
#include "cairn_rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_dial.h"
#include "cairn_hashmap.h"
#include "cairn_listen.h"
#include "cairn_log.h"

/* Largest message either side accepts: a service snapshot with the maximum number of instances
 * and metadata can exceed nng's 1 MiB default by far. */
#define RPC_MAX_MSG ((size_t)256 << 20)
#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000 /* within CAIRN_DIAL_FROZEN_MS / 2 (cairn_dial.h) */

/* Metric label slots: one per message type, and CAIRN_MSG__END for undecodable requests. */
#define TYPE_SLOTS (CAIRN_MSG__END + 1)

/* ---- client ---------------------------------------------------------------------------- */

/* One asynchronous exchange: a context and an aio, reused by later calls (the pool). */
typedef struct rpc_call {
    cairn_rpc_client *client;
    nng_ctx ctx;
    nng_aio *aio;
    bool receiving; /* the send is done; the aio now waits for the reply */
    int64_t deadline_ms;
    cairn_rpc_done done;
    void *arg;
    struct rpc_call *next_free;
    struct rpc_call *next_all;
} rpc_call;

struct cairn_rpc_client {
    nng_socket sock;
    char *peer;
    char *url;
    int timeout_ms;
    cairn_dial *dial; /* dials url and redials when nng 1.5.2 stops (cairn_dial.h) */
    pthread_mutex_t pool_lock;
    rpc_call *free_calls; /* idle exchanges */
    rpc_call *all_calls;  /* every exchange ever made, to free them at close */
};

static int64_t now_ms(void);

cairn_rpc_client *cairn_rpc_client_open(const char *url, const char *peer_name, int timeout_ms,
                                        cairn_status *st)
{
    cairn_status_clear(st);
    cairn_rpc_client *c = calloc(1, sizeof *c);
    if (!c || !(c->peer = strdup(peer_name ? peer_name : url)) || !(c->url = strdup(url))) {
        if (c)
            free(c->peer);
        free(c);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    pthread_mutex_init(&c->pool_lock, NULL);
    int rv = nng_req0_open(&c->sock);
    if (rv != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "%s: cannot open a REQ socket: %s", c->peer,
                   nng_strerror(rv));
        pthread_mutex_destroy(&c->pool_lock);
        free(c->url);
        free(c->peer);
        free(c);
        return NULL;
    }
    /* Never resend: a resent write could be applied twice after the caller was told it failed.
     * Redial quickly at first so that a restarted peer is found again within ~1 s. */
    if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS)) != 0 ||
        (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS)) != 0 ||
        (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, RPC_MAX_MSG)) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "%s: cannot set socket options: %s", c->peer,
                   nng_strerror(rv));
        cairn_rpc_client_close(c);
        return NULL;
    }
    /* Non-blocking: the peer may not be up yet; nng keeps redialing, and the watch replaces a
     * dialer that stopped. */
    if (!(c->dial = cairn_dial_start(c->sock, url, NULL, NULL, &rv))) {
        cairn_fail(st, CAIRN_E_INVALID, "%s: cannot dial %s: %s", c->peer, url, nng_strerror(rv));
        cairn_rpc_client_close(c);
        return NULL;
    }
    return c;
}

void cairn_rpc_client_close(cairn_rpc_client *c)
{
    if (!c)
        return;
    /* Calls in flight end with NNG_ECLOSED; freeing an aio waits for its callback. */
    if (c->dial)
        cairn_dial_close(c->dial); /* closes the socket */
    else
        nng_close(c->sock);
    for (rpc_call *k = c->all_calls, *next; k; k = next) {
        next = k->next_all;
        nng_aio_free(k->aio);
        free(k);
    }
    pthread_mutex_destroy(&c->pool_lock);
    free(c->url);
    free(c->peer);
    free(c);
}

static cairn_err unavailable(cairn_rpc_client *c, int rv, cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_UNAVAILABLE, "%s unavailable: %s", c->peer, nng_strerror(rv));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One exchange on a fresh context; returns 0 and the reply message, or the nng error. */
static int exchange(cairn_rpc_client *c, nng_msg *msg, nng_msg **reply)
{
    nng_ctx ctx;
    nng_aio *aio;
    int rv = nng_ctx_open(&ctx, c->sock);
    if (rv != 0) {
        nng_msg_free(msg);
        return rv;
    }
    if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
        nng_msg_free(msg);
        nng_ctx_close(ctx);
        return rv;
    }
    int64_t deadline = now_ms() + c->timeout_ms;
    nng_aio_set_timeout(aio, c->timeout_ms);
    nng_aio_set_msg(aio, msg);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        nng_msg_free(nng_aio_get_msg(aio)); /* not sent: still ours */
    } else {
        /* The send took part of the budget; the reply gets the rest. */
        int64_t now = now_ms();
        if (now >= deadline) {
            rv = NNG_ETIMEDOUT;
        } else {
            nng_aio_set_timeout(aio, (nng_duration)(deadline - now));
            nng_ctx_recv(ctx, aio);
            nng_aio_wait(aio);
            if ((rv = nng_aio_result(aio)) == 0)
                *reply = nng_aio_get_msg(aio);
        }
    }
    /* The context first: nothing may complete on the aio once it is freed. */
    nng_ctx_close(ctx);
    nng_aio_free(aio);
    return rv;
}

/* req as an nng message in *msg. */
static cairn_err encode_request(cairn_rpc_client *c, const cairn_request *req, nng_msg **msg,
                                cairn_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    cairn_err err = cairn_request_encode(req, &buf, &len);
    if (err != CAIRN_OK)
        return cairn_fail(st, err, "cannot encode the request for %s (%s)", c->peer,
                          cairn_err_name(err));
    int rv = nng_msg_alloc(msg, 0);
    if (rv == 0 && (rv = nng_msg_append(*msg, buf, len)) != 0)
        nng_msg_free(*msg);
    free(buf);
    if (rv != 0)
        return cairn_fail(st, CAIRN_E_NOMEM, "cannot build a request for %s: %s", c->peer,
                          nng_strerror(rv));
    return CAIRN_OK;
}

/* The call's result from the reply message (consumed): a decode failure, the peer's own error
 * code, or OK. */
static cairn_err decode_reply(cairn_rpc_client *c, nng_msg *reply, cairn_reply *rep,
                              cairn_status *st)
{
    cairn_status dst;
    cairn_err err = cairn_reply_decode(nng_msg_body(reply), nng_msg_len(reply), rep, &dst);
    nng_msg_free(reply);
    if (err != CAIRN_OK) {
        cairn_reply_init(rep);
        return cairn_fail(st, CAIRN_E_DECODE, "%s sent an undecodable reply: %s", c->peer,
                          dst.message);
    }
    /* The peer's own error is the call's result, so callers handle both alike. */
    if (rep->code != CAIRN_OK)
        return cairn_fail(st, rep->code, "%s",
                          rep->message && rep->message[0] ? rep->message
                                                          : cairn_err_name(rep->code));
    return CAIRN_OK;
}

cairn_err cairn_rpc_call(cairn_rpc_client *c, const cairn_request *req, cairn_reply *rep,
                         cairn_status *st)
{
    cairn_reply_init(rep);
    cairn_status_clear(st);
    nng_msg *msg;
    cairn_err err = encode_request(c, req, &msg, st);
    if (err != CAIRN_OK)
        return err;
    nng_msg *reply = NULL;
    int rv = exchange(c, msg, &reply);
    if (rv != 0)
        return unavailable(c, rv, st);
    return decode_reply(c, reply, rep, st);
}

/* ---- asynchronous calls ------------------------------------------------------------------- */

/* Ends an exchange: the outcome goes to its callback, then the exchange back to the pool (last:
 * once it is there another call may take it). */
static void call_finish(rpc_call *k, int rv, nng_msg *reply)
{
    cairn_rpc_client *c = k->client;
    cairn_reply rep;
    cairn_status st;
    cairn_reply_init(&rep);
    cairn_status_clear(&st);
    cairn_err rc = rv != 0 ? unavailable(c, rv, &st) : decode_reply(c, reply, &rep, &st);
    k->done(k->arg, rc, &rep, &st);
    cairn_reply_free(&rep);
    pthread_mutex_lock(&c->pool_lock);
    k->next_free = c->free_calls;
    c->free_calls = k;
    pthread_mutex_unlock(&c->pool_lock);
}

/* The aio's callback: the send finished (then receive with the rest of the budget), or the
 * receive did. */
static void call_step(void *arg)
{
    rpc_call *k = arg;
    int rv = nng_aio_result(k->aio);
    if (k->receiving) {
        call_finish(k, rv, rv == 0 ? nng_aio_get_msg(k->aio) : NULL);
        return;
    }
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(k->aio)); /* not sent: still ours */
        call_finish(k, rv, NULL);
        return;
    }
    int64_t left = k->deadline_ms - now_ms();
    if (left <= 0) {
        call_finish(k, NNG_ETIMEDOUT, NULL);
        return;
    }
    k->receiving = true;
    nng_aio_set_timeout(k->aio, (nng_duration)left);
    nng_ctx_recv(k->ctx, k->aio);
}

/* An idle exchange from the pool, or a new one; NULL with the nng error in *rv. */
static rpc_call *call_take(cairn_rpc_client *c, int *rv)
{
    pthread_mutex_lock(&c->pool_lock);
    rpc_call *k = c->free_calls;
    if (k)
        c->free_calls = k->next_free;
    pthread_mutex_unlock(&c->pool_lock);
    if (k)
        return k;
    if (!(k = calloc(1, sizeof *k))) {
        *rv = NNG_ENOMEM;
        return NULL;
    }
    k->client = c;
    if ((*rv = nng_ctx_open(&k->ctx, c->sock)) != 0) {
        free(k);
        return NULL;
    }
    if ((*rv = nng_aio_alloc(&k->aio, call_step, k)) != 0) {
        nng_ctx_close(k->ctx);
        free(k);
        return NULL;
    }
    pthread_mutex_lock(&c->pool_lock);
    k->next_all = c->all_calls;
    c->all_calls = k;
    pthread_mutex_unlock(&c->pool_lock);
    return k;
}

void cairn_rpc_call_async(cairn_rpc_client *c, const cairn_request *req, cairn_rpc_done done,
                          void *arg)
{
    cairn_reply rep;
    cairn_status st;
    cairn_reply_init(&rep);
    cairn_status_clear(&st);
    nng_msg *msg;
    cairn_err err = encode_request(c, req, &msg, &st);
    if (err != CAIRN_OK) {
        done(arg, err, &rep, &st);
        return;
    }
    int rv = 0;
    rpc_call *k = call_take(c, &rv);
    if (!k) {
        nng_msg_free(msg);
        done(arg, unavailable(c, rv, &st), &rep, &st);
        return;
    }
    k->done = done;
    k->arg = arg;
    k->receiving = false;
    k->deadline_ms = now_ms() + c->timeout_ms;
    nng_aio_set_timeout(k->aio, c->timeout_ms);
    nng_aio_set_msg(k->aio, msg);
    /* A context reused after a timed-out call: the new send abandons the old request. */
    nng_ctx_send(k->ctx, k->aio);
}

/* ---- server ---------------------------------------------------------------------------- */

/* Largest request a server takes: a write carries at most a few maps within
 * limits.max_metadata_bytes (1 MiB at most). A larger frame closes its connection
 * (cairn_listen.h) before nng allocates it. */
#define RPC_MAX_REQUEST ((size_t)16 << 20)
/* How long a reply may wait for its peer's pipe. A peer that reads takes it at once; one that
 * stopped reading never will, and its callers (whose timeouts are shorter: gateway 1.5 s, pusher
 * 2 s by default) have given up on it. Also the longest cairn_rpc_server_stop waits for one. */
#define RPC_REPLY_TIMEOUT_MS 2000
/* Bytes of replies one peer (one nng pipe, one connection) may have waiting for its pipe. Beyond
 * it the peer's further requests are dropped unanswered and counted: a peer that sends and never
 * reads holds no worker (replies are sent without waiting) and no more memory than this. */
#define RPC_PEER_MAX_WAITING ((size_t)16 << 20)
/* Idle exchanges (context + aio) kept for reuse; the rest are freed when done. */
#define RPC_IDLE_MAX 256

typedef struct rpc_worker {
    cairn_rpc_server *srv;
    nng_ctx ctx; /* the context it receives on; swapped for an idle one with each request */
    nng_aio *aio;
    pthread_t thread;
    bool running;
} rpc_worker;

/* Reply bytes one peer has waiting for its pipe; in the table only while there are some. */
typedef struct rpc_peer {
    size_t waiting;
    bool warned; /* its first dropped request was logged */
} rpc_peer;

struct cairn_rpc_server {
    nng_socket sock;
    char *url;
    cairn_rpc_handler handler;
    cairn_rpc_deferrer deferrer; /* NULL: every request is answered by its worker */
    void *arg;
    cairn_metrics *metrics;
    cairn_counter *dropped_backlog; /* requests dropped: their peer does not read its replies */
    cairn_counter *dropped_timeout; /* replies dropped: their peer did not take them in time */
    pthread_mutex_t lock;           /* guards the fields below and every rpc_peer */
    pthread_cond_t idle;            /* in_flight reached 0 */
    size_t in_flight;               /* exchanges holding a request: served, deferred or sending */
    bool stopping;
    cairn_rpc_pending *free_list; /* idle exchanges */
    size_t free_count;
    cairn_hashmap *peers; /* pipe id → rpc_peer */
    int worker_count;     /* allocated; a worker's fields stay zero until it is set up */
    rpc_worker *workers;
    /* Metric series are looked up once each and cached here (the lookup takes a lock). */
    _Atomic(cairn_counter *) requests[TYPE_SLOTS][CAIRN_E__COUNT];
    _Atomic(cairn_histogram *) latency[TYPE_SLOTS];
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void count_request(cairn_rpc_server *s, int type_slot, cairn_err code, double seconds)
{
    if (!s->metrics)
        return;
    if (type_slot < 0 || type_slot >= TYPE_SLOTS)
        type_slot = 0;
    if ((unsigned)code >= CAIRN_E__COUNT)
        code = CAIRN_E_INTERNAL;
    const char *type = type_slot == CAIRN_MSG__END ? "undecodable"
                                                   : cairn_msg_type_name((cairn_msg_type)type_slot);
    cairn_counter *c = atomic_load(&s->requests[type_slot][code]);
    if (!c) {
        char labels[128];
        snprintf(labels, sizeof labels, "type=\"%s\",code=\"%s\"", type, cairn_err_name(code));
        c = cairn_metrics_counter(s->metrics, "rpc_requests_total",
                                  "Inter-role requests handled, by message type and reply code.",
                                  labels);
        atomic_store(&s->requests[type_slot][code], c);
    }
    cairn_counter_inc(c);
    cairn_histogram *h = atomic_load(&s->latency[type_slot]);
    if (!h) {
        char labels[96];
        snprintf(labels, sizeof labels, "type=\"%s\"", type);
        h = cairn_metrics_histogram(s->metrics, "rpc_handle_seconds",
                                    "Time from receiving a request to having its reply encoded.",
                                    labels, cairn_latency_buckets, cairn_latency_bucket_count);
        atomic_store(&s->latency[type_slot], h);
    }
    cairn_histogram_observe(h, seconds);
}

/* Encodes rep into a fresh message body (malloc'd), or an INTERNAL error reply when rep cannot
 * be encoded; NULL only when not even that can. Counts the request. */
static char *encode_reply(cairn_rpc_server *s, cairn_reply *rep, int type_slot,
                          const struct timespec *t0, size_t *out_len)
{
    char *out = NULL;
    if (cairn_reply_encode(rep, &out, out_len) != CAIRN_OK) {
        /* The handler's reply could not be encoded: say so rather than leave the caller
         * waiting for its timeout. */
        log_error("rpc %s: cannot encode the reply to a %s request", s->url,
                  cairn_msg_type_name((cairn_msg_type)type_slot));
        cairn_reply_free(rep);
        cairn_reply_init(rep);
        cairn_status ist;
        cairn_fail(&ist, CAIRN_E_INTERNAL, "cannot encode the reply");
        cairn_reply_set_status(rep, &ist);
        if (cairn_reply_encode(rep, &out, out_len) != CAIRN_OK)
            out = NULL;
    }
    count_request(s, type_slot, rep->code, seconds_since(t0));
    return out;
}

/* ---- exchanges: one request, from its receipt until its reply is sent --------------------------
 * Every request is an exchange: the worker that receives it swaps its context for an idle one
 * and hands the request's context to the exchange, so the reply goes back on it from whichever
 * thread finishes the request, without waiting (nng demo/async). A worker therefore never waits
 * for a peer: not for the writer (deferred requests), and not for a peer's pipe (replies are sent
 * by an aio with a timeout). */

struct cairn_rpc_pending {
    cairn_rpc_server *srv;
    nng_ctx ctx;    /* the context the request arrived on; the reply goes back on it */
    nng_aio *aio;   /* sends the reply; reply_sent runs when it is done */
    uint32_t pipe;  /* the requesting peer */
    size_t waiting; /* reply bytes counted against the peer while the reply is being sent */
    struct timespec t0;
    int type_slot;
    cairn_request req;
    cairn_reply rep;
    cairn_rpc_pending *next_free;
};

const cairn_request *cairn_rpc_pending_request(const cairn_rpc_pending *p)
{
    return &p->req;
}

cairn_reply *cairn_rpc_pending_reply(cairn_rpc_pending *p)
{
    return &p->rep;
}

static void reply_sent(void *arg);

/* An idle exchange from the pool, or a new one; NULL when none can be made. */
static cairn_rpc_pending *exchange_take(cairn_rpc_server *s)
{
    pthread_mutex_lock(&s->lock);
    cairn_rpc_pending *p = s->free_list;
    if (p) {
        s->free_list = p->next_free;
        s->free_count--;
    }
    pthread_mutex_unlock(&s->lock);
    if (p || !(p = calloc(1, sizeof *p)))
        return p;
    p->srv = s;
    cairn_request_init(&p->req, CAIRN_MSG_STATS);
    cairn_reply_init(&p->rep);
    if (nng_aio_alloc(&p->aio, reply_sent, p) != 0) {
        free(p);
        return NULL;
    }
    if (nng_ctx_open(&p->ctx, s->sock) != 0) {
        nng_aio_free(p->aio);
        free(p);
        return NULL;
    }
    return p;
}

/* Puts p back in the pool, or says (false) that the caller must free it. With the lock held. */
static bool exchange_keep(cairn_rpc_server *s, cairn_rpc_pending *p)
{
    if (s->free_count >= RPC_IDLE_MAX)
        return false;
    p->next_free = s->free_list;
    s->free_list = p;
    s->free_count++;
    return true;
}

/* Frees an exchange that is not in the pool. Safe on an nng thread (the aio is reaped). */
static void exchange_free(cairn_rpc_pending *p)
{
    nng_ctx_close(p->ctx);
    nng_aio_reap(p->aio);
    free(p);
}

/* The exchange's request is finished (its reply sent, dropped or never made): the bytes it
 * counted against its peer are released, and the exchange goes back to the pool. */
static void exchange_done(cairn_rpc_pending *p)
{
    cairn_rpc_server *s = p->srv;
    pthread_mutex_lock(&s->lock);
    if (p->waiting > 0) {
        rpc_peer *peer = cairn_hashmap_get(s->peers, &p->pipe, sizeof p->pipe);
        if (peer && (peer->waiting -= p->waiting) == 0)
            free(cairn_hashmap_remove(s->peers, &p->pipe, sizeof p->pipe));
        p->waiting = 0;
    }
    bool kept = exchange_keep(s, p);
    if (--s->in_flight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    if (!kept)
        exchange_free(p);
}

/* Counts len reply bytes against the exchange's peer. */
static void peer_wait(cairn_rpc_pending *p, size_t len)
{
    cairn_rpc_server *s = p->srv;
    pthread_mutex_lock(&s->lock);
    rpc_peer *peer = cairn_hashmap_get(s->peers, &p->pipe, sizeof p->pipe);
    if (!peer && (peer = calloc(1, sizeof *peer)) &&
        cairn_hashmap_put(s->peers, &p->pipe, sizeof p->pipe, peer, NULL) != 0) {
        free(peer);
        peer = NULL;
    }
    if (peer) { /* out of memory: the reply goes uncounted */
        peer->waiting += len;
        p->waiting = len;
    }
    pthread_mutex_unlock(&s->lock);
}

static void reply_sent(void *arg)
{
    cairn_rpc_pending *p = arg;
    int rv = nng_aio_result(p->aio);
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(p->aio)); /* not sent: still ours */
        if (rv == NNG_ETIMEDOUT)
            cairn_counter_inc(p->srv->dropped_timeout);
    }
    exchange_done(p);
}

void cairn_rpc_pending_finish(cairn_rpc_pending *p)
{
    size_t len = 0;
    char *out = encode_reply(p->srv, &p->rep, p->type_slot, &p->t0, &len);
    cairn_request_free(&p->req);
    cairn_reply_free(&p->rep);
    cairn_reply_init(&p->rep);
    nng_msg *msg;
    if (!out || nng_msg_alloc(&msg, len) != 0) {
        free(out);
        exchange_done(p); /* no reply: the caller times out */
        return;
    }
    memcpy(nng_msg_body(msg), out, len);
    free(out);
    peer_wait(p, len);
    nng_aio_set_timeout(p->aio, RPC_REPLY_TIMEOUT_MS);
    nng_aio_set_msg(p->aio, msg);
    nng_ctx_send(p->ctx, p->aio); /* reply_sent runs when it is done */
}

/* The exchange for a request msg that worker w just received: it takes over the request's
 * context (w gets an idle one). NULL when the request is dropped unanswered: its peer has
 * RPC_PEER_MAX_WAITING bytes of replies it has not read, the server is stopping (*stop set), or
 * no exchange can be made. */
static cairn_rpc_pending *admit(rpc_worker *w, nng_msg *msg, bool *stop)
{
    cairn_rpc_server *s = w->srv;
    uint32_t pipe = nng_pipe_id(nng_msg_get_pipe(msg));
    cairn_rpc_pending *p = exchange_take(s);
    if (!p) {
        log_error("rpc %s: out of memory: a request is dropped", s->url);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    rpc_peer *peer = cairn_hashmap_get(s->peers, &pipe, sizeof pipe);
    bool backlog = peer && peer->waiting >= RPC_PEER_MAX_WAITING;
    bool warn = backlog && !peer->warned;
    size_t waiting = peer ? peer->waiting : 0;
    *stop = s->stopping;
    if (backlog || *stop) {
        if (warn)
            peer->warned = true;
        bool kept = exchange_keep(s, p);
        pthread_mutex_unlock(&s->lock);
        if (!kept)
            exchange_free(p);
        if (backlog)
            cairn_counter_inc(s->dropped_backlog);
        if (warn)
            log_warn("rpc %s: a peer does not read its replies (%zu bytes waiting): its "
                     "requests are dropped until it does",
                     s->url, waiting);
        return NULL;
    }
    nng_ctx idle = p->ctx;
    p->ctx = w->ctx;
    w->ctx = idle;
    s->in_flight++;
    pthread_mutex_unlock(&s->lock);
    p->pipe = pipe;
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    return p;
}

/* Decodes p's request and answers it, or hands it to the deferrer. */
static void serve(cairn_rpc_server *s, cairn_rpc_pending *p, const void *body, size_t body_len)
{
    cairn_status st;
    if (cairn_request_decode(body, body_len, &p->req, &st) != CAIRN_OK) {
        p->type_slot = CAIRN_MSG__END;
        st.code = CAIRN_E_DECODE; /* whatever the decoder said, the reply code is DECODE */
        cairn_reply_set_status(&p->rep, &st);
        log_debug("rpc %s: undecodable request: %s", s->url, st.message);
        cairn_rpc_pending_finish(p);
        return;
    }
    cairn_msg_type type = p->req.type;
    p->type_slot = (type > 0 && type < CAIRN_MSG__END) ? (int)type : 0;
    if (s->deferrer && s->deferrer(s->arg, p))
        return; /* whoever took it finishes it */
    s->handler(s->arg, &p->req, &p->rep);
    cairn_rpc_pending_finish(p);
}

static void *worker_main(void *arg)
{
    rpc_worker *w = arg;
    for (;;) {
        nng_ctx_recv(w->ctx, w->aio);
        nng_aio_wait(w->aio);
        int rv = nng_aio_result(w->aio);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0)
            continue;
        nng_msg *msg = nng_aio_get_msg(w->aio);
        bool stop = false;
        cairn_rpc_pending *p = admit(w, msg, &stop);
        if (p)
            serve(w->srv, p, nng_msg_body(msg), nng_msg_len(msg));
        nng_msg_free(msg);
        if (stop)
            break;
    }
    return NULL;
}

cairn_rpc_server *cairn_rpc_server_start(const char *url, int workers, cairn_rpc_handler handler,
                                         void *arg, cairn_metrics *metrics, cairn_status *st)
{
    return cairn_rpc_server_start_deferring(url, workers, handler, NULL, arg, metrics, st);
}

static void count_drops(cairn_rpc_server *s)
{
    if (!s->metrics)
        return;
    static const char help[] =
        "Replies a peer did not get because it does not read them: its request was dropped "
        "while it had too many replies waiting (backlog), or the reply waited too long (timeout).";
    s->dropped_backlog = cairn_metrics_counter(s->metrics, "rpc_replies_dropped_total", help,
                                               "reason=\"backlog\"");
    s->dropped_timeout = cairn_metrics_counter(s->metrics, "rpc_replies_dropped_total", help,
                                               "reason=\"timeout\"");
}

cairn_rpc_server *cairn_rpc_server_start_deferring(const char *url, int workers,
                                                   cairn_rpc_handler handler,
                                                   cairn_rpc_deferrer deferrer, void *arg,
                                                   cairn_metrics *metrics, cairn_status *st)
{
    cairn_status_clear(st);
    if (workers < 1)
        workers = 1;
    cairn_rpc_server *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url)) || !(s->peers = cairn_hashmap_new(16)) ||
        !(s->workers = calloc((size_t)workers, sizeof *s->workers))) {
        if (s) {
            cairn_hashmap_free(s->peers);
            free(s->url);
        }
        free(s);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    s->handler = handler;
    s->deferrer = deferrer;
    s->arg = arg;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    s->metrics = metrics;
    count_drops(s);
    s->worker_count = workers;
    int rv = nng_rep0_open(&s->sock);
    if (rv != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "cannot open a REP socket: %s", nng_strerror(rv));
        s->worker_count = 0;
        cairn_rpc_server_stop(s);
        return NULL;
    }
    if ((rv = cairn_listen(s->sock, url, RPC_MAX_REQUEST)) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "cannot listen on %s: %s", url, nng_strerror(rv));
        cairn_rpc_server_stop(s);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        rpc_worker *w = &s->workers[i];
        w->srv = s;
        if ((rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0 ||
            (rv = nng_ctx_open(&w->ctx, s->sock)) != 0) {
            cairn_fail(st, CAIRN_E_INTERNAL, "cannot set up an rpc worker on %s: %s", url,
                       nng_strerror(rv));
            cairn_rpc_server_stop(s);
            return NULL;
        }
        if ((rv = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
            cairn_fail(st, CAIRN_E_INTERNAL, "cannot start an rpc worker on %s: %s", url,
                       strerror(rv));
            cairn_rpc_server_stop(s);
            return NULL;
        }
        w->running = true;
    }
    return s;
}

void cairn_rpc_server_stop(cairn_rpc_server *s)
{
    if (!s)
        return;
    /* Each worker's context is closed (under the lock, so that it is the one the worker receives
     * on, not one it is swapping out) and its thread joined before the socket goes: closing a
     * context completes its pending receive with NNG_ECLOSED, while closing the socket under
     * contexts still in use races inside nng (a destroyed mutex, seen about once in 15 runs of
     * the rpc tests under the sanitizers). */
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    for (int i = 0; i < s->worker_count; i++)
        if (s->workers[i].running)
            nng_ctx_close(s->workers[i].ctx);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->worker_count; i++) {
        rpc_worker *w = &s->workers[i];
        if (w->running)
            pthread_join(w->thread, NULL);
        else if (w->aio)
            nng_ctx_close(w->ctx); /* opened, but its thread never started */
        if (w->aio)
            nng_aio_free(w->aio);
    }
    /* Requests taken still get their replies (the socket is still open): their owner (the
     * registry's writer) finishes every request it took before it stops, and a reply waits for
     * its peer at most RPC_REPLY_TIMEOUT_MS. */
    pthread_mutex_lock(&s->lock);
    while (s->in_flight > 0)
        pthread_cond_wait(&s->idle, &s->lock);
    cairn_rpc_pending *idle = s->free_list;
    s->free_list = NULL;
    pthread_mutex_unlock(&s->lock);
    for (cairn_rpc_pending *next; idle; idle = next) {
        next = idle->next_free;
        nng_ctx_close(idle->ctx);
        nng_aio_free(idle->aio);
        free(idle);
    }
    nng_close(s->sock);
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, s->peers);
    const void *key;
    void *peer;
    while (cairn_hashmap_iter_next(&it, &key, NULL, &peer))
        free(peer);
    cairn_hashmap_free(s->peers);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s->workers);
    free(s->url);
    free(s);
}
