/* A gRPC client for the integration tests of cairn-grpc, on nghttp2's client API: one TCP
 * connection (h2c, prior knowledge), unary calls on /Request/request, the bi-stream on
 * /BiRequestStream/requestBiStream, and raw streams for malformed input. Everything runs on the
 * calling thread: each call pumps the connection until its answer arrives or its timeout passes.
 * Messages that arrive on the bi-stream are queued; NotifySubscriberRequests and
 * ClientDetectionRequests are acked as a Nacos client does, unless the test turns that off. */
#ifndef CAIRN_GRPC_CLIENT_H
#define CAIRN_GRPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct it_grpc it_grpc;

/* The answer to a call. type and json are malloc'd (NULL when no message came). */
typedef struct it_grpc_reply {
    int http_status;  /* 0: no response headers */
    int grpc_status;  /* -1: none (no trailers, or the call timed out) */
    char *grpc_message;
    char *type;
    char *json;
} it_grpc_reply;

/* Connects to host:port (IPv4); NULL when the connection cannot be made. */
it_grpc *grpc_open(const char *hostport);
/* grpc_open from the local address local_ip (bound before connecting, e.g. "127.0.0.2" to be
 * another client address on loopback; NULL: any). */
it_grpc *grpc_open_from(const char *hostport, const char *local_ip);
/* grpc_open, then the Java client's setup: ServerCheckRequest, bi-stream, ConnectionSetupRequest
 * (with labels module=naming). Asserts each step. */
it_grpc *grpc_open_setup(const char *hostport);
/* grpc_open_setup from local_ip (as grpc_open_from). */
it_grpc *grpc_open_setup_from(const char *hostport, const char *local_ip);
/* The setup's second half on an open connection: bi-stream, ConnectionSetupRequest. */
void grpc_setup(it_grpc *g);
void grpc_close(it_grpc *g);
/* False once the server closed the connection (or it broke). */
bool grpc_alive(it_grpc *g);
/* Pumps the connection for up to ms (answers, pushes, probes). */
void grpc_pump(it_grpc *g, int ms);

/* A unary call: Payload(type, json) on /Request/request. */
void grpc_call(it_grpc *g, const char *type, const char *json, it_grpc_reply *r, int timeout_ms);
/* A stream on any path and content type carrying the given body bytes (not framed here). */
void grpc_call_raw(it_grpc *g, const char *path, const char *content_type, const uint8_t *body,
                   size_t len, it_grpc_reply *r, int timeout_ms);
void grpc_reply_free(it_grpc_reply *r);

/* Opens the bi-stream and waits for its response headers. */
bool grpc_bidi_open(it_grpc *g, int timeout_ms);
/* Sends Payload(type, json) on the bi-stream. */
void grpc_bidi_send(it_grpc *g, const char *type, const char *json);
/* Sends raw bytes (e.g. a frame that is no Payload) on the bi-stream. */
void grpc_bidi_send_raw(it_grpc *g, const uint8_t *bytes, size_t len);
/* The next message of this type received on the bi-stream (NULL type: any); false on timeout. */
bool grpc_bidi_next(it_grpc *g, const char *type, char **json, int timeout_ms);
/* Whether NotifySubscriberRequests / ClientDetectionRequests are acked (default true). */
void grpc_set_auto_ack(it_grpc *g, bool pushes, bool probes);
/* How many NotifySubscriberRequests arrived so far. */
int grpc_push_count(it_grpc *g);

/* Building blocks for Nacos messages. */
/* {"headers":{},"namespace":..,"groupName":..,"serviceName":..} + extra members (JSON text
 * without braces, may be ""). Returns a static buffer. */
const char *grpc_naming_body(const char *ns, const char *service, const char *extra);

#endif
