/* The peer listener (cluster.peer_listen): an nng tcp REP socket with several contexts, each a
 * receive → check → answer state machine on its own aio. A PING that passes every rule of
 * cairn_peer.h gets a PONG at once, built from the self card; what it told about its sender is
 * posted to the loop. Anything else is counted (auth_failures_total{channel="peer",reason}) and
 * left unanswered: the context just receives again, and the sender times out. Bytes that are not
 * even nng's SP framing (a port scanner, garbage) never reach here: nng drops the connection. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "replicator.h"
#include "replicator_forward.h"
#include "replicator_submit.h"
#include "replicator_read.h"
#include "replicator_sync.h"

typedef struct peer_worker {
    replicator *r;
    int n;
    bool replying;
} peer_worker;

static peer_worker workers[REPL_PEER_WORKERS]; /* one replicator per process */

/* The member index of an identity (the config is read-only: any thread), or -1. */
static int member_index(const cairn_cluster_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->count; i++)
        if (strcmp(cfg->members[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* The PONG for an accepted PING, into a new nng message (NULL on failure). */
static nng_msg *build_pong(replicator *r, const cairn_peer_envelope *req)
{
    cairn_peer_ping card;
    pthread_mutex_lock(&r->card.lock);
    card = r->card.ping;
    pthread_mutex_unlock(&r->card.lock);
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_peer_ping_encode(&card, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_PONG, req->from, req->nonce, body, body_len, NULL);
    free(body);
    return msg;
}

nng_msg *repl_seal(replicator *r, cairn_peer_type type, const char *to,
                   const uint8_t *answer_nonce, const char *body, size_t body_len,
                   uint8_t *nonce_out)
{
    cairn_peer_envelope env;
    cairn_peer_envelope_init(&env, type, r->cfg.members[r->cfg.self].id, to, r->incarnation,
                             cairn_wall_ms());
    char *buf = NULL;
    size_t len = 0;
    nng_msg *msg = NULL;
    bool ok = cairn_peer_guard_seal(&r->guard, &env, answer_nonce, body, body_len, &buf, &len) ==
                  CAIRN_OK &&
              len <= CAIRN_PEER_MAX_BYTES && nng_msg_alloc(&msg, 0) == 0 &&
              nng_msg_append(msg, buf, len) == 0;
    free(buf);
    if (!ok) {
        nng_msg_free(msg);
        return NULL;
    }
    if (nonce_out)
        memcpy(nonce_out, env.nonce, CAIRN_PEER_NONCE_BYTES);
    return msg;
}

/* A PING: what it tells goes to the loop; the answer is a PONG from the self card. */
static nng_msg *on_ping(replicator *r, int worker, const cairn_peer_envelope *env,
                        const char *body, size_t body_len, cairn_status *st)
{
    (void)worker;
    cairn_peer_ping ping;
    if (cairn_peer_ping_decode(body, body_len, &ping, st) != CAIRN_OK)
        return NULL;
    int idx = member_index(&r->cfg, env->from); /* known: the guard checked it */
    if (idx >= 0)
        repl_loop_heard_ping(r, (size_t)idx, &ping, env->incarnation);
    return build_pong(r, env);
}

/* What each peer request does, by type: the one table a new peer request (FORWARD,
 * RAFT_FORWARD) joins. A handler returns the reply, REPL_PEER_DEFERRED (worker's reply comes
 * later, repl_peer_server_reply), or NULL with *st set when the body is bad. */
typedef nng_msg *(*peer_handler)(replicator *r, int worker, const cairn_peer_envelope *env,
                                 const char *body, size_t body_len, cairn_status *st);
static const peer_handler handlers[CAIRN_PEER__END] = {
    [CAIRN_PEER_PING] = on_ping,
    [CAIRN_PEER_DISTRO_SYNC] = repl_sync_on_peer_sync,
    [CAIRN_PEER_FORWARD] = repl_forward_on_peer,
    [CAIRN_PEER_RAFT_FORWARD] = repl_submit_on_peer_forward,
    [CAIRN_PEER_DISTRO_READ] = repl_read_on_peer_read,
};

/* Counts a refusal; logs the 1st, 2nd, 4th, 8th... of each reason, so a flood cannot flood
 * the log. */
void repl_count_refusal(replicator *r, cairn_peer_verdict v, const char *what,
                        const cairn_status *st)
{
    cairn_counter_inc(r->metrics.auth_failures[v]);
    uint64_t n = cairn_counter_value(r->metrics.auth_failures[v]);
    if ((n & (n - 1)) == 0)
        log_warn("%s refused (%s, %llu so far): %s", what, cairn_peer_verdict_name(v),
                 (unsigned long long)n, st->message);
}

/* Checks one request; returns the reply to send, or NULL (refused, counted). */
static nng_msg *handle(replicator *r, int worker, nng_msg *in)
{
    cairn_peer_envelope env;
    char *body = NULL;
    size_t body_len = 0;
    cairn_status st;
    cairn_peer_verdict v = cairn_peer_guard_open(&r->guard, nng_msg_body(in), nng_msg_len(in),
                                                 NULL, cairn_wall_ms(), &env, &body, &body_len,
                                                 &st);
    nng_msg *out = NULL;
    if (v == CAIRN_PEER_ACCEPTED) {
        peer_handler h = handlers[env.type]; /* type < CAIRN_PEER__END: the decoder checked */
        if (!h)
            cairn_fail(&st, CAIRN_E_DECODE, "a %s is not a request",
                       cairn_peer_type_name(env.type));
        else
            out = h(r, worker, &env, body, body_len, &st);
        if (!out)
            v = CAIRN_PEER_BAD_FORMAT;
    }
    free(body);
    if (v != CAIRN_PEER_ACCEPTED)
        repl_count_refusal(r, v, "peer message", &st);
    return out;
}

static void on_peer_aio(void *arg)
{
    peer_worker *w = arg;
    replicator *r = w->r;
    nng_aio *aio = r->peer_aio[w->n];
    int rv = nng_aio_result(aio);
    if (w->replying) {
        w->replying = false;
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(aio));
    } else if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
        return;
    } else if (rv == 0) {
        nng_msg *in = nng_aio_get_msg(aio);
        nng_msg *out = handle(r, w->n, in);
        nng_msg_free(in);
        if (out == REPL_PEER_DEFERRED)
            return; /* the context waits for repl_peer_server_reply */
        if (out) {
            w->replying = true;
            nng_aio_set_msg(aio, out);
            nng_aio_set_timeout(aio, 2000); /* a peer that stopped reading costs one context */
            nng_ctx_send(r->peer_ctx[w->n], aio);
            return;
        }
    }
    if (rv == NNG_ECLOSED)
        return;
    nng_aio_set_timeout(aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(r->peer_ctx[w->n], aio);
}

void repl_peer_server_reply(replicator *r, int worker, nng_msg *reply)
{
    peer_worker *w = &workers[worker];
    nng_aio *aio = r->peer_aio[worker];
    if (reply) {
        w->replying = true;
        nng_aio_set_msg(aio, reply);
        nng_aio_set_timeout(aio, 2000);
        nng_ctx_send(r->peer_ctx[worker], aio);
        return;
    }
    nng_aio_set_timeout(aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(r->peer_ctx[worker], aio);
}

/* The address peers are told: what was bound, with a wildcard host replaced by this member's
 * host (cluster-design §2.2). */
static void advertise(const char *host, uint16_t port, const char *member_host, char *out,
                      size_t len)
{
    cairn_cluster_format_address(cairn_cluster_host_is_wildcard(host) ? member_host : host, port,
                                 out, len);
}

cairn_err repl_peer_server_start(replicator *r, cairn_status *st)
{
    char addr[CAIRN_PEER_ID_MAX], url[CAIRN_PEER_ID_MAX + 8];
    cairn_cluster_format_address(r->cfg.peer_host[0] ? r->cfg.peer_host : "0.0.0.0",
                                 r->cfg.peer_port, addr, sizeof addr);
    snprintf(url, sizeof url, "tcp://%s", addr);
    nng_listener l;
    int rv = nng_rep0_open(&r->peer_rep);
    if (rv == 0)
        r->peer_rep_open = true;
    if (rv == 0 && (rv = nng_socket_set_size(r->peer_rep, NNG_OPT_RECVMAXSZ,
                                              CAIRN_PEER_MAX_BYTES)) == 0 &&
        (rv = nng_listener_create(&l, r->peer_rep, url)) == 0)
        rv = nng_listener_start(l, 0);
    int port = 0;
    if (rv == 0)
        rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
    /* not a configuration error (78): a port still held by a process on its way out is free
     * again when the supervisor restarts the role */
    if (rv != 0)
        return cairn_fail(st, CAIRN_E_UNAVAILABLE, "cluster.peer_listen: cannot listen on %s: %s",
                          addr, nng_strerror(rv));
    const char *member_host = r->cfg.members[r->cfg.self].host;
    advertise(r->cfg.peer_host, (uint16_t)port, member_host, r->peer_bound,
              sizeof r->peer_bound);
    /* the raft listener is the raft module's; until it exists its configured address is
     * advertised as is (port 0: not yet known, shown as configured) */
    advertise(r->cfg.raft_host, r->cfg.raft_port, member_host, r->raft_advertised,
              sizeof r->raft_advertised);
    r->peer_workers = REPL_PEER_WORKERS;
    for (int i = 0; i < r->peer_workers; i++) {
        workers[i] = (peer_worker){r, i, false};
        if ((rv = nng_ctx_open(&r->peer_ctx[i], r->peer_rep)) != 0 ||
            (rv = nng_aio_alloc(&r->peer_aio[i], on_peer_aio, &workers[i])) != 0) {
            r->peer_workers = i;
            return cairn_fail(st, CAIRN_E_INTERNAL, "peer listener: %s", nng_strerror(rv));
        }
        nng_ctx_recv(r->peer_ctx[i], r->peer_aio[i]);
    }
    log_info("peer listener on %s (advertised %s)", addr, r->peer_bound);
    return CAIRN_OK;
}

void repl_peer_server_stop(replicator *r)
{
    if (!r->peer_rep_open)
        return;
    for (int i = 0; i < r->peer_workers; i++)
        nng_aio_stop(r->peer_aio[i]);
    nng_close(r->peer_rep);
    for (int i = 0; i < r->peer_workers; i++)
        nng_aio_free(r->peer_aio[i]);
    r->peer_rep_open = false;
    r->peer_workers = 0;
}
