/* Registry calls of cairn-grpc: cairn_rpc_call_async on nng aios; the completion (an nng thread)
 * only moves the call to the server's done queue and writes the eventfd, and the loop thread
 * runs its continuation (grpc_calls_drain). A connection's writes go one at a time, in the order
 * they were asked, so a deregister never overtakes its register and the drop at close comes
 * after them. A continuation finds its connection and stream again by serial and id: either may
 * have gone meanwhile. */
#ifndef GRPC_CALLS_H
#define GRPC_CALLS_H

#include "grpc.h"

typedef struct grpc_call grpc_call;
/* Runs on the loop thread with the outcome in call->rc, call->rep, call->st. */
typedef void (*grpc_call_fn)(grpc_server *s, grpc_call *call);

struct grpc_call {
    grpc_server *srv;
    cairn_request req;
    grpc_call_fn done;
    uint64_t conn_serial; /* 0: no connection */
    int32_t stream_id;
    bool is_write;        /* one of the connection's ordered writes */
    bool routed;          /* an INSTANCE_SET_OWNED: in a cluster it goes to the service's owner */
    bool forwarded;       /* it went as a FORWARD through the replicator */
    bool persistent;      /* a persistent instance's write: in a cluster it goes through raft */
    /* what the continuation needs */
    const char *type_name; /* the request's metadata.type, for metrics */
    char *resp_type;       /* the response's type name (static string) */
    char *op;              /* InstanceResponse.type ("registerInstance", ...) */
    grpc_service_ref ref;
    char *clusters;
    bool healthy_only;
    uint64_t ticket;       /* a query's fill ticket of the ServiceInfo cache (0: none) */
    void *ctx;             /* grpc_watch*, grpc_drop* */
    void (*free_ctx)(void *ctx); /* frees ctx when the call is dropped unanswered (shutdown) */
    /* the outcome */
    cairn_err rc;
    cairn_reply rep;
    cairn_status st;
    grpc_call *next;
};

grpc_call *grpc_call_new(grpc_server *s, grpc_call_fn done);
void grpc_call_free(grpc_call *call);
/* Why a finished call failed, for a log line: the transport's message, else the reply's. */
const char *grpc_call_why(const grpc_call *call);
/* Sends the call now (reads, drops). */
void grpc_call_start(grpc_call *call);
/* Queues a write of connection c behind its earlier ones. */
void grpc_call_write(grpc_conn *c, grpc_call *call);
/* Runs the continuations of every finished call (loop thread). */
void grpc_calls_drain(grpc_server *s);
/* Frees the finished calls without running them (after the registry client closed). */
void grpc_calls_discard(grpc_server *s);

#endif
