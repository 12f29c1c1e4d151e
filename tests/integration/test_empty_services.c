/* Empty services are removed (registry.empty_service_clean): a service whose last instance was
 * deregistered goes after registry.empty_service_clean_after_ms, as Nacos' empty-service
 * auto-clean; a defined service, one with an instance, one with cluster settings and one with
 * subscribers (v1 UDP push, gRPC) stay, the last until its subscribers are gone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_grpc_client.h"
#include "cairn_harness.h"
#include "cairn_harness_udp.h"
#include "cairn_nacos.h"

TestSuite(empty_services, .fini = it_teardown, .timeout = 120);

#define GONE 40 /* services registered and deregistered again */

typedef struct list_probe {
    const it_node *n;
    long long count; /* service/list count as last read */
    char doms[256];
} list_probe;

/* Whether service/list holds only the three services that must stay. */
static bool only_keepers_left(void *arg)
{
    list_probe *p = arg;
    http_resp r = nacos_call(p->n, "GET", NS "/service/list",
                             Q("pageNo", "1", "pageSize", "100"), NULL, NULL);
    bool ok = false;
    if (r.status == 200) {
        json_t *l = json_parse_or_fail(r.body);
        p->count = jint(l, "count");
        p->doms[0] = '\0';
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(l, "doms"), i, d)
        {
            size_t used = strlen(p->doms);
            snprintf(p->doms + used, sizeof p->doms - used, "%s%s", i ? "," : "",
                     json_string_value(d));
        }
        json_decref(l);
        ok = strcmp(p->doms, "clustered,defined,kept") == 0;
    }
    http_resp_free(&r);
    return ok;
}

static void instance(const it_node *n, const char *method, const char *svc, const char *ip)
{
    nacos_write_ok(n, method, NS "/instance", Q("serviceName", svc, "ip", ip, "port", "80"));
}

IT_TEST(empty_services, removed_after_the_delay_unless_defined_or_in_use)
{
    it_node *n = node_start(&(it_node_opts){
        .sets = ARGS("registry.empty_service_clean_after_ms=300",
                     "registry.empty_service_sweep_ms=50")});
    nacos_write_ok(n, "POST", NS "/service", Q("serviceName", "defined"));
    instance(n, "POST", "kept", "127.0.10.9");
    /* Implicit, emptied, but with cluster settings someone put there. */
    instance(n, "POST", "clustered", "127.0.10.8");
    nacos_write_ok(n, "PUT", NS "/cluster",
                   Q("serviceName", "clustered", "clusterName", "DEFAULT", "healthChecker",
                     "{\"type\":\"NONE\"}"));
    instance(n, "DELETE", "clustered", "127.0.10.8");
    for (int i = 0; i < GONE; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "gone-%02d", i);
        instance(n, "POST", svc, "127.0.10.1");
        instance(n, "DELETE", svc, "127.0.10.1");
    }

    list_probe p = {.n = n};
    cr_assert(wait_until(only_keepers_left, &p, 20000),
              "empty services were not removed: service/list count %lld, doms %s", p.count,
              p.doms);
    cr_expect_eq(p.count, 3);
    /* the sweep counts a chunk's removals after their commit: the count may trail the list */
    cr_expect_eq(node_wait_metric(n, "registry", "cairn_registry_empty_services_removed_total",
                                  NULL, GONE, 5000),
                 GONE);

    /* A removed service lists as an empty one, and comes back with its next registration. */
    json_t *l = nacos_list(n, Q("serviceName", "gone-00"));
    cr_expect_eq(list_host_count(l), 0);
    json_decref(l);
    instance(n, "POST", "gone-00", "127.0.10.2");
    l = nacos_list(n, Q("serviceName", "gone-00"));
    cr_expect_eq(list_host_count(l), 1);
    json_decref(l);
    l = nacos_list(n, Q("serviceName", "kept"));
    cr_expect_eq(list_host_count(l), 1, "the service with an instance lost it");
    json_decref(l);
}

/* ---- subscribers keep a service ------------------------------------------------------------- */

#define TTL_MS 1000 /* push.subscriber_ttl_ms below; registry.empty_service_clean_after_ms 1200: a
                     * report every 400 ms */
#define WAIT_MS 20000

/* What the waits below look at, and the subscribers they keep alive while they wait. */
typedef struct watch_probe {
    it_pushers *ps;
    it_udp *udp;           /* the v1 subscriber, refreshed while refresh_v1 */
    bool refresh_v1;
    int64_t refreshed_ms;  /* its last list */
    it_grpc *grpc;         /* pumped, so that it answers the server's probes; NULL once closed */
    const char *svc;       /* the service waited for */
    bool want_listed;      /* ... to be listed, or gone */
    char missing[128];     /* a service that should have stayed but went */
    const char *const *keep; /* services that must stay meanwhile (NULL-terminated) */
} watch_probe;

/* Whether service/list holds svc (a bare name in DEFAULT_GROUP). */
static bool listed(const it_node *n, const char *svc)
{
    http_resp r = nacos_call(n, "GET", NS "/service/list", Q("pageNo", "1", "pageSize", "100"),
                             NULL, NULL);
    cr_assert_eq(r.status, 200, "service/list: %d %s", r.status, r.body);
    json_t *l = json_parse_or_fail(r.body);
    bool found = false;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(l, "doms"), i, d) found =
        found || strcmp(json_string_value(d), svc) == 0;
    json_decref(l);
    http_resp_free(&r);
    return found;
}

/* One poll: the subscribers do what a live client does (a v1 client lists again well within the
 * TTL; a gRPC client answers on its connection), the services that must stay are checked, then
 * whether svc is as wanted. */
static bool watch_poll(void *arg)
{
    watch_probe *p = arg;
    if (p->refresh_v1 && it_now_ms() - p->refreshed_ms >= TTL_MS / 4) {
        json_decref(push_list(p->ps, IT_PUSH_UA, "watched-v1", "", p->udp->port, NULL));
        p->refreshed_ms = it_now_ms();
    }
    if (p->grpc)
        grpc_pump(p->grpc, 0);
    for (const char *const *k = p->keep; k && *k && !p->missing[0]; k++)
        if (!listed(p->ps->node, *k))
            snprintf(p->missing, sizeof p->missing, "%s", *k);
    return p->missing[0] || listed(p->ps->node, p->svc) == p->want_listed;
}

/* Waits until svc is listed (want_listed) or gone, while the services of keep stay. */
static void wait_for(watch_probe *p, const char *svc, bool want_listed, const char *const *keep)
{
    p->svc = svc;
    p->want_listed = want_listed;
    p->keep = keep;
    bool ok = wait_until(watch_poll, p, WAIT_MS);
    cr_assert(!p->missing[0], "%s went while it had a subscriber", p->missing);
    cr_assert(ok, "%s %s within %d ms", svc, want_listed ? "not listed" : "not removed", WAIT_MS);
}

static void empty_service(const it_node *n, const char *svc)
{
    instance(n, "POST", svc, "127.0.10.1");
    instance(n, "DELETE", svc, "127.0.10.1");
}

IT_TEST(empty_services, subscribers_keep_a_service_until_they_are_gone)
{
    it_pushers ps;
    pushers_start(&ps,
                  ARGS("registry.empty_service_clean_after_ms=1200",
                       "registry.empty_service_sweep_ms=50", "push.subscriber_ttl_ms=1000"),
                  1);
    it_node *n = ps.node;
    empty_service(n, "watched-v1");
    empty_service(n, "watched-grpc");
    empty_service(n, "unwatched");

    /* A v1 client subscribed for UDP pushes from a real socket, as a Java or Node client lists. */
    it_udp u;
    udp_open(&u);
    push_subscribe(&ps, &u, "watched-v1", "");
    /* A Nacos 2.x client subscribed over gRPC. */
    char path[PATH_MAX + 16], addr[64];
    snprintf(path, sizeof path, "%s/grpc.addr", n->run_dir);
    cr_assert(it_read_addr_file(path, addr, sizeof addr), "no %s", path);
    it_grpc *g = grpc_open_setup(addr);
    it_grpc_reply r;
    grpc_call(g, "SubscribeServiceRequest",
              grpc_naming_body("public", "watched-grpc", "\"subscribe\":true,\"clusters\":\"\""),
              &r, WAIT_MS);
    cr_assert_eq(r.grpc_status, 0, "subscribe: %s", r.grpc_message ? r.grpc_message : "");
    cr_assert_str_eq(r.type, "SubscribeServiceResponse", "%s", r.json);
    grpc_reply_free(&r);

    watch_probe p = {.ps = &ps, .udp = &u, .refresh_v1 = true, .refreshed_ms = it_now_ms(),
                     .grpc = g};
    const char *const both[] = {"watched-v1", "watched-grpc", NULL};
    /* The one without subscribers goes; then another emptied later goes too, so that the two
     * with subscribers have outlived many sweep passes and several report periods. */
    wait_for(&p, "unwatched", false, both);
    empty_service(n, "emptied-later");
    wait_for(&p, "emptied-later", false, both);
    cr_expect_gt(node_metric(n, "gateway", "cairn_gateway_in_use_reports_total", "result=\"ok\""),
                 0);
    cr_expect_gt(node_metric(n, "grpc", "cairn_grpc_in_use_reports_total", "result=\"ok\""), 0);

    /* The gRPC connection closes: its service goes, the v1 subscriber's stays. */
    grpc_close(g);
    p.grpc = NULL;
    const char *const v1[] = {"watched-v1", NULL};
    wait_for(&p, "watched-grpc", false, v1);

    /* The v1 client stops listing: once its subscription expires, its service goes. */
    p.refresh_v1 = false;
    wait_for(&p, "watched-v1", false, NULL);
    cr_expect_gt(node_metric(n, "gateway", "cairn_gateway_push_subscriptions_expired_total", NULL),
                 0);
    cr_expect_eq(node_metric(n, "gateway", "cairn_gateway_in_use_reports_total",
                             "result=\"failed\""),
                 0);
    cr_expect_eq(node_metric(n, "grpc", "cairn_grpc_in_use_reports_total", "result=\"failed\""),
                 0);
    udp_close(&u);
}
