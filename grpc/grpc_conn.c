/* Connections: accept, socket I/O through nghttp2's memory interface, liveness, close, and the
 * OWNER_DROP that follows a close (grpc.h). Loop thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "cairn_requests.h"
#include "grpc.h"
#include "grpc_cluster.h"
#include "grpc_calls.h"

grpc_conn *grpc_conn_find(grpc_server *s, uint64_t serial)
{
    return cairn_hashmap_get(s->conns, &serial, sizeof serial);
}

/* "<epoch ms>_<ip>_<port>" as Nacos mints it (§2.1). */
static void conn_id(grpc_conn *c, const struct sockaddr_storage *peer)
{
    char ip[INET6_ADDRSTRLEN] = "unknown";
    int port = 0;
    if (peer->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(c->id, sizeof c->id, "%" PRId64 "_%s_%d", cairn_wall_ms(), ip, port);
    snprintf(c->owner, sizeof c->owner, "%s%s", c->srv->incarnation_owner, c->id);
}

static void owned_insts_free(cairn_instance *insts, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        cairn_instance_free(&insts[i]);
    free(insts);
}

static void owned_svc_free(grpc_owned_svc *o)
{
    free(o->key);
    owned_insts_free(o->insts, o->n);
}

static void conn_free(grpc_conn *c)
{
    grpc_server *s = c->srv;
    pusher_timers_disarm(&s->timers, &c->timer);
    cairn_hashmap_remove(s->conns, &c->serial, sizeof c->serial);
    while (c->writes) {
        struct grpc_call *w = c->writes;
        c->writes = w->next;
        grpc_call_free(w);
    }
    grpc_pushq_free(&c->pushq);
    free(c->subs);
    c->subs = NULL;
    for (size_t i = 0; i < c->svc_count; i++)
        owned_svc_free(&c->svcs[i]);
    free(c->svcs);
    c->svcs = NULL;
    c->svc_count = 0;
    c->closed = true;
    c->next_dead = s->graveyard;
    s->graveyard = c;
}

void grpc_conn_bury(grpc_server *s)
{
    while (s->graveyard) {
        grpc_conn *c = s->graveyard;
        s->graveyard = c->next_dead;
        free(c);
    }
}

/* Refusals of one kind are logged at most this often, with how many there were. */
#define REFUSAL_WARN_MS 10000

/* Counts a refusal; true when its warning is due (the first, then at most one per
 * REFUSAL_WARN_MS), *count then holding the refusals since the last warning. */
static bool refusal_warn_due(grpc_refusals *r, uint64_t *count)
{
    r->since++;
    int64_t now = grpc_now_ms();
    if (r->warned_ms && now - r->warned_ms < REFUSAL_WARN_MS)
        return false;
    *count = r->since;
    r->since = 0;
    r->warned_ms = now;
    return true;
}

/* The connection's slot of its address goes back: its socket is closed. */
static void uncount(grpc_conn *c)
{
    if (c->per_ip)
        grpc_per_ip_remove(c->srv->per_ip, &c->peer);
    c->per_ip = false;
}

/* A connection from an address that holds grpc.max_connections_per_ip: closed before any HTTP/2
 * byte, as past grpc.max_connections, so that one address cannot hold every slot. */
static void refuse_per_ip(grpc_server *s, int fd, const cairn_ip *ip)
{
    cairn_counter_inc(s->metrics.refused);
    cairn_counter_inc(s->metrics.refused_per_ip);
    close(fd); /* after counting: a client that sees the close finds it counted */
    uint64_t n;
    if (!refusal_warn_due(&s->per_ip_refused, &n))
        return;
    char text[CAIRN_IP_TEXT_MAX];
    cairn_ip_format(ip, text, sizeof text);
    log_warn("connection from %s refused at accept: the address holds "
             "grpc.max_connections_per_ip (%u) connections; %llu refused since the last "
             "such warning (behind a proxy or NAT that funnels many clients through one "
             "address, raise it)",
             text, s->cfg.max_connections_per_ip, (unsigned long long)n);
}

static void accept_one(grpc_server *s, int fd, const struct sockaddr_storage *peer)
{
    if (s->open_conns >= s->cfg.max_connections) {
        cairn_counter_inc(s->metrics.refused);
        close(fd);
        return;
    }
    cairn_ip ip;
    bool known = cairn_ip_from_sockaddr((const struct sockaddr *)peer, &ip);
    bool counted = false;
    if (s->per_ip && known) {
        int r = grpc_per_ip_add(s->per_ip, &ip);
        if (r > 0) {
            refuse_per_ip(s, fd, &ip);
            return;
        }
        counted = r == 0; /* out of memory: neither counted nor bounded */
    }
    grpc_conn *c = calloc(1, sizeof *c);
    if (!c) {
        if (counted)
            grpc_per_ip_remove(s->per_ip, &ip);
        close(fd);
        return;
    }
    c->ep_kind = GRPC_EP_CONN;
    c->srv = s;
    c->fd = fd;
    c->peer = ip;
    c->per_ip = counted;
    c->serial = ++s->next_serial;
    pusher_timer_init(&c->timer, GRPC_TIMER_CONN);
    grpc_pushq_init(&c->pushq, s->cfg.max_pending_pushes);
    grpc_liveness_init(&c->live, grpc_now_ms());
    conn_id(c, peer);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cairn_hashmap_put(s->conns, &c->serial, sizeof c->serial, c, NULL) != 0 ||
        grpc_h2_open(c) != 0 || grpc_epoll_add(s, fd, EPOLLIN, c) != 0) {
        if (c->h2)
            grpc_h2_close(c);
        close(fd);
        uncount(c);
        conn_free(c);
        return;
    }
    s->open_conns++;
    cairn_gauge_set(s->metrics.connections, s->open_conns);
    cairn_counter_inc(s->metrics.accepted);
    log_debug("connection %s", c->id);
    grpc_conn_rearm(c);
    grpc_conn_flush(c);
}

/* At the descriptor limit (EMFILE/ENFILE) the pending connection cannot be accepted, and the
 * level-triggered listener would wake the loop again at once, for ever. The spare descriptor is
 * given up to accept that connection and close it (the client sees its connection closed, as
 * past grpc.max_connections, and may try another node), then taken back. One warning per 10 s.
 * false when even that failed: the caller stops for this round. */
static bool refuse_at_fd_limit(grpc_server *s)
{
    if (s->spare_fd < 0)
        return false;
    close(s->spare_fd);
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        uint64_t n;
        cairn_counter_inc(s->metrics.refused);
        if (refusal_warn_due(&s->fd_limit_refused, &n))
            log_warn("descriptor limit reached: %llu connection(s) refused at accept since the "
                     "last warning (raise the hard RLIMIT_NOFILE or lower grpc.max_connections)",
                     (unsigned long long)n);
    }
    return fd >= 0 && s->spare_fd >= 0;
}

void grpc_conn_accept_all(grpc_server *s)
{
    for (int i = 0; i < 256; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            if (!refuse_at_fd_limit(s))
                return;
            continue;
        }
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                log_warn("accept: %s", strerror(errno));
            return;
        }
        accept_one(s, fd, &peer);
    }
}

/* One send of len bytes: how many the socket took (0 when it is full), -1 when it broke. */
static ssize_t send_some(grpc_conn *c, const uint8_t *data, size_t len)
{
    for (;;) {
        ssize_t w = send(c->fd, data, len, MSG_NOSIGNAL);
        if (w >= 0) {
            cairn_counter_add(c->srv->metrics.bytes_out, (uint64_t)w);
            return w;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

/* Keeps a[0..alen) then b[0..blen) as the output the socket has not taken (pend was empty). */
static bool hold(grpc_conn *c, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (!(c->pend = malloc(alen + blen)))
        return false;
    memcpy(c->pend, a, alen);
    if (blen)
        memcpy(c->pend + alen, b, blen);
    c->pend_off = 0;
    c->pend_len = alen + blen;
    return true;
}

/* Writes what nghttp2 has for the socket; false when the connection broke. nghttp2 hands out
 * its output a frame or so at a time (a reply is HEADERS, DATA and trailers): the pieces are
 * gathered and sent with one system call. Only what the socket does not take is kept (pend), so
 * an idle connection holds no buffer. */
static bool write_out(grpc_conn *c)
{
    uint8_t buf[16384];
    for (;;) {
        if (c->pend_len > 0) {
            ssize_t w = send_some(c, c->pend + c->pend_off, c->pend_len);
            if (w < 0)
                return false;
            c->pend_off += (size_t)w;
            c->pend_len -= (size_t)w;
            if (c->pend_len > 0)
                break; /* the socket is full */
            free(c->pend);
            c->pend = NULL;
            c->pend_off = 0;
        }
        size_t used = 0;
        bool more = true;
        while (more) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->h2, &data);
            if (n < 0)
                return false;
            if (n == 0) {
                more = false;
            } else if (used + (size_t)n <= sizeof buf) {
                memcpy(buf + used, data, (size_t)n);
                used += (size_t)n;
            } else { /* no room: all of it goes to pend, sent at the top of the loop */
                if (!hold(c, buf, used, data, (size_t)n))
                    return false;
                used = 0;
                break;
            }
        }
        if (c->pend_len > 0)
            continue;
        if (used == 0)
            break;
        ssize_t w = send_some(c, buf, used);
        if (w < 0)
            return false;
        if ((size_t)w < used) {
            if (!hold(c, buf + w, used - (size_t)w, NULL, 0))
                return false;
            break; /* the socket is full */
        }
        if (!more)
            break;
    }
    bool want_out = c->pend_len > 0;
    if (want_out != c->out_armed) {
        c->out_armed = want_out;
        grpc_epoll_mod(c->srv, c->fd, EPOLLIN | (want_out ? EPOLLOUT : 0), c);
    }
    return true;
}

void grpc_conn_flush(grpc_conn *c)
{
    if (c->closed)
        return;
    if (!c->closing && !write_out(c)) {
        cairn_counter_inc(c->srv->metrics.closed_error);
        c->closing = true;
    }
    /* the client's backlog: a bi-stream with output it does not take */
    bool backlog = c->pend_len > 0 || (c->bidi && grpc_stream_backlog(c->bidi) > 0);
    if (!backlog)
        c->blocked_since = 0;
    else if (!c->blocked_since)
        c->blocked_since = grpc_now_ms();
    if (c->closing || (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
                       c->pend_len == 0))
        grpc_conn_close(c, c->closing ? "error" : NULL);
}

static void read_in(grpc_conn *c)
{
    uint8_t buf[16384];
    for (int i = 0; i < 64 && !c->closing; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                cairn_counter_inc(c->srv->metrics.closed_error);
                c->closing = true;
            }
            return;
        }
        if (n == 0) {
            cairn_counter_inc(c->srv->metrics.closed_client);
            grpc_conn_close(c, NULL);
            return;
        }
        cairn_counter_add(c->srv->metrics.bytes_in, (uint64_t)n);
        ssize_t used = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (used < 0) {
            /* a protocol error: nghttp2 has queued GOAWAY; send it, then close */
            cairn_counter_inc(c->srv->metrics.bad_frame);
            log_debug("connection %s: %s", c->id, nghttp2_strerror((int)used));
            write_out(c);
            c->closing = true;
            return;
        }
        if ((size_t)n < sizeof buf)
            return; /* drained: spare the recv that would say EAGAIN (epoll is level-triggered) */
    }
}

void grpc_conn_io(grpc_conn *c, uint32_t events)
{
    if (c->closed)
        return; /* closed earlier in this batch of events */
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        read_in(c);
    if (c->closed)
        return; /* read_in closed it */
    grpc_push_send_due(c, grpc_now_ms());
    grpc_conn_flush(c);
    grpc_conn_rearm(c); /* pushes sent now wait for acks; blocked output has a deadline */
}

/* Finishes a close: the owner's instances go (after a write in flight), then the struct. */
static void release(grpc_conn *c)
{
    if (c->write_busy)
        return; /* write_finished comes back here */
    if (c->owns && c->srv->cluster) /* each service at its owner: a local drop syncs nothing */
        for (size_t i = 0; i < c->svc_count; i++)
            grpc_release_owned(c->srv, c->owner, c->svcs[i].key,
                               c->svcs[i].key + strlen(c->svcs[i].key) + 1);
    else if (c->owns)
        grpc_drop_owner(c->srv, c->owner, CAIRN_OWNER_EXACT);
    conn_free(c);
}

void grpc_conn_close(grpc_conn *c, const char *why)
{
    grpc_server *s = c->srv;
    if (c->closed) {
        release(c);
        return;
    }
    if (why)
        log_debug("connection %s closed: %s", c->id, why);
    c->closed = true;
    grpc_push_forget_conn(c);
    grpc_h2_close(c);
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    uncount(c);
    free(c->pend);
    c->pend = NULL;
    c->pend_len = 0;
    s->open_conns--;
    cairn_gauge_set(s->metrics.connections, s->open_conns);
    while (c->writes) { /* not sent yet: nobody waits for them any more */
        struct grpc_call *w = c->writes;
        c->writes = w->next;
        grpc_call_free(w);
    }
    release(c);
}

/* The earliest of the liveness check, a push deadline and the blocked-output limit. */
static int64_t conn_due(const grpc_conn *c)
{
    const grpc_settings *cfg = &c->srv->cfg;
    int64_t due = grpc_liveness_due(&c->live, cfg->detect_idle_ms, cfg->detect_timeout_ms);
    int64_t p = grpc_pushq_due(&c->pushq);
    if (p < due && grpc_push_can_send(c)) /* else the socket's readiness resumes them */
        due = p;
    if (c->blocked_since && c->blocked_since + cfg->max_blocked_ms < due)
        due = c->blocked_since + cfg->max_blocked_ms;
    return due;
}

void grpc_conn_rearm(grpc_conn *c)
{
    if (!c->closed)
        grpc_timer_arm(c->srv, &c->timer, conn_due(c));
}

/* A ClientDetectionRequest on the bi-stream. */
static void probe(grpc_conn *c)
{
    if (!c->bidi)
        return; /* nothing to probe on: the timeout closes it unless the client speaks */
    uint64_t id = ++c->next_request_id;
    char *json = grpc_json_server_request(id, NULL, "internal");
    uint8_t *framed;
    size_t len;
    if (json && grpc_payload_encode_framed("ClientDetectionRequest", json, strlen(json), &framed,
                                           &len) == 0 &&
        grpc_stream_send(c->bidi, framed, len) == 0)
        cairn_counter_inc(c->srv->metrics.probes);
    free(json);
}

void grpc_conn_timer(grpc_conn *c, int64_t now)
{
    const grpc_settings *cfg = &c->srv->cfg;
    grpc_live_action a = grpc_liveness_check(&c->live, now, cfg->detect_idle_ms,
                                             cfg->detect_timeout_ms);
    if (a == GRPC_LIVE_DEAD) {
        cairn_counter_inc(c->srv->metrics.closed_idle);
        grpc_conn_close(c, "no answer to the client detection");
        return;
    }
    if (c->blocked_since && now - c->blocked_since >= cfg->max_blocked_ms) {
        cairn_counter_inc(c->srv->metrics.closed_blocked);
        grpc_conn_close(c, "the client does not read");
        return;
    }
    if (a == GRPC_LIVE_PROBE)
        probe(c);
    size_t retried = grpc_pushq_expire(&c->pushq, now, cfg->retry_delay_ms);
    cairn_counter_add(c->srv->metrics.pushes_retried, retried);
    grpc_push_send_due(c, now);
    grpc_conn_flush(c);
    grpc_conn_rearm(c);
}

void grpc_conns_close_all(grpc_server *s)
{
    cairn_hashmap_iter it;
    const void *k;
    void *v;
    /* collect first: closing changes the map */
    size_t n = cairn_hashmap_size(s->conns), i = 0;
    grpc_conn **all = calloc(n ? n : 1, sizeof *all);
    if (!all)
        return;
    cairn_hashmap_iter_init(&it, s->conns);
    while (cairn_hashmap_iter_next(&it, &k, NULL, &v) && i < n)
        all[i++] = v;
    for (size_t j = 0; j < i; j++) {
        grpc_conn *c = all[j];
        if (!c->closed)
            cairn_counter_inc(s->metrics.closed_shutdown);
        c->write_busy = false; /* the loop is over: nothing will come back */
        if (c->closed)
            conn_free(c);
        else {
            grpc_push_forget_conn(c);
            grpc_h2_close(c);
            epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            uncount(c);
            conn_free(c);
        }
    }
    free(all);
    s->open_conns = 0;
}

/* ---- OWNER_DROP, retried until the registry acknowledges it --------------------------------- */

typedef struct grpc_drop {
    pusher_timer timer;
    cairn_owner_mode mode;
    char *svc;   /* a release: "ns\0grouped" (malloc'd), or NULL for an OWNER_DROP */
    char owner[];
} grpc_drop;

static void drop_free(void *p)
{
    grpc_drop *d = p;
    free(d->svc);
    free(d);
}

/* Copies of insts[n]; *out NULL when n is 0. -1 when out of memory. */
static int copy_insts(const cairn_instance *insts, uint32_t n, cairn_instance **out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    cairn_instance *copy = calloc(n, sizeof *copy);
    if (!copy)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        cairn_instance_init(&copy[i]);
        if (cairn_instance_copy(&copy[i], &insts[i]) != CAIRN_OK) {
            owned_insts_free(copy, i + 1);
            return -1;
        }
    }
    *out = copy;
    return 0;
}

int grpc_conn_note_service(grpc_conn *c, const char *ns, const char *grouped,
                           const cairn_instance *insts, uint32_t n)
{
    cairn_instance *copy;
    if (copy_insts(insts, n, &copy) != 0)
        return -1;
    for (size_t i = 0; i < c->svc_count; i++) {
        grpc_owned_svc *o = &c->svcs[i];
        if (strcmp(o->key, ns) == 0 && strcmp(o->key + strlen(ns) + 1, grouped) == 0) {
            owned_insts_free(o->insts, o->n);
            o->insts = copy;
            o->n = n;
            return 0;
        }
    }
    if (c->svc_count == c->svc_cap) {
        size_t cap = c->svc_cap ? c->svc_cap * 2 : 4;
        grpc_owned_svc *more = realloc(c->svcs, cap * sizeof *more);
        if (!more) {
            owned_insts_free(copy, n);
            return -1;
        }
        c->svcs = more;
        c->svc_cap = cap;
    }
    size_t a = strlen(ns) + 1, b = strlen(grouped) + 1;
    char *key = malloc(a + b);
    if (!key) {
        owned_insts_free(copy, n);
        return -1;
    }
    memcpy(key, ns, a);
    memcpy(key + a, grouped, b);
    c->svcs[c->svc_count++] = (grpc_owned_svc){key, copy, n};
    return 0;
}

/* ---- re-sending a connection's services when the owner list changes ------------------------- */

static void resync_done(grpc_server *s, struct grpc_call *call)
{
    grpc_conn *c = grpc_conn_find(s, call->conn_serial);
    if (call->rc == CAIRN_OK && call->rep.code == CAIRN_OK) {
        cairn_counter_inc(s->metrics.resyncs_ok);
        grpc_query_cache_changed(s, call->ref.ns, call->ref.grouped, call->rep.revision > 0
                                                                         ? call->rep.revision
                                                                         : UINT64_MAX);
    } else if (call->rc == CAIRN_OK && call->rep.code != CAIRN_E_UNAVAILABLE) {
        /* refused (a limit): the client's own write was, or will be, refused alike */
        cairn_counter_inc(s->metrics.resyncs_refused);
        log_warn("re-sending the instances of %s in %s was refused: %s",
                 c ? c->id : "a closed connection", call->ref.grouped,
                 grpc_call_why(call));
    } else if (c && !c->closed) {
        cairn_counter_inc(s->metrics.resyncs_retried);
        log_warn("re-sending the instances of %s in %s failed, retrying: %s", c->id,
                 call->ref.grouped,
                 grpc_call_why(call));
        c->resync_failed = true;
        if (!s->resync_retry_at)
            s->resync_retry_at = grpc_now_ms() + s->cfg.retry_delay_ms + 100;
    }
    grpc_call_free(call);
}

/* Queues the re-send of every service c wrote; false when out of memory (retried). */
static bool resync_conn(grpc_conn *c)
{
    for (size_t i = 0; i < c->svc_count; i++) {
        const grpc_owned_svc *o = &c->svcs[i];
        struct grpc_call *call = grpc_call_new(c->srv, resync_done);
        cairn_instance *copy;
        cairn_status st;
        if (!call || copy_insts(o->insts, o->n, &copy) != 0) {
            grpc_call_free(call);
            return false;
        }
        call->routed = true;
        snprintf(call->ref.ns, sizeof call->ref.ns, "%s", o->key);
        snprintf(call->ref.grouped, sizeof call->ref.grouped, "%s", o->key + strlen(o->key) + 1);
        cairn_err built = cairn_request_instance_set_owned(&call->req, call->ref.ns,
                                                           call->ref.grouped, c->owner, copy,
                                                           o->n, &st);
        free(copy); /* the instances were taken over */
        if (built != CAIRN_OK) {
            grpc_call_free(call);
            return false;
        }
        grpc_call_write(c, call);
    }
    return true;
}

/* Connections whose re-send goes out in one loop step: a view change with many connections is
 * spread over steps instead of queueing every connection's forward at once. */
#define RESYNC_CONNS_PER_STEP 256

void grpc_resync_due(grpc_server *s, int64_t now)
{
    if (!s->cluster)
        return;
    uint64_t gen = grpc_cluster_owners_generation(s->cluster);
    bool changed = gen != s->owners_seen;
    bool retry = s->resync_retry_at && now >= s->resync_retry_at;
    if (!changed && !retry && !s->resync_pending)
        return;
    cairn_hashmap_iter it;
    void *v;
    if (changed || retry) {
        size_t conns = 0;
        cairn_hashmap_iter_init(&it, s->conns);
        while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
            grpc_conn *c = v;
            if (!c->closed && c->svc_count > 0 && (changed || c->resync_failed)) {
                c->resync_wanted = true;
                c->resync_failed = false;
                conns++;
            }
        }
        if (conns > 0)
            log_info("%s: re-sending the instances of %zu connections to their services' "
                     "owners", changed ? "a member's view changed" : "retrying", conns);
        s->owners_seen = gen;
        s->resync_retry_at = 0;
        s->resync_pending = conns > 0;
    }
    size_t sent = 0;
    bool more = false;
    cairn_hashmap_iter_init(&it, s->conns);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        grpc_conn *c = v;
        if (!c->resync_wanted)
            continue;
        if (sent == RESYNC_CONNS_PER_STEP) {
            more = true;
            break;
        }
        c->resync_wanted = false;
        if (c->closed)
            continue;
        sent++;
        if (!resync_conn(c)) { /* out of memory: later */
            c->resync_failed = true;
            if (!s->resync_retry_at)
                s->resync_retry_at = now + s->cfg.retry_delay_ms + 100;
        }
    }
    s->resync_pending = more;
}

static void drop_send(grpc_server *s, grpc_drop *d);

static void drop_done(grpc_server *s, struct grpc_call *call)
{
    grpc_drop *d = call->ctx;
    if (d->svc && call->rc == CAIRN_OK && call->rep.code == CAIRN_OK) {
        cairn_counter_inc(s->metrics.releases_ok);
        drop_free(d);
    } else if (d->svc) {
        cairn_counter_inc(s->metrics.releases_retried);
        log_warn("releasing %s of %s failed, retrying: %s", d->svc + strlen(d->svc) + 1, d->owner,
                 grpc_call_why(call));
        grpc_timer_arm(s, &d->timer, grpc_now_ms() + s->cfg.retry_delay_ms + 100);
    } else if (call->rc == CAIRN_OK && call->rep.code == CAIRN_OK) {
        cairn_counter_inc(s->metrics.drops_ok);
        if (d->mode == CAIRN_OWNER_OTHER_INCARNATIONS) {
            log_info("dropped %u instances of earlier incarnations (%s)", call->rep.total,
                     d->owner);
            if (s->cluster)
                grpc_cluster_stale_begin(s); /* the other members next, then listen */
            else
                atomic_store(&s->stale_dropped, true);
        }
        free(d);
    } else {
        cairn_counter_inc(s->metrics.drops_retried);
        log_warn("dropping the instances of %s failed, retrying: %s", d->owner,
                 grpc_call_why(call));
        grpc_timer_arm(s, &d->timer, grpc_now_ms() + s->cfg.retry_delay_ms + 100);
    }
    grpc_call_free(call);
}

static void drop_send(grpc_server *s, grpc_drop *d)
{
    struct grpc_call *call = grpc_call_new(s, drop_done);
    cairn_status st;
    cairn_err built = CAIRN_E_NOMEM;
    if (call && d->svc) {
        call->routed = true;
        built = cairn_request_instance_set_owned(&call->req, d->svc, d->svc + strlen(d->svc) + 1,
                                                 d->owner, NULL, 0, &st);
    } else if (call) {
        built = cairn_request_owner_drop(&call->req, d->owner, d->mode, &st);
    }
    if (built != CAIRN_OK) {
        grpc_call_free(call);
        grpc_timer_arm(s, &d->timer, grpc_now_ms() + s->cfg.retry_delay_ms + 100);
        return;
    }
    call->ctx = d;
    call->free_ctx = drop_free;
    grpc_call_start(call);
}

void grpc_drop_owner(grpc_server *s, const char *owner, cairn_owner_mode mode)
{
    size_t n = strlen(owner) + 1;
    grpc_drop *d = malloc(sizeof *d + n);
    if (!d) {
        log_error("out of memory: the instances of %s stay until the next start", owner);
        return;
    }
    pusher_timer_init(&d->timer, GRPC_TIMER_DROP);
    d->mode = mode;
    d->svc = NULL;
    memcpy(d->owner, owner, n);
    drop_send(s, d);
}

void grpc_release_owned(grpc_server *s, const char *owner, const char *ns, const char *grouped)
{
    size_t n = strlen(owner) + 1, a = strlen(ns) + 1, b = strlen(grouped) + 1;
    grpc_drop *d = malloc(sizeof *d + n);
    char *svc = malloc(a + b);
    if (!d || !svc) {
        free(d);
        free(svc);
        log_error("out of memory: the instances of %s in %s stay until its node goes down", owner,
                  grouped);
        return;
    }
    pusher_timer_init(&d->timer, GRPC_TIMER_DROP);
    d->mode = CAIRN_OWNER_EXACT;
    memcpy(svc, ns, a);
    memcpy(svc + a, grouped, b);
    d->svc = svc;
    memcpy(d->owner, owner, n);
    drop_send(s, d);
}

void grpc_drop_discard(pusher_timer *t)
{
    drop_free((char *)t - offsetof(grpc_drop, timer));
}

void grpc_drop_timer(grpc_server *s, pusher_timer *t)
{
    drop_send(s, (grpc_drop *)((char *)t - offsetof(grpc_drop, timer)));
}
