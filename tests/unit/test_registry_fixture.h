/* Shared set-up of the registry unit tests: a store in a fresh temp dir, a writer, the handler
 * the rpc server calls (registry_handle), and requests/replies that go through the real msgpack
 * encoding both ways, as they do between roles. Change events are captured in memory. */
#ifndef TEST_REGISTRY_FIXTURE_H
#define TEST_REGISTRY_FIXTURE_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_msg.h"
#include "registry_dispatch.h"
#include "registry_handlers.h"
#include "cairn_requests.h"

typedef struct fixture {
    char dir[64];       /* temp dir (removed at the end) */
    char store_dir[96]; /* dir/registry */
    cairn_metrics *m;
    registry_store store;
    registry_metrics metrics;
    registry_writer *writer;
    registry reg;
    uint32_t max_batch;
    int64_t max_instances;
    int64_t map_mb;
    size_t event_snapshot_max; /* registry.event_snapshot_max_bytes (fx_open: the default) */
    struct registry_in_use *in_use; /* the writer's (NULL: nobody subscribes); the test's */
    registry_publish_fn publish; /* NULL: capture into events */
    registry_publish_end_fn publish_end; /* with publish */
    void *publish_arg;
    pthread_mutex_t ev_mu;
    cairn_change_event *events; /* captured, owned copies (snapshot, delta and keys too) */
    size_t n_events, cap_events;
} fixture;

static inline void fx_capture(void *arg, const cairn_change_event *ev)
{
    fixture *f = arg;
    pthread_mutex_lock(&f->ev_mu);
    if (f->n_events == f->cap_events) {
        f->cap_events = f->cap_events ? f->cap_events * 2 : 64;
        f->events = realloc(f->events, f->cap_events * sizeof *f->events);
        cr_assert(f->events);
    }
    cairn_change_event *c = &f->events[f->n_events++];
    *c = *ev;
    c->namespace_id = strdup(ev->namespace_id);
    c->service = strdup(ev->service);
    if (ev->snapshot) {
        char *copy = malloc(ev->snapshot_len ? ev->snapshot_len : 1);
        cr_assert(copy);
        memcpy(copy, ev->snapshot, ev->snapshot_len);
        c->snapshot = copy;
    }
    if (ev->delta) {
        char *copy = malloc(ev->delta_len ? ev->delta_len : 1);
        cr_assert(copy);
        memcpy(copy, ev->delta, ev->delta_len);
        c->delta = copy;
    }
    if (ev->gone_count) { /* one block, which cairn_event_free frees */
        c->gone = cairn_bytes_copy_all(ev->gone, ev->gone_count);
        cr_assert(c->gone);
    }
    pthread_mutex_unlock(&f->ev_mu);
}

static inline void fx_start_writer(fixture *f)
{
    cairn_status st;
    registry_writer_config wc = {
        .store = &f->store,
        .metrics = &f->metrics,
        .max_batch = f->max_batch,
        .max_instances_per_service = f->max_instances,
        .publish = f->publish ? f->publish : fx_capture,
        .publish_end = f->publish ? f->publish_end : NULL,
        .publish_arg = f->publish ? f->publish_arg : f,
        .event_snapshot_max_bytes = f->event_snapshot_max,
        .in_use = f->in_use,
    };
    cr_assert_eq(registry_writer_start(&wc, &f->writer, &st), CAIRN_OK, "%s", st.message);
    registry_metrics_attach(&f->metrics, &f->store, f->writer);
    f->reg = (registry){.store = &f->store, .writer = f->writer, .metrics = &f->metrics};
}

/* Drains and stops the writer, as the role does at shutdown. */
static inline void fx_stop_writer(fixture *f)
{
    registry_metrics_detach(&f->metrics);
    registry_writer_stop(f->writer);
    f->writer = NULL;
}

/* Opens store, metrics and writer on f->dir (which must exist). */
static inline void fx_start(fixture *f)
{
    cairn_status st;
    cairn_status_clear(&st);
    f->m = cairn_metrics_new("registry");
    cr_assert(f->m);
    registry_metrics_init(&f->metrics, f->m, registry_is_read);
    cr_assert_eq(registry_store_open(&f->store, f->store_dir, f->map_mb, &st), CAIRN_OK, "%s",
                 st.message);
    fx_start_writer(f);
}

static inline void fx_stop(fixture *f)
{
    if (f->writer)
        fx_stop_writer(f);
    registry_store_close(&f->store);
    registry_metrics_destroy(&f->metrics);
    cairn_metrics_free(f->m);
    f->m = NULL;
}

static inline void fx_open(fixture *f, uint32_t max_batch, int64_t max_instances)
{
    memset(f, 0, sizeof *f);
    strcpy(f->dir, "/tmp/cairn-registry-test-XXXXXX");
    cr_assert(mkdtemp(f->dir));
    snprintf(f->store_dir, sizeof f->store_dir, "%s/registry", f->dir);
    f->max_batch = max_batch;
    f->max_instances = max_instances;
    f->map_mb = 64;
    f->event_snapshot_max = 65536;
    pthread_mutex_init(&f->ev_mu, NULL);
    fx_start(f);
}

static inline int fx_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static inline void fx_close(fixture *f)
{
    if (f->m)
        fx_stop(f);
    for (size_t i = 0; i < f->n_events; i++) {
        free((void *)f->events[i].snapshot);
        free((void *)f->events[i].delta);
        cairn_event_free(&f->events[i]);
    }
    free(f->events);
    pthread_mutex_destroy(&f->ev_mu);
    nftw(f->dir, fx_rm, 8, FTW_DEPTH | FTW_PHYS);
}

static inline size_t fx_event_count(fixture *f)
{
    pthread_mutex_lock(&f->ev_mu);
    size_t n = f->n_events;
    pthread_mutex_unlock(&f->ev_mu);
    return n;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* A raw request of type in namespace public, for the tests that send what the builders
 * (cairn_requests.h) would not: a missing service, an instance without ip, and so on. */
static inline void req_base(cairn_request *r, cairn_msg_type type, const char *svc)
{
    cairn_request_init(r, type);
    r->namespace_id = strdup("public");
    r->service = svc ? strdup(svc) : NULL;
}

static inline void req_set_instance(cairn_request *r, const char *ip, int32_t port,
                                    const char *cluster, bool ephemeral)
{
    r->has_instance = true;
    r->instance.ip = strdup(ip);
    r->instance.port = port;
    r->instance.cluster = cluster ? strdup(cluster) : NULL;
    r->instance.ephemeral = ephemeral;
}

/* INSTANCE_UPSERT of ip:port in cluster DEFAULT of namespace ns. */
static inline void req_register_in(cairn_request *r, const char *ns, const char *svc,
                                   const char *ip, int32_t port, bool ephemeral)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup(ip);
    in.port = port;
    in.cluster = strdup("DEFAULT");
    in.ephemeral = ephemeral;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_upsert(r, ns, svc, &in, CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK, "%s", st.message);
}

/* INSTANCE_UPSERT of ip:port in cluster DEFAULT of namespace public. */
static inline void req_register(cairn_request *r, const char *svc, const char *ip, int32_t port,
                                bool ephemeral)
{
    req_register_in(r, "public", svc, ip, port, ephemeral);
}

/* SERVICE_PUT with a default service definition (the wire requires one). */
static inline void req_service_put(cairn_request *r, const char *svc, cairn_service_mode mode)
{
    cairn_service def;
    cairn_service_init(&def);
    cairn_status st;
    cr_assert_eq(cairn_request_service_put(r, "public", svc, &def, mode, &st), CAIRN_OK);
}

/* Sends req through registry_handle the way the rpc server does: the request and the reply
 * both cross the msgpack encoding. rep must be freed with cairn_reply_free. */
static inline void fx_call(fixture *f, const cairn_request *req, cairn_reply *out)
{
    char *buf;
    size_t len;
    cairn_status st;
    cr_assert_eq(cairn_request_encode(req, &buf, &len), CAIRN_OK);
    cairn_request wire;
    cr_assert_eq(cairn_request_decode(buf, len, &wire, &st), CAIRN_OK, "%s", st.message);
    free(buf);
    cairn_reply rep;
    cairn_reply_init(&rep);
    registry_handle(&f->reg, &wire, &rep);
    cairn_request_free(&wire);
    cr_assert_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_OK);
    cairn_reply_free(&rep);
    cr_assert_eq(cairn_reply_decode(buf, len, out, &st), CAIRN_OK, "%s", st.message);
    free(buf);
}

/* Calls and frees req; returns the reply code, copying the message into msg when given. */
static inline cairn_err fx_do(fixture *f, cairn_request *req, uint64_t *revision, char *msg,
                              size_t msg_len)
{
    cairn_reply rep;
    fx_call(f, req, &rep);
    cairn_request_free(req);
    cairn_err code = rep.code;
    if (revision)
        *revision = rep.revision;
    if (msg)
        snprintf(msg, msg_len, "%s", rep.message ? rep.message : "");
    cairn_reply_free(&rep);
    return code;
}

static inline uint64_t fx_register(fixture *f, const char *svc, const char *ip, int32_t port,
                                   bool ephemeral)
{
    cairn_request r;
    req_register(&r, svc, ip, port, ephemeral);
    uint64_t rev = 0;
    char msg[512];
    cr_assert_eq(fx_do(f, &r, &rev, msg, sizeof msg), CAIRN_OK, "register %s:%d: %s", ip,
                 (int)port, msg);
    cr_assert_gt(rev, 0);
    return rev;
}

/* SERVICE_GET; the reply holds the snapshot (free with cairn_reply_free). */
static inline void fx_snapshot(fixture *f, const char *svc, cairn_reply *rep)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_service_get(&r, "public", svc, &st), CAIRN_OK);
    fx_call(f, &r, rep);
    cairn_request_free(&r);
    cr_assert_eq(rep->code, CAIRN_OK);
    cr_assert(rep->has_snapshot);
}

static inline void fx_stats(fixture *f, uint64_t *services, uint64_t *instances)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_stats(&r, &st), CAIRN_OK);
    cairn_reply rep;
    fx_call(f, &r, &rep);
    cairn_request_free(&r);
    cr_assert_eq(rep.code, CAIRN_OK);
    *services = rep.service_count;
    *instances = rep.instance_count;
    cairn_reply_free(&rep);
}

static inline const cairn_instance *snap_find(const cairn_reply *rep, const char *ip,
                                              int32_t port, const char *cluster, bool ephemeral)
{
    for (uint32_t i = 0; i < rep->snapshot.instance_count; i++) {
        const cairn_instance *in = &rep->snapshot.instances[i];
        if (strcmp(in->ip, ip) == 0 && in->port == port && strcmp(in->cluster, cluster) == 0 &&
            in->ephemeral == ephemeral)
            return in;
    }
    return NULL;
}

/* Polls cond until true or the deadline (seconds) passes; never a fixed sleep. */
#define POLL_UNTIL(cond, seconds)                                                               \
    do {                                                                                        \
        struct timespec poll_t0_, poll_now_;                                                    \
        clock_gettime(CLOCK_MONOTONIC, &poll_t0_);                                              \
        for (;;) {                                                                              \
            if (cond)                                                                           \
                break;                                                                          \
            clock_gettime(CLOCK_MONOTONIC, &poll_now_);                                         \
            cr_assert_lt(poll_now_.tv_sec - poll_t0_.tv_sec, (seconds), "timed out: %s", #cond); \
            struct timespec poll_nap_ = {0, 1000000};                                           \
            nanosleep(&poll_nap_, NULL);                                                        \
        }                                                                                       \
    } while (0)

#endif
