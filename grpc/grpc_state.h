/* The pure rules of one gRPC connection (Nacos spec §2.3–2.5), with time passed in as `now`
 * (monotonic ms) so that they are tested in virtual time:
 *  - admission of a unary call (which error, if any, answers it before its handler runs);
 *  - liveness: ClientDetectionRequest after detect_idle_ms without anything from the client,
 *    and the connection closed when detect_timeout_ms more pass without anything.
 * Owned by the connection, used on the loop thread only. */
#ifndef GRPC_STATE_H
#define GRPC_STATE_H

#include <stdbool.h>
#include <stdint.h>

/* The answer to a unary call before its body is read, in Nacos' order (§2.3). */
typedef enum grpc_admission {
    GRPC_ADMIT = 0,       /* run the handler */
    GRPC_REFUSE_NO_HANDLER, /* 302 RequestHandler Not Found */
    GRPC_REFUSE_UNREGISTERED, /* 301 Connection is unregistered. */
} grpc_admission;

/* known: metadata.type has a unary handler; server_check: it is ServerCheckRequest; setup: the
 * connection's ConnectionSetupRequest has arrived (on its bi-stream, in arrival order). */
grpc_admission grpc_admit(bool known, bool server_check, bool setup);

typedef struct grpc_liveness {
    int64_t last_active; /* the last frame from the client */
    int64_t probe_sent;  /* when the outstanding ClientDetectionRequest went; 0: none */
} grpc_liveness;

typedef enum grpc_live_action {
    GRPC_LIVE_OK = 0,
    GRPC_LIVE_PROBE, /* send a ClientDetectionRequest now (recorded as sent) */
    GRPC_LIVE_DEAD,  /* close the connection */
} grpc_live_action;

void grpc_liveness_init(grpc_liveness *l, int64_t now);
/* Anything from the client (a frame, an answer to a probe): alive, no probe outstanding. */
void grpc_liveness_touch(grpc_liveness *l, int64_t now);
/* What to do now. */
grpc_live_action grpc_liveness_check(grpc_liveness *l, int64_t now, int64_t idle_ms,
                                     int64_t timeout_ms);
/* When grpc_liveness_check next has something to do. */
int64_t grpc_liveness_due(const grpc_liveness *l, int64_t idle_ms, int64_t timeout_ms);

#endif
