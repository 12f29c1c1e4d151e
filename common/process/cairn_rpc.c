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

#include "cairn_log.h"

/* Largest message either side accepts: a service snapshot with the maximum number of instances
 * and metadata can exceed nng's 1 MiB default by far. */
#define RPC_MAX_MSG ((size_t)256 << 20)
#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000

/* Metric label slots: one per message type, and CAIRN_MSG__END for undecodable requests. */
#define TYPE_SLOTS (CAIRN_MSG__END + 1)

/* ---- client ---------------------------------------------------------------------------- */

struct cairn_rpc_client {
    nng_socket sock;
    char *peer;
    int timeout_ms;
};

cairn_rpc_client *cairn_rpc_client_open(const char *url, const char *peer_name, int timeout_ms,
                                        cairn_status *st)
{
    cairn_status_clear(st);
    cairn_rpc_client *c = calloc(1, sizeof *c);
    if (!c || !(c->peer = strdup(peer_name ? peer_name : url))) {
        free(c);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    int rv = nng_req0_open(&c->sock);
    if (rv != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "%s: cannot open a REQ socket: %s", c->peer,
                   nng_strerror(rv));
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
    /* Non-blocking: the peer may not be up yet; nng keeps redialing. */
    if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
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
    nng_close(c->sock);
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

cairn_err cairn_rpc_call(cairn_rpc_client *c, const cairn_request *req, cairn_reply *rep,
                         cairn_status *st)
{
    cairn_reply_init(rep);
    cairn_status_clear(st);
    char *buf = NULL;
    size_t len = 0;
    cairn_err err = cairn_request_encode(req, &buf, &len);
    if (err != CAIRN_OK)
        return cairn_fail(st, err, "cannot encode the request for %s (%s)", c->peer,
                          cairn_err_name(err));
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, 0);
    if (rv == 0 && (rv = nng_msg_append(msg, buf, len)) != 0)
        nng_msg_free(msg);
    free(buf);
    if (rv != 0)
        return cairn_fail(st, CAIRN_E_NOMEM, "cannot build a request for %s: %s", c->peer,
                          nng_strerror(rv));

    nng_msg *reply = NULL;
    if ((rv = exchange(c, msg, &reply)) != 0)
        return unavailable(c, rv, st);

    cairn_status dst;
    err = cairn_reply_decode(nng_msg_body(reply), nng_msg_len(reply), rep, &dst);
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

/* ---- server ---------------------------------------------------------------------------- */

typedef struct rpc_worker {
    cairn_rpc_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    pthread_t thread;
    bool running;
} rpc_worker;

struct cairn_rpc_server {
    nng_socket sock;
    char *url;
    cairn_rpc_handler handler;
    cairn_rpc_deferrer deferrer; /* NULL: every request is answered by its worker */
    void *arg;
    cairn_metrics *metrics;
    pthread_mutex_t pending_lock;
    pthread_cond_t pending_zero;
    size_t pending; /* deferred requests not yet answered */
    int worker_count; /* allocated; a worker's fields stay zero until it is set up */
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

/* ---- deferred replies ----------------------------------------------------------------------- */

struct cairn_rpc_pending {
    cairn_rpc_server *srv;
    nng_ctx ctx; /* the context the request arrived on; the reply goes back on it */
    nng_aio *aio;
    struct timespec t0;
    int type_slot;
    cairn_request req;
    cairn_reply rep;
};

const cairn_request *cairn_rpc_pending_request(const cairn_rpc_pending *p)
{
    return &p->req;
}

cairn_reply *cairn_rpc_pending_reply(cairn_rpc_pending *p)
{
    return &p->rep;
}

static void pending_done(cairn_rpc_server *s)
{
    pthread_mutex_lock(&s->pending_lock);
    if (--s->pending == 0)
        pthread_cond_broadcast(&s->pending_zero);
    pthread_mutex_unlock(&s->pending_lock);
}

/* The reply was handed to the pipe (or could not be): the context and the aio go. Runs on an
 * nng thread, so the aio is reaped rather than freed. */
static void pending_sent(void *arg)
{
    cairn_rpc_pending *p = arg;
    cairn_rpc_server *s = p->srv;
    if (nng_aio_result(p->aio) != 0)
        nng_msg_free(nng_aio_get_msg(p->aio));
    nng_ctx_close(p->ctx);
    nng_aio_reap(p->aio);
    free(p);
    pending_done(s);
}

void cairn_rpc_pending_finish(cairn_rpc_pending *p)
{
    cairn_rpc_server *s = p->srv;
    size_t len = 0;
    char *out = encode_reply(s, &p->rep, p->type_slot, &p->t0, &len);
    cairn_request_free(&p->req);
    cairn_reply_free(&p->rep);
    nng_msg *msg = NULL;
    if (out && nng_msg_alloc(&msg, 0) == 0 && nng_msg_append(msg, out, len) == 0) {
        free(out);
        nng_aio_set_msg(p->aio, msg);
        nng_ctx_send(p->ctx, p->aio); /* pending_sent runs when it is done */
        return;
    }
    free(out);
    if (msg)
        nng_msg_free(msg);
    nng_ctx_close(p->ctx); /* no reply: the caller times out */
    nng_aio_free(p->aio);
    free(p);
    pending_done(s);
}

/* Offers a decoded request to the deferrer. true: it took the request, and w->ctx now belongs to
 * the pending reply (the worker opens a fresh one). */
static bool try_defer(rpc_worker *w, cairn_request *req, int type_slot, const struct timespec *t0)
{
    cairn_rpc_server *s = w->srv;
    if (!s->deferrer)
        return false;
    cairn_rpc_pending *p = calloc(1, sizeof *p);
    if (!p)
        return false;
    if (nng_aio_alloc(&p->aio, pending_sent, p) != 0) {
        free(p);
        return false;
    }
    p->srv = s;
    p->ctx = w->ctx;
    p->t0 = *t0;
    p->type_slot = type_slot;
    p->req = *req;
    cairn_reply_init(&p->rep);
    nng_ctx fresh;
    if (nng_ctx_open(&fresh, s->sock) != 0) {
        nng_aio_free(p->aio);
        free(p);
        return false;
    }
    pthread_mutex_lock(&s->pending_lock);
    s->pending++;
    pthread_mutex_unlock(&s->pending_lock);
    if (!s->deferrer(s->arg, p)) {
        nng_ctx_close(fresh);
        *req = p->req;
        nng_aio_free(p->aio);
        free(p);
        pending_done(s);
        return false;
    }
    w->ctx = fresh;
    return true;
}

/* Decodes and handles one request. Returns the encoded reply (malloc'd), or NULL with *deferred
 * set when the deferrer took it (its reply comes later), or NULL if even an error reply could not
 * be encoded. */
static char *serve_one(rpc_worker *w, const void *body, size_t body_len, size_t *out_len,
                       bool *deferred)
{
    cairn_rpc_server *s = w->srv;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cairn_request req;
    cairn_reply rep;
    cairn_status st;
    int type_slot;
    *deferred = false;
    cairn_reply_init(&rep);
    if (cairn_request_decode(body, body_len, &req, &st) != CAIRN_OK) {
        type_slot = CAIRN_MSG__END;
        st.code = CAIRN_E_DECODE; /* whatever the decoder said, the reply code is DECODE */
        cairn_reply_set_status(&rep, &st);
        log_debug("rpc %s: undecodable request: %s", s->url, st.message);
    } else {
        type_slot = (req.type > 0 && req.type < CAIRN_MSG__END) ? (int)req.type : 0;
        if (try_defer(w, &req, type_slot, &t0)) {
            *deferred = true;
            return NULL;
        }
        s->handler(s->arg, &req, &rep);
        cairn_request_free(&req);
    }
    char *out = encode_reply(s, &rep, type_slot, &t0, out_len);
    cairn_reply_free(&rep);
    return out;
}

static void *worker_main(void *p)
{
    rpc_worker *w = p;
    for (;;) {
        nng_ctx_recv(w->ctx, w->aio);
        nng_aio_wait(w->aio);
        int rv = nng_aio_result(w->aio);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0)
            continue;
        nng_msg *msg = nng_aio_get_msg(w->aio);
        size_t len = 0;
        bool deferred;
        char *out = serve_one(w, nng_msg_body(msg), nng_msg_len(msg), &len, &deferred);
        nng_msg_clear(msg);
        if (deferred || !out || nng_msg_append(msg, out, len) != 0) {
            free(out);
            nng_msg_free(msg);
            continue;
        }
        free(out);
        nng_aio_set_msg(w->aio, msg);
        nng_ctx_send(w->ctx, w->aio);
        nng_aio_wait(w->aio);
        if ((rv = nng_aio_result(w->aio)) != 0) {
            nng_msg_free(nng_aio_get_msg(w->aio));
            if (rv == NNG_ECLOSED)
                break;
        }
    }
    return NULL;
}

cairn_rpc_server *cairn_rpc_server_start(const char *url, int workers, cairn_rpc_handler handler,
                                         void *arg, cairn_metrics *metrics, cairn_status *st)
{
    return cairn_rpc_server_start_deferring(url, workers, handler, NULL, arg, metrics, st);
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
    if (!s || !(s->url = strdup(url)) ||
        !(s->workers = calloc((size_t)workers, sizeof *s->workers))) {
        if (s)
            free(s->url);
        free(s);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    s->handler = handler;
    s->deferrer = deferrer;
    s->arg = arg;
    pthread_mutex_init(&s->pending_lock, NULL);
    pthread_cond_init(&s->pending_zero, NULL);
    s->metrics = metrics;
    s->worker_count = workers;
    int rv = nng_rep0_open(&s->sock);
    if (rv != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "cannot open a REP socket: %s", nng_strerror(rv));
        free(s->workers);
        free(s->url);
        free(s);
        return NULL;
    }
    if ((rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, RPC_MAX_MSG)) != 0 ||
        (rv = nng_listen(s->sock, url, NULL, 0)) != 0) {
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
    /* Each worker's context is closed and its thread joined before the socket goes: closing
     * a context completes its pending receive or send with NNG_ECLOSED, while closing the
     * socket under contexts still in use races inside nng (a destroyed mutex, seen about once
     * in 15 runs of the rpc tests under the sanitizers). */
    for (int i = 0; i < s->worker_count; i++) {
        rpc_worker *w = &s->workers[i];
        if (w->running) {
            nng_ctx_close(w->ctx);
            pthread_join(w->thread, NULL);
        }
        if (w->aio)
            nng_aio_free(w->aio);
    }
    /* Deferred requests still get their replies (the socket is still open): their owner (the
     * registry's writer) finishes every request it took before it stops. */
    pthread_mutex_lock(&s->pending_lock);
    while (s->pending > 0)
        pthread_cond_wait(&s->pending_zero, &s->pending_lock);
    pthread_mutex_unlock(&s->pending_lock);
    nng_close(s->sock);
    pthread_cond_destroy(&s->pending_zero);
    pthread_mutex_destroy(&s->pending_lock);
    free(s->workers);
    free(s->url);
    free(s);
}
