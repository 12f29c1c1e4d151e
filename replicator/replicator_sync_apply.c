/* Distro sync, the receiver's side (cluster-design §2.5 steps 5-6): a DISTRO_SYNC from a peer
 * is checked on the listener's nng thread, its apply mode is chosen on the loop from this
 * node's own ownership view (cairn_distro_mode_for), the registry applies it (DISTRO_APPLY,
 * async rpc) and the ack goes back on the listener's waiting context (at most MAX_DEFERRED
 * contexts wait at once). One mode per batch: OWNER
 * when every state's sender owns it or this node does not; otherwise SAME_ORIGIN for the whole
 * batch (the views disagree: only a newer state of the same writer is taken). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_distro_rules.h"
#include "cairn_log.h"
#include "cairn_peer_distro.h"
#include "replicator_sync.h"

/* Listener contexts waiting for an apply; at most half of them, so PINGs are always answered
 * (one replicator per process). Past that a DISTRO_SYNC is answered UNAVAILABLE at once and the
 * sender backs off. */
#define MAX_DEFERRED (REPL_PEER_BASE_WORKERS / 2)
static atomic_int deferred;

typedef struct incoming {
    replicator *r;
    int worker;
    cairn_peer_envelope env; /* the DISTRO_SYNC's: the ack answers its nonce */
    cairn_request req;       /* DISTRO_APPLY */
} incoming;

/* ack sealed as the answer to the DISTRO_SYNC req, into a new nng message (NULL: out of
 * memory). Any thread. */
static nng_msg *build_ack(replicator *r, const cairn_peer_envelope *req,
                          const cairn_peer_sync_ack *ack)
{
    char *body = NULL;
    size_t body_len = 0;
    nng_msg *msg = NULL;
    if (cairn_peer_sync_ack_encode(ack, &body, &body_len) == CAIRN_OK)
        msg = repl_seal(r, CAIRN_PEER_DISTRO_SYNC_ACK, req->from, req->nonce, body, body_len,
                        NULL);
    free(body);
    return msg;
}

static void incoming_free(incoming *in)
{
    atomic_fetch_sub(&deferred, 1);
    cairn_request_free(&in->req);
    free(in);
}

/* Hands the ack to the waiting context. Any thread. */
static void answer(incoming *in, const cairn_peer_sync_ack *ack)
{
    repl_peer_server_reply(in->r, in->worker, build_ack(in->r, &in->env, ack));
    incoming_free(in);
}

static void on_applied(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    incoming *in = arg;
    cairn_peer_sync_ack ack = {.code = (uint32_t)rc};
    for (uint32_t i = 0; rc == CAIRN_OK && i < rep->outcome_count; i++) {
        if (rep->outcomes[i] == CAIRN_DISTRO_APPLIED)
            ack.applied++;
        else if (rep->outcomes[i] == CAIRN_DISTRO_STALE)
            ack.stale++;
        else
            ack.rejected++;
    }
    if (rc != CAIRN_OK)
        log_warn("distro sync from %s: the registry did not apply it: %s", in->env.from,
                 st->message);
    cairn_reply_free(rep);
    answer(in, &ack);
}

static void apply_on_loop(replicator *r, void *arg)
{
    incoming *in = arg;
    cairn_rpc_client *registry = repl_sync_registry(r);
    if (r->closed || !registry) {
        incoming_free(in);
        return; /* stopping: the listener closes, the sender times out */
    }
    const distro_view *v = repl_sync_view(r);
    cairn_distro_mode mode = CAIRN_DISTRO_OWNER;
    for (uint32_t i = 0; i < in->req.state_count; i++) {
        cairn_distro_state *s = &in->req.states[i];
        if (cairn_distro_mode_for(distro_view_owned_by(v, s->service, in->env.from),
                                  distro_view_self_owns(v, s->service)) != CAIRN_DISTRO_OWNER)
            mode = CAIRN_DISTRO_SAME_ORIGIN;
        if (!s->version.origin || !s->version.origin[0]) { /* the sender's own write */
            free(s->version.origin);
            s->version.origin = strdup(in->env.from);
        }
    }
    in->req.mode = mode;
    cairn_rpc_call_async(registry, &in->req, on_applied, in); /* encoded before it returns */
}

nng_msg *repl_sync_on_peer_sync(replicator *r, int worker, const cairn_peer_envelope *env,
                                const char *body, size_t body_len, cairn_status *st)
{
    incoming *in = calloc(1, sizeof *in);
    if (!in) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    atomic_fetch_add(&deferred, 1);
    if (cairn_peer_sync_decode(body, body_len, &in->req, st) != CAIRN_OK) {
        incoming_free(in);
        return NULL;
    }
    if (atomic_load(&deferred) > MAX_DEFERRED) {
        incoming_free(in);
        cairn_peer_sync_ack busy = {.code = CAIRN_E_UNAVAILABLE};
        nng_msg *msg = build_ack(r, env, &busy);
        if (!msg)
            cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return msg;
    }
    in->r = r;
    in->worker = worker;
    in->env = *env;
    replicator_post(r, apply_on_loop, in);
    return REPL_PEER_DEFERRED;
}
