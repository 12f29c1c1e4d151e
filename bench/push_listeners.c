/* Push subscribers: COUNT UDP sockets, one epoll receiver thread, kernel arrival timestamps,
 * acks from the receiving socket (the server matches acks by source address, §12.4). */
#include "push_listeners.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "push_gzip.h"

#define DATAGRAM_MAX 65536        /* a Nacos client's receive buffer (§12.3) */
#define PLAIN_MAX (4 * 1024 * 1024) /* room for an inflated datagram */
#define STOP_TAG UINT32_MAX

struct push_listeners {
    int count;
    int *fds;
    uint16_t *ports;
    int epfd;
    int stopfd;
    pthread_t thread;
    bool thread_started;
    char *buf;   /* receiver thread only */
    char *plain; /* receiver thread only */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    int round; /* 0 before the first round */
    push_match how;
    int64_t key;
    int64_t t0_ns;
    int *matched_round; /* per listener: the last round it matched */
    int matched;
    int64_t first_ns, last_ns;
    int64_t *latency_ns;
    push_totals totals;
};

int64_t push_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* lastRefTime arrives as a number (Node client, our baseline) or a quoted one (Java client). */
static bool ref_time(json_t *root, int64_t *out)
{
    json_t *v = json_object_get(root, "lastRefTime");
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        char *end;
        errno = 0;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (errno == 0 && *end == '\0') {
            *out = n;
            return true;
        }
    }
    return false;
}

/* The ack a Nacos client sends back for this datagram type (§12.4). */
static void send_ack(push_listeners *pl, int fd, const struct sockaddr_in *to, const char *type,
                     int64_t ref)
{
    const char *ack = !strcmp(type, "dom") || !strcmp(type, "service") ? "push-ack"
                      : !strcmp(type, "dump")                           ? "dump-ack"
                                                                        : "unknown-ack";
    json_t *msg = json_pack("{s:s, s:I, s:s}", "type", ack, "lastRefTime", (json_int_t)ref,
                            "data", "");
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text)
        return;
    ssize_t n = sendto(fd, text, strlen(text), MSG_DONTWAIT, (const struct sockaddr *)to,
                       sizeof *to);
    free(text);
    if (n >= 0) {
        pthread_mutex_lock(&pl->mu);
        pl->totals.acks++;
        pthread_mutex_unlock(&pl->mu);
    }
}

/* Whether the list document in `data` (a JSON string, §12.3) holds a host with this port. */
static bool has_host_port(json_t *root, int64_t port)
{
    const char *data = json_string_value(json_object_get(root, "data"));
    if (!data)
        return false;
    json_t *doc = json_loads(data, 0, NULL);
    bool found = false;
    json_t *hosts = json_object_get(doc, "hosts");
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        if (json_integer_value(json_object_get(h, "port")) == port) {
            found = true;
            break;
        }
    }
    json_decref(doc);
    return found;
}

static void handle_datagram(push_listeners *pl, int index, const char *wire, size_t len,
                            const struct sockaddr_in *from, int64_t arrived_ns)
{
    const char *text = wire;
    size_t text_len = len;
    bool gzip = push_is_gzip(wire, len);
    if (gzip) {
        if (push_gunzip(wire, len, pl->plain, PLAIN_MAX, &text_len) != 0)
            text = NULL;
        else
            text = pl->plain;
    }
    json_t *root = text ? json_loadb(text, text_len, 0, NULL) : NULL;
    int64_t ref = 0;
    const char *type = json_string_value(json_object_get(root, "type"));
    if (!root || !type || !ref_time(root, &ref)) {
        json_decref(root);
        pthread_mutex_lock(&pl->mu);
        pl->totals.datagrams++;
        pl->totals.undecodable++;
        pthread_mutex_unlock(&pl->mu);
        return;
    }
    send_ack(pl, pl->fds[index], from, type, ref);

    pthread_mutex_lock(&pl->mu);
    pl->totals.datagrams++;
    int round = pl->round;
    push_match how = pl->how;
    int64_t key = pl->key;
    bool pending = round > 0 && pl->matched_round[index] != round;
    pthread_mutex_unlock(&pl->mu);
    if (!pending) {
        json_decref(root);
        return;
    }

    bool match = how == PUSH_MATCH_REF_TIME ? ref == key : has_host_port(root, key);
    json_decref(root);
    if (!match)
        return;

    pthread_mutex_lock(&pl->mu);
    if (pl->round == round && pl->matched_round[index] != round) {
        pl->matched_round[index] = round;
        int64_t lat = arrived_ns - pl->t0_ns;
        pl->latency_ns[pl->matched++] = lat > 0 ? lat : 0;
        if (pl->matched == 1 || arrived_ns < pl->first_ns)
            pl->first_ns = arrived_ns;
        if (pl->matched == 1 || arrived_ns > pl->last_ns)
            pl->last_ns = arrived_ns;
        pl->totals.last_bytes = len;
        pl->totals.last_gzip = gzip;
        if (pl->matched == pl->count)
            pthread_cond_broadcast(&pl->cv);
    }
    pthread_mutex_unlock(&pl->mu);
}

/* Reads everything queued on one socket. */
static void drain(push_listeners *pl, int index)
{
    for (;;) {
        struct sockaddr_in from;
        struct iovec iov = {.iov_base = pl->buf, .iov_len = DATAGRAM_MAX};
        union {
            char buf[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = {.msg_name = &from,
                             .msg_namelen = sizeof from,
                             .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf};
        ssize_t n = recvmsg(pl->fds[index], &msg, MSG_DONTWAIT);
        if (n < 0)
            return; /* EAGAIN: empty; anything else: nothing more to read now either */
        int64_t arrived = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                arrived = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            }
        }
        if (!arrived)
            arrived = push_now_ns();
        if (msg.msg_flags & MSG_TRUNC)
            continue; /* larger than a client's buffer: a client would drop it too */
        handle_datagram(pl, index, pl->buf, (size_t)n, &from, arrived);
    }
}

static void *receiver(void *arg)
{
    push_listeners *pl = arg;
    struct epoll_event events[128];
    for (;;) {
        int n = epoll_wait(pl->epfd, events, 128, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        for (int i = 0; i < n; i++) {
            if (events[i].data.u32 == STOP_TAG)
                return NULL;
            drain(pl, (int)events[i].data.u32);
        }
    }
}

static push_listeners *fail(push_listeners *pl, char *err, size_t err_len, const char *what)
{
    snprintf(err, err_len, "%s: %s", what, strerror(errno));
    push_listeners_close(pl);
    return NULL;
}

push_listeners *push_listeners_open(int count, char *err, size_t err_len)
{
    push_listeners *pl = calloc(1, sizeof *pl);
    if (!pl) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pl->epfd = pl->stopfd = -1;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->cv, NULL);
    pl->fds = malloc((size_t)count * sizeof *pl->fds);
    pl->ports = calloc((size_t)count, sizeof *pl->ports);
    pl->matched_round = calloc((size_t)count, sizeof *pl->matched_round);
    pl->latency_ns = calloc((size_t)count, sizeof *pl->latency_ns);
    pl->buf = malloc(DATAGRAM_MAX);
    pl->plain = malloc(PLAIN_MAX);
    if (!pl->fds || !pl->ports || !pl->matched_round || !pl->latency_ns || !pl->buf ||
        !pl->plain) {
        errno = ENOMEM;
        return fail(pl, err, err_len, "allocating listeners");
    }
    for (int i = 0; i < count; i++)
        pl->fds[i] = -1;
    pl->epfd = epoll_create1(EPOLL_CLOEXEC);
    pl->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (pl->epfd < 0 || pl->stopfd < 0)
        return fail(pl, err, err_len, "epoll/eventfd");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = STOP_TAG};
    if (epoll_ctl(pl->epfd, EPOLL_CTL_ADD, pl->stopfd, &ev) != 0)
        return fail(pl, err, err_len, "epoll_ctl");

    for (int i = 0; i < count; i++) {
        pl->count = i + 1; /* so that close() sees the sockets opened so far */
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        pl->fds[i] = fd;
        if (fd < 0)
            return fail(pl, err, err_len, "socket (raise the open files limit?)");
        int one = 1;
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
            return fail(pl, err, err_len, "binding a listener");
        pl->ports[i] = ntohs(sa.sin_port);
        struct epoll_event rev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(pl->epfd, EPOLL_CTL_ADD, fd, &rev) != 0)
            return fail(pl, err, err_len, "epoll_ctl");
    }
    errno = pthread_create(&pl->thread, NULL, receiver, pl);
    if (errno != 0)
        return fail(pl, err, err_len, "pthread_create");
    pl->thread_started = true;
    return pl;
}

uint16_t push_listeners_port(const push_listeners *pl, int index)
{
    return pl->ports[index];
}

int push_listeners_count(const push_listeners *pl)
{
    return pl->count;
}

void push_listeners_begin_round(push_listeners *pl, push_match how, int64_t key, int64_t t0_ns)
{
    pthread_mutex_lock(&pl->mu);
    pl->round++;
    pl->how = how;
    pl->key = key;
    pl->t0_ns = t0_ns;
    pl->matched = 0;
    pl->first_ns = pl->last_ns = 0;
    pthread_mutex_unlock(&pl->mu);
}

void push_listeners_wait_round(push_listeners *pl, int64_t deadline_ns, push_round *out)
{
    struct timespec until = {.tv_sec = deadline_ns / 1000000000,
                             .tv_nsec = deadline_ns % 1000000000};
    pthread_mutex_lock(&pl->mu);
    while (pl->matched < pl->count) {
        if (pthread_cond_timedwait(&pl->cv, &pl->mu, &until) == ETIMEDOUT)
            break;
    }
    out->matched = pl->matched;
    out->first_ns = pl->first_ns;
    out->last_ns = pl->last_ns;
    out->latency_ns = pl->latency_ns;
    pthread_mutex_unlock(&pl->mu);
}

void push_listeners_totals(push_listeners *pl, push_totals *out)
{
    pthread_mutex_lock(&pl->mu);
    *out = pl->totals;
    pthread_mutex_unlock(&pl->mu);
}

void push_listeners_close(push_listeners *pl)
{
    if (!pl)
        return;
    if (pl->thread_started) {
        uint64_t one = 1;
        if (write(pl->stopfd, &one, sizeof one) != (ssize_t)sizeof one)
            pthread_cancel(pl->thread); /* cannot happen with a fresh eventfd */
        pthread_join(pl->thread, NULL);
    }
    for (int i = 0; pl->fds && i < pl->count; i++)
        if (pl->fds[i] >= 0)
            close(pl->fds[i]);
    if (pl->epfd >= 0)
        close(pl->epfd);
    if (pl->stopfd >= 0)
        close(pl->stopfd);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->cv);
    free(pl->fds);
    free(pl->ports);
    free(pl->matched_round);
    free(pl->latency_ns);
    free(pl->buf);
    free(pl->plain);
    free(pl);
}
