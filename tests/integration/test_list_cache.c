/* The gateway's instance/list body cache against a real node: a repeated list is served from the
 * cache; a client reads its own writes at once; changes made by other roles (the healthcheck's
 * expiry, writes straight to the registry's socket) reach the cache through the registry's change
 * events; a registry killed and restarted empties it. The tests that rely on events set the
 * cache's max age to ten minutes, so that only an invalidation can explain a fresh answer. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"
#include "cairn_prom_text.h"
#include "cairn_requests.h"

TestSuite(list_cache, .fini = it_teardown, .timeout = 180);

#define LONG_AGE "gateway.list_cache_max_age_ms=600000"
#define WAIT_MS 15000

/* Sum of the gateway's samples named name (-1 when /metrics cannot be read). */
static double gw_metric(const it_node *n, const char *name)
{
    http_resp r = http_get_addr(n->gateway_admin, "/metrics", 5000);
    double v = -1;
    cairn_prom_text t;
    char err[256];
    if (r.status == 200 && cairn_prom_parse(r.body, r.body_len, &t, err, sizeof err)) {
        size_t count = 0;
        v = cairn_prom_sum_named(&t, name, NULL, &count);
        if (count == 0)
            v = -1;
        cairn_prom_free(&t);
    }
    http_resp_free(&r);
    return v;
}

static bool cache_live(void *arg)
{
    return gw_metric(arg, "cairn_gateway_list_cache_live") == 1;
}

static void wait_cache_live(it_node *n)
{
    cr_assert(wait_until(cache_live, n, WAIT_MS),
              "the gateway's list cache is not following the registry's events (list_cache_live "
              "is %g)",
              gw_metric(n, "cairn_gateway_list_cache_live"));
}

/* The raw body of a list (asserts 200). */
static char *list_body(const it_node *n, const char *svc, const char *const *headers)
{
    http_resp r = nacos_call(n, "GET", NS "/instance/list", Q("serviceName", svc), NULL, headers);
    cr_assert_eq(r.status, 200, "list %s: %ld %s", svc, r.status, r.body);
    char *b = strdup(r.body);
    http_resp_free(&r);
    return b;
}

/* Lists svc twice and expects the second answer from the cache, with the first one's body.
 * Retried: a change event being applied while the first list fills the cache voids that fill
 * (the cache cannot tell whether the body predates the change), and then both are rendered. */
static char *list_twice_second_hits(const it_node *n, const char *svc,
                                    const char *const *headers)
{
    for (int i = 0; i < 10; i++) {
        char *a = list_body(n, svc, headers);
        double h = gw_metric(n, "cairn_gateway_list_cache_hits_total");
        char *b = list_body(n, svc, headers);
        bool hit = gw_metric(n, "cairn_gateway_list_cache_hits_total") == h + 1;
        if (hit) {
            cr_expect_str_eq(b, a, "the cached body differs from the rendered one");
            free(b);
            return a;
        }
        free(a);
        free(b);
    }
    cr_assert_fail("the second of two lists of %s was never served from the cache", svc);
    return NULL;
}

static void reg(const it_node *n, const char *svc, const char *ip, const char *port,
                const char *ephemeral)
{
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", svc, "ip", ip, "port", port, "ephemeral", ephemeral));
}

IT_TEST(list_cache, a_repeated_list_is_a_hit)
{
    it_node *n = node_start(NULL);
    reg(n, "hit", "127.0.0.1", "8080", "true");
    wait_cache_live(n);

    double misses = gw_metric(n, "cairn_gateway_list_cache_misses_total");
    char *first = list_twice_second_hits(n, "hit", NULL);
    cr_expect_geq(gw_metric(n, "cairn_gateway_list_cache_misses_total"), misses + 1);
    /* A Java 1.x agent gets grouped names: another body, cached apart. */
    char *java = list_twice_second_hits(n, "hit", Q(JAVA_UA));
    cr_expect_neq(strcmp(java, first), 0, "the Java agent got the Node agent's body");
    cr_expect_geq(gw_metric(n, "cairn_gateway_list_cache_entries"), 2);
    free(first);
    free(java);
}

IT_TEST(list_cache, a_client_reads_its_own_writes)
{
    /* A long max age: only the invalidation after each write can make the next list fresh. */
    it_node *n = node_start(&(it_node_opts){.sets = ARGS(LONG_AGE)});
    wait_cache_live(n);
    for (int i = 1; i <= 20; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.1.%d", i);
        json_decref(nacos_list(n, Q("serviceName", "ryw"))); /* warm: the old body is cached */
        reg(n, "ryw", ip, "9000", "true");
        json_t *l = nacos_list(n, Q("serviceName", "ryw"));
        cr_expect_not_null(list_find_host(l, ip, 9000), "instance %d missing right after its "
                                                        "registration",
                           i);
        cr_expect_eq(list_host_count(l), i);
        json_decref(l);
    }
    /* Update (§2.3), patch (§2.4), deregister (§2.2): each visible on the next list. */
    json_decref(nacos_list(n, Q("serviceName", "ryw")));
    nacos_write_ok(n, "PUT", NS "/instance",
                   Q("serviceName", "ryw", "ip", "127.0.1.1", "port", "9000", "weight", "3.5"));
    json_t *l = nacos_list(n, Q("serviceName", "ryw"));
    cr_expect_eq(jnum(list_find_host(l, "127.0.1.1", 9000), "weight"), 3.5);
    json_decref(l);
    nacos_write_ok(n, "PATCH", NS "/instance",
                   Q("serviceName", "ryw", "ip", "127.0.1.2", "port", "9000", "weight", "7"));
    l = nacos_list(n, Q("serviceName", "ryw"));
    cr_expect_eq(jnum(list_find_host(l, "127.0.1.2", 9000), "weight"), 7.0);
    json_decref(l);
    nacos_write_ok(n, "DELETE", NS "/instance",
                   Q("serviceName", "ryw", "ip", "127.0.1.3", "port", "9000"));
    l = nacos_list(n, Q("serviceName", "ryw"));
    cr_expect_null(list_find_host(l, "127.0.1.3", 9000), "deregistered instance still listed");
    cr_expect_eq(list_host_count(l), 19);
    json_decref(l);
    cr_expect_gt(gw_metric(n, "cairn_gateway_list_cache_invalidations_total"), 0);
}

IT_TEST(list_cache, a_health_flip_by_hand_is_seen_at_once)
{
    it_node *n = node_start(&(it_node_opts){.sets = ARGS(LONG_AGE)});
    wait_cache_live(n);
    /* Two persistent instances (one unhealthy of two stays under no protect threshold), health
     * decided by hand: the NONE checker. */
    reg(n, "hand", "127.0.0.1", "1", "false");
    reg(n, "hand", "127.0.0.1", "2", "false");
    nacos_write_ok(n, "PUT", NS "/cluster",
                   Q("serviceName", "hand", "clusterName", "DEFAULT", "healthChecker",
                     "{\"type\":\"NONE\"}"));
    json_t *l = nacos_list(n, Q("serviceName", "hand"));
    cr_assert(jbool(list_find_host(l, "127.0.0.1", 1), "healthy"));
    json_decref(l);
    nacos_write_ok(n, "PUT", NS "/health/instance",
                   Q("serviceName", "hand", "ip", "127.0.0.1", "port", "1", "healthy", "false"));
    l = nacos_list(n, Q("serviceName", "hand"));
    cr_expect_not(jbool(list_find_host(l, "127.0.0.1", 1), "healthy"),
                  "the flip to unhealthy is not in the next list");
    cr_expect(jbool(list_find_host(l, "127.0.0.1", 2), "healthy"));
    json_decref(l);
}

typedef struct host_probe {
    const it_node *n;
    const char *svc, *ip;
    int port;
    bool want_present;
    int lists;
} host_probe;

static bool host_is(void *arg)
{
    host_probe *p = arg;
    json_t *l = nacos_list(p->n, Q("serviceName", p->svc));
    bool present = list_find_host(l, p->ip, p->port) != NULL;
    json_decref(l);
    p->lists++;
    return present == p->want_present;
}

IT_TEST(list_cache, an_expiry_by_the_healthcheck_reaches_the_cache)
{
    it_node *n = node_start(&(it_node_opts){
        .sets = ARGS(LONG_AGE, "health.check_interval_ms=200", "health.beat_timeout_ms=500",
                     "health.delete_timeout_ms=1500")});
    wait_cache_live(n);
    reg(n, "exp", "127.0.2.1", "7000", "true"); /* never beaten: the healthcheck removes it */
    double hits = gw_metric(n, "cairn_gateway_list_cache_hits_total");
    host_probe p = {n, "exp", "127.0.2.1", 7000, true, 0};
    cr_assert(host_is(&p), "the instance is not listed after its registration");
    p.want_present = false;
    cr_expect(wait_until(host_is, &p, WAIT_MS),
              "the healthcheck's removal did not reach the list within %d ms", WAIT_MS);
    /* It was cached in the meantime: the change came through an event, not a max age. */
    cr_expect_gt(gw_metric(n, "cairn_gateway_list_cache_hits_total"), hits,
                 "no list was served from the cache while waiting (%d lists)", p.lists);
}

/* Registers ip:port in svc through the registry's own socket, bypassing the gateway. */
static void register_directly(const it_node *n, const char *svc, const char *ip, int port)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup(ip);
    in.port = port;
    in.cluster = strdup("DEFAULT");
    in.app = strdup("DEFAULT");
    cr_assert(in.ip && in.cluster && in.app);
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_upsert(&rq, "public", svc, &in, CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK, "%s", st.message);
    cairn_reply rep;
    cairn_err err = registry_request(n, &rq, &rep, 5000);
    cr_assert_eq(err, CAIRN_OK, "direct upsert: %s", cairn_err_name(err));
    cr_assert_eq(rep.code, CAIRN_OK, "direct upsert refused: %s",
                 rep.message ? rep.message : "");
    cairn_reply_free(&rep);
    cairn_request_free(&rq);
}

typedef struct flush_probe {
    const it_node *n;
    double at_least;
} flush_probe;

static bool flushed_enough(void *arg)
{
    flush_probe *f = arg;
    return gw_metric(f->n, "cairn_gateway_list_cache_flushes_total") >= f->at_least;
}

IT_TEST(list_cache, a_registry_restart_flushes_and_direct_changes_are_seen)
{
    it_node *n = node_start(&(it_node_opts){.sets = ARGS(LONG_AGE)});
    reg(n, "rst", "127.0.3.1", "7000", "false");
    wait_cache_live(n);
    free(list_twice_second_hits(n, "rst", NULL));

    /* A change straight to the registry: only its event can tell the gateway. */
    register_directly(n, "DEFAULT_GROUP@@rst", "127.0.3.2", 7000);
    host_probe p = {n, "rst", "127.0.3.2", 7000, true, 0};
    cr_expect(wait_until(host_is, &p, WAIT_MS), "a direct registry write was not listed");

    double flushes = gw_metric(n, "cairn_gateway_list_cache_flushes_total");
    pid_t reg_pid = node_role_pid(n, "cairn-registry");
    cr_assert(reg_pid > 0);
    cr_assert_eq(kill(reg_pid, SIGKILL), 0);
    cr_assert(node_wait_role_restart(n, "cairn-registry", reg_pid, WAIT_MS) > 0,
              "the registry was not restarted");
    cr_assert(node_wait_registry_ready(n, WAIT_MS), "the restarted registry is not ready");
    /* At once, racing the gateway's reconnection to the events: a change the gateway may never
     * hear of, that only the flush on reconnecting makes visible. */
    register_directly(n, "DEFAULT_GROUP@@rst", "127.0.3.3", 7000);
    flush_probe f = {n, flushes + 2}; /* connection lost, connection back */
    cr_expect(wait_until(flushed_enough, &f, WAIT_MS),
              "the cache was not flushed when the registry went and came back (flushes %g, "
              "before %g)",
              gw_metric(n, "cairn_gateway_list_cache_flushes_total"), flushes);
    wait_cache_live(n);
    p = (host_probe){n, "rst", "127.0.3.3", 7000, true, 0};
    cr_expect(wait_until(host_is, &p, WAIT_MS),
              "a registry write made during the reconnection was not listed");
    json_t *l = nacos_list(n, Q("serviceName", "rst"));
    cr_expect_eq(list_host_count(l), 3, "persistent and direct instances after the restart");
    json_decref(l);
    /* And the cache works again. */
    free(list_twice_second_hits(n, "rst", NULL));
}

IT_TEST(list_cache, max_age_zero_disables_the_cache)
{
    it_node *n = node_start(&(it_node_opts){.sets = ARGS("gateway.list_cache_max_age_ms=0")});
    reg(n, "off", "127.0.0.1", "8080", "true");
    json_decref(nacos_list(n, Q("serviceName", "off")));
    json_decref(nacos_list(n, Q("serviceName", "off")));
    cr_expect_eq(gw_metric(n, "cairn_gateway_list_cache_hits_total"), -1,
                 "a disabled cache still counts hits");
}
