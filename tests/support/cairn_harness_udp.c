/* UDP listeners and pushers for the push tests (see cairn_harness_udp.h). */
#include "cairn_harness_udp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cairn_endpoints.h"
#include "cairn_http.h"
#include "cairn_java_hash.h"
#include "cairn_nacos.h"
#include "cairn_prom.h"

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

double pusher_metric(it_pushers *ps, int i, const char *name, const char *label_part)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/pusher-%d.admin", ps->node->run_dir, i);
    if (!it_read_addr_file(path, ps->admin[i], sizeof ps->admin[i]))
        return -1;
    http_resp r = http_get_addr(ps->admin[i], "/metrics", 2000);
    double sum = -1;
    if (r.status == 200) {
        prom_text t;
        char err[256];
        cr_assert(prom_parse(r.body, &t, err, sizeof err), "pusher-%d /metrics: %s", i, err);
        char full[160];
        snprintf(full, sizeof full, "cairn_pusher_%s", name);
        sum = 0;
        for (size_t k = 0; k < t.count; k++) {
            if (strcmp(t.samples[k].name, full) == 0 &&
                (!label_part || strstr(t.samples[k].labels, label_part)))
                sum += t.samples[k].value;
        }
        prom_free(&t);
    }
    http_resp_free(&r);
    return sum;
}

double pusher_wait_metric(it_pushers *ps, int i, const char *name, const char *label_part,
                          double want, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        double v = pusher_metric(ps, i, name, label_part);
        if (v >= want || it_now_ms() >= deadline)
            return v;
        struct timespec ts = {0, 10 * 1000 * 1000}; /* poll interval, not synchronisation */
        nanosleep(&ts, NULL);
    }
}

/* argv of /proc/<pid>/cmdline, NUL-separated, into buf; its length or -1. */
static ssize_t read_cmdline(const char *pid, char *buf, size_t len)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n > 0)
        buf[n] = '\0';
    return n;
}

static bool process_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* A live cairn-pusher of this node with index i, started by `cairn run`. */
static pid_t find_run_pusher(const it_pushers *ps, int i)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    char want[32];
    snprintf(want, sizeof want, "pusher.index=%d", i);
    static char cmd[65536];
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        ssize_t n = read_cmdline(e->d_name, cmd, sizeof cmd);
        if (n <= 0)
            continue;
        const char *base = strrchr(cmd, '/');
        base = base ? base + 1 : cmd;
        if (strcmp(base, "cairn-pusher") != 0)
            continue;
        bool mine = false, index = false, any_index = false;
        for (const char *a = cmd; a < cmd + n; a += strlen(a) + 1) {
            if (strstr(a, ps->node->data_dir))
                mine = true;
            if (strncmp(a, "pusher.index=", 13) == 0) {
                any_index = true;
                index = index || strcmp(a, want) == 0;
            }
        }
        if (!any_index)
            index = i == 0;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (!mine && ps->node->run) {
            /* `cairn run` may pass the data dir through the config rather than argv. */
            char path[64], buf[512];
            snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                ssize_t m = read(fd, buf, sizeof buf - 1);
                close(fd);
                char *rp = m > 0 ? (buf[m] = '\0', strrchr(buf, ')')) : NULL;
                int ppid;
                char st;
                if (rp && sscanf(rp + 1, " %c %d", &st, &ppid) == 2 && ppid == ps->node->run->pid)
                    mine = true;
            }
        }
        if (mine && index && process_alive(pid))
            found = pid;
    }
    closedir(d);
    return found;
}

pid_t pusher_pid(const it_pushers *ps, int i)
{
    if (ps->by_hand)
        return ps->procs[i] && !it_proc_exited(ps->procs[i]) ? ps->procs[i]->pid : 0;
    return find_run_pusher(ps, i);
}

static void spawn_by_hand(it_pushers *ps, int i)
{
    const char *argv[2 * 48 + 8];
    size_t argc = 0;
    static char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/cairn-pusher", CAIRN_BIN_DIR);
    cr_assert(access(bin, X_OK) == 0, "%s is not built yet", bin);
    char data_set[PATH_MAX + 32], index_set[32], log_path[PATH_MAX + 32];
    snprintf(data_set, sizeof data_set, "node.data_dir=%s", ps->node->data_dir);
    snprintf(index_set, sizeof index_set, "pusher.index=%d", i);
    snprintf(log_path, sizeof log_path, "%s/pusher-%d.log", ps->node->dir, i);
    argv[argc++] = bin;
    argv[argc++] = "--set";
    argv[argc++] = data_set;
    for (size_t k = 0; k < ps->set_count; k++) {
        argv[argc++] = "--set";
        argv[argc++] = ps->sets[k];
    }
    argv[argc++] = "--set";
    argv[argc++] = index_set;
    argv[argc] = NULL;
    char name[32];
    snprintf(name, sizeof name, "pusher-%d", i);
    ps->procs[i] = it_spawn(name, argv, log_path, false);
}

typedef struct ready_arg {
    it_pushers *ps;
    int i;
} ready_arg;

static bool pusher_ready(void *arg)
{
    ready_arg *r = arg;
    it_pushers *ps = r->ps;
    if (ps->by_hand && it_proc_exited(ps->procs[r->i]))
        return true; /* reported below */
    return pusher_metric(ps, r->i, "ready", NULL) == 1 &&
           pusher_metric(ps, r->i, "upstream_connected", "source=\"gateway\"") == 1 &&
           pusher_metric(ps, r->i, "upstream_connected", "source=\"registry\"") == 1;
}

static void wait_ready(it_pushers *ps, int i)
{
    ready_arg r = {ps, i};
    bool ok = wait_until(pusher_ready, &r, IT_READY_TIMEOUT_MS);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/pusher-%d.log", ps->node->dir, i);
    if (ps->by_hand && it_proc_exited(ps->procs[i])) {
        char *tail = it_log_tail(path, 3000);
        cr_log_error("pusher-%d log:\n%s", i, tail ? tail : "");
        free(tail);
        cr_assert_fail("pusher-%d exited during start (code %d)", i,
                       it_proc_exit_code(ps->procs[i]));
    }
    cr_assert(ok, "pusher-%d not ready and connected within %d ms", i, IT_READY_TIMEOUT_MS);
}

void pushers_start(it_pushers *ps, const char *const *sets, int count)
{
    cr_assert(count >= 0 && count <= IT_MAX_PUSHERS);
    memset(ps, 0, sizeof *ps);
    ps->count = count;
    static char count_set[32];
    snprintf(count_set, sizeof count_set, "pusher.count=%d", count);
    ps->sets[ps->set_count++] = count_set;
    ps->sets[ps->set_count++] = "pusher.admin_listen=127.0.0.1:0";
    for (const char *const *s = sets; s && *s; s++) {
        cr_assert(ps->set_count + 1 < sizeof ps->sets / sizeof ps->sets[0]);
        ps->sets[ps->set_count++] = *s;
    }
    ps->sets[ps->set_count] = NULL;
    it_node_opts opts = {.sets = ps->sets};
    ps->node = node_start(&opts);
    if (count == 0)
        return;
    /* `cairn run` reports ready once every role it starts is: its pushers exist by now. */
    ps->by_hand = find_run_pusher(ps, 0) == 0;
    for (int i = 0; i < count; i++) {
        if (ps->by_hand)
            spawn_by_hand(ps, i);
    }
    for (int i = 0; i < count; i++)
        wait_ready(ps, i);
}

void pushers_stop(it_pushers *ps)
{
    if (!ps->by_hand)
        return;
    for (int i = 0; i < ps->count; i++) {
        if (ps->procs[i])
            it_proc_stop(ps->procs[i], !it_proc_exited(ps->procs[i]));
    }
}

typedef struct restart_arg {
    it_pushers *ps;
    int i;
    pid_t old_pid;
} restart_arg;

static bool restarted(void *arg)
{
    restart_arg *r = arg;
    pid_t pid = find_run_pusher(r->ps, r->i);
    return pid > 0 && pid != r->old_pid;
}

void pusher_restart(it_pushers *ps, int i, pid_t old_pid)
{
    if (ps->by_hand) {
        cr_assert(it_proc_wait(ps->procs[i], IT_STOP_TIMEOUT_MS), "pusher-%d still runs", i);
        spawn_by_hand(ps, i);
    } else {
        restart_arg r = {ps, i, old_pid};
        cr_assert(wait_until(restarted, &r, IT_READY_TIMEOUT_MS),
                  "`cairn run` did not restart pusher-%d", i);
    }
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

static double subscriptions_seen(it_pushers *ps, int owner)
{
    return pusher_metric(ps, owner, "subscriptions_total", NULL);
}

void push_subscribe(it_pushers *ps, it_udp *u, const char *service, const char *clusters)
{
    char grouped[256];
    snprintf(grouped, sizeof grouped, "%s%s", strstr(service, "@@") ? "" : "DEFAULT_GROUP@@",
             service);
    int owner = push_owner("public", grouped, ps->count);
    int64_t deadline = it_now_ms() + 10000;
    for (;;) {
        double before = subscriptions_seen(ps, owner);
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
    char url[PATH_MAX + 16];
    memset(s, 0, sizeof *s);
    cr_assert(cairn_endpoint_url(n->run_dir, CAIRN_EP_GATEWAY_SUBSCRIPTIONS, url, sizeof url) ==
              0);
    int rv = nng_sub0_open(&s->sock);
    cr_assert(rv == 0, "nng_sub0_open: %s", nng_strerror(rv));
    s->open = true;
    rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    if (rv == 0)
        rv = nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK);
    cr_assert(rv == 0, "subscribe to %s: %s", url, nng_strerror(rv));
}

bool subscriptions_tap_next(it_sub *s, cairn_subscription *out, int timeout_ms)
{
    nng_msg *msg = NULL;
    if (nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, timeout_ms) != 0 ||
        nng_recvmsg(s->sock, &msg, 0) != 0)
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
