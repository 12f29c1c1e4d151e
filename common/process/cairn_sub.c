/* The SUB socket setup every follower shares. */
#include "cairn_sub.h"

#include <nng/protocol/pubsub0/sub.h>

void cairn_sub_pipe_event(cairn_sub *s, bool added)
{
    pthread_mutex_lock(&s->pipe_lock);
    s->pipes += added ? 1 : -1;
    s->on_pipe(s->arg, s->pipes > 0);
    pthread_mutex_unlock(&s->pipe_lock);
}

/* The watch passes every pipe event on; a subscriber counts the started connections. */
static void on_pipe(void *arg, nng_pipe pipe, nng_pipe_ev ev)
{
    (void)pipe;
    cairn_sub *s = arg;
    if (s->on_pipe && ev != NNG_PIPE_EV_ADD_PRE)
        cairn_sub_pipe_event(s, ev == NNG_PIPE_EV_ADD_POST);
}

cairn_err cairn_sub_open(cairn_sub *s, const char *url, size_t max_msg_bytes, int recv_timeout_ms,
                         cairn_sub_pipe_fn on_pipe_fn, void *arg, cairn_status *st)
{
    s->open = false;
    s->on_pipe = on_pipe_fn;
    s->arg = arg;
    s->pipes = 0;
    int rv = nng_sub0_open(&s->sock);
    if (rv)
        return cairn_fail(st, CAIRN_E_INTERNAL, "open a SUB socket: %s", nng_strerror(rv));
    pthread_mutex_init(&s->pipe_lock, NULL);
    nng_socket sock = s->sock;
    if ((rv = nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) ||
        (rv = nng_socket_set_int(sock, NNG_OPT_RECVBUF, CAIRN_SUB_QUEUE)) ||
        (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, max_msg_bytes)) ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, CAIRN_SUB_RECONNECT_MIN_MS)) ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, CAIRN_SUB_RECONNECT_MAX_MS)) ||
        (recv_timeout_ms > 0 &&
         (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, recv_timeout_ms))) ||
        !(s->dial = cairn_dial_start(sock, url, on_pipe, s, &rv))) {
        nng_close(sock);
        pthread_mutex_destroy(&s->pipe_lock);
        return cairn_fail(st, CAIRN_E_INTERNAL, "subscribe to %s: %s", url, nng_strerror(rv));
    }
    s->open = true;
    return CAIRN_OK;
}

void cairn_sub_close(cairn_sub *s)
{
    if (s->open) {
        cairn_dial_close(s->dial); /* closes the socket: no callback runs after it returns */
        s->dial = NULL;
        pthread_mutex_destroy(&s->pipe_lock);
    }
    s->open = false;
}
