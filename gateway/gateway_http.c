/* The libmicrohttpd daemon of the Nacos API: binding, per-request body collection, parameter
 * merging (§1.2) and response sending. */
#include "gateway_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "cairn_address.h"
#include "cairn_files.h"
#include "cairn_log.h"

#define FORM_CONTENT_TYPE "application/x-www-form-urlencoded"
#define TEXT_CONTENT_TYPE "text/plain;charset=UTF-8"
#define POST_BUFFER_SIZE 4096

struct gateway_http {
    struct MHD_Daemon *daemon;
    gateway_http_options opts;
    uint16_t port;
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
    bool responded; /* a reply was queued before the body (413) */
    bool too_large;
    bool form_error;
    bool nomem;
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
    if (!key)
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

static enum MHD_Result on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    gateway_params_add(cls, key, value, value ? strlen(value) : 0);
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

/* The first callback of a request: headers are in, no body yet. */
static enum MHD_Result begin_request(gateway_http *h, struct MHD_Connection *conn,
                                     const char *method, void **con_cls)
{
    request_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return MHD_NO;
    clock_gettime(CLOCK_MONOTONIC, &rs->started);
    *con_cls = rs;

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

static enum MHD_Result finish_request(gateway_http *h, struct MHD_Connection *conn,
                                      request_state *rs, const char *url, const char *method)
{
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
    gateway_params_init(&params, h->opts.max_param_bytes);
    /* Query first, then the body: the first value of a key wins, as with getParameter. */
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_query_arg, &params);
    for (size_t i = 0; i < rs->body_len; i++)
        gateway_params_add(&params, rs->body[i].key, rs->body[i].value, rs->body[i].len);

    const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_USER_AGENT);
    if (!ua || !*ua)
        ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Client-Version");
    char peer[INET6_ADDRSTRLEN];
    peer_address(conn, peer, sizeof peer);
    gateway_request req = {
        .method = method,
        .path = url,
        .user_agent = ua ? ua : "",
        .peer_ip = peer,
        .params = &params,
    };
    gateway_response resp = {0};
    h->opts.handler(h->opts.arg, &req, &resp);
    gateway_params_free(&params);
    return send_response(h, conn, rs, method, &resp, false);
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
    (void)cls, (void)conn, (void)toe;
    state_free(*con_cls);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_warn("http: %s", buf);
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

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
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
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opts->threads > 0 ? opts->threads : 1),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)opts->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_END);
    if (!h->daemon) {
        cairn_fail(st, CAIRN_E_UNAVAILABLE, "gateway.listen: cannot listen on %s:%u", opts->host,
                   opts->port);
        freeaddrinfo(ai);
        free(h);
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
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    free(h);
}
