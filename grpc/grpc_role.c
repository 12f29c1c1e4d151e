/* cairn-grpc's state: settings, sockets, the listener and the shutdown (grpc.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cairn_address.h"
#include "cairn_clock.h"
#include "cairn_endpoints.h"
#include "cairn_files.h"
#include "cairn_requests.h"
#include "grpc.h"
#include "grpc_cluster.h"
#include "grpc_calls.h"
#include "grpc_auth.h"

/* Nacos' gRPC port is the HTTP port + 1000 (Constants.SDK_GRPC_PORT_DEFAULT_OFFSET). */
#define GRPC_PORT_OFFSET 1000
/* How long to wait for the gateway's address file when grpc.listen follows a gateway on port 0. */
#define GATEWAY_FILE_WAIT_MS 20000
/* How long a stopping role waits for the registry to drop its connections' instances. */
#define SHUTDOWN_DROP_WAIT_MS 1000

int64_t grpc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The bound port of a gateway on port 0, from <run_dir>/gateway.http (written once it listens). */
static bool gateway_bound_port(const grpc_server *s, uint16_t *port)
{
    char run[PATH_MAX], path[PATH_MAX + 32];
    cairn_config_run_dir(s->role->config, run, sizeof run);
    if (cairn_gateway_http_address_path(run, path, sizeof path) != 0)
        return false;
    for (int64_t until = grpc_now_ms() + GATEWAY_FILE_WAIT_MS; grpc_now_ms() < until;) {
        FILE *f = fopen(path, "r");
        char line[300] = "";
        if (f) {
            if (!fgets(line, sizeof line, f))
                line[0] = 0;
            fclose(f);
        }
        line[strcspn(line, "\r\n")] = 0;
        char host[256];
        const char *text = strncmp(line, "http://", 7) == 0 ? line + 7 : line;
        if (cairn_parse_address(text, host, sizeof host, port) && *port)
            return true;
        if (!cairn_role_running())
            return false;
        struct timespec nap = {0, 50 * 1000000};
        nanosleep(&nap, NULL);
    }
    return false;
}

/* grpc.listen, or the gateway's host and port + 1000. */
static cairn_err listen_address(grpc_server *s, cairn_status *st)
{
    const cairn_config *c = s->role->config;
    grpc_settings *g = &s->cfg;
    const char *text = cairn_config_string(c, "grpc.listen");
    if (text[0]) {
        if (!cairn_parse_address(text, g->host, sizeof g->host, &g->port))
            return cairn_fail(st, CAIRN_E_INVALID, "grpc.listen: '%s' is not host:port", text);
        return CAIRN_OK;
    }
    uint16_t http;
    cairn_config_address(c, "gateway.listen", g->host, sizeof g->host, &http);
    if (http == 0 && !gateway_bound_port(s, &http))
        return cairn_fail(st, CAIRN_E_UNAVAILABLE,
                          "grpc.listen is empty and the gateway's port (gateway.listen port 0) "
                          "is not known: set grpc.listen");
    if ((uint32_t)http + GRPC_PORT_OFFSET > 65535)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "gateway port %u + 1000 is no port: set grpc.listen", http);
    g->port = (uint16_t)(http + GRPC_PORT_OFFSET);
    return CAIRN_OK;
}

static void read_settings(grpc_server *s)
{
    const cairn_config *c = s->role->config;
    grpc_settings *g = &s->cfg;
    g->max_connections = (uint32_t)cairn_config_int(c, "grpc.max_connections");
    g->max_connections_per_ip = (uint32_t)cairn_config_int(c, "grpc.max_connections_per_ip");
    g->max_streams = (uint32_t)cairn_config_int(c, "grpc.max_streams_per_connection");
    g->max_message_bytes = (size_t)cairn_config_int(c, "grpc.max_message_bytes");
    g->registry_timeout_ms = (int)cairn_config_int(c, "grpc.registry_timeout_ms");
    g->detect_idle_ms = cairn_config_int(c, "grpc.detect_idle_ms");
    g->detect_timeout_ms = cairn_config_int(c, "grpc.detect_timeout_ms");
    g->merge_window_ms = cairn_config_int(c, "grpc.push_merge_window_ms");
    g->ack_timeout_ms = cairn_config_int(c, "grpc.push_ack_timeout_ms");
    g->retry_delay_ms = cairn_config_int(c, "grpc.push_retry_delay_ms");
    g->max_pending_pushes = (uint32_t)cairn_config_int(c, "grpc.max_pending_pushes");
    g->max_blocked_ms = g->ack_timeout_ms * 60; /* 300 s with Nacos' 5 s ack timeout */
    g->in_use_period_ms = cairn_in_use_period_ms(c);
}

/* The node's name in owners: the host name and a hash of the data directory, the same across
 * restarts and different for two nodes on one host (which the stale-owner drop must tell apart). */
static void owner_names(grpc_server *s)
{
    snprintf(s->owner_prefix, sizeof s->owner_prefix, "grpc/%s/", s->node);
    snprintf(s->incarnation_owner, sizeof s->incarnation_owner, "%s%s/", s->owner_prefix,
             s->incarnation);
}

static void node_identity(grpc_server *s)
{
    char host[48] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "node");
    host[strcspn(host, "/")] = 0;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = s->role->data_dir; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    snprintf(s->node, sizeof s->node, "%s-%08x", host, h);
    snprintf(s->incarnation, sizeof s->incarnation, "%" PRIx64, (uint64_t)cairn_wall_ms());
    owner_names(s);
}

static void on_events_pipe(void *arg, bool connected)
{
    grpc_server *s = arg;
    atomic_store(&s->events_reconnected, true);
    /* events may have been missed either way: set_live flushes (calls serialised, cairn_sub.h) */
    grpc_query_cache_set_live(s, connected);
}

static bool ready_check(void *arg, char *detail, size_t len)
{
    grpc_server *s = arg;
    bool ok = atomic_load(&s->listening) && atomic_load(&s->registry_ok);
    snprintf(detail, len, "%s", !atomic_load(&s->stale_dropped) ? "dropping stale owners"
                                : !atomic_load(&s->listening)   ? "not listening"
                                : !ok                           ? "registry unavailable"
                                                                : "serving");
    return ok;
}

static cairn_err open_sockets(grpc_server *s, cairn_status *st)
{
    char run[PATH_MAX], url[PATH_MAX + 16];
    cairn_config_run_dir(s->role->config, run, sizeof run);
    if (cairn_endpoint_url(run, CAIRN_EP_REGISTRY_COMMANDS, url, sizeof url) != 0)
        return cairn_fail(st, CAIRN_E_INVALID, "run directory path too long");
    if (!(s->registry = cairn_rpc_client_open(url, "registry", s->cfg.registry_timeout_ms, st)))
        return st->code;
    cairn_rpc_client_batch(s->registry, CAIRN_RPC_BATCH_EXCHANGES, CAIRN_RPC_BATCH_PARTS);
    if (cairn_endpoint_url(run, CAIRN_EP_REGISTRY_EVENTS, url, sizeof url) != 0 ||
        cairn_sub_open(&s->events, url, CAIRN_EVENT_MAX_BYTES, 0, on_events_pipe, s, st))
        return st->code ? st->code : CAIRN_E_INVALID;
    if (nng_aio_alloc(&s->events_aio, NULL, NULL) != 0)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (nng_socket_get_int(s->events.sock, NNG_OPT_RECVFD, &s->events_fd) != 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "no receive fd on the events socket");
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->calls_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->ep < 0 || s->calls_fd < 0 ||
        grpc_epoll_add(s, s->calls_fd, EPOLLIN, &s->ep_calls) != 0 ||
        grpc_epoll_add(s, s->events_fd, EPOLLIN, &s->ep_events) != 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "epoll set-up: %s", strerror(errno));
    return CAIRN_OK;
}

/* Every connection is a descriptor: the soft RLIMIT_NOFILE (1024 under systemd and most shells)
 * is raised towards grpc.max_connections plus what the role itself holds, as far as the hard
 * limit allows; short of it, accepts past the limit fail and the admission cap is never met. */
static void raise_fd_limit(const grpc_settings *g)
{
    rlim_t want = (rlim_t)g->max_connections + 256;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t got = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    rl.rlim_cur = got;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || got < want)
        log_warn("descriptor limit %llu is below grpc.max_connections %u + 256: connections "
                 "past it are refused at accept",
                 (unsigned long long)got, g->max_connections);
}

int grpc_server_open(grpc_server *s, cairn_role *role)
{
    memset(s, 0, sizeof *s);
    s->role = role;
    s->ep = s->listen_fd = s->calls_fd = s->events_fd = -1;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&s->done_mu, NULL);
    pusher_timers_init(&s->timers);
    pusher_timer_init(&s->in_use_timer, GRPC_TIMER_IN_USE);
    cairn_follow_init(&s->follow);
    node_identity(s);
    read_settings(s);
    raise_fd_limit(&s->cfg);
    cairn_status st;
    cairn_err err = listen_address(s, &st);
    if (!err && grpc_metrics_init(&s->metrics, role->metrics) != 0)
        err = cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
    if (!err && !(s->auth = grpc_auth_open(role->config, role->metrics, &st)))
        err = st.code == CAIRN_E_NOMEM ? CAIRN_E_NOMEM : CAIRN_E_INVALID; /* the secret: config */
    if (!err) {
        s->conns = cairn_hashmap_new(64);
        s->watches = cairn_hashmap_new(64);
        if (s->cfg.max_connections_per_ip)
            s->per_ip = grpc_per_ip_new(s->cfg.max_connections_per_ip);
        if (!s->conns || !s->watches || (s->cfg.max_connections_per_ip && !s->per_ip) ||
            grpc_query_cache_open(s) != 0)
            err = cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
    }
    if (!err)
        err = open_sockets(s, &st);
    if (!err) {
        char run[PATH_MAX];
        cairn_config_run_dir(role->config, run, sizeof run);
        err = grpc_cluster_open(role->config, run, &s->cluster, s->node, &st);
        if (!err && s->cluster) /* owners name the member: its peers drop them when it dies */
            owner_names(s);
    }
    if (err) {
        log_error("cannot start: %s", st.message);
        return err == CAIRN_E_INVALID ? CAIRN_EXIT_CONFIG : EXIT_FAILURE;
    }
    cairn_role_set_ready_check(role, ready_check, s);
    log_info("node %s, incarnation %s: gRPC on %s:%u once earlier incarnations' instances are "
             "dropped",
             s->node, s->incarnation, s->cfg.host, s->cfg.port);
    return 0;
}

static int bind_listener(const grpc_settings *g)
{
    char port[8];
    snprintf(port, sizeof port, "%u", g->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    if (getaddrinfo(g->host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int grpc_server_listen(grpc_server *s)
{
    s->listen_fd = bind_listener(&s->cfg);
    if (s->listen_fd < 0) {
        log_error("cannot listen on %s:%u: %s", s->cfg.host, s->cfg.port, strerror(errno));
        return EXIT_FAILURE;
    }
    char bound[300], run[PATH_MAX], path[PATH_MAX + 16];
    if (cairn_bound_address(s->listen_fd, bound, sizeof bound, NULL) != 0)
        snprintf(bound, sizeof bound, "%s:%u", s->cfg.host, s->cfg.port);
    cairn_config_run_dir(s->role->config, run, sizeof run);
    snprintf(path, sizeof path, "%s/grpc.addr", run);
    char line[320];
    int n = snprintf(line, sizeof line, "%s\n", bound);
    if (cairn_write_file_atomic(path, line, (size_t)n) != 0)
        log_warn("cannot write %s: %s", path, strerror(errno));
    if (grpc_epoll_add(s, s->listen_fd, EPOLLIN, &s->ep_listener) != 0)
        return EXIT_FAILURE;
    atomic_store(&s->listening, true);
    log_info("gRPC listening on %s", bound);
    return 0;
}

/* The outcome of the drop at shutdown, waited for a bounded time. */
typedef struct final_drop {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done, ok;
    uint32_t total;
} final_drop;

static void final_drop_done(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    final_drop *d = arg;
    pthread_mutex_lock(&d->mu);
    d->done = true;
    d->ok = rc == CAIRN_OK && rep->code == CAIRN_OK;
    d->total = rep->total;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->mu);
}

/* On the way out this incarnation's instances go, as if every connection closed. The registry may
 * be stopping too (`cairn run` stops every role at once): the wait is bounded, and the next start
 * drops whatever is left. The caller closes the registry client next, which waits for the call. */
static void drop_incarnation(grpc_server *s, final_drop *d)
{
    cairn_request req;
    cairn_status st;
    if (cairn_request_owner_drop(&req, s->incarnation_owner, CAIRN_OWNER_PREFIX, &st) !=
        CAIRN_OK) {
        cairn_request_free(&req);
        return;
    }
    cairn_rpc_call_async(s->registry, &req, final_drop_done, d);
    cairn_request_free(&req);
    struct timespec until = cairn_monotonic_after_ms(SHUTDOWN_DROP_WAIT_MS);
    pthread_mutex_lock(&d->mu);
    while (!d->done && pthread_cond_timedwait(&d->cond, &d->mu, &until) == 0)
        ;
    if (d->done && d->ok)
        log_info("dropped %u instances of this incarnation's connections", d->total);
    else
        log_warn("instances of this incarnation stay until the next start drops them");
    pthread_mutex_unlock(&d->mu);
}

void grpc_server_close(grpc_server *s)
{
    grpc_conns_close_all(s);
    grpc_conn_bury(s);
    final_drop d = {.done = false};
    pthread_mutex_init(&d.mu, NULL);
    cairn_cond_init_monotonic(&d.cond);
    if (s->registry) {
        if (atomic_load(&s->stale_dropped) && s->any_owned)
            drop_incarnation(s, &d);
        cairn_rpc_client_close(s->registry); /* calls in flight end and land in the queue */
    }
    grpc_cluster_disarm(s);
    grpc_cluster_close(s->cluster); /* its forwards too */
    s->cluster = NULL;
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cond);
    grpc_calls_discard(s);
    grpc_push_free_all(s);
    /* what is left in the timer heap: drops waiting for their retry */
    pusher_timer *t;
    while ((t = pusher_timers_pop_due(&s->timers, INT64_MAX)))
        if (t->kind == GRPC_TIMER_DROP)
            grpc_drop_discard(t); /* the timer is the drop's first member */
    pusher_timers_free(&s->timers);
    cairn_sub_close(&s->events); /* no pipe callback after this */
    if (s->events_aio)
        nng_aio_free(s->events_aio);
    grpc_query_cache_close(s);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    if (s->calls_fd >= 0)
        close(s->calls_fd);
    if (s->ep >= 0)
        close(s->ep);
    cairn_hashmap_free(s->conns);
    cairn_hashmap_free(s->watches);
    grpc_per_ip_free(s->per_ip); /* after grpc_conns_close_all gave every slot back */
    grpc_auth_close(s->auth);
    pthread_mutex_destroy(&s->done_mu);
}
