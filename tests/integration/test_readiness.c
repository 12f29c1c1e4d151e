/* Honest readiness (the node says UP only when every role can serve) and subscriptions that are
 * never lost: to a pusher still connecting, or to one killed and restarted. Real nodes on
 * loopback with their default pusher; every wait is a poll with a deadline. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_harness_udp.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

TestSuite(readiness, .fini = it_teardown, .timeout = 600);

#define NS "/nacos/v1/ns"
#define STARTS 50
#define PUSH_WAIT_MS 5000
#define WAIT_MS 10000

/* The first change after a subscription made at the moment the node says it is ready reaches the
 * subscriber, start after start: nothing about it depends on the pusher's connections having
 * been made in time. */
IT_TEST(readiness, a_subscription_right_after_up_is_pushed_the_next_change)
{
    int pushed = 0;
    for (int i = 0; i < STARTS; i++) {
        /* the default event tick, as a node runs (the pusher is ready after the first one) */
        it_node_opts o = {.sets = ARGS("registry.event_tick_ms=1000")};
        it_node *n = node_start(&o);
        it_pushers ps = {.node = n, .count = 1};
        it_udp u;
        udp_open(&u);
        json_t *list = push_list(&ps, IT_PUSH_UA, "right-after-up", "", u.port, NULL);
        cr_expect_eq(json_integer_value(json_object_get(list, "cacheMillis")), 10000,
                     "start %d: a push subscriber must be told cacheMillis 10000", i);
        json_decref(list);
        nacos_write_ok(n, "POST", NS "/instance",
                       Q("serviceName", "right-after-up", "ip", "127.0.0.1", "port", "8080"));
        it_push p;
        if (udp_recv_push_of(&u, "DEFAULT_GROUP@@right-after-up", &p, PUSH_WAIT_MS)) {
            pushed++;
            it_push_free(&p);
        } else {
            cr_expect(false, "start %d: the change after the subscription was not pushed", i);
        }
        udp_close(&u);
        node_stop(n);
    }
    cr_expect_eq(pushed, STARTS, "%d of %d starts pushed the first change", pushed, STARTS);
}

typedef struct status_probe {
    const it_node *n;
    const char *want; /* operator/metrics "status" */
    long ready_code;  /* /nacos/v1/console/health/readiness */
} status_probe;

static bool node_says(void *arg)
{
    status_probe *s = arg;
    char url[160];
    snprintf(url, sizeof url, "%s%s", s->n->gateway_url, NS "/operator/metrics");
    http_resp r = http_request("GET", url, NULL, 0, NULL, NULL, 2000);
    json_t *doc = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    const char *status = json_string_value(json_object_get(doc, "status"));
    bool ok = status && strcmp(status, s->want) == 0;
    json_decref(doc);
    http_resp_free(&r);
    snprintf(url, sizeof url, "%s/nacos/v1/console/health/readiness", s->n->gateway_url);
    r = http_request("GET", url, NULL, 0, NULL, NULL, 2000);
    ok = ok && r.status == s->ready_code;
    http_resp_free(&r);
    return ok;
}

static long admin_ready(const it_node *n)
{
    http_resp r = http_get_addr(n->gateway_admin, "/ready", 2000);
    long code = r.status;
    http_resp_free(&r);
    return code;
}

/* A role that cannot answer (stopped) takes the node out of UP everywhere the node says so, and
 * back when it answers again; a killed pusher likewise until its restart is ready. */
IT_TEST(readiness, the_node_is_up_only_while_every_role_is)
{
    it_node *n = node_start(NULL);
    status_probe up = {n, "UP", 200}, down = {n, "DOWN", 503};
    cr_assert(wait_until(node_says, &up, WAIT_MS), "a started node does not say UP");
    cr_expect_eq(admin_ready(n), 200);

    pid_t pusher = node_role_pid(n, "cairn-pusher");
    cr_assert_gt(pusher, 0);
    cr_assert_eq(kill(pusher, SIGSTOP), 0);
    cr_expect(wait_until(node_says, &down, WAIT_MS), "UP with the pusher stopped");
    cr_expect_eq(admin_ready(n), 503);
    cr_assert_eq(kill(pusher, SIGCONT), 0);
    cr_expect(wait_until(node_says, &up, WAIT_MS), "not UP again once the pusher answers");

    pid_t hc = node_freeze_role(n, "cairn-healthcheck");
    cr_expect(wait_until(node_says, &down, WAIT_MS), "UP with the healthcheck stopped");
    cr_assert_eq(kill(hc, SIGCONT), 0);
    cr_expect(wait_until(node_says, &up, WAIT_MS), "not UP again once the healthcheck answers");

    /* (cairn run restarts it within run.restart_backoff_min_ms, quicker than a poll may see) */
    cr_assert_eq(kill(pusher, SIGKILL), 0);
    it_pushers ps = {.node = n, .count = 1};
    pusher_restart(&ps, 0, pusher);
    cr_expect(wait_until(node_says, &up, WAIT_MS), "not UP again after the pusher restarted");
}

/* Subscriptions made while no pusher runs are recorded, not lost: the pusher that comes up
 * loads them from the gateway and pushes the next change. */
IT_TEST(readiness, a_subscription_made_while_the_pusher_is_down_is_kept)
{
    it_pushers ps;
    pushers_start(&ps, ARGS("push.merge_window_ms=20", "run.restart_backoff_min_ms=2000"), 1);
    pid_t pusher = pusher_pid(&ps, 0);
    cr_assert_eq(kill(pusher, SIGKILL), 0);
    status_probe down = {ps.node, "DOWN", 503};
    cr_assert(wait_until(node_says, &down, WAIT_MS), "UP with the pusher killed");
    it_udp u;
    udp_open(&u);
    json_t *list = push_list(&ps, IT_PUSH_UA, "while-down", "", u.port, NULL);
    cr_expect_eq(json_integer_value(json_object_get(list, "cacheMillis")), 10000);
    json_decref(list);
    cr_expect_geq(node_metric(ps.node, "gateway", "cairn_gateway_push_subscriptions_total",
                              "result=\"recorded\""),
                  1, "a subscription no pusher took is counted as recorded, not published");
    pusher_restart(&ps, 0, pusher);
    cr_expect_eq(pusher_metric(&ps, 0, "subscribers", NULL), 1);
    nacos_write_ok(ps.node, "POST", NS "/instance",
                   Q("serviceName", "while-down", "ip", "127.0.0.1", "port", "8080"));
    it_push p;
    cr_expect(udp_recv_push_of(&u, "DEFAULT_GROUP@@while-down", &p, PUSH_WAIT_MS),
              "the change was not pushed to the subscription made while the pusher was down");
    it_push_free(&p);
    udp_close(&u);
}
