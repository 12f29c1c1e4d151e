/* Registry request semantics (Nacos v1 §2.1–2.7, §3.1–3.5) against a real LMDB store, driven
 * through registry_handle, the function the rpc server calls. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_registry_fixture.h"

#define SVC "DEFAULT_GROUP@@demo"

static fixture fx;

static void setup(void)
{
    fx_open(&fx, 512, 20000);
}

static void teardown(void)
{
    fx_close(&fx);
}

TestSuite(registry_store, .init = setup, .fini = teardown);

static cairn_err do_req(cairn_request *r, char *msg)
{
    return fx_do(&fx, r, NULL, msg, 512);
}

Test(registry_store, register_then_snapshot)
{
    uint64_t rev = fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert(rep.snapshot.found);
    const cairn_service *svc = &rep.snapshot.service;
    cr_assert_str_eq(svc->name, SVC);
    cr_assert_str_eq(svc->namespace_id, "public");
    cr_assert_not(svc->defined, "a registration creates an implicit service");
    cr_assert_eq(svc->revision, rev);
    cr_assert_gt(svc->modified_ms, 0);
    cr_assert_eq(svc->cluster_count, 1);
    cr_assert_str_eq(svc->clusters[0].name, "DEFAULT");
    cr_assert_eq(svc->clusters[0].check_type, CAIRN_CHECK_TCP);
    cr_assert_eq(rep.snapshot.instance_count, 1);
    const cairn_instance *in = &rep.snapshot.instances[0];
    cr_assert_str_eq(in->ip, "127.0.0.1");
    cr_assert_eq(in->port, 8080);
    cr_assert_str_eq(in->instance_id, "127.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@demo");
    cr_assert(in->healthy && in->enabled && in->ephemeral);
    cr_assert_gt(in->modified_ms, 0);
    cairn_reply_free(&rep);

    cairn_request r;
    req_base(&r, CAIRN_MSG_SERVICE_GET, "DEFAULT_GROUP@@missing");
    fx_call(&fx, &r, &rep);
    cairn_request_free(&r);
    cr_assert_eq(rep.code, CAIRN_OK);
    cr_assert(rep.has_snapshot);
    cr_assert_not(rep.snapshot.found);
    cairn_reply_free(&rep);

    cr_assert_eq(fx_event_count(&fx), 1);
    cr_assert_str_eq(fx.events[0].service, SVC);
    cr_assert_eq(fx.events[0].revision, rev);
    cr_assert_eq(fx.events[0].kind, CAIRN_CHANGE_INSTANCES);
}

Test(registry_store, reregister_keeps_id_and_health)
{
    cairn_request r;
    req_register(&r, SVC, "127.0.0.1", 8080, true);
    cairn_metadata_set(&r.instance.metadata, CAIRN_META_ID_GENERATOR, "snowflake");
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);

    /* The checker marks it unhealthy (as the healthcheck role would, through PATCH). */
    req_base(&r, CAIRN_MSG_INSTANCE_PATCH, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    r.instance.healthy = false;
    r.patch_mask = CAIRN_PATCH_HEALTHY;
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);

    /* Re-registering with other values: those are replaced; id and health are kept. */
    req_register(&r, SVC, "127.0.0.1", 8080, true);
    r.instance.weight = 3.5;
    r.instance.healthy = true;
    cairn_metadata_set(&r.instance.metadata, "k", "v");
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);

    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, 1);
    const cairn_instance *in = &rep.snapshot.instances[0];
    cr_assert_str_eq(in->instance_id, "0");
    cr_assert_not(in->healthy);
    cr_assert_float_eq(in->weight, 3.5, 1e-9);
    cr_assert_str_eq(cairn_metadata_get(&in->metadata, "k"), "v");
    cr_assert_null(cairn_metadata_get(&in->metadata, CAIRN_META_ID_GENERATOR),
                   "metadata is replaced, not merged");
    cairn_reply_free(&rep);
}

Test(registry_store, snowflake_ids_fill_the_smallest_gap)
{
    const char *ips[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
    for (int i = 0; i < 3; i++) {
        cairn_request r;
        req_register(&r, SVC, ips[i], 80, true);
        cairn_metadata_set(&r.instance.metadata, CAIRN_META_ID_GENERATOR, "snowflake");
        cr_assert_eq(do_req(&r, NULL), CAIRN_OK);
    }
    cairn_request r;
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
    req_set_instance(&r, "127.0.0.2", 80, "DEFAULT", true);
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);
    req_register(&r, SVC, "127.0.0.4", 80, true);
    cairn_metadata_set(&r.instance.metadata, CAIRN_META_ID_GENERATOR, "snowflake");
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);

    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_str_eq(snap_find(&rep, "127.0.0.1", 80, "DEFAULT", true)->instance_id, "0");
    cr_assert_str_eq(snap_find(&rep, "127.0.0.3", 80, "DEFAULT", true)->instance_id, "2");
    cr_assert_str_eq(snap_find(&rep, "127.0.0.4", 80, "DEFAULT", true)->instance_id, "1");
    cairn_reply_free(&rep);
}

Test(registry_store, same_address_in_both_kinds_and_clusters_is_distinct)
{
    fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    fx_register(&fx, SVC, "127.0.0.1", 8080, false);
    cairn_request r;
    req_register(&r, SVC, "127.0.0.1", 8080, true);
    free(r.instance.cluster);
    r.instance.cluster = strdup("other-1");
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);

    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, 3);
    cr_assert_not_null(snap_find(&rep, "127.0.0.1", 8080, "DEFAULT", true));
    cr_assert_not_null(snap_find(&rep, "127.0.0.1", 8080, "DEFAULT", false));
    cr_assert_not_null(snap_find(&rep, "127.0.0.1", 8080, "other-1", true));
    cr_assert_eq(rep.snapshot.service.cluster_count, 2);
    cr_assert_not_null(cairn_service_find_cluster(&rep.snapshot.service, "other-1"));
    cairn_reply_free(&rep);

    /* Deregistering without ephemeral=false leaves the persistent one alone (§2.2). */
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, 2);
    cr_assert_not_null(snap_find(&rep, "127.0.0.1", 8080, "DEFAULT", false));
    cairn_reply_free(&rep);
}

Test(registry_store, strict_update)
{
    char msg[512];
    cairn_request r;
    req_register(&r, SVC, "127.0.0.1", 8080, true);
    r.mode = CAIRN_UPSERT_MUST_EXIST;
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "service not found, namespace: public, service: DEFAULT_GROUP@@demo");

    fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    req_register(&r, SVC, "127.0.0.9", 80, true);
    r.mode = CAIRN_UPSERT_MUST_EXIST;
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "instance not exist: 127.0.0.9:80:unknown:DEFAULT");

    /* The same address as a persistent instance does not exist either. */
    req_register(&r, SVC, "127.0.0.1", 8080, false);
    r.mode = CAIRN_UPSERT_MUST_EXIST;
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "instance not exist: 127.0.0.1:8080:unknown:DEFAULT");

    req_register(&r, SVC, "127.0.0.1", 8080, true);
    r.mode = CAIRN_UPSERT_MUST_EXIST;
    r.instance.weight = 7;
    r.instance.enabled = false;
    uint64_t rev;
    cr_assert_eq(fx_do(&fx, &r, &rev, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_gt(rev, 0);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, 1);
    const cairn_instance *in = &rep.snapshot.instances[0];
    cr_assert_float_eq(in->weight, 7.0, 1e-9);
    cr_assert_not(in->enabled);
    cr_assert_str_eq(in->instance_id, "127.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@demo");
    cairn_reply_free(&rep);
}

Test(registry_store, patch)
{
    char msg[512];
    cairn_request r;
    req_base(&r, CAIRN_MSG_INSTANCE_PATCH, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    r.patch_mask = CAIRN_PATCH_WEIGHT;
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "instance not found");

    /* A persistent instance is found through the second list, whatever the selector says. */
    req_register(&r, SVC, "127.0.0.1", 8080, false);
    cairn_metadata_set(&r.instance.metadata, "a", "1");
    r.instance.weight = 2;
    uint64_t rev1, rev2;
    cr_assert_eq(fx_do(&fx, &r, &rev1, NULL, 0), CAIRN_OK);

    req_base(&r, CAIRN_MSG_INSTANCE_PATCH, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    r.patch_mask = CAIRN_PATCH_METADATA | CAIRN_PATCH_ENABLED;
    cairn_metadata_set(&r.instance.metadata, "b", "2");
    r.instance.enabled = false;
    r.instance.weight = 9; /* not in the mask: ignored */
    cr_assert_eq(fx_do(&fx, &r, &rev2, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_gt(rev2, rev1);

    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    const cairn_instance *in = snap_find(&rep, "127.0.0.1", 8080, "DEFAULT", false);
    cr_assert_not_null(in);
    cr_assert_float_eq(in->weight, 2.0, 1e-9);
    cr_assert_not(in->enabled);
    cr_assert_null(cairn_metadata_get(&in->metadata, "a"));
    cr_assert_str_eq(cairn_metadata_get(&in->metadata, "b"), "2");
    cr_assert_eq(rep.snapshot.service.revision, rev2);
    cairn_reply_free(&rep);

    /* A patched weight is validated like a registered one. */
    req_base(&r, CAIRN_MSG_INSTANCE_PATCH, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", false);
    r.patch_mask = CAIRN_PATCH_WEIGHT;
    r.instance.weight = 10001;
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "instance format invalid: The weights range from 0.0 to 10000.0");
}

Test(registry_store, remove_is_idempotent)
{
    uint64_t rev;
    cairn_request r;
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, "DEFAULT_GROUP@@nothing");
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_eq(rev, 0);

    fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
    req_set_instance(&r, "127.0.0.2", 8080, "DEFAULT", true);
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_eq(rev, 0);
    size_t events = fx_event_count(&fx);

    for (int i = 0; i < 2; i++) {
        req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
        req_set_instance(&r, "127.0.0.1", 8080, NULL, true); /* blank cluster means DEFAULT */
        cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
        if (i == 0)
            cr_assert_gt(rev, 0);
        else
            cr_assert_eq(rev, 0, "second remove changes nothing");
    }
    cr_assert_eq(fx_event_count(&fx), events + 1);

    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert(rep.snapshot.found, "the service stays when it becomes empty");
    cr_assert_eq(rep.snapshot.instance_count, 0);
    cairn_reply_free(&rep);
}

Test(registry_store, instance_get)
{
    char msg[512];
    cairn_request r;
    req_base(&r, CAIRN_MSG_INSTANCE_GET, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_NOT_FOUND);
    cr_assert_str_eq(msg, "no service DEFAULT_GROUP@@demo found!");

    fx_register(&fx, SVC, "127.0.0.1", 8080, false);
    req_base(&r, CAIRN_MSG_INSTANCE_GET, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "other", true);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_NOT_FOUND);
    cr_assert_str_eq(msg, "no ips found for cluster other in service DEFAULT_GROUP@@demo");

    req_base(&r, CAIRN_MSG_INSTANCE_GET, SVC);
    req_set_instance(&r, "127.0.0.1", 9999, "DEFAULT", true);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_NOT_FOUND);
    cr_assert_str_eq(msg, "no matched ip found!");

    req_base(&r, CAIRN_MSG_INSTANCE_GET, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    cairn_reply rep;
    fx_call(&fx, &r, &rep);
    cairn_request_free(&r);
    cr_assert_eq(rep.code, CAIRN_OK);
    cr_assert(rep.has_instance);
    cr_assert_str_eq(rep.instance.ip, "127.0.0.1");
    cr_assert_not(rep.instance.ephemeral, "found in the persistent list");
    cairn_reply_free(&rep);
}

Test(registry_store, service_lifecycle)
{
    char msg[512];
    cairn_request r;
    req_service_put(&r, SVC, CAIRN_SERVICE_UPDATE);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "service DEFAULT_GROUP@@demo not found!");

    req_service_put(&r, SVC, CAIRN_SERVICE_CREATE);
    r.service_def.protect_threshold = 0.5f;
    cairn_metadata_set(&r.service_def.metadata, "team", "a");
    uint64_t rev1;
    cr_assert_eq(fx_do(&fx, &r, &rev1, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_gt(rev1, 0);

    req_service_put(&r, SVC, CAIRN_SERVICE_CREATE);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_CONFLICT);
    cr_assert_str_eq(msg, "specified service already exists, serviceName : DEFAULT_GROUP@@demo");

    /* An implicit service (created by a registration) exists too. */
    fx_register(&fx, "DEFAULT_GROUP@@implicit", "127.0.0.1", 80, true);
    req_service_put(&r, "DEFAULT_GROUP@@implicit", CAIRN_SERVICE_CREATE);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_CONFLICT);

    req_service_put(&r, "DEFAULT_GROUP@@bad name", CAIRN_SERVICE_CREATE);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "dom name can only have these characters: 0-9a-zA-Z-._:, current: "
                          "DEFAULT_GROUP@@bad name");

    /* Update replaces threshold, metadata and selector; clusters stay, named ones merge. */
    fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    req_service_put(&r, SVC, CAIRN_SERVICE_UPDATE);
    r.service_def.protect_threshold = 0.25f;
    cairn_metadata_set(&r.service_def.metadata, "owner", "b");
    free(r.service_def.selector_json);
    r.service_def.selector_json = strdup("{\"type\":\"label\",\"expression\":\"x\"}");
    r.service_def.clusters = calloc(1, sizeof(cairn_cluster));
    r.service_def.cluster_count = 1;
    cairn_cluster_init_default(&r.service_def.clusters[0]);
    r.service_def.clusters[0].name = strdup("DEFAULT");
    r.service_def.clusters[0].check_type = CAIRN_CHECK_HTTP;
    r.service_def.clusters[0].check_path = strdup("/health");
    uint64_t rev2;
    cr_assert_eq(fx_do(&fx, &r, &rev2, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    const cairn_service *svc = &rep.snapshot.service;
    cr_assert(svc->defined);
    cr_assert_float_eq(svc->protect_threshold, 0.25f, 1e-6);
    cr_assert_null(cairn_metadata_get(&svc->metadata, "team"));
    cr_assert_str_eq(cairn_metadata_get(&svc->metadata, "owner"), "b");
    cr_assert_str_eq(svc->selector_json, "{\"type\":\"label\",\"expression\":\"x\"}");
    cr_assert_eq(svc->cluster_count, 1);
    cr_assert_eq(svc->clusters[0].check_type, CAIRN_CHECK_HTTP);
    cr_assert_eq(svc->revision, rev2);
    cr_assert_eq(rep.snapshot.instance_count, 1);
    cairn_reply_free(&rep);

    /* Remove takes the instances with it. */
    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(services, 2);
    cr_assert_eq(instances, 2);
    uint64_t rev3;
    req_base(&r, CAIRN_MSG_SERVICE_REMOVE, SVC);
    cr_assert_eq(fx_do(&fx, &r, &rev3, msg, sizeof msg), CAIRN_OK, "%s", msg);
    cr_assert_gt(rev3, rev2);
    cr_assert_eq(fx.events[fx_event_count(&fx) - 1].kind, CAIRN_CHANGE_REMOVED);
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_not(rep.snapshot.found);
    cairn_reply_free(&rep);
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(services, 1);
    cr_assert_eq(instances, 1);

    req_base(&r, CAIRN_MSG_SERVICE_REMOVE, SVC);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "specified service not exist, serviceName : DEFAULT_GROUP@@demo");

    /* Created again, its revision keeps going up and its instance count starts from zero. */
    uint64_t rev4 = fx_register(&fx, SVC, "127.0.0.2", 8080, true);
    cr_assert_gt(rev4, rev3);
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, 1);
    cr_assert_not(rep.snapshot.service.defined);
    cairn_reply_free(&rep);
}

static void list(const char *ns, const char *group, uint32_t page_no, uint32_t page_size,
                 cairn_reply *rep)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_service_list(&r, ns, group, page_no, page_size, &st), CAIRN_OK);
    fx_call(&fx, &r, rep);
    cairn_request_free(&r);
    cr_assert_eq(rep->code, CAIRN_OK);
}

Test(registry_store, list_paging_and_groups)
{
    const char *names[] = {"DEFAULT_GROUP@@c", "DEFAULT_GROUP@@a", "g1@@x", "DEFAULT_GROUP@@b",
                           "g1@@y"};
    for (size_t i = 0; i < 5; i++)
        fx_register(&fx, names[i], "127.0.0.1", 80, true);
    cairn_request r;
    req_register(&r, "DEFAULT_GROUP@@zz", "127.0.0.1", 80, true);
    free(r.namespace_id);
    r.namespace_id = strdup("other-ns");
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);

    cairn_reply rep;
    list("public", NULL, 1, 2, &rep); /* blank group: DEFAULT_GROUP */
    cr_assert_eq(rep.total, 3);
    cr_assert_eq(rep.name_count, 2);
    cr_assert_str_eq(rep.names[0], "a");
    cr_assert_str_eq(rep.names[1], "b");
    cairn_reply_free(&rep);

    list("public", "DEFAULT_GROUP", 2, 2, &rep);
    cr_assert_eq(rep.total, 3);
    cr_assert_eq(rep.name_count, 1);
    cr_assert_str_eq(rep.names[0], "c");
    cairn_reply_free(&rep);

    list("public", "DEFAULT_GROUP", 0, 2, &rep); /* (0-1)*2 clamps to 0 */
    cr_assert_eq(rep.name_count, 2);
    cr_assert_str_eq(rep.names[0], "a");
    cairn_reply_free(&rep);

    list("public", "DEFAULT_GROUP", 3, 2, &rep); /* past the end */
    cr_assert_eq(rep.total, 3);
    cr_assert_eq(rep.name_count, 0);
    cairn_reply_free(&rep);

    list("public", "DEFAULT_GROUP", 1, 0, &rep);
    cr_assert_eq(rep.total, 3);
    cr_assert_eq(rep.name_count, 0);
    cairn_reply_free(&rep);

    list("public", "g1", 1, 10, &rep);
    cr_assert_eq(rep.total, 2);
    cr_assert_str_eq(rep.names[0], "x");
    cr_assert_str_eq(rep.names[1], "y");
    cairn_reply_free(&rep);

    list("public", "*", 1, 10, &rep); /* every group, names keep their prefix, key order */
    cr_assert_eq(rep.total, 5);
    const char *all[] = {"DEFAULT_GROUP@@a", "DEFAULT_GROUP@@b", "DEFAULT_GROUP@@c", "g1@@x",
                         "g1@@y"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(rep.names[i], all[i]);
    cairn_reply_free(&rep);

    list("other-ns", "*", 1, 10, &rep);
    cr_assert_eq(rep.total, 1);
    cr_assert_str_eq(rep.names[0], "DEFAULT_GROUP@@zz");
    cairn_reply_free(&rep);

    list("empty-ns", "*", 1, 10, &rep);
    cr_assert_eq(rep.total, 0);
    cr_assert_eq(rep.name_count, 0);
    cairn_reply_free(&rep);

    /* "g" must not match the group "g1". */
    list("public", "g", 1, 10, &rep);
    cr_assert_eq(rep.total, 0);
    cairn_reply_free(&rep);
}

static void beat(const char *ip, int32_t port, bool has_body, bool ephemeral, cairn_reply *rep)
{
    cairn_request r;
    req_base(&r, CAIRN_MSG_BEAT, SVC);
    req_set_instance(&r, ip, port, "DEFAULT", ephemeral);
    r.has_body = has_body;
    if (has_body) {
        r.instance.weight = 2;
        r.instance.healthy = false; /* a beat registration is healthy whatever it says */
        cairn_metadata_set(&r.instance.metadata, CAIRN_META_BEAT_INTERVAL, "7000");
    }
    fx_call(&fx, &r, rep);
    cairn_request_free(&r);
}

Test(registry_store, beat)
{
    cairn_reply rep;
    beat("127.0.0.1", 8080, false, true, &rep);
    cr_assert_eq(rep.code, CAIRN_OK);
    cr_assert_eq(rep.beat_code, CAIRN_BEAT_CODE_NOT_FOUND);
    cr_assert_eq(rep.beat_interval_ms, 5000);
    cairn_reply_free(&rep);
    cr_assert_eq(fx_event_count(&fx), 0);

    /* A beat with a body re-registers (healthy, enabled) and answers with its interval. */
    beat("127.0.0.1", 8080, true, true, &rep);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message);
    cr_assert_eq(rep.beat_code, CAIRN_BEAT_CODE_OK);
    cr_assert_eq(rep.beat_interval_ms, 7000);
    cr_assert_gt(rep.revision, 0);
    cairn_reply_free(&rep);
    cr_assert_eq(fx_event_count(&fx), 1);
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, 1);
    cr_assert(rep.snapshot.instances[0].healthy);
    cr_assert(rep.snapshot.instances[0].enabled);
    cr_assert_float_eq(rep.snapshot.instances[0].weight, 2.0, 1e-9);
    cairn_reply_free(&rep);

    /* A light beat on a healthy instance writes nothing. */
    beat("127.0.0.1", 8080, false, true, &rep);
    cr_assert_eq(rep.beat_code, CAIRN_BEAT_CODE_OK);
    cr_assert_eq(rep.revision, 0);
    cairn_reply_free(&rep);
    cr_assert_eq(fx_event_count(&fx), 1);

    /* Unhealthy (by the checker) → the next beat flips it back, with an event. */
    cairn_request r;
    req_base(&r, CAIRN_MSG_INSTANCE_PATCH, SVC);
    req_set_instance(&r, "127.0.0.1", 8080, "DEFAULT", true);
    r.instance.healthy = false;
    r.patch_mask = CAIRN_PATCH_HEALTHY;
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);
    size_t events = fx_event_count(&fx);
    beat("127.0.0.1", 8080, false, true, &rep);
    cr_assert_eq(rep.beat_code, CAIRN_BEAT_CODE_OK);
    cr_assert_gt(rep.revision, 0);
    cairn_reply_free(&rep);
    cr_assert_eq(fx_event_count(&fx), events + 1);
    fx_snapshot(&fx, SVC, &rep);
    cr_assert(rep.snapshot.instances[0].healthy);
    cairn_reply_free(&rep);

    /* Persistent instances are not revived by beats, but are found by them. */
    fx_register(&fx, SVC, "127.0.0.2", 8080, false);
    req_base(&r, CAIRN_MSG_INSTANCE_PATCH, SVC);
    req_set_instance(&r, "127.0.0.2", 8080, "DEFAULT", false);
    r.instance.healthy = false;
    r.patch_mask = CAIRN_PATCH_HEALTHY;
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);
    beat("127.0.0.2", 8080, false, true, &rep);
    cr_assert_eq(rep.beat_code, CAIRN_BEAT_CODE_OK);
    cr_assert_eq(rep.beat_interval_ms, 5000);
    cr_assert_eq(rep.revision, 0);
    cairn_reply_free(&rep);
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_not(snap_find(&rep, "127.0.0.2", 8080, "DEFAULT", false)->healthy);
    cairn_reply_free(&rep);
}

Test(registry_store, revision_strictly_increases)
{
    uint64_t last = 0, rev;
    for (int i = 0; i < 20; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.1.%d", i % 5);
        rev = fx_register(&fx, i % 2 ? SVC : "DEFAULT_GROUP@@other", ip, 80, i % 3 == 0);
        cr_assert_gt(rev, last);
        last = rev;
    }
    cairn_request r;
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
    req_set_instance(&r, "127.0.1.1", 80, "DEFAULT", false); /* registered persistent (i = 1) */
    cr_assert_eq(fx_do(&fx, &r, &rev, NULL, 0), CAIRN_OK);
    cr_assert_gt(rev, last);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.service.revision, rev);
    cairn_reply_free(&rep);
}

Test(registry_store, validation_and_limits)
{
    char msg[512];
    cairn_request r;
    req_register(&r, SVC, "127.0.0.1", 80, true);
    r.instance.weight = 10000.5;
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "instance format invalid: The weights range from 0.0 to 10000.0");

    req_register(&r, "DEFAULT_GROUP@@bad/name", "127.0.0.1", 80, true);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "dom name can only have these characters: 0-9a-zA-Z-._:, current: "
                          "DEFAULT_GROUP@@bad/name");

    req_register(&r, SVC, "127.0.0.1", 80, true);
    free(r.instance.cluster);
    r.instance.cluster = strdup("bad_cluster");
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "cluster name can only have these characters: 0-9a-zA-Z-, current: "
                          "bad_cluster");

    req_register(&r, SVC, "", 80, true);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "Param 'ip' is required.");

    char long_ip[100];
    memset(long_ip, '1', 99);
    long_ip[99] = '\0';
    req_register(&r, SVC, long_ip, 80, true);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_INVALID);
    cr_assert_str_eq(msg, "Param 'ip' is too long (max 64 bytes)");

    /* Weights are clamped on store. */
    req_register(&r, SVC, "127.0.0.1", 80, true);
    r.instance.weight = 0.001;
    cr_assert_eq(do_req(&r, msg), CAIRN_OK, "%s", msg);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_float_eq(rep.snapshot.instances[0].weight, CAIRN_WEIGHT_FLOOR, 1e-12);
    cairn_reply_free(&rep);

    /* Not a request the codec would let through: straight to the handler. */
    cairn_request_init(&r, CAIRN_MSG_CHANGE_EVENT);
    cairn_reply_init(&rep);
    registry_handle(&fx.reg, &r, &rep);
    cr_assert_eq(rep.code, CAIRN_E_INVALID);
    cr_assert_str_eq(rep.message, "unsupported request type 12");
    cairn_reply_free(&rep);

    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(services, 1, "failed requests created nothing");
    cr_assert_eq(instances, 1);
}

Test(registry_store, instance_limit)
{
    fx_stop(&fx);
    fx.max_instances = 2;
    fx_start(&fx);
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    fx_register(&fx, SVC, "127.0.0.2", 80, false);
    char msg[512];
    cairn_request r;
    req_register(&r, SVC, "127.0.0.3", 80, true);
    cr_assert_eq(do_req(&r, msg), CAIRN_E_LIMIT);
    cr_assert_str_eq(msg, "too many instances in service DEFAULT_GROUP@@demo (limit 2)");
    /* Replacing an existing one is not adding. */
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    /* Removing makes room again. */
    req_base(&r, CAIRN_MSG_INSTANCE_REMOVE, SVC);
    req_set_instance(&r, "127.0.0.2", 80, "DEFAULT", false);
    cr_assert_eq(do_req(&r, NULL), CAIRN_OK);
    fx_register(&fx, SVC, "127.0.0.3", 80, true);
}

Test(registry_store, persists_across_reopen)
{
    fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    fx_register(&fx, SVC, "127.0.0.2", 8080, false);
    cairn_request r;
    req_service_put(&r, "g@@defined", CAIRN_SERVICE_CREATE);
    uint64_t last;
    cr_assert_eq(fx_do(&fx, &r, &last, NULL, 0), CAIRN_OK);

    fx_stop(&fx);
    fx_start(&fx);

    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_assert_eq(rep.snapshot.instance_count, 2);
    cr_assert_not_null(snap_find(&rep, "127.0.0.1", 8080, "DEFAULT", true));
    cr_assert_not_null(snap_find(&rep, "127.0.0.2", 8080, "DEFAULT", false));
    cairn_reply_free(&rep);
    fx_snapshot(&fx, "g@@defined", &rep);
    cr_assert(rep.snapshot.found);
    cr_assert(rep.snapshot.service.defined);
    cairn_reply_free(&rep);
    cr_assert_gt(fx_register(&fx, SVC, "127.0.0.3", 8080, true), last,
                 "revisions continue after a restart");
}

/* A process killed with kill -9 while it held a read transaction leaves its reader slot taken,
 * and LMDB never reuses the pages that reader pins. When another process keeps the environment
 * open (so LMDB does not reset the lock table), opening the store must clear that slot. */
typedef struct reader_count {
    pid_t pid;
    int n;
} reader_count;

static int count_reader(const char *line, void *arg)
{
    reader_count *rc = arg;
    if (atoi(line) == (int)rc->pid)
        rc->n++;
    return 0;
}

static int readers_of(MDB_env *env, pid_t pid)
{
    reader_count rc = {pid, 0};
    cr_assert_geq(mdb_reader_list(env, count_reader, &rc), 0);
    return rc.n;
}

static pid_t fork_store_child(int ready_fd, const int hold[2], bool die_in_read)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid != 0)
        return pid;
    close(hold[1]);
    int hold_fd = hold[0];
    registry_store s;
    cairn_status st;
    MDB_txn *txn;
    char c = 'r';
    if (registry_store_open(&s, fx.store_dir, 64, &st) ||
        (die_in_read && registry_store_read_begin(&s, &txn, &st)) ||
        write(ready_fd, &c, 1) != 1)
        _exit(1);
    if (die_in_read)
        raise(SIGKILL);
    while (read(hold_fd, &c, 1) > 0) /* until the parent closes the pipe */
        ;
    _exit(0);
}

Test(registry_store, killed_reader_is_cleared_at_open)
{
    fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    fx_stop(&fx);
    int ready[2], hold[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(hold), 0);
    pid_t keeper = fork_store_child(ready[1], hold, false);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "keeper has the store open");
    pid_t victim = fork_store_child(ready[1], hold, true);
    cr_assert_eq(read(ready[0], &c, 1), 1, "victim is inside a read transaction");
    int status;
    cr_assert_eq(waitpid(victim, &status, 0), victim);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* The slot is there: look with a bare environment (which checks nothing at open). */
    MDB_env *env;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 3), 0);
    cr_assert_eq(mdb_env_open(env, fx.store_dir, MDB_NOTLS, 0640), 0);
    cr_assert_eq(readers_of(env, victim), 1);
    mdb_env_close(env);

    fx_start(&fx);
    cr_assert_eq(readers_of(fx.store.env, victim), 0, "opening the store cleared the slot");
    fx_register(&fx, SVC, "127.0.0.2", 8080, false);
    uint64_t services, instances;
    fx_stats(&fx, &services, &instances);
    cr_assert_eq(instances, 2);

    close(hold[1]);
    cr_assert_eq(waitpid(keeper, &status, 0), keeper);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(hold[0]);
    close(ready[0]);
    close(ready[1]);
}

Test(registry_store, stats_metrics_and_health)
{
    fx_register(&fx, SVC, "127.0.0.1", 8080, true);
    fx_register(&fx, "g@@two", "127.0.0.1", 8080, false);
    char detail[128];
    cr_assert(registry_health(&fx.metrics, detail, sizeof detail), "%s", detail);
    size_t len;
    char *text = cairn_metrics_render(fx.m, &len);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "cairn_registry_services 2"), "%s", text);
    cr_assert_not_null(strstr(text, "cairn_registry_instances 2"), "%s", text);
    cr_assert_not_null(strstr(text, "cairn_registry_lmdb_used_bytes "));
    cr_assert_not_null(strstr(text, "cairn_registry_lmdb_map_bytes 67108864"));
    cr_assert_not_null(strstr(text, "cairn_registry_write_batch_size_bucket"));
    cr_assert_not_null(
        strstr(text, "cairn_registry_writes_total{type=\"instance_upsert\",result=\"ok\"} 2"),
        "%s", text);
    cr_assert_not_null(strstr(text, "cairn_registry_sync_seconds_count 1"), "%s", text);
    free(text);
    registry_metrics_detach(&fx.metrics);
    cr_assert_not(registry_health(&fx.metrics, detail, sizeof detail));
    registry_metrics_attach(&fx.metrics, &fx.store, fx.writer);
}
