/* The empty-service sweep (registry_sweep.h) on a real store and writer, in virtual time: each
 * pass is given its `now`, relative to the modified_ms the writer stamped on the service; and the
 * reports of services in use that keep a service (registry_in_use.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cairn_clock.h"
#include "registry_sweep.h"
#include "test_registry_fixture.h"

#define AFTER 60000 /* registry.empty_service_clean_after_ms */
#define FAR (INT64_MAX / 4) /* a `now` by which every empty service is due */

static fixture fx;
static registry_sweep *sweep;
static registry_in_use *in_use; /* as the role has it: since its start (here 0, long ago) */

static registry_sweep *start_sweep(registry_in_use *u)
{
    registry_sweep *sw;
    registry_sweep_config c = {.store = &fx.store, .writer = fx.writer, .metrics = &fx.metrics,
                               .in_use = u, .clean_after_ms = AFTER}; /* no period: no thread */
    cairn_status st;
    cr_assert_eq(registry_sweep_start(&c, &sw, &st), CAIRN_OK, "%s", st.message);
    return sw;
}

static void setup(void)
{
    fx_open(&fx, 512, 20000);
    cr_assert(in_use = registry_in_use_new(REGISTRY_IN_USE_MAX_ENTRIES, AFTER, 0));
    fx.reg.in_use = in_use; /* SERVICES_IN_USE through the dispatch reaches it */
    sweep = start_sweep(in_use);
}

static void teardown(void)
{
    registry_sweep_stop(sweep);
    fx_close(&fx);
    registry_in_use_free(in_use);
}

TestSuite(registry_sweep, .init = setup, .fini = teardown);

static void deregister(const char *svc, const char *ip)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_remove(&r, "public", svc, ip, 8080, "DEFAULT", true, &st),
                 CAIRN_OK);
    uint64_t rev;
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_gt(rev, 0, "%s had no %s", svc, ip);
}

/* The service as stored: whether it exists, its modified_ms and instance count. */
static bool service_state(const char *svc, int64_t *modified_ms, uint32_t *instances)
{
    cairn_reply rep;
    fx_snapshot(&fx, svc, &rep);
    bool found = rep.snapshot.found;
    if (modified_ms)
        *modified_ms = rep.snapshot.service.modified_ms;
    if (instances)
        *instances = rep.snapshot.instance_count;
    cairn_reply_free(&rep);
    return found;
}

static size_t pass_of(registry_sweep *sw, int64_t now)
{
    size_t removed = 0;
    cairn_status st;
    cr_assert_eq(registry_sweep_run(sw, now, &removed, &st), CAIRN_OK, "%s", st.message);
    return removed;
}

static size_t pass(int64_t now)
{
    return pass_of(sweep, now);
}

Test(registry_sweep, removes_a_service_once_empty_for_the_whole_delay)
{
    fx_register(&fx, "g@@a", "127.0.0.1", 8080, true);
    deregister("g@@a", "127.0.0.1");
    int64_t emptied;
    cr_assert(service_state("g@@a", &emptied, NULL));
    size_t events = fx_event_count(&fx);
    uint64_t rev_before = fx.events[events - 1].revision;

    cr_assert_eq(pass(emptied + AFTER - 1), 0, "removed before the delay passed");
    cr_assert(service_state("g@@a", NULL, NULL));
    cr_assert_eq(fx_event_count(&fx), events, "a pass that removes nothing writes nothing");

    cr_assert_eq(pass(emptied + AFTER), 1);
    cr_assert_not(service_state("g@@a", NULL, NULL));
    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(services, 0);
    /* A write like any other: a new revision and a REMOVED event, without a snapshot. */
    POLL_UNTIL(fx_event_count(&fx) == events + 1, 5);
    const cairn_change_event *ev = &fx.events[events];
    cr_assert_str_eq(ev->service, "g@@a");
    cr_assert_str_eq(ev->namespace_id, "public");
    cr_assert_eq(ev->kind, CAIRN_CHANGE_REMOVED);
    cr_assert_gt(ev->revision, rev_before);
    cr_assert_null(ev->snapshot);
    cr_assert_eq(cairn_counter_value(cairn_metrics_counter(
                     fx.m, "empty_services_removed_total", "", NULL)),
                 1);
    cr_assert_eq(pass(FAR), 0, "nothing left to remove");
}

Test(registry_sweep, keeps_instances_definitions_and_cluster_settings)
{
    fx_register(&fx, "g@@busy", "127.0.0.1", 8080, true);
    cairn_request r;
    req_service_put(&r, "g@@defined", CAIRN_SERVICE_CREATE);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    /* Implicit, then given a checker by PUT /cluster, then emptied. */
    fx_register(&fx, "g@@clustered", "127.0.0.1", 8080, true);
    cairn_service def;
    cairn_service_init(&def);
    def.clusters = calloc(1, sizeof *def.clusters);
    cairn_cluster_init_default(&def.clusters[0]);
    def.clusters[0].name = strdup("DEFAULT");
    def.clusters[0].check_type = CAIRN_CHECK_NONE;
    def.cluster_count = 1;
    cairn_status st;
    cr_assert_eq(cairn_request_service_put(&r, "public", "g@@clustered", &def,
                                           CAIRN_SERVICE_CLUSTERS, &st),
                 CAIRN_OK);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    deregister("g@@clustered", "127.0.0.1");

    cr_assert_eq(pass(FAR), 0);
    uint32_t n;
    cr_assert(service_state("g@@busy", NULL, &n));
    cr_assert_eq(n, 1);
    cr_assert(service_state("g@@defined", NULL, NULL));
    cr_assert(service_state("g@@clustered", NULL, NULL));
}

Test(registry_sweep, the_write_checks_again)
{
    fx_register(&fx, "g@@a", "127.0.0.1", 8080, true);
    deregister("g@@a", "127.0.0.1");
    int64_t emptied;
    cr_assert(service_state("g@@a", &emptied, NULL));
    /* The sweep saw it empty; a registration lands before its write. */
    fx_register(&fx, "g@@a", "127.0.0.2", 8080, true);
    bool removed = true;
    cairn_status st;
    cr_assert_eq(registry_sweep_remove(sweep, "public", "g@@a", FAR, &removed, &st), CAIRN_OK);
    cr_assert_not(removed, "a service with an instance was removed");
    uint32_t n;
    cr_assert(service_state("g@@a", NULL, &n));
    cr_assert_eq(n, 1);

    /* Emptied again after the cutoff the sweep decided with: it has not been empty long enough. */
    deregister("g@@a", "127.0.0.2");
    int64_t again;
    cr_assert(service_state("g@@a", &again, NULL));
    cr_assert_eq(registry_sweep_remove(sweep, "public", "g@@a", again - 1, &removed, &st),
                 CAIRN_OK);
    cr_assert_not(removed);
    cr_assert_eq(registry_sweep_remove(sweep, "public", "g@@a", again, &removed, &st), CAIRN_OK);
    cr_assert(removed);
    cr_assert_eq(registry_sweep_remove(sweep, "public", "g@@a", again, &removed, &st), CAIRN_OK);
    cr_assert_not(removed, "a missing service is not removed twice");
}

Test(registry_sweep, a_pass_walks_every_page)
{
    enum { N = 1500 }; /* more than a page of services, many chunks of removals */
    for (int i = 0; i < N; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "g@@s-%04d", i);
        fx_register(&fx, svc, "127.0.0.1", 8080, true);
        if (i % 3)
            deregister(svc, "127.0.0.1");
    }
    cr_assert_eq(pass(FAR), N - (N + 2) / 3);
    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(services, (N + 2) / 3);
    cr_assert_eq(instances, (N + 2) / 3);
}

/* ---- registrations racing the sweep ---------------------------------------------------------- */

#define RACERS 300

static atomic_bool racers_done;

static void *register_twice(void *arg)
{
    (void)arg;
    for (int i = 0; i < RACERS; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "g@@r-%03d", i);
        fx_register(&fx, svc, "127.0.0.1", 8080, true);
        deregister(svc, "127.0.0.1");
        fx_register(&fx, svc, "127.0.0.1", 8080, true); /* may recreate a removed service */
    }
    atomic_store(&racers_done, true);
    return NULL;
}

Test(registry_sweep, racing_registrations_keep_their_instances)
{
    pthread_t t;
    atomic_store(&racers_done, false);
    cr_assert_eq(pthread_create(&t, NULL, register_twice, NULL), 0);
    size_t removed = 0;
    while (!atomic_load(&racers_done)) /* pass after pass, every empty service due at once */
        removed += pass(FAR);
    pthread_join(t, NULL);
    removed += pass(FAR);
    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(instances, RACERS, "registrations lost to the sweep");
    cr_assert_eq(services, RACERS);
    cr_log_info("%zu empty services removed while registrations went on", removed);
}

/* ---- services in use (SERVICES_IN_USE) ------------------------------------------------------- */

/* A registered service emptied again; returns when (its modified_ms). */
static int64_t emptied(const char *svc)
{
    fx_register(&fx, svc, "127.0.0.1", 8080, true);
    deregister(svc, "127.0.0.1");
    int64_t at;
    cr_assert(service_state(svc, &at, NULL));
    return at;
}

/* A report of the n services (namespace public) to u as of now: its code. */
static cairn_err report_to(registry_in_use *u, const char *const *svc, uint32_t n, int64_t now)
{
    const char *ns[8] = {0};
    cr_assert_leq(n, 8);
    for (uint32_t i = 0; i < n; i++)
        ns[i] = "public";
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_services_in_use(&r, ns, svc, n, &st), CAIRN_OK);
    cairn_err err = registry_in_use_note(u, &r, now, &st);
    cairn_request_free(&r);
    return err;
}

static void report(const char *svc, int64_t now)
{
    cr_assert_eq(report_to(in_use, &svc, 1, now), CAIRN_OK);
}

Test(registry_sweep, a_service_in_use_stays_until_its_reports_stop)
{
    int64_t e = emptied("g@@left");
    int64_t w = emptied("g@@watched");
    e = w > e ? w : e; /* both empty and unchanged since e */
    report("g@@left", e + 500);     /* before the first pass's cutoff: keeps nothing */
    report("g@@watched", e + 5000); /* within the delay before that pass */

    cr_assert_eq(pass(e + 1000 + AFTER), 1);
    cr_assert_not(service_state("g@@left", NULL, NULL));
    cr_assert(service_state("g@@watched", NULL, NULL), "a service reported in use was removed");
    cr_expect_eq(registry_in_use_size(in_use), 1, "the pass forgot the worthless mark");

    cr_assert_eq(pass(e + 5000 + AFTER - 1), 0);
    cr_assert(service_state("g@@watched", NULL, NULL));
    /* no report for the whole delay: it goes like any empty service */
    cr_assert_eq(pass(e + 5000 + AFTER), 1);
    cr_assert_not(service_state("g@@watched", NULL, NULL));
    cr_expect_eq(registry_in_use_size(in_use), 0);
}

Test(registry_sweep, the_write_checks_the_reports_again)
{
    int64_t e = emptied("g@@a");
    /* The sweep saw it disposable as of e + 1000; a report lands before its write. */
    report("g@@a", e + 5000);
    bool removed = true;
    cairn_status st;
    cr_assert_eq(registry_sweep_remove(sweep, "public", "g@@a", e + 1000, &removed, &st),
                 CAIRN_OK);
    cr_assert_not(removed, "a service reported in use was removed");
    cr_assert_eq(registry_sweep_remove(sweep, "public", "g@@a", e + 5000, &removed, &st),
                 CAIRN_OK);
    cr_assert(removed);
}

Test(registry_sweep, a_restarted_registry_counts_every_service_in_use_at_its_start)
{
    int64_t e = emptied("g@@a");
    /* A registry started at e + 3000 has heard no report from before: its subscribers may
     * report a moment later. */
    registry_in_use *fresh = registry_in_use_new(16, AFTER, e + 3000);
    cr_assert(fresh);
    registry_sweep *restarted = start_sweep(fresh);
    cr_expect_eq(registry_in_use_last(fresh, "public", "g@@a"), e + 3000);
    cr_assert_eq(pass_of(restarted, e + 1000 + AFTER), 0);
    cr_assert(service_state("g@@a", NULL, NULL));
    cr_assert_eq(pass_of(restarted, e + 3000 + AFTER), 1);
    cr_assert_not(service_state("g@@a", NULL, NULL));
    registry_sweep_stop(restarted);
    registry_in_use_free(fresh);
}

Test(registry_sweep, disposable_takes_the_last_report)
{
    cairn_service svc;
    cairn_service_init(&svc);
    svc.modified_ms = 100;
    cr_expect(registry_service_disposable(&svc, 0, INT64_MIN, 100));
    cr_expect(registry_service_disposable(&svc, 0, 100, 100), "a report at the cutoff");
    cr_expect_not(registry_service_disposable(&svc, 0, 101, 100), "a report after the cutoff");
    cr_expect_not(registry_service_disposable(&svc, 1, INT64_MIN, 100));
    cairn_service_free(&svc);
}

/* SERVICES_IN_USE through registry_handle, as the gateway and cairn-grpc send it. */
static cairn_err call_in_use(const char *const *ns, const char *const *svc, uint32_t n,
                             char *msg, size_t msg_len)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_services_in_use(&r, ns, svc, n, &st), CAIRN_OK);
    return fx_do(&fx, &r, NULL, msg, msg_len);
}

Test(registry_sweep, reports_reach_the_registry_by_its_dispatch)
{
    const char *ns[] = {"", "dev"}, *svc[] = {"g@@a", "g@@b"};
    int64_t before = cairn_wall_ms();
    char msg[256];
    cr_assert_eq(call_in_use(ns, svc, 2, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_expect_eq(registry_in_use_size(in_use), 2);
    cr_expect_geq(registry_in_use_last(in_use, "public", "g@@a"), before, "blank is public");
    cr_expect_geq(registry_in_use_last(in_use, "dev", "g@@b"), before);
    cr_expect_eq(registry_in_use_last(in_use, "public", "g@@b"), 0, "never reported: its start");

    /* With the sweep off the registry has no table: a report is answered and forgotten. */
    fx.reg.in_use = NULL;
    cr_assert_eq(call_in_use(ns, svc, 2, msg, sizeof msg), CAIRN_OK, "%s", msg);
    fx.reg.in_use = in_use;
}

Test(registry_sweep, a_bad_report_is_refused_whole)
{
    char msg[256], long_ns[CAIRN_MAX_NAMESPACE_LEN + 2];
    memset(long_ns, 'n', sizeof long_ns - 1);
    long_ns[sizeof long_ns - 1] = '\0';
    const struct {
        const char *ns, *svc;
        const char *message;
    } bad[] = {
        {"public", "", "Param 'serviceName' is required."},
        {"public", "plain",
         "Param 'serviceName' is illegal, it should be format as 'groupName@@serviceName'"},
        {"public", "@@plain", "Param 'serviceName' is illegal, groupName can't be empty"},
        {long_ns, "g@@s", "Param 'namespaceId' is too long (max 128 bytes)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* a good name first: nothing of a refused report is kept */
        const char *ns[] = {"public", bad[i].ns}, *svc[] = {"g@@good", bad[i].svc};
        cr_expect_eq(call_in_use(ns, svc, 2, msg, sizeof msg), CAIRN_E_INVALID, "%s", bad[i].svc);
        cr_expect_str_eq(msg, bad[i].message);
    }
    enum { OVER = CAIRN_IN_USE_MAX_SERVICES + 1 };
    const char *ns[OVER], *svc[OVER];
    for (int i = 0; i < OVER; i++) {
        ns[i] = "public";
        svc[i] = "g@@s";
    }
    cr_expect_eq(call_in_use(ns, svc, OVER, msg, sizeof msg), CAIRN_E_LIMIT);
    cr_expect_str_eq(msg, "too many services in one report (257, limit 256)");
    cr_expect_eq(registry_in_use_size(in_use), 0, "a refused report left marks");
    cr_expect_eq(call_in_use(ns, svc, CAIRN_IN_USE_MAX_SERVICES, msg, sizeof msg), CAIRN_OK,
                 "%s", msg);
}

Test(registry_sweep, the_table_is_bounded)
{
    registry_in_use *u = registry_in_use_new(2, AFTER, 0);
    cr_assert(u);
    const char *two[] = {"g@@a", "g@@b"}, *third = "g@@c";
    cr_assert_eq(report_to(u, two, 2, 1000), CAIRN_OK);
    cr_expect_eq(report_to(u, &third, 1, 1000), CAIRN_E_LIMIT, "a full table took a service");
    cr_expect_eq(registry_in_use_last(u, "public", "g@@c"), 0);
    cr_expect_eq(report_to(u, two, 1, 2000), CAIRN_OK, "a refresh is always taken");
    cr_expect_eq(registry_in_use_last(u, "public", "g@@a"), 2000);
    /* Once a mark is past the delay it is worthless: a full table drops it for a new one. */
    cr_expect_eq(report_to(u, &third, 1, 1000 + AFTER), CAIRN_OK);
    cr_expect_eq(registry_in_use_size(u), 2);
    cr_expect_eq(registry_in_use_last(u, "public", "g@@b"), 0, "the worthless mark went");
    cr_expect_eq(registry_in_use_last(u, "public", "g@@a"), 2000);
    registry_in_use_free(u);
}
