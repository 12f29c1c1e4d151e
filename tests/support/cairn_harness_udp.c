/* UDP listeners and pushers for the push tests (see cairn_harness_udp.h). */
#include "cairn_harness_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "cairn_endpoints.h"
#include "cairn_http.h"
#include "cairn_java_hash.h"
#include "cairn_nacos.h"

#define MAX_DATAGRAM 65536
#define SAFE_INTEGER_LIMIT 9007199254740992ULL /* 2^53 */

/* ---- UDP listeners ------------------------------------------------------------------------- */
void udp_open(it_udp *u)
{
    u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(u->fd >= 0, "udp socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert(bind(u->fd, (struct sockaddr *)&a, sizeof a) == 0, "udp bind: %s", strerror(errno));
    socklen_t len = sizeof a;
    cr_assert(getsockname(u->fd, (struct sockaddr *)&a, &len) == 0);
    u->port = ntohs(a.sin_port);
    int buf = 4 << 20;
    (void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}

void udp_close(it_udp *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

void it_push_free(it_push *p)
{
    free(p->wire);
    free(p->text);
    json_decref(p->packet);
    json_decref(p->doc);
    memset(p, 0, sizeof *p);
}

/* The whole gzip stream in, as a malloc'd NUL-terminated text. */
static char *gunzip(const unsigned char *in, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert(inflateInit2(&zs, 15 + 16) == Z_OK);
    size_t cap = len * 8 + 1024, n = 0;
    char *out = malloc(cap);
    cr_assert(out != NULL);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        if (cap - n < 1024) {
            cap *= 2;
            out = realloc(out, cap);
            cr_assert(out != NULL);
        }
        zs.next_out = (Bytef *)out + n;
        zs.avail_out = (uInt)(cap - n - 1);
        rc = inflate(&zs, Z_NO_FLUSH);
        n = cap - 1 - zs.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&zs);
    cr_assert(rc == Z_STREAM_END, "push starts with 1f 8b but is not a complete gzip stream");
    out[n] = '\0';
    *out_len = n;
    return out;
}

static bool wait_readable(int fd, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        if (left < 0)
            left = 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc > 0)
            return true;
        if (rc == 0)
            return false;
        cr_assert(errno == EINTR, "poll: %s", strerror(errno));
    }
}

bool udp_recv_push(it_udp *u, it_push *out, int timeout_ms)
{
    memset(out, 0, sizeof *out);
    if (!wait_readable(u->fd, timeout_ms))
        return false;
    unsigned char *buf = malloc(MAX_DATAGRAM);
    cr_assert(buf != NULL);
    socklen_t sl = sizeof out->from;
    ssize_t n = recvfrom(u->fd, buf, MAX_DATAGRAM, 0, (struct sockaddr *)&out->from, &sl);
    cr_assert(n > 0, "recvfrom: %s", n < 0 ? strerror(errno) : "empty datagram");
    out->wire = buf;
    out->wire_len = (size_t)n;
    out->from_port = ntohs(out->from.sin_port);
    out->gzip = n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
    if (out->gzip) {
        out->text = gunzip(buf, (size_t)n, &out->text_len);
    } else {
        out->text = strndup((const char *)buf, (size_t)n);
        cr_assert(out->text != NULL);
        out->text_len = strlen(out->text);
        cr_assert_eq(out->text_len, (size_t)n, "a plain push holds a NUL byte");
    }
    json_error_t err;
    out->packet = json_loads(out->text, 0, &err);
    cr_assert(json_is_object(out->packet), "push is not a JSON object (%s): %s", err.text,
              out->text);
    const char *type = json_string_value(json_object_get(out->packet, "type"));
    cr_assert(type && strcmp(type, "dom") == 0, "push type is not \"dom\": %s", out->text);
    json_t *data = json_object_get(out->packet, "data");
    cr_assert(json_is_string(data), "push data is not a JSON string (§12.3): %s", out->text);
    json_t *ref = json_object_get(out->packet, "lastRefTime");
    cr_assert(json_is_integer(ref), "push lastRefTime is not an integer: %s", out->text);
    cr_assert(json_integer_value(ref) > 0 &&
                  (unsigned long long)json_integer_value(ref) < SAFE_INTEGER_LIMIT,
              "push lastRefTime %lld is not in (0, 2^53)", (long long)json_integer_value(ref));
    out->ref_time = (uint64_t)json_integer_value(ref);
    out->doc = json_loads(json_string_value(data), 0, &err);
    cr_assert(json_is_object(out->doc), "push data is not a JSON document (%s): %s", err.text,
              json_string_value(data));
    return true;
}

bool udp_recv_push_of(it_udp *u, const char *service, it_push *out, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        if (left < 0 || !udp_recv_push(u, out, (int)left))
            return false;
        const char *name = json_string_value(json_object_get(out->doc, "name"));
        if (name && strcmp(name, service) == 0)
            return true;
        udp_ack(u, out, false);
        it_push_free(out);
    }
}

void udp_send_to(it_udp *u, uint16_t port, const void *buf, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ssize_t n = sendto(u->fd, buf, len, 0, (struct sockaddr *)&a, sizeof a);
    cr_assert(n == (ssize_t)len, "sendto 127.0.0.1:%u: %s", port, strerror(errno));
}

void udp_ack(it_udp *u, const it_push *p, bool as_string)
{
    char ack[128];
    int n = as_string ? snprintf(ack, sizeof ack,
                                 "{\"type\":\"push-ack\",\"lastRefTime\":\"%llu\",\"data\":\"\"}",
                                 (unsigned long long)p->ref_time)
                      : snprintf(ack, sizeof ack,
                                 "{\"type\":\"push-ack\",\"lastRefTime\":%llu,\"data\":\"\"}",
                                 (unsigned long long)p->ref_time);
    udp_send_to(u, p->from_port, ack, (size_t)n);
}

bool udp_quiet(it_udp *u, int ms)
{
    return !wait_readable(u->fd, ms);
}

int push_host_count(const it_push *p)
{
    json_t *hosts = json_object_get(p->doc, "hosts");
    return json_is_array(hosts) ? (int)json_array_size(hosts) : -1;
}

bool push_has_host(const it_push *p, const char *ip, int port)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(p->doc, "hosts"), i, h)
    {
        const char *hip = json_string_value(json_object_get(h, "ip"));
        if (hip && strcmp(hip, ip) == 0 && json_integer_value(json_object_get(h, "port")) == port)
            return true;
    }
    return false;
}

/* ---- pushers ----------------------------------------------------------------------------- */
int push_owner(const char *ns, const char *grouped, int count)
{
    if (count <= 1)
        return 0;
    char key[512];
    int n = snprintf(key, sizeof key, "%s##%s", ns, grouped);
    cr_assert(n > 0 && (size_t)n < sizeof key);
    return (int)cairn_distro_index(key, (size_t)n, (uint32_t)count);
}

/* Names `cairn run` gives pusher i: its admin file (run/pusher-<i>.admin) and its index. */
static void pusher_name(int i, char *buf, size_t len)
{
    snprintf(buf, len, "pusher-%d", i);
}

static void pusher_index_arg(int i, char *buf, size_t len)
{
    snprintf(buf, len, "pusher.index=%d", i);
}

double pusher_metric(const it_pushers *ps, int i, const char *name, const char *label_part)
{
    char who[32], full[160];
    pusher_name(i, who, sizeof who);
    snprintf(full, sizeof full, "cairn_pusher_%s", name);
    return node_metric(ps->node, who, full, label_part);
}

double pusher_wait_metric(const it_pushers *ps, int i, const char *name, const char *label_part,
                          double want, int timeout_ms)
{
    char who[32], full[160];
    pusher_name(i, who, sizeof who);
    snprintf(full, sizeof full, "cairn_pusher_%s", name);
    return node_wait_metric(ps->node, who, full, label_part, want, timeout_ms);
}

pid_t pusher_pid(const it_pushers *ps, int i)
{
    char arg[32];
    pusher_index_arg(i, arg, sizeof arg);
    return node_role_instance_pid(ps->node, "cairn-pusher", arg);
}

typedef struct ready_arg {
    const it_pushers *ps;
    int i;
} ready_arg;

static bool pusher_ready(void *arg)
{
    const ready_arg *r = arg;
    return pusher_metric(r->ps, r->i, "ready", NULL) == 1 &&
           pusher_metric(r->ps, r->i, "upstream_connected", "source=\"gateway\"") == 1 &&
           pusher_metric(r->ps, r->i, "upstream_connected", "source=\"registry\"") == 1;
}

static void wait_ready(const it_pushers *ps, int i)
{
    ready_arg r = {ps, i};
    cr_assert(wait_until(pusher_ready, &r, IT_READY_TIMEOUT_MS),
              "pusher-%d not ready and connected within %d ms", i, IT_READY_TIMEOUT_MS);
}

void pushers_start(it_pushers *ps, const char *const *sets, int count)
{
    cr_assert(count >= 0 && count <= IT_MAX_PUSHERS);
    memset(ps, 0, sizeof *ps);
    ps->count = count;
    const char *all[48];
    size_t n = 0;
    char count_set[32];
    snprintf(count_set, sizeof count_set, "pusher.count=%d", count);
    all[n++] = count_set;
    all[n++] = "pusher.admin_listen=127.0.0.1:0";
    for (const char *const *s = sets; s && *s; s++) {
        cr_assert(n + 1 < sizeof all / sizeof all[0], "too many --set");
        all[n++] = *s;
    }
    all[n] = NULL;
    it_node_opts opts = {.sets = all};
    ps->node = node_start(&opts);
    /* `cairn run` reports ready once every role it starts is: its pushers run by now. */
    for (int i = 0; i < count; i++) {
        cr_assert(pusher_pid(ps, i) > 0, "`cairn run` started no pusher-%d", i);
        wait_ready(ps, i);
    }
}

void pusher_restart(it_pushers *ps, int i, pid_t old_pid)
{
    char arg[32];
    pusher_index_arg(i, arg, sizeof arg);
    cr_assert(node_wait_role_instance_restart(ps->node, "cairn-pusher", arg, old_pid,
                                              IT_READY_TIMEOUT_MS) > 0,
              "`cairn run` did not restart pusher-%d", i);
    wait_ready(ps, i);
}

json_t *push_list(const it_pushers *ps, const char *ua, const char *service, const char *clusters,
                  int udp_port, const char *client_ip)
{
    char port[16];
    snprintf(port, sizeof port, "%d", udp_port);
    const char *q[16];
    size_t n = 0;
    q[n++] = "serviceName";
    q[n++] = service;
    q[n++] = "udpPort";
    q[n++] = port;
    q[n++] = "clusters";
    q[n++] = clusters ? clusters : "";
    q[n++] = "healthyOnly";
    q[n++] = "false";
    if (client_ip) {
        q[n++] = "clientIP";
        q[n++] = client_ip;
    }
    q[n] = NULL;
    const char *headers[] = {ua, NULL};
    http_resp r = nacos_call(ps->node, "GET", NS "/instance/list", q, NULL, ua ? headers : NULL);
    cr_assert(r.status == 200, "list %s: %ld %s %s", service, r.status, r.body, r.error);
    json_t *j = json_parse_or_fail(r.body);
    http_resp_free(&r);
    return j;
}

void push_subscribe(it_pushers *ps, it_udp *u, const char *service, const char *clusters)
{
    char grouped[256];
    snprintf(grouped, sizeof grouped, "%s%s", strstr(service, "@@") ? "" : "DEFAULT_GROUP@@",
             service);
    int owner = push_owner("public", grouped, ps->count);
    int64_t deadline = it_now_ms() + 10000;
    for (;;) {
        double before = pusher_metric(ps, owner, "subscriptions_total", NULL);
        json_t *j = push_list(ps, IT_PUSH_UA, service, clusters, u->port, IT_FOREIGN_CLIENT_IP);
        cr_assert_eq(jint(j, "cacheMillis"), 10000,
                     "a push subscriber must be told cacheMillis 10000");
        json_decref(j);
        /* The subscription travels gateway → pusher asynchronously. */
        if (pusher_wait_metric(ps, owner, "subscriptions_total", NULL, before + 1, 1000) >=
            before + 1)
            return;
        cr_assert(it_now_ms() < deadline, "pusher-%d never took the subscription of %s", owner,
                  service);
    }
}

/* ---- subscription tap --------------------------------------------------------------------- */
void subscriptions_tap_open(it_sub *s, const it_node *n)
{
    cr_assert(it_sub_open(s, n, CAIRN_EP_GATEWAY_SUBSCRIPTIONS),
              "cannot subscribe to gateway-subscriptions.sock of %s (see the log)", n->run_dir);
}

bool subscriptions_tap_next(it_sub *s, cairn_subscription *out, int timeout_ms)
{
    nng_msg *msg = it_sub_next(s, timeout_ms);
    if (!msg)
        return false;
    cairn_status st;
    memset(out, 0, sizeof *out);
    size_t len = nng_msg_len(msg);
    cairn_err e = cairn_subscription_decode(nng_msg_body(msg), len, out, &st);
    nng_msg_free(msg);
    cr_assert(e == CAIRN_OK, "a %zu-byte message on gateway-subscriptions.sock does not decode: %s",
              len, st.message);
    return true;
}
