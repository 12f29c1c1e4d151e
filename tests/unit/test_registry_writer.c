/* The registry's writer thread: group commit under concurrency, isolation of a failing request
 * inside a batch, sync only for durable writes, draining at stop, and change events over PUB. */
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cairn_clock.h"
#include "cairn_keys.h"
#include "registry_events.h"
#include "registry_in_use.h"
#include "test_registry_fixture.h"

#define SVC "DEFAULT_GROUP@@demo"

static fixture fx;

static void teardown(void)
{
    fx_close(&fx);
}

TestSuite(registry_writer, .fini = teardown);

static uint64_t counter_of(const char *name, const char *labels)
{
    return cairn_counter_value(cairn_metrics_counter(fx.m, name, "", labels));
}

/* When ev carries a snapshot: it decodes, and is its service exactly at the event's revision
 * (the service's revision; every instance written at or before it). Returns whether it did. */
static bool expect_snapshot_at_revision(const cairn_change_event *ev)
{
    if (!ev->snapshot)
        return false;
    cairn_service_snapshot snap;
    cairn_status st;
    cr_assert_eq(cairn_snapshot_decode(ev->snapshot, ev->snapshot_len, &snap, &st), CAIRN_OK,
                 "%s", st.message);
    cr_assert(snap.found);
    cr_assert_str_eq(snap.service.name, ev->service);
    cr_assert_eq(snap.service.revision, ev->revision);
    cairn_service_snapshot_free(&snap);
    return true;
}

/* ---- 8 threads x 500 registrations ------------------------------------------------------------ */

#define THREADS 8
#define PER_THREAD 500
#define SERVICES 4

typedef struct worker {
    int id;
    atomic_int *failures;
    uint64_t max_rev[SERVICES];
} worker;

static void *register_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char svc[64], ip[32];
        int s = (w->id + i) % SERVICES;
        snprintf(svc, sizeof svc, "DEFAULT_GROUP@@svc-%d", s);
        snprintf(ip, sizeof ip, "127.%d.%d.%d", w->id, i / 250, i % 250);
        cairn_request r;
        req_register(&r, svc, ip, 8080, i % 10 != 0); /* every tenth one persistent */
        cairn_reply rep;
        fx_call(&fx, &r, &rep);
        cairn_request_free(&r);
        if (rep.code != CAIRN_OK || rep.revision == 0)
            atomic_fetch_add(w->failures, 1);
        if (rep.revision > w->max_rev[s])
            w->max_rev[s] = rep.revision;
        cairn_reply_free(&rep);
    }
    return NULL;
}

Test(registry_writer, concurrent_writers_all_land_in_batches)
{
    fx_open(&fx, 512, 20000);
    atomic_int failures = 0;
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker){.id = t, .failures = &failures};
        cr_assert_eq(pthread_create(&threads[t], NULL, register_many, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    cr_assert_eq(atomic_load(&failures), 0);

    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(services, SERVICES);
    cr_assert_eq(instances, THREADS * PER_THREAD);
    cr_assert_eq(counter_of("writes_total", "type=\"instance_upsert\",result=\"ok\""),
                 THREADS * PER_THREAD);

    /* Group commit happened: fewer commits than writes. */
    uint64_t batches = cairn_histogram_count(fx.metrics.batch_size);
    cr_assert_lt(batches, THREADS * PER_THREAD, "no batch held more than one write");
    cr_assert_gt(batches, 0);
    cr_log_info("%d writes in %llu batches", THREADS * PER_THREAD, (unsigned long long)batches);

    /* Each service's revision is the last one any writer was told, and its last event says so;
     * events go out in revision order. */
    for (int s = 0; s < SERVICES; s++) {
        char svc[64];
        snprintf(svc, sizeof svc, "DEFAULT_GROUP@@svc-%d", s);
        uint64_t max_rev = 0;
        for (int t = 0; t < THREADS; t++)
            if (workers[t].max_rev[s] > max_rev)
                max_rev = workers[t].max_rev[s];
        cairn_reply rep;
        fx_snapshot(&fx, svc, &rep);
        cr_assert_eq(rep.snapshot.service.revision, max_rev);
        cr_assert_eq(rep.snapshot.instance_count, THREADS * PER_THREAD / SERVICES);
        cairn_reply_free(&rep);
        uint64_t last_event = 0;
        for (size_t i = 0; i < fx.n_events; i++)
            if (strcmp(fx.events[i].service, svc) == 0)
                last_event = fx.events[i].revision;
        cr_assert_eq(last_event, max_rev);
    }
    for (size_t i = 1; i < fx.n_events; i++)
        cr_assert_gt(fx.events[i].revision, fx.events[i - 1].revision);
    cr_assert_leq(fx.n_events, THREADS * PER_THREAD);
    /* Batches with several writes to a service: its event's snapshot is still the service at
     * the event's revision. */
    size_t carried = 0;
    for (size_t i = 0; i < fx.n_events; i++)
        carried += expect_snapshot_at_revision(&fx.events[i]) ? 1 : 0;
    cr_assert_gt(carried, 0);
}

/* ---- one batch with failing requests in it ---------------------------------------------------- */

typedef struct submit {
    pthread_t thread;
    cairn_request req;
    cairn_reply rep;
} submit;

static void *submit_main(void *arg)
{
    submit *s = arg;
    fx_call(&fx, &s->req, &s->rep);
    return NULL;
}

static void submit_start(submit *s)
{
    cr_assert_eq(pthread_create(&s->thread, NULL, submit_main, s), 0);
}

static void submit_finish(submit *s)
{
    pthread_join(s->thread, NULL);
    cairn_request_free(&s->req);
}

static size_t backlog(void)
{
    size_t queued, in_flight;
    registry_writer_backlog(fx.writer, &queued, &in_flight);
    return queued + in_flight;
}

static size_t queued(void)
{
    size_t q, in_flight;
    registry_writer_backlog(fx.writer, &q, &in_flight);
    return q;
}

#define BATCH 16

/* Holding LMDB's write lock from the test parks the writer in mdb_txn_begin, so that BATCH
 * requests queue up and are then taken as one batch. */
Test(registry_writer, failing_requests_do_not_affect_their_batch)
{
    fx_open(&fx, 512, 20000);
    fx.map_mb = 1; /* small enough that one huge value fills it */
    fx_stop(&fx);
    fx_start(&fx);

    MDB_txn *hold;
    cr_assert_eq(mdb_txn_begin(fx.store.env, NULL, 0, &hold), 0);
    submit plug;
    req_register(&plug.req, "DEFAULT_GROUP@@plug", "127.9.9.9", 80, true);
    submit_start(&plug);
    POLL_UNTIL(queued() == 0 && backlog() == 1, 10); /* the writer took it and is parked */

    static submit subs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", i + 1);
        req_register(&subs[i].req, SVC, ip, 8080, i % 2 == 0);
    }
    subs[5].req.instance.weight = 20000; /* invalid: fails before writing */
    /* Too big for the map: fails inside LMDB, in the middle of its nested transaction. */
    size_t huge_len = 2 * 1024 * 1024;
    char *huge = malloc(huge_len + 1);
    memset(huge, 'x', huge_len);
    huge[huge_len] = '\0';
    cairn_metadata_set(&subs[9].req.instance.metadata, "huge", huge);
    free(huge);
    for (int i = 0; i < BATCH; i++)
        submit_start(&subs[i]);
    POLL_UNTIL(queued() == BATCH, 10);

    mdb_txn_abort(hold);
    submit_finish(&plug);
    cr_assert_eq(plug.rep.code, CAIRN_OK);
    cairn_reply_free(&plug.rep);
    uint64_t max_rev = 0;
    for (int i = 0; i < BATCH; i++) {
        submit_finish(&subs[i]);
        if (i == 5) {
            cr_assert_eq(subs[i].rep.code, CAIRN_E_INVALID);
            cr_assert_str_eq(subs[i].rep.message,
                             "instance format invalid: The weights range from 0.0 to 10000.0");
            cr_assert_eq(subs[i].rep.revision, 0);
        } else if (i == 9) {
            cr_assert_eq(subs[i].rep.code, CAIRN_E_STORAGE);
            cr_assert_not_null(strstr(subs[i].rep.message, "registry store is full"), "%s",
                               subs[i].rep.message);
        } else {
            cr_assert_eq(subs[i].rep.code, CAIRN_OK, "%d: %s", i, subs[i].rep.message);
            if (subs[i].rep.revision > max_rev)
                max_rev = subs[i].rep.revision;
        }
        cairn_reply_free(&subs[i].rep);
    }
    cr_assert_eq(cairn_histogram_count(fx.metrics.batch_size), 2, "plug, then all in one batch");
    cr_assert_eq(counter_of("writes_total", "type=\"instance_upsert\",result=\"ok\""),
                 BATCH - 1);
    cr_assert_eq(counter_of("writes_total", "type=\"instance_upsert\",result=\"invalid\""), 1);
    cr_assert_eq(counter_of("writes_total", "type=\"instance_upsert\",result=\"storage\""), 1);

    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(instances, 1 + BATCH - 2);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, BATCH - 2);
    cr_assert_null(snap_find(&rep, "127.0.0.6", 8080, "DEFAULT", false));
    cr_assert_null(snap_find(&rep, "127.0.0.10", 8080, "DEFAULT", true));
    cr_assert_eq(rep.snapshot.service.revision, max_rev);
    cairn_reply_free(&rep);

    /* One event per changed service per batch, carrying the last revision. */
    cr_assert_eq(fx_event_count(&fx), 2);
    cr_assert_str_eq(fx.events[0].service, "DEFAULT_GROUP@@plug");
    cr_assert_str_eq(fx.events[1].service, SVC);
    cr_assert_eq(fx.events[1].revision, max_rev);
    cr_assert_eq(fx.events[1].kind, CAIRN_CHANGE_INSTANCES);
}

Test(registry_writer, syncs_only_after_durable_writes)
{
    fx_open(&fx, 512, 20000);
    cairn_histogram *sync = fx.metrics.sync_seconds;
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    cr_assert_eq(cairn_histogram_count(sync), 0, "ephemeral writes are not synced");
    fx_register(&fx, SVC, "127.0.0.2", 80, false);
    cr_assert_eq(cairn_histogram_count(sync), 1);
    cairn_request r;
    req_service_put(&r, SVC, CAIRN_SERVICE_UPDATE);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    cr_assert_eq(cairn_histogram_count(sync), 2, "service definitions are durable");
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
    req_set_instance(&r, "127.0.0.1", 80, "DEFAULT", true);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    cr_assert_eq(cairn_histogram_count(sync), 2);
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
    req_set_instance(&r, "127.0.0.2", 80, "DEFAULT", false);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    cr_assert_eq(cairn_histogram_count(sync), 3);
    /* A failed durable write syncs nothing. */
    req_base(&r, CAIRN_MSG_SERVICE_REMOVE, "DEFAULT_GROUP@@missing");
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_E_INVALID);
    cr_assert_eq(cairn_histogram_count(sync), 3);
}

static void *stop_writer(void *arg)
{
    registry_writer_stop(arg);
    return NULL;
}

Test(registry_writer, stop_finishes_queued_writes)
{
    fx_open(&fx, 4, 20000); /* small batches: several are still queued at stop */
    MDB_txn *hold;
    cr_assert_eq(mdb_txn_begin(fx.store.env, NULL, 0, &hold), 0);
    static submit subs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", i + 1);
        req_register(&subs[i].req, SVC, ip, 8080, true);
        submit_start(&subs[i]);
    }
    POLL_UNTIL(backlog() == BATCH, 10);
    registry_metrics_detach(&fx.metrics);
    pthread_t stopper;
    cr_assert_eq(pthread_create(&stopper, NULL, stop_writer, fx.writer), 0);
    mdb_txn_abort(hold);
    pthread_join(stopper, NULL);
    fx.writer = NULL;
    for (int i = 0; i < BATCH; i++) {
        submit_finish(&subs[i]);
        cr_assert_eq(subs[i].rep.code, CAIRN_OK, "%s", subs[i].rep.message);
        cairn_reply_free(&subs[i].rep);
    }
    fx_start_writer(&fx);
    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(instances, BATCH);
}

/* Change events reach a real nng subscriber. */
Test(registry_writer, events_are_published_on_pub)
{
    fx_open(&fx, 512, 20000);
    char url[128];
    snprintf(url, sizeof url, "ipc://%s/events.sock", fx.dir);
    cairn_status st;
    registry_events *ev = registry_events_open(url, &st);
    cr_assert_not_null(ev, "%s", st.message);
    fx_stop_writer(&fx);
    fx.publish = registry_events_publish;
    fx.publish_end = registry_events_flush;
    fx.publish_arg = ev;
    fx_start_writer(&fx);

    nng_socket sub;
    cr_assert_eq(nng_sub0_open(&sub), 0);
    cr_assert_eq(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
    cr_assert_eq(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100), 0);
    cr_assert_eq(nng_dial(sub, url, NULL, NNG_FLAG_NONBLOCK), 0);

    /* PUB drops what it sends before the subscriber is connected: write until one arrives. */
    bool got = false;
    for (int i = 0; i < 200 && !got; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.1.%d.%d", i / 250, i % 250);
        uint64_t rev = fx_register(&fx, SVC, ip, 8080, true);
        char *buf;
        size_t len;
        int rc = nng_recv(sub, &buf, &len, NNG_FLAG_ALLOC);
        if (rc == NNG_ETIMEDOUT)
            continue;
        cr_assert_eq(rc, 0, "%s", nng_strerror(rc));
        cairn_change_event e;
        cr_assert_eq(cairn_event_decode(buf, len, &e, &st), CAIRN_OK, "%s", st.message);
        nng_free(buf, len);
        cr_assert_str_eq(e.namespace_id, "public");
        cr_assert_str_eq(e.service, SVC);
        cr_assert_eq(e.revision, rev);
        cr_assert_eq(e.kind, CAIRN_CHANGE_INSTANCES);
        cr_assert_gt(e.at_ms, 0);
        cairn_event_free(&e);
        got = true;
    }
    cr_assert(got, "no event arrived");
    nng_close(sub);
    fx_stop_writer(&fx);
    registry_events_close(ev);
}

/* A registry_events publisher and a subscriber connected to it (as the followers set theirs). */
typedef struct pubsub {
    char dir[32];
    registry_events *ev;
    nng_socket sub;
} pubsub;

static void pubsub_open(pubsub *ps)
{
    char url[128];
    snprintf(ps->dir, sizeof ps->dir, "/tmp/cairn-events-XXXXXX");
    cr_assert_not_null(mkdtemp(ps->dir));
    snprintf(url, sizeof url, "ipc://%s/events.sock", ps->dir);
    cairn_status st;
    ps->ev = registry_events_open(url, &st);
    cr_assert_not_null(ps->ev, "%s", st.message);
    cr_assert_eq(nng_sub0_open(&ps->sub), 0);
    cr_assert_eq(nng_socket_set(ps->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
    cr_assert_eq(nng_socket_set_int(ps->sub, NNG_OPT_RECVBUF, 8192), 0);
    cr_assert_eq(nng_socket_set_size(ps->sub, NNG_OPT_RECVMAXSZ, CAIRN_EVENT_MAX_BYTES), 0);
    cr_assert_eq(nng_socket_set_ms(ps->sub, NNG_OPT_RECVTIMEO, 100), 0);
    cr_assert_eq(nng_dial(ps->sub, url, NULL, NNG_FLAG_NONBLOCK), 0);
    /* PUB drops what it sends before the subscriber is connected: tick until one arrives. */
    cairn_change_event tick = {.namespace_id = "", .service = "", .kind = CAIRN_CHANGE_TICK};
    char *buf;
    size_t len;
    bool connected = false;
    for (int i = 0; i < 600 && !connected; i++) {
        registry_events_publish(ps->ev, &tick);
        registry_events_flush(ps->ev);
        connected = nng_recv(ps->sub, &buf, &len, NNG_FLAG_ALLOC) == 0;
    }
    cr_assert(connected, "the subscriber never connected");
    nng_free(buf, len);
}

static void pubsub_close(pubsub *ps)
{
    nng_close(ps->sub);
    registry_events_close(ps->ev);
    char sock[64];
    snprintf(sock, sizeof sock, "%s/events.sock", ps->dir);
    unlink(sock);
    rmdir(ps->dir);
}

/* Receives until `count` INSTANCES events arrived (ticks skipped), expecting revisions
 * first, first + 1, ... in order; returns the number of messages they came in. Every message
 * is within the pack size unless it holds one event alone. */
static size_t pubsub_expect(pubsub *ps, uint64_t first, size_t count)
{
    uint64_t want = first;
    size_t messages = 0;
    char *buf;
    size_t len;
    cairn_status st;
    while (want < first + count && nng_recv(ps->sub, &buf, &len, NNG_FLAG_ALLOC) == 0) {
        size_t events = 0;
        for (size_t off = 0, n; off < len; off += n, events++) {
            cr_assert_eq(cairn_event_next(buf + off, len - off, &n, &st), CAIRN_OK, "%s",
                         st.message);
            cairn_change_event got;
            cr_assert_eq(cairn_event_decode(buf + off, n, &got, &st), CAIRN_OK, "%s", st.message);
            if (got.kind != CAIRN_CHANGE_TICK) {
                cr_assert_eq(got.revision, want, "event %llu lost (got %llu)",
                             (unsigned long long)want, (unsigned long long)got.revision);
                want++;
            }
            cairn_event_free(&got);
        }
        cr_assert(events == 1 || len <= CAIRN_EVENT_PACK_BYTES,
                  "a message of %zu events is %zu bytes", events, len);
        nng_free(buf, len);
        messages++;
    }
    cr_assert_eq(want, first + count, "%llu of %zu events arrived",
                 (unsigned long long)(want - first), count);
    return messages;
}

/* Commits publish their events faster than the pipe writes them: a subscriber that keeps
 * reading gets every one (nng's default of 16 messages queued per subscriber dropped most of a
 * burst, and each drop cost every follower a full reload). One commit per event here, the most
 * messages a burst can be. */
Test(registry_writer, a_burst_of_events_reaches_a_reading_subscriber_whole)
{
    pubsub ps;
    pubsub_open(&ps);
    enum { BURST = 4000 };
    for (uint64_t r = 1; r <= BURST; r++) {
        cairn_change_event e = {.namespace_id = "public", .service = SVC, .revision = r,
                                .prev_revision = r - 1, .kind = CAIRN_CHANGE_INSTANCES};
        registry_events_publish(ps.ev, &e);
        registry_events_flush(ps.ev);
    }
    pubsub_expect(&ps, 1, BURST);
    pubsub_close(&ps);
}

/* One commit's events go out together, in as few messages as the pack size allows: small ones
 * share a message, one larger than the pack size goes alone, and nothing is sent before the
 * commit's end. */
Test(registry_writer, a_commits_events_are_packed_into_few_messages)
{
    pubsub ps;
    pubsub_open(&ps);
    char *big = calloc(1, CAIRN_EVENT_PACK_BYTES + 100);
    cr_assert_not_null(big);
    enum { EVENTS = 300 };
    for (uint64_t r = 1; r <= EVENTS; r++) {
        cairn_change_event e = {.namespace_id = "public", .service = SVC, .revision = r,
                                .prev_revision = r - 1, .kind = CAIRN_CHANGE_INSTANCES};
        if (r % 100 == 50) { /* three over the pack size, the others 1 KiB */
            e.snapshot = big;
            e.snapshot_len = CAIRN_EVENT_PACK_BYTES + 100;
        } else {
            e.snapshot = big;
            e.snapshot_len = 1024;
        }
        registry_events_publish(ps.ev, &e);
        if (r == 10) { /* these fit one pack: held until the commit's end */
            char *buf;
            size_t len;
            cairn_change_event got;
            cairn_status st;
            while (nng_recv(ps.sub, &buf, &len, NNG_FLAG_ALLOC) == 0) {
                cr_assert_eq(cairn_event_decode(buf, len, &got, &st), CAIRN_OK, "sent early");
                cr_assert_eq(got.kind, CAIRN_CHANGE_TICK, "sent before the end");
                cairn_event_free(&got);
                nng_free(buf, len);
            }
        }
    }
    registry_events_flush(ps.ev);
    size_t messages = pubsub_expect(&ps, 1, EVENTS);
    /* 297 events of about 1 KiB: 5 packs at least, and the 3 large ones split the run. */
    cr_assert(messages >= 8 && messages <= 14, "%zu messages", messages);
    free(big);
    pubsub_close(&ps);
}

/* ---- events carry the service's snapshot, or a delta ------------------------------------------ */

/* While a delta would be about as large (a service of at most twice as many instances as the
 * commit wrote), an event carries the SERVICE_GET snapshot of that moment, byte for byte; a
 * removal carries nothing. */
Test(registry_writer, events_carry_the_snapshot_while_a_delta_is_no_smaller)
{
    fx_open(&fx, 512, 20000);
    for (int i = 0; i < 2; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", i + 1);
        uint64_t rev = fx_register(&fx, SVC, ip, 8080, i != 1);
        cr_assert_eq(fx_event_count(&fx), (size_t)i + 1);
        const cairn_change_event *ev = &fx.events[i];
        cr_assert_eq(ev->revision, rev);
        cr_assert_null(ev->delta);
        cr_assert(expect_snapshot_at_revision(ev));
        cairn_reply rep;
        fx_snapshot(&fx, SVC, &rep);
        char *want;
        size_t want_len;
        cr_assert_eq(cairn_snapshot_encode(&rep.snapshot, &want, &want_len), CAIRN_OK);
        cr_assert_eq(ev->snapshot_len, want_len);
        cr_expect_eq(memcmp(ev->snapshot, want, want_len), 0, "not the SERVICE_GET snapshot");
        cr_assert_eq(rep.snapshot.instance_count, (uint32_t)i + 1);
        free(want);
        cairn_reply_free(&rep);
    }
    cairn_request r;
    req_base(&r, CAIRN_MSG_SERVICE_REMOVE, SVC);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    cr_assert_eq(fx_event_count(&fx), 3);
    cr_assert_eq(fx.events[2].kind, CAIRN_CHANGE_REMOVED);
    cr_assert_null(fx.events[2].snapshot);
    cr_assert_null(fx.events[2].delta);
    cr_assert_eq(counter_of("events_total", "snapshot=\"carried\""), 2);
    cr_assert_eq(counter_of("events_total", "snapshot=\"omitted\""), 1);
}

/* ---- a follower's model: the snapshot of the first event, then every delta --------------------- */

#define MODEL_MAX 64

typedef struct model {
    cairn_key keys[MODEL_MAX];
    char *records[MODEL_MAX]; /* cairn_instance_encode of the instance */
    size_t lens[MODEL_MAX];
    size_t count;
} model;

static int model_find(const model *m, const cairn_key *k)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->keys[i].len == k->len && memcmp(m->keys[i].bytes, k->bytes, k->len) == 0)
            return (int)i;
    return -1;
}

static void model_drop(model *m, int i)
{
    free(m->records[i]);
    m->count--;
    m->keys[i] = m->keys[m->count];
    m->records[i] = m->records[m->count];
    m->lens[i] = m->lens[m->count];
}

static void model_put(model *m, const cairn_instance *in)
{
    cairn_key k;
    cr_assert_eq(cairn_key_instance(&k, "public", SVC, in->ephemeral, in->cluster, in->ip,
                                    in->port), 0);
    int i = model_find(m, &k);
    if (i >= 0)
        model_drop(m, i);
    cr_assert_lt(m->count, MODEL_MAX);
    m->keys[m->count] = k;
    cr_assert_eq(cairn_instance_encode(in, &m->records[m->count], &m->lens[m->count]),
                 CAIRN_OK);
    m->count++;
}

static void model_clear(model *m)
{
    while (m->count > 0)
        model_drop(m, (int)m->count - 1);
}

/* Applies one event as the healthcheck does: a delta patches, else a whole snapshot replaces. */
static void model_apply(model *m, const cairn_change_event *ev)
{
    const char *bytes = ev->delta ? ev->delta : ev->snapshot;
    size_t len = ev->delta ? ev->delta_len : ev->snapshot_len;
    cr_assert_not_null(bytes, "event %llu carries nothing", (unsigned long long)ev->revision);
    cairn_service_snapshot snap;
    cairn_status st;
    cr_assert_eq(cairn_snapshot_decode(bytes, len, &snap, &st), CAIRN_OK, "%s", st.message);
    cr_assert(snap.found);
    cr_assert_eq(snap.service.revision, ev->revision, "the service record is not the event's");
    if (!ev->delta)
        model_clear(m);
    for (uint32_t i = 0; i < snap.instance_count; i++)
        model_put(m, &snap.instances[i]);
    for (uint32_t i = 0; i < ev->gone_count; i++) {
        cairn_key k = {.len = ev->gone[i].len};
        memcpy(k.bytes, ev->gone[i].ptr, k.len);
        int at = model_find(m, &k);
        cr_assert_geq(at, 0, "a removed key the follower never had");
        model_drop(m, at);
    }
    cairn_service_snapshot_free(&snap);
}

/* The model holds exactly the instances SERVICE_GET shows, field for field. */
static void model_expect_service(model *m)
{
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, m->count);
    for (uint32_t i = 0; i < rep.snapshot.instance_count; i++) {
        const cairn_instance *in = &rep.snapshot.instances[i];
        cairn_key k;
        cr_assert_eq(cairn_key_instance(&k, "public", SVC, in->ephemeral, in->cluster, in->ip,
                                        in->port), 0);
        int at = model_find(m, &k);
        cr_assert_geq(at, 0, "%s:%d missing from the follower", in->ip, (int)in->port);
        char *want;
        size_t want_len;
        cr_assert_eq(cairn_instance_encode(in, &want, &want_len), CAIRN_OK);
        cr_assert_eq(want_len, m->lens[at]);
        cr_assert_eq(memcmp(want, m->records[at], want_len), 0, "%s:%d differs", in->ip,
                     (int)in->port);
        free(want);
    }
    cairn_reply_free(&rep);
}

/* A follower that applies each event's delta to what it holds has the service exactly as
 * SERVICE_GET shows it after every write: registrations, updates of one field, health flips,
 * deregistrations of either kind. Deltas carry only what the commit wrote. */
Test(registry_writer, deltas_keep_a_follower_equal_to_the_service)
{
    fx_open(&fx, 512, 20000);
    model m = {0};
    size_t seen = 0;
    unsigned seed = 7;
    for (int step = 0; step < 300; step++) {
        char ip[32];
        int host = (int)(rand_r(&seed) % 24);
        bool ephemeral = host % 5 != 0;
        snprintf(ip, sizeof ip, "127.0.3.%d", host + 1);
        cairn_request r;
        cairn_status st;
        int op = (int)(rand_r(&seed) % 4);
        if (op <= 1) { /* register, or re-register with another weight */
            cairn_instance in;
            cairn_instance_init(&in);
            in.ip = strdup(ip);
            in.port = 8080;
            in.cluster = strdup(host % 3 ? "DEFAULT" : "other");
            in.ephemeral = ephemeral;
            in.weight = 1 + step % 7;
            cr_assert_eq(cairn_request_instance_upsert(&r, "public", SVC, &in,
                                                       CAIRN_UPSERT_REGISTER, &st),
                         CAIRN_OK);
        } else if (op == 2) {
            cr_assert_eq(cairn_request_instance_health(&r, "public", SVC, ip, 8080,
                                                       host % 3 ? "DEFAULT" : "other",
                                                       ephemeral, step % 2 == 0,
                                                       CAIRN_HEALTH_BY_CHECKER, &st),
                         CAIRN_OK);
        } else {
            cr_assert_eq(cairn_request_instance_remove(&r, "public", SVC, ip, 8080,
                                                       host % 3 ? "DEFAULT" : "other",
                                                       ephemeral, &st),
                         CAIRN_OK);
        }
        fx_do(&fx, &r, NULL, NULL, 0); /* a write of a missing instance may fail: fine */
        size_t n = fx_event_count(&fx);
        for (; seen < n; seen++) {
            const cairn_change_event *ev = &fx.events[seen];
            if (ev->kind == CAIRN_CHANGE_REMOVED) {
                model_clear(&m);
                continue;
            }
            if (ev->delta)
                cr_assert_leq(ev->gone_count + 0u, 1u, "a delta of one write names one key");
            cr_assert(!ev->delta || !ev->snapshot, "nobody watches: the delta alone");
            model_apply(&m, ev);
        }
        if (seen > 0 && fx.events[seen - 1].kind != CAIRN_CHANGE_REMOVED)
            model_expect_service(&m);
    }
    cr_assert_gt(counter_of("event_deltas_total", NULL), 100,
                 "a service of up to 24 instances written one at a time goes by deltas");
    model_clear(&m);
}

/* A DISTRO_APPLY of the whole service (what a sync carries) writes only what differs from the
 * store: one instance changed, one gone and one new make a delta of two instances and one key,
 * and the same state again a delta of nothing; a follower applying the events stays equal to
 * the service. */
static void apply_state(uint64_t seq, int first, int last, int heavy)
{
    cairn_distro_state *ds = calloc(1, sizeof *ds);
    ds->namespace_id = strdup("public");
    ds->service = strdup(SVC);
    ds->version.epoch = 9;
    ds->version.seq = seq;
    ds->version.origin = strdup("127.0.0.2:8848");
    ds->instance_count = (uint32_t)(last - first + 1);
    ds->instances = calloc(ds->instance_count, sizeof *ds->instances);
    for (int h = first; h <= last; h++) {
        cairn_instance *in = &ds->instances[h - first];
        cairn_instance_init(in);
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.5.%d", h);
        in->ip = strdup(ip);
        in->port = 8080;
        in->ephemeral = true;
        in->weight = h == heavy ? 5.0 : 1.0;
    }
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_apply(&r, ds, 1, CAIRN_DISTRO_FORCE, 0, &st), CAIRN_OK,
                 "%s", st.message);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
}

Test(registry_writer, a_distro_state_writes_only_what_differs)
{
    fx_open(&fx, 512, 20000);
    model m = {0};
    apply_state(1, 1, 12, 0); /* 12 instances */
    size_t n = fx_event_count(&fx);
    cr_assert_eq(n, 1);
    model_apply(&m, &fx.events[0]);
    apply_state(2, 2, 13, 5); /* 127.0.5.1 gone, .5 heavier, .13 new */
    cr_assert_eq(fx_event_count(&fx), 2);
    const cairn_change_event *ev = &fx.events[1];
    cr_assert_not_null(ev->delta, "a sync that changed 3 of 12 instances goes as a delta");
    cairn_service_snapshot snap;
    cairn_status st;
    cr_assert_eq(cairn_snapshot_decode(ev->delta, ev->delta_len, &snap, &st), CAIRN_OK);
    cr_expect_eq(snap.instance_count, 2, "the changed and the new instance");
    cr_expect_eq(ev->gone_count, 1, "the instance the state no longer holds");
    cairn_service_snapshot_free(&snap);
    model_apply(&m, ev);
    model_expect_service(&m);
    apply_state(3, 2, 13, 5); /* the same instances, a newer version */
    cr_assert_eq(fx_event_count(&fx), 3);
    ev = &fx.events[2];
    cr_assert_not_null(ev->delta);
    cr_assert_eq(cairn_snapshot_decode(ev->delta, ev->delta_len, &snap, &st), CAIRN_OK);
    cr_expect_eq(snap.instance_count, 0, "nothing differs: nothing written");
    cr_expect_eq(ev->gone_count, 0);
    cairn_service_snapshot_free(&snap);
    model_apply(&m, ev);
    model_expect_service(&m);
    cr_expect_eq(m.count, 12);
    model_clear(&m);
}

/* A service with subscribers (reported in use) gets the whole snapshot beside the delta, since
 * the pushers push the whole; once the report is older than the registry keeps it, the delta
 * alone again. The start's assumption that everything is in use (for the sweep) does not
 * count: only a report does. */
Test(registry_writer, a_watched_service_gets_the_snapshot_beside_the_delta)
{
    fx_open(&fx, 512, 20000);
    fx_stop_writer(&fx);
    int64_t now = cairn_wall_ms();
    fx.in_use = registry_in_use_new(16, 60000, now);
    cr_assert_not_null(fx.in_use);
    fx_start_writer(&fx);
    for (int i = 0; i < 4; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.4.%d", i + 1);
        fx_register(&fx, SVC, ip, 8080, true);
    }
    const cairn_change_event *ev = &fx.events[fx_event_count(&fx) - 1];
    cr_assert_not_null(ev->delta);
    cr_assert_null(ev->snapshot, "nobody reported it: the delta alone");

    cairn_request r;
    cairn_status st;
    const char *ns = "public", *svc = SVC;
    cr_assert_eq(cairn_request_services_in_use(&r, &ns, &svc, 1, &st), CAIRN_OK, "%s",
                 st.message);
    cr_assert_eq(registry_in_use_note(fx.in_use, &r, now, &st), CAIRN_OK, "%s", st.message);
    cairn_request_free(&r);
    fx_register(&fx, SVC, "127.0.4.9", 8080, true);
    ev = &fx.events[fx_event_count(&fx) - 1];
    cr_assert_not_null(ev->delta);
    cr_assert(expect_snapshot_at_revision(ev), "a watched service's event has its snapshot");
    cr_assert_not(registry_in_use_watched(fx.in_use, "public", SVC, now + 60001),
                  "a report older than the registry keeps it watches nothing");

    fx_stop_writer(&fx);
    registry_in_use_free(fx.in_use);
    fx.in_use = NULL;
    fx_start_writer(&fx);
}

/* Over registry.event_snapshot_max_bytes an event goes without; a service too large for its
 * snapshot still gets deltas while they fit; 0 turns both off. */
Test(registry_writer, what_exceeds_the_cap_is_left_out)
{
    fx_open(&fx, 512, 20000);
    fx_stop_writer(&fx);
    fx.event_snapshot_max = 600;
    fx_start_writer(&fx);
    for (int i = 0; i < 3; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.1.%d", i + 1);
        fx_register(&fx, SVC, ip, 8080, true);
        const cairn_change_event *ev = &fx.events[fx_event_count(&fx) - 1];
        cr_assert(ev->snapshot || ev->delta);
        cr_assert_leq(ev->snapshot_len, 600);
        cr_assert_leq(ev->delta_len, 600);
    }
    /* One instance whose record alone is over the cap: neither its delta nor the snapshot. */
    cairn_instance big;
    cairn_instance_init(&big);
    big.ip = strdup("127.0.1.100");
    big.port = 8080;
    big.cluster = strdup("DEFAULT");
    char value[700];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    cr_assert_eq(cairn_metadata_set(&big.metadata, "big", value), CAIRN_OK);
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_upsert(&r, "public", SVC, &big, CAIRN_UPSERT_REGISTER,
                                               &st),
                 CAIRN_OK);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    cr_assert_null(fx.events[fx_event_count(&fx) - 1].snapshot);
    cr_assert_null(fx.events[fx_event_count(&fx) - 1].delta);
    /* The service is now over the cap, yet a small change of it goes out as a delta. */
    fx_register(&fx, SVC, "127.0.1.50", 8080, true);
    const cairn_change_event *ev = &fx.events[fx_event_count(&fx) - 1];
    cr_assert_not_null(ev->delta, "a small change of a large service is a delta");
    cr_assert_leq(ev->delta_len, 600);

    fx_stop_writer(&fx);
    fx.event_snapshot_max = 0;
    fx_start_writer(&fx);
    fx_register(&fx, SVC, "127.0.1.51", 8080, true);
    cr_assert_null(fx.events[fx_event_count(&fx) - 1].snapshot);
    cr_assert_null(fx.events[fx_event_count(&fx) - 1].delta);
    fx_register(&fx, "DEFAULT_GROUP@@tiny", "127.0.2.1", 8080, true);
    cr_assert_null(fx.events[fx_event_count(&fx) - 1].snapshot);
}
