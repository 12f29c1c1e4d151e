/* Empty services are removed (registry.empty_service_clean): a service whose last instance was
 * deregistered goes after registry.empty_service_clean_after_ms, as Nacos' empty-service
 * auto-clean; a defined service, one with an instance and one with cluster settings stay. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
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
