/* The admin listener: /metrics, /health and /ready for operators, systemd and `cairn status`.
 * libmicrohttpd runs it on its own internal thread, apart from the role's real work. */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_address.h"
#include "cairn_role.h"
#include "cairn_role_private.h"

struct cairn_admin_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    char address[64]; /* as bound (cairn_address.h) */
    cairn_role *role;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status,
                                    const char *text)
{
    return respond(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
                   MHD_RESPMEM_MUST_COPY);
}

/* Every endpoint answers at the first call: none of them reads a request body. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    cairn_admin_server *srv = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");

    if (strcmp(url, "/metrics") == 0) {
        size_t len;
        char *text = cairn_metrics_render(srv->role->metrics, &len);
        if (!text)
            return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n");
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
                       MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/health") == 0) {
        char detail[256] = "";
        bool healthy = cairn_role_check_health(srv->role, detail, sizeof detail);
        char body[300];
        snprintf(body, sizeof body, "%s%s\n", healthy ? "ok: " : "", detail);
        return respond_text(conn, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    if (strcmp(url, "/ready") == 0) {
        char detail[256] = "";
        bool ready = cairn_role_is_ready(srv->role, detail, sizeof detail);
        char body[300];
        snprintf(body, sizeof body, "%s%s\n", ready ? "" : "not ready: ", ready ? "ready" : detail);
        return respond_text(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("admin listener: %s", msg);
}

cairn_admin_server *cairn_admin_start(const char *host, uint16_t port, cairn_role *role)
{
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, port_text, &hints, &ai);
    if (gai != 0) {
        log_error("admin listener: cannot resolve \"%s\": %s", host, gai_strerror(gai));
        return NULL;
    }
    cairn_admin_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        freeaddrinfo(ai);
        log_error("admin listener: out of memory");
        return NULL;
    }
    srv->role = role;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger goes first so that MHD reports option errors through it too. */
    srv->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, handle, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 64u,
        MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        log_error("admin listener: cannot listen on %s:%u", host, port);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    if (!info || cairn_bound_address(info->listen_fd, srv->address, sizeof srv->address,
                                     &srv->port) != 0) {
        log_error("admin listener: cannot read the bound address of %s:%u: %s", host, port,
                  strerror(errno));
        MHD_stop_daemon(srv->daemon);
        free(srv);
        return NULL;
    }
    return srv;
}

uint16_t cairn_admin_port(const cairn_admin_server *srv)
{
    return srv ? srv->port : 0;
}

const char *cairn_admin_address(const cairn_admin_server *srv)
{
    return srv ? srv->address : "";
}

void cairn_admin_stop(cairn_admin_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
