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

#include "cairn_batch.h"
#include "cairn_clock.h"
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
/* A call waiting for a free exchange (batching clients, cairn_rpc_client_batch). */
typedef struct rpc_queued {
    char *buf; /* the encoded request */
    size_t len;
    int64_t deadline_ms;
    cairn_rpc_done done;
    void *arg;
    struct rpc_queued *next;
} rpc_queued;

typedef struct rpc_call {
    cairn_rpc_client *client;
    nng_ctx ctx;
    nng_aio *aio;
    bool receiving; /* the send is done; the aio now waits for the reply */
    int64_t deadline_ms;
    cairn_rpc_done done; /* a single call's; NULL for a batch */
    void *arg;
    rpc_queued *parts; /* a batch's calls, in the order of their parts */
    size_t part_count;
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
    /* Batching (cairn_rpc_client_batch); max_exchanges 0: every call is its own exchange.
     * Guarded by pool_lock. */
    int max_exchanges;
    size_t max_parts;
    int exchanges; /* in flight */
    rpc_queued *queue_head, *queue_tail;
    bool closing; /* queued calls fail rather than go out */
    /* Threads between deciding to send (closing not yet set) and the send started: close waits
     * for none to be left before it closes the socket, since nng 1.5.2 can panic on a context
     * send that races the socket's close (test_rpc saw it under the sanitizers). */
    int sending;
    pthread_cond_t sent;
};

/* A send decided under pool_lock (sending counted there) has started. */
static void sending_done(cairn_rpc_client *c)
{
    pthread_mutex_lock(&c->pool_lock);
    if (--c->sending == 0 && c->closing)
        pthread_cond_broadcast(&c->sent);
    pthread_mutex_unlock(&c->pool_lock);
}

static int64_t now_ms(void);
static cairn_err unavailable(cairn_rpc_client *c, int rv, cairn_status *st);

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
    pthread_cond_init(&c->sent, NULL);
    int rv = nng_req0_open(&c->sock);
    if (rv != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "%s: cannot open a REQ socket: %s", c->peer,
                   nng_strerror(rv));
        pthread_cond_destroy(&c->sent);
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
    /* Calls in flight end with NNG_ECLOSED; freeing an aio waits for its callback. Queued calls
     * (batching) fail from here on instead of taking an exchange. */
    pthread_mutex_lock(&c->pool_lock);
    c->closing = true;
    while (c->sending > 0)
        pthread_cond_wait(&c->sent, &c->pool_lock);
    pthread_mutex_unlock(&c->pool_lock);
    if (c->dial)
        cairn_dial_close(c->dial); /* closes the socket */
    else
        nng_close(c->sock);
    for (rpc_call *k = c->all_calls, *next; k; k = next) {
        next = k->next_all;
        nng_aio_free(k->aio);
        free(k);
    }
    /* A call still queued was started while the client closed: it never went out. */
    for (rpc_queued *q = c->queue_head, *next; q; q = next) {
        next = q->next;
        cairn_reply rep;
        cairn_status st;
        cairn_reply_init(&rep);
        q->done(q->arg, unavailable(c, NNG_ECLOSED, &st), &rep, &st);
        cairn_reply_free(&rep);
        free(q->buf);
        free(q);
    }
    pthread_cond_destroy(&c->sent);
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

/* req encoded, in *buf (malloc'd). */
static cairn_err encode_bytes(cairn_rpc_client *c, const cairn_request *req, char **buf,
                              size_t *len, cairn_status *st)
{
    cairn_err err = cairn_request_encode(req, buf, len);
    if (err != CAIRN_OK)
        return cairn_fail(st, err, "cannot encode the request for %s (%s)", c->peer,
                          cairn_err_name(err));
    return CAIRN_OK;
}

/* len bytes as an nng message in *msg; buf is freed in every case. */
static cairn_err message_of(cairn_rpc_client *c, char *buf, size_t len, nng_msg **msg,
                            cairn_status *st)
{
    int rv = nng_msg_alloc(msg, 0);
    if (rv == 0 && (rv = nng_msg_append(*msg, buf, len)) != 0)
        nng_msg_free(*msg);
    free(buf);
    if (rv != 0)
        return cairn_fail(st, CAIRN_E_NOMEM, "cannot build a request for %s: %s", c->peer,
                          nng_strerror(rv));
    return CAIRN_OK;
}

/* req as an nng message in *msg. */
static cairn_err encode_request(cairn_rpc_client *c, const cairn_request *req, nng_msg **msg,
                                cairn_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    cairn_err err = encode_bytes(c, req, &buf, &len, st);
    return err != CAIRN_OK ? err : message_of(c, buf, len, msg, st);
}

/* The call's result from an encoded reply: a decode failure, the peer's own error code, or OK. */
static cairn_err decode_reply_bytes(cairn_rpc_client *c, const char *buf, size_t len,
                                    cairn_reply *rep, cairn_status *st)
{
    cairn_status dst;
    cairn_err err = cairn_reply_decode(buf, len, rep, &dst);
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

/* The same from the reply message (consumed). */
static cairn_err decode_reply(cairn_rpc_client *c, nng_msg *reply, cairn_reply *rep,
                              cairn_status *st)
{
    cairn_err err = decode_reply_bytes(c, nng_msg_body(reply), nng_msg_len(reply), rep, st);
    nng_msg_free(reply);
    return err;
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

/* ---- asynchronous calls -------------------------------------------------------------------
 * Each call is an exchange (a context and an aio) driven by its aio's callback. A batching client
 * keeps at most max_exchanges in flight: a call made while they are all busy waits in the queue,
 * and the next exchange to end sends every queued call (up to max_parts) as one batch
 * (cairn_batch.h). Under a light load each call therefore still goes out at once on its own;
 * under a heavy one the batches grow with the load, and the two roles pay their per-message
 * costs once per batch instead of once per call. */

static void pump(cairn_rpc_client *c);

/* Tells one call its outcome. */
static void tell(cairn_rpc_done done, void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    done(arg, rc, rep, st);
    cairn_reply_free(rep);
}

/* Every call of a batch fails alike. */
static void fail_parts(rpc_queued *parts, size_t n, cairn_err rc, const cairn_status *st)
{
    for (size_t i = 0; i < n; i++) {
        cairn_reply rep;
        cairn_reply_init(&rep);
        cairn_status each = *st;
        tell(parts[i].done, parts[i].arg, rc, &rep, &each);
    }
}

/* A batch's reply (consumed) handed out to its calls, each its own part. */
static void answer_parts(cairn_rpc_client *c, rpc_queued *parts, size_t n, nng_msg *reply)
{
    const char *body = nng_msg_body(reply);
    size_t len = nng_msg_len(reply);
    cairn_status st;
    cairn_status_clear(&st);
    if (!cairn_batch_is(body, len)) {
        /* One reply for the whole batch: the peer refused it (undecodable, or an old peer). */
        cairn_reply rep;
        cairn_reply_init(&rep);
        cairn_err rc = decode_reply(c, reply, &rep, &st);
        cairn_reply_free(&rep);
        if (rc == CAIRN_OK)
            rc = cairn_fail(&st, CAIRN_E_DECODE, "%s answered a batch with one reply", c->peer);
        fail_parts(parts, n, rc, &st);
        return;
    }
    cairn_batch_part *answers = NULL;
    size_t count = 0;
    cairn_err rc = cairn_batch_decode(body, len, &answers, &count, &st);
    if (rc == CAIRN_OK && count != n)
        rc = cairn_fail(&st, CAIRN_E_DECODE, "%s answered %zu of a batch of %zu", c->peer,
                        count, n);
    if (rc != CAIRN_OK) {
        cairn_status dst = st;
        cairn_fail(&st, CAIRN_E_DECODE, "%s sent an undecodable reply: %s", c->peer,
                   dst.message);
        fail_parts(parts, n, CAIRN_E_DECODE, &st);
    } else {
        for (size_t i = 0; i < n; i++) {
            cairn_reply rep;
            cairn_reply_init(&rep);
            cairn_status_clear(&st);
            cairn_err each = decode_reply_bytes(c, answers[i].data, answers[i].len, &rep, &st);
            tell(parts[i].done, parts[i].arg, each, &rep, &st);
        }
    }
    free(answers);
    nng_msg_free(reply);
}

/* Ends an exchange: the outcome goes to its call (or its batch's calls), then the exchange back
 * to the pool (last: once it is there another call may take it), and queued calls go out. */
static void call_finish(rpc_call *k, int rv, nng_msg *reply)
{
    cairn_rpc_client *c = k->client;
    cairn_reply rep;
    cairn_status st;
    cairn_reply_init(&rep);
    cairn_status_clear(&st);
    if (k->parts) {
        if (rv != 0)
            fail_parts(k->parts, k->part_count, unavailable(c, rv, &st), &st);
        else
            answer_parts(c, k->parts, k->part_count, reply);
        free(k->parts);
        k->parts = NULL;
        k->part_count = 0;
    } else {
        cairn_err rc = rv != 0 ? unavailable(c, rv, &st) : decode_reply(c, reply, &rep, &st);
        tell(k->done, k->arg, rc, &rep, &st);
    }
    pthread_mutex_lock(&c->pool_lock);
    k->next_free = c->free_calls;
    c->free_calls = k;
    bool batching = c->max_exchanges > 0;
    if (batching)
        c->exchanges--;
    pthread_mutex_unlock(&c->pool_lock);
    if (batching)
        pump(c);
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

/* Sends msg on exchange k (done/arg or parts set) with what is left until deadline. */
static void call_send(rpc_call *k, nng_msg *msg, int64_t deadline)
{
    int64_t left = deadline - now_ms();
    k->receiving = false;
    k->deadline_ms = deadline;
    nng_aio_set_timeout(k->aio, (nng_duration)(left > 0 ? left : 1));
    nng_aio_set_msg(k->aio, msg);
    /* A context reused after a timed-out call: the new send abandons the old request. */
    nng_ctx_send(k->ctx, k->aio);
}

/* Sends one call (buf taken) on an exchange of its own, or tells it why it could not. */
static void send_single(cairn_rpc_client *c, char *buf, size_t len, int64_t deadline,
                        cairn_rpc_done done, void *arg)
{
    cairn_reply rep;
    cairn_status st;
    cairn_reply_init(&rep);
    cairn_status_clear(&st);
    nng_msg *msg;
    cairn_err err = message_of(c, buf, len, &msg, &st);
    int rv = 0;
    rpc_call *k = err == CAIRN_OK ? call_take(c, &rv) : NULL;
    if (!k) {
        if (err == CAIRN_OK) {
            nng_msg_free(msg);
            err = unavailable(c, rv, &st);
        }
        tell(done, arg, err, &rep, &st);
        if (c->max_exchanges > 0) { /* the exchange it was counted as never started */
            pthread_mutex_lock(&c->pool_lock);
            c->exchanges--;
            pthread_mutex_unlock(&c->pool_lock);
            pump(c);
        }
        return;
    }
    k->done = done;
    k->arg = arg;
    call_send(k, msg, deadline);
}

/* Sends the n queued calls (taken, n >= 2) as one batch on one exchange. */
static void send_batch(cairn_rpc_client *c, rpc_queued *parts, size_t n)
{
    cairn_status st;
    cairn_status_clear(&st);
    cairn_batch_part bp[CAIRN_BATCH_MAX_PARTS];
    int64_t deadline = parts[0].deadline_ms;
    for (size_t i = 0; i < n; i++) {
        bp[i] = (cairn_batch_part){parts[i].buf, parts[i].len};
        if (parts[i].deadline_ms < deadline)
            deadline = parts[i].deadline_ms;
    }
    char *buf = NULL;
    size_t len = 0;
    nng_msg *msg = NULL;
    cairn_err err = cairn_batch_encode(bp, n, &buf, &len);
    for (size_t i = 0; i < n; i++) {
        free(parts[i].buf);
        parts[i].buf = NULL;
    }
    if (err != CAIRN_OK)
        cairn_fail(&st, err, "cannot build a batch for %s", c->peer);
    else
        err = message_of(c, buf, len, &msg, &st);
    int rv = 0;
    rpc_call *k = err == CAIRN_OK ? call_take(c, &rv) : NULL;
    if (!k) {
        if (err == CAIRN_OK) {
            nng_msg_free(msg);
            err = unavailable(c, rv, &st);
        }
        fail_parts(parts, n, err, &st);
        free(parts);
        pthread_mutex_lock(&c->pool_lock);
        c->exchanges--;
        pthread_mutex_unlock(&c->pool_lock);
        return; /* the caller's pump goes on */
    }
    k->parts = parts;
    k->part_count = n;
    call_send(k, msg, deadline);
}

/* While an exchange is free and calls wait: the waiting calls go out, as one batch when there are
 * several. Calls whose time ran out while they waited fail without going out. */
static void pump(cairn_rpc_client *c)
{
    for (;;) {
        pthread_mutex_lock(&c->pool_lock);
        if (!c->queue_head || (c->exchanges >= c->max_exchanges && !c->closing)) {
            pthread_mutex_unlock(&c->pool_lock);
            return;
        }
        if (c->closing) { /* the client is closing: fail the first waiting call */
            rpc_queued *q = c->queue_head;
            if (!(c->queue_head = q->next))
                c->queue_tail = NULL;
            pthread_mutex_unlock(&c->pool_lock);
            cairn_status st;
            cairn_reply rep;
            cairn_reply_init(&rep);
            tell(q->done, q->arg, unavailable(c, NNG_ECLOSED, &st), &rep, &st);
            free(q->buf);
            free(q);
            continue;
        }
        size_t n = 0;
        for (rpc_queued *q = c->queue_head; q && n < c->max_parts; q = q->next)
            n++;
        rpc_queued *parts = malloc(n * sizeof *parts);
        if (!parts) {
            pthread_mutex_unlock(&c->pool_lock);
            return; /* the next call or exchange to end tries again */
        }
        for (size_t i = 0; i < n; i++) {
            rpc_queued *q = c->queue_head;
            c->queue_head = q->next;
            parts[i] = *q;
            free(q);
        }
        if (!c->queue_head)
            c->queue_tail = NULL;
        c->exchanges++;
        c->sending++;
        pthread_mutex_unlock(&c->pool_lock);

        int64_t now = now_ms();
        size_t live = 0;
        for (size_t i = 0; i < n; i++) {
            if (parts[i].deadline_ms > now) {
                parts[live++] = parts[i];
                continue;
            }
            cairn_status st;
            cairn_reply rep;
            cairn_reply_init(&rep);
            tell(parts[i].done, parts[i].arg, unavailable(c, NNG_ETIMEDOUT, &st), &rep, &st);
            free(parts[i].buf);
        }
        if (live == 0) {
            free(parts);
            pthread_mutex_lock(&c->pool_lock);
            c->exchanges--;
            pthread_mutex_unlock(&c->pool_lock);
        } else if (live == 1) {
            rpc_queued one = parts[0];
            free(parts);
            send_single(c, one.buf, one.len, one.deadline_ms, one.done, one.arg);
        } else {
            send_batch(c, parts, live);
        }
        sending_done(c);
    }
}

void cairn_rpc_client_batch(cairn_rpc_client *c, int max_exchanges, size_t max_parts)
{
    pthread_mutex_lock(&c->pool_lock);
    c->max_exchanges = max_exchanges > 0 ? max_exchanges : 0;
    c->max_parts = max_parts < 1                       ? 1
                   : max_parts > CAIRN_BATCH_MAX_PARTS ? CAIRN_BATCH_MAX_PARTS
                                                       : max_parts;
    pthread_mutex_unlock(&c->pool_lock);
}

void cairn_rpc_call_async(cairn_rpc_client *c, const cairn_request *req, cairn_rpc_done done,
                          void *arg)
{
    cairn_reply rep;
    cairn_status st;
    cairn_reply_init(&rep);
    cairn_status_clear(&st);
    char *buf = NULL;
    size_t len = 0;
    cairn_err err = encode_bytes(c, req, &buf, &len, &st);
    if (err != CAIRN_OK) {
        tell(done, arg, err, &rep, &st);
        return;
    }
    int64_t deadline = now_ms() + c->timeout_ms;
    pthread_mutex_lock(&c->pool_lock);
    if (c->closing) {
        pthread_mutex_unlock(&c->pool_lock);
        free(buf);
        tell(done, arg, unavailable(c, NNG_ECLOSED, &st), &rep, &st);
        return;
    }
    if (c->max_exchanges == 0 || (c->exchanges < c->max_exchanges && !c->queue_head)) {
        if (c->max_exchanges > 0)
            c->exchanges++;
        c->sending++;
        pthread_mutex_unlock(&c->pool_lock);
        send_single(c, buf, len, deadline, done, arg);
        sending_done(c);
        return;
    }
    rpc_queued *q = malloc(sizeof *q);
    if (!q) {
        pthread_mutex_unlock(&c->pool_lock);
        free(buf);
        tell(done, arg, cairn_fail(&st, CAIRN_E_NOMEM, "out of memory"), &rep, &st);
        return;
    }
    *q = (rpc_queued){.buf = buf, .len = len, .deadline_ms = deadline, .done = done, .arg = arg};
    if (c->queue_tail)
        c->queue_tail->next = q;
    else
        c->queue_head = q;
    c->queue_tail = q;
    pthread_mutex_unlock(&c->pool_lock);
    pump(c); /* an exchange may have ended since the check */
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
    cairn_counter *batches;         /* batches served (their parts count as requests) */
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

/* A batch being answered (cairn_batch.h): its parts are requests of their own (cairn_rpc_pending
 * with a batch), finished in any order on any thread; the last to finish sends the batch's reply
 * on the exchange the batch arrived on. */
typedef struct rpc_batch {
    cairn_rpc_pending *exchange;
    pthread_mutex_t lock;
    size_t count, left;
    cairn_batch_part *replies; /* encoded replies (malloc'd data), in the order of the parts */
} rpc_batch;

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
    rpc_batch *batch; /* a part of this batch (no context or aio of its own), or NULL */
    size_t part;
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

/* Sends len bytes at out (taken) as the exchange's reply, without waiting. */
static void send_reply(cairn_rpc_pending *p, char *out, size_t len)
{
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

/* One part of a batch is answered (its encoded reply in out, taken; NULL when it could not be
 * encoded: the part is answered empty, which its caller cannot decode). The last part sends the
 * batch's reply. */
static void batch_part_done(rpc_batch *b, size_t part, char *out, size_t len)
{
    pthread_mutex_lock(&b->lock);
    b->replies[part] = (cairn_batch_part){out, out ? len : 0};
    bool last = --b->left == 0;
    pthread_mutex_unlock(&b->lock);
    if (!last)
        return;
    char *all = NULL;
    size_t all_len = 0;
    if (cairn_batch_encode(b->replies, b->count, &all, &all_len) != CAIRN_OK)
        log_error("rpc %s: cannot encode the reply to a batch of %zu", b->exchange->srv->url,
                  b->count);
    for (size_t i = 0; i < b->count; i++)
        free((char *)b->replies[i].data);
    cairn_rpc_pending *exchange = b->exchange;
    free(b->replies);
    pthread_mutex_destroy(&b->lock);
    free(b);
    send_reply(exchange, all, all_len);
}

void cairn_rpc_pending_finish(cairn_rpc_pending *p)
{
    size_t len = 0;
    char *out = encode_reply(p->srv, &p->rep, p->type_slot, &p->t0, &len);
    cairn_request_free(&p->req);
    cairn_reply_free(&p->rep);
    cairn_reply_init(&p->rep);
    if (p->batch) {
        rpc_batch *b = p->batch;
        size_t part = p->part;
        free(p);
        batch_part_done(b, part, out, len);
        return;
    }
    send_reply(p, out, len);
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
static void serve_one(cairn_rpc_server *s, cairn_rpc_pending *p, const void *body,
                      size_t body_len)
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

/* Answers an undecodable message with DECODE and msg on exchange p. */
static void refuse(cairn_rpc_server *s, cairn_rpc_pending *p, const cairn_status *why)
{
    cairn_status st = *why;
    p->type_slot = CAIRN_MSG__END;
    st.code = CAIRN_E_DECODE;
    cairn_reply_set_status(&p->rep, &st);
    log_debug("rpc %s: undecodable request: %s", s->url, st.message);
    cairn_rpc_pending_finish(p);
}

/* Serves each part of a batch as a request of its own; the exchange p is answered when the last
 * of them is (batch_part_done). The parts are read from body before this returns. */
static void serve_batch(cairn_rpc_server *s, cairn_rpc_pending *p, const void *body,
                        size_t body_len)
{
    cairn_status st;
    cairn_batch_part *parts = NULL;
    size_t n = 0;
    if (cairn_batch_decode(body, body_len, &parts, &n, &st) != CAIRN_OK) {
        refuse(s, p, &st);
        return;
    }
    rpc_batch *b = calloc(1, sizeof *b);
    cairn_rpc_pending **each = b ? calloc(n, sizeof *each) : NULL;
    if (b && !(b->replies = calloc(n, sizeof *b->replies)))
        each = (free(each), NULL);
    for (size_t i = 0; each && i < n; i++) {
        if (!(each[i] = calloc(1, sizeof *each[i]))) {
            for (size_t j = 0; j < i; j++)
                free(each[j]);
            each = (free(each), NULL);
        }
    }
    if (!each) {
        if (b)
            free(b->replies);
        free(b);
        free(parts);
        cairn_fail(&st, CAIRN_E_NOMEM, "out of memory for a batch of %zu", n);
        refuse(s, p, &st);
        return;
    }
    cairn_counter_inc(s->batches);
    pthread_mutex_init(&b->lock, NULL);
    b->exchange = p;
    b->count = b->left = n;
    for (size_t i = 0; i < n; i++) {
        cairn_rpc_pending *q = each[i];
        q->srv = s;
        q->batch = b;
        q->part = i;
        q->t0 = p->t0;
        cairn_request_init(&q->req, CAIRN_MSG_STATS);
        cairn_reply_init(&q->rep);
    }
    /* b may be gone once the last part is served: only each[] and parts[] are read from here. */
    for (size_t i = 0; i < n; i++)
        serve_one(s, each[i], parts[i].data, parts[i].len);
    free(each);
    free(parts);
}

static void serve(cairn_rpc_server *s, cairn_rpc_pending *p, const void *body, size_t body_len)
{
    if (cairn_batch_is(body, body_len))
        serve_batch(s, p, body, body_len);
    else
        serve_one(s, p, body, body_len);
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
    s->batches = cairn_metrics_counter(
        s->metrics, "rpc_batches_total",
        "Batches of requests served as one message (each part also counts in rpc_requests_total).",
        NULL);
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
    cairn_cond_init_monotonic(&s->idle);
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
    for (int waited_s = 0; s->in_flight > 0;) {
        struct timespec until = cairn_monotonic_after_ms(5000);
        if (pthread_cond_timedwait(&s->idle, &s->lock, &until) != 0 && s->in_flight > 0)
            log_warn("rpc %s: stopping, still waiting after %d s for %zu requests taken but not "
                     "answered", s->url, waited_s += 5, s->in_flight);
    }
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
