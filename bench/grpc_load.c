/* cairn-bench-grpc: the gRPC load of bench/run.sh. One thread, one epoll, N connections on
 * nghttp2's client API (h2c, prior knowledge). Every connection does what a Nacos 2.x client does
 * first (ServerCheckRequest on /Request/request, then the bi-stream with ConnectionSetupRequest,
 * answering ClientDetectionRequests on it); only then does the measured part start. Messages are
 * framed and wrapped in a Payload by grpc_codec (protobuf-c), as cairn-grpc does.
 *
 *   cairn-bench-grpc load --target H:P --call register|query --service S [--conns 32]
 *                         [--seconds 1] [--start N] [--services 10]
 *       closed loop (one call in flight per connection) for --seconds after setup; register
 *       sends a new instance (ip:port numbered from --start) into <S>-<k> each call, query asks
 *       for service S. Prints "BENCH rps= p50_us= p99_us= requests= errors= duration_us=".
 *   cairn-bench-grpc capture --target H:P --service S --out DIR
 *       one connection: writes the framed response message of ServerCheckRequest, a register
 *       (into <S>-capture) and a query of S to DIR/<RequestType>.bin, for the baseline server.
 *   cairn-bench-grpc idle --target H:P --conns 10000 --ready-file F [--hold-seconds 120]
 *       opens the connections (setup done on each), writes "connected=N failed=M" to F, then
 *       holds them, answering probes, until stdin closes, SIGTERM, or --hold-seconds.
 * Every phase is bounded in time; source addresses rotate over 127.0.0.1-4 (--sources). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "grpc_codec.h"

#define MAX_MESSAGE (16u << 20)
#define MAX_SAMPLES (4u << 20)

typedef enum { C_CONNECTING, C_CHECK, C_SETUP, C_READY, C_CALL, C_DEAD } cstate;

typedef struct bconn {
    int fd, idx;
    nghttp2_session *h2;
    cstate state;
    bool out_armed;
    const uint8_t *pend; /* nghttp2 output not yet written */
    size_t pend_len;
    /* the unary call in flight */
    int32_t call_id;
    uint8_t *req;
    size_t req_len, req_off;
    grpc_reader rd;
    int grpc_status;
    int64_t t0;
    const char *want_type;
    uint64_t seq;
    /* the bi-stream */
    int32_t bidi_id;
    uint8_t *bout;
    size_t bout_len, bout_off;
    bool bidi_deferred;
    grpc_reader brd;
} bconn;

static struct {
    const char *mode, *target, *call, *service, *out_dir, *ready_file;
    int conns, seconds, hold_seconds, services, sources;
    uint64_t start;
    struct sockaddr_in addr;
    char authority[64];
    int ep;
    bconn *c;
    int ready, dead, busy;
    uint64_t next_instance, ok, errors;
    uint32_t *samples;
    size_t nsamples;
    bool measuring, stop;
    int64_t t_end;
    const char *capture_name; /* capture: where the current call's response goes */
    char last_error[256];
} B = {.conns = 32, .seconds = 1, .hold_seconds = 120, .services = 10, .sources = 4};

static volatile sig_atomic_t g_term;
static void on_term(int sig) { g_term = 1; }

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fail(bconn *c, const char *why)
{
    if (c->state == C_DEAD)
        return;
    snprintf(B.last_error, sizeof B.last_error, "%s", why);
    if (c->state == C_CALL)
        B.busy--;
    if (c->state == C_READY || c->state == C_CALL)
        B.ready--;
    c->state = C_DEAD;
    B.dead++;
    epoll_ctl(B.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

/* ---- request bodies ---------------------------------------------------------------------- */

static int frame(const char *type, const char *json, uint8_t **out, size_t *len)
{
    return grpc_payload_encode_framed(type, json, strlen(json), out, len);
}

static void naming_body(char *buf, size_t cap, const char *svc, const char *extra)
{
    snprintf(buf, cap,
             "{\"headers\":{},\"requestId\":null,\"namespace\":\"public\",\"serviceName\":\"%s\","
             "\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\",%s}",
             svc, extra);
}

static int register_body(bconn *c, char *buf, size_t cap)
{
    uint64_t n = B.next_instance++;
    char svc[160], extra[512];
    snprintf(svc, sizeof svc, "%s-%llu", B.service,
             (unsigned long long)((uint64_t)c->idx + c->seq) % (uint64_t)B.services);
    snprintf(extra, sizeof extra,
             "\"type\":\"registerInstance\",\"instance\":{\"instanceId\":null,"
             "\"ip\":\"127.%u.%u.%u\",\"port\":%u,\"weight\":1.0,\"healthy\":true,"
             "\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\","
             "\"metadata\":{\"bench\":\"grpc\"}}",
             (unsigned)(n >> 16 & 255), (unsigned)(n >> 8 & 255), (unsigned)(n & 255),
             (unsigned)(1024 + (n >> 24) % 60000));
    naming_body(buf, cap, svc, extra);
    return 0;
}

/* ---- nghttp2 callbacks ------------------------------------------------------------------- */

static ssize_t read_req(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *src, void *user)
{
    bconn *c = user;
    size_t n = c->req_len - c->req_off;
    if (n > length)
        n = length;
    memcpy(buf, c->req + c->req_off, n);
    c->req_off += n;
    if (c->req_off == c->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static ssize_t read_bidi(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    bconn *c = user;
    size_t n = c->bout_len - c->bout_off;
    if (n == 0) {
        c->bidi_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > length)
        n = length;
    memcpy(buf, c->bout + c->bout_off, n);
    c->bout_off += n;
    if (c->bout_off == c->bout_len)
        c->bout_off = c->bout_len = 0;
    return (ssize_t)n;
}

static void bidi_send(bconn *c, const char *type, const char *json)
{
    uint8_t *f;
    size_t len;
    if (frame(type, json, &f, &len) != 0)
        return;
    uint8_t *grown = realloc(c->bout, c->bout_len + len);
    if (grown) {
        c->bout = grown;
        memcpy(c->bout + c->bout_len, f, len);
        c->bout_len += len;
        if (c->bidi_deferred) {
            c->bidi_deferred = false;
            nghttp2_session_resume_data(c->h2, c->bidi_id);
        }
    }
    free(f);
}

/* Messages from the server on the bi-stream: probes are answered as a Nacos client does. */
static void bidi_messages(bconn *c)
{
    const uint8_t *msg;
    size_t len;
    while (grpc_reader_next(&c->brd, &msg, &len) == GRPC_READ_MESSAGE) {
        grpc_payload p;
        if (grpc_payload_decode(msg, len, &p) == 0) {
            json_t *req = json_loadb(p.body, p.body_len, 0, NULL);
            const char *rid = json_string_value(json_object_get(req, "requestId"));
            if (strcmp(p.type, "ClientDetectionRequest") == 0 && rid) {
                json_t *ack = json_pack("{s:i, s:i, s:s}", "resultCode", 200, "errorCode", 0,
                                        "requestId", rid);
                char *text = ack ? json_dumps(ack, JSON_COMPACT) : NULL;
                if (text)
                    bidi_send(c, "ClientDetectionResponse", text);
                free(text);
                json_decref(ack);
            }
            json_decref(req);
            grpc_payload_free(&p);
        }
        grpc_reader_consume(&c->brd);
    }
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    bconn *c = user;
    if (frame->hd.stream_id == c->call_id && nlen == 11 && memcmp(name, "grpc-status", 11) == 0)
        c->grpc_status = atoi((const char *)value);
    return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    bconn *c = user;
    if (id == c->call_id)
        grpc_reader_feed(&c->rd, data, len);
    else if (id == c->bidi_id && grpc_reader_feed(&c->brd, data, len) == 0)
        bidi_messages(c);
    return 0;
}

static void start_call(bconn *c, const char *type, const char *json, const char *want);
static void next_call(bconn *c);

static void write_capture(const uint8_t *msg, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", B.out_dir, B.capture_name);
    FILE *f = fopen(path, "wb");
    uint8_t prefix[GRPC_PREFIX_BYTES] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                                         (uint8_t)(len >> 8), (uint8_t)len};
    if (!f || fwrite(prefix, 1, sizeof prefix, f) != sizeof prefix ||
        fwrite(msg, 1, len, f) != len) {
        fprintf(stderr, "cairn-bench-grpc: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* The answer is a Payload of the wanted type with resultCode 200 and grpc-status 0. */
static bool answer_ok(bconn *c, uint32_t error_code)
{
    const uint8_t *msg;
    size_t len;
    if (error_code != 0 || c->grpc_status != 0 ||
        grpc_reader_next(&c->rd, &msg, &len) != GRPC_READ_MESSAGE) {
        snprintf(B.last_error, sizeof B.last_error, "stream error %u, grpc-status %d",
                 error_code, c->grpc_status);
        return false;
    }
    grpc_payload p;
    if (grpc_payload_decode(msg, len, &p) != 0)
        return false;
    bool ok = strcmp(p.type, c->want_type) == 0 && strstr(p.body, "\"resultCode\":200");
    if (!ok)
        snprintf(B.last_error, sizeof B.last_error, "%s: %.200s", p.type, p.body);
    grpc_payload_free(&p);
    if (ok && B.capture_name)
        write_capture(msg, len);
    return ok;
}

static void setup_sent(bconn *c);

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
    bconn *c = user;
    if (id == c->bidi_id) {
        fail(c, "the bi-stream closed");
        return 0;
    }
    if (id != c->call_id)
        return 0;
    c->call_id = 0;
    bool ok = answer_ok(c, error_code);
    grpc_reader_free(&c->rd);
    free(c->req);
    c->req = NULL;
    if (c->state == C_CHECK) {
        if (!ok) {
            fail(c, B.last_error);
            return 0;
        }
        setup_sent(c);
        return 0;
    }
    if (c->state != C_CALL)
        return 0;
    int64_t t = now_ns();
    if (B.measuring) {
        if (ok) {
            B.ok++;
            if (B.samples && B.nsamples < MAX_SAMPLES)
                B.samples[B.nsamples++] = (uint32_t)((t - c->t0) / 1000);
        } else {
            B.errors++;
        }
    }
    c->state = C_READY;
    B.busy--;
    if (B.measuring && t < B.t_end)
        next_call(c);
    return 0;
}

/* ---- calls ------------------------------------------------------------------------------- */

static nghttp2_nv nv(const char *n, const char *v)
{
    return (nghttp2_nv){(uint8_t *)n, (uint8_t *)v, strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE};
}

static int32_t submit(bconn *c, const char *path, nghttp2_data_source_read_callback cb)
{
    nghttp2_nv h[] = {nv(":method", "POST"), nv(":scheme", "http"), nv(":path", path),
                      nv(":authority", B.authority), nv("content-type", "application/grpc"),
                      nv("te", "trailers"), nv("user-agent", "grpc-java-netty/1.44.1")};
    nghttp2_data_provider prd = {.read_callback = cb};
    return nghttp2_submit_request(c->h2, NULL, h, sizeof h / sizeof h[0], &prd, c);
}

static void start_call(bconn *c, const char *type, const char *json, const char *want)
{
    if (frame(type, json, &c->req, &c->req_len) != 0) {
        fail(c, "out of memory");
        return;
    }
    c->req_off = 0;
    c->grpc_status = -1;
    c->want_type = want;
    grpc_reader_init(&c->rd, MAX_MESSAGE);
    c->t0 = now_ns();
    c->call_id = submit(c, "/Request/request", read_req);
    if (c->call_id < 0)
        fail(c, nghttp2_strerror(c->call_id));
}

static void next_call(bconn *c)
{
    char body[1024];
    const char *type, *want;
    if (strcmp(B.call, "register") == 0) {
        register_body(c, body, sizeof body);
        type = "InstanceRequest", want = "InstanceResponse";
    } else {
        naming_body(body, sizeof body, B.service,
                    "\"cluster\":\"\",\"healthyOnly\":false,\"udpPort\":0");
        type = "ServiceQueryRequest", want = "QueryServiceResponse";
    }
    c->seq++;
    c->state = C_CALL;
    B.busy++;
    start_call(c, type, body, want);
}

/* ServerCheck answered: the bi-stream and ConnectionSetupRequest, as the Java client. */
static void setup_sent(bconn *c)
{
    c->state = C_SETUP;
    c->bidi_id = submit(c, "/BiRequestStream/requestBiStream", read_bidi);
    if (c->bidi_id < 0) {
        fail(c, nghttp2_strerror(c->bidi_id));
        return;
    }
    grpc_reader_init(&c->brd, MAX_MESSAGE);
    bidi_send(c, "ConnectionSetupRequest",
              "{\"headers\":{},\"clientVersion\":\"Nacos-Java-Client:v2.3.2\",\"tenant\":\"\","
              "\"labels\":{\"source\":\"sdk\",\"module\":\"naming\"},"
              "\"abilityTable\":{\"supportPersistentInstanceByGrpc\":true},"
              "\"module\":\"internal\"}");
}

/* ---- sockets ----------------------------------------------------------------------------- */

static void arm(bconn *c, bool out)
{
    if (out == c->out_armed)
        return;
    c->out_armed = out;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(B.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush(bconn *c)
{
    while (c->state != C_DEAD) {
        if (c->pend_len == 0) {
            ssize_t n = nghttp2_session_mem_send(c->h2, &c->pend);
            if (n < 0) {
                fail(c, nghttp2_strerror((int)n));
                return;
            }
            if (n == 0)
                break;
            c->pend_len = (size_t)n;
        }
        ssize_t w = send(c->fd, c->pend, c->pend_len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                fail(c, strerror(errno));
            break;
        }
        c->pend += w;
        c->pend_len -= (size_t)w;
    }
    if (c->state == C_DEAD)
        return;
    arm(c, c->pend_len > 0);
    /* the setup is on the wire: later calls reach the server after it */
    if (c->state == C_SETUP && c->pend_len == 0 && c->bout_len == 0 &&
        !nghttp2_session_want_write(c->h2)) {
        c->state = C_READY;
        B.ready++;
    }
}

static void read_in(bconn *c)
{
    uint8_t buf[16384];
    for (int i = 0; i < 16 && c->state != C_DEAD; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                fail(c, strerror(errno));
            return;
        }
        if (n == 0) {
            fail(c, "the server closed the connection");
            return;
        }
        ssize_t used = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (used < 0)
            fail(c, nghttp2_strerror((int)used));
    }
}

static int session_open(bconn *c)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    int rc = nghttp2_session_client_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    /* grpc-java's windows: 1 MiB per stream */
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
                                   {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    return nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
}

static void connected(bconn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        fail(c, strerror(err));
        return;
    }
    if (session_open(c) != 0) {
        fail(c, "nghttp2 session");
        return;
    }
    c->state = C_CHECK;
    start_call(c, "ServerCheckRequest", "{\"headers\":{},\"module\":\"internal\"}",
               "ServerCheckResponse");
}

static void dial(bconn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = C_DEAD;
        B.dead++;
        snprintf(B.last_error, sizeof B.last_error, "socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* spread over several loopback sources: 10 000 connections need no more ephemeral ports
     * than each source address has */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(c->idx % B.sources));
    bind(c->fd, (struct sockaddr *)&src, sizeof src);
    c->state = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->out_armed = true;
    epoll_ctl(B.ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&B.addr, sizeof B.addr) != 0 && errno != EINPROGRESS)
        fail(c, strerror(errno));
}

static void on_event(bconn *c, uint32_t events)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        connected(c);
    } else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        read_in(c);
    }
    if (c->state != C_DEAD)
        flush(c);
}

/* One epoll round; the connections that got a call or an answer are flushed by on_event. */
static void poll_once(int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(B.ep, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++)
        on_event(evs[i].data.ptr, evs[i].events);
}

/* Dials every connection, at most `window` in setup at once, until all are ready or dead or
 * the deadline passes. */
static void open_all(int window, int64_t deadline)
{
    int next = 0;
    while (B.ready + B.dead < B.conns && now_ns() < deadline && !g_term) {
        while (next < B.conns && next - B.ready - B.dead < window)
            dial(&B.c[next++]);
        poll_once(10);
    }
}

/* ---- modes ------------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int run_load(void)
{
    open_all(64, now_ns() + 30 * 1000000000LL);
    if (B.ready < B.conns) {
        fprintf(stderr, "cairn-bench-grpc: %d of %d connections set up (%s)\n", B.ready, B.conns,
                B.last_error);
        return 1;
    }
    B.samples = malloc(MAX_SAMPLES * sizeof *B.samples);
    if (!B.samples)
        return 1;
    int64_t t0 = now_ns();
    B.t_end = t0 + (int64_t)B.seconds * 1000000000;
    B.measuring = true;
    for (int i = 0; i < B.conns; i++) {
        next_call(&B.c[i]);
        flush(&B.c[i]);
    }
    int64_t hard_end = B.t_end + 5 * 1000000000LL;
    while (B.busy > 0 && now_ns() < hard_end && !g_term)
        poll_once(10);
    int64_t dur = now_ns() - t0;
    B.errors += (uint64_t)B.busy; /* unanswered at the hard end */
    qsort(B.samples, B.nsamples, sizeof *B.samples, cmp_u32);
    uint32_t p50 = B.nsamples ? B.samples[B.nsamples / 2] : 0;
    uint32_t p99 = B.nsamples ? B.samples[B.nsamples * 99 / 100] : 0;
    printf("BENCH rps=%.1f p50_us=%u p99_us=%u requests=%llu errors=%llu duration_us=%lld\n",
           (double)B.ok * 1e9 / (double)dur, p50, p99, (unsigned long long)B.ok,
           (unsigned long long)B.errors, (long long)(dur / 1000));
    if (B.errors)
        fprintf(stderr, "cairn-bench-grpc: last error: %s\n", B.last_error);
    return B.ok > 0 ? 0 : 1;
}

/* One call on connection 0, waited for; its response goes to DIR/<name>.bin. */
static bool capture_one(const char *name, const char *json, const char *want)
{
    bconn *c = &B.c[0];
    B.capture_name = name;
    c->state = C_CALL;
    B.busy++;
    B.ready--;
    B.measuring = true;
    B.t_end = 0; /* no next call */
    uint64_t errs = B.errors;
    start_call(c, name, json, want);
    flush(c);
    int64_t end = now_ns() + 10 * 1000000000LL;
    while (c->state == C_CALL && now_ns() < end)
        poll_once(10);
    B.ready++;
    if (c->state != C_READY || B.errors != errs) {
        fprintf(stderr, "cairn-bench-grpc: capture of %s failed: %s\n", name, B.last_error);
        return false;
    }
    return true;
}

static int run_capture(void)
{
    B.conns = 1;
    B.capture_name = "ServerCheckRequest";
    open_all(1, now_ns() + 10 * 1000000000LL);
    if (B.ready != 1) {
        fprintf(stderr, "cairn-bench-grpc: no connection: %s\n", B.last_error);
        return 1;
    }
    /* the captured registration goes to a service of its own, <S>-capture-0 */
    char body[1024], svc[160];
    const char *service = B.service;
    snprintf(svc, sizeof svc, "%s-capture", service);
    B.service = svc;
    B.services = 1;
    register_body(&B.c[0], body, sizeof body);
    B.service = service;
    if (!capture_one("InstanceRequest", body, "InstanceResponse"))
        return 1;
    naming_body(body, sizeof body, B.service,
                "\"cluster\":\"\",\"healthyOnly\":false,\"udpPort\":0");
    return capture_one("ServiceQueryRequest", body, "QueryServiceResponse") ? 0 : 1;
}

static int run_idle(void)
{
    int64_t t0 = now_ns();
    open_all(256, t0 + 120 * 1000000000LL);
    int64_t setup_ms = (now_ns() - t0) / 1000000;
    FILE *f = fopen(B.ready_file, "w");
    if (!f)
        return 1;
    fprintf(f, "connected=%d failed=%d setup_ms=%lld\n", B.ready, B.conns - B.ready,
            (long long)setup_ms);
    fclose(f);
    if (B.ready < B.conns)
        fprintf(stderr, "cairn-bench-grpc: %d of %d connections set up (%s)\n", B.ready, B.conns,
                B.last_error);
    int64_t end = now_ns() + (int64_t)B.hold_seconds * 1000000000;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(B.ep, EPOLL_CTL_ADD, 0, &ev); /* stdin: EOF ends the hold */
    while (!g_term && now_ns() < end) {
        struct epoll_event evs[256];
        int n = epoll_wait(B.ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                char tmp[64];
                if (read(0, tmp, sizeof tmp) <= 0)
                    return 0;
                continue;
            }
            on_event(evs[i].data.ptr, evs[i].events);
        }
    }
    return 0;
}

_Noreturn static void usage(void)
{
    fprintf(stderr, "usage: cairn-bench-grpc load|capture|idle --target HOST:PORT [options]\n"
                    "(see bench/grpc_load.c)\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    if (argc < 2)
        usage();
    B.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(k, "--target"))
            B.target = v;
        else if (!strcmp(k, "--call"))
            B.call = v;
        else if (!strcmp(k, "--service"))
            B.service = v;
        else if (!strcmp(k, "--out"))
            B.out_dir = v;
        else if (!strcmp(k, "--ready-file"))
            B.ready_file = v;
        else if (!strcmp(k, "--conns"))
            B.conns = atoi(v);
        else if (!strcmp(k, "--seconds"))
            B.seconds = atoi(v);
        else if (!strcmp(k, "--hold-seconds"))
            B.hold_seconds = atoi(v);
        else if (!strcmp(k, "--services"))
            B.services = atoi(v);
        else if (!strcmp(k, "--sources"))
            B.sources = atoi(v);
        else if (!strcmp(k, "--start"))
            B.start = strtoull(v, NULL, 10);
        else
            usage();
    }
    const char *colon = B.target ? strrchr(B.target, ':') : NULL;
    if (!colon || (!B.service && strcmp(B.mode, "idle") != 0) || B.conns < 1 || B.seconds < 1 || B.services < 1 || B.sources < 1 ||
        B.sources > 250)
        usage();
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - B.target), B.target);
    B.addr.sin_family = AF_INET;
    B.addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &B.addr.sin_addr) != 1)
        usage();
    snprintf(B.authority, sizeof B.authority, "%s", B.target);
    B.next_instance = B.start;
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)B.conns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    B.ep = epoll_create1(EPOLL_CLOEXEC);
    B.c = calloc((size_t)B.conns, sizeof *B.c);
    if (B.ep < 0 || !B.c)
        return 1;
    for (int i = 0; i < B.conns; i++)
        B.c[i].idx = i, B.c[i].fd = -1;
    if (!strcmp(B.mode, "load") && B.call &&
        (!strcmp(B.call, "register") || !strcmp(B.call, "query")))
        return run_load();
    if (!strcmp(B.mode, "capture") && B.out_dir)
        return run_capture();
    if (!strcmp(B.mode, "idle") && B.ready_file)
        return run_idle();
    usage();
}
