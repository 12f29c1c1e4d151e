/* The registry's replication messages (DISTRO_*, PERSIST_*) driven over a real node's
 * registry.sock, as the replicator will drive them: versions and stale states, tombstones,
 * change events, persistent instances left alone, digests that change exactly with the content,
 * snapshot pages over more than 1 MiB loaded into another node, and the raft watermark that
 * survives a kill -9 of the registry. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_distro_digest.h"
#include "cairn_harness.h"
#include "cairn_harness_kill.h"
#include "cairn_ipc.h"
#include "cairn_java_hash.h"
#include "cairn_nacos.h"
#include "cairn_requests.h"

TestSuite(cluster_registry, .fini = it_teardown, .timeout = 300);

#define ORIGIN "127.0.0.2:8848"
#define EPOCH_A 0x1111111111111111ull
#define EPOCH_B 0x2222222222222222ull

/* Sends rq (freed) to the node's registry and returns the reply; asserts the exchange worked. */
static cairn_reply call(const it_node *n, cairn_request *rq)
{
    cairn_reply rep;
    cairn_reply_init(&rep);
    cairn_err err = registry_request(n, rq, &rep, 20000);
    cr_assert_eq(err, CAIRN_OK, "no reply to %s: %s", cairn_msg_type_name(rq->type),
                 cairn_err_name(err));
    cairn_request_free(rq);
    return rep;
}

/* A state of (public, svc) at (epoch, seq) with n ephemeral instances 127.0.20.<i>:port. */
static void make_state(cairn_distro_state *ds, const char *svc, uint64_t epoch, uint64_t seq,
                       uint32_t n, int32_t port)
{
    memset(ds, 0, sizeof *ds);
    ds->namespace_id = strdup("public");
    ds->service = strdup(svc);
    ds->version = (cairn_distro_version){.epoch = epoch, .seq = seq, .origin = strdup(ORIGIN)};
    ds->instances = n ? calloc(n, sizeof *ds->instances) : NULL;
    ds->instance_count = n;
    for (uint32_t i = 0; i < n; i++) {
        cairn_instance *in = &ds->instances[i];
        cairn_instance_init(in);
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.20.%u", i + 1);
        in->ip = strdup(ip);
        in->port = port;
        in->cluster = strdup("DEFAULT");
        in->modified_ms = 1;
    }
}

/* DISTRO_APPLY of one state; returns its outcome. */
static uint32_t apply_one(const it_node *n, const char *svc, uint64_t epoch, uint64_t seq,
                          uint32_t count, int32_t port, cairn_distro_mode mode)
{
    cairn_distro_state *ds = calloc(1, sizeof *ds);
    make_state(ds, svc, epoch, seq, count, port);
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_apply(&rq, ds, 1, mode, 0, &st), CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_assert_eq(rep.outcome_count, 1);
    uint32_t out = rep.outcomes[0];
    cairn_reply_free(&rep);
    return out;
}

/* SERVICE_GET of (public, svc) into *snap (freed by the caller). */
static void service_get(const it_node *n, const char *svc, cairn_service_snapshot *snap)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_service_get(&rq, "public", svc, &st), CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    *snap = rep.snapshot;
    memset(&rep.snapshot, 0, sizeof rep.snapshot);
    rep.has_snapshot = false;
    cairn_reply_free(&rep);
}

static uint32_t count_kind(const cairn_service_snapshot *snap, bool ephemeral)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < snap->instance_count; i++)
        k += snap->instances[i].ephemeral == ephemeral;
    return k;
}

static cairn_reply stats(const it_node *n)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_stats(&rq, &st), CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK);
    return rep;
}

IT_TEST(cluster_registry, apply_stale_and_tombstone)
{
    it_node *n = node_start(NULL);
    const char *svc = "DEFAULT_GROUP@@dsvc";
    /* Nothing held: a state from another writer needs the ownership clause. */
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 5, 2, 80, CAIRN_DISTRO_SAME_ORIGIN),
                 CAIRN_DISTRO_STALE);
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 5, 2, 80, CAIRN_DISTRO_OWNER), CAIRN_DISTRO_APPLIED);
    /* The same writer: only a higher seq, in any mode but FORCE. */
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 5, 1, 80, CAIRN_DISTRO_OWNER), CAIRN_DISTRO_STALE);
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 4, 1, 80, CAIRN_DISTRO_OWNER), CAIRN_DISTRO_STALE);
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 6, 3, 81, CAIRN_DISTRO_SAME_ORIGIN),
                 CAIRN_DISTRO_APPLIED);
    /* Another writer without the ownership clause. */
    cr_expect_eq(apply_one(n, svc, EPOCH_B, 99, 1, 80, CAIRN_DISTRO_SAME_ORIGIN),
                 CAIRN_DISTRO_STALE);

    cairn_service_snapshot snap;
    service_get(n, svc, &snap);
    cr_assert(snap.found);
    cr_expect_eq(count_kind(&snap, true), 3);
    cr_expect_eq(snap.instances[0].port, 81);
    cr_expect_eq(snap.service.distro.epoch, EPOCH_A);
    cr_expect_eq(snap.service.distro.seq, 6);
    cr_expect_str_eq(snap.service.distro.origin, ORIGIN);
    cr_expect_not(snap.service.defined, "a Distro state makes an implicit service");
    cairn_service_snapshot_free(&snap);

    /* The Nacos API lists what was applied (the list cache followed the change event). */
    json_t *list = nacos_list(n, Q("serviceName", "dsvc"));
    cr_expect_eq(list_host_count(list), 3);
    json_decref(list);

    /* A tombstone: no instances, the version kept. */
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 7, 0, 0, CAIRN_DISTRO_SAME_ORIGIN),
                 CAIRN_DISTRO_APPLIED);
    service_get(n, svc, &snap);
    cr_assert(snap.found);
    cr_expect_eq(snap.instance_count, 0);
    cr_expect_eq(snap.service.distro.seq, 7);
    cairn_service_snapshot_free(&snap);
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 6, 3, 81, CAIRN_DISTRO_OWNER), CAIRN_DISTRO_STALE,
                 "an older state must not revive a tombstone");
    list = nacos_list(n, Q("serviceName", "dsvc"));
    cr_expect_eq(list_host_count(list), 0);
    json_decref(list);

    /* FETCH: the tombstone, and a key never seen. */
    const char *ns[] = {"public", "public"}, *svcs[] = {svc, "DEFAULT_GROUP@@never"};
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_fetch(&rq, ns, svcs, 2, &st), CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_assert_eq(rep.state_count, 2);
    cr_expect_eq(rep.states[0].version.seq, 7);
    cr_expect_eq(rep.states[0].instance_count, 0);
    cr_expect_eq(rep.states[1].version.epoch, 0);
    cr_expect_str_eq(rep.states[1].service, "DEFAULT_GROUP@@never");
    cairn_reply_free(&rep);
}

IT_TEST(cluster_registry, one_bad_state_leaves_the_others)
{
    it_node *n = node_start(NULL);
    cairn_distro_state *ds = calloc(3, sizeof *ds);
    make_state(&ds[0], "DEFAULT_GROUP@@ok1", EPOCH_A, 1, 1, 80);
    make_state(&ds[1], "DEFAULT_GROUP@@bad", EPOCH_A, 1, 1, 80);
    ds[1].instances[0].weight = 20000; /* out of range */
    make_state(&ds[2], "DEFAULT_GROUP@@ok2", EPOCH_A, 1, 1, 80);
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_apply(&rq, ds, 3, CAIRN_DISTRO_OWNER, 0, &st), CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_assert_eq(rep.outcome_count, 3);
    cr_expect_eq(rep.outcomes[0], CAIRN_DISTRO_APPLIED);
    cr_expect_eq(rep.outcomes[1], CAIRN_DISTRO_REJECTED);
    cr_expect_eq(rep.outcomes[2], CAIRN_DISTRO_APPLIED);
    cairn_reply_free(&rep);
    cairn_service_snapshot snap;
    service_get(n, "DEFAULT_GROUP@@bad", &snap);
    cr_expect_not(snap.found, "a rejected state left a service behind");
    cairn_service_snapshot_free(&snap);

    /* More than 512 services in one apply is refused whole. */
    ds = calloc(CAIRN_DISTRO_MAX_STATES + 1, sizeof *ds);
    for (uint32_t i = 0; i <= CAIRN_DISTRO_MAX_STATES; i++) {
        char name[64];
        snprintf(name, sizeof name, "DEFAULT_GROUP@@many%u", i);
        make_state(&ds[i], name, EPOCH_A, 1, 0, 0);
    }
    cr_assert_eq(cairn_request_distro_apply(&rq, ds, CAIRN_DISTRO_MAX_STATES + 1,
                                            CAIRN_DISTRO_OWNER, 0, &st),
                 CAIRN_OK);
    rep = call(n, &rq);
    cr_expect_eq(rep.code, CAIRN_E_LIMIT, "%s", rep.message ? rep.message : "");
    cairn_reply_free(&rep);
}

/* The next change event of (public, svc) within timeout_ms, skipping others. */
static bool next_event_of(it_sub *sub, const char *svc, cairn_change_event *out, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    while (it_now_ms() < deadline) {
        cairn_change_event ev;
        if (!events_next(sub, &ev, (int)(deadline - it_now_ms())))
            return false;
        if (ev.service && strcmp(ev.service, svc) == 0) {
            *out = ev;
            return true;
        }
        cairn_event_free(&ev);
    }
    return false;
}

typedef struct warm {
    it_node *n;
    it_sub *sub;
    int round;
} warm;

/* SUB joins asynchronously: write to a throw-away service until its event arrives. */
static bool subscription_live(void *arg)
{
    warm *w = arg;
    char port[16];
    snprintf(port, sizeof port, "%d", ++w->round);
    nacos_write_ok(w->n, "POST", NS "/instance",
                   Q("serviceName", "warmup", "ip", "127.9.9.9", "port", port));
    cairn_change_event ev;
    if (next_event_of(w->sub, "DEFAULT_GROUP@@warmup", &ev, 200)) {
        cairn_event_free(&ev);
        return true;
    }
    return false;
}

IT_TEST(cluster_registry, persistent_untouched_event_published_local_stamp)
{
    it_node *n = node_start(NULL);
    cairn_reply s0 = stats(n);
    cr_expect_neq(s0.store_epoch, 0, "a store has an epoch");
    cr_expect(s0.store_fresh, "a new store is fresh");
    cairn_reply_free(&s0);

    it_sub sub;
    cr_assert(events_open(&sub, n));
    warm w = {n, &sub, 0};
    cr_assert(wait_until(subscription_live, &w, 10000), "no change event within 10 s");
    cairn_reply s1 = stats(n);
    cr_expect_not(s1.store_fresh, "a local write ends freshness");

    const char *svc = "DEFAULT_GROUP@@mixed";
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mixed", "ip", "127.0.30.1", "port", "90", "ephemeral",
                     "false"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "mixed", "ip", "127.0.30.2", "port", "91"));
    cairn_service_snapshot snap;
    service_get(n, svc, &snap);
    /* A local ephemeral write stamps this store's version at the service's revision. */
    cr_expect_eq(snap.service.distro.epoch, s1.store_epoch);
    cr_expect_eq(snap.service.distro.seq, snap.service.revision);
    cr_expect_null(snap.service.distro.origin);
    uint64_t before = snap.service.revision;
    cairn_service_snapshot_free(&snap);
    cairn_reply_free(&s1);

    cr_expect_eq(apply_one(n, svc, EPOCH_A, 1, 2, 95, CAIRN_DISTRO_FORCE), CAIRN_DISTRO_APPLIED);
    cairn_change_event ev;
    bool got = false;
    /* The events of the two registrations may come first. */
    for (int i = 0; i < 4 && !got; i++) {
        cr_assert(next_event_of(&sub, svc, &ev, 5000), "no change event for the applied state");
        got = ev.revision > before;
        if (got) {
            cr_expect_eq(ev.kind, CAIRN_CHANGE_INSTANCES);
            cr_expect_not_null(ev.snapshot, "the event carries the service's snapshot");
        }
        cairn_event_free(&ev);
    }
    cr_expect(got, "no event newer than revision %llu", (unsigned long long)before);
    service_get(n, svc, &snap);
    cr_expect_eq(count_kind(&snap, false), 1, "the persistent instance must stay");
    cr_expect_eq(count_kind(&snap, true), 2);
    for (uint32_t i = 0; i < snap.instance_count; i++)
        if (snap.instances[i].ephemeral)
            cr_expect_eq(snap.instances[i].port, 95, "the old ephemeral instance must go");
    cairn_service_snapshot_free(&snap);

    /* A tombstone leaves the persistent instance too. */
    cr_expect_eq(apply_one(n, svc, EPOCH_A, 2, 0, 0, CAIRN_DISTRO_OWNER), CAIRN_DISTRO_APPLIED);
    service_get(n, svc, &snap);
    cr_expect_eq(count_kind(&snap, false), 1);
    cr_expect_eq(count_kind(&snap, true), 0);
    cairn_service_snapshot_free(&snap);
    events_close(&sub);
}

/* DISTRO_DIGESTS (owners and self as given); the reply's digests moved into *out. */
static uint32_t digests(const it_node *n, const char *const *owners, uint32_t count,
                        const char *self, cairn_distro_digests *out)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_digests(&rq, owners, count, self, &st), CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_assert_not_null(rep.digests);
    *out = *rep.digests;
    uint32_t total = rep.total;
    cairn_reply_free(&rep);
    return total;
}

/* The buckets whose digest or count differ. */
static int differing(const cairn_distro_digests *a, const cairn_distro_digests *b, int *which)
{
    int k = 0;
    for (int i = 0; i < CAIRN_DISTRO_BUCKETS; i++)
        if (a->count[i] != b->count[i] ||
            memcmp(a->digest[i], b->digest[i], CAIRN_DISTRO_DIGEST_LEN) != 0) {
            *which = i;
            k++;
        }
    return k;
}

IT_TEST(cluster_registry, digests_change_exactly_with_content)
{
    it_node *n = node_start(NULL);
    char name[64];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "DEFAULT_GROUP@@dig%d", i);
        cr_assert_eq(apply_one(n, name, EPOCH_A, 1, 2, 80, CAIRN_DISTRO_OWNER),
                     CAIRN_DISTRO_APPLIED);
    }
    /* A service with only persistent data holds no ephemeral state. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "persistent-only", "ip", "127.0.31.1", "port", "1",
                     "ephemeral", "false"));
    cairn_distro_digests d1, d2;
    cr_expect_eq(digests(n, NULL, 0, NULL, &d1), 20);
    cr_expect_eq(digests(n, NULL, 0, NULL, &d2), 20);
    int b = -1;
    cr_expect_eq(differing(&d1, &d2, &b), 0, "digests of an unchanged store differ");

    /* Persistent and definition changes are not ephemeral content. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "dig3", "ip", "127.0.31.2", "port", "2", "ephemeral",
                     "false"));
    digests(n, NULL, 0, NULL, &d2);
    cr_expect_eq(differing(&d1, &d2, &b), 0, "a persistent write changed the digests");

    /* Re-applying the same content under a new version changes one bucket, the key's. */
    cr_assert_eq(apply_one(n, "DEFAULT_GROUP@@dig7", EPOCH_A, 2, 2, 80, CAIRN_DISTRO_OWNER),
                 CAIRN_DISTRO_APPLIED);
    digests(n, NULL, 0, NULL, &d2);
    cr_expect_eq(differing(&d1, &d2, &b), 1);
    cr_expect_eq(b, (int)cairn_distro_bucket("public", "DEFAULT_GROUP@@dig7"));

    /* A health flip by the checker is content. */
    cairn_distro_digests d3;
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_health(&rq, "public", "DEFAULT_GROUP@@dig7", "127.0.20.1",
                                               80, "DEFAULT", true, false,
                                               CAIRN_HEALTH_BY_CHECKER, &st),
                 CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cairn_reply_free(&rep);
    digests(n, NULL, 0, NULL, &d3);
    cr_expect_eq(differing(&d2, &d3, &b), 1);

    /* DISTRO_KEYS lists that bucket's keys with their versions and content digests; the
     * local write made it this store's own version. */
    uint32_t bucket = cairn_distro_bucket("public", "DEFAULT_GROUP@@dig7");
    cr_assert_eq(cairn_request_distro_keys(&rq, bucket, NULL, 0, NULL, NULL, NULL, 0, &st),
                 CAIRN_OK);
    rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_assert_eq(rep.state_count, d3.count[bucket]);
    bool found = false;
    for (uint32_t i = 0; i < rep.state_count; i++) {
        cr_expect(rep.states[i].has_digest);
        cr_expect_eq(rep.states[i].instance_count, 0);
        if (strcmp(rep.states[i].service, "DEFAULT_GROUP@@dig7") == 0) {
            found = true;
            cr_expect_eq(rep.states[i].version.epoch, rep.store_epoch);
        }
    }
    cr_expect(found);
    cairn_reply_free(&rep);

    /* The owner filter keeps the services the owner list maps to self. */
    const char *owners[] = {"127.0.0.1:8848", "127.0.0.2:8848"};
    uint32_t want = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "DEFAULT_GROUP@@dig%d", i);
        want += cairn_distro_index(name, strlen(name), 2) == 1;
    }
    cairn_distro_digests mine;
    cr_expect_eq(digests(n, owners, 2, owners[1], &mine), want);
}

#define BIG_SERVICES 120
#define BIG_INSTANCES 20
#define BIG_VALUE 400

/* BIG_SERVICES services of BIG_INSTANCES instances with BIG_VALUE bytes of metadata each (about
 * 1.2 MB of state), applied 30 services a request. */
static void fill_big(const it_node *n)
{
    for (int batch = 0; batch < BIG_SERVICES / 30; batch++) {
        cairn_distro_state *ds = calloc(30, sizeof *ds);
        for (int i = 0; i < 30; i++) {
            char name[64];
            snprintf(name, sizeof name, "DEFAULT_GROUP@@big%03d", batch * 30 + i);
            make_state(&ds[i], name, EPOCH_A, (uint64_t)(100 + i), BIG_INSTANCES, 7000 + i);
            for (uint32_t k = 0; k < BIG_INSTANCES; k++) {
                char value[BIG_VALUE + 1];
                memset(value, 'a' + (char)(k % 26), BIG_VALUE);
                value[BIG_VALUE] = '\0';
                cairn_metadata_set(&ds[i].instances[k].metadata, "blob", value);
            }
        }
        cairn_request rq;
        cairn_status st;
        cr_assert_eq(cairn_request_distro_apply(&rq, ds, 30, CAIRN_DISTRO_OWNER, 0, &st),
                     CAIRN_OK);
        cairn_reply rep = call(n, &rq);
        cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
        for (uint32_t i = 0; i < rep.outcome_count; i++)
            cr_assert_eq(rep.outcomes[i], CAIRN_DISTRO_APPLIED);
        cairn_reply_free(&rep);
    }
}

/* One DISTRO_SNAPSHOT page after the cursor (NULL: the first). */
static cairn_reply snapshot_page(const it_node *n, const char *ns, const char *svc)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_snapshot(&rq, ns, svc, 0, &st), CAIRN_OK);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    return rep;
}

/* Loads every page of from's snapshot into to as load load_id; stops after `pages` pages when
 * pages > 0 (a partial load). Returns the states loaded. */
static uint32_t load_pages(const it_node *from, const it_node *to, uint64_t load_id, int pages)
{
    char *ns = NULL, *svc = NULL;
    uint32_t loaded = 0;
    for (int page = 0; page < 100; page++) {
        cairn_reply rep = snapshot_page(from, ns, svc);
        char *buf;
        size_t len;
        cr_assert_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_OK);
        cr_expect_leq(len, (size_t)CAIRN_DISTRO_PAGE_MAX_BYTES, "page %d is %zu bytes", page,
                      len);
        free(buf);
        free(ns);
        free(svc);
        ns = rep.cursor_ns ? strdup(rep.cursor_ns) : NULL;
        svc = rep.cursor_svc ? strdup(rep.cursor_svc) : NULL;
        bool more = rep.more;
        cairn_request rq;
        cairn_status st;
        loaded += rep.state_count;
        cr_assert_eq(cairn_request_distro_apply(&rq, rep.states, rep.state_count,
                                                CAIRN_DISTRO_FORCE, load_id, &st),
                     CAIRN_OK);
        rep.states = NULL; /* taken over by the request */
        rep.state_count = 0;
        cairn_reply_free(&rep);
        rep = call(to, &rq);
        cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
        cairn_reply_free(&rep);
        if (!more || (pages > 0 && page + 1 >= pages))
            break;
    }
    free(ns);
    free(svc);
    return loaded;
}

IT_TEST(cluster_registry, snapshot_pages_load_and_replace)
{
    it_node *a = node_start(NULL);
    it_node *b = node_start(NULL);
    fill_big(a);
    /* Pages of at most 1 MiB, more than one of them, covering every state with its version. */
    int pages = 0;
    uint32_t states = 0;
    char *ns = NULL, *svc = NULL;
    for (bool more = true; more && pages < 100; pages++) {
        cairn_reply rep = snapshot_page(a, ns, svc);
        for (uint32_t i = 0; i < rep.state_count; i++) {
            cr_expect_eq(rep.states[i].version.epoch, EPOCH_A);
            cr_expect_eq(rep.states[i].instance_count, BIG_INSTANCES);
        }
        states += rep.state_count;
        more = rep.more;
        free(ns);
        free(svc);
        ns = rep.cursor_ns ? strdup(rep.cursor_ns) : NULL;
        svc = rep.cursor_svc ? strdup(rep.cursor_svc) : NULL;
        cairn_reply_free(&rep);
    }
    free(ns);
    free(svc);
    cr_expect_gt(pages, 1, "over 1 MiB of state came in one page");
    cr_expect_eq(states, BIG_SERVICES);

    /* b holds state of its own: an ephemeral service a does not have, and a persistent one. */
    nacos_write_ok(b, "POST", NS "/instance",
                   Q("serviceName", "only-b", "ip", "127.0.32.1", "port", "1"));
    nacos_write_ok(b, "POST", NS "/instance",
                   Q("serviceName", "durable-b", "ip", "127.0.32.2", "port", "2", "ephemeral",
                     "false"));
    /* A partial load deletes nothing it has not brought. */
    const uint64_t load = 0xabcdef;
    uint32_t first = load_pages(a, b, load, 1);
    cr_expect_lt(first, BIG_SERVICES);
    cairn_service_snapshot snap;
    service_get(b, "DEFAULT_GROUP@@only-b", &snap);
    cr_expect(snap.found && count_kind(&snap, true) == 1, "a partial load deleted only-b");
    cairn_service_snapshot_free(&snap);

    /* The whole load, then its end: b's ephemeral state is a's, its persistent data stays. */
    cr_expect_eq(load_pages(a, b, load, 0), BIG_SERVICES);
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_load_end(&rq, load, &st), CAIRN_OK);
    cairn_reply rep = call(b, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_expect_eq(rep.total, 1, "only only-b is dropped");
    cairn_reply_free(&rep);
    service_get(b, "DEFAULT_GROUP@@only-b", &snap);
    cr_expect_not(snap.found, "only-b outlived the load's end");
    cairn_service_snapshot_free(&snap);
    service_get(b, "DEFAULT_GROUP@@durable-b", &snap);
    cr_expect(snap.found && count_kind(&snap, false) == 1, "the load's end took persistent data");
    cairn_service_snapshot_free(&snap);
    cairn_distro_digests da, db;
    cr_expect_eq(digests(a, NULL, 0, NULL, &da), BIG_SERVICES);
    cr_expect_eq(digests(b, NULL, 0, NULL, &db), BIG_SERVICES);
    int which = -1;
    cr_expect_eq(differing(&da, &db, &which), 0, "the loaded node's digests differ (bucket %d)",
                 which);

    /* DISTRO_KEYS pages a bucket by cursor: the fullest bucket, one key a page. */
    int fullest = 0;
    for (int i = 1; i < CAIRN_DISTRO_BUCKETS; i++)
        if (da.count[i] > da.count[fullest])
            fullest = i;
    cr_assert_gt(da.count[fullest], 1);
    char *kns = NULL, *ksvc = NULL;
    uint32_t listed = 0;
    for (bool more = true; more && listed <= da.count[fullest];) {
        cr_assert_eq(cairn_request_distro_keys(&rq, (uint32_t)fullest, NULL, 0, NULL, kns, ksvc,
                                               1, &st),
                     CAIRN_OK);
        rep = call(a, &rq);
        cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
        cr_assert_leq(rep.state_count, 1);
        listed += rep.state_count;
        if (rep.state_count)
            cr_expect_eq(cairn_distro_bucket(rep.states[0].namespace_id, rep.states[0].service),
                         (uint32_t)fullest);
        more = rep.more;
        free(kns);
        free(ksvc);
        kns = rep.cursor_ns ? strdup(rep.cursor_ns) : NULL;
        ksvc = rep.cursor_svc ? strdup(rep.cursor_svc) : NULL;
        cairn_reply_free(&rep);
    }
    free(kns);
    free(ksvc);
    cr_expect_eq(listed, da.count[fullest], "paging listed %u of %u keys", listed,
                 da.count[fullest]);

    /* An end for a load that is not under way is refused. */
    cr_assert_eq(cairn_request_distro_load_end(&rq, load, &st), CAIRN_OK);
    rep = call(b, &rq);
    cr_expect_eq(rep.code, CAIRN_E_CONFLICT);
    cairn_reply_free(&rep);
}

IT_TEST(cluster_registry, a_fresh_store_stays_fresh_until_its_load_ends)
{
    it_node *a = node_start(NULL);
    it_node *b = node_start(NULL);
    cr_assert_eq(apply_one(a, "DEFAULT_GROUP@@f1", EPOCH_A, 1, 1, 80, CAIRN_DISTRO_OWNER),
                 CAIRN_DISTRO_APPLIED);
    cairn_reply s = stats(b);
    cr_expect(s.store_fresh);
    uint64_t epoch = s.store_epoch;
    cairn_reply_free(&s);
    load_pages(a, b, 42, 0);
    s = stats(b);
    cr_expect(s.store_fresh, "a load not yet ended is no data");
    cairn_reply_free(&s);
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_load_end(&rq, 42, &st), CAIRN_OK);
    cairn_reply rep = call(b, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cairn_reply_free(&rep);
    s = stats(b);
    cr_expect_not(s.store_fresh);
    cr_expect_eq(s.store_epoch, epoch, "the epoch is made once, with the store");
    cairn_reply_free(&s);
}

/* ---- the raft projection ---------------------------------------------------------------------- */

static void record_init(cairn_persist_record *r, cairn_persist_op op, cairn_persist_kind kind,
                        const char *svc)
{
    memset(r, 0, sizeof *r);
    cairn_service_init(&r->service_def);
    cairn_instance_init(&r->instance);
    r->op = op;
    r->kind = kind;
    r->namespace_id = strdup("public");
    r->service = strdup(svc);
}

static void service_record(cairn_persist_record *r, const char *svc, const char *owner)
{
    record_init(r, CAIRN_PERSIST_PUT, CAIRN_PERSIST_SERVICE, svc);
    r->has_value = true;
    r->service_def.defined = true;
    r->service_def.protect_threshold = 0.25f;
    cairn_metadata_set(&r->service_def.metadata, "owner", owner);
}

static void instance_record(cairn_persist_record *r, cairn_persist_op op, const char *svc,
                            const char *ip, int32_t port)
{
    record_init(r, op, CAIRN_PERSIST_INSTANCE, svc);
    r->has_value = true;
    r->instance.ip = strdup(ip);
    r->instance.port = port;
    r->instance.ephemeral = false;
    r->instance.modified_ms = 1;
}

/* PERSIST_APPLY or (first 0) PERSIST_REPLACE of the records; returns the reply. */
static cairn_reply persist(const it_node *n, uint64_t first, uint64_t last,
                           cairn_persist_record *r, uint32_t count)
{
    cairn_request rq;
    cairn_status st;
    cairn_err err = first ? cairn_request_persist_apply(&rq, first, last, r, count, &st)
                          : cairn_request_persist_replace(&rq, last, r, count, &st);
    cr_assert_eq(err, CAIRN_OK, "%s", st.message);
    cairn_reply rep = call(n, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    return rep;
}

static cairn_reply apply_batch_1_3(const it_node *n)
{
    cairn_persist_record *r = calloc(3, sizeof *r);
    service_record(&r[0], "DEFAULT_GROUP@@cp", "team-a");
    instance_record(&r[1], CAIRN_PERSIST_PUT, "DEFAULT_GROUP@@cp", "127.0.40.1", 1);
    instance_record(&r[2], CAIRN_PERSIST_PUT, "DEFAULT_GROUP@@cp", "127.0.40.2", 2);
    return persist(n, 1, 3, r, 3);
}

IT_TEST(cluster_registry, persist_apply_idempotent_and_never_rewinds)
{
    it_node *n = node_start(NULL);
    cairn_reply rep = apply_batch_1_3(n);
    cr_expect_eq(rep.raft_applied, 3);
    cr_expect_not(rep.skipped);
    cr_expect_eq(rep.total, 3);
    cairn_reply_free(&rep);
    cairn_service_snapshot snap;
    service_get(n, "DEFAULT_GROUP@@cp", &snap);
    cr_assert(snap.found);
    cr_expect(snap.service.defined);
    cr_expect_str_eq(cairn_metadata_get(&snap.service.metadata, "owner"), "team-a");
    cr_expect_eq(count_kind(&snap, false), 2);
    uint64_t rev = snap.service.revision;
    cairn_service_snapshot_free(&snap);

    /* The same batch again, or one inside it: skipped, nothing changes. */
    rep = apply_batch_1_3(n);
    cr_expect(rep.skipped);
    cr_expect_eq(rep.raft_applied, 3);
    cairn_reply_free(&rep);
    cairn_persist_record *r = calloc(1, sizeof *r);
    instance_record(r, CAIRN_PERSIST_DEL, "DEFAULT_GROUP@@cp", "127.0.40.1", 1);
    rep = persist(n, 2, 2, r, 1);
    cr_expect(rep.skipped);
    cairn_reply_free(&rep);
    service_get(n, "DEFAULT_GROUP@@cp", &snap);
    cr_expect_eq(snap.service.revision, rev, "a skipped batch changed the service");
    cr_expect_eq(count_kind(&snap, false), 2);
    cairn_service_snapshot_free(&snap);

    /* An ephemeral instance of the same service stays through definition and instance records. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "cp", "ip", "127.0.40.9", "port", "9"));
    r = calloc(3, sizeof *r);
    instance_record(&r[0], CAIRN_PERSIST_DEL, "DEFAULT_GROUP@@cp", "127.0.40.2", 2);
    instance_record(&r[1], CAIRN_PERSIST_PUT, "DEFAULT_GROUP@@cp", "127.0.40.3", 3);
    service_record(&r[2], "DEFAULT_GROUP@@cp", "team-b");
    rep = persist(n, 4, 5, r, 3);
    cr_expect_eq(rep.raft_applied, 5);
    cairn_reply_free(&rep);
    service_get(n, "DEFAULT_GROUP@@cp", &snap);
    cr_expect_eq(count_kind(&snap, false), 2);
    cr_expect_eq(count_kind(&snap, true), 1, "a raft record took an ephemeral instance");
    cr_expect_str_eq(cairn_metadata_get(&snap.service.metadata, "owner"), "team-b");
    cairn_service_snapshot_free(&snap);
    json_t *list = nacos_list(n, Q("serviceName", "cp"));
    cr_expect_eq(list_host_count(list), 3, "the Nacos API lists the projection");
    json_decref(list);

    /* kill -9 of the registry: the watermark and the data are on disk. */
    it_kill_result kr;
    cr_assert(node_kill9_role(n, &it_node_roles[1], 60000, &kr), "%s", kr.why);
    cairn_reply s = stats(n);
    cr_expect_eq(s.raft_applied, 5, "the watermark went back to %llu after a kill -9",
                 (unsigned long long)s.raft_applied);
    cairn_reply_free(&s);
    cr_expect_eq(node_metric(n, "registry", "cairn_registry_raft_applied", NULL), 5.0);
    cr_expect_eq(node_metric(n, "registry", "cairn_registry_store_fresh", NULL), 0.0);
    rep = apply_batch_1_3(n);
    cr_expect(rep.skipped, "a replayed batch was applied again after a restart");
    cairn_reply_free(&rep);
    service_get(n, "DEFAULT_GROUP@@cp", &snap);
    cr_expect_eq(count_kind(&snap, false), 2);
    cairn_service_snapshot_free(&snap);

    /* A service delete takes every instance, ephemeral ones too. */
    r = calloc(1, sizeof *r);
    record_init(r, CAIRN_PERSIST_DEL, CAIRN_PERSIST_SERVICE, "DEFAULT_GROUP@@cp");
    rep = persist(n, 6, 6, r, 1);
    cr_expect_eq(rep.raft_applied, 6);
    cairn_reply_free(&rep);
    service_get(n, "DEFAULT_GROUP@@cp", &snap);
    cr_expect_not(snap.found);
    cairn_service_snapshot_free(&snap);
}

IT_TEST(cluster_registry, persist_replace_rebuilds_and_keeps_ephemeral)
{
    it_node *n = node_start(NULL);
    cairn_reply rep = apply_batch_1_3(n);
    cairn_reply_free(&rep);
    /* An ephemeral-only service, and an ephemeral instance in the raft service. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "eph", "ip", "127.0.41.1", "port", "1"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "cp", "ip", "127.0.41.2", "port", "2"));
    /* A state at or below the watermark is refused. */
    cairn_persist_record *r = calloc(1, sizeof *r);
    service_record(r, "DEFAULT_GROUP@@other", "x");
    rep = persist(n, 0, 3, r, 1);
    cr_expect(rep.skipped);
    cairn_reply_free(&rep);

    /* The state at 10: cp is gone, other has a definition and one instance. */
    r = calloc(2, sizeof *r);
    service_record(&r[0], "DEFAULT_GROUP@@other", "x");
    instance_record(&r[1], CAIRN_PERSIST_PUT, "DEFAULT_GROUP@@other", "127.0.41.3", 3);
    rep = persist(n, 0, 10, r, 2);
    cr_expect_not(rep.skipped);
    cr_expect_eq(rep.raft_applied, 10);
    cairn_reply_free(&rep);
    cairn_service_snapshot snap;
    service_get(n, "DEFAULT_GROUP@@cp", &snap);
    cr_assert(snap.found, "cp still holds an ephemeral instance");
    cr_expect_eq(count_kind(&snap, false), 0);
    cr_expect_eq(count_kind(&snap, true), 1);
    cr_expect_not(snap.service.defined);
    cr_expect_null(cairn_metadata_get(&snap.service.metadata, "owner"));
    cairn_service_snapshot_free(&snap);
    service_get(n, "DEFAULT_GROUP@@eph", &snap);
    cr_expect(snap.found && count_kind(&snap, true) == 1);
    cairn_service_snapshot_free(&snap);
    service_get(n, "DEFAULT_GROUP@@other", &snap);
    cr_expect(snap.found && snap.service.defined && count_kind(&snap, false) == 1);
    cairn_service_snapshot_free(&snap);
    /* The instance counts were rebuilt with the data. */
    cairn_reply s = stats(n);
    cr_expect_eq(s.raft_applied, 10);
    cairn_reply_free(&s);
    rep = apply_batch_1_3(n);
    cr_expect(rep.skipped);
    cairn_reply_free(&rep);
}

IT_TEST(cluster_registry, writes_during_a_load_outlive_its_end)
{
    it_node *a = node_start(NULL);
    it_node *b = node_start(NULL);
    cr_assert_eq(apply_one(a, "DEFAULT_GROUP@@in-snapshot", EPOCH_A, 1, 1, 80,
                           CAIRN_DISTRO_OWNER),
                 CAIRN_DISTRO_APPLIED);
    /* Held by b before the load: goes at its end unless written during it. */
    cr_assert_eq(apply_one(b, "DEFAULT_GROUP@@synced", EPOCH_B, 1, 1, 80, CAIRN_DISTRO_OWNER),
                 CAIRN_DISTRO_APPLIED);
    cr_assert_eq(apply_one(b, "DEFAULT_GROUP@@stale", EPOCH_B, 1, 1, 80, CAIRN_DISTRO_OWNER),
                 CAIRN_DISTRO_APPLIED);
    load_pages(a, b, 77, 0);
    /* During the load: a peer's sync of one service, and a local registration of another. */
    cr_assert_eq(apply_one(b, "DEFAULT_GROUP@@synced", EPOCH_B, 2, 2, 80, CAIRN_DISTRO_OWNER),
                 CAIRN_DISTRO_APPLIED);
    nacos_write_ok(b, "POST", NS "/instance",
                   Q("serviceName", "local", "ip", "127.0.33.1", "port", "1"));
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_load_end(&rq, 77, &st), CAIRN_OK);
    cairn_reply rep = call(b, &rq);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_expect_eq(rep.total, 1, "only the stale service is dropped");
    cairn_reply_free(&rep);
    static const struct {
        const char *svc;
        bool kept;
    } want[] = {{"DEFAULT_GROUP@@in-snapshot", true},
                {"DEFAULT_GROUP@@synced", true},
                {"DEFAULT_GROUP@@local", true},
                {"DEFAULT_GROUP@@stale", false}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cairn_service_snapshot snap;
        service_get(b, want[i].svc, &snap);
        cr_expect_eq(snap.found && count_kind(&snap, true) > 0, want[i].kept, "%s", want[i].svc);
        cairn_service_snapshot_free(&snap);
    }
}
