/* The raft FSM's commands on the in-memory CP state: the registry's rules for persistent writes
 * (strict update of a missing instance, patches composed in log order, service delete with its
 * instances), the records each change yields, rejections that change nothing, and the snapshot
 * encoding (round trip, and a decoder that trusts no length). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "raft_commands.h"
#include "raft_fsm.h"
#include "raft_snapshot.h"

#define SVC "DEFAULT_GROUP@@orders"

static raft_cp_state *s;
static cairn_raft_batch out;
static const raft_cmd_limits lim = {{16384}, 3};

static void setup(void)
{
    s = raft_state_new();
    cairn_raft_batch_init(&out);
}

static void teardown(void)
{
    cairn_raft_batch_free(&out);
    raft_state_free(s);
}

TestSuite(raft_commands, .init = setup, .fini = teardown);

static void instance_req(cairn_request *r, cairn_msg_type type, const char *ip, int port)
{
    cairn_request_init(r, type);
    r->namespace_id = strdup("public");
    r->service = strdup(SVC);
    r->has_instance = true;
    cairn_instance_init(&r->instance);
    r->instance.ip = strdup(ip);
    r->instance.port = port;
    r->instance.ephemeral = false;
}

/* Applies req and frees it; returns the code. */
static cairn_err run(cairn_request *r, cairn_status *st)
{
    cairn_status_clear(st);
    cairn_err err = raft_cmd_apply(s, &lim, r, &out, st);
    cairn_request_free(r);
    return err;
}

static cairn_err upsert(const char *ip, int port, uint32_t mode, double weight)
{
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, ip, port);
    r.mode = mode;
    r.instance.weight = weight;
    return run(&r, &st);
}

static const cairn_instance *find(const char *ip, int port)
{
    raft_cp_service *svc = raft_state_service(s, "public", SVC);
    return svc ? raft_state_instance(svc, "DEFAULT", ip, port) : NULL;
}

Test(raft_commands, register_creates_service_cluster_and_instance_with_records)
{
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 2.0), CAIRN_OK);
    const cairn_instance *in = find("127.9.0.1", 8080);
    cr_assert(in);
    cr_assert_str_eq(in->instance_id, "127.9.0.1#8080#DEFAULT#" SVC);
    cr_assert_eq(in->weight, 2.0);
    cr_assert_eq(s->instance_count, 1);
    /* an implicit service (with its cluster), then the instance */
    cr_assert_eq(out.count, 2);
    cr_assert_eq(out.records[0].kind, CAIRN_RAFT_SERVICE);
    cr_assert_eq(out.records[0].op, CAIRN_RAFT_PUT);
    cairn_service def;
    cairn_status st;
    cr_assert_eq(cairn_service_decode(out.records[0].value, out.records[0].value_len, &def, &st),
                 CAIRN_OK);
    cr_assert_not(def.defined);
    cr_assert_eq(def.cluster_count, 1);
    cr_assert_str_eq(def.clusters[0].name, "DEFAULT");
    cairn_service_free(&def);
    cr_assert_eq(out.records[1].kind, CAIRN_RAFT_INSTANCE);
    cairn_instance got;
    cr_assert_eq(cairn_instance_decode(out.records[1].value, out.records[1].value_len, &got, &st),
                 CAIRN_OK);
    cr_assert_not(got.ephemeral);
    cr_assert_str_eq(got.ip, "127.9.0.1");
    cairn_instance_free(&got);
}

Test(raft_commands, strict_update_of_missing_instance_is_rejected_and_changes_nothing)
{
    cairn_status st;
    cairn_request r;
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, "127.9.0.1", 8080);
    r.mode = CAIRN_UPSERT_MUST_EXIST;
    cr_assert_eq(run(&r, &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "service not found"), "%s", st.message);
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    size_t records = out.count;
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, "127.9.0.2", 8080);
    r.mode = CAIRN_UPSERT_MUST_EXIST;
    cr_assert_eq(run(&r, &st), CAIRN_E_INVALID);
    cr_assert_str_eq(st.message, "instance not exist: 127.9.0.2:8080:unknown:DEFAULT");
    cr_assert_eq(out.count, records);
    cr_assert_null(find("127.9.0.2", 8080));
}

Test(raft_commands, patches_compose_in_log_order)
{
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.1", 8080);
    r.patch_mask = CAIRN_PATCH_WEIGHT;
    r.instance.weight = 7;
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.1", 8080);
    r.patch_mask = CAIRN_PATCH_ENABLED;
    r.instance.enabled = false;
    r.instance.weight = 1; /* not in the mask: ignored */
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    const cairn_instance *in = find("127.9.0.1", 8080);
    cr_assert_eq(in->weight, 7);
    cr_assert_not(in->enabled);
    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.9", 8080);
    r.patch_mask = CAIRN_PATCH_WEIGHT;
    cr_assert_eq(run(&r, &st), CAIRN_E_INVALID);
    cr_assert_str_eq(st.message, "instance not found");
}

/* PUT / DELETE /instance/metadata/batch: keys merged into (removed from) what the log holds,
 * and a merge past limits.max_metadata_bytes refused though each patch alone fits. */
Test(raft_commands, metadata_keys_merge_and_remove_within_the_limit)
{
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.1", 8080);
    r.patch_mask = CAIRN_PATCH_METADATA_PUT | CAIRN_PATCH_KIND;
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "a", "1"), CAIRN_OK);
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "b", "2"), CAIRN_OK);
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.1", 8080);
    r.patch_mask = CAIRN_PATCH_METADATA_PUT | CAIRN_PATCH_KIND;
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "b", "3"), CAIRN_OK);
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "c", "4"), CAIRN_OK);
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    const cairn_instance *in = find("127.9.0.1", 8080);
    cr_expect_str_eq(cairn_metadata_get(&in->metadata, "a"), "1");
    cr_expect_str_eq(cairn_metadata_get(&in->metadata, "b"), "3");
    cr_expect_str_eq(cairn_metadata_get(&in->metadata, "c"), "4");

    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.1", 8080);
    r.patch_mask = CAIRN_PATCH_METADATA_DELETE | CAIRN_PATCH_KIND;
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "a", "any"), CAIRN_OK);
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "zz", "absent"), CAIRN_OK);
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    in = find("127.9.0.1", 8080);
    cr_expect_null(cairn_metadata_get(&in->metadata, "a"));
    cr_expect_eq(in->metadata.len, 2);

    /* two values of 9 000 bytes: each patch fits 16 384, the merge does not */
    char big[9001];
    memset(big, 'v', 9000);
    big[9000] = '\0';
    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.1", 8080);
    r.patch_mask = CAIRN_PATCH_METADATA_PUT | CAIRN_PATCH_KIND;
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "big1", big), CAIRN_OK);
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    instance_req(&r, CAIRN_MSG_INSTANCE_PATCH, "127.9.0.1", 8080);
    r.patch_mask = CAIRN_PATCH_METADATA_PUT | CAIRN_PATCH_KIND;
    cr_assert_eq(cairn_metadata_set(&r.instance.metadata, "big2", big), CAIRN_OK);
    cr_assert_eq(run(&r, &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message, "Param 'metadata' is too long (max 16384 bytes)");
    cr_expect_null(cairn_metadata_get(&find("127.9.0.1", 8080)->metadata, "big2"));
}

Test(raft_commands, reregistration_keeps_id_and_health_and_limit_counts_persistent)
{
    cr_assert_eq(upsert("127.9.0.1", 1, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_HEALTH, "127.9.0.1", 1);
    r.instance.healthy = false;
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.1", 1, CAIRN_UPSERT_REGISTER, 3.0), CAIRN_OK);
    cr_assert_not(find("127.9.0.1", 1)->healthy);
    cr_assert_eq(find("127.9.0.1", 1)->weight, 3.0);
    cr_assert_eq(upsert("127.9.0.1", 2, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.1", 3, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.1", 4, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_E_LIMIT);
}

Test(raft_commands, ephemeral_and_other_messages_are_not_raft_commands)
{
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, "127.9.0.1", 8080);
    r.instance.ephemeral = true;
    cr_assert_eq(run(&r, &st), CAIRN_E_INVALID);
    cairn_request_init(&r, CAIRN_MSG_SERVICE_LIST);
    cr_assert_eq(run(&r, &st), CAIRN_E_INVALID);
    cr_assert_eq(s->instance_count, 0);
    cr_assert_eq(out.count, 0);
}

/* held: the entry node's registry holds the service (cairn_request.held). */
static cairn_err service_put_held(uint32_t mode, float threshold, const char *cluster, bool held)
{
    cairn_request r;
    cairn_status st;
    cairn_request_init(&r, CAIRN_MSG_SERVICE_PUT);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    r.mode = mode;
    r.held = held;
    r.has_service = true;
    cairn_service_init(&r.service_def);
    r.service_def.protect_threshold = threshold;
    if (cluster) {
        r.service_def.clusters = calloc(1, sizeof *r.service_def.clusters);
        cairn_cluster_init_default(&r.service_def.clusters[0]);
        r.service_def.clusters[0].name = strdup(cluster);
        r.service_def.clusters[0].check_type = CAIRN_CHECK_NONE;
        r.service_def.cluster_count = 1;
    }
    return run(&r, &st);
}

static cairn_err service_put(uint32_t mode, float threshold, const char *cluster)
{
    return service_put_held(mode, threshold, cluster, false);
}

Test(raft_commands, a_service_the_entry_node_holds_exists_without_a_definition)
{
    /* made by ephemeral registrations: Distro's, so the log has no definition of it */
    cr_assert_eq(service_put_held(CAIRN_SERVICE_CREATE, 0.5f, NULL, true), CAIRN_E_CONFLICT);
    cr_assert_eq(out.count, 0);
    cr_assert_eq(service_put_held(CAIRN_SERVICE_CLUSTERS, 0, "c1", true), CAIRN_OK);
    const raft_cp_service *def = raft_state_service(s, "public", SVC);
    cr_assert_not_null(def, "the clusters put defined the service in the log");
    cr_assert_eq(def->def.cluster_count, 1);
    cr_assert_eq(out.records[out.count - 1].kind, CAIRN_RAFT_SERVICE);
    cr_assert_eq(out.records[out.count - 1].op, CAIRN_RAFT_PUT);
}

Test(raft_commands, an_update_of_a_held_service_defines_it)
{
    cr_assert_eq(service_put_held(CAIRN_SERVICE_UPDATE, 0.7f, NULL, true), CAIRN_OK);
    const raft_cp_service *def = raft_state_service(s, "public", SVC);
    cr_assert_not_null(def);
    cr_assert_float_eq(def->def.protect_threshold, 0.7f, 1e-6);
    cr_assert_eq(out.count, 1);
}

Test(raft_commands, service_create_update_and_delete_with_instances)
{
    cr_assert_eq(service_put(CAIRN_SERVICE_UPDATE, 0.5f, NULL), CAIRN_E_INVALID);
    cr_assert_eq(service_put(CAIRN_SERVICE_CREATE, 0.5f, "DEFAULT"), CAIRN_OK);
    cr_assert_eq(service_put(CAIRN_SERVICE_CREATE, 0.5f, NULL), CAIRN_E_CONFLICT);
    cr_assert_eq(service_put(CAIRN_SERVICE_UPDATE, 0.8f, NULL), CAIRN_OK);
    raft_cp_service *svc = raft_state_service(s, "public", SVC);
    cr_assert(svc->def.defined);
    cr_assert_float_eq(svc->def.protect_threshold, 0.8f, 1e-6);
    cr_assert_eq(svc->def.cluster_count, 1); /* kept by the update */
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.2", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);

    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_HEALTH, "127.9.0.1", 8080);
    r.mode = CAIRN_HEALTH_MANUAL; /* the cluster's checker is NONE */
    r.instance.healthy = false;
    cr_assert_eq(run(&r, &st), CAIRN_OK, "%s", st.message);
    cr_assert_not(find("127.9.0.1", 8080)->healthy);

    cairn_request_init(&r, CAIRN_MSG_SERVICE_REMOVE);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    cr_assert_null(raft_state_service(s, "public", SVC));
    cr_assert_eq(s->instance_count, 0);
    const cairn_raft_record *last = &out.records[out.count - 1];
    cr_assert_eq(last->op, CAIRN_RAFT_DEL);
    cr_assert_eq(last->kind, CAIRN_RAFT_SERVICE);
    cr_assert_null(last->value);

    cairn_request_init(&r, CAIRN_MSG_SERVICE_REMOVE);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    cr_assert_eq(run(&r, &st), CAIRN_E_INVALID);
    cr_assert_str_eq(st.message, "specified service not exist, serviceName : " SVC);

    /* one the entry node's registry holds though the log does not (made by ephemeral
     * registrations): a delete record for every node all the same */
    size_t n = out.count;
    cairn_request_init(&r, CAIRN_MSG_SERVICE_REMOVE);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    r.held = true;
    cr_assert_eq(run(&r, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(out.count, n + 1);
    cr_assert_eq(out.records[n].op, CAIRN_RAFT_DEL);
    cr_assert_eq(out.records[n].kind, CAIRN_RAFT_SERVICE);
    cr_assert_str_eq(out.records[n].service, SVC);
}

Test(raft_commands, deregistration_yields_a_delete_record_and_missing_is_ok)
{
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_REMOVE, "127.9.0.1", 8080);
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    cr_assert_eq(out.records[out.count - 1].op, CAIRN_RAFT_DEL);
    cr_assert_eq(out.records[out.count - 1].kind, CAIRN_RAFT_INSTANCE);
    size_t n = out.count;
    instance_req(&r, CAIRN_MSG_INSTANCE_REMOVE, "127.9.0.1", 8080);
    cr_assert_eq(run(&r, &st), CAIRN_OK);
    cr_assert_eq(out.count, n);
}

static cairn_err deregister(const char *ip, int port)
{
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_REMOVE, ip, port);
    return run(&r, &st);
}

Test(raft_commands, the_last_deregistration_takes_an_implicit_definition_with_it)
{
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.2", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_eq(deregister("127.9.0.1", 8080), CAIRN_OK);
    cr_assert_not_null(raft_state_service(s, "public", SVC), "one instance is left");
    size_t n = out.count;
    cr_assert_eq(deregister("127.9.0.2", 8080), CAIRN_OK);
    cr_assert_null(raft_state_service(s, "public", SVC));
    /* the registries get the instance's delete only: their sweep removes the service */
    cr_assert_eq(out.count, n + 1);
    cr_assert_eq(out.records[n].kind, CAIRN_RAFT_INSTANCE);
    /* while an entry node still holds it, a create conflicts; once swept, it makes one */
    cr_assert_eq(service_put_held(CAIRN_SERVICE_CREATE, 0.5f, NULL, true), CAIRN_E_CONFLICT);
    cr_assert_eq(service_put(CAIRN_SERVICE_CREATE, 0.5f, NULL), CAIRN_OK);
    cr_assert(raft_state_service(s, "public", SVC)->def.defined);
}

Test(raft_commands, a_defined_or_configured_service_keeps_its_definition_when_emptied)
{
    /* defined through the service API */
    cr_assert_eq(service_put(CAIRN_SERVICE_CREATE, 0.5f, NULL), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_eq(deregister("127.9.0.1", 8080), CAIRN_OK);
    cr_assert_not_null(raft_state_service(s, "public", SVC));
    /* made by a registration, then given a cluster setting (a checker of NONE) */
    cairn_request r;
    cairn_status st;
    cairn_request_init(&r, CAIRN_MSG_SERVICE_REMOVE);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    cr_assert_eq(run(&r, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_not(raft_state_service(s, "public", SVC)->def.defined);
    cr_assert_eq(service_put(CAIRN_SERVICE_CLUSTERS, 0, "DEFAULT"), CAIRN_OK);
    cr_assert_eq(deregister("127.9.0.1", 8080), CAIRN_OK);
    const raft_cp_service *svc = raft_state_service(s, "public", SVC);
    cr_assert_not_null(svc, "a cluster with a checker set is configuration");
    cr_assert_not(svc->def.defined);
}

Test(raft_commands, snapshot_round_trip_and_bounded_decoding)
{
    cr_assert_eq(service_put(CAIRN_SERVICE_CREATE, 0.5f, "DEFAULT"), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    cr_assert_eq(upsert("127.9.0.2", 8081, CAIRN_UPSERT_REGISTER, 1.0), CAIRN_OK);
    char *buf;
    size_t len;
    cairn_status st;
    cr_assert_eq(raft_snapshot_encode(s, 42, &buf, &len, &st), CAIRN_OK);
    raft_cp_state *copy = raft_state_new();
    uint64_t index;
    cr_assert_eq(raft_snapshot_decode(buf, len, copy, &index, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(index, 42);
    cr_assert_eq(copy->instance_count, 2);
    raft_cp_service *svc = raft_state_service(copy, "public", SVC);
    cr_assert(svc && svc->def.defined);
    cr_assert(raft_state_instance(svc, "DEFAULT", "127.9.0.2", 8081));
    /* every truncation and a trailing byte fail and leave the state empty */
    raft_state_clear(copy);
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_neq(raft_snapshot_decode(buf, cut, copy, &index, &st), CAIRN_OK, "cut %zu", cut);
        cr_assert_eq(copy->instance_count, 0);
    }
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    cr_assert_neq(raft_snapshot_decode(longer, len + 1, copy, &index, &st), CAIRN_OK);
    /* a huge announced count is refused before anything is allocated for it */
    memset(longer + 16, 0xff, 8);
    cr_assert_neq(raft_snapshot_decode(longer, len, copy, &index, &st), CAIRN_OK);
    free(longer);
    free(buf);
    raft_state_free(copy);
}

/* libraft 0.15's TCP transport decodes entries as padded to 8 bytes: every entry is framed so. */
Test(raft_commands, entries_are_framed_to_multiples_of_eight)
{
    for (size_t len = 0; len < 20; len++) {
        char cmd[20];
        memset(cmd, 'x', sizeof cmd);
        struct raft_buffer b;
        cr_assert_eq(cairn_raft_entry_encode(cmd, len, &b), 0);
        cr_assert_eq(b.len % 8, 0);
        const char *got;
        size_t n;
        cr_assert(cairn_raft_entry_command(&b, &got, &n));
        cr_assert_eq(n, len);
        cr_assert_eq(memcmp(got, cmd, len), 0);
        struct raft_buffer shorter = {b.base, b.len - 8};
        cr_assert_not(cairn_raft_entry_command(&shorter, &got, &n) && n == len);
        ((unsigned char *)b.base)[b.len - 1] ^= (len % 8) ? 1 : 0; /* non-zero padding */
        if (len % 8)
            cr_assert_not(cairn_raft_entry_command(&b, &got, &n));
        raft_free(b.base);
    }
    struct raft_buffer raw = {"\x93garbage", 8};
    const char *got;
    size_t n;
    cr_assert_not(cairn_raft_entry_command(&raw, &got, &n));
}

/* A batch entry holds its commands in order, framed each; anything off by a byte is refused, and
 * a single-command entry reads as a batch of one. */
Test(raft_commands, batch_entries_round_trip_and_refuse_damage)
{
    const char *in[3] = {"a", "", "0123456789abcdef-"};
    size_t in_lens[3] = {1, 0, 17};
    struct raft_buffer b;
    cr_assert_eq(cairn_raft_entry_encode_batch((const void *const *)in, in_lens, 3, &b), 0);
    cr_assert_eq(b.len % 8, 0);
    const char *cmds[CAIRN_RAFT_BATCH_MAX];
    size_t lens[CAIRN_RAFT_BATCH_MAX], n;
    cr_assert(cairn_raft_entry_commands(&b, cmds, lens, &n));
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(lens[i], in_lens[i]);
        cr_assert_eq(memcmp(cmds[i], in[i], in_lens[i]), 0);
    }
    const char *one;
    size_t one_len;
    cr_assert_not(cairn_raft_entry_command(&b, &one, &one_len)); /* not a single command */
    struct raft_buffer shorter = {b.base, b.len - 8};
    cr_assert_not(cairn_raft_entry_commands(&shorter, cmds, lens, &n));
    unsigned char *p = b.base;
    p[3] = 4; /* one command more than it holds */
    cr_assert_not(cairn_raft_entry_commands(&b, cmds, lens, &n));
    p[3] = 3;
    p[b.len - 1] = 1; /* non-zero padding of the last command */
    cr_assert_not(cairn_raft_entry_commands(&b, cmds, lens, &n));
    p[b.len - 1] = 0;
    p[4] = 2; /* not a batch marker */
    cr_assert_not(cairn_raft_entry_commands(&b, cmds, lens, &n));
    p[4] = 1;
    cr_assert(cairn_raft_entry_commands(&b, cmds, lens, &n));
    raft_free(b.base);
    cr_assert_neq(cairn_raft_entry_encode_batch((const void *const *)in, in_lens, 0, &b), 0);
    struct raft_buffer single;
    cr_assert_eq(cairn_raft_entry_encode("xyz", 3, &single), 0);
    cr_assert(cairn_raft_entry_commands(&single, cmds, lens, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(lens[0], 3);
    raft_free(single.base);
}
