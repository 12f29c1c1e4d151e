/* The tests' gRPC client on nghttp2 (cairn_grpc_client.h). */
#include "cairn_grpc_client.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "grpc_codec.h"

typedef struct msg {
    char *type, *json;
    struct msg *next;
} msg;

typedef struct call {
    int32_t id;
    grpc_reader rd;
    it_grpc_reply *r;
    const uint8_t *body;
    size_t len, off;
    bool done;
} call;

struct it_grpc {
    int fd;
    nghttp2_session *h2;
    bool dead;
    int32_t bidi;
    bool bidi_headers;
    grpc_reader bidi_rd;
    uint8_t *bidi_out;
    size_t bidi_len, bidi_off;
    msg *queue;
    bool ack_pushes, ack_probes;
    int pushes;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void queue_push(it_grpc *g, char *type, char *json)
{
    msg *m = calloc(1, sizeof *m);
    m->type = type;
    m->json = json;
    msg **t = &g->queue;
    while (*t)
        t = &(*t)->next;
    *t = m;
}

static void bidi_message(it_grpc *g, const uint8_t *data, size_t len)
{
    grpc_payload p;
    if (grpc_payload_decode(data, len, &p) != 0)
        return;
    json_t *j = json_loadb(p.body, p.body_len, 0, NULL);
    const char *rid = j ? json_string_value(json_object_get(j, "requestId")) : NULL;
    char ack[256];
    if (strcmp(p.type, "NotifySubscriberRequest") == 0) {
        g->pushes++;
        if (g->ack_pushes && rid) {
            snprintf(ack, sizeof ack, "{\"resultCode\":200,\"errorCode\":0,\"requestId\":\"%s\"}",
                     rid);
            grpc_bidi_send(g, "NotifySubscriberResponse", ack);
        }
    } else if (strcmp(p.type, "ClientDetectionRequest") == 0 && g->ack_probes && rid) {
        snprintf(ack, sizeof ack, "{\"resultCode\":200,\"errorCode\":0,\"requestId\":\"%s\"}", rid);
        grpc_bidi_send(g, "ClientDetectionResponse", ack);
    }
    json_decref(j);
    queue_push(g, p.type, p.body);
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    it_grpc *g = user;
    if (frame->hd.stream_id == g->bidi) {
        g->bidi_headers = true;
        return 0;
    }
    call *c = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!c)
        return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
        c->r->http_status = atoi((const char *)value);
    else if (nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
        c->r->grpc_status = atoi((const char *)value);
    else if (nlen == 12 && memcmp(name, "grpc-message", 12) == 0)
        c->r->grpc_message = strndup((const char *)value, vlen);
    return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    it_grpc *g = user;
    grpc_reader *rd;
    call *c = NULL;
    if (id == g->bidi) {
        rd = &g->bidi_rd;
    } else {
        c = nghttp2_session_get_stream_user_data(h2, id);
        if (!c)
            return 0;
        rd = &c->rd;
    }
    grpc_reader_feed(rd, data, len);
    const uint8_t *m;
    size_t n;
    while (grpc_reader_next(rd, &m, &n) == GRPC_READ_MESSAGE) {
        if (c) {
            grpc_payload p;
            if (!c->r->type && grpc_payload_decode(m, n, &p) == 0) {
                c->r->type = p.type;
                c->r->json = p.body;
            }
        } else {
            bidi_message(g, m, n);
        }
        grpc_reader_consume(rd);
    }
    return 0;
}

static int on_close(nghttp2_session *h2, int32_t id, uint32_t err, void *user)
{
    it_grpc *g = user;
    if (id == g->bidi)
        g->bidi = 0;
    call *c = nghttp2_session_get_stream_user_data(h2, id);
    if (c)
        c->done = true;
    return 0;
}

static ssize_t on_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *user)
{
    it_grpc *g = user;
    size_t off = 0;
    int64_t until = now_ms() + 5000;
    while (off < len) {
        ssize_t n = send(g->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR) && now_ms() < until) {
            struct pollfd p = {g->fd, POLLOUT, 0};
            poll(&p, 1, 50);
            continue;
        }
        if (n <= 0) {
            g->dead = true;
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        off += (size_t)n;
    }
    return (ssize_t)len;
}

static ssize_t read_call_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                              uint32_t *flags, nghttp2_data_source *src, void *user)
{
    call *c = src->ptr;
    size_t n = c->len - c->off < length ? c->len - c->off : length;
    if (n > 0)
        memcpy(buf, c->body + c->off, n);
    c->off += n;
    if (c->off == c->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static ssize_t read_bidi_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                              uint32_t *flags, nghttp2_data_source *src, void *user)
{
    it_grpc *g = user;
    size_t n = g->bidi_len - g->bidi_off < length ? g->bidi_len - g->bidi_off : length;
    if (n == 0)
        return NGHTTP2_ERR_DEFERRED;
    memcpy(buf, g->bidi_out + g->bidi_off, n);
    g->bidi_off += n;
    if (g->bidi_off == g->bidi_len)
        g->bidi_off = g->bidi_len = 0;
    return (ssize_t)n;
}

it_grpc *grpc_open(const char *hostport)
{
    return grpc_open_from(hostport, NULL);
}

it_grpc *grpc_open_from(const char *hostport, const char *local_ip)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return NULL;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return NULL;
    struct sockaddr_in local = {.sin_family = AF_INET};
    if (local_ip && inet_pton(AF_INET, local_ip, &local.sin_addr) != 1)
        return NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || (local_ip && bind(fd, (struct sockaddr *)&local, sizeof local) != 0) ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    it_grpc *g = calloc(1, sizeof *g);
    g->fd = fd;
    g->ack_pushes = g->ack_probes = true;
    grpc_reader_init(&g->bidi_rd, 64 << 20);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_client_new(&g->h2, cb, g);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, NULL, 0);
    nghttp2_session_send(g->h2);
    return g;
}

void grpc_pump(it_grpc *g, int ms)
{
    int64_t until = now_ms() + ms;
    do {
        if (g->dead)
            return;
        nghttp2_session_send(g->h2);
        struct pollfd p = {g->fd, POLLIN, 0};
        int64_t left = until - now_ms();
        if (poll(&p, 1, left > 0 ? (int)(left < 20 ? left : 20) : 0) > 0) {
            uint8_t buf[65536];
            ssize_t n = recv(g->fd, buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                g->dead = true;
                return;
            }
            if (n > 0 && nghttp2_session_mem_recv(g->h2, buf, (size_t)n) < 0) {
                g->dead = true;
                return;
            }
            nghttp2_session_send(g->h2);
        }
    } while (now_ms() < until);
}

bool grpc_alive(it_grpc *g)
{
    grpc_pump(g, 0);
    return !g->dead;
}

void grpc_close(it_grpc *g)
{
    if (!g)
        return;
    nghttp2_session_del(g->h2);
    close(g->fd);
    grpc_reader_free(&g->bidi_rd);
    free(g->bidi_out);
    while (g->queue) {
        msg *m = g->queue;
        g->queue = m->next;
        free(m->type);
        free(m->json);
        free(m);
    }
    free(g);
}

#define NV(n, v)                                                                                 \
    {                                                                                            \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE               \
    }

void grpc_call_raw(it_grpc *g, const char *path, const char *content_type, const uint8_t *body,
                   size_t len, it_grpc_reply *r, int timeout_ms)
{
    memset(r, 0, sizeof *r);
    r->grpc_status = -1;
    call c = {.r = r, .body = body, .len = len};
    grpc_reader_init(&c.rd, 64 << 20);
    nghttp2_nv hdrs[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":path", path),
                         NV(":authority", "cairn"), NV("content-type", content_type),
                         NV("te", "trailers")};
    nghttp2_data_provider prd = {.source.ptr = &c, .read_callback = read_call_body};
    c.id = nghttp2_submit_request(g->h2, NULL, hdrs, 6, &prd, &c);
    if (c.id < 0) {
        grpc_reader_free(&c.rd);
        return;
    }
    int64_t until = now_ms() + timeout_ms;
    while (!c.done && !g->dead && now_ms() < until)
        grpc_pump(g, 10);
    if (!c.done && !g->dead) {
        nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, c.id, NGHTTP2_CANCEL);
        nghttp2_session_set_stream_user_data(g->h2, c.id, NULL);
        nghttp2_session_send(g->h2);
    }
    grpc_reader_free(&c.rd);
}

void grpc_call(it_grpc *g, const char *type, const char *json, it_grpc_reply *r, int timeout_ms)
{
    uint8_t *framed;
    size_t len;
    cr_assert_eq(grpc_payload_encode_framed(type, json, strlen(json), &framed, &len), 0);
    grpc_call_raw(g, "/Request/request", "application/grpc", framed, len, r, timeout_ms);
    free(framed);
}

void grpc_reply_free(it_grpc_reply *r)
{
    free(r->grpc_message);
    free(r->type);
    free(r->json);
    memset(r, 0, sizeof *r);
}

bool grpc_bidi_open(it_grpc *g, int timeout_ms)
{
    nghttp2_nv hdrs[] = {NV(":method", "POST"), NV(":scheme", "http"),
                         NV(":path", "/BiRequestStream/requestBiStream"),
                         NV(":authority", "cairn"), NV("content-type", "application/grpc"),
                         NV("te", "trailers")};
    nghttp2_data_provider prd = {.read_callback = read_bidi_body};
    g->bidi = nghttp2_submit_request(g->h2, NULL, hdrs, 6, &prd, NULL);
    int64_t until = now_ms() + timeout_ms;
    while (!g->bidi_headers && !g->dead && now_ms() < until)
        grpc_pump(g, 10);
    return g->bidi_headers;
}

void grpc_bidi_send_raw(it_grpc *g, const uint8_t *bytes, size_t len)
{
    g->bidi_out = realloc(g->bidi_out, g->bidi_len + len);
    memcpy(g->bidi_out + g->bidi_len, bytes, len);
    g->bidi_len += len;
    if (g->bidi)
        nghttp2_session_resume_data(g->h2, g->bidi);
    nghttp2_session_send(g->h2);
}

void grpc_bidi_send(it_grpc *g, const char *type, const char *json)
{
    uint8_t *framed;
    size_t len;
    cr_assert_eq(grpc_payload_encode_framed(type, json, strlen(json), &framed, &len), 0);
    grpc_bidi_send_raw(g, framed, len);
    free(framed);
}

bool grpc_bidi_next(it_grpc *g, const char *type, char **json, int timeout_ms)
{
    int64_t until = now_ms() + timeout_ms;
    for (;;) {
        for (msg **m = &g->queue; *m; m = &(*m)->next) {
            if (type && strcmp((*m)->type, type) != 0)
                continue;
            msg *hit = *m;
            *m = hit->next;
            if (json)
                *json = hit->json;
            else
                free(hit->json);
            free(hit->type);
            free(hit);
            return true;
        }
        if (g->dead || now_ms() >= until)
            return false;
        grpc_pump(g, 10);
    }
}

void grpc_set_auto_ack(it_grpc *g, bool pushes, bool probes)
{
    g->ack_pushes = pushes;
    g->ack_probes = probes;
}

int grpc_push_count(it_grpc *g)
{
    return g->pushes;
}

it_grpc *grpc_open_setup(const char *hostport)
{
    return grpc_open_setup_from(hostport, NULL);
}

it_grpc *grpc_open_setup_from(const char *hostport, const char *local_ip)
{
    it_grpc *g = grpc_open_from(hostport, local_ip);
    cr_assert(g, "cannot connect to %s from %s", hostport, local_ip ? local_ip : "any address");
    it_grpc_reply r;
    grpc_call(g, "ServerCheckRequest", "{\"headers\":{},\"module\":\"internal\"}", &r, 10000);
    cr_assert_str_eq(r.type ? r.type : "", "ServerCheckResponse", "%s", r.json ? r.json : "");
    grpc_reply_free(&r);
    grpc_setup(g);
    return g;
}

void grpc_setup(it_grpc *g)
{
    cr_assert(grpc_bidi_open(g, 10000), "no bi-stream headers");
    grpc_bidi_send(g, "ConnectionSetupRequest",
                   "{\"headers\":{},\"clientVersion\":\"Nacos-Java-Client:v2.3.2\",\"tenant\":\"\","
                   "\"labels\":{\"source\":\"sdk\",\"module\":\"naming\"},"
                   "\"abilityTable\":{\"supportPersistentInstanceByGrpc\":true},"
                   "\"module\":\"internal\"}");
    grpc_pump(g, 20);
}

const char *grpc_naming_body(const char *ns, const char *service, const char *extra)
{
    static char buf[65536];
    snprintf(buf, sizeof buf,
             "{\"headers\":{},\"requestId\":null,\"namespace\":\"%s\",\"serviceName\":\"%s\","
             "\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\"%s%s}",
             ns, service, extra && *extra ? "," : "", extra ? extra : "");
    return buf;
}
