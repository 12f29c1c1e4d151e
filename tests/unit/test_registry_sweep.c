/* The empty-service sweep (registry_sweep.h) on a real store and writer, in virtual time: each
 * pass is given its `now`, relative to the modified_ms the writer stamped on the service. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "registry_sweep.h"
#include "test_registry_fixture.h"

#define AFTER 60000 /* registry.empty_service_clean_after_ms */
#define FAR (INT64_MAX / 4) /* a `now` by which every empty service is due */

static fixture fx;
static registry_sweep *sweep;

static void setup(void)
{
    fx_open(&fx, 512, 20000);
    registry_sweep_config c = {.store = &fx.store, .writer = fx.writer, .metrics = &fx.metrics,
                               .clean_after_ms = AFTER}; /* no period: no thread */
    cairn_status st;
    cr_assert_eq(registry_sweep_start(&c, &sweep, &st), CAIRN_OK, "%s", st.message);
}

static void teardown(void)
{
    registry_sweep_stop(sweep);
    fx_close(&fx);
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

static size_t pass(int64_t now)
{
    size_t removed = 0;
    cairn_status st;
    cr_assert_eq(registry_sweep_run(sweep, now, &removed, &st), CAIRN_OK, "%s", st.message);
    return removed;
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
