/* The listener's connection table: admission count and read deadlines (gateway_conns.h). */
#include "gateway_conns.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "cairn_clock.h"
#include "gateway.h"

#define DISARMED INT64_MIN
/* TCP_INFO counts in jiffies: bytes within this of the arming count as before it. */
#define RECEIVE_SLACK_MS 10

struct gateway_conn {
    int fd;
    _Atomic int64_t armed_ms; /* DISARMED, or since when the awaited request's bytes may come */
    gateway_conn *prev, *next;
};

struct gateway_conns {
    size_t max;
    int64_t deadline_ms;
    gateway_conns_ops ops;
    pthread_mutex_t lock; /* the list; ops.close runs under it */
    gateway_conn *head;
    _Atomic size_t count;
    /* The sweeper thread. */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    bool started;
    pthread_t thread;
};

static void real_close(void *arg, int fd)
{
    (void)arg;
    shutdown(fd, SHUT_RDWR);
}

static bool real_receiving(void *arg, int fd, int64_t age_ms)
{
    (void)arg;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < sizeof ti)
        return true; /* cannot tell: the deadline holds */
    return (int64_t)ti.tcpi_last_data_recv + RECEIVE_SLACK_MS < age_ms;
}

gateway_conns *gateway_conns_new(size_t max, int64_t deadline_ms, const gateway_conns_ops *ops)
{
    gateway_conns *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max;
    t->deadline_ms = deadline_ms;
    t->ops = ops ? *ops : (gateway_conns_ops){.close = real_close, .receiving = real_receiving};
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->stop_lock, NULL);
    cairn_cond_init_monotonic(&t->stop_cond);
    return t;
}

void gateway_conns_free(gateway_conns *t)
{
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->stop_lock);
        t->stopping = true;
        pthread_cond_signal(&t->stop_cond);
        pthread_mutex_unlock(&t->stop_lock);
        pthread_join(t->thread, NULL);
    }
    while (t->head) {
        gateway_conn *c = t->head;
        t->head = c->next;
        free(c);
    }
    pthread_cond_destroy(&t->stop_cond);
    pthread_mutex_destroy(&t->stop_lock);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

bool gateway_conns_admit(gateway_conns *t)
{
    return atomic_load(&t->count) < t->max;
}

size_t gateway_conns_count(gateway_conns *t)
{
    return atomic_load(&t->count);
}

gateway_conn *gateway_conns_add(gateway_conns *t, int fd, int64_t now_ms)
{
    gateway_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    atomic_init(&c->armed_ms, now_ms);
    pthread_mutex_lock(&t->lock);
    c->next = t->head;
    if (t->head)
        t->head->prev = c;
    t->head = c;
    atomic_fetch_add(&t->count, 1);
    pthread_mutex_unlock(&t->lock);
    return c;
}

void gateway_conns_remove(gateway_conns *t, gateway_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_fetch_sub(&t->count, 1);
    pthread_mutex_unlock(&t->lock);
    free(c);
}

void gateway_conn_arm(gateway_conn *c, int64_t now_ms)
{
    if (c)
        atomic_store(&c->armed_ms, now_ms);
}

void gateway_conn_disarm(gateway_conn *c)
{
    if (c)
        atomic_store(&c->armed_ms, DISARMED);
}

size_t gateway_conns_sweep(gateway_conns *t, int64_t now_ms)
{
    size_t closed = 0;
    pthread_mutex_lock(&t->lock);
    for (gateway_conn *c = t->head; c; c = c->next) {
        int64_t armed = atomic_load(&c->armed_ms);
        if (armed == DISARMED)
            continue;
        /* A CAS each time: the connection's own thread may arm or disarm it meanwhile (a
         * request taken in, a response sent), and then it is not ours to change. */
        if (t->ops.receiving && !t->ops.receiving(t->ops.arg, c->fd, now_ms - armed)) {
            /* Nothing came yet: the request's time has not started. */
            atomic_compare_exchange_strong(&c->armed_ms, &armed, now_ms);
            continue;
        }
        if (now_ms - armed < t->deadline_ms ||
            !atomic_compare_exchange_strong(&c->armed_ms, &armed, DISARMED))
            continue;
        t->ops.close(t->ops.arg, c->fd);
        closed++;
    }
    pthread_mutex_unlock(&t->lock);
    return closed;
}

static void *sweeper(void *arg)
{
    gateway_conns *t = arg;
    int64_t tick = t->deadline_ms / 8;
    tick = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
    pthread_mutex_lock(&t->stop_lock);
    while (!t->stopping) {
        struct timespec until = cairn_monotonic_after_ms(tick);
        pthread_cond_timedwait(&t->stop_cond, &t->stop_lock, &until);
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->stop_lock);
        gateway_conns_sweep(t, gateway_now_ms());
        pthread_mutex_lock(&t->stop_lock);
    }
    pthread_mutex_unlock(&t->stop_lock);
    return NULL;
}

int gateway_conns_start(gateway_conns *t)
{
    int rc = pthread_create(&t->thread, NULL, sweeper, t);
    if (rc == 0)
        t->started = true;
    return rc;
}
