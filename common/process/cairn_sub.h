/* A SUB socket that follows one publisher of this node (registry change events, the gateway's
 * push subscriptions): subscribed to everything, dialed without waiting for the publisher, and
 * redialed within CAIRN_SUB_RECONNECT_MAX_MS whenever the publisher restarts, so a role that
 * comes back is followed again at once, not after nng's default backoff of seconds.
 *
 * The pipe callback runs on an nng thread, once per connection made or lost; either way
 * messages may have been missed, and the follower repairs (cairn_follow.h). `connected` is
 * whether the socket has a connection after that event, not which event it was: nng (1.5, a
 * dialer dialed with NNG_FLAG_NONBLOCK) may report the new connection to a restarted publisher
 * before the loss of the old one, so "the last event says" would leave a follower believing it
 * is disconnected while it is connected. The connections are counted, and the count's change
 * and the callback happen under one lock, so the last call always tells the current state.
 * A cairn_sub stays at one address while open (nng holds a pointer to it). The dialing is a
 * cairn_dial watch's, which dials anew when nng 1.5.2 stops redialing (cairn_dial.h). */
#ifndef CAIRN_SUB_H
#define CAIRN_SUB_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn_dial.h"
#include "cairn_error.h"

#define CAIRN_SUB_QUEUE 8192          /* messages queued before the publisher drops (nng's max) */
#define CAIRN_SUB_RECONNECT_MIN_MS 10 /* local ipc: redialing is cheap */
#define CAIRN_SUB_RECONNECT_MAX_MS 200

typedef void (*cairn_sub_pipe_fn)(void *arg, bool connected);

typedef struct cairn_sub {
    nng_socket sock; /* receive from it; valid while open */
    bool open;
    cairn_dial *dial; /* owns the socket's dialing and closes it */
    cairn_sub_pipe_fn on_pipe;
    void *arg;
    pthread_mutex_t pipe_lock; /* the count and the callback; callbacks may overlap */
    int pipes;                 /* connections: 0 or 1, briefly 2 while a publisher restarts */
} cairn_sub;

/* Opens s->sock and dials url. max_msg_bytes bounds one message (larger ones are dropped by
 * nng); recv_timeout_ms > 0 sets a receive timeout. on_pipe may be NULL. On failure *st says why
 * and nothing is left open. */
cairn_err cairn_sub_open(cairn_sub *s, const char *url, size_t max_msg_bytes, int recv_timeout_ms,
                         cairn_sub_pipe_fn on_pipe, void *arg, cairn_status *st);
/* Closes the socket (a receive blocked on it returns NNG_ECLOSED); no-op when not open. */
void cairn_sub_close(cairn_sub *s);

/* One connection added (true) or lost (false): counts it and calls on_pipe with whether any is
 * left. nng's pipe callback; public for the tests of the event orders nng may produce. */
void cairn_sub_pipe_event(cairn_sub *s, bool added);

#endif
