/* The registry requests of the healthcheck role and of the health/cluster API: SNAPSHOT_PAGE,
 * INSTANCE_HEALTH (by checker and by hand, §5) and SERVICE_PUT in CLUSTERS mode (§6), against a
 * real LMDB store through registry_handle. */
#include "test_registry_fixture.h"

#define SVC "DEFAULT_GROUP@@demo"

static fixture fx;

static void setup(void)
{
    fx_open(&fx, 512, 20000);
}

static void teardown(void)
{
    fx_close(&fx);
}

TestSuite(registry_health, .init = setup, .fini = teardown);

static void req_health(cairn_request *r, const char *svc, const char *ip, int32_t port,
                       const char *cluster, bool ephemeral, bool healthy, cairn_health_mode mode)
{
    req_base(r, CAIRN_MSG_INSTANCE_HEALTH, svc);
    req_set_instance(r, ip, port, cluster, ephemeral);
    r->instance.healthy = healthy;
    r->mode = mode;
}

static bool healthy_in_snapshot(const char *svc, const char *ip, int32_t port, bool ephemeral)
{
    cairn_reply rep;
    fx_snapshot(&fx, svc, &rep);
    const cairn_instance *in = snap_find(&rep, ip, port, "DEFAULT", ephemeral);
    cr_assert(in, "%s:%d not in the snapshot", ip, (int)port);
    bool h = in->healthy;
    cairn_reply_free(&rep);
    return h;
}

/* SERVICE_PUT CLUSTERS with one cluster of the given checker. */
static cairn_err put_cluster(const char *svc, const char *name, cairn_check_type type,
                             char *msg)
{
    cairn_request r;
    req_service_put(&r, svc, CAIRN_SERVICE_CLUSTERS);
    r.service_def.clusters = calloc(1, sizeof(cairn_cluster));
    cairn_cluster_init_default(&r.service_def.clusters[0]);
    r.service_def.clusters[0].name = name ? strdup(name) : NULL;
    r.service_def.clusters[0].check_type = type;
    r.service_def.cluster_count = 1;
    return fx_do(&fx, &r, NULL, msg, 512);
}

Test(registry_health, by_checker_flips_and_publishes)
{
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    size_t events = fx_event_count(&fx);
    cairn_request r;
    uint64_t rev;
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, false, CAIRN_HEALTH_BY_CHECKER);
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_gt(rev, 0, "a flip is a write with a revision");
    cr_assert_not(healthy_in_snapshot(SVC, "127.0.0.1", 80, true));
    cr_assert_eq(fx_event_count(&fx), events + 1, "a flip publishes one change event");
    cr_assert_eq(fx.events[events].kind, CAIRN_CHANGE_INSTANCES);
    cr_assert_eq(fx.events[events].revision, rev);

    /* The same health again changes nothing: no revision, no event. */
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, false, CAIRN_HEALTH_BY_CHECKER);
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_eq(rev, 0);
    cr_assert_eq(fx_event_count(&fx), events + 1);

    /* Unknown ip:port: ok, nothing changes. */
    req_health(&r, SVC, "127.9.9.9", 80, "DEFAULT", true, true, CAIRN_HEALTH_BY_CHECKER);
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_eq(rev, 0);

    /* Only the kind named is touched by the checker. */
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", false, true, CAIRN_HEALTH_BY_CHECKER);
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_eq(rev, 0);
    cr_assert_not(healthy_in_snapshot(SVC, "127.0.0.1", 80, true));

    char msg[512];
    req_health(&r, "DEFAULT_GROUP@@missing", "127.0.0.1", 80, "DEFAULT", true, true,
               CAIRN_HEALTH_BY_CHECKER);
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "service not found: DEFAULT_GROUP@@missing");
}

/* Sets the stored marked flag directly (no API sets it, as in Nacos). */
static void set_marked(const char *svc, const char *ip, int32_t port, bool ephemeral)
{
    cairn_status st;
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(fx.store.env, NULL, 0, &txn), 0);
    cairn_instance in;
    bool found;
    cr_assert_eq(registry_store_get_instance(&fx.store, txn, "public", svc, ephemeral, "DEFAULT",
                                             ip, port, &in, &found, &st),
                 CAIRN_OK);
    cr_assert(found);
    in.marked = true;
    cr_assert_eq(registry_store_put_instance(&fx.store, txn, "public", svc, &in, &st), CAIRN_OK);
    cairn_instance_free(&in);
    cr_assert_eq(mdb_txn_commit(txn), 0);
}

Test(registry_health, by_checker_skips_marked)
{
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    set_marked(SVC, "127.0.0.1", 80, true);
    cairn_request r;
    uint64_t rev;
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, false, CAIRN_HEALTH_BY_CHECKER);
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_eq(rev, 0, "a marked instance is left alone by the checkers");
    cr_assert(healthy_in_snapshot(SVC, "127.0.0.1", 80, true));
}

Test(registry_health, manual_needs_checker_none)
{
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    fx_register(&fx, SVC, "127.0.0.1", 80, false);
    char msg[512];
    cairn_request r;
    uint64_t rev;
    /* The default checker is TCP (§5: then it is always 400). */
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, false, CAIRN_HEALTH_MANUAL);
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "health check is still working, service: " SVC);
    cr_assert(healthy_in_snapshot(SVC, "127.0.0.1", 80, true));

    req_health(&r, SVC, "127.0.0.1", 80, "c9", true, false, CAIRN_HEALTH_MANUAL);
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "cluster not found: c9, service: " SVC);

    cr_assert_eq(put_cluster(SVC, "DEFAULT", CAIRN_CHECK_NONE, msg), CAIRN_OK, "%s", msg);
    size_t events = fx_event_count(&fx);
    /* By hand: every instance with that ip:port in the cluster, both kinds; one write. */
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, false, CAIRN_HEALTH_MANUAL);
    cr_assert_eq(fx_do(&fx, &r, &rev, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_gt(rev, 0);
    cr_assert_not(healthy_in_snapshot(SVC, "127.0.0.1", 80, true));
    cr_assert_not(healthy_in_snapshot(SVC, "127.0.0.1", 80, false));
    cr_assert_eq(fx_event_count(&fx), events + 1);

    /* A marked instance is set by hand too, and stays marked. */
    set_marked(SVC, "127.0.0.1", 80, true);
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, true, CAIRN_HEALTH_MANUAL);
    cr_assert_eq(fx_do(&fx, &r, &rev, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    const cairn_instance *in = snap_find(&rep, "127.0.0.1", 80, "DEFAULT", true);
    cr_assert(in && in->healthy && in->marked);
    cairn_reply_free(&rep);

    /* Unknown ip:port: ok. */
    req_health(&r, SVC, "127.0.0.7", 80, "DEFAULT", true, true, CAIRN_HEALTH_MANUAL);
    cr_assert_eq(fx_do(&fx, &r, &rev, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_eq(rev, 0);

}

/* MANUAL_KIND (a cluster sends each kind on its own path): the named kind only, with MANUAL's
 * cluster rules. */
Test(registry_health, manual_kind_sets_one_kind)
{
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    fx_register(&fx, SVC, "127.0.0.1", 80, false);
    char msg[512];
    cairn_request r;
    uint64_t rev;
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, false, CAIRN_HEALTH_MANUAL_KIND);
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "health check is still working, service: " SVC);
    cr_assert_eq(put_cluster(SVC, "DEFAULT", CAIRN_CHECK_NONE, msg), CAIRN_OK, "%s", msg);
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", true, false, CAIRN_HEALTH_MANUAL_KIND);
    cr_assert_eq(fx_do(&fx, &r, &rev, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_gt(rev, 0);
    cr_assert_not(healthy_in_snapshot(SVC, "127.0.0.1", 80, true));
    cr_assert(healthy_in_snapshot(SVC, "127.0.0.1", 80, false), "the persistent one is untouched");
    req_health(&r, SVC, "127.0.0.1", 80, "DEFAULT", false, false, CAIRN_HEALTH_MANUAL_KIND);
    cr_assert_eq(fx_do(&fx, &r, &rev, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_not(healthy_in_snapshot(SVC, "127.0.0.1", 80, false));
}

Test(registry_health, clusters_mode)
{
    char msg[512];
    cr_assert_eq(put_cluster(SVC, "DEFAULT", CAIRN_CHECK_NONE, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "service not found:" SVC);

    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    cairn_request r;
    req_service_put(&r, SVC, CAIRN_SERVICE_UPDATE);
    r.service_def.protect_threshold = 0.5f;
    cairn_metadata_set(&r.service_def.metadata, "k", "v");
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_OK, "%s", msg);

    size_t events = fx_event_count(&fx);
    cr_assert_eq(put_cluster(SVC, "DEFAULT", CAIRN_CHECK_HTTP, msg), CAIRN_OK, "%s", msg);
    cr_assert_eq(put_cluster(SVC, "c2", CAIRN_CHECK_NONE, msg), CAIRN_OK, "%s", msg);
    cr_assert_eq(fx_event_count(&fx), events + 2);
    cr_assert_eq(fx.events[events].kind, CAIRN_CHANGE_SERVICE);

    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    const cairn_service *s = &rep.snapshot.service;
    cr_assert_eq(s->cluster_count, 2);
    const cairn_cluster *d = cairn_service_find_cluster(s, "DEFAULT");
    const cairn_cluster *c2 = cairn_service_find_cluster(s, "c2");
    cr_assert(d && c2);
    cr_assert_eq(d->check_type, CAIRN_CHECK_HTTP);
    cr_assert_eq(c2->check_type, CAIRN_CHECK_NONE);
    /* Nothing else of the definition changes. */
    cr_assert_float_eq(s->protect_threshold, 0.5f, 1e-6);
    cr_assert_str_eq(cairn_metadata_get(&s->metadata, "k"), "v");
    cr_assert_eq(rep.snapshot.instance_count, 1);
    cairn_reply_free(&rep);

    cr_assert_eq(put_cluster(SVC, "bad_name", CAIRN_CHECK_NONE, msg), CAIRN_E_INVALID);
    cr_assert(strstr(msg, "cluster name can only have these characters"), "%s", msg);
    cr_assert_eq(put_cluster(SVC, NULL, CAIRN_CHECK_NONE, msg), CAIRN_E_INVALID);

    req_service_put(&r, SVC, CAIRN_SERVICE_CLUSTERS);
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "Param 'clusterName' is required.");
}

/* Pages through every service; returns how many snapshots were seen, checking their order. */
static size_t page_all(uint32_t page_size, size_t *pages, uint64_t *instances)
{
    char ns[256] = "", svc[256] = "";
    char last[600] = "";
    size_t seen = 0;
    *pages = 0;
    *instances = 0;
    for (;;) {
        cairn_request r;
        cairn_status st;
        cr_assert_eq(cairn_request_snapshot_page(&r, ns[0] ? ns : NULL, ns[0] ? svc : NULL,
                                                 page_size, &st),
                     CAIRN_OK);
        cairn_reply rep;
        fx_call(&fx, &r, &rep);
        cairn_request_free(&r);
        cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
        (*pages)++;
        cr_assert_leq(rep.snapshot_count, page_size);
        for (uint32_t i = 0; i < rep.snapshot_count; i++) {
            const cairn_service_snapshot *sn = &rep.snapshots[i];
            cr_assert(sn->found);
            char key[600];
            snprintf(key, sizeof key, "%s%c%s", sn->service.namespace_id, 1, sn->service.name);
            cr_assert_gt(strcmp(key, last), 0, "snapshots out of order: %s after %s", key, last);
            snprintf(last, sizeof last, "%s", key);
            *instances += sn->instance_count;
            seen++;
        }
        bool more = rep.more;
        if (rep.snapshot_count) {
            const cairn_service *l = &rep.snapshots[rep.snapshot_count - 1].service;
            snprintf(ns, sizeof ns, "%s", l->namespace_id);
            snprintf(svc, sizeof svc, "%s", l->name);
        }
        cairn_reply_free(&rep);
        if (!more)
            break;
        cr_assert_lt(*pages, 1000, "paging does not end");
    }
    return seen;
}

Test(registry_health, snapshot_pages)
{
    size_t pages;
    uint64_t instances;
    cr_assert_eq(page_all(10, &pages, &instances), 0);
    cr_assert_eq(pages, 1);

    /* 23 services over three namespaces, 2 instances each. */
    static const char *const nss[] = {"public", "alpha", "zeta"};
    for (int i = 0; i < 23; i++) {
        char svc[64];
        snprintf(svc, sizeof svc, "DEFAULT_GROUP@@s%02d", i);
        for (int k = 0; k < 2; k++) {
            cairn_request r;
            req_register(&r, svc, k ? "127.0.0.2" : "127.0.0.1", 80, k == 0);
            free(r.namespace_id);
            r.namespace_id = strdup(nss[i % 3]);
            cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
        }
    }
    cr_assert_eq(page_all(5, &pages, &instances), 23);
    cr_assert_eq(pages, 5);
    cr_assert_eq(instances, 46);
    cr_assert_eq(page_all(23, &pages, &instances), 23);
    cr_assert_eq(pages, 1, "exactly one full page: no more");
    cr_assert_eq(page_all(1000, &pages, &instances), 23);

    /* A cursor naming a service that is gone resumes after where it was. */
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_snapshot_page(&r, "alpha", "DEFAULT_GROUP@@s00x", 100, &st),
                 CAIRN_OK);
    cairn_reply rep;
    fx_call(&fx, &r, &rep);
    cairn_request_free(&r);
    cr_assert_eq(rep.code, CAIRN_OK);
    cr_assert_gt(rep.snapshot_count, 0);
    cr_assert_str_eq(rep.snapshots[0].service.namespace_id, "alpha");
    cr_assert_str_eq(rep.snapshots[0].service.name, "DEFAULT_GROUP@@s01");
    cr_assert_not(rep.more);
    cairn_reply_free(&rep);

    cr_assert_eq(cairn_request_snapshot_page(&r, NULL, NULL, 0, &st), CAIRN_OK);
    char msg[512];
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "page_size must be at least 1");
}
