/* The libmicrohttpd daemon of the Nacos API: binding, per-request body collection, parameter
 * merging (§1.2) and response sending. */
#include "gateway_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cairn_address.h"
#include "cairn_files.h"
#include "cairn_log.h"
#include "gateway.h"
#include "gateway_conns.h"

#define FORM_CONTENT_TYPE "application/x-www-form-urlencoded"
#define TEXT_CONTENT_TYPE "text/plain;charset=UTF-8"
#define POST_BUFFER_SIZE 4096

struct gateway_http {
    struct MHD_Daemon *daemon;
    gateway_conns *conns; /* admission and read deadlines */
    pthread_mutex_t log_lock; /* libmicrohttpd's log lines, limited (on_mhd_log) */
    int64_t log_second;
    unsigned log_lines;
    unsigned log_dropped;
    gateway_http_options opts;
    uint16_t port;
    pthread_mutex_t deferred_lock;
    pthread_cond_t deferred_zero;
    size_t deferred; /* requests deferred and not yet answered */
};

/* One form-body parameter being assembled: the post processor hands values over in pieces. */
typedef struct body_param {
    char *key;
    char *value;
    size_t len;
} body_param;

/* Per-request state, from the first callback (headers) to the completion notice. */
typedef struct request_state {
    struct timespec started;
    struct MHD_PostProcessor *pp;
    body_param *body;
    size_t body_len;
    size_t body_cap;
    size_t body_bytes;
    size_t max_params; /* body parameters kept: one more than the limit, at most */
    bool responded; /* a reply was queued before the body (413) */
    bool too_large;
    bool form_error;
    bool nomem;
    /* A deferred request (gateway_request_defer); lock guards suspended and answered. */
    gateway_http *http;
    struct MHD_Connection *conn;
    bool deferred;
    pthread_mutex_t lock;
    bool suspended; /* the connection waits for the answer */
    bool answered;  /* answer holds the response */
    bool sent;
    gateway_response answer;
    const char *endpoint; /* the handler's endpoint label, for an answer without one */
} request_state;

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void state_free(request_state *rs)
{
    if (!rs)
        return;
    if (rs->pp)
        MHD_destroy_post_processor(rs->pp);
    if (rs->deferred) {
        pthread_mutex_destroy(&rs->lock);
        if (!rs->sent)
            free(rs->answer.body);
    }
    for (size_t i = 0; i < rs->body_len; i++) {
        free(rs->body[i].key);
        free(rs->body[i].value);
    }
    free(rs->body);
    free(rs);
}

/* Post processor callback: off == 0 starts a value, later calls append to it. */
static enum MHD_Result on_form_data(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size)
{
    request_state *rs = cls;
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    /* One parameter past the limit is enough to refuse the request (gateway_params_check):
     * the rest are not kept. */
    if (!key || (rs->max_params > 0 && rs->body_len > rs->max_params))
        return MHD_YES;
    body_param *bp = rs->body_len ? &rs->body[rs->body_len - 1] : NULL;
    if (off == 0 || !bp || strcmp(bp->key, key) != 0) {
        if (rs->body_len == rs->body_cap) {
            size_t cap = rs->body_cap ? rs->body_cap * 2 : 8;
            body_param *items = realloc(rs->body, cap * sizeof *items);
            if (!items)
                goto nomem;
            rs->body = items;
            rs->body_cap = cap;
        }
        bp = &rs->body[rs->body_len];
        memset(bp, 0, sizeof *bp);
        if (!(bp->key = strdup(key)))
            goto nomem;
        rs->body_len++;
    }
    if (size > 0 && data) {
        char *v = realloc(bp->value, bp->len + size + 1);
        if (!v)
            goto nomem;
        memcpy(v + bp->len, data, size);
        bp->len += size;
        v[bp->len] = '\0';
        bp->value = v;
    }
    return MHD_YES;
nomem:
    rs->nomem = true;
    return MHD_NO;
}

/* The _n iterator gives a name's and a value's decoded lengths, so a %00 inside either is seen
 * (and refused by gateway_params_check) rather than ending it. */
static enum MHD_Result on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    if (key && strlen(key) != key_size)
        gateway_params_refuse_nul_key(cls, key);
    else
        gateway_params_add(cls, key, value, value ? value_size : 0);
    return MHD_YES;
}

static bool is_form(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct && strncasecmp(ct, FORM_CONTENT_TYPE, strlen(FORM_CONTENT_TYPE)) == 0;
}

static enum MHD_Result send_response(gateway_http *h, struct MHD_Connection *conn,
                                     request_state *rs, const char *method,
                                     gateway_response *resp, bool close)
{
    if (resp->status == 0) {
        free(resp->body);
        resp->status = 500;
        resp->content_type = TEXT_CONTENT_TYPE;
        resp->body = strdup("caused: no response;");
        resp->len = resp->body ? strlen(resp->body) : 0;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : "",
                                                             resp->body ? MHD_RESPMEM_MUST_FREE
                                                                        : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(resp->body);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_YES;
    if (resp->content_type &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type) != MHD_YES)
        ok = MHD_NO;
    for (size_t i = 0; ok == MHD_YES && i < resp->header_count; i++)
        ok = MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    if (ok == MHD_YES && close &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
        ok = MHD_NO;
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    if (h->opts.observer)
        h->opts.observer(h->opts.arg, method, resp->endpoint, resp->status,
                         seconds_since(&rs->started));
    return ok;
}

static enum MHD_Result send_text(gateway_http *h, struct MHD_Connection *conn, request_state *rs,
                                 const char *method, int status, bool close, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static enum MHD_Result send_text(gateway_http *h, struct MHD_Connection *conn, request_state *rs,
                                 const char *method, int status, bool close, const char *fmt, ...)
{
    gateway_response resp = {.status = status, .content_type = TEXT_CONTENT_TYPE};
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&resp.body, fmt, ap);
    va_end(ap);
    if (n < 0)
        resp.body = NULL;
    resp.len = resp.body ? (size_t)n : 0;
    return send_response(h, conn, rs, method, &resp, close);
}

bool gateway_response_add_header(gateway_response *resp, const char *name, const char *value)
{
    if (resp->header_count >= GATEWAY_MAX_HEADERS)
        return false;
    resp->headers[resp->header_count++] = (gateway_header){name, value};
    return true;
}

/* The numeric text of the connection's peer address into buf ("" when unknown). */
static void peer_address(struct MHD_Connection *conn, char *buf, size_t len)
{
    buf[0] = '\0';
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            if (!inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, (socklen_t)len))
                buf[0] = '\0';
            return;
        }
        if (!inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len))
            buf[0] = '\0';
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        if (!inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len))
            buf[0] = '\0';
    }
}

/* How the request frames its body: Content-Length and Transfer-Encoding headers as received. */
typedef struct framing {
    const char *length; /* the first Content-Length */
    bool lengths_differ;
    size_t encodings; /* Transfer-Encoding headers */
    const char *encoding;
} framing;

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    framing *f = cls;
    (void)kind;
    if (!value)
        value = "";
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->length && strcmp(f->length, value) != 0)
            f->lengths_differ = true;
        if (!f->length)
            f->length = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->encodings++;
        f->encoding = value;
    }
    return MHD_YES;
}

/* Why the body's framing is ambiguous, or NULL. A proxy in front may read such a request's end
 * elsewhere than libmicrohttpd does (which takes chunked over Content-Length, and the first of
 * two lengths) and pass the rest on as a request of its own: refused, connection closed
 * (RFC 9112 6.1, 6.3). */
static const char *framing_problem(struct MHD_Connection *conn)
{
    framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, on_header, &f);
    if (f.encodings > 0 && f.length)
        return "both Content-Length and Transfer-Encoding";
    if (f.lengths_differ)
        return "Content-Length headers that differ";
    if (f.encodings > 1 || (f.encodings == 1 && strcasecmp(f.encoding, "chunked") != 0))
        return "a Transfer-Encoding other than chunked";
    return NULL;
}

/* The first callback of a request: headers are in, no body yet. */
static enum MHD_Result begin_request(gateway_http *h, struct MHD_Connection *conn,
                                     const char *method, void **con_cls)
{
    request_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return MHD_NO;
    clock_gettime(CLOCK_MONOTONIC, &rs->started);
    rs->max_params = h->opts.max_params;
    *con_cls = rs;

    const char *ambiguity = framing_problem(conn);
    if (ambiguity) {
        rs->responded = true;
        return send_text(h, conn, rs, method, 400, true, "ambiguous request framing: %s",
                         ambiguity);
    }

    /* Refuse an announced oversized body before reading it (no 100-continue is sent). */
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > h->opts.max_body_bytes) {
            rs->too_large = true;
            rs->responded = true;
            return send_text(h, conn, rs, method, 413, true,
                             "request body too large (max %zu bytes)", h->opts.max_body_bytes);
        }
    }
    if (is_form(conn)) {
        rs->pp = MHD_create_post_processor(conn, POST_BUFFER_SIZE, on_form_data, rs);
        if (!rs->pp)
            rs->form_error = true;
    }
    return MHD_YES;
}

static void body_chunk(gateway_http *h, request_state *rs, const char *data, size_t size)
{
    rs->body_bytes += size;
    if (rs->body_bytes > h->opts.max_body_bytes)
        rs->too_large = true;
    if (rs->too_large || rs->form_error || !rs->pp)
        return; /* discard: the reply is decided at the end */
    if (MHD_post_process(rs->pp, data, size) != MHD_YES)
        rs->form_error = true;
}

/* A deferred request's answer, once, on the connection's thread. */
static enum MHD_Result send_answer(gateway_http *h, struct MHD_Connection *conn, request_state *rs,
                                   const char *method)
{
    pthread_mutex_lock(&rs->lock);
    bool ready = rs->answered && !rs->sent;
    rs->sent = rs->sent || ready;
    pthread_mutex_unlock(&rs->lock);
    if (!ready)
        return MHD_YES;
    if (!rs->answer.endpoint)
        rs->answer.endpoint = rs->endpoint;
    return send_response(h, conn, rs, method, &rs->answer, false);
}

/* The connection's entry in h->conns (NULL when it has none). */
static gateway_conn *conn_entry(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static enum MHD_Result finish_request(gateway_http *h, struct MHD_Connection *conn,
                                      request_state *rs, const char *url, const char *method)
{
    gateway_conn_disarm(conn_entry(conn)); /* read: no deadline while it is handled */
    if (rs->too_large)
        return send_text(h, conn, rs, method, 413, true, "request body too large (max %zu bytes)",
                         h->opts.max_body_bytes);
    /* Destroying the post processor delivers the last value of the form. */
    if (rs->pp) {
        if (MHD_destroy_post_processor(rs->pp) != MHD_YES)
            rs->form_error = true;
        rs->pp = NULL;
    }
    if (rs->nomem)
        return send_text(h, conn, rs, method, 500, false, "caused: out of memory;");
    if (rs->form_error)
        return send_text(h, conn, rs, method, 400, false, "malformed form body");

    gateway_params params;
    gateway_params_init(&params, h->opts.max_param_bytes, h->opts.max_params);
    /* Query first, then the body: the first value of a key wins, as with getParameter. */
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, on_query_arg, &params);
    for (size_t i = 0; i < rs->body_len; i++)
        gateway_params_add(&params, rs->body[i].key, rs->body[i].value, rs->body[i].len);

    const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_USER_AGENT);
    if (!ua || !*ua)
        ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Client-Version");
    const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
    char peer[INET6_ADDRSTRLEN];
    peer_address(conn, peer, sizeof peer);
    gateway_request req = {
        .method = method,
        .path = url,
        .user_agent = ua ? ua : "",
        .peer_ip = peer,
        .authorization = authz ? authz : "",
        .params = &params,
        .state = rs,
    };
    rs->http = h;
    rs->conn = conn;
    gateway_response resp = {0};
    h->opts.handler(h->opts.arg, &req, &resp);
    gateway_params_free(&params);
    if (!rs->deferred)
        return send_response(h, conn, rs, method, &resp, false);
    rs->endpoint = resp.endpoint;
    pthread_mutex_lock(&rs->lock);
    if (!rs->answered) {
        /* Under the lock, so that the answer cannot resume the connection before this. */
        rs->suspended = true;
        MHD_suspend_connection(conn);
        pthread_mutex_unlock(&rs->lock);
        return MHD_YES;
    }
    pthread_mutex_unlock(&rs->lock);
    return send_answer(h, conn, rs, method);
}

gateway_deferred *gateway_request_defer(gateway_request *req)
{
    request_state *rs = req->state;
    if (rs->deferred) /* an offloaded handler's request, deferred by the pool */
        return rs;
    gateway_http *h = rs->http;
    pthread_mutex_init(&rs->lock, NULL);
    rs->deferred = true;
    pthread_mutex_lock(&h->deferred_lock);
    h->deferred++;
    pthread_mutex_unlock(&h->deferred_lock);
    return rs;
}

void gateway_deferred_answer(gateway_deferred *rs, gateway_response *resp)
{
    gateway_http *h = rs->http;
    struct MHD_Connection *conn = rs->conn;
    pthread_mutex_lock(&rs->lock);
    rs->answer = *resp;
    rs->answered = true;
    bool resume = rs->suspended;
    pthread_mutex_unlock(&rs->lock);
    memset(resp, 0, sizeof *resp);
    /* Once resumed, the connection's thread sends the answer and may free rs: not touched
     * after this. */
    if (resume)
        MHD_resume_connection(conn);
    pthread_mutex_lock(&h->deferred_lock);
    if (--h->deferred == 0)
        pthread_cond_broadcast(&h->deferred_zero);
    pthread_mutex_unlock(&h->deferred_lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    gateway_http *h = cls;
    (void)version;
    if (!*con_cls)
        return begin_request(h, conn, method, con_cls);
    request_state *rs = *con_cls;
    if (rs->deferred) /* called again once resumed */
        return send_answer(h, conn, rs, method);
    if (rs->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        body_chunk(h, rs, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish_request(h, conn, rs, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)toe;
    state_free(*con_cls);
    *con_cls = NULL;
    gateway_conn_arm(conn_entry(conn), gateway_now_ms()); /* the next request's turn */
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    gateway_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? gateway_conns_add(h->conns, info->connect_fd, gateway_now_ms())
                               : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        gateway_conns_remove(h->conns, *socket_context); /* before the socket is closed */
        *socket_context = NULL;
    }
}

/* Over gateway.max_connections a connection is closed as it is accepted, so that a client
 * learns at once instead of waiting in the kernel's queue. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    gateway_http *h = cls;
    (void)addr, (void)addrlen;
    return gateway_conns_admit(h->conns) ? MHD_YES : MHD_NO;
}

/* libmicrohttpd logs a line for every connection it refuses or loses, which clients control:
 * at most this many lines a second, and then how many were left out. */
#define MHD_LOG_PER_SECOND 5

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    gateway_http *h = cls;
    int64_t second = gateway_now_ms() / 1000;
    pthread_mutex_lock(&h->log_lock);
    if (second != h->log_second) {
        if (h->log_dropped > 0)
            log_warn("http: %u more messages in the last second left out", h->log_dropped);
        h->log_second = second;
        h->log_lines = 0;
        h->log_dropped = 0;
    }
    bool drop = ++h->log_lines > MHD_LOG_PER_SECOND;
    h->log_dropped += drop;
    pthread_mutex_unlock(&h->log_lock);
    if (drop)
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_warn("http: %s", buf);
}

static struct MHD_Daemon *start_daemon(gateway_http *h, const struct addrinfo *ai)
{
    const gateway_http_options *opts = &h->opts;
    /* poll(), not epoll: libmicrohttpd's epoll loop (0.9.75 and later) takes events 128 at a
     * time and, when a call returns exactly 128, waits again with its full timeout (the nearest
     * connection timeout, up to gateway.connection_timeout_s) before handling any of them, so a
     * burst of exactly 128 readable connections sat unanswered for seconds
     * (test_http_event_batch, docs/architecture.md "HTTP event loop"). poll() hands every ready
     * connection to the thread each round. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The connection's memory pool holds the request line and headers, so it bounds the query
     * string (the Node client sends everything, metadata included, in the query): one parameter
     * of max_param_bytes still fits, and at the default (64 KiB) metadata of
     * limits.max_metadata_bytes (16 KiB) fits even when every byte is percent-encoded; a longer
     * query gets 414/431 from libmicrohttpd. No larger: libmicrohttpd zeroes the whole pool for
     * every request on a keep-alive connection, and a 192 KiB pool cost a quarter of the
     * gateway's list throughput (docs/architecture.md). Form bodies do not live in the pool. */
    size_t pool = opts->max_param_bytes + 8 * 1024;
    if (pool < 16 * 1024)
        pool = 16 * 1024;
    /* max_connections is kept by on_accept. libmicrohttpd splits its own limit evenly between
     * its threads, and a thread at its share stops accepting: twice the limit keeps some thread
     * accepting (and refusing) until the connections are twice as many as allowed, which
     * on_accept never lets happen. */
    unsigned threads = opts->threads > 0 ? opts->threads : 1;
    return MHD_start_daemon(
        flags, 0, on_accept, h, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, 2 * opts->max_connections + threads,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, opts->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, opts->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
}

gateway_http *gateway_http_start(const gateway_http_options *opts, cairn_status *st)
{
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", opts->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(opts->host, port_text, &hints, &ai);
    if (gai != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "gateway.listen: cannot resolve %s: %s", opts->host,
                   gai_strerror(gai));
        return NULL;
    }

    gateway_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    h->opts = *opts;
    h->opts.address_file = NULL; /* not kept: the caller's string */
    pthread_mutex_init(&h->deferred_lock, NULL);
    pthread_cond_init(&h->deferred_zero, NULL);
    pthread_mutex_init(&h->log_lock, NULL);

    h->conns = gateway_conns_new(opts->max_connections, opts->read_timeout_ms, NULL);
    if (!h->conns || (opts->read_timeout_ms > 0 && gateway_conns_start(h->conns) != 0)) {
        cairn_fail(st, CAIRN_E_NOMEM, "cannot start the connection table");
        freeaddrinfo(ai);
        gateway_http_stop(h);
        return NULL;
    }
    h->daemon = start_daemon(h, ai);
    if (!h->daemon) {
        cairn_fail(st, CAIRN_E_UNAVAILABLE, "gateway.listen: cannot listen on %s:%u", opts->host,
                   opts->port);
        freeaddrinfo(ai);
        gateway_http_stop(h);
        return NULL;
    }
    freeaddrinfo(ai);
    /* The address as bound (a wildcard stays 0.0.0.0 or [::]); readers dial it over loopback. */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    char address[INET6_ADDRSTRLEN + 16];
    if (!info || cairn_bound_address(info->listen_fd, address, sizeof address, &h->port) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "gateway.listen: cannot read the bound address: %s",
                   strerror(errno));
        gateway_http_stop(h);
        return NULL;
    }
    if (opts->address_file) {
        if (cairn_write_file_atomic(opts->address_file, address, strlen(address)) != 0) {
            cairn_fail(st, CAIRN_E_INTERNAL, "cannot write %s: %s", opts->address_file,
                       strerror(errno));
            gateway_http_stop(h);
            return NULL;
        }
    }
    log_info("http: listening on %s", address);
    return h;
}

uint16_t gateway_http_port(const gateway_http *h)
{
    return h->port;
}

void gateway_http_stop(gateway_http *h)
{
    if (!h)
        return;
    if (h->daemon) {
        /* Every deferred request is answered within its call's timeout; libmicrohttpd must not
         * be stopped with a connection still suspended. */
        MHD_socket listen_fd = MHD_quiesce_daemon(h->daemon);
        pthread_mutex_lock(&h->deferred_lock);
        while (h->deferred > 0)
            pthread_cond_wait(&h->deferred_zero, &h->deferred_lock);
        pthread_mutex_unlock(&h->deferred_lock);
        MHD_stop_daemon(h->daemon);
        if (listen_fd != MHD_INVALID_SOCKET)
            close(listen_fd); /* quiesced: ours to close, after the stop */
    }
    gateway_conns_free(h->conns); /* every connection is closed: stops the sweeper */
    pthread_mutex_destroy(&h->log_lock);
    pthread_cond_destroy(&h->deferred_zero);
    pthread_mutex_destroy(&h->deferred_lock);
    free(h);
}
