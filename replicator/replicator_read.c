/* DISTRO_READ, both sides (replicator_read.h). */
#include "replicator_read.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "cairn_peer_read.h"
#include "replicator_sync.h"

/* Listener contexts waiting for the registry on a read: DISTRO_SYNC takes at most half of
 * them, reads a quarter, so PINGs are always answered. Past that a read is not answered and the
 * reader times out. */
#define MAX_DEFERRED_READS (REPL_PEER_BASE_WORKERS / 4)
static atomic_int deferred;

/* ---- the server side (nng threads) --------------------------------------------------------- */

typedef struct relayed {
    replicator *r;
    int worker;
    cairn_peer_envelope env; /* the request's: the reply answers its nonce */
} relayed;

/* The registry's reply sealed as DISTRO_READ_REPLY, or an error reply when it cannot be
 * encoded within a peer envelope; NULL when out of memory. */
static nng_msg *seal_reply(replicator *r, const cairn_peer_envelope *req, const cairn_reply *rep)
{
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    bool ok = cairn_reply_encode(rep, &body, &body_len) == CAIRN_OK;
    if (ok && body_len > CAIRN_PEER_MAX_BYTES - 1024) {
        free(body);
        body = NULL;
        cairn_reply too;
        cairn_reply_init(&too);
        too.code = CAIRN_E_LIMIT;
        too.message = strdup("the answer does not fit a peer message");
        ok = cairn_reply_encode(&too, &body, &body_len) == CAIRN_OK;
        cairn_reply_free(&too);
    }
    if (ok)
        msg = repl_seal(r, CAIRN_PEER_DISTRO_READ_REPLY, req->from, req->nonce, body, body_len,
                        NULL);
    free(body);
    return msg;
}

static void on_registry(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    relayed *x = arg;
    if (rc != CAIRN_OK) { /* the registry did not answer: say so, the reader gives up */
        cairn_reply_free(rep);
        rep->code = rc;
        rep->message = strdup(st->message);
    }
    repl_peer_server_reply(x->r, x->worker, seal_reply(x->r, &x->env, rep));
    cairn_reply_free(rep);
    atomic_fetch_sub(&deferred, 1);
    free(x);
}

nng_msg *repl_read_on_peer_read(replicator *r, int worker, const cairn_peer_envelope *env,
                                const char *body, size_t body_len, cairn_status *st)
{
    cairn_request rq;
    if (cairn_peer_read_decode(body, body_len, &rq, st) != CAIRN_OK) {
        cairn_request_free(&rq);
        return NULL;
    }
    cairn_rpc_client *registry = repl_sync_registry(r);
    relayed *x = calloc(1, sizeof *x);
    if (!x || !registry || atomic_fetch_add(&deferred, 1) >= MAX_DEFERRED_READS) {
        if (x)
            atomic_fetch_sub(&deferred, 1);
        free(x);
        cairn_request_free(&rq);
        cairn_reply busy;
        cairn_reply_init(&busy);
        busy.code = CAIRN_E_UNAVAILABLE;
        busy.message = strdup("busy: too many reads in flight");
        nng_msg *msg = seal_reply(r, env, &busy);
        cairn_reply_free(&busy);
        if (!msg)
            cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return msg;
    }
    *x = (relayed){.r = r, .worker = worker, .env = *env};
    cairn_rpc_call_async(registry, &rq, on_registry, x); /* encoded before it returns */
    cairn_request_free(&rq);
    return REPL_PEER_DEFERRED;
}

/* ---- the client side ------------------------------------------------------------------------ */

typedef struct read_call {
    replicator *r;
    size_t idx;
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
    int64_t deadline_ms;
    uint8_t nonce[CAIRN_PEER_NONCE_BYTES];
    repl_read_fn fn;
    void *arg;
    cairn_err rc;
    cairn_reply rep;
} read_call;

/* On the loop: the outcome to its caller, then the context and aio go. */
static void finish_on_loop(replicator *r, void *arg)
{
    read_call *c = arg;
    c->fn(r, c->arg, c->rc, &c->rep);
    cairn_reply_free(&c->rep);
    nng_aio_stop(c->aio); /* its callback may still be returning */
    nng_aio_free(c->aio);
    nng_ctx_close(c->ctx);
    free(c);
}

/* The answer's envelope and body; sets c->rc and c->rep. nng thread. */
static void take_answer(read_call *c, nng_msg *msg)
{
    replicator *r = c->r;
    cairn_peer_envelope env;
    char *body = NULL;
    size_t body_len = 0;
    cairn_status st;
    cairn_peer_verdict v = cairn_peer_guard_open(&r->guard, nng_msg_body(msg), nng_msg_len(msg),
                                                 c->nonce, cairn_wall_ms(), &env, &body,
                                                 &body_len, &st);
    const char *want = r->cfg.members[c->idx].id;
    if (v == CAIRN_PEER_ACCEPTED &&
        (env.type != CAIRN_PEER_DISTRO_READ_REPLY || strcmp(env.from, want) != 0)) {
        v = CAIRN_PEER_BAD_FORMAT;
        cairn_fail(&st, CAIRN_E_DECODE, "answer to a DISTRO_READ to %s is a %s from %s", want,
                   cairn_peer_type_name(env.type), env.from);
    }
    if (v == CAIRN_PEER_ACCEPTED && cairn_reply_decode(body, body_len, &c->rep, &st) != CAIRN_OK)
        v = CAIRN_PEER_BAD_FORMAT;
    free(body);
    if (v != CAIRN_PEER_ACCEPTED) {
        repl_count_refusal(r, v, "an answer to a DISTRO_READ", &st);
        cairn_reply_init(&c->rep);
        c->rc = CAIRN_E_DECODE;
        return;
    }
    c->rc = CAIRN_OK;
}

static void on_call_aio(void *arg)
{
    read_call *c = arg;
    int rv = nng_aio_result(c->aio);
    if (c->sending) {
        c->sending = false;
        int64_t left = c->deadline_ms - repl_now_ms();
        if (rv == 0 && left > 0) {
            nng_aio_set_timeout(c->aio, (nng_duration)left);
            nng_ctx_recv(c->ctx, c->aio);
            return;
        }
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(c->aio));
            nng_aio_set_msg(c->aio, NULL);
        }
        c->rc = CAIRN_E_UNAVAILABLE;
    } else if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(c->aio);
        take_answer(c, msg);
        nng_msg_free(msg);
    } else {
        c->rc = CAIRN_E_UNAVAILABLE;
    }
    replicator_post(c->r, finish_on_loop, c);
}

/* Seals rq for member idx into a new message; NULL on failure. */
static nng_msg *seal_request(replicator *r, size_t idx, const cairn_request *rq, uint8_t *nonce)
{
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_request_encode(rq, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_DISTRO_READ, r->cfg.members[idx].id, NULL, body, body_len,
                        nonce);
    free(body);
    return msg;
}

void repl_read_call(replicator *r, size_t idx, const cairn_request *rq, int timeout_ms,
                    repl_read_fn fn, void *arg)
{
    read_call *c = calloc(1, sizeof *c);
    repl_peer *p = &r->peers[idx];
    nng_msg *msg = NULL;
    bool ctx = false;
    if (c && p->open && !r->stopping && nng_ctx_open(&c->ctx, p->sock) == 0) {
        ctx = true;
        if (nng_aio_alloc(&c->aio, on_call_aio, c) == 0)
            msg = seal_request(r, idx, rq, c->nonce);
    }
    if (!msg) {
        cairn_reply none;
        cairn_reply_init(&none);
        fn(r, arg, CAIRN_E_UNAVAILABLE, &none);
        if (c) {
            nng_aio_free(c->aio);
            if (ctx)
                nng_ctx_close(c->ctx);
        }
        free(c);
        return;
    }
    c->r = r;
    c->idx = idx;
    c->sending = true;
    c->deadline_ms = repl_now_ms() + timeout_ms;
    c->fn = fn;
    c->arg = arg;
    cairn_reply_init(&c->rep);
    nng_aio_set_msg(c->aio, msg);
    nng_aio_set_timeout(c->aio, timeout_ms);
    nng_ctx_send(c->ctx, c->aio);
}
