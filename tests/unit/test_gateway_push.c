/* The gateway's push subscriptions (§12.1): the destination rule, the table with its snapshot
 * for pushers, the sequence on the PUB socket, expiry and bounds, and the reports of the services
 * in use to the registry, over nng inproc. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cairn_java_hash.h"
#include "cairn_metrics.h"
#include "cairn_msg.h"
#include "cairn_requests.h"
#include "cairn_rpc.h"
#include "gateway_push.h"

#define NOW_MS 1700000000000LL

static gateway_push *open_push(const char *name, bool trust, uint32_t max, cairn_metrics *m)
{
    char pub[64], rep[64];
    snprintf(pub, sizeof pub, "inproc://%s-pub", name);
    snprintf(rep, sizeof rep, "inproc://%s-rep", name);
    gateway_push_options o = {
        .publish_url = pub,
        .snapshot_url = rep,
        .trust_client_ip = trust,
        .pushers = 2,
        .ttl_ms = 10000,
        .max_entries = max,
        .metrics = m,
    };
    cairn_status st;
    gateway_push *p = gateway_push_open(&o, &st);
    cr_assert_not_null(p, "%s", st.message);
    return p;
}

static bool subscribe(gateway_push *p, const char *svc, int32_t port, int64_t at_ms)
{
    return gateway_push_subscribe(p, "public", svc, "", "127.0.0.1", port,
                                  "Nacos-Java-Client:v1.0.0", at_ms);
}

/* SUBSCRIPTION_SNAPSHOT for pusher index of 2, as a pusher asks it. */
static void snapshot(const char *name, uint32_t index, cairn_reply *rep)
{
    char url[64];
    snprintf(url, sizeof url, "inproc://%s-rep", name);
    cairn_status st;
    cairn_rpc_client *c = cairn_rpc_client_open(url, "gateway", 2000, &st);
    cr_assert_not_null(c, "%s", st.message);
    cairn_request rq;
    cr_assert_eq(cairn_request_subscription_snapshot(&rq, index, 2, &st), CAIRN_OK);
    cr_assert_eq(cairn_rpc_call(c, &rq, rep, &st), CAIRN_OK, "%s", st.message);
    cairn_request_free(&rq);
    cairn_rpc_client_close(c);
}

Test(gateway_push, destination_is_the_peer_unless_client_ip_is_trusted)
{
    gateway_push *p = open_push("gw-push-dest", false, 100, NULL);
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "127.0.2.1"), "127.0.0.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", NULL), "127.0.0.1");
    cr_assert_null(gateway_push_destination(p, "", "127.0.2.1"));
    cr_assert_null(gateway_push_destination(p, NULL, NULL));
    gateway_push_close(p);

    p = open_push("gw-push-trust", true, 100, NULL);
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "127.0.2.1"), "127.0.2.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "2001:db8::1"), "2001:db8::1");
    /* Only a numeric address is trusted: never a name to resolve, never junk. */
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "example.org"), "127.0.0.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "1.2.3"), "127.0.0.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", NULL), "127.0.0.1");
    gateway_push_close(p);
}

/* Under push.trust_client_ip a clientIP no subscriber can have falls back to the peer, and a
 * loopback or link-local one is taken only from a peer on loopback or the same link. Pure
 * decisions: nothing is sent anywhere (the remote peer is a documentation address). */
Test(gateway_push, trusted_client_ip_is_never_a_special_address)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    gateway_push *p = open_push("gw-push-special", true, 100, m);
    const char *never[] = {"224.0.0.1",       "239.255.255.250", "ff02::1",
                           "::ffff:224.0.0.1", "255.255.255.255", "0.0.0.0",
                           "::",              "::ffff:0.0.0.0",  "240.0.0.1",
                           "0.1.2.3"};
    size_t n = sizeof never / sizeof never[0];
    for (size_t i = 0; i < n; i++) {
        cr_expect_str_eq(gateway_push_destination(p, "198.51.100.3", never[i]), "198.51.100.3",
                         "clientIP %s from a remote peer", never[i]);
        cr_expect_str_eq(gateway_push_destination(p, "127.0.0.1", never[i]), "127.0.0.1",
                         "clientIP %s from a loopback peer", never[i]);
    }
    /* Loopback and link-local: only when the peer proves it is there too. */
    cr_expect_str_eq(gateway_push_destination(p, "198.51.100.3", "127.0.0.1"), "198.51.100.3");
    cr_expect_str_eq(gateway_push_destination(p, "198.51.100.3", "::1"), "198.51.100.3");
    cr_expect_str_eq(gateway_push_destination(p, "198.51.100.3", "::ffff:127.0.0.1"), "198.51.100.3");
    cr_expect_str_eq(gateway_push_destination(p, "127.0.0.1", "127.0.0.2"), "127.0.0.2",
                     "a proxy on this host passing a local client");
    cr_expect_str_eq(gateway_push_destination(p, "::1", "127.0.0.2"), "127.0.0.2");
    cr_expect_str_eq(gateway_push_destination(p, "198.51.100.3", "169.254.169.254"), "198.51.100.3");
    cr_expect_str_eq(gateway_push_destination(p, "127.0.0.1", "169.254.169.254"), "127.0.0.1");
    cr_expect_str_eq(gateway_push_destination(p, "169.254.1.1", "169.254.1.2"), "169.254.1.2");
    cr_expect_str_eq(gateway_push_destination(p, "198.51.100.3", "198.51.100.9"), "198.51.100.9");
    cr_expect_null(gateway_push_destination(p, "", "224.0.0.1"), "no peer, no destination");
    size_t text_len;
    char *text = cairn_metrics_render(m, &text_len);
    char want[96];
    /* 2n special, 3 loopback, 2 link-local, the one without a peer. */
    snprintf(want, sizeof want, "cairn_gateway_push_client_ip_refused_total %zu\n", 2 * n + 6);
    cr_expect(strstr(text, want), "want %s in:\n%s", want, text);
    free(text);
    gateway_push_close(p);
    cairn_metrics_free(m);
}

Test(gateway_push, publishes_numbered_subscriptions_and_counts_honestly)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    gateway_push *p = open_push("gw-push-pub", false, 100, m);
    cairn_counter *published = cairn_metrics_counter(m, "push_subscriptions_total", "",
                                                     "result=\"published\"");
    cairn_counter *recorded = cairn_metrics_counter(m, "push_subscriptions_total", "",
                                                    "result=\"recorded\"");
    /* No pusher connected: recorded (a pusher gets it by snapshot), never "published". */
    cr_assert(subscribe(p, "DEFAULT_GROUP@@early", 4000, NOW_MS));
    cr_assert_eq(cairn_counter_value(published), 0);
    cr_assert_eq(cairn_counter_value(recorded), 1);

    nng_socket sub;
    cr_assert_eq(nng_sub0_open(&sub), 0);
    cr_assert_eq(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
    cr_assert_eq(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100), 0);
    cr_assert_eq(nng_dial(sub, "inproc://gw-push-pub-pub", NULL, 0), 0);
    /* SUB joins asynchronously: publish until one arrives (bounded). */
    char *buf = NULL;
    size_t len = 0;
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        cr_assert(subscribe(p, "DEFAULT_GROUP@@svc", 4321, NOW_MS));
        got = nng_recv(sub, &buf, &len, NNG_FLAG_ALLOC) == 0;
    }
    cr_assert(got, "no subscription arrived");
    cairn_subscription s;
    cairn_status st;
    cr_assert_eq(cairn_subscription_decode(buf, len, &s, &st), CAIRN_OK, "%s", st.message);
    nng_free(buf, len);
    cr_assert_str_eq(s.service, "DEFAULT_GROUP@@svc");
    cr_assert_eq(s.port, 4321);
    cr_assert_eq(s.at_ms, NOW_MS);
    cr_assert_geq(s.seq, 2, "the first subscription took sequence 1");
    uint64_t seq = s.seq;
    cairn_subscription_free(&s);

    cr_assert(subscribe(p, "DEFAULT_GROUP@@svc", 4321, NOW_MS + 1));
    cr_assert_eq(nng_recv(sub, &buf, &len, NNG_FLAG_ALLOC), 0);
    cr_assert_eq(cairn_subscription_decode(buf, len, &s, &st), CAIRN_OK, "%s", st.message);
    nng_free(buf, len);
    cr_assert_eq(s.seq, seq + 1, "sequence numbers follow on");
    cairn_subscription_free(&s);
    nng_close(sub);
    gateway_push_close(p);
    cairn_metrics_free(m);
}

Test(gateway_push, a_snapshot_holds_what_the_pusher_owns_and_the_sequence_it_covers)
{
    gateway_push *p = open_push("gw-push-snap", false, 100, NULL);
    char name[64];
    uint32_t owned_by_1 = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "DEFAULT_GROUP@@svc-%d", i);
        cr_assert(subscribe(p, name, 5000 + i, NOW_MS));
        owned_by_1 += cairn_push_owner("public", name, 2) == 1;
    }
    cr_assert(subscribe(p, "DEFAULT_GROUP@@svc-0", 5000, NOW_MS + 5)); /* a refresh */
    cairn_reply rep;
    snapshot("gw-push-snap", 1, &rep);
    cr_assert_eq(rep.revision, 21, "the snapshot covers every sequence number so far");
    cr_assert_eq(rep.subscription_count, owned_by_1);
    for (uint32_t i = 0; i < rep.subscription_count; i++) {
        const cairn_subscription *e = &rep.subscriptions[i];
        cr_assert_eq(cairn_push_owner(e->namespace_id, e->service, 2), 1);
        cr_assert_str_eq(e->ip, "127.0.0.1");
        cr_assert_str_eq(e->agent, "Nacos-Java-Client:v1.0.0");
    }
    cairn_reply_free(&rep);
    cairn_reply r0;
    snapshot("gw-push-snap", 0, &r0);
    cr_assert_eq(r0.subscription_count, 20 - owned_by_1, "every entry has exactly one owner");
    cairn_reply_free(&r0);
    gateway_push_close(p);
}

Test(gateway_push, entries_expire_and_the_table_is_bounded)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    gateway_push *p = open_push("gw-push-bound", false, 3, m);
    cr_assert(subscribe(p, "DEFAULT_GROUP@@a", 1, NOW_MS));
    cr_assert(subscribe(p, "DEFAULT_GROUP@@b", 2, NOW_MS + 5000));
    cr_assert(subscribe(p, "DEFAULT_GROUP@@c", 3, NOW_MS + 5000));
    cr_assert_not(subscribe(p, "DEFAULT_GROUP@@d", 4, NOW_MS + 5000), "the table is full");
    cr_assert(subscribe(p, "DEFAULT_GROUP@@a", 1, NOW_MS + 1), "a refresh always passes");
    cairn_counter *refused = cairn_metrics_counter(m, "push_subscriptions_total", "",
                                                   "result=\"refused\"");
    cr_assert_eq(cairn_counter_value(refused), 1);
    /* TTL 10 s: at +11 s only a (refreshed at +1 ms) has expired. */
    cr_assert_eq(gateway_push_expire(p, NOW_MS + 11000), 1);
    cr_assert(subscribe(p, "DEFAULT_GROUP@@d", 4, NOW_MS + 11000), "room again");
    cr_assert_eq(gateway_push_expire(p, NOW_MS + 30000), 3);
    gateway_push_close(p);
    cairn_metrics_free(m);
}

/* ---- reports of the services in use --------------------------------------------------------- */

/* A registry that records the SERVICES_IN_USE it is sent. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static char seen[64][64]; /* "ns/svc" of each service reported, in arrival order */
static int seen_count, seen_reports;

static void record_report(void *arg, const cairn_request *req, cairn_reply *rep)
{
    (void)arg;
    (void)rep;
    if (req->type != CAIRN_MSG_SERVICES_IN_USE)
        return; /* (no assertion off the test's thread) never counted, so the test fails */
    pthread_mutex_lock(&seen_mu);
    seen_reports++;
    for (uint32_t i = 0; i < req->state_count && seen_count < 64; i++)
        snprintf(seen[seen_count++], sizeof seen[0], "%s/%s", req->states[i].namespace_id,
                 req->states[i].service);
    pthread_mutex_unlock(&seen_mu);
}

static int reports_seen(void)
{
    pthread_mutex_lock(&seen_mu);
    int n = seen_reports;
    pthread_mutex_unlock(&seen_mu);
    return n;
}

/* Waits (bounded) until n reports have arrived. */
static void await_reports(int n)
{
    for (int i = 0; i < 5000 && reports_seen() < n; i++) {
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    cr_assert_eq(reports_seen(), n);
}

static bool seen_service(const char *name)
{
    pthread_mutex_lock(&seen_mu);
    bool found = false;
    for (int i = 0; i < seen_count; i++)
        found = found || strcmp(seen[i], name) == 0;
    pthread_mutex_unlock(&seen_mu);
    return found;
}

static void forget_seen(void)
{
    pthread_mutex_lock(&seen_mu);
    seen_count = seen_reports = 0;
    pthread_mutex_unlock(&seen_mu);
}

Test(gateway_push, reports_the_services_with_a_subscriber)
{
    cairn_status st;
    cairn_rpc_server *registry = cairn_rpc_server_start("inproc://gw-push-registry", 1,
                                                        record_report, NULL, NULL, &st);
    cr_assert_not_null(registry, "%s", st.message);
    cairn_rpc_client *c = cairn_rpc_client_open("inproc://gw-push-registry", "registry", 2000, &st);
    cr_assert_not_null(c, "%s", st.message);
    cairn_metrics *m = cairn_metrics_new("gateway");
    gateway_push_options o = {
        .publish_url = "inproc://gw-push-report-pub",
        .snapshot_url = "inproc://gw-push-report-rep",
        .pushers = 1,
        .ttl_ms = 10000,
        .max_entries = 100,
        .metrics = m,
        .registry = c,
        .in_use_period_ms = 400,
    };
    gateway_push *p = gateway_push_open(&o, &st);
    cr_assert_not_null(p, "%s", st.message);
    forget_seen();

    cr_assert_eq(gateway_push_report(p, 0), 0, "nothing is in use: nothing is sent");
    /* A service's first subscriber is reported at once; its second, and refreshes, are not. */
    cr_assert(subscribe(p, "DEFAULT_GROUP@@a", 1, NOW_MS));
    await_reports(1);
    cr_assert(seen_service("public/DEFAULT_GROUP@@a"));
    cr_assert(subscribe(p, "DEFAULT_GROUP@@a", 2, NOW_MS));
    cr_assert(subscribe(p, "DEFAULT_GROUP@@a", 1, NOW_MS + 5000));
    cr_assert(subscribe(p, "DEFAULT_GROUP@@b", 3, NOW_MS));
    /* A name no service can have is subscribed, but never reported: the registry would refuse
     * the whole report for it. */
    cr_assert(subscribe(p, "@@nogroup", 4, NOW_MS));
    await_reports(2);

    /* Every period, each service with a subscriber once. */
    forget_seen();
    cr_assert_eq(gateway_push_report(p, 1000), 3);
    cr_assert_eq(gateway_push_report(p, 1399), 0, "within the period");
    await_reports(1);
    cr_assert(seen_service("public/DEFAULT_GROUP@@a") && seen_service("public/DEFAULT_GROUP@@b"));
    cr_assert_not(seen_service("public/@@nogroup"));
    /* b's one subscriber, @@nogroup's and one of a's two expire: a alone is still in use. */
    cr_assert_eq(gateway_push_expire(p, NOW_MS + 11000), 3);
    forget_seen();
    cr_assert_eq(gateway_push_report(p, 1400), 1);
    await_reports(1);
    cr_assert(seen_service("public/DEFAULT_GROUP@@a"));
    cr_assert_eq(gateway_push_expire(p, NOW_MS + 16000), 1);
    cr_assert_eq(gateway_push_report(p, 1800), 0, "no subscriber left: nothing is sent");
    cairn_counter *ok = cairn_metrics_counter(m, "in_use_reports_total", "", "result=\"ok\"");
    for (int i = 0; i < 5000 && cairn_counter_value(ok) < 4; i++) {
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    cr_expect_eq(cairn_counter_value(ok), 4, "every report answered counted");

    gateway_push_close(p);
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(registry);
    cairn_metrics_free(m);
}
