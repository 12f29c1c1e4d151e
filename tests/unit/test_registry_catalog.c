/* The console's registry reads: SERVICE_CATALOG (filters before paging, counts per service) and
 * NAMESPACE_LIST, through registry_handle and the real encoding. */
#include <criterion/criterion.h>

#include "test_registry_fixture.h"

static fixture fx;

static void setup(void)
{
    fx_open(&fx, 512, 20000);
}

static void teardown(void)
{
    fx_close(&fx);
}

TestSuite(registry_catalog, .init = setup, .fini = teardown);

/* A catalog page of namespace ns; rep must be freed. */
static void catalog(const char *ns, const char *group, const char *filter, uint32_t page,
                    uint32_t size, cairn_reply *rep)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_service_catalog(&r, ns, group, filter, page, size, &st), CAIRN_OK);
    fx_call(&fx, &r, rep);
    cairn_request_free(&r);
    cr_assert_eq(rep->code, CAIRN_OK, "%s", rep->message ? rep->message : "");
}

/* The page's names joined with ','. */
static void page_names(const cairn_reply *rep, char *out, size_t len)
{
    out[0] = '\0';
    for (uint32_t i = 0; i < rep->summary_count; i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", i ? "," : "", rep->summaries[i].name);
    }
}

static void expect_catalog(const char *group, const char *filter, uint32_t page, uint32_t size,
                           const char *names, uint32_t total)
{
    cairn_reply rep;
    catalog("public", group, filter, page, size, &rep);
    char got[512];
    page_names(&rep, got, sizeof got);
    cr_expect_str_eq(got, names, "group %s filter %s page %u/%u", group ? group : "-",
                     filter ? filter : "-", page, size);
    cr_expect_eq(rep.total, total, "group %s filter %s: total %u", group ? group : "-",
                 filter ? filter : "-", rep.total);
    cairn_reply_free(&rep);
}

static void register_in(const char *svc, const char *ip, const char *cluster, bool healthy)
{
    cairn_request r;
    req_register(&r, svc, ip, 80, true);
    free(r.instance.cluster);
    r.instance.cluster = strdup(cluster);
    r.instance.healthy = healthy;
    char msg[256];
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_OK, "%s", msg);
}

Test(registry_catalog, filters_apply_before_paging)
{
    fx_register(&fx, "DEFAULT_GROUP@@orders", "127.0.0.1", 80, true);
    fx_register(&fx, "DEFAULT_GROUP@@payments", "127.0.0.1", 80, true);
    fx_register(&fx, "DEFAULT_GROUP@@pay-gw", "127.0.0.1", 80, true);
    fx_register(&fx, "billing@@payouts", "127.0.0.1", 80, true);
    fx_register(&fx, "billing@@ledger", "127.0.0.1", 80, true);

    expect_catalog(NULL, NULL, 1, 10,
                   "DEFAULT_GROUP@@orders,DEFAULT_GROUP@@pay-gw,DEFAULT_GROUP@@payments,"
                   "billing@@ledger,billing@@payouts",
                   5);
    expect_catalog(NULL, NULL, 2, 2, "DEFAULT_GROUP@@payments,billing@@ledger", 5);
    expect_catalog(NULL, NULL, 3, 2, "billing@@payouts", 5);
    expect_catalog(NULL, NULL, 4, 2, "", 5);
    expect_catalog(NULL, NULL, 0, 2, "DEFAULT_GROUP@@orders,DEFAULT_GROUP@@pay-gw", 5);
    expect_catalog(NULL, "pay", 1, 10,
                   "DEFAULT_GROUP@@pay-gw,DEFAULT_GROUP@@payments,billing@@payouts", 3);
    expect_catalog(NULL, "pay", 2, 1, "DEFAULT_GROUP@@payments", 3);
    expect_catalog("bill", "pay", 1, 10, "billing@@payouts", 1);
    expect_catalog("billing", NULL, 1, 10, "billing@@ledger,billing@@payouts", 2);
    /* the name filter sees the bare name only, the group filter the group only */
    expect_catalog(NULL, "DEFAULT", 1, 10, "", 0);
    expect_catalog("orders", NULL, 1, 10, "", 0);
    /* case-sensitive, as Nacos' regular expression */
    expect_catalog(NULL, "PAY", 1, 10, "", 0);
    expect_catalog("", "", 1, 1, "DEFAULT_GROUP@@orders", 5);
}

Test(registry_catalog, counts_instances_healthy_and_clusters)
{
    register_in("g@@s", "127.0.0.1", "DEFAULT", true);
    register_in("g@@s", "127.0.0.2", "DEFAULT", false);
    register_in("g@@s", "127.0.0.3", "c2", true);
    cairn_request r;
    req_service_put(&r, "g@@empty", CAIRN_SERVICE_CREATE);
    r.service_def.protect_threshold = 0.5f;
    char msg[256];
    cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_OK, "%s", msg);

    cairn_reply rep;
    catalog("public", NULL, NULL, 1, 10, &rep);
    cr_assert_eq(rep.summary_count, 2);
    const cairn_service_summary *e = &rep.summaries[0], *s = &rep.summaries[1];
    cr_expect_str_eq(e->name, "g@@empty");
    cr_expect_eq(e->instance_count, 0);
    cr_expect_eq(e->cluster_count, 0);
    cr_expect_eq(e->protect_threshold, 0.5f);
    cr_expect_str_eq(s->name, "g@@s");
    cr_expect_eq(s->instance_count, 3);
    cr_expect_eq(s->healthy_count, 2);
    cr_expect_eq(s->cluster_count, 2);
    cairn_reply_free(&rep);
}

Test(registry_catalog, namespaces_in_key_order)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_namespace_list(&r, &st), CAIRN_OK);
    cairn_reply rep;
    fx_call(&fx, &r, &rep);
    cr_expect_eq(rep.code, CAIRN_OK);
    cr_expect_eq(rep.name_count, 0, "an empty store has no namespaces");
    cairn_reply_free(&rep);

    const char *spaces[] = {"public", "dev", "dev-2", "prod"};
    for (size_t i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            char svc[32];
            snprintf(svc, sizeof svc, "g@@s%d", k);
            req_register_in(&r, spaces[i], svc, "127.0.0.1", 80, true);
            char msg[256];
            cr_assert_eq(fx_do(&fx, &r, NULL, msg, sizeof msg), CAIRN_OK, "%s", msg);
        }
    cr_assert_eq(cairn_request_namespace_list(&r, &st), CAIRN_OK);
    fx_call(&fx, &r, &rep);
    cr_assert_eq(rep.name_count, 4);
    cr_expect_str_eq(rep.names[0], "dev");
    cr_expect_str_eq(rep.names[1], "dev-2");
    cr_expect_str_eq(rep.names[2], "prod");
    cr_expect_str_eq(rep.names[3], "public");
    cr_expect_eq(rep.total, 4);
    cairn_reply_free(&rep);

    cairn_reply page;
    catalog("dev", NULL, "s1", 1, 10, &page);
    cr_expect_eq(page.total, 1, "a namespace's catalog holds only its own services");
    cairn_reply_free(&page);
}
