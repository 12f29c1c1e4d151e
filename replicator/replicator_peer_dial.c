/* One peer's dialing side: a REQ socket with its own dialer and one context, so a dead or slow
 * peer holds up nothing but its own PING. The PING is a state machine on one aio (send, then
 * receive within what is left of the timeout); its callback runs on an nng thread, checks the
 * PONG's envelope (the MAC covers this PING's nonce) and posts the outcome to the loop. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "replicator.h"

static void on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    (void)pipe;
    repl_peer *p = arg;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add(&p->pipes, 1);
        atomic_store(&p->lost, false);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        int before = atomic_fetch_sub(&p->pipes, 1);
        if (before <= 1) {
            if (before < 1)
                atomic_store(&p->pipes, 0);
            atomic_store(&p->lost, true);
        }
    }
}

/* The PONG in msg, checked: from the peer we asked, to us, answering this PING. */
static bool check_pong(repl_peer *p, nng_msg *msg, cairn_peer_ping *pong, uint64_t *inc)
{
    replicator *r = p->r;
    cairn_peer_envelope env;
    char *body = NULL;
    size_t body_len = 0;
    cairn_status st;
    cairn_peer_verdict v =
        cairn_peer_guard_open(&r->guard, nng_msg_body(msg), nng_msg_len(msg), p->nonce,
                              cairn_wall_ms(), &env, &body, &body_len, &st);
    const char *want = r->cfg.members[p->idx].id;
    if (v == CAIRN_PEER_ACCEPTED && (env.type != CAIRN_PEER_PONG || strcmp(env.from, want) != 0)) {
        v = CAIRN_PEER_BAD_FORMAT;
        cairn_fail(&st, CAIRN_E_DECODE, "answer to a PING to %s is a %s from %s", want,
                   cairn_peer_type_name(env.type), env.from);
    }
    if (v == CAIRN_PEER_ACCEPTED && cairn_peer_ping_decode(body, body_len, pong, &st) != CAIRN_OK)
        v = CAIRN_PEER_BAD_FORMAT;
    free(body);
    if (v != CAIRN_PEER_ACCEPTED) {
        repl_count_refusal(r, v, "an answer to a PING", &st);
        return false;
    }
    *inc = env.incarnation;
    return true;
}

static void on_aio(void *arg)
{
    repl_peer *p = arg;
    int rv = nng_aio_result(p->aio);
    if (p->sending) {
        p->sending = false;
        int64_t left = p->sent_ms + p->timeout_ms - repl_now_ms();
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(p->aio));
            nng_aio_set_msg(p->aio, NULL);
        } else if (left > 0) {
            nng_aio_set_timeout(p->aio, (nng_duration)left);
            nng_ctx_recv(p->ctx, p->aio);
            return;
        }
        repl_loop_ping_done(p->r, p->idx, false, NULL, 0);
        return;
    }
    cairn_peer_ping pong;
    uint64_t inc = 0;
    bool ok = false;
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(p->aio);
        ok = check_pong(p, msg, &pong, &inc);
        nng_msg_free(msg);
    }
    repl_loop_ping_done(p->r, p->idx, ok, ok ? &pong : NULL, inc);
}

cairn_err repl_peer_open(replicator *r, repl_peer *p, size_t idx, cairn_status *st)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    p->idx = idx;
    int rv = nng_req0_open(&p->sock);
    if (rv != 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "peer socket: %s", nng_strerror(rv));
    nng_duration reconn_max = r->cfg.ping_interval_ms < 1000 ? r->cfg.ping_interval_ms : 1000;
    if ((rv = nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, CAIRN_PEER_MAX_BYTES)) != 0 ||
        (rv = nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 20)) != 0 ||
        (rv = nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, reconn_max)) != 0 ||
        (rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_POST, on_pipe, p)) != 0 ||
        (rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, on_pipe, p)) != 0 ||
        (rv = nng_ctx_open(&p->ctx, p->sock)) != 0 ||
        (rv = nng_aio_alloc(&p->aio, on_aio, p)) != 0) {
        nng_close(p->sock);
        return cairn_fail(st, CAIRN_E_INTERNAL, "peer socket: %s", nng_strerror(rv));
    }
    p->open = true;
    repl_peer_redial(p, r->members.m[idx].peer_address);
    return CAIRN_OK;
}

void repl_peer_redial(repl_peer *p, const char *address)
{
    if (p->dialer_open) {
        nng_dialer_close(p->dialer);
        p->dialer_open = false;
    }
    snprintf(p->dialed, sizeof p->dialed, "%s", address);
    char url[CAIRN_PEER_ID_MAX + 8];
    snprintf(url, sizeof url, "tcp://%s", address);
    int rv = nng_dialer_create(&p->dialer, p->sock, url);
    if (rv == 0)
        rv = nng_dialer_start(p->dialer, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        log_warn("peer %s: cannot dial %s: %s", p->r->cfg.members[p->idx].id, url,
                 nng_strerror(rv));
        return;
    }
    p->dialer_open = true;
}

void repl_peer_ping(repl_peer *p, int64_t now_ms, int timeout_ms)
{
    replicator *r = p->r;
    if (!p->open || p->busy)
        return;
    cairn_peer_ping ping;
    pthread_mutex_lock(&r->card.lock);
    ping = r->card.ping;
    pthread_mutex_unlock(&r->card.lock);
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_peer_ping_encode(&ping, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_PING, r->cfg.members[p->idx].id, NULL, body, body_len,
                        p->nonce);
    free(body);
    if (!msg) {
        log_error("cannot build a PING (out of memory)");
        return;
    }
    p->sent_ms = now_ms;
    p->timeout_ms = timeout_ms;
    p->busy = true;
    p->sending = true;
    cairn_counter_inc(r->metrics.pings_sent);
    nng_aio_set_msg(p->aio, msg);
    nng_aio_set_timeout(p->aio, timeout_ms);
    nng_ctx_send(p->ctx, p->aio);
}

void repl_peer_close(repl_peer *p)
{
    if (!p->open)
        return;
    nng_aio_stop(p->aio); /* its callback has run (and posted) when this returns */
    nng_close(p->sock);
    nng_aio_free(p->aio);
    p->open = false;
    p->dialer_open = false;
}
