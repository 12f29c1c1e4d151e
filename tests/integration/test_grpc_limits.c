/* cairn-grpc's connection and stream limits over real HTTP/2: streams past
 * grpc.max_streams_per_connection are reset with REFUSED_STREAM while the connection's other
 * streams and later ones are served; connections past grpc.max_connections are closed as they
 * are accepted while those admitted keep working, and a freed slot admits a new one; connections
 * from one address past grpc.max_connections_per_ip are closed before any HTTP/2 byte while
 * another address (127.0.0.2) is served, and the address gets its slots back however its
 * connections closed.
 *
 * The stream test drives its own nghttp2 client session: it opens every stream before reading
 * the server's SETTINGS (as a client that has not seen them yet may), with bodies held back, so
 * the server sees more concurrent streams than it allows. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_grpc_client.h"
#include "cairn_harness.h"
#include "cairn_nacos.h"
#include "grpc_codec.h"

TestSuite(grpc_limits, .fini = it_teardown, .timeout = 240);

#define WAIT_MS 10000
#define STREAMS 6 /* opened at once; the server allows fewer */
#define ALLOWED 3 /* grpc.max_streams_per_connection */

static void grpc_addr(const it_node *n, char *addr, size_t len)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/grpc.addr", n->run_dir);
    cr_assert(it_read_addr_file(path, addr, len), "no %s", path);
}

/* ---- a raw client: streams held open --------------------------------------------------------- */

typedef struct held {
    int32_t id;
    uint8_t *body; /* NULL: held back (DEFERRED) */
    size_t len, off;
    bool closed;
    uint32_t error; /* RST_STREAM code (0: closed normally) */
    grpc_reader rd;
    char *reply_type; /* type of the Payload answered */
} held;

typedef struct raw {
    int fd;
    nghttp2_session *h2;
    bool dead;
    held s[STREAMS + 1];
} raw;

static ssize_t raw_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags,
                        void *user)
{
    raw *r = user;
    ssize_t n = send(r->fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return NGHTTP2_ERR_WOULDBLOCK;
    if (n < 0)
        r->dead = true;
    return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int raw_close(nghttp2_session *h2, int32_t id, uint32_t error, void *user)
{
    held *h = nghttp2_session_get_stream_user_data(h2, id);
    if (h) {
        h->closed = true;
        h->error = error;
    }
    return 0;
}

static int raw_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                    size_t len, void *user)
{
    held *h = nghttp2_session_get_stream_user_data(h2, id);
    if (!h)
        return 0;
    grpc_reader_feed(&h->rd, data, len);
    const uint8_t *m;
    size_t n;
    grpc_payload p;
    if (grpc_reader_next(&h->rd, &m, &n) == GRPC_READ_MESSAGE && !h->reply_type &&
        grpc_payload_decode(m, n, &p) == 0) {
        h->reply_type = strdup(p.type);
        grpc_payload_free(&p);
    }
    return 0;
}

static ssize_t raw_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *src, void *user)
{
    held *h = src->ptr;
    if (!h->body)
        return NGHTTP2_ERR_DEFERRED;
    size_t n = h->len - h->off < length ? h->len - h->off : length;
    memcpy(buf, h->body + h->off, n);
    h->off += n;
    if (h->off == h->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void raw_pump(raw *r, int ms)
{
    int64_t until = it_now_ms() + ms;
    do {
        nghttp2_session_send(r->h2);
        struct pollfd p = {r->fd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            uint8_t buf[16384];
            ssize_t n = recv(r->fd, buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
                (n > 0 && nghttp2_session_mem_recv(r->h2, buf, (size_t)n) < 0)) {
                r->dead = true;
                return;
            }
        }
    } while (!r->dead && it_now_ms() < until);
}

static void raw_open(raw *r, const char *hostport)
{
    memset(r, 0, sizeof *r);
    const char *colon = strrchr(hostport, ':');
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    cr_assert_eq(inet_pton(AF_INET, host, &a.sin_addr), 1);
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(r->fd >= 0 && connect(r->fd, (struct sockaddr *)&a, sizeof a) == 0);
    fcntl(r->fd, F_SETFL, O_NONBLOCK);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, raw_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, raw_close);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, raw_data);
    nghttp2_session_client_new(&r->h2, cb, r);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(r->h2, NGHTTP2_FLAG_NONE, NULL, 0);
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

/* A unary stream whose body is held back until raw_release. */
static void raw_stream(raw *r, held *h)
{
    nghttp2_nv hdrs[] = {NV(":method", "POST"), NV(":scheme", "http"),
                         NV(":path", "/Request/request"), NV(":authority", "cairn"),
                         NV("content-type", "application/grpc"), NV("te", "trailers")};
    grpc_reader_init(&h->rd, 1 << 20);
    nghttp2_data_provider prd = {.source.ptr = h, .read_callback = raw_body};
    h->id = nghttp2_submit_request(r->h2, NULL, hdrs, 6, &prd, h);
    cr_assert(h->id > 0);
}

/* Sends a ServerCheckRequest on a held stream and ends it. */
static void raw_release(raw *r, held *h)
{
    const char *json = "{\"headers\":{},\"module\":\"internal\"}";
    cr_assert_eq(grpc_payload_encode_framed("ServerCheckRequest", json, strlen(json), &h->body,
                                            &h->len), 0);
    nghttp2_session_resume_data(r->h2, h->id);
}

static void raw_close_all(raw *r)
{
    nghttp2_session_del(r->h2);
    close(r->fd);
    for (size_t i = 0; i < sizeof r->s / sizeof r->s[0]; i++) {
        free(r->s[i].body);
        free(r->s[i].reply_type);
        grpc_reader_free(&r->s[i].rd);
    }
}

static int refused_count(const raw *r)
{
    int n = 0;
    for (int i = 0; i < STREAMS; i++)
        n += r->s[i].closed && r->s[i].error == NGHTTP2_REFUSED_STREAM;
    return n;
}

/* ---- the tests ------------------------------------------------------------------------------- */

IT_TEST(grpc_limits, streams_past_the_limit_are_refused_and_the_rest_served)
{
    it_node_opts o = {.sets = ARGS("grpc.max_streams_per_connection=3")};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    raw r;
    raw_open(&r, addr);
    for (int i = 0; i < STREAMS; i++)
        raw_stream(&r, &r.s[i]);
    nghttp2_session_send(r.h2); /* every HEADERS out before the server's SETTINGS are read */
    int64_t until = it_now_ms() + WAIT_MS;
    while (refused_count(&r) < STREAMS - ALLOWED && !r.dead && it_now_ms() < until)
        raw_pump(&r, 50);
    cr_assert_not(r.dead, "the connection lives");
    cr_expect_eq(refused_count(&r), STREAMS - ALLOWED, "REFUSED_STREAM past the limit");
    for (int i = 0; i < ALLOWED; i++)
        cr_expect_not(r.s[i].closed, "stream %d (within the limit) is open", r.s[i].id);

    /* the streams within the limit are served */
    for (int i = 0; i < ALLOWED; i++)
        raw_release(&r, &r.s[i]);
    until = it_now_ms() + WAIT_MS;
    while (!(r.s[0].closed && r.s[1].closed && r.s[2].closed) && !r.dead &&
           it_now_ms() < until)
        raw_pump(&r, 50);
    for (int i = 0; i < ALLOWED; i++) {
        cr_expect(r.s[i].closed && r.s[i].error == 0, "stream %d ended cleanly", r.s[i].id);
        cr_expect_str_eq(r.s[i].reply_type ? r.s[i].reply_type : "", "ServerCheckResponse");
    }
    /* and, with their slots free, a new stream on the same connection is too */
    held *late = &r.s[STREAMS];
    raw_stream(&r, late);
    raw_release(&r, late);
    until = it_now_ms() + WAIT_MS;
    while (!late->closed && !r.dead && it_now_ms() < until)
        raw_pump(&r, 50);
    cr_expect(late->closed && late->error == 0, "a stream after the refusals is served");
    cr_expect_str_eq(late->reply_type ? late->reply_type : "", "ServerCheckResponse");
    raw_close_all(&r);

    /* the server serves other connections all along */
    it_grpc *g = grpc_open_setup(addr);
    it_grpc_reply rep;
    grpc_call(g, "HealthCheckRequest", "{}", &rep, WAIT_MS);
    cr_expect_str_eq(rep.type ? rep.type : "", "HealthCheckResponse");
    grpc_reply_free(&rep);
    grpc_close(g);
}

static void expect_serves(it_grpc *g, const char *who)
{
    it_grpc_reply rep;
    grpc_call(g, "HealthCheckRequest", "{}", &rep, WAIT_MS);
    cr_expect_str_eq(rep.type ? rep.type : "", "HealthCheckResponse", "%s", who);
    grpc_reply_free(&rep);
}

/* A connection the server keeps: its ServerCheckRequest is answered and it stays open. local_ip:
 * the client's address (as grpc_open_from). */
static it_grpc *admitted_from(const char *addr, const char *local_ip)
{
    it_grpc *g = grpc_open_from(addr, local_ip);
    if (!g)
        return NULL;
    it_grpc_reply rep;
    grpc_call(g, "ServerCheckRequest", "{\"headers\":{},\"module\":\"internal\"}", &rep, 2000);
    bool ok = rep.type && strcmp(rep.type, "ServerCheckResponse") == 0 && grpc_alive(g);
    grpc_reply_free(&rep);
    if (!ok) {
        grpc_close(g);
        return NULL;
    }
    return g;
}

static it_grpc *admitted(const char *addr)
{
    return admitted_from(addr, NULL);
}

IT_TEST(grpc_limits, connections_past_the_limit_are_closed_and_the_rest_served)
{
    it_node_opts o = {.sets = ARGS("grpc.max_connections=3")};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *held_conns[3];
    for (int i = 0; i < 3; i++)
        held_conns[i] = grpc_open_setup(addr);

    /* the fourth is closed as it is accepted: it never gets an answer */
    it_grpc *extra = grpc_open(addr);
    cr_assert(extra, "the TCP connection is accepted");
    int64_t until = it_now_ms() + WAIT_MS;
    while (grpc_alive(extra) && it_now_ms() < until)
        grpc_pump(extra, 50);
    cr_expect_not(grpc_alive(extra), "the connection past grpc.max_connections is closed");
    grpc_close(extra);
    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_connections_total", "refused"), 1);

    /* those admitted are served */
    for (int i = 0; i < 3; i++)
        expect_serves(held_conns[i], "an admitted connection");

    /* a freed slot admits a new connection once the server has seen the close */
    grpc_close(held_conns[0]);
    it_grpc *again = NULL;
    until = it_now_ms() + WAIT_MS;
    while (!again && it_now_ms() < until)
        again = admitted(addr);
    cr_assert(again, "a connection is admitted after one closed (ServerCheckRequest answered)");
    for (int i = 1; i < 3; i++)
        expect_serves(held_conns[i], "an admitted connection");
    grpc_close(again);
    grpc_close(held_conns[1]);
    grpc_close(held_conns[2]);
}

/* A TCP connection from local_ip that sends nothing: the server closes it at once, before any
 * byte of HTTP/2 (a connection it takes in gets the server's SETTINGS first thing). */
static void expect_closed_unanswered(const char *hostport, const char *local_ip, const char *why)
{
    const char *colon = strrchr(hostport, ':');
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    struct sockaddr_in from = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, host, &to.sin_addr), 1);
    cr_assert_eq(inet_pton(AF_INET, local_ip, &from.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof from), 0, "bind %s: %s", local_ip,
                 strerror(errno));
    cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0, "the kernel accepts: %s",
                 strerror(errno));
    int64_t t0 = it_now_ms(), until = t0 + WAIT_MS;
    size_t got = 0;
    bool closed = false;
    while (!closed && it_now_ms() < until) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || errno != EINTR)
            closed = true;
    }
    int64_t took = it_now_ms() - t0;
    close(fd);
    cr_expect(closed, "%s: the connection from %s is not closed", why, local_ip);
    cr_expect_eq(got, 0, "%s: %zu bytes came before the close", why, got);
    cr_expect_lt(took, 2000, "%s: closed only after %lld ms", why, (long long)took);
}

/* Retries admitted_from until the server has seen an earlier close (bounded). */
static it_grpc *admitted_soon(const char *addr, const char *local_ip)
{
    it_grpc *g = NULL;
    for (int64_t until = it_now_ms() + WAIT_MS; !g && it_now_ms() < until;)
        g = admitted_from(addr, local_ip);
    return g;
}

#define PER_IP 3 /* grpc.max_connections_per_ip */
#define BURST 20 /* connections refused in a row */

/* The hosts of service svc (public) as conn sees them in a ServiceQueryRequest answer. */
static size_t hosts_seen(it_grpc *g, const char *svc)
{
    it_grpc_reply rep;
    grpc_call(g, "ServiceQueryRequest",
              grpc_naming_body("public", svc, "\"cluster\":\"\",\"healthyOnly\":false,"
                                              "\"udpPort\":0"),
              &rep, WAIT_MS);
    cr_assert_str_eq(rep.type ? rep.type : "", "QueryServiceResponse", "%s",
                     rep.json ? rep.json : "");
    json_t *j = json_loads(rep.json, 0, NULL);
    size_t n = json_array_size(json_object_get(json_object_get(j, "serviceInfo"), "hosts"));
    json_decref(j);
    grpc_reply_free(&rep);
    return n;
}

IT_TEST(grpc_limits, connections_from_one_address_are_limited)
{
    it_node_opts o = {.sets = ARGS("grpc.max_connections_per_ip=3")};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *mine[PER_IP];
    for (int i = 0; i < PER_IP; i++)
        mine[i] = grpc_open_setup_from(addr, "127.0.0.1");

    /* 127.0.0.1 holds its 3: a fourth is closed at once, and so is each of a burst after it,
     * with one warning in the log for them all (a new one at most every 10 s) */
    int64_t t0 = it_now_ms();
    for (int i = 0; i < BURST; i++)
        expect_closed_unanswered(addr, "127.0.0.1", "one more from 127.0.0.1");
    cr_expect_eq(node_metric(n, "grpc", "cairn_grpc_connections_refused_per_ip_total", NULL),
                 BURST);
    cr_expect_eq(node_metric(n, "grpc", "cairn_grpc_connections_total", "refused"), BURST);
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/node.log", n->dir);
    char *text = it_log_tail(log, 1 << 20);
    int warnings = 0;
    for (const char *p = text; (p = strstr(p, "grpc.max_connections_per_ip (3)")); p++)
        warnings++;
    free(text);
    cr_expect(warnings >= 1 && warnings <= 1 + (it_now_ms() - t0) / 10000,
              "%d warnings for %d refusals in %lld ms", warnings, BURST,
              (long long)(it_now_ms() - t0));

    /* another address is served all along, up to its own 3 */
    it_grpc *other[PER_IP];
    for (int i = 0; i < PER_IP; i++) {
        other[i] = grpc_open_setup_from(addr, "127.0.0.2");
        expect_serves(other[i], "a connection from 127.0.0.2");
    }
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"192.0.2.10\",\"port\":8080,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true}");
    it_grpc_reply rep;
    grpc_call(other[0], "InstanceRequest", grpc_naming_body("public", "per-ip", extra), &rep,
              WAIT_MS);
    cr_expect_str_eq(rep.type ? rep.type : "", "InstanceResponse", "%s", rep.json ? rep.json : "");
    grpc_reply_free(&rep);
    expect_closed_unanswered(addr, "127.0.0.2", "the 4th from 127.0.0.2");
    for (int i = 0; i < PER_IP; i++)
        expect_serves(mine[i], "an admitted connection from 127.0.0.1");

    /* two of 127.0.0.1's connections close: it gets two slots back, and no more */
    grpc_close(mine[0]);
    grpc_close(mine[1]);
    it_grpc *again[2];
    for (int i = 0; i < 2; i++) {
        again[i] = admitted_soon(addr, "127.0.0.1");
        cr_assert(again[i], "127.0.0.1 is admitted again after its connections closed");
    }
    expect_closed_unanswered(addr, "127.0.0.1", "127.0.0.1 full again");
    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_connections_refused_per_ip_total", NULL),
                  BURST + 2);
    /* and the readmitted connections are served: set up, they see 127.0.0.2's instance */
    for (int i = 0; i < 2; i++) {
        grpc_setup(again[i]);
        cr_expect_eq(hosts_seen(again[i], "per-ip"), 1);
    }
    expect_serves(mine[2], "the connection of 127.0.0.1 that stayed");

    grpc_close(again[0]);
    grpc_close(again[1]);
    grpc_close(mine[2]);
    for (int i = 0; i < PER_IP; i++)
        grpc_close(other[i]);
}

/* A slot goes back however the connection ends: closed by the server for silence (no answer
 * to the liveness check) or for bytes that are no HTTP/2, as well as by the client. */
IT_TEST(grpc_limits, an_address_gets_its_slot_back_whatever_closed_the_connection)
{
    it_node_opts o = {.sets = ARGS("grpc.max_connections_per_ip=1", "grpc.detect_idle_ms=1000",
                                   "grpc.detect_timeout_ms=500")};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);

    /* a silent connection (no bi-stream to probe on) is closed as idle after 1.5 s */
    it_grpc *silent = grpc_open(addr);
    cr_assert(silent);
    expect_closed_unanswered(addr, "127.0.0.1", "past the silent one");
    cr_expect_geq(node_wait_metric(n, "grpc", "cairn_grpc_connections_closed_total", "idle", 1,
                                   WAIT_MS),
                  1, "the silent connection is closed as idle");
    grpc_close(silent);
    it_grpc *g = admitted_soon(addr, "127.0.0.1");
    cr_assert(g, "admitted after the idle close");
    grpc_close(g); /* a close by the client: the server counts it before the next accept */
    cr_assert_geq(node_wait_metric(n, "grpc", "cairn_grpc_connections_closed_total", "client", 1,
                                   WAIT_MS),
                  1);

    /* a connection that sends no HTTP/2 is taken in, then closed on its first bytes */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof to) == 0);
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(send(fd, junk, sizeof junk - 1, MSG_NOSIGNAL), (ssize_t)(sizeof junk - 1));
    cr_expect_geq(node_wait_metric(n, "grpc", "cairn_grpc_malformed_total", "frame", 1, WAIT_MS),
                  1, "the junk was read as a bad frame (the connection was admitted)");
    close(fd);
    g = admitted_soon(addr, "127.0.0.1");
    cr_assert(g, "admitted after the protocol error close");
    grpc_close(g);
    cr_expect_eq(node_metric(n, "grpc", "cairn_grpc_connections_refused_per_ip_total", NULL),
                 node_metric(n, "grpc", "cairn_grpc_connections_total", "refused"),
                 "every refusal was one per address");
}

/* Open descriptors of process pid. */
static int open_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert(d, "cannot read %s", path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* At the descriptor limit (RLIMIT_NOFILE of cairn-grpc lowered under it, below what
 * grpc.max_connections allows), connections the role cannot accept are closed at once, as past
 * grpc.max_connections, instead of waiting in the backlog while the loop wakes for them again
 * and again; those admitted are served, and a freed descriptor admits a new connection. */
IT_TEST(grpc_limits, connections_past_the_descriptor_limit_are_closed_and_the_rest_served)
{
    it_node *n = node_start(NULL);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    pid_t pid = node_role_pid(n, "cairn-grpc");
    cr_assert(pid > 0, "cairn-grpc runs");
    it_grpc *held_conns[2];
    for (int i = 0; i < 2; i++)
        held_conns[i] = grpc_open_setup(addr);
    struct rlimit before, low;
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &before), 0, "%s", strerror(errno));
    rlim_t limit = (rlim_t)open_fds(pid) + 8; /* fd numbers stay below it: a few to spare */
    low = (struct rlimit){limit, before.rlim_max}; /* the soft limit: it can be raised back */
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &low, NULL), 0, "%s", strerror(errno));

    enum { EXTRA = 24 };
    it_grpc *extra[EXTRA];
    for (int i = 0; i < EXTRA; i++) {
        extra[i] = grpc_open(addr);
        cr_assert(extra[i], "the kernel completes the TCP connection");
    }
    int closed = 0;
    int64_t until = it_now_ms() + WAIT_MS;
    while (closed < EXTRA - 8 && it_now_ms() < until) {
        closed = 0;
        for (int i = 0; i < EXTRA; i++) {
            grpc_pump(extra[i], 5);
            closed += !grpc_alive(extra[i]);
        }
    }
    cr_expect_geq(closed, EXTRA - 8, "%d of %d connections past the descriptor limit closed",
                  closed, EXTRA);
    for (int i = 0; i < 2; i++)
        expect_serves(held_conns[i], "a connection admitted before the limit");
    for (int i = 0; i < EXTRA; i++)
        grpc_close(extra[i]);

    /* descriptors freed: a new connection is admitted and served */
    it_grpc *again = NULL;
    until = it_now_ms() + WAIT_MS;
    while (!again && it_now_ms() < until)
        again = admitted(addr);
    cr_assert(again, "a connection is admitted once descriptors are free again");
    grpc_close(again);
    cr_expect_eq(node_role_pid(n, "cairn-grpc"), pid, "cairn-grpc kept running");
    /* the admin listener needs a descriptor too */
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &before, NULL), 0, "%s", strerror(errno));
    cr_expect_geq(node_metric(n, "grpc", "cairn_grpc_connections_total", "refused"),
                  EXTRA - 8);
    grpc_close(held_conns[0]);
    grpc_close(held_conns[1]);
}

/* A subscriber that stops reading its socket: pushes back up behind HTTP/2 flow control, and once
 * its output has waited grpc.push_ack_timeout_ms x 60 (here 600 ms) the connection is closed;
 * other clients are served all along. */
IT_TEST(grpc_limits, a_client_that_stops_reading_is_closed)
{
    it_node_opts o = {.sets = ARGS("grpc.push_ack_timeout_ms=10", "grpc.push_retry_delay_ms=50",
                                   "grpc.push_merge_window_ms=0", "grpc.detect_idle_ms=600000")};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *slow = grpc_open_setup(addr);
    it_grpc_reply rep;
    grpc_call(slow, "SubscribeServiceRequest",
              grpc_naming_body("public", "wide", "\"subscribe\":true,\"clusters\":\"\""), &rep,
              WAIT_MS);
    cr_assert_str_eq(rep.type ? rep.type : "", "SubscribeServiceResponse");
    grpc_reply_free(&rep);
    /* from here on nothing reads slow's socket */

    /* one ServiceInfo of about 100 KB: more than the client's 64 KiB flow-control window */
    static char body[160 * 1024];
    size_t off = (size_t)snprintf(body, sizeof body,
                                  "{\"headers\":{},\"namespace\":\"public\",\"serviceName\":"
                                  "\"wide\",\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\","
                                  "\"type\":\"batchRegisterInstance\",\"instances\":[");
    char pad[401];
    memset(pad, 'm', 400);
    pad[400] = 0;
    for (int i = 0; i < 200; i++)
        off += (size_t)snprintf(body + off, sizeof body - off,
                                "%s{\"ip\":\"127.0.0.1\",\"port\":%d,\"weight\":1.0,"
                                "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,"
                                "\"metadata\":{\"pad\":\"%s\"}}",
                                i ? "," : "", 1000 + i, pad);
    snprintf(body + off, sizeof body - off, "]}");
    it_grpc *pub = grpc_open_setup(addr);
    grpc_call(pub, "BatchInstanceRequest", body, &rep, WAIT_MS);
    cr_assert_str_eq(rep.type ? rep.type : "", "BatchInstanceResponse", "%s",
                     rep.json ? rep.json : "");
    grpc_reply_free(&rep);

    double closed = node_wait_metric(n, "grpc", "cairn_grpc_connections_closed_total", "blocked",
                                     1, WAIT_MS);
    cr_expect_geq(closed, 1, "the connection whose output waited is closed as blocked");
    expect_serves(pub, "another client");
    int64_t until = it_now_ms() + WAIT_MS; /* the slow client finds its connection closed */
    while (grpc_alive(slow) && it_now_ms() < until)
        grpc_pump(slow, 50);
    cr_expect_not(grpc_alive(slow));
    grpc_close(slow);
    grpc_close(pub);
}
