/* The authenticating raft transport (contract in raft_transport.h, handshake in
 * raft_handshake.h). Each connection in handshake is a conn: its TCP handle (raft_malloc'd,
 * since raft frees the streams it is given), a deadline timer, and exact-size reads into `in`. */
#include "raft_transport.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_address.h"
#include "raft_handshake.h"
#include "raft_ids.h"

typedef struct conn conn;

struct cairn_raft_transport {
    struct raft_uv_transport uv; /* first: raft hands back &uv (its data field is raft_uv's) */
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listener_closed;
    char address[80];
    unsigned char *secret;
    size_t secret_len;
    cairn_raft_resolve_fn resolve;
    void *resolve_arg;
    unsigned timeout_ms;
    raft_id id;
    char identity[256];
    raft_uv_accept_cb accept_cb;
    conn *conns; /* handshakes in flight, and conns whose handles are closing */
    bool closing, free_on_close;
    raft_uv_transport_close_cb close_cb;
    cairn_raft_transport_stats stats;
};

enum { STEP_CONNECTING, STEP_HELLO, STEP_IDENTITY, STEP_CHALLENGE, STEP_PROOF, STEP_DONE };

struct conn {
    cairn_raft_transport *t;
    conn *prev, *next;
    bool dialer;
    int step;
    uv_tcp_t *tcp; /* NULL once handed to raft or closed */
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t writes[2]; /* each request its own: HELLO then PROOF, or the CHALLENGE */
    int nwrites;
    struct raft_uv_connect *req; /* dialer: raft's request */
    raft_uv_connect_cb cb;
    raft_id target;
    int status; /* dialer: what raft hears when the conn is gone (0: it was handed over) */
    int handles; /* open handles (tcp we still own, timer) */
    cairn_raft_hs hs;
    unsigned char in[CAIRN_RAFT_HS_HELLO_MAX];
    size_t have, want;
    unsigned char out[CAIRN_RAFT_HS_HELLO_MAX]; /* HELLO or CHALLENGE */
    unsigned char proof[CAIRN_RAFT_HS_PROOF];   /* apart: the HELLO may still be in flight */
};

const char *cairn_raft_auth_reason_name(cairn_raft_auth_reason r)
{
    static const char *names[] = {"not_cairn", "bad_mac", "wrong_peer", "timeout", "closed"};
    return (unsigned)r < CAIRN_RAFT_AUTH__COUNT ? names[r] : "unknown";
}

static cairn_raft_hs_secret secret_of(const cairn_raft_transport *t)
{
    return (cairn_raft_hs_secret){t->secret, t->secret_len};
}

/* ---- closing --------------------------------------------------------------------------- */

static void maybe_closed(cairn_raft_transport *t)
{
    if (!t->closing || !t->listener_closed || t->conns)
        return;
    if (t->free_on_close) { /* cairn_raft_transport_free: nobody is told */
        free(t->secret);
        free(t);
    } else if (t->close_cb) {
        raft_uv_transport_close_cb cb = t->close_cb;
        t->close_cb = NULL;
        cb(&t->uv); /* the last touch: raft may go on to release everything */
    }
}

static void conn_unlink_free(conn *c)
{
    cairn_raft_transport *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->dialer && c->step != STEP_DONE)
        c->cb(c->req, NULL, c->status); /* raft retries later */
    free(c);
    maybe_closed(t);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (h != (uv_handle_t *)&c->timer)
        raft_free(h);
    if (--c->handles == 0)
        conn_unlink_free(c);
}

/* Ends the handshake: closes what the conn still owns. */
static void conn_close(conn *c, int status)
{
    c->status = status;
    if (c->tcp) {
        uv_close((uv_handle_t *)c->tcp, on_conn_handle_closed);
        c->tcp = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void conn_fail(conn *c, int reason)
{
    if (c->step == STEP_DONE || !c->tcp)
        return;
    if (reason >= 0) {
        c->t->stats.auth_failures++;
        c->t->stats.auth_failures_by[reason]++;
    }
    conn_close(c, c->t->closing ? RAFT_CANCELED : RAFT_NOCONNECTION);
}

/* ---- reading exactly what the step needs ------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)suggested;
    buf->base = (char *)c->in + c->have;
    buf->len = c->want - c->have;
}

static void conn_expect(conn *c, int step, size_t bytes)
{
    c->step = step;
    c->have = 0;
    c->want = bytes;
}

static void on_step(conn *c);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        conn_fail(c, CAIRN_RAFT_AUTH_CLOSED);
        return;
    }
    c->have += (size_t)nread;
    if (c->have == c->want)
        on_step(c);
}

static void on_timeout(uv_timer_t *timer)
{
    conn *c = timer->data;
    if (c->step == STEP_CONNECTING) { /* no answer to the dial: not an authentication matter */
        c->t->stats.dial_failures++;
        conn_fail(c, -1);
        return;
    }
    conn_fail(c, CAIRN_RAFT_AUTH_TIMEOUT);
}

static void on_write(uv_write_t *w, int status)
{
    conn *c = w->data;
    if (status < 0) {
        conn_fail(c, CAIRN_RAFT_AUTH_CLOSED);
        return;
    }
    if (c->dialer && w == &c->writes[1] && c->tcp) {
        /* Proof sent (writes complete in order): the stream is raft's. */
        uv_read_stop((uv_stream_t *)c->tcp);
        uv_stream_t *stream = (uv_stream_t *)c->tcp;
        c->tcp = NULL;
        c->step = STEP_DONE;
        c->handles--; /* the tcp handle is no longer ours to close */
        c->t->stats.connected++;
        uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
        c->cb(c->req, stream, 0);
    }
}

static int conn_send(conn *c, const unsigned char *bytes, size_t len)
{
    if (c->nwrites == 2)
        return UV_EINVAL; /* never: a handshake writes twice at most */
    uv_write_t *w = &c->writes[c->nwrites++];
    uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)len);
    w->data = c;
    return uv_write(w, (uv_stream_t *)c->tcp, &b, 1, on_write);
}

/* ---- the handshake steps ---------------------------------------------------------------- */

static void listener_hand_over(conn *c)
{
    cairn_raft_transport *t = c->t;
    uv_read_stop((uv_stream_t *)c->tcp);
    uv_stream_t *stream = (uv_stream_t *)c->tcp;
    c->tcp = NULL;
    c->handles--;
    c->step = STEP_DONE;
    t->stats.accepted++;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    t->accept_cb(&t->uv, c->hs.dialer_id, c->hs.identity, stream);
}

/* The listener's next step; returns the failure reason, or -1 to go on. */
static int listener_step(conn *c)
{
    cairn_raft_hs_secret secret = secret_of(c->t);
    size_t n;
    switch (c->step) {
    case STEP_HELLO:
        if (!cairn_raft_hs_hello_fixed(&c->hs, c->in, &n))
            return CAIRN_RAFT_AUTH_NOT_CAIRN;
        conn_expect(c, STEP_IDENTITY, n);
        return -1;
    case STEP_IDENTITY:
        if (!cairn_raft_hs_hello_identity(&c->hs, c->in, c->have))
            return CAIRN_RAFT_AUTH_NOT_CAIRN;
        c->hs.listener_id = c->t->id;
        randombytes_buf(c->hs.listener_nonce, sizeof c->hs.listener_nonce);
        cairn_raft_hs_challenge(&c->hs, &secret, c->out);
        conn_expect(c, STEP_PROOF, CAIRN_RAFT_HS_PROOF);
        if (conn_send(c, c->out, CAIRN_RAFT_HS_CHALLENGE) != 0)
            return CAIRN_RAFT_AUTH_CLOSED;
        return -1;
    case STEP_PROOF:
        if (!cairn_raft_hs_check_proof(&c->hs, &secret, c->in))
            return CAIRN_RAFT_AUTH_BAD_MAC;
        listener_hand_over(c);
        return -1;
    }
    return -1;
}

/* The dialer's step after the CHALLENGE: check it, send the PROOF. */
static int dialer_step(conn *c)
{
    cairn_raft_hs_secret secret = secret_of(c->t);
    if (c->step != STEP_CHALLENGE)
        return -1;
    bool mac_ok = cairn_raft_hs_check_challenge(&c->hs, &secret, c->in);
    if (c->hs.listener_id != c->target)
        return CAIRN_RAFT_AUTH_WRONG_PEER;
    if (!mac_ok)
        return CAIRN_RAFT_AUTH_BAD_MAC;
    uv_read_stop((uv_stream_t *)c->tcp);
    cairn_raft_hs_mac(&c->hs, &secret, 'D', c->proof);
    c->step = STEP_PROOF;
    return conn_send(c, c->proof, CAIRN_RAFT_HS_PROOF) == 0 ? -1 : CAIRN_RAFT_AUTH_CLOSED;
}

static void on_step(conn *c)
{
    int reason = c->dialer ? dialer_step(c) : listener_step(c);
    if (reason >= 0)
        conn_fail(c, reason);
}

/* A conn with its TCP handle initialized (tcp->data = conn) and its deadline running. */
static conn *conn_new(cairn_raft_transport *t, bool dialer)
{
    conn *c = calloc(1, sizeof *c);
    uv_tcp_t *tcp = raft_malloc(sizeof *tcp);
    if (!c || !tcp || uv_tcp_init(t->loop, tcp) != 0) {
        free(c);
        raft_free(tcp);
        return NULL;
    }
    c->t = t;
    c->dialer = dialer;
    c->tcp = tcp;
    tcp->data = c;
    uv_timer_init(t->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    uv_timer_start(&c->timer, on_timeout, t->timeout_ms, 0);
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    return c;
}

static void on_connection(uv_stream_t *server, int status)
{
    cairn_raft_transport *t = server->data;
    if (status < 0 || t->closing)
        return;
    conn *c = conn_new(t, false);
    if (!c)
        return; /* out of memory: the connection stays in the backlog until the next one */
    if (uv_accept(server, (uv_stream_t *)c->tcp) != 0) {
        conn_close(c, 0);
        return;
    }
    conn_expect(c, STEP_HELLO, CAIRN_RAFT_HS_HELLO_FIXED);
    if (uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read) != 0)
        conn_fail(c, CAIRN_RAFT_AUTH_CLOSED);
}

static void on_connected(uv_connect_t *req, int status)
{
    conn *c = req->data;
    if (!c->tcp)
        return; /* closed while connecting (transport closing) */
    if (status < 0) {
        c->t->stats.dial_failures++;
        conn_close(c, c->t->closing ? RAFT_CANCELED : RAFT_NOCONNECTION);
        return;
    }
    c->hs.dialer_id = c->t->id;
    snprintf(c->hs.identity, sizeof c->hs.identity, "%s", c->t->identity);
    randombytes_buf(c->hs.dialer_nonce, sizeof c->hs.dialer_nonce);
    size_t n = cairn_raft_hs_hello(&c->hs, c->out);
    conn_expect(c, STEP_CHALLENGE, CAIRN_RAFT_HS_CHALLENGE);
    if (conn_send(c, c->out, n) != 0 ||
        uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read) != 0)
        conn_fail(c, CAIRN_RAFT_AUTH_CLOSED);
}

/* ---- struct raft_uv_transport ----------------------------------------------------------- */

static int tr_init(struct raft_uv_transport *uvt, raft_id id, const char *address)
{
    cairn_raft_transport *t = (cairn_raft_transport *)uvt;
    if (!address || strlen(address) > 255 || cairn_raft_id(address) != id)
        return RAFT_INVALID;
    t->id = id;
    snprintf(t->identity, sizeof t->identity, "%s", address);
    return 0;
}

static int tr_listen(struct raft_uv_transport *uvt, raft_uv_accept_cb cb)
{
    cairn_raft_transport *t = (cairn_raft_transport *)uvt;
    t->accept_cb = cb;
    if (uv_listen((uv_stream_t *)&t->listener, 128, on_connection) != 0)
        return RAFT_IOERR;
    return 0;
}

/* "host:port" with a numeric host (IPv6 in brackets) as a socket address. */
static int parse_address(const char *text, struct sockaddr_storage *ss)
{
    const char *colon = strrchr(text, ':');
    char host[64];
    if (!colon || colon == text || strlen(colon + 1) == 0 || strlen(colon + 1) > 5 ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -1;
    int port = atoi(colon + 1);
    size_t hl = (size_t)(colon - text);
    bool v6 = text[0] == '[';
    if (v6 && (hl < 3 || text[hl - 1] != ']'))
        return -1;
    if (port > 65535 || hl - (v6 ? 2 : 0) >= sizeof host)
        return -1;
    memcpy(host, text + (v6 ? 1 : 0), hl - (v6 ? 2 : 0));
    host[hl - (v6 ? 2 : 0)] = 0;
    if (v6)
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1;
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ? 0 : -1;
}

static int tr_connect(struct raft_uv_transport *uvt, struct raft_uv_connect *req, raft_id id,
                      const char *address, raft_uv_connect_cb cb)
{
    cairn_raft_transport *t = (cairn_raft_transport *)uvt;
    char dial[128];
    struct sockaddr_storage ss;
    if (t->closing)
        return RAFT_CANCELED;
    if (t->resolve(t->resolve_arg, id, address, dial, sizeof dial) != 0 ||
        parse_address(dial, &ss) != 0) {
        t->stats.dial_failures++;
        return RAFT_NOCONNECTION;
    }
    conn *c = conn_new(t, true);
    if (!c)
        return RAFT_NOMEM;
    c->req = req;
    c->cb = cb;
    c->target = id;
    c->status = RAFT_NOCONNECTION;
    c->step = STEP_CONNECTING;
    c->connect.data = c;
    if (uv_tcp_connect(&c->connect, c->tcp, (struct sockaddr *)&ss, on_connected) != 0) {
        t->stats.dial_failures++;
        c->step = STEP_DONE; /* reported synchronously: no callback */
        conn_close(c, RAFT_NOCONNECTION);
        return RAFT_NOCONNECTION;
    }
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    cairn_raft_transport *t = h->data;
    t->listener_closed = true;
    maybe_closed(t);
}

static void begin_close(cairn_raft_transport *t)
{
    t->closing = true;
    for (conn *c = t->conns; c; c = c->next)
        if (c->tcp && c->step != STEP_DONE)
            conn_close(c, RAFT_CANCELED);
    if (!uv_is_closing((uv_handle_t *)&t->listener))
        uv_close((uv_handle_t *)&t->listener, on_listener_closed);
}

static void tr_close(struct raft_uv_transport *uvt, raft_uv_transport_close_cb cb)
{
    cairn_raft_transport *t = (cairn_raft_transport *)uvt;
    t->close_cb = cb;
    begin_close(t);
    maybe_closed(t);
}

/* ---- lifetime --------------------------------------------------------------------------- */

static cairn_err bind_listener(cairn_raft_transport *t, const char *listen, cairn_status *st)
{
    struct sockaddr_storage ss;
    if (parse_address(listen, &ss) != 0)
        return cairn_fail(st, CAIRN_E_INVALID, "raft listen address %s: not numeric host:port",
                          listen);
    int rv = uv_tcp_bind(&t->listener, (struct sockaddr *)&ss, 0);
    uv_os_fd_t fd;
    if (rv == 0)
        rv = uv_fileno((uv_handle_t *)&t->listener, &fd);
    if (rv == 0 && cairn_bound_address(fd, t->address, sizeof t->address, NULL) != 0)
        rv = UV_EINVAL;
    if (rv != 0)
        return cairn_fail(st, CAIRN_E_UNAVAILABLE, "raft listen %s: %s", listen,
                          uv_strerror(rv));
    return CAIRN_OK;
}

cairn_err cairn_raft_transport_new(const cairn_raft_transport_options *o,
                                   cairn_raft_transport **out, cairn_status *st)
{
    if (sodium_init() < 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "libsodium cannot start");
    if (!o->secret || o->secret_len == 0 || !o->resolve)
        return cairn_fail(st, CAIRN_E_INVALID, "raft transport: a secret and a resolver needed");
    cairn_raft_transport *t = calloc(1, sizeof *t);
    if (!t || !(t->secret = malloc(o->secret_len))) {
        free(t);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    memcpy(t->secret, o->secret, o->secret_len);
    t->secret_len = o->secret_len;
    t->loop = o->loop;
    t->resolve = o->resolve;
    t->resolve_arg = o->resolve_arg;
    t->timeout_ms = o->handshake_timeout_ms ? o->handshake_timeout_ms : 5000;
    t->uv.init = tr_init;
    t->uv.listen = tr_listen;
    t->uv.connect = tr_connect;
    t->uv.close = tr_close;
    uv_tcp_init(t->loop, &t->listener);
    t->listener.data = t;
    if (bind_listener(t, o->listen, st)) {
        cairn_raft_transport_free(t); /* frees itself once the listener is closed */
        return st->code;
    }
    *out = t;
    return CAIRN_OK;
}

void cairn_raft_transport_free(cairn_raft_transport *t)
{
    if (!t)
        return;
    if (t->closing && t->listener_closed && !t->conns) {
        free(t->secret);
        free(t);
        return;
    }
    t->free_on_close = true;
    t->close_cb = NULL;
    begin_close(t);
}

struct raft_uv_transport *cairn_raft_transport_uv(cairn_raft_transport *t)
{
    return &t->uv;
}

const char *cairn_raft_transport_address(const cairn_raft_transport *t)
{
    return t->address;
}

cairn_raft_transport_stats cairn_raft_transport_stats_get(const cairn_raft_transport *t)
{
    return t->stats;
}
