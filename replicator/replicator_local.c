/* The node-local sockets: replicator.sock (REP: MEMBERS_GET, FORWARD, RAFT_SUBMIT) and
 * replicator-events.sock (PUB: MEMBERSHIP). A MEMBERS_GET is deferred to the loop, which owns
 * the state, and answered from there; the rpc worker never waits for it. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>

#include "cairn_clock.h"
#include "cairn_endpoints.h"
#include "cairn_listen.h"
#include "cairn_log.h"
#include "replicator.h"
#include "replicator_forward.h"
#include "replicator_submit.h"

/* The current view as a MEMBERSHIP message (loop thread). */
static cairn_err encode_view(replicator *r, char **out, size_t *out_len)
{
    cairn_membership view;
    repl_members_view(&r->members, cairn_wall_ms(), &view);
    if (!view.members)
        return CAIRN_E_NOMEM;
    cairn_err err = cairn_membership_encode(&view, out, out_len);
    repl_members_view_release(&view);
    return err;
}

void repl_local_publish(replicator *r)
{
    if (!r->events_open)
        return;
    char *buf;
    size_t len;
    if (encode_view(r, &buf, &len) != CAIRN_OK) {
        log_error("cannot encode MEMBERSHIP");
        return;
    }
    int rv = nng_send(r->events_pub, buf, len, NNG_FLAG_NONBLOCK); /* PUB never blocks */
    if (rv != 0)
        log_warn("cannot publish MEMBERSHIP: %s", nng_strerror(rv));
    free(buf);
}

static void answer_members_get(replicator *r, void *arg)
{
    cairn_rpc_pending *p = arg;
    cairn_reply *rep = cairn_rpc_pending_reply(p);
    if (r->closed)
        cairn_reply_fail(rep, &(cairn_status){CAIRN_E_UNAVAILABLE, "replicator stopping"});
    else if (encode_view(r, &rep->membership_msg, &rep->membership_len) != CAIRN_OK) {
        cairn_reply_fail(rep, &(cairn_status){CAIRN_E_NOMEM, "out of memory"});
    }
    cairn_rpc_pending_finish(p);
}

static bool defer(void *arg, cairn_rpc_pending *p)
{
    if (repl_forward_take(arg, p) || repl_submit_take_local(arg, p))
        return true;
    if (cairn_rpc_pending_request(p)->type != CAIRN_MSG_MEMBERS_GET)
        return false;
    replicator_post(arg, answer_members_get, p);
    return true;
}

/* Requests the replicator does not take yet: a clear error. */
static void handle(void *arg, const cairn_request *req, cairn_reply *rep)
{
    (void)arg;
    cairn_status st;
    cairn_fail(&st, CAIRN_E_INVALID, "the replicator does not take %s requests",
               cairn_msg_type_name(req->type));
    cairn_reply_fail(rep, &st);
}

cairn_err repl_local_start(replicator *r, cairn_status *st)
{
    char url[512];
    if (cairn_endpoint_url(r->role->run_dir, CAIRN_EP_REPLICATOR_EVENTS, url, sizeof url) != 0)
        return cairn_fail(st, CAIRN_E_INVALID, "run directory path too long");
    int rv = nng_pub0_open(&r->events_pub);
    if (rv == 0) {
        r->events_open = true;
        rv = cairn_listen_pub(r->events_pub, url);
    }
    if (rv != 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot listen on %s: %s", url, nng_strerror(rv));
    if (cairn_endpoint_url(r->role->run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url) != 0)
        return cairn_fail(st, CAIRN_E_INVALID, "run directory path too long");
    r->local = cairn_rpc_server_start_deferring(url, 2, handle, defer, r, r->role->metrics, st);
    return r->local ? CAIRN_OK : st->code;
}

void repl_local_stop_requests(replicator *r)
{
    if (r->local) {
        cairn_rpc_server_stop(r->local); /* waits for deferred requests: the loop answers them */
        r->local = NULL;
    }
}

void repl_local_stop(replicator *r)
{
    repl_local_stop_requests(r);
    if (r->events_open) {
        nng_close(r->events_pub);
        r->events_open = false;
    }
}
