/* UDP pushes to subscribers (§12, design §4 Push): real nodes and pushers on loopback, UDP
 * listeners in the test playing the subscribers (they ack as the Node client does unless a test
 * withholds the ack). Every wait is a poll with a deadline; udp_quiet is only used to show that
 * something does NOT happen (a retransmit after an ack, a duplicate) within a bound. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_harness.h"
#include "cairn_harness_udp.h"
#include "cairn_nacos.h"

TestSuite(push, .fini = it_teardown, .timeout = 240);

#define G(name) "DEFAULT_GROUP@@" name
#define PUSH_WAIT_MS 5000
/* Long enough that a push that was going to come would have (the merge windows below are
 * 20 ms; ack timeouts 300 ms). */
#define QUIET_MS 800

static void register_instance(it_pushers *ps, const char *svc, const char *ip, const char *port)
{
    nacos_write_ok(ps->node, "POST", NS "/instance",
                   Q("serviceName", svc, "ip", ip, "port", port));
}

/* The next push of service to u, acked; asserts that it arrives. */
static void expect_push(it_udp *u, const char *grouped, it_push *p, const char *what)
{
    cr_assert(udp_recv_push_of(u, grouped, p, PUSH_WAIT_MS), "no push to :%u within %d ms for %s",
              u->port, PUSH_WAIT_MS, what);
}

IT_TEST(push, every_kind_of_change_is_pushed)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20"), 1);
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "kinds", "");
    double port = pusher_metric(&ps, 0, "udp_port", NULL);

    /* Register. */
    register_instance(&ps, "kinds", "127.0.0.1", "8080");
    it_push p;
    expect_push(&u, G("kinds"), &p, "a registration");
    cr_expect_eq(push_host_count(&p), 1, "%s", p.text);
    cr_expect(push_has_host(&p, "127.0.0.1", 8080), "%s", p.text);
    /* data is the /instance/list document for a Java-1.x agent, with the push cacheMillis. */
    cr_expect_str_eq(jstr(p.doc, "name"), G("kinds"));
    cr_expect_str_eq(jstr(p.doc, "dom"), G("kinds"));
    cr_expect_str_eq(jstr(p.doc, "clusters"), "");
    cr_expect_eq(jint(p.doc, "cacheMillis"), 10000);
    cr_expect_str_eq(jstr(p.doc, "hosts.0.serviceName"), G("kinds"));
    /* Sent from the pusher's one socket, the one acks must go to (§12.3). */
    cr_expect_eq((double)p.from_port, port, "push from port %u, pusher's socket is %.0f",
                 p.from_port, port);
    uint64_t last = p.ref_time;
    udp_ack(&u, &p, false);
    it_push_free(&p);

    /* Update (weight). */
    nacos_write_ok(ps.node, "PUT", NS "/instance",
                   Q("serviceName", "kinds", "ip", "127.0.0.1", "port", "8080", "weight", "2.5"));
    expect_push(&u, G("kinds"), &p, "an update");
    cr_expect(jnum(p.doc, "hosts.0.weight") == 2.5, "%s", p.text);
    cr_expect_gt(p.ref_time, last, "lastRefTime must increase");
    last = p.ref_time;
    udp_ack(&u, &p, false);
    it_push_free(&p);

    /* Health flip: a persistent instance marked unhealthy. */
    nacos_write_ok(ps.node, "POST", NS "/instance",
                   Q("serviceName", "kinds", "ip", "127.0.0.2", "port", "8080", "ephemeral",
                     "false"));
    expect_push(&u, G("kinds"), &p, "a second registration");
    cr_expect_eq(push_host_count(&p), 2, "%s", p.text);
    udp_ack(&u, &p, false);
    it_push_free(&p);
    nacos_write_ok(ps.node, "PATCH", NS "/instance",
                   Q("serviceName", "kinds", "ip", "127.0.0.2", "port", "8080", "healthy",
                     "false"));
    expect_push(&u, G("kinds"), &p, "a health flip");
    bool seen = false;
    for (int i = 0; i < push_host_count(&p); i++) {
        char path[32];
        snprintf(path, sizeof path, "hosts.%d.ip", i);
        if (strcmp(jstr(p.doc, path), "127.0.0.2") == 0) {
            snprintf(path, sizeof path, "hosts.%d.healthy", i);
            cr_expect_not(jbool(p.doc, path), "127.0.0.2 still healthy in the push: %s", p.text);
            seen = true;
        }
    }
    cr_expect(seen, "127.0.0.2 missing from the push: %s", p.text);
    cr_expect_gt(p.ref_time, last);
    udp_ack(&u, &p, false);
    it_push_free(&p);

    /* Deregister. */
    nacos_write_ok(ps.node, "DELETE", NS "/instance",
                   Q("serviceName", "kinds", "ip", "127.0.0.1", "port", "8080"));
    expect_push(&u, G("kinds"), &p, "a deregistration");
    cr_expect_eq(push_host_count(&p), 1, "%s", p.text);
    cr_expect_not(push_has_host(&p, "127.0.0.1", 8080), "%s", p.text);
    /* Only the unhealthy 127.0.0.2 is left: protection shows it (§2.5 step 8). */
    cr_expect(jbool(p.doc, "reachProtectionThreshold"), "%s", p.text);
    udp_ack(&u, &p, false);
    it_push_free(&p);

    /* The health API (§5, §6): the cluster's checker set to NONE (a service change), then a
     * manual flip back to healthy. */
    nacos_write_ok(ps.node, "PUT", NS "/cluster",
                   Q("serviceName", "kinds", "clusterName", "DEFAULT", "healthChecker",
                     "{\"type\":\"NONE\"}"));
    expect_push(&u, G("kinds"), &p, "a cluster update");
    udp_ack(&u, &p, false);
    it_push_free(&p);
    nacos_write_ok(ps.node, "PUT", NS "/health/instance",
                   Q("serviceName", "kinds", "ip", "127.0.0.2", "port", "8080", "healthy",
                     "true"));
    expect_push(&u, G("kinds"), &p, "a health API flip");
    cr_expect(jbool(p.doc, "hosts.0.healthy"), "%s", p.text);
    cr_expect_not(jbool(p.doc, "reachProtectionThreshold"), "not healthy by itself: %s", p.text);
    udp_ack(&u, &p, false);
    it_push_free(&p);

    cr_expect_eq(pusher_wait_metric(&ps, 0, "pushes_acked_total", NULL, 7, 5000), 7);
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_sent_total", NULL), 7);
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_retried_total", NULL), 0);
    cr_expect_eq(pusher_metric(&ps, 0, "ack_seconds_count", NULL), 7);
    cr_expect_eq(pusher_metric(&ps, 0, "change_to_send_seconds_count", NULL), 7);
    cr_expect_eq(pusher_metric(&ps, 0, "subscribers", NULL), 1);
    udp_close(&u);
}

IT_TEST(push, gzip_at_the_threshold_and_not_below)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20"), 1); /* push.gzip_threshold 1024 */
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "zip", "");

    register_instance(&ps, "zip", "127.0.0.1", "1");
    it_push p;
    expect_push(&u, G("zip"), &p, "a small registration");
    cr_expect_lt(p.text_len, 1024, "the one-host push should be below 1024 bytes: %zu",
                 p.text_len);
    cr_expect_not(p.gzip, "a %zu-byte push was gzipped", p.text_len);
    udp_ack(&u, &p, false);
    it_push_free(&p);

    /* Metadata makes the document larger than the threshold. */
    char meta[1600];
    int n = snprintf(meta, sizeof meta, "{\"blob\":\"");
    for (int i = 0; i < 1200; i++)
        meta[n++] = (char)('a' + i % 26);
    snprintf(meta + n, sizeof meta - (size_t)n, "\"}");
    nacos_write_ok(ps.node, "POST", NS "/instance",
                   Q("serviceName", "zip", "ip", "127.0.0.2", "port", "2", "metadata", meta));
    expect_push(&u, G("zip"), &p, "a large registration");
    cr_expect(p.gzip, "a %zu-byte push was not gzipped", p.text_len);
    cr_expect_geq(p.text_len, 1024);
    cr_expect_lt(p.wire_len, p.text_len, "gzip did not shrink the push");
    cr_expect_eq(push_host_count(&p), 2, "%s", p.text);
    udp_ack(&u, &p, false);
    it_push_free(&p);

    cr_expect_eq(pusher_wait_metric(&ps, 0, "pushes_acked_total", NULL, 2, 5000), 2);
    cr_expect_eq(pusher_metric(&ps, 0, "gzip_total", NULL), 1);
    double raw = pusher_metric(&ps, 0, "payload_bytes_total", "stage=\"raw\"");
    double sent = pusher_metric(&ps, 0, "payload_bytes_total", "stage=\"sent\"");
    cr_expect_gt(raw, sent, "raw %.0f bytes, sent %.0f", raw, sent);
    udp_close(&u);
}

IT_TEST(push, retransmit_while_the_ack_is_withheld_and_never_after_it)
{
    it_pushers ps;
    pushers_start(&ps,
                  ARGS("push.merge_window_ms=20", "push.ack_timeout_ms=300",
                       "push.max_retries=2"),
                  1);
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "retry", "");

    /* No ack: the first transmission plus exactly max_retries resends of the same bytes. */
    register_instance(&ps, "retry", "127.0.0.1", "1");
    it_push first, again;
    expect_push(&u, G("retry"), &first, "a registration");
    for (int i = 1; i <= 2; i++) {
        cr_assert(udp_recv_push(&u, &again, 3000), "resend %d missing", i);
        cr_expect_eq(again.ref_time, first.ref_time, "a resend has a new lastRefTime");
        cr_expect(again.wire_len == first.wire_len &&
                      memcmp(again.wire, first.wire, first.wire_len) == 0,
                  "resend %d differs from the first transmission", i);
        it_push_free(&again);
    }
    cr_expect(udp_quiet(&u, 4 * 300), "more than max_retries resends");
    cr_expect_eq(pusher_wait_metric(&ps, 0, "pushes_failed_total", NULL, 1, 3000), 1);
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_retried_total", NULL), 2);
    /* A late ack is harmless: counted as unmatched. */
    udp_ack(&u, &first, false);
    it_push_free(&first);
    cr_expect_eq(pusher_wait_metric(&ps, 0, "acks_unmatched_total", NULL, 1, 3000), 1);

    /* An ack (lastRefTime as a number, like the Node client): no resend. */
    register_instance(&ps, "retry", "127.0.0.2", "2");
    it_push p;
    expect_push(&u, G("retry"), &p, "a second registration");
    udp_ack(&u, &p, false);
    it_push_free(&p);
    cr_expect(udp_quiet(&u, 4 * 300), "resent after an ack");

    /* An ack with lastRefTime as a string, like the Java client. */
    register_instance(&ps, "retry", "127.0.0.3", "3");
    expect_push(&u, G("retry"), &p, "a third registration");
    udp_ack(&u, &p, true);
    it_push_free(&p);
    cr_expect(udp_quiet(&u, 4 * 300), "resent after a string ack");

    cr_expect_eq(pusher_wait_metric(&ps, 0, "pushes_acked_total", NULL, 2, 3000), 2);
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_retried_total", NULL), 2);
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_failed_total", NULL), 1);
    cr_expect_eq(pusher_metric(&ps, 0, "pending_pushes", NULL), 0);
    udp_close(&u);
}

typedef struct gauge_arg {
    it_pushers *ps;
    double want;
} gauge_arg;

static bool subscribers_at(void *arg)
{
    gauge_arg *g = arg;
    return pusher_metric(g->ps, 0, "subscribers", NULL) == g->want;
}

IT_TEST(push, zombies_are_dropped_after_the_ttl)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20", "push.subscriber_ttl_ms=600"), 1);
    it_udp gone, alive;
    udp_open(&gone);
    udp_open(&alive);
    push_subscribe(&ps, &gone, "ttl", "");
    push_subscribe(&ps, &alive, "ttl", "clusters-differ");
    cr_expect_eq(pusher_metric(&ps, 0, "subscribers", NULL), 2);

    /* `alive` refreshes as a polling client does; `gone` never lists again. */
    int64_t until = it_now_ms() + 2000;
    while (it_now_ms() < until) {
        json_decref(push_list(&ps, IT_PUSH_UA, "ttl", "clusters-differ", alive.port,
                              IT_FOREIGN_CLIENT_IP));
        udp_quiet(&alive, 150); /* the refresh interval of this client */
    }
    gauge_arg g = {&ps, 1};
    cr_assert(wait_until(subscribers_at, &g, 3000), "the zombie was not dropped");
    cr_expect_geq(pusher_metric(&ps, 0, "zombies_dropped_total", NULL), 1);

    register_instance(&ps, "ttl", "127.0.0.1", "1");
    it_push p;
    expect_push(&alive, G("ttl"), &p, "the refreshing subscriber");
    udp_ack(&alive, &p, false);
    it_push_free(&p);
    cr_expect(udp_quiet(&gone, QUIET_MS), "a zombie got a push");
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_sent_total", NULL), 1);
    udp_close(&gone);
    udp_close(&alive);
}

/* Two services, one owned by each of two pushers. */
static void pick_services(char *a, char *b, size_t len)
{
    a[0] = b[0] = '\0';
    for (int i = 0; i < 1000 && (!a[0] || !b[0]); i++) {
        char name[32], grouped[64];
        snprintf(name, sizeof name, "shard-%d", i);
        snprintf(grouped, sizeof grouped, G("%s"), name);
        char *slot = push_owner("public", grouped, 2) == 0 ? a : b;
        if (!slot[0])
            snprintf(slot, len, "%s", name);
    }
    cr_assert(a[0] && b[0]);
}

/* Each listener gets exactly one push of each service, from its owner. */
static void expect_once_each(it_pushers *ps, it_udp *ls, int nl, const char *const *svcs,
                             const char *what)
{
    for (int l = 0; l < nl; l++) {
        int got[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            it_push p;
            cr_assert(udp_recv_push(&ls[l], &p, PUSH_WAIT_MS), "listener %d: push %d of 2 (%s)",
                      l, k + 1, what);
            for (int s = 0; s < 2; s++) {
                char grouped[64];
                snprintf(grouped, sizeof grouped, G("%s"), svcs[s]);
                if (strcmp(jstr(p.doc, "name"), grouped) == 0) {
                    got[s]++;
                    double owner_port = pusher_metric(ps, s, "udp_port", NULL);
                    cr_expect_eq((double)p.from_port, owner_port,
                                 "%s pushed from port %u, not by its owner pusher-%d", grouped,
                                 p.from_port, s);
                }
            }
            udp_ack(&ls[l], &p, false);
            it_push_free(&p);
        }
        cr_expect(got[0] == 1 && got[1] == 1, "listener %d got %d and %d pushes (%s)", l, got[0],
                  got[1], what);
        cr_expect(udp_quiet(&ls[l], QUIET_MS), "listener %d got a duplicate (%s)", l, what);
    }
}

IT_TEST(push, two_pushers_share_the_services_without_duplicates)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20"), 2);
    char a[32], b[32];
    pick_services(a, b, sizeof a); /* a: pusher-0, b: pusher-1 */
    const char *const svcs[] = {a, b};
    it_udp ls[2];
    for (int l = 0; l < 2; l++) {
        udp_open(&ls[l]);
        push_subscribe(&ps, &ls[l], a, "");
        push_subscribe(&ps, &ls[l], b, "");
    }
    cr_expect_eq(pusher_metric(&ps, 0, "subscribers", NULL), 2);
    cr_expect_eq(pusher_metric(&ps, 1, "subscribers", NULL), 2);
    cr_expect_neq(pusher_metric(&ps, 0, "udp_port", NULL),
                  pusher_metric(&ps, 1, "udp_port", NULL));

    register_instance(&ps, a, "127.0.0.1", "1");
    register_instance(&ps, b, "127.0.0.1", "1");
    expect_once_each(&ps, ls, 2, svcs, "one change each");
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_sent_total", NULL), 2);
    cr_expect_eq(pusher_metric(&ps, 1, "pushes_sent_total", NULL), 2);

    /* Losing pusher-1 loses nothing of pusher-0's. */
    pid_t victim = pusher_pid(&ps, 1);
    cr_assert(victim > 0);
    cr_assert(kill(victim, SIGKILL) == 0);
    register_instance(&ps, a, "127.0.0.2", "2");
    char grouped_a[64];
    snprintf(grouped_a, sizeof grouped_a, G("%s"), a);
    for (int l = 0; l < 2; l++) {
        it_push p;
        expect_push(&ls[l], grouped_a, &p, "pusher-0's service while pusher-1 is down");
        udp_ack(&ls[l], &p, false);
        it_push_free(&p);
    }
    /* pusher-1 comes back with its subscriptions (the gateway's table) before it is ready, and
     * repairs: b may have changed while it was down, so b's subscribers get it once. No
     * subscriber had to list again. */
    pusher_restart(&ps, 1, victim);
    cr_expect_eq(pusher_metric(&ps, 1, "subscribers", NULL), 2);
    char grouped_b[64];
    snprintf(grouped_b, sizeof grouped_b, G("%s"), b);
    for (int l = 0; l < 2; l++) {
        it_push p;
        expect_push(&ls[l], grouped_b, &p, "the restarted pusher's repair push");
        udp_ack(&ls[l], &p, false);
        it_push_free(&p);
    }
    register_instance(&ps, a, "127.0.0.3", "3");
    register_instance(&ps, b, "127.0.0.3", "3");
    expect_once_each(&ps, ls, 2, svcs, "after the restart");
    for (int l = 0; l < 2; l++)
        udp_close(&ls[l]);
}

IT_TEST(push, garbage_datagrams_are_counted_and_ignored)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20"), 1);
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "junk", "");
    register_instance(&ps, "junk", "127.0.0.1", "1");
    it_push p;
    expect_push(&u, G("junk"), &p, "a registration");
    uint16_t pusher_port = p.from_port;
    udp_ack(&u, &p, false);
    it_push_free(&p);

    static const char *const garbage[] = {
        "hello",
        "{}",
        "[1,2,3]",
        "{\"type\":\"push-ack\"}",
        "{\"type\":\"push-ack\",\"lastRefTime\":\"12x\"}",
        "{\"type\":\"push-ack\",\"lastRefTime\":-5}",
        "{\"type\":\"push-ack\",\"lastRefTime\":1.5}",
        "{\"type\":\"push-ack\",\"lastRefTime\":[1]}",
        "{\"type\":\"dom\",\"lastRefTime\":1}",
        "\x1f\x8b\x08\x00garbage",
        "{\"type\":\"push-ack\",\"lastRefTime\":1", /* truncated JSON */
    };
    size_t ng = sizeof garbage / sizeof garbage[0];
    for (size_t i = 0; i < ng; i++)
        udp_send_to(&u, pusher_port, garbage[i], strlen(garbage[i]));
    char big[6000];
    memset(big, '{', sizeof big);
    udp_send_to(&u, pusher_port, big, sizeof big);
    udp_send_to(&u, pusher_port, "", 0);
    ng += 2;
    /* Well-formed acks of pushes that do not exist: not garbage, unmatched. */
    static const char unknown[] = "{\"type\":\"unknown-ack\",\"lastRefTime\":\"42\",\"data\":\"\"}";
    udp_send_to(&u, pusher_port, unknown, strlen(unknown));

    cr_expect_eq(pusher_wait_metric(&ps, 0, "garbage_datagrams_total", NULL, (double)ng, 5000),
                 (double)ng);
    cr_expect_eq(pusher_wait_metric(&ps, 0, "acks_unmatched_total", NULL, 1, 5000), 1);

    /* Still pushing and taking acks. */
    register_instance(&ps, "junk", "127.0.0.2", "2");
    expect_push(&u, G("junk"), &p, "a registration after the garbage");
    cr_expect_eq(push_host_count(&p), 2, "%s", p.text);
    udp_ack(&u, &p, true);
    it_push_free(&p);
    cr_expect_eq(pusher_wait_metric(&ps, 0, "pushes_acked_total", NULL, 2, 5000), 2);
    cr_expect_eq(pusher_metric(&ps, 0, "garbage_datagrams_total", NULL), (double)ng);
    udp_close(&u);
}

/* A list by agent ua with udpPort: its cacheMillis. */
static long long list_cache_millis(it_pushers *ps, const char *ua, const char *svc, int udp_port)
{
    json_t *j = push_list(ps, ua, svc, "", udp_port, NULL);
    long long c = jint(j, "cacheMillis");
    json_decref(j);
    return c;
}

IT_TEST(push, only_push_capable_agents_subscribe)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20"), 1);
    it_udp u;
    udp_open(&u);
    double before = pusher_metric(&ps, 0, "subscriptions_total", NULL);

    /* §12.1: no push for these agents, nor without udpPort: cacheMillis 3000. */
    static const char *const refused[] = {
        "User-Agent: Nacos-SDK-Java:v1.0.0", "User-Agent: Nacos-Server:v1.4.8",
        "User-Agent: curl/8.0.1",            "User-Agent: Nacos-Java-Client:v0.0.9",
        "User-Agent: Nacos-C-Client:v1.0.11", NULL, /* no User-Agent at all */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_expect_eq(list_cache_millis(&ps, refused[i], "agents", u.port), 3000, "agent \"%s\"",
                     refused[i] ? refused[i] : "(none)");
    cr_expect_eq(list_cache_millis(&ps, IT_PUSH_UA, "agents", 0), 3000, "udpPort 0");
    cr_expect_eq(list_cache_millis(&ps, IT_PUSH_UA, "agents", 70000), 3000, "udpPort 70000");

    /* Capable agents: 10000. Subscriptions travel in order, so once these two arrived, the
     * refused ones above would have too. */
    cr_expect_eq(list_cache_millis(&ps, "User-Agent: Nacos-Go-Client:v1.0.0", "barrier", u.port),
                 10000);
    cr_expect_eq(list_cache_millis(&ps, "Client-Version: Nacos-Java-Client:v1.0.0", "barrier",
                                   u.port),
                 10000, "Client-Version stands in for a missing User-Agent");
    cr_expect_eq(pusher_wait_metric(&ps, 0, "subscriptions_total", NULL, before + 2, 5000),
                 before + 2);
    cr_expect_eq(pusher_metric(&ps, 0, "subscribers", NULL), 2); /* one per agent */

    register_instance(&ps, "agents", "127.0.0.1", "1");
    register_instance(&ps, "barrier", "127.0.0.1", "1");
    it_push p;
    expect_push(&u, G("barrier"), &p, "the capable agents' service");
    udp_ack(&u, &p, false);
    it_push_free(&p);
    /* Go (bare names) and Java 1.x (grouped names) render differently: two datagrams. */
    expect_push(&u, G("barrier"), &p, "the second agent class");
    udp_ack(&u, &p, false);
    it_push_free(&p);
    cr_expect(udp_quiet(&u, QUIET_MS), "a push for a refused agent");
    udp_close(&u);
}

/* The first subscription the tap sees, listing svc with clientIP until one shows up (the tap
 * joins asynchronously); asserts one does within 10 s. */
static void tap_first(it_pushers *ps, it_sub *tap, const char *svc, const char *clusters,
                      const char *client_ip, cairn_subscription *s)
{
    int64_t deadline = it_now_ms() + 10000;
    bool got = false;
    while (!got && it_now_ms() < deadline) {
        json_decref(push_list(ps, IT_PUSH_UA, svc, clusters, 4321, client_ip));
        got = subscriptions_tap_next(tap, s, 200);
    }
    cr_assert(got, "no subscription published within 10 s");
}

IT_TEST(push, pushes_go_to_the_tcp_peer_unless_client_ip_is_trusted)
{
    it_pushers ps;
    pushers_start(&ps, NULL, 1);
    it_sub tap;
    subscriptions_tap_open(&tap, ps.node);
    cairn_subscription s;
    tap_first(&ps, &tap, "peer", "c1,c2", IT_FOREIGN_CLIENT_IP, &s);
    cr_expect_str_eq(s.ip, "127.0.0.1", "the destination must be the TCP peer, not clientIP");
    cr_expect_eq(s.port, 4321);
    cr_expect_str_eq(s.namespace_id, "public");
    cr_expect_str_eq(s.service, G("peer"));
    cr_expect_str_eq(s.clusters, "c1,c2");
    cr_expect_str_eq(s.agent, "Nacos-Java-Client:v1.0.0");
    cr_expect_gt(s.at_ms, 0);
    cairn_subscription_free(&s);
    events_close(&tap);
    it_finish();

    /* push.trust_client_ip: clientIP wins when it is a numeric address. No change is made to
     * the service, so nothing is ever sent to that (foreign) address. */
    pushers_start(&ps, ARGS("push.trust_client_ip=true"), 1);
    subscriptions_tap_open(&tap, ps.node);
    tap_first(&ps, &tap, "peer", "", IT_FOREIGN_CLIENT_IP, &s);
    cr_expect_str_eq(s.ip, IT_FOREIGN_CLIENT_IP);
    cairn_subscription_free(&s);
    json_decref(push_list(&ps, IT_PUSH_UA, "peer", "", 4321, "not-an-address"));
    cr_assert(subscriptions_tap_next(&tap, &s, 5000));
    cr_expect_str_eq(s.ip, "127.0.0.1", "a clientIP that is no address falls back to the peer");
    cairn_subscription_free(&s);
    events_close(&tap);
}

/* push.trust_client_ip never makes a multicast, broadcast, unspecified (or, from a loopback peer,
 * link-local) clientIP a destination: the subscription is made for the TCP peer instead, as
 * without the setting, and counted. No change is made to the service, so nothing is ever sent,
 * whichever address a broken gateway recorded. */
IT_TEST(push, trusted_client_ip_is_never_a_special_address)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.trust_client_ip=true"), 1);
    it_sub tap;
    subscriptions_tap_open(&tap, ps.node);
    cairn_subscription s;
    tap_first(&ps, &tap, "special", "", IT_FOREIGN_CLIENT_IP, &s);
    cr_expect_str_eq(s.ip, IT_FOREIGN_CLIENT_IP, "an ordinary clientIP is still trusted");
    cairn_subscription_free(&s);

    const char *special[] = {"224.0.0.1", "255.255.255.255", "0.0.0.0",         "::",
                             "ff02::1",   "::ffff:224.0.0.1", "169.254.169.254", "240.0.0.1"};
    size_t n = sizeof special / sizeof special[0];
    for (size_t i = 0; i < n; i++) {
        json_decref(push_list(&ps, IT_PUSH_UA, "special", "", 4321, special[i]));
        cr_assert(subscriptions_tap_next(&tap, &s, 5000), "no subscription for clientIP %s",
                  special[i]);
        cr_expect_str_eq(s.ip, "127.0.0.1", "clientIP %s became the destination %s", special[i],
                         s.ip);
        cr_expect_eq(s.port, 4321);
        cairn_subscription_free(&s);
    }
    cr_expect_eq(node_metric(ps.node, "gateway", "cairn_gateway_push_client_ip_refused_total",
                             NULL),
                 (double)n);
    /* A loopback clientIP from a loopback peer (a proxy on this host) is taken as it is. */
    json_decref(push_list(&ps, IT_PUSH_UA, "special", "", 4321, "127.0.0.2"));
    cr_assert(subscriptions_tap_next(&tap, &s, 5000));
    cr_expect_str_eq(s.ip, "127.0.0.2");
    cairn_subscription_free(&s);
    events_close(&tap);
}

IT_TEST(push, subscriber_limits_refuse_new_subscribers)
{
    it_pushers ps;
    pushers_start(&ps,
                  ARGS("push.merge_window_ms=20", "push.max_subscribers_per_service=2",
                       "push.max_subscribers=3"),
                  1);
    it_udp ls[5];
    for (int i = 0; i < 5; i++)
        udp_open(&ls[i]);
    push_subscribe(&ps, &ls[0], "capped", "");
    push_subscribe(&ps, &ls[1], "capped", "");
    /* A third subscriber of the service is refused (it still gets its list; it polls). */
    json_decref(push_list(&ps, IT_PUSH_UA, "capped", "", ls[2].port, NULL));
    cr_expect_eq(pusher_wait_metric(&ps, 0, "subscriptions_refused_total",
                                    "reason=\"service_limit\"", 1, 5000),
                 1);
    push_subscribe(&ps, &ls[3], "other", "");
    json_decref(push_list(&ps, IT_PUSH_UA, "third", "", ls[4].port, NULL));
    cr_expect_eq(pusher_wait_metric(&ps, 0, "subscriptions_refused_total",
                                    "reason=\"total_limit\"", 1, 5000),
                 1);
    cr_expect_eq(pusher_metric(&ps, 0, "subscribers", NULL), 3);
    /* Refreshes always pass. */
    push_subscribe(&ps, &ls[0], "capped", "");

    register_instance(&ps, "capped", "127.0.0.1", "1");
    for (int i = 0; i < 2; i++) {
        it_push p;
        expect_push(&ls[i], G("capped"), &p, "an accepted subscriber");
        udp_ack(&ls[i], &p, false);
        it_push_free(&p);
    }
    cr_expect(udp_quiet(&ls[2], QUIET_MS), "a refused subscriber got a push");
    for (int i = 0; i < 5; i++)
        udp_close(&ls[i]);
}

IT_TEST(push, oversize_payloads_are_skipped_and_gzip_is_tried_first)
{
    it_pushers ps;
    /* gzip only from 60000 bytes, datagrams of at most 512. */
    pushers_start(&ps,
                  ARGS("push.merge_window_ms=20", "push.gzip_threshold=60000",
                       "push.max_datagram_bytes=512"),
                  1);
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "big", "");
    /* One host: ~800 bytes of JSON, over 512 plain but not gzipped by the threshold; it is
     * gzipped anyway rather than skipped, since it then fits. */
    register_instance(&ps, "big", "127.0.0.1", "1");
    it_push p;
    expect_push(&u, G("big"), &p, "a registration");
    cr_expect_gt(p.text_len, 512);
    cr_expect(p.gzip);
    cr_expect_leq(p.wire_len, 512);
    udp_ack(&u, &p, false);
    it_push_free(&p);

    /* Metadata that does not compress: skipped, counted; the subscriber polls. */
    char meta[1200];
    int n = snprintf(meta, sizeof meta, "{\"noise\":\"");
    uint32_t x = 2463534242u;
    for (int i = 0; i < 1000; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift: incompressible text */
        meta[n++] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[x % 62];
    }
    snprintf(meta + n, sizeof meta - (size_t)n, "\"}");
    nacos_write_ok(ps.node, "POST", NS "/instance",
                   Q("serviceName", "big", "ip", "127.0.0.2", "port", "2", "metadata", meta));
    cr_expect_eq(pusher_wait_metric(&ps, 0, "oversize_skipped_total", NULL, 1, 5000), 1);
    cr_expect(udp_quiet(&u, QUIET_MS), "an oversize push was sent");
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_sent_total", NULL), 1);
    udp_close(&u);
}

IT_TEST(push, sends_over_the_rate_wait_and_are_not_lost)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20", "push.max_sends_per_second=2"), 1);
    it_udp u;
    udp_open(&u);
    const char *const svcs[] = {"rate-a", "rate-b", "rate-c", "rate-d"};
    for (int i = 0; i < 4; i++)
        push_subscribe(&ps, &u, svcs[i], "");
    int64_t t0 = it_now_ms();
    for (int i = 0; i < 4; i++)
        register_instance(&ps, svcs[i], "127.0.0.1", "1");
    /* Two go at once (a second's burst), the others at two per second. */
    bool seen[4] = {false};
    for (int k = 0; k < 4; k++) {
        it_push p;
        cr_assert(udp_recv_push(&u, &p, PUSH_WAIT_MS), "push %d of 4 missing", k + 1);
        for (int i = 0; i < 4; i++) {
            char grouped[64];
            snprintf(grouped, sizeof grouped, G("%s"), svcs[i]);
            if (strcmp(jstr(p.doc, "name"), grouped) == 0)
                seen[i] = true;
        }
        udp_ack(&u, &p, false);
        it_push_free(&p);
    }
    int64_t took = it_now_ms() - t0;
    cr_expect(seen[0] && seen[1] && seen[2] && seen[3], "a service's push was lost");
    cr_expect_geq(took, 400, "4 pushes to one destination at 2/s took only %lld ms",
                  (long long)took);
    cr_expect_geq(pusher_metric(&ps, 0, "rate_limited_total", NULL), 1);
    cr_expect_eq(pusher_metric(&ps, 0, "pushes_sent_total", NULL), 4);
    udp_close(&u);
}

IT_TEST(push, changes_coalesce_and_each_clusters_filter_is_rendered_once)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=1000"), 1);
    it_udp all1, all2, dflt;
    udp_open(&all1);
    udp_open(&all2);
    udp_open(&dflt);
    push_subscribe(&ps, &all1, "merge", "");
    push_subscribe(&ps, &all2, "merge", "");
    push_subscribe(&ps, &dflt, "merge", "DEFAULT");
    /* Five changes well within one merge window. */
    for (int i = 1; i <= 5; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", i);
        register_instance(&ps, "merge", ip, "80");
    }
    it_push a, b, d;
    expect_push(&all1, G("merge"), &a, "the coalesced changes");
    expect_push(&all2, G("merge"), &b, "the coalesced changes");
    expect_push(&dflt, G("merge"), &d, "the coalesced changes");
    cr_expect_eq(push_host_count(&a), 5, "the push does not hold all five changes: %s", a.text);
    cr_expect_eq(pusher_metric(&ps, 0, "push_rounds_total", NULL), 1);
    /* Same filter: the very same datagram; another filter: its own rendering. */
    cr_expect_eq(a.ref_time, b.ref_time);
    cr_expect(a.wire_len == b.wire_len && memcmp(a.wire, b.wire, a.wire_len) == 0);
    cr_expect_neq(d.ref_time, a.ref_time);
    cr_expect_str_eq(jstr(d.doc, "clusters"), "DEFAULT");
    cr_expect_str_eq(jstr(a.doc, "clusters"), "");
    udp_ack(&all1, &a, false);
    udp_ack(&all2, &b, false);
    udp_ack(&dflt, &d, true);
    it_push_free(&a);
    it_push_free(&b);
    it_push_free(&d);
    cr_expect(udp_quiet(&all1, 1500), "a second push for coalesced changes");
    cr_expect_eq(pusher_wait_metric(&ps, 0, "pushes_acked_total", NULL, 3, 5000), 3);
    udp_close(&all1);
    udp_close(&all2);
    udp_close(&dflt);
}

IT_TEST(push, a_pusher_index_not_below_the_count_is_a_config_error)
{
    const char *dir = it_tmpdir();
    char data_set[PATH_MAX + 32];
    snprintf(data_set, sizeof data_set, "node.data_dir=%s/data", dir);
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/cairn-pusher", CAIRN_BIN_DIR);
    static const char *const cases[][2] = {
        {"pusher.count=2", "pusher.index=2"},
        {"pusher.count=0", "pusher.index=0"},
    };
    for (size_t i = 0; i < 2; i++) {
        char *out = NULL, *err = NULL;
        int rc = it_run(ARGS(bin, "--set", data_set, "--set", cases[i][0], "--set", cases[i][1],
                             "--set", "pusher.admin_listen=127.0.0.1:0"),
                        10000, &out, &err);
        cr_expect_eq(rc, 78, "%s %s: exit %d, stderr: %s", cases[i][0], cases[i][1], rc, err);
        cr_expect(err && strstr(err, "pusher.index") && strstr(err, "pusher.count"),
                  "the message names the keys: %s", err);
        free(out);
        free(err);
    }
    char data[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data", dir);
    cr_expect(access(data, F_OK) != 0, "a pusher with a bad index created %s", data);
}

/* ---- change events carry the service's snapshot --------------------------------------------- */

static double service_gets(const it_pushers *ps)
{
    return node_metric(ps->node, "registry", "cairn_registry_reads_total",
                       "type=\"service_get\"");
}

typedef struct tracked_wait {
    const it_pushers *ps;
    double want;
    double last;
} tracked_wait;

static bool tracked_is(void *arg)
{
    tracked_wait *w = arg;
    w->last = node_metric(w->ps->node, "healthcheck", "cairn_healthcheck_instances_tracked", NULL);
    return w->last == w->want;
}

/* The healthcheck's table holds want instances (it follows registrations and removals). */
static void expect_tracked(const it_pushers *ps, double want)
{
    tracked_wait w = {.ps = ps, .want = want};
    cr_assert(wait_until(tracked_is, &w, PUSH_WAIT_MS), "healthcheck tracks %.0f, not %.0f",
              w.last, want);
}

/* Registers ip:8080 in "snap", or deregisters it, and expects the push of the hosts after it. */
static void change_and_expect_push(it_pushers *ps, it_udp *u, const char *method, const char *ip,
                                   int hosts)
{
    nacos_write_ok(ps->node, method, NS "/instance",
                   Q("serviceName", "snap", "ip", ip, "port", "8080"));
    it_push p;
    expect_push(u, G("snap"), &p, method);
    cr_expect_eq(push_host_count(&p), hosts, "%s", p.text);
    cr_expect_eq(push_has_host(&p, ip, 8080), strcmp(method, "POST") == 0, "%s", p.text);
    udp_ack(u, &p, false);
    it_push_free(&p);
}

/* The pusher pushes, and the healthcheck tracks, each change from the snapshot or the delta its
 * event carries: the registry answers no SERVICE_GET meanwhile. A subscribed service's events
 * carry the whole snapshot once the gateway has reported the subscriber to the registry. */
IT_TEST(push, changes_are_followed_from_the_events_snapshots)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20"), 1);
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "snap", ""); /* its list may read the service */
    cr_assert_geq(node_wait_metric(ps.node, "gateway", "cairn_gateway_in_use_reports_total",
                                   "result=\"ok\"", 1, PUSH_WAIT_MS),
                  1, "the gateway reported the subscribed service");
    double gets = service_gets(&ps);
    cr_assert_geq(gets, 0);

    change_and_expect_push(&ps, &u, "POST", "127.0.0.1", 1);
    change_and_expect_push(&ps, &u, "POST", "127.0.0.2", 2);
    expect_tracked(&ps, 2);
    change_and_expect_push(&ps, &u, "POST", "127.0.0.3", 3);
    change_and_expect_push(&ps, &u, "DELETE", "127.0.0.2", 2);
    expect_tracked(&ps, 2);

    cr_expect_eq(service_gets(&ps), gets, "the registry was asked for the service");
    cr_expect_geq(pusher_metric(&ps, 0, "push_snapshots_total", "source=\"event\""),
                  4);
    cr_expect_eq(pusher_metric(&ps, 0, "push_snapshots_total",
                               "source=\"registry\""),
                 0);
    cr_expect_geq(node_metric(ps.node, "registry", "cairn_registry_events_total",
                              "snapshot=\"carried\""),
                  4);
    cr_expect_geq(node_metric(ps.node, "registry", "cairn_registry_event_deltas_total", NULL),
                  1, "the third registration is a delta too (for the healthcheck)");
    udp_close(&u);
}

/* A service nobody subscribes to is followed from deltas alone: its events carry the instances
 * each write changed, not the service, and the healthcheck tracks every registration and
 * removal without reading the service back. */
IT_TEST(push, unwatched_services_are_followed_from_deltas)
{
    it_pushers ps;
    pushers_start(&ps, NULL, 1);
    double gets = service_gets(&ps);
    char ip[32];
    for (int i = 1; i <= 8; i++) {
        snprintf(ip, sizeof ip, "127.0.0.%d", i);
        nacos_write_ok(ps.node, "POST", NS "/instance",
                       Q("serviceName", "quiet", "ip", ip, "port", "8080"));
    }
    expect_tracked(&ps, 8);
    for (int i = 1; i <= 3; i++) {
        snprintf(ip, sizeof ip, "127.0.0.%d", i);
        nacos_write_ok(ps.node, "DELETE", NS "/instance",
                       Q("serviceName", "quiet", "ip", ip, "port", "8080"));
    }
    expect_tracked(&ps, 5);
    cr_expect_eq(service_gets(&ps), gets, "the registry was asked for the service");
    /* registrations 3..8 and the three removals (each leaves more than twice one instance) */
    cr_expect_geq(node_metric(ps.node, "registry", "cairn_registry_event_deltas_total", NULL),
                  8);
    cr_expect_eq(node_metric(ps.node, "registry", "cairn_registry_events_total",
                             "snapshot=\"carried\""),
                 2, "the first two registrations, while a delta is no smaller");
}

/* Without snapshots in events (registry.event_snapshot_max_bytes=0, as for a service over the
 * cap) both read the service back, and still follow every change. */
IT_TEST(push, without_snapshots_changes_are_read_back)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20", "registry.event_snapshot_max_bytes=0"), 1);
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "snap", "");
    double gets = service_gets(&ps);

    change_and_expect_push(&ps, &u, "POST", "127.0.0.1", 1);
    change_and_expect_push(&ps, &u, "POST", "127.0.0.2", 2);
    change_and_expect_push(&ps, &u, "DELETE", "127.0.0.1", 1);
    expect_tracked(&ps, 1);

    /* one read per change by the pusher and one by the healthcheck (it may merge some) */
    cr_expect_geq(service_gets(&ps), gets + 3 + 1);
    cr_expect_geq(pusher_metric(&ps, 0, "push_snapshots_total",
                                "source=\"registry\""),
                  3);
    cr_expect_eq(pusher_metric(&ps, 0, "push_snapshots_total", "source=\"event\""),
                 0);
    cr_expect_eq(node_metric(ps.node, "registry", "cairn_registry_events_total",
                             "snapshot=\"carried\""),
                 0);
    udp_close(&u);
}
