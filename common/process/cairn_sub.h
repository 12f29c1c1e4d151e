/* A SUB socket that follows one publisher of this node (registry change events, the gateway's
 * push subscriptions): subscribed to everything, dialed without waiting for the publisher, and
 * redialed within CAIRN_SUB_RECONNECT_MAX_MS whenever the publisher restarts, so a role that
 * comes back is followed again at once, not after nng's default backoff of seconds.
 *
 * The pipe callback runs on an nng thread, once per connection made (connected true) and lost
 * (false); either way messages may have been missed, and the follower repairs (cairn_follow.h).
 * A cairn_sub stays at one address while open (nng holds a pointer to it). */
#ifndef CAIRN_SUB_H
#define CAIRN_SUB_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn_error.h"

#define CAIRN_SUB_QUEUE 8192          /* messages queued before the publisher drops (nng's max) */
#define CAIRN_SUB_RECONNECT_MIN_MS 10 /* local ipc: redialing is cheap */
#define CAIRN_SUB_RECONNECT_MAX_MS 200

typedef void (*cairn_sub_pipe_fn)(void *arg, bool connected);

typedef struct cairn_sub {
    nng_socket sock; /* receive from it; valid while open */
    bool open;
    cairn_sub_pipe_fn on_pipe;
    void *arg;
} cairn_sub;

/* Opens s->sock and dials url. max_msg_bytes bounds one message (larger ones are dropped by
 * nng); recv_timeout_ms > 0 sets a receive timeout. on_pipe may be NULL. On failure *st says why
 * and nothing is left open. */
cairn_err cairn_sub_open(cairn_sub *s, const char *url, size_t max_msg_bytes, int recv_timeout_ms,
                         cairn_sub_pipe_fn on_pipe, void *arg, cairn_status *st);
/* Closes the socket (a receive blocked on it returns NNG_ECLOSED); no-op when not open. */
void cairn_sub_close(cairn_sub *s);

#endif
