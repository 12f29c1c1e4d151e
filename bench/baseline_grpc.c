/* cairn-bench-grpc-base: the gRPC ceiling of bench/run.sh. A trivial nghttp2 server set up as
 * cairn-grpc is (one thread, one epoll, nghttp2's memory interface, the same SETTINGS and
 * windows, the same response headers and trailers) that answers each unary call on
 * /Request/request with fixed bytes chosen by the request Payload's type: the bytes cairn-grpc
 * answered to the same request, captured at the start of the run. The bi-stream gets its
 * response headers and nothing else; what comes on it is dropped. No registry, no JSON.
 *
 *   cairn-bench-grpc-base --reply TYPE=FILE [--reply TYPE=FILE]... --address-file F
 * FILE holds one framed gRPC message (cairn-bench-grpc capture writes them). Listens on a free
 * port of 127.0.0.1 and writes host:port to F; runs until SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc_codec.h"

#define MAX_REPLIES 8

typedef struct reply {
    const char *type;
    uint8_t *bytes;
    size_t len;
} reply;

static reply g_replies[MAX_REPLIES];
static int g_nreplies;
static volatile sig_atomic_t g_stop;

typedef struct conn {
    int fd;
    nghttp2_session *h2;
    const uint8_t *pend;
    size_t pend_len;
    bool out_armed, closing;
} conn;

typedef struct stream {
    bool unary;
    grpc_reader rd;
    const reply *r;
    size_t off;
} stream;

static void on_stop(int sig) { g_stop = 1; }

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}

static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    stream *st = src->ptr;
    if (!st->r)
        return NGHTTP2_ERR_DEFERRED; /* the bi-stream: nothing to say */
    size_t n = st->r->len - st->off;
    if (n > length)
        n = length;
    memcpy(buf, st->r->bytes + st->off, n);
    st->off += n;
    if (st->off == st->r->len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv trailers[] = {NV("grpc-status", "0")};
        nghttp2_submit_trailer(h2, id, trailers, 1);
    }
    return (ssize_t)n;
}

static void respond(nghttp2_session *h2, int32_t id, stream *st)
{
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    nghttp2_submit_response(h2, id, hdrs, 2, &prd);
}

/* The unary call is complete: its Payload's type picks the reply. */
static void answer(nghttp2_session *h2, int32_t id, stream *st)
{
    const uint8_t *msg;
    size_t len;
    grpc_payload p;
    if (grpc_reader_next(&st->rd, &msg, &len) == GRPC_READ_MESSAGE &&
        grpc_payload_decode(msg, len, &p) == 0) {
        for (int i = 0; i < g_nreplies && !st->r; i++)
            if (strcmp(g_replies[i].type, p.type) == 0)
                st->r = &g_replies[i];
        grpc_payload_free(&p);
    }
    if (st->r) {
        respond(h2, id, st);
        return;
    }
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                         NV("grpc-status", "12"), NV("grpc-message", "no reply for this type")};
    nghttp2_submit_response(h2, id, hdrs, 4, NULL);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    grpc_reader_init(&st->rd, 16u << 20);
    nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, st);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    stream *st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (st && namelen == 5 && memcmp(name, ":path", 5) == 0)
        st->unary = valuelen == 16 && memcmp(value, "/Request/request", 16) == 0;
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    stream *st = frame->hd.stream_id
                     ? nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id)
                     : NULL;
    if (!st)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !st->unary)
        respond(h2, frame->hd.stream_id, st);
    if (st->unary && (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        answer(h2, frame->hd.stream_id, st);
    return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st && st->unary && grpc_reader_feed(&st->rd, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_close(nghttp2_session *h2, int32_t id, uint32_t code, void *user)
{
    stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st) {
        grpc_reader_free(&st->rd);
        free(st);
    }
    return 0;
}

static int session_open(conn *c)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int rc = nghttp2_session_server_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    /* cairn-grpc's settings (grpc_h2.c) */
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 128},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 16 << 20) != 0)
        return -1;
    return 0;
}

static void conn_close(int ep, conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    nghttp2_session_del(c->h2);
    free(c);
}

/* Hands nghttp2's output to the socket; false when the connection is done. */
static bool flush(int ep, conn *c)
{
    for (;;) {
        if (c->pend_len == 0) {
            ssize_t n = nghttp2_session_mem_send(c->h2, &c->pend);
            if (n <= 0) {
                if (n < 0)
                    return false;
                break;
            }
            c->pend_len = (size_t)n;
        }
        ssize_t w = send(c->fd, c->pend, c->pend_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return false;
            break;
        }
        c->pend += w;
        c->pend_len -= (size_t)w;
    }
    bool out = c->pend_len > 0;
    if (out != c->out_armed) {
        c->out_armed = out;
        struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    return !c->closing && (nghttp2_session_want_read(c->h2) || nghttp2_session_want_write(c->h2) ||
                           c->pend_len > 0);
}

static void conn_io(int ep, conn *c, uint32_t events)
{
    uint8_t buf[16384];
    for (int i = 0; i < 64 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)); i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0 || nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) {
            c->closing = true;
            break;
        }
    }
    if (!flush(ep, c))
        conn_close(ep, c);
}

static void accept_all(int ep, int lfd)
{
    for (int i = 0; i < 256; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (session_open(c) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            nghttp2_session_del(c->h2);
            free(c);
            continue;
        }
        if (!flush(ep, c))
            conn_close(ep, c);
    }
}

static int load_reply(char *arg)
{
    char *eq = strchr(arg, '=');
    if (!eq || g_nreplies == MAX_REPLIES)
        return -1;
    *eq = 0;
    FILE *f = fopen(eq + 1, "rb");
    if (!f)
        return -1;
    reply *r = &g_replies[g_nreplies];
    r->type = arg;
    r->bytes = malloc(1u << 20);
    r->len = r->bytes ? fread(r->bytes, 1, 1u << 20, f) : 0;
    fclose(f);
    if (r->len < GRPC_PREFIX_BYTES)
        return -1;
    g_nreplies++;
    return 0;
}

static int listen_loopback(const char *address_file)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", address_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "127.0.0.1:%u\n", ntohs(a.sin_port));
    fclose(f);
    return rename(tmp, address_file) == 0 ? fd : -1;
}

int main(int argc, char **argv)
{
    const char *address_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reply") == 0 && load_reply(argv[i + 1]) == 0)
            continue;
        if (strcmp(argv[i], "--address-file") == 0) {
            address_file = argv[i + 1];
            continue;
        }
        fprintf(stderr, "cairn-bench-grpc-base: bad argument %s %s\n", argv[i], argv[i + 1]);
        return 2;
    }
    if (!address_file || g_nreplies == 0) {
        fprintf(stderr, "usage: cairn-bench-grpc-base --reply TYPE=FILE... --address-file F\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int lfd = listen_loopback(address_file);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || lfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        fprintf(stderr, "cairn-bench-grpc-base: cannot listen: %s\n", strerror(errno));
        return 1;
    }
    while (!g_stop) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                accept_all(ep, lfd);
            else
                conn_io(ep, evs[i].data.ptr, evs[i].events);
        }
    }
    return 0;
}
