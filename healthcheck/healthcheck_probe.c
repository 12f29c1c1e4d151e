/* Active probes of persistent instances (§13: TCP, HTTP; NONE and MYSQL are not probed), on a
 * libuv loop in its own thread.
 *
 * The probe state lives in the table (next_probe_ms, streaks, probing). A tick timer scans the
 * table's probed list for instances that are due, starting at a rotating position, and starts at
 * most health.max_probes_in_flight probes at once; due instances beyond that wait for a later
 * tick. An instance's first probe comes at a random point of its first interval and each later
 * one after the interval ±10%, so that thousands of instances registered together do not probe
 * together.
 *
 *   TCP:  a non-blocking connect, with a timer for health.probe_timeout_ms.
 *   HTTP: connect, send `GET <path> HTTP/1.0`, read until the status line is complete and
 *         compare its code with the cluster's expected status (default 200).
 * The port is the instance's, or the cluster's check port when useInstancePort4Check is off.
 *
 * Only addresses healthcheck_netfilter.h allows are probed: the table keeps a numeric address it
 * denies off the probed list, and every probe checks the address it is about to connect to
 * (what a hostname resolved to, against this host's addresses as last read, every
 * OWN_REFRESH_MS) once more. A denied probe sends nothing and changes no count or health; it is
 * counted as result="denied" and logged once per instance until a probe goes through again.
 *
 * Health flips after health.probe_unhealthy_threshold consecutive failures (or
 * probe_healthy_threshold consecutive successes), never on a single lost probe; the write to the
 * registry runs on libuv's thread pool, so a slow registry does not stall the probes. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cairn_log.h"
#include "healthcheck.h"

#define STATUS_LINE_MAX 256 /* bytes read before giving up on finding a status line */
#define OWN_REFRESH_MS 30000 /* how often this host's addresses are re-read */

typedef struct probe_job probe_job;

struct hc_prober {
    healthcheck *hc;
    uv_loop_t loop;
    bool loop_open;
    uv_timer_t tick;
    uv_async_t wake;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    bool stopping; /* loop thread's view */
    int in_flight;
    uint32_t cursor;
    uint64_t tick_ms;
    uint64_t rng;
    int64_t own_read_ms; /* when this host's addresses were last read */
    probe_job *jobs; /* in flight, for the stop */
};

struct probe_job {
    hc_prober *p;
    probe_job *prev, *next;
    uint8_t *key;
    size_t key_len;
    cairn_check_type type;
    char *host;
    int port;
    char *request; /* HTTP only */
    int expected_status;
    uv_timer_t timer;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_getaddrinfo_t gai;
    bool tcp_open;
    bool gai_pending;
    int open; /* handles not yet closed, plus a pending resolution */
    bool done;
    uint64_t started_ns;
    const char *denied; /* why the resolved address may not be probed */
    char denied_ip[CAIRN_IP_TEXT_MAX];
    char buf[STATUS_LINE_MAX];
    size_t len;
};

/* A health write for a threshold crossing, run on the thread pool. */
typedef struct flip_work {
    uv_work_t req;
    healthcheck *hc;
    uint8_t *key;
    size_t key_len;
    char *ns, *svc, *cluster, *ip;
    int32_t port;
    bool healthy;
} flip_work;

static uint64_t next_random(hc_prober *p)
{
    /* xorshift64*: jitter only, no need for more. */
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return p->rng * 2685821657736338717ULL;
}

/* interval ±10% */
static int64_t jittered(hc_prober *p, int64_t interval)
{
    int64_t spread = interval / 5;
    int64_t j = spread > 0 ? (int64_t)(next_random(p) % (uint64_t)(spread + 1)) : 0;
    return interval - interval / 10 + j;
}

/* ---- health writes ------------------------------------------------------------------------- */

static void flip_run(uv_work_t *req)
{
    flip_work *f = req->data;
    healthcheck *hc = f->hc;
    cairn_status st;
    cairn_err err = hc_call_set_health(hc, f->ns, f->svc, f->cluster, f->ip, f->port, false,
                                       f->healthy, &st);
    hc_table_lock(&hc->table);
    hc_instance *e = hc_table_find_key(&hc->table, f->key, f->key_len);
    if (e) {
        e->write_pending = false;
        if (err == CAIRN_OK)
            e->healthy = f->healthy;
    }
    hc_table_unlock(&hc->table);
    if (err == CAIRN_OK) {
        hc_count(f->healthy ? hc->metrics.flips_healthy : hc->metrics.flips_unhealthy, 1);
        log_info("%s %s %s:%d %s: active probes", f->ns, f->svc, f->ip, (int)f->port,
                 f->healthy ? "healthy" : "unhealthy");
    } else {
        log_warn("cannot mark %s %s %s:%d %s: %s", f->ns, f->svc, f->ip, (int)f->port,
                 f->healthy ? "healthy" : "unhealthy", st.message);
    }
}

static void flip_free(flip_work *f)
{
    free(f->key);
    free(f->ns);
    free(f->svc);
    free(f->cluster);
    free(f->ip);
    free(f);
}

static void flip_done(uv_work_t *req, int status)
{
    (void)status;
    flip_free(req->data);
}

/* With the table locked: queues the write of e's new health. */
static void queue_flip(hc_prober *p, hc_instance *e, const probe_job *j, bool healthy)
{
    flip_work *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->hc = p->hc;
    f->healthy = healthy;
    f->port = e->port;
    f->key_len = j->key_len;
    if (!(f->key = malloc(j->key_len)) || !(f->ns = strdup(e->svc->ns)) ||
        !(f->svc = strdup(e->svc->name)) || !(f->cluster = strdup(e->cluster)) ||
        !(f->ip = strdup(e->ip))) {
        flip_free(f);
        return;
    }
    memcpy(f->key, j->key, j->key_len);
    f->req.data = f;
    if (uv_queue_work(&p->loop, &f->req, flip_run, flip_done) != 0) {
        flip_free(f);
        return;
    }
    e->write_pending = true;
}

/* ---- one probe ------------------------------------------------------------------------------ */

static void job_free(probe_job *j)
{
    free(j->key);
    free(j->host);
    free(j->request);
    free(j);
}

static void on_close(uv_handle_t *h)
{
    probe_job *j = h->data;
    if (--j->open == 0)
        job_free(j);
}

/* The result of a probe reaches the instance's counts; a threshold crossing is written. */
static void record(hc_prober *p, probe_job *j, hc_probe_result r)
{
    healthcheck *hc = p->hc;
    hc_table_lock(&hc->table);
    hc_instance *e = hc_table_find_key(&hc->table, j->key, j->key_len);
    if (e && r == HC_PROBE_DENIED) {
        e->probing = false;
        if (!e->resolve_denied)
            log_warn("%s %s %s:%d is not probed: it resolves to %s, %s", e->svc->ns, e->svc->name,
                     e->ip, (int)e->port, j->denied_ip, j->denied);
        e->resolve_denied = true;
    } else if (e) {
        e->probing = false;
        e->resolve_denied = false;
        if (r == HC_PROBE_SUCCESS) {
            e->fail_streak = 0;
            if (e->ok_streak < UINT16_MAX)
                e->ok_streak++;
        } else {
            e->ok_streak = 0;
            if (e->fail_streak < UINT16_MAX)
                e->fail_streak++;
        }
        if (!e->write_pending && !e->marked && e->probe_index != HC_NOT_PROBED) {
            if (!e->healthy && e->ok_streak >= hc->cfg.probe_healthy_threshold)
                queue_flip(p, e, j, true);
            else if (e->healthy && e->fail_streak >= hc->cfg.probe_unhealthy_threshold)
                queue_flip(p, e, j, false);
        }
    }
    hc_table_unlock(&hc->table);
}

static void finish(probe_job *j, hc_probe_result r)
{
    if (j->done)
        return;
    j->done = true;
    hc_prober *p = j->p;
    if (!p->stopping) {
        double seconds = (double)(uv_hrtime() - j->started_ns) / 1e9;
        hc_metrics_probe(&p->hc->metrics, j->type, r, seconds);
        record(p, j, r);
    }
    p->in_flight--;
    if (j->prev)
        j->prev->next = j->next;
    else
        p->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, on_close);
    if (j->tcp_open)
        uv_close((uv_handle_t *)&j->tcp, on_close);
    if (j->gai_pending)
        uv_cancel((uv_req_t *)&j->gai); /* its callback still runs and drops the count */
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, HC_PROBE_TIMEOUT);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    probe_job *j = h->data;
    buf->base = j->buf + j->len;
    buf->len = sizeof j->buf - 1 - j->len;
}

/* The code of a complete status line ("HTTP/1.1 200 OK\r\n"), 0 while incomplete, -1 when the
 * answer is not HTTP. */
static int status_code(const char *buf, size_t len)
{
    const char *eol = memchr(buf, '\n', len);
    if (!eol)
        return 0;
    if (len < 5 || strncmp(buf, "HTTP/", 5) != 0)
        return -1;
    const char *sp = memchr(buf, ' ', (size_t)(eol - buf));
    if (!sp || eol - sp < 4)
        return -1;
    int code = 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return -1;
        code = code * 10 + (sp[i] - '0');
    }
    return code;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    probe_job *j = s->data;
    if (j->done)
        return;
    if (nread > 0)
        j->len += (size_t)nread;
    int code = status_code(j->buf, j->len);
    if (code == 0 && nread >= 0 && j->len < sizeof j->buf - 1)
        return; /* more to come */
    /* Closed, failed, or too long without a complete status line: a failure. */
    finish(j, code > 0 && code == j->expected_status ? HC_PROBE_SUCCESS : HC_PROBE_FAILURE);
}

static void on_write(uv_write_t *w, int status)
{
    probe_job *j = w->data;
    if (status < 0)
        finish(j, HC_PROBE_FAILURE);
}

static void on_connect(uv_connect_t *c, int status)
{
    probe_job *j = c->data;
    if (j->done)
        return;
    if (status < 0) {
        finish(j, HC_PROBE_FAILURE);
        return;
    }
    if (j->type == CAIRN_CHECK_TCP) {
        finish(j, HC_PROBE_SUCCESS);
        return;
    }
    uv_buf_t b = uv_buf_init(j->request, (unsigned)strlen(j->request));
    j->write.data = j;
    if (uv_write(&j->write, (uv_stream_t *)&j->tcp, &b, 1, on_write) != 0 ||
        uv_read_start((uv_stream_t *)&j->tcp, on_alloc, on_read) != 0)
        finish(j, HC_PROBE_FAILURE);
}

static void connect_to(probe_job *j, const struct sockaddr *addr)
{
    hc_prober *p = j->p;
    /* The last word on where a probe goes: the address itself, whatever named it. */
    cairn_ip ip;
    j->denied = cairn_ip_from_sockaddr(addr, &ip)
                    ? hc_netfilter_deny_ip(&p->hc->probe_filter, &ip)
                    : "not an IP address";
    if (j->denied) {
        cairn_ip_format(&ip, j->denied_ip, sizeof j->denied_ip);
        finish(j, HC_PROBE_DENIED);
        return;
    }
    if (uv_tcp_init(&p->loop, &j->tcp) != 0) {
        finish(j, HC_PROBE_FAILURE);
        return;
    }
    j->tcp.data = j;
    j->tcp_open = true;
    j->open++;
    j->connect.data = j;
    if (uv_tcp_connect(&j->connect, &j->tcp, addr, on_connect) != 0)
        finish(j, HC_PROBE_FAILURE);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    probe_job *j = g->data;
    j->gai_pending = false;
    if (!j->done) {
        if (status < 0 || !res) {
            finish(j, HC_PROBE_FAILURE);
        } else {
            struct sockaddr_storage ss;
            memcpy(&ss, res->ai_addr, res->ai_addrlen);
            if (ss.ss_family == AF_INET)
                ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)j->port);
            else
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)j->port);
            connect_to(j, (struct sockaddr *)&ss);
        }
    }
    uv_freeaddrinfo(res);
    if (--j->open == 0)
        job_free(j);
}

static void start(probe_job *j)
{
    hc_prober *p = j->p;
    j->started_ns = uv_hrtime();
    p->in_flight++;
    j->next = p->jobs;
    if (p->jobs)
        p->jobs->prev = j;
    p->jobs = j;
    uv_timer_init(&p->loop, &j->timer);
    j->timer.data = j;
    j->open = 1;
    uv_timer_start(&j->timer, on_timeout, (uint64_t)p->hc->cfg.probe_timeout_ms, 0);
    if (j->port <= 0 || j->port > 65535) {
        finish(j, HC_PROBE_FAILURE);
        return;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(j->host, j->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(j->host, j->port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_to(j, (struct sockaddr *)&ss);
        return;
    }
    /* A hostname: only reached when no probe network list is set (the table checks). */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    j->gai.data = j;
    if (uv_getaddrinfo(&p->loop, &j->gai, on_resolved, j->host, NULL, &hints) != 0) {
        finish(j, HC_PROBE_FAILURE);
        return;
    }
    j->gai_pending = true;
    j->open++;
}

/* With the table locked: a job for e (NULL when out of memory or not probe-able). */
static probe_job *make_job(hc_prober *p, hc_instance *e)
{
    const cairn_cluster *cl = hc_instance_cluster(e);
    probe_job *j = calloc(1, sizeof *j);
    cairn_key k;
    if (!j || hc_instance_key(e, &k) != 0 || !(j->key = malloc(k.len)) ||
        !(j->host = strdup(e->ip))) {
        if (j)
            job_free(j);
        return NULL;
    }
    memcpy(j->key, k.bytes, k.len);
    j->key_len = k.len;
    j->p = p;
    j->type = cl->check_type;
    j->port = cl->use_instance_port ? e->port : cl->check_port;
    if (j->type == CAIRN_CHECK_HTTP) {
        const char *path = cl->check_path && *cl->check_path ? cl->check_path : "/";
        bool v6 = strchr(e->ip, ':') != NULL;
        int n = asprintf(&j->request,
                         "GET %s%s HTTP/1.0\r\nHost: %s%s%s\r\nUser-Agent: Cairn-Health-Checker"
                         "\r\n\r\n",
                         path[0] == '/' ? "" : "/", path, v6 ? "[" : "", e->ip, v6 ? "]" : "");
        if (n < 0) {
            j->request = NULL;
            job_free(j);
            return NULL;
        }
        j->expected_status = cl->check_expected_status > 0 ? cl->check_expected_status : 200;
    }
    return j;
}

/* ---- scheduling ----------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    hc_prober *p = t->data;
    healthcheck *hc = p->hc;
    int budget = hc->cfg.max_probes_in_flight - p->in_flight;
    if (p->stopping || budget <= 0)
        return;
    int64_t now = hc_now_ms(), interval = hc->cfg.probe_interval_ms;
    if (now - p->own_read_ms >= OWN_REFRESH_MS) {
        hc_netfilter_refresh_own(&hc->probe_filter); /* a failure keeps the previous ones */
        p->own_read_ms = now;
    }
    probe_job *ready = NULL;
    hc_table_lock(&hc->table);
    hc_table *tb = &hc->table;
    uint32_t n = tb->probed_count, k = 0;
    for (; k < n && budget > 0; k++) {
        hc_instance *e = tb->probed[(p->cursor + k) % n];
        if (e->next_probe_ms == 0) {
            /* Newly probed: its first probe at a random point of the interval. */
            e->next_probe_ms = now + (int64_t)(next_random(p) % (uint64_t)interval);
            continue;
        }
        if (e->probing || e->write_pending || e->next_probe_ms > now)
            continue;
        e->next_probe_ms = now + jittered(p, interval);
        if (!hc_service_responsible(e->svc))
            continue;
        probe_job *j = make_job(p, e);
        if (!j)
            continue;
        e->probing = true;
        j->next = ready;
        ready = j;
        budget--;
    }
    p->cursor = n ? (p->cursor + k) % n : 0;
    hc_table_unlock(&hc->table);
    while (ready) {
        probe_job *j = ready;
        ready = j->next;
        j->next = NULL;
        start(j);
    }
}

static void on_wake(uv_async_t *a)
{
    hc_prober *p = a->data;
    if (!atomic_load(&p->stop))
        return;
    p->stopping = true;
    uv_timer_stop(&p->tick);
    uv_close((uv_handle_t *)&p->tick, NULL);
    uv_close((uv_handle_t *)&p->wake, NULL);
    while (p->jobs)
        finish(p->jobs, HC_PROBE_FAILURE); /* not recorded: stopping */
}

static void *probe_main(void *arg)
{
    hc_prober *p = arg;
    /* Runs until the stop closed every handle and the queued writes finished. */
    uv_run(&p->loop, UV_RUN_DEFAULT);
    return NULL;
}

cairn_err hc_probe_start(healthcheck *hc, cairn_status *st)
{
    hc_prober *p = calloc(1, sizeof *p);
    if (!p)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    p->hc = hc;
    p->own_read_ms = hc_now_ms(); /* healthcheck_configure read them */
    p->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
    if (!p->rng)
        p->rng = 1;
    int64_t tick = hc->cfg.probe_interval_ms / 20;
    p->tick_ms = (uint64_t)(tick < 5 ? 5 : tick > 200 ? 200 : tick);
    int rv = uv_loop_init(&p->loop);
    if (rv != 0) {
        free(p);
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the probe loop: %s",
                          uv_strerror(rv));
    }
    p->loop_open = true;
    hc->prober = p;
    if ((rv = uv_timer_init(&p->loop, &p->tick)) != 0 ||
        (rv = uv_async_init(&p->loop, &p->wake, on_wake)) != 0) {
        hc_probe_stop(hc);
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot set up the probe loop: %s",
                          uv_strerror(rv));
    }
    p->tick.data = p;
    p->wake.data = p;
    uv_timer_start(&p->tick, on_tick, p->tick_ms, p->tick_ms);
    if ((rv = pthread_create(&p->thread, NULL, probe_main, p)) != 0) {
        atomic_store(&p->stop, true);
        on_wake(&p->wake);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        hc_probe_stop(hc);
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the probe thread: %s",
                          strerror(rv));
    }
    p->thread_started = true;
    return CAIRN_OK;
}

void hc_probe_stop(healthcheck *hc)
{
    hc_prober *p = hc->prober;
    if (!p)
        return;
    if (p->thread_started) {
        atomic_store(&p->stop, true);
        uv_async_send(&p->wake);
        pthread_join(p->thread, NULL);
    } else if (!p->stopping && p->loop_open) {
        /* Set up but never run: close what was opened. */
        if (p->tick.loop)
            uv_close((uv_handle_t *)&p->tick, NULL);
        if (p->wake.loop)
            uv_close((uv_handle_t *)&p->wake, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
    }
    if (p->loop_open && uv_loop_close(&p->loop) != 0)
        log_warn("probe loop closed with handles still open");
    free(p);
    hc->prober = NULL;
}
