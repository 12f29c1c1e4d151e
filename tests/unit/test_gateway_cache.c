/* The body cache (cairn_body_cache.c: the gateway's list bodies, cairn-grpc's ServiceInfo
 * answers) and the gateway's subscription to the registry's change events
 * (gateway_cache_events.c, over nng inproc): fill and hit, what the key tells
 * apart, invalidation by revision, fill tickets, max age, the bounds, flushes when the event
 * connection comes and goes, and readers racing an invalidator (run under ASan in the sanitizer
 * build). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_metrics.h"
#include "cairn_msg.h"
#include "cairn_body_cache.h"
#include "gateway_cache_events.h"

#define NS "public"
#define SVC "DEFAULT_GROUP@@svc"

static cairn_body_cache *new_cache(size_t entries, size_t bytes, int64_t max_age_ms,
                                   cairn_metrics *m)
{
    cairn_body_cache_options o = {
        .max_entries = entries, .max_bytes = bytes, .max_age_ms = max_age_ms, .metrics = m};
    cairn_body_cache *c = cairn_body_cache_new(&o);
    cr_assert_not_null(c);
    cairn_body_cache_set_live(c, true);
    return c;
}

static cairn_body_cache_key key_of(const char *ns, const char *svc)
{
    return (cairn_body_cache_key){.namespace_id = ns, .service = svc, .clusters = "", .env = "",
                                  .cache_millis = 3000};
}

/* Fills k with body at revision rev through the ticket protocol; returns whether it was stored. */
static bool fill(cairn_body_cache *c, const cairn_body_cache_key *k, uint64_t rev,
                 const char *body, int64_t now)
{
    uint64_t t = cairn_body_cache_ticket(c, k->namespace_id, k->service);
    return cairn_body_cache_put(c, k, t, rev, body, strlen(body), now);
}

/* The cached body of k at now, or NULL; the caller frees. */
static char *lookup(cairn_body_cache *c, const cairn_body_cache_key *k, int64_t now)
{
    size_t len = 0;
    char *b = cairn_body_cache_get(c, k, now, &len);
    if (b)
        cr_assert_eq(strlen(b), len, "length %zu does not match the body \"%s\"", len, b);
    return b;
}

static void expect_body(cairn_body_cache *c, const cairn_body_cache_key *k, int64_t now,
                        const char *want)
{
    char *b = lookup(c, k, now);
    if (!want) {
        cr_expect_null(b, "expected a miss, got \"%s\"", b ? b : "");
    } else {
        cr_expect_not_null(b, "expected \"%s\", got a miss", want);
        if (b)
            cr_expect_str_eq(b, want);
    }
    free(b);
}

static uint64_t counter(cairn_metrics *m, const char *name)
{
    return cairn_counter_value(cairn_metrics_counter(m, name, "", NULL));
}

Test(cairn_body_cache, fill_then_hit_and_metrics)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    cairn_body_cache *c = new_cache(100, 1 << 20, 1000, m);
    cairn_body_cache_key k = key_of(NS, SVC);
    expect_body(c, &k, 0, NULL);
    cr_assert(fill(c, &k, 5, "{\"hosts\":[]}", 0));
    expect_body(c, &k, 1, "{\"hosts\":[]}");
    expect_body(c, &k, 2, "{\"hosts\":[]}");
    cr_expect_eq(cairn_body_cache_entry_count(c), 1);
    cr_expect_eq(cairn_body_cache_byte_count(c), strlen("{\"hosts\":[]}"));
    cr_expect_eq(counter(m, "list_cache_hits_total"), 2);
    cr_expect_eq(counter(m, "list_cache_misses_total"), 1);
    cr_expect_eq(cairn_gauge_value(cairn_metrics_gauge(m, "list_cache_entries", "", NULL)), 1.0);
    /* A refill of the same key replaces the body. */
    cr_assert(fill(c, &k, 6, "second", 3));
    expect_body(c, &k, 4, "second");
    cr_expect_eq(cairn_body_cache_entry_count(c), 1);
    cairn_body_cache_free(c);
    cairn_metrics_free(m);
}

/* Another user names its metrics: cairn-grpc's query_cache_*. */
Test(cairn_body_cache, metric_prefix_names_the_metrics)
{
    cairn_metrics *m = cairn_metrics_new("grpc");
    cairn_body_cache_options o = {.max_entries = 10, .max_bytes = 1 << 20, .max_age_ms = 1000,
                                  .metrics = m, .metric_prefix = "query_cache",
                                  .what = "ServiceInfo answers"};
    cairn_body_cache *c = cairn_body_cache_new(&o);
    cr_assert(c);
    cairn_body_cache_set_live(c, true);
    cairn_body_cache_key k = {.namespace_id = NS, .service = SVC, .clusters = "c1"};
    expect_body(c, &k, 0, NULL);
    cr_assert(fill(c, &k, 3, "{\"hosts\":[]}", 0));
    expect_body(c, &k, 1, "{\"hosts\":[]}");
    cairn_body_cache_invalidate(c, NS, SVC, 4);
    expect_body(c, &k, 2, NULL);
    cr_expect_eq(counter(m, "query_cache_hits_total"), 1);
    cr_expect_eq(counter(m, "query_cache_misses_total"), 2);
    cr_expect_eq(counter(m, "query_cache_invalidations_total"), 1);
    cr_expect_eq(counter(m, "list_cache_hits_total"), 0, "no list_cache_* metrics");
    cairn_body_cache_free(c);
    cairn_metrics_free(m);
}

Test(cairn_body_cache, every_part_of_the_key_tells_bodies_apart)
{
    cairn_body_cache *c = new_cache(100, 1 << 20, 1000, NULL);
    cairn_body_cache_key base = key_of(NS, SVC);
    cr_assert(fill(c, &base, 1, "base", 0));
    cairn_body_cache_key v[8];
    for (int i = 0; i < 8; i++)
        v[i] = base;
    v[0].namespace_id = "other-ns";
    v[1].service = "DEFAULT_GROUP@@svc2";
    v[2].clusters = "DEFAULT";
    v[3].env = "prod";
    v[4].healthy_only = true;
    v[5].grouped_names = true;
    v[6].cache_millis = 10000;
    /* The parts are not simply concatenated: moving text between them is another key. */
    v[7].namespace_id = "publicDEFAULT_GROUP@@";
    v[7].service = "svc";
    for (int i = 0; i < 8; i++)
        expect_body(c, &v[i], 1, NULL);
    for (int i = 0; i < 8; i++) {
        char body[16];
        snprintf(body, sizeof body, "v%d", i);
        cr_assert(fill(c, &v[i], 1, body, 0));
    }
    expect_body(c, &base, 1, "base");
    for (int i = 0; i < 8; i++) {
        char body[16];
        snprintf(body, sizeof body, "v%d", i);
        expect_body(c, &v[i], 1, body);
    }
    cr_expect_eq(cairn_body_cache_entry_count(c), 9);
    cairn_body_cache_free(c);
}

Test(cairn_body_cache, invalidation_drops_only_older_revisions_of_that_service)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    cairn_body_cache *c = new_cache(100, 1 << 20, 1000, m);
    cairn_body_cache_key a = key_of(NS, SVC), a_java = a, b = key_of(NS, "DEFAULT_GROUP@@b"),
                      other_ns = key_of("dev", SVC);
    a_java.grouped_names = true;
    cr_assert(fill(c, &a, 5, "a", 0));
    cr_assert(fill(c, &a_java, 5, "a-java", 0));
    cr_assert(fill(c, &b, 3, "b", 0));
    cr_assert(fill(c, &other_ns, 4, "dev", 0));

    /* An event at the revision the bodies were rendered at (our own write's echo) keeps them. */
    cairn_body_cache_invalidate(c, NS, SVC, 5);
    expect_body(c, &a, 1, "a");
    expect_body(c, &a_java, 1, "a-java");
    cr_expect_eq(counter(m, "list_cache_invalidations_total"), 0);

    /* A newer one drops every variant of that service, nothing else. */
    cairn_body_cache_invalidate(c, NS, SVC, 6);
    expect_body(c, &a, 1, NULL);
    expect_body(c, &a_java, 1, NULL);
    expect_body(c, &b, 1, "b");
    expect_body(c, &other_ns, 1, "dev");
    cr_expect_eq(counter(m, "list_cache_invalidations_total"), 2);
    cr_expect_eq(cairn_body_cache_entry_count(c), 2);

    /* A body of a missing service is revision 0: its creation drops it. */
    cairn_body_cache_key gone = key_of(NS, "DEFAULT_GROUP@@new");
    cr_assert(fill(c, &gone, 0, "{\"hosts\":[]}", 0));
    cairn_body_cache_invalidate(c, NS, "DEFAULT_GROUP@@new", 7);
    expect_body(c, &gone, 1, NULL);

    /* UINT64_MAX: everything of the service, whatever its revision. */
    cairn_body_cache_invalidate(c, "dev", SVC, UINT64_MAX);
    expect_body(c, &other_ns, 1, NULL);
    expect_body(c, &b, 1, "b");
    cairn_body_cache_free(c);
    cairn_metrics_free(m);
}

/* Random fills (several instances' beat answers per service, some services sharing a stripe),
 * invalidations, flushes and evictions, checked after every step against a model: an entry is
 * served exactly when the model holds it, with the model's body. Invalidation visits only its
 * service's entries, so this pins that those lists stay right through every way out. */
#define MODEL_SERVICES 40
#define MODEL_INSTANCES 6

typedef struct model_entry {
    bool present;
    uint64_t rev;
    char body[32];
} model_entry;

static uint64_t model_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static cairn_body_cache_key model_key(int svc, int inst, char *svc_buf, char *inst_buf)
{
    sprintf(svc_buf, "DEFAULT_GROUP@@m%d", svc);
    sprintf(inst_buf, "10.0.0.%d:8080", inst);
    cairn_body_cache_key k = key_of(NS, svc_buf);
    k.instance = inst_buf;
    return k;
}

Test(cairn_body_cache, random_steps_match_a_model)
{
    /* room for fewer than all: puts evict */
    cairn_body_cache *c = new_cache(MODEL_SERVICES * MODEL_INSTANCES / 2, 1 << 20, 1000000, NULL);
    static model_entry model[MODEL_SERVICES][MODEL_INSTANCES];
    memset(model, 0, sizeof model);
    uint64_t rev[MODEL_SERVICES] = {0}, x = 0x2545F4914F6CDD1DULL;
    char sb[64], ib[64];
    for (int step = 0; step < 20000; step++) {
        int svc = (int)(model_rand(&x) % MODEL_SERVICES), op = (int)(model_rand(&x) % 100);
        if (op < 70) {
            int inst = (int)(model_rand(&x) % MODEL_INSTANCES);
            cairn_body_cache_key k = model_key(svc, inst, sb, ib);
            char body[32];
            snprintf(body, sizeof body, "s%d-i%d-r%" PRIu64 "-%d", svc, inst, rev[svc], step);
            bool had = model[svc][inst].present;
            if (fill(c, &k, rev[svc], body, 0)) {
                model[svc][inst].present = true;
                model[svc][inst].rev = rev[svc];
                snprintf(model[svc][inst].body, sizeof model[svc][inst].body, "%s", body);
            } else {
                cr_assert(!had || model[svc][inst].rev > rev[svc], "step %d: a fill failed", step);
            }
        } else if (op < 97) {
            rev[svc]++;
            snprintf(sb, sizeof sb, "DEFAULT_GROUP@@m%d", svc);
            cairn_body_cache_invalidate(c, NS, sb, rev[svc]);
            for (int i = 0; i < MODEL_INSTANCES; i++)
                if (model[svc][i].rev < rev[svc])
                    model[svc][i].present = false;
        } else {
            cairn_body_cache_flush(c);
            memset(model, 0, sizeof model);
        }
        /* evictions take random entries: the model follows what the cache says it dropped */
        size_t held = 0;
        for (int s2 = 0; s2 < MODEL_SERVICES; s2++)
            for (int i = 0; i < MODEL_INSTANCES; i++) {
                cairn_body_cache_key k = model_key(s2, i, sb, ib);
                char *b = lookup(c, &k, 1);
                if (b) {
                    cr_assert(model[s2][i].present, "step %d: s%d i%d served after it was dropped",
                              step, s2, i);
                    cr_assert_str_eq(b, model[s2][i].body, "step %d", step);
                    held++;
                } else {
                    model[s2][i].present = false; /* evicted (or never stored) */
                }
                free(b);
            }
        cr_assert_eq(cairn_body_cache_entry_count(c), held, "step %d: the count drifted", step);
    }
    cairn_body_cache_free(c);
}

Test(cairn_body_cache, a_fill_that_saw_no_change_cannot_store_after_one)
{
    cairn_body_cache *c = new_cache(100, 1 << 20, 1000, NULL);
    cairn_body_cache_key k = key_of(NS, SVC);
    /* The fill asked the registry (revision 5) while the change to 6 was being applied. */
    uint64_t t = cairn_body_cache_ticket(c, NS, SVC);
    cr_assert_neq(t, 0);
    cairn_body_cache_invalidate(c, NS, SVC, 6);
    cr_expect_not(cairn_body_cache_put(c, &k, t, 5, "stale", 5, 0));
    expect_body(c, &k, 1, NULL);
    /* A fill started after the change stores. */
    cr_expect(fill(c, &k, 6, "fresh", 0));
    expect_body(c, &k, 1, "fresh");
    /* Two fills finishing out of order never go back to the older body. */
    uint64_t t1 = cairn_body_cache_ticket(c, NS, SVC), t2 = cairn_body_cache_ticket(c, NS, SVC);
    cr_expect(cairn_body_cache_put(c, &k, t2, 8, "newer", 5, 0));
    cr_expect_not(cairn_body_cache_put(c, &k, t1, 7, "older", 5, 0));
    expect_body(c, &k, 1, "newer");
    /* No ticket, no store. */
    cr_expect_not(cairn_body_cache_put(c, &k, 0, 9, "none", 4, 0));
    cairn_body_cache_free(c);
}

Test(cairn_body_cache, entries_older_than_max_age_are_misses)
{
    cairn_body_cache *c = new_cache(100, 1 << 20, 2000, NULL);
    cairn_body_cache_key k = key_of(NS, SVC);
    cr_assert(fill(c, &k, 1, "body", 10000));
    expect_body(c, &k, 10000, "body");
    expect_body(c, &k, 11999, "body");
    expect_body(c, &k, 12000, NULL);
    /* The refill replaces it. */
    cr_assert(fill(c, &k, 1, "again", 12000));
    expect_body(c, &k, 12001, "again");
    cairn_body_cache_free(c);
}

Test(cairn_body_cache, not_live_serves_and_stores_nothing_and_flushes)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    cairn_body_cache *c = new_cache(100, 1 << 20, 1000, m);
    cairn_body_cache_key k = key_of(NS, SVC);
    cr_assert(fill(c, &k, 1, "body", 0));
    uint64_t t = cairn_body_cache_ticket(c, NS, SVC);

    cairn_body_cache_set_live(c, false);
    expect_body(c, &k, 1, NULL);
    cr_expect_eq(cairn_body_cache_ticket(c, NS, SVC), 0);
    cr_expect_not(cairn_body_cache_put(c, &k, t, 1, "late", 4, 0));
    cr_expect_eq(cairn_body_cache_entry_count(c), 0);

    /* Back up: empty (events may have been missed), and tickets from before are void. */
    cairn_body_cache_set_live(c, true);
    cr_expect_not(cairn_body_cache_put(c, &k, t, 1, "late", 4, 0));
    expect_body(c, &k, 1, NULL);
    cr_expect(fill(c, &k, 2, "new", 0));
    cairn_body_cache_flush(c);
    expect_body(c, &k, 1, NULL);
    cr_expect_eq(counter(m, "list_cache_flushes_total"), 4); /* new_cache's, down, up, flush */
    cairn_body_cache_free(c);
    cairn_metrics_free(m);
}

Test(cairn_body_cache, entry_and_byte_bounds_hold)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    cairn_body_cache *c = new_cache(8, 1 << 20, 1000, m);
    for (int i = 0; i < 100; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "DEFAULT_GROUP@@s%d", i);
        cairn_body_cache_key k = key_of(NS, svc);
        cr_assert(fill(c, &k, 1, svc, 0), "put %d refused", i);
        cr_assert_leq(cairn_body_cache_entry_count(c), 8);
        expect_body(c, &k, 1, svc); /* the newest is there */
    }
    cr_expect_eq(cairn_body_cache_entry_count(c), 8);
    cr_expect_eq(counter(m, "list_cache_evictions_total"), 92);
    cairn_body_cache_free(c);

    /* Bytes: 300-byte bodies in 1000 bytes. A body above the bound is not stored at all. */
    c = new_cache(1000, 1000, 1000, NULL);
    char body[301];
    memset(body, 'x', 300);
    body[300] = '\0';
    for (int i = 0; i < 20; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "DEFAULT_GROUP@@s%d", i);
        cairn_body_cache_key k = key_of(NS, svc);
        cr_assert(fill(c, &k, 1, body, 0));
        cr_assert_leq(cairn_body_cache_byte_count(c), 1000);
    }
    cr_expect_eq(cairn_body_cache_entry_count(c), 3);
    char *big = malloc(1002);
    memset(big, 'y', 1001);
    big[1001] = '\0';
    cairn_body_cache_key k = key_of(NS, "DEFAULT_GROUP@@big");
    cr_expect_not(fill(c, &k, 1, big, 0));
    cr_expect_eq(cairn_body_cache_entry_count(c), 3);
    free(big);
    cairn_body_cache_free(c);
    cairn_metrics_free(m);
}

/* ---- readers racing an invalidator ----------------------------------------------------------
 * A toy registry: truth[s] is service s's revision. The writer bumps it, then invalidates, then
 * publishes it in done[s] ("the client got its reply"). Readers fill through the ticket protocol
 * from truth and check every hit: it may never be older than done[s] read before the lookup. */

#define RACE_SERVICES 16
#define RACE_READERS 4
#define RACE_ROUNDS 20000

typedef struct race {
    cairn_body_cache *c;
    _Atomic uint64_t truth[RACE_SERVICES];
    _Atomic uint64_t done[RACE_SERVICES];
    atomic_bool stop;
    atomic_int stale;   /* hits older than a completed write */
    atomic_int hits;
} race;

static void race_svc(int s, char *buf, size_t len)
{
    snprintf(buf, len, "DEFAULT_GROUP@@race-%d", s);
}

static void *race_reader(void *arg)
{
    race *r = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int s = rand_r(&seed) % RACE_SERVICES;
        char svc[48];
        race_svc(s, svc, sizeof svc);
        cairn_body_cache_key k = key_of(NS, svc);
        k.healthy_only = rand_r(&seed) % 2;
        uint64_t floor = atomic_load(&r->done[s]);
        size_t len;
        char *b = cairn_body_cache_get(r->c, &k, 0, &len);
        if (b) {
            uint64_t rev = strtoull(strchr(b, ':') + 1, NULL, 10);
            if (rev < floor)
                atomic_fetch_add(&r->stale, 1);
            atomic_fetch_add(&r->hits, 1);
            free(b);
            continue;
        }
        uint64_t t = cairn_body_cache_ticket(r->c, NS, svc);
        uint64_t rev = atomic_load(&r->truth[s]); /* "ask the registry" */
        char body[96];
        snprintf(body, sizeof body, "%s:%" PRIu64, svc, rev);
        cairn_body_cache_put(r->c, &k, t, rev, body, strlen(body), 0);
    }
    return NULL;
}

static void *race_writer(void *arg)
{
    race *r = arg;
    unsigned seed = 7;
    uint64_t rev = 1;
    while (!atomic_load(&r->stop)) {
        int s = rand_r(&seed) % RACE_SERVICES;
        char svc[48];
        race_svc(s, svc, sizeof svc);
        atomic_store(&r->truth[s], ++rev);
        cairn_body_cache_invalidate(r->c, NS, svc, rev);
        atomic_store(&r->done[s], rev);
        if (rev % 5000 == 0)
            cairn_body_cache_flush(r->c); /* a reconnect now and then */
    }
    return NULL;
}

Test(cairn_body_cache, readers_racing_an_invalidator_never_see_older_than_a_finished_write,
     .timeout = 60)
{
    race *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->c = new_cache(RACE_SERVICES, 1 << 20, 1000000, NULL); /* small: evictions race too */
    for (int s = 0; s < RACE_SERVICES; s++)
        atomic_init(&r->truth[s], 1);
    pthread_t readers[RACE_READERS], writer;
    cr_assert_eq(pthread_create(&writer, NULL, race_writer, r), 0);
    for (int i = 0; i < RACE_READERS; i++)
        cr_assert_eq(pthread_create(&readers[i], NULL, race_reader, r), 0);
    for (int i = 0; i < RACE_READERS; i++)
        pthread_join(readers[i], NULL);
    atomic_store(&r->stop, true);
    pthread_join(writer, NULL);
    cr_expect_eq(atomic_load(&r->stale), 0, "%d hits were older than a finished write",
                 atomic_load(&r->stale));
    cr_expect_gt(atomic_load(&r->hits), 0, "the race never hit the cache");
    cr_expect_leq(cairn_body_cache_entry_count(r->c), RACE_SERVICES);
    cairn_body_cache_free(r->c);
    free(r);
}

/* ---- the event subscription ------------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls until the cache is live (or not), within 5 s. */
static bool wait_live(cairn_body_cache *c, bool live)
{
    for (int64_t end = mono_ms() + 5000; mono_ms() < end;) {
        if ((cairn_body_cache_ticket(c, NS, SVC) != 0) == live)
            return true;
        struct timespec nap = {0, 2 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return false;
}

/* An event for svc at rev following prev (svc NULL: a tick at rev). */
static void publish(nng_socket pub, const char *svc, uint64_t prev, uint64_t rev)
{
    cairn_change_event ev = {.namespace_id = svc ? NS : "", .service = (char *)(svc ? svc : ""),
                             .revision = rev, .prev_revision = prev,
                             .kind = svc ? CAIRN_CHANGE_INSTANCES : CAIRN_CHANGE_TICK, .at_ms = 1};
    char *buf;
    size_t len;
    cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
    cr_assert_eq(nng_send(pub, buf, len, 0), 0);
    free(buf);
}

/* Publishes ticks at rev until the cache has taken one (the first event of a connection is a
 * gap: it flushes, and the chain starts there). A PUB message sent before the subscription
 * reaches the publisher is dropped, so one send is not enough; true within 5 s. */
static bool synced_at(cairn_metrics *m, nng_socket pub, uint64_t rev)
{
    uint64_t flushes = counter(m, "list_cache_flushes_total");
    for (int64_t end = mono_ms() + 5000; mono_ms() < end;) {
        publish(pub, NULL, rev, rev);
        if (counter(m, "list_cache_flushes_total") > flushes)
            return true;
        struct timespec nap = {0, 2 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return false;
}

/* Waits until k misses; true within 5 s. */
static bool gone(cairn_body_cache *c, const cairn_body_cache_key *k)
{
    for (int64_t end = mono_ms() + 5000; mono_ms() < end;) {
        char *b = lookup(c, k, 1);
        free(b);
        if (!b)
            return true;
        struct timespec nap = {0, 2 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return false;
}

Test(cairn_body_cache, events_invalidate_and_reconnects_flush, .timeout = 30)
{
    static const char url[] = "inproc://gw-cache-events";
    cairn_metrics *m = cairn_metrics_new("gateway");
    cairn_body_cache_options o = {.max_entries = 100, .max_bytes = 1 << 20, .max_age_ms = 100000,
                               .metrics = m};
    cairn_body_cache *c = cairn_body_cache_new(&o);
    cr_assert_not_null(c);
    /* A second cache on the same events, keyed by instance as the beat answers are. */
    cairn_body_cache_options bo = o;
    bo.metric_prefix = "beat_cache";
    cairn_body_cache *beats = cairn_body_cache_new(&bo);
    cr_assert_not_null(beats);
    cairn_status st;
    cairn_body_cache *caches[] = {c, NULL, beats};
    gateway_cache_events *ev = gateway_cache_events_start(url, caches, 3, &st);
    cr_assert_not_null(ev, "%s", st.message);
    cr_expect(wait_live(c, false), "live with no publisher");

    nng_socket pub;
    cr_assert_eq(nng_pub0_open(&pub), 0);
    cr_assert_eq(nng_listen(pub, url, NULL, 0), 0);
    cr_assert(wait_live(c, true), "not live 5 s after the publisher came up");
    cr_assert(wait_live(beats, true), "the second cache not live 5 s after the publisher came up");
    cr_assert(synced_at(m, pub, 10), "no tick taken within 5 s");
    cairn_body_cache_key k = key_of(NS, SVC), other = key_of(NS, "DEFAULT_GROUP@@other");
    cairn_body_cache_key beat = key_of(NS, SVC), other_beat = key_of(NS, "DEFAULT_GROUP@@other");
    beat.instance = other_beat.instance = "127.0.0.1:8080";
    cr_assert(fill(c, &k, 10, "body", 0));
    cr_assert(fill(c, &other, 10, "other", 0));
    cr_assert(fill(beats, &beat, 0, "beat answer", 0));
    cr_assert(fill(beats, &other_beat, 0, "other beat answer", 0));
    expect_body(beats, &beat, 1, "beat answer");
    expect_body(c, &beat, 1, NULL); /* the instance is part of the key */

    /* The next event in the chain drops its service only, in every cache; a tick at the newest
     * changes nothing. */
    publish(pub, SVC, 10, 11);
    cr_assert(gone(c, &k), "an event did not invalidate within 5 s");
    cr_assert(gone(beats, &beat), "an event did not invalidate the second cache within 5 s");
    expect_body(beats, &other_beat, 1, "other beat answer");
    publish(pub, NULL, 11, 11);
    cr_assert(fill(c, &k, 11, "body", 0));
    expect_body(c, &other, 1, "other");

    /* A gap in the chain (revisions 12..20 lost): which services changed is unknown, so
     * everything goes. */
    publish(pub, SVC, 20, 21);
    cr_expect(gone(c, &other), "a gap in the event chain did not flush within 5 s");
    cr_expect(gone(c, &k));
    cr_expect(gone(beats, &other_beat), "a gap did not flush the second cache within 5 s");

    /* Garbage on the event socket: the service is unknown, so everything goes. */
    cr_assert(fill(c, &other, 21, "other", 0));
    cr_assert_eq(nng_send(pub, "\x81\xa1t\x0c", 4, 0), 0);
    cr_expect(gone(c, &other), "an undecodable event did not flush within 5 s");

    /* The publisher restarts: not live while it is away, flushed when it is back. */
    cr_assert(fill(c, &k, 12, "before restart", 0));
    uint64_t flushes = counter(m, "list_cache_flushes_total");
    nng_close(pub);
    cr_expect(wait_live(c, false), "still live 5 s after the publisher went away");
    expect_body(c, &k, 1, NULL);
    cr_assert_eq(nng_pub0_open(&pub), 0);
    cr_assert_eq(nng_listen(pub, url, NULL, 0), 0);
    cr_assert(wait_live(c, true), "not live again 5 s after the publisher came back");
    cr_expect_geq(counter(m, "list_cache_flushes_total"), flushes + 2);
    expect_body(c, &k, 1, NULL);

    gateway_cache_events_stop(ev);
    nng_close(pub);
    cairn_body_cache_free(c);
    cairn_body_cache_free(beats);
    cairn_metrics_free(m);
}
