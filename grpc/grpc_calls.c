/* Registry calls: async requests, the done queue, a connection's ordered writes (grpc_calls.h). */
#include "grpc_calls.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cairn_log.h"
#include "cairn_peer_raft.h"
#include "grpc_cluster.h"

grpc_call *grpc_call_new(grpc_server *s, grpc_call_fn done)
{
    grpc_call *call = calloc(1, sizeof *call);
    if (!call)
        return NULL;
    call->srv = s;
    call->done = done;
    cairn_request_init(&call->req, CAIRN_MSG_STATS);
    cairn_reply_init(&call->rep);
    return call;
}

const char *grpc_call_why(const grpc_call *call)
{
    return call->rc != CAIRN_OK ? call->st.message
           : call->rep.message  ? call->rep.message
                                : "registry error";
}

void grpc_call_free(grpc_call *call)
{
    if (!call)
        return;
    cairn_request_free(&call->req);
    cairn_reply_free(&call->rep);
    free(call->clusters);
    free(call);
}

/* nng thread: hand the outcome to the loop. */
static void on_reply(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    grpc_call *call = arg;
    grpc_server *s = call->srv;
    call->rc = rc;
    call->st = *st;
    cairn_reply_free(&call->rep);
    call->rep = *rep;
    cairn_reply_init(rep);
    call->next = NULL;
    pthread_mutex_lock(&s->done_mu);
    bool was_empty = !s->done_head;
    if (s->done_tail)
        s->done_tail->next = call;
    else
        s->done_head = call;
    s->done_tail = call;
    pthread_mutex_unlock(&s->done_mu);
    /* One wake per batch: a queue that was not empty has a wake pending, since the loop reads
     * the eventfd before it takes the queue (grpc_calls_drain). */
    uint64_t one = 1;
    if (was_empty && write(s->calls_fd, &one, sizeof one) < 0) {
        /* the counter cannot overflow in practice; the loop drains on its next wake anyway */
    }
}

void grpc_call_start(grpc_call *call)
{
    grpc_server *s = call->srv;
    if (call->forwarded) { /* wrapped by the caller for a member of its choosing */
        cairn_rpc_call_async(grpc_cluster_replicator(s->cluster), &call->req, on_reply, call);
        return;
    }
    if (call->persistent && s->cluster) { /* through raft, as the gateway's (grpc_cluster.h) */
        cairn_status st;
        if (call->req.type == CAIRN_MSG_RAFT_SUBMIT ||
            cairn_raft_submit_wrap(&call->req, &st) == CAIRN_OK) {
            cairn_rpc_call_async(grpc_cluster_raft(s->cluster), &call->req, on_reply, call);
            return;
        }
        cairn_reply rep; /* not a raft command: refused as the rpc would refuse it */
        cairn_reply_init(&rep);
        on_reply(call, st.code, &rep, &st);
        return;
    }
    char owner[CAIRN_CLUSTER_ID_MAX];
    /* the owner of then: a write queued behind others, or a retried release, follows the view */
    if (call->routed && s->cluster &&
        grpc_cluster_peer_owner(s->cluster, call->req.service, owner)) {
        cairn_status st;
        if (grpc_cluster_wrap(s->cluster, &call->req, owner, &st) == CAIRN_OK) {
            call->forwarded = true;
            cairn_rpc_call_async(grpc_cluster_replicator(s->cluster), &call->req, on_reply,
                                 call);
            return;
        }
        cairn_reply rep; /* out of memory: answered as a failure, as the rpc would */
        cairn_reply_init(&rep);
        on_reply(call, st.code, &rep, &st);
        return;
    }
    cairn_rpc_call_async(s->registry, &call->req, on_reply, call);
}

void grpc_call_write(grpc_conn *c, grpc_call *call)
{
    call->is_write = true;
    call->conn_serial = c->serial;
    call->next = NULL;
    grpc_call **tail = &c->writes;
    while (*tail)
        tail = &(*tail)->next;
    *tail = call;
    if (!c->write_busy) {
        c->write_busy = true;
        c->writes = call->next;
        grpc_call_start(call);
    }
}

/* The connection's write finished: the next one goes, or a closed connection's owner is
 * dropped now that nothing of it is in flight. */
static void write_finished(grpc_server *s, uint64_t serial)
{
    grpc_conn *c = grpc_conn_find(s, serial);
    if (!c)
        return;
    c->write_busy = false;
    if (c->closed) {
        grpc_conn_close(c, NULL); /* finishes the close: drop and free */
        return;
    }
    grpc_call *next = c->writes;
    if (next) {
        c->write_busy = true;
        c->writes = next->next;
        grpc_call_start(next);
    }
}

/* The finished calls, taken from the queue the nng threads fill. */
static grpc_call *take_done(grpc_server *s)
{
    pthread_mutex_lock(&s->done_mu);
    grpc_call *list = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->done_mu);
    return list;
}

void grpc_calls_drain(grpc_server *s)
{
    uint64_t n;
    if (read(s->calls_fd, &n, sizeof n) < 0) {
        /* EAGAIN: nothing new; the queue is drained below either way */
    }
    grpc_call *list = take_done(s);
    while (list) {
        grpc_call *call = list;
        list = call->next;
        if (call->forwarded) /* the owner's answer says nothing of the local registry */
            cairn_counter_inc(call->rc == CAIRN_OK && call->rep.code != CAIRN_E_UNAVAILABLE
                                  ? s->metrics.forwards_ok
                                  : s->metrics.forwards_failed);
        else
            atomic_store(&s->registry_ok, call->rc != CAIRN_E_UNAVAILABLE);
        bool is_write = call->is_write;
        uint64_t serial = call->conn_serial;
        call->done(s, call); /* frees the call, or keeps it (a retried drop) */
        if (is_write)
            write_finished(s, serial);
    }
}

void grpc_calls_discard(grpc_server *s)
{
    grpc_call *list = take_done(s);
    while (list) {
        grpc_call *call = list;
        list = call->next;
        if (call->free_ctx)
            call->free_ctx(call->ctx);
        grpc_call_free(call);
    }
}
