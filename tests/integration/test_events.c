/* Change events on ipc://<run>/registry-events.sock (design §2, common/proto/cairn_msg.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"

TestSuite(events, .fini = it_teardown, .timeout = 120);

/* Waits for the next event of (ns, service), skipping others; false on timeout. */
static bool next_for(it_sub *s, const char *ns, const char *service, cairn_change_event *out,
                     int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return false;
        cairn_change_event ev;
        if (!events_next(s, &ev, (int)left))
            return false;
        if (ev.namespace_id && ev.service && strcmp(ev.namespace_id, ns) == 0 &&
            strcmp(ev.service, service) == 0) {
            *out = ev;
            return true;
        }
        cairn_event_free(&ev);
    }
}

typedef struct warm {
    it_node *n;
    it_sub *sub;
    int round;
} warm;

/* SUB joins asynchronously: write to a throw-away service until its event arrives, so the
 * subscription is known to be live before the writes under test. */
static bool subscription_live(void *arg)
{
    warm *w = arg;
    char port[16];
    snprintf(port, sizeof port, "%d", ++w->round);
    nacos_write_ok(w->n, "POST", NS "/instance",
                   Q("serviceName", "warmup", "ip", "127.9.9.9", "port", port));
    cairn_change_event ev;
    if (next_for(w->sub, "public", "DEFAULT_GROUP@@warmup", &ev, 200)) {
        cairn_event_free(&ev);
        return true;
    }
    return false;
}

IT_TEST(events, registration_publishes_increasing_revisions)
{
    it_node *n = node_start(NULL);
    it_sub sub;
    cr_assert(events_open(&sub, n), "cannot open a SUB socket on registry-events.sock");
    warm w = {n, &sub, 0};
    cr_assert(wait_until(subscription_live, &w, 10000),
              "no change event for a registration within 10 s of subscribing");

    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "ev", "ip", "127.0.0.1", "port", "1"));
    cairn_change_event e1, e2, e3;
    cr_assert(next_for(&sub, "public", "DEFAULT_GROUP@@ev", &e1, 5000),
              "no event for the first registration");
    cr_expect(e1.revision > 0);
    cr_expect(e1.kind != CAIRN_CHANGE_REMOVED);
    cr_expect(e1.at_ms > 0);

    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "ev", "ip", "127.0.0.2", "port", "2"));
    cr_assert(next_for(&sub, "public", "DEFAULT_GROUP@@ev", &e2, 5000),
              "no event for the second registration");
    cr_expect_gt(e2.revision, e1.revision, "revision must increase: %llu then %llu",
                 (unsigned long long)e1.revision, (unsigned long long)e2.revision);
    cr_expect_eq(e2.kind, CAIRN_CHANGE_INSTANCES);

    nacos_write_ok(n, "DELETE", NS "/instance",
                   Q("serviceName", "ev", "ip", "127.0.0.1", "port", "1"));
    cr_assert(next_for(&sub, "public", "DEFAULT_GROUP@@ev", &e3, 5000),
              "no event for a deregistration");
    cr_expect_gt(e3.revision, e2.revision);
    cairn_event_free(&e1);
    cairn_event_free(&e2);
    cairn_event_free(&e3);

    /* Namespaces are carried. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "ev", "groupName", "g", "namespaceId", "ns1", "ip", "127.0.0.3",
                     "port", "3"));
    cairn_change_event e4;
    cr_expect(next_for(&sub, "ns1", "g@@ev", &e4, 5000), "no event with namespace ns1, g@@ev");
    cairn_event_free(&e4);

    /* Deleting the service says so. */
    nacos_write_ok(n, "DELETE", NS "/service", Q("serviceName", "ev"));
    cairn_change_event e5;
    cr_assert(next_for(&sub, "public", "DEFAULT_GROUP@@ev", &e5, 5000),
              "no event for a service deletion");
    cr_expect_eq(e5.kind, CAIRN_CHANGE_REMOVED);
    cairn_event_free(&e5);
    events_close(&sub);
}

IT_TEST(events, no_event_for_a_rejected_write)
{
    it_node *n = node_start(NULL);
    it_sub sub;
    cr_assert(events_open(&sub, n));
    warm w = {n, &sub, 0};
    cr_assert(wait_until(subscription_live, &w, 10000));
    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "rej", "ip", "127.0.0.2", "port", "2"));
    cairn_change_event ev;
    cr_assert(next_for(&sub, "public", "DEFAULT_GROUP@@rej", &ev, 5000));
    cairn_event_free(&ev);
    /* Rejected writes change nothing, so they publish nothing (absence checked for 500 ms). */
    nacos_expect_error(n, "POST", NS "/instance",
                       Q("serviceName", "rej", "ip", "127.0.0.1", "port", "1", "weight", "10001"),
                       NULL, 400, "instance format invalid", true);
    nacos_expect_error(n, "PATCH", NS "/instance",
                       Q("serviceName", "rej", "ip", "127.0.0.3", "port", "3", "weight", "2"),
                       NULL, 400, "instance not found", false);
    bool got = next_for(&sub, "public", "DEFAULT_GROUP@@rej", &ev, 500);
    cr_expect(!got, "an event was published for a rejected write (revision %llu)",
              (unsigned long long)ev.revision);
    if (got)
        cairn_event_free(&ev);
    events_close(&sub);
}
