/* Writes the seed corpus of the message harnesses: one message of each kind the roles exchange,
 * built as the roles build them and encoded by the product's encoders (the golden messages of
 * tests/unit/test_msg.c among them), so the fuzzer starts from every message type and field.
 *   build-fuzz/fuzz/fuzz_seed_msgs tests/fuzz/corpus
 * writes <dir>/{request,reply,event,subscription,records}/<name>.msgpack and the DISTRO_SYNC,
 * DISTRO_SYNC_ACK, DISTRO_READ, RAFT_FORWARD and RAFT_FORWARD_ACK bodies of <dir>/peer/ (its
 * other seeds are written by hand),
 * and <dir>/token/: the tokens of fuzz_token.h, truncated and altered ones, and claims.
 * Run it again when a message gains a field; the files are committed. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cairn_auth.h"
#include "cairn_batch.h"
#include "cairn_msg.h"
#include "cairn_peer_distro.h"
#include "cairn_peer_raft.h"
#include "cairn_requests.h"
#include "fuzz_token.h"

static const char *out_dir;

static void write_file(const char *target, const char *file, const char *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void write_seed(const char *target, const char *name, cairn_err err, char *buf,
                       size_t len)
{
    if (err != CAIRN_OK) {
        fprintf(stderr, "seed_msgs: %s/%s: encoding failed (%d)\n", target, name, (int)err);
        exit(1);
    }
    char file[256];
    snprintf(file, sizeof file, "%s.msgpack", name);
    write_file(target, file, buf, len);
    free(buf);
}

/* ---- values ------------------------------------------------------------------------------- */

static void instance(cairn_instance *in, const char *ip, int32_t port)
{
    cairn_instance_init(in);
    in->ip = strdup(ip);
    in->port = port;
    in->cluster = strdup("DEFAULT");
    in->modified_ms = 1700000000000;
}

static void rich_instance(cairn_instance *in)
{
    instance(in, "198.51.100.1", 8080);
    in->instance_id = strdup("198.51.100.1#8080#DEFAULT#DEFAULT_GROUP@@demo");
    in->app = strdup("shop");
    in->weight = 2.5;
    in->healthy = false;
    in->ephemeral = false;
    in->marked = true;
    cairn_metadata_set(&in->metadata, "version", "1.2");
    cairn_metadata_set(&in->metadata, "zone", "eu-1");
}

static void service(cairn_service *svc)
{
    cairn_service_init(svc);
    svc->namespace_id = strdup("public");
    svc->name = strdup("DEFAULT_GROUP@@demo");
    svc->protect_threshold = 0.5f;
    cairn_metadata_set(&svc->metadata, "owner", "team-a");
    free(svc->selector_json);
    svc->selector_json = strdup("{\"type\":\"label\",\"expression\":\"CONSUMER.label.a = "
                                "PROVIDER.label.a\"}");
    svc->clusters = calloc(2, sizeof *svc->clusters);
    svc->cluster_count = 2;
    cairn_cluster_init_default(&svc->clusters[0]);
    svc->clusters[0].name = strdup("DEFAULT");
    cairn_cluster_init_default(&svc->clusters[1]);
    svc->clusters[1].name = strdup("web");
    svc->clusters[1].check_type = CAIRN_CHECK_HTTP;
    svc->clusters[1].check_path = strdup("/health");
    svc->clusters[1].check_port = 9090;
    svc->clusters[1].use_instance_port = false;
    cairn_metadata_set(&svc->clusters[1].metadata, "k", "v");
    svc->defined = true;
    svc->revision = 7;
    svc->modified_ms = 1700000000000;
}

static void snapshot(cairn_service_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    snap->found = true;
    service(&snap->service);
    snap->instances = calloc(2, sizeof *snap->instances);
    snap->instance_count = 2;
    instance(&snap->instances[0], "127.2.3.4", 80);
    rich_instance(&snap->instances[1]);
}

/* ---- requests ----------------------------------------------------------------------------- */

static void request_named(cairn_request *rq, cairn_msg_type type, const char *ns, const char *svc)
{
    cairn_request_init(rq, type);
    rq->namespace_id = ns ? strdup(ns) : NULL;
    rq->service = svc ? strdup(svc) : NULL;
}

static void emit_request(cairn_request *rq, const char *name)
{
    char *buf;
    size_t len;
    cairn_err err = cairn_request_encode(rq, &buf, &len);
    write_seed("request", name, err, buf, len);
    cairn_request_free(rq);
}

static void requests(void)
{
    cairn_request rq;
    /* The golden request of test_msg.c. */
    request_named(&rq, CAIRN_MSG_INSTANCE_UPSERT, "public", "g@@s");
    rq.has_instance = true;
    instance(&rq.instance, "127.0.0.1", 8080);
    rq.instance.weight = 1.5;
    cairn_metadata_set(&rq.instance.metadata, "k", "v");
    emit_request(&rq, "golden_instance_upsert");

    request_named(&rq, CAIRN_MSG_INSTANCE_UPSERT, "dev", "DEFAULT_GROUP@@demo");
    rq.has_instance = true;
    rich_instance(&rq.instance);
    rq.mode = CAIRN_UPSERT_MUST_EXIST;
    emit_request(&rq, "instance_update_strict");

    request_named(&rq, CAIRN_MSG_INSTANCE_PATCH, "public", "DEFAULT_GROUP@@demo");
    rq.has_instance = true;
    rich_instance(&rq.instance);
    rq.patch_mask = CAIRN_PATCH_METADATA | CAIRN_PATCH_WEIGHT | CAIRN_PATCH_ENABLED;
    emit_request(&rq, "instance_patch");

    static const struct {
        cairn_msg_type type;
        const char *name;
    } selecting[] = {{CAIRN_MSG_INSTANCE_REMOVE, "instance_remove"},
                     {CAIRN_MSG_INSTANCE_GET, "instance_get"},
                     {CAIRN_MSG_BEAT, "beat"},
                     {CAIRN_MSG_INSTANCE_HEALTH, "instance_health"}};
    for (size_t i = 0; i < sizeof selecting / sizeof selecting[0]; i++) {
        request_named(&rq, selecting[i].type, "public", "DEFAULT_GROUP@@demo");
        rq.has_instance = true;
        instance(&rq.instance, "198.51.100.1", 8080);
        if (selecting[i].type == CAIRN_MSG_BEAT)
            rq.has_body = true;
        if (selecting[i].type == CAIRN_MSG_INSTANCE_HEALTH)
            rq.mode = CAIRN_HEALTH_MANUAL;
        emit_request(&rq, selecting[i].name);
    }

    request_named(&rq, CAIRN_MSG_SERVICE_GET, "public", "DEFAULT_GROUP@@demo");
    emit_request(&rq, "service_get");
    request_named(&rq, CAIRN_MSG_SERVICE_REMOVE, "public", "DEFAULT_GROUP@@demo");
    emit_request(&rq, "service_remove");

    request_named(&rq, CAIRN_MSG_SERVICE_PUT, "public", "DEFAULT_GROUP@@demo");
    rq.has_service = true;
    service(&rq.service_def);
    rq.mode = CAIRN_SERVICE_CLUSTERS;
    emit_request(&rq, "service_put_clusters");

    request_named(&rq, CAIRN_MSG_SERVICE_LIST, "public", NULL);
    rq.group = strdup("DEFAULT_GROUP");
    rq.page_no = 2;
    rq.page_size = 10;
    rq.mode = CAIRN_LABEL_INSTANCE;
    rq.filter = strdup("zone=east");
    emit_request(&rq, "service_list");

    request_named(&rq, CAIRN_MSG_SERVICE_CATALOG, "public", NULL);
    rq.group = strdup("DEF");
    rq.filter = strdup("dem");
    rq.page_no = 1;
    rq.page_size = 10;
    emit_request(&rq, "service_catalog");

    request_named(&rq, CAIRN_MSG_SNAPSHOT_PAGE, "public", "DEFAULT_GROUP@@demo");
    rq.page_size = 64;
    emit_request(&rq, "snapshot_page");

    request_named(&rq, CAIRN_MSG_SUBSCRIPTION_SNAPSHOT, NULL, NULL);
    rq.page_no = 1;
    rq.page_size = 2;
    emit_request(&rq, "subscription_snapshot");

    request_named(&rq, CAIRN_MSG_STATS, NULL, NULL);
    emit_request(&rq, "stats");
    request_named(&rq, CAIRN_MSG_NAMESPACE_LIST, NULL, NULL);
    emit_request(&rq, "namespace_list");

    /* What the gateway and cairn-grpc report: services with subscribers. */
    const char *in_use_ns[] = {"public", "dev"};
    const char *in_use_svc[] = {"DEFAULT_GROUP@@demo", "g@@s"};
    cairn_status st;
    emit_request((cairn_request_services_in_use(&rq, in_use_ns, in_use_svc, 2, &st), &rq),
                 "services_in_use");
}

/* ---- replies ------------------------------------------------------------------------------ */

static void emit_reply(cairn_reply *rep, const char *name)
{
    char *buf;
    size_t len;
    cairn_err err = cairn_reply_encode(rep, &buf, &len);
    write_seed("reply", name, err, buf, len);
    cairn_reply_free(rep);
}

static char **names(const char *a, const char *b)
{
    char **v = calloc(2, sizeof *v);
    v[0] = strdup(a);
    v[1] = strdup(b);
    return v;
}

static void replies(void)
{
    cairn_reply rep;
    /* The golden reply of test_msg.c. */
    cairn_reply_init(&rep);
    rep.revision = 7;
    rep.has_snapshot = true;
    rep.snapshot.found = true;
    cairn_service_init(&rep.snapshot.service);
    rep.snapshot.service.namespace_id = strdup("public");
    rep.snapshot.service.name = strdup("g@@s");
    rep.snapshot.service.protect_threshold = 0.5f;
    rep.snapshot.service.clusters = calloc(1, sizeof *rep.snapshot.service.clusters);
    rep.snapshot.service.cluster_count = 1;
    cairn_cluster_init_default(&rep.snapshot.service.clusters[0]);
    rep.snapshot.service.clusters[0].name = strdup("DEFAULT");
    rep.snapshot.service.revision = 7;
    rep.snapshot.service.modified_ms = 1000;
    rep.snapshot.instances = calloc(1, sizeof *rep.snapshot.instances);
    rep.snapshot.instance_count = 1;
    instance(&rep.snapshot.instances[0], "127.2.3.4", 80);
    rep.snapshot.instances[0].modified_ms = 1000;
    emit_reply(&rep, "golden_service_get");

    cairn_reply_init(&rep);
    rep.revision = 7;
    rep.has_snapshot = true;
    snapshot(&rep.snapshot);
    emit_reply(&rep, "service_get");

    cairn_reply_init(&rep);
    rep.code = CAIRN_E_INVALID;
    rep.message = strdup("Param 'ip' is required.");
    emit_reply(&rep, "error");

    cairn_reply_init(&rep);
    rep.has_instance = true;
    rich_instance(&rep.instance);
    emit_reply(&rep, "instance_get");

    cairn_reply_init(&rep);
    rep.names = names("DEFAULT_GROUP@@a", "g@@b");
    rep.name_count = 2;
    rep.total = 12;
    emit_reply(&rep, "service_list");

    cairn_reply_init(&rep);
    rep.beat_code = CAIRN_BEAT_CODE_NOT_FOUND;
    rep.beat_interval_ms = 5000;
    emit_reply(&rep, "beat");

    cairn_reply_init(&rep);
    rep.service_count = 3;
    rep.instance_count = 40;
    emit_reply(&rep, "stats");

    cairn_reply_init(&rep);
    rep.snapshots = calloc(2, sizeof *rep.snapshots);
    rep.snapshot_count = 2;
    snapshot(&rep.snapshots[0]);
    rep.snapshots[1].found = false;
    cairn_service_init(&rep.snapshots[1].service);
    rep.snapshots[1].service.namespace_id = strdup("public");
    rep.snapshots[1].service.name = strdup("g@@gone");
    rep.more = true;
    rep.revision = 99;
    emit_reply(&rep, "snapshot_page");

    cairn_reply_init(&rep);
    rep.subscriptions = calloc(1, sizeof *rep.subscriptions);
    rep.subscription_count = 1;
    rep.subscriptions[0] = (cairn_subscription){
        .namespace_id = strdup("public"), .service = strdup("DEFAULT_GROUP@@demo"),
        .clusters = strdup(""), .ip = strdup("198.51.100.9"), .port = 50123,
        .agent = strdup("Nacos-Java-Client:v1.4.1"), .at_ms = 1700000000000};
    rep.revision = 5;
    emit_reply(&rep, "subscription_snapshot");

    cairn_reply_init(&rep);
    rep.summaries = calloc(1, sizeof *rep.summaries);
    rep.summary_count = 1;
    rep.summaries[0] = (cairn_service_summary){.name = strdup("DEFAULT_GROUP@@demo"),
                                               .protect_threshold = 0.25f, .cluster_count = 2,
                                               .instance_count = 3, .healthy_count = 1};
    rep.total = 1;
    emit_reply(&rep, "service_catalog");

    cairn_reply_init(&rep);
    rep.names = names("dev", "public");
    rep.name_count = 2;
    rep.total = 2;
    emit_reply(&rep, "namespace_list");
}

/* ---- events, subscriptions, stored values -------------------------------------------------- */

static void emit_event(cairn_change_event *ev, const char *name)
{
    char *buf;
    size_t len;
    cairn_err err = cairn_event_encode(ev, &buf, &len);
    write_seed("event", name, err, buf, len);
}

static void events(void)
{
    /* The golden event of test_msg.c. */
    cairn_change_event ev = {.namespace_id = "public", .service = "g@@s", .revision = 7,
                             .kind = CAIRN_CHANGE_INSTANCES, .at_ms = 1700000000000};
    emit_event(&ev, "golden_instances");

    cairn_service_snapshot snap;
    snapshot(&snap);
    char *snap_buf;
    size_t snap_len;
    if (cairn_snapshot_encode(&snap, &snap_buf, &snap_len) != CAIRN_OK)
        exit(1);
    cairn_service_snapshot_free(&snap);
    ev = (cairn_change_event){.namespace_id = "public", .service = "DEFAULT_GROUP@@demo",
                              .revision = 8, .prev_revision = 7, .kind = CAIRN_CHANGE_INSTANCES,
                              .at_ms = 1700000000001, .snapshot = snap_buf,
                              .snapshot_len = snap_len};
    emit_event(&ev, "instances_with_snapshot");
    /* A delta (one instance written, one removed) beside the snapshot, then alone. */
    static const char gone_key[] = "public\0DEFAULT_GROUP@@demo\0eDEFAULT\0" "127.0.0.9\0"
                                   "\0\0\x1f\x90";
    cairn_bytes gone = {gone_key, sizeof gone_key - 1};
    ev.delta = snap_buf;
    ev.delta_len = snap_len;
    ev.gone = &gone;
    ev.gone_count = 1;
    emit_event(&ev, "instances_with_snapshot_and_delta");
    ev.snapshot = NULL;
    ev.snapshot_len = 0;
    emit_event(&ev, "instances_with_delta");
    free(snap_buf);

    ev = (cairn_change_event){.namespace_id = "public", .service = "DEFAULT_GROUP@@demo",
                              .revision = 9, .prev_revision = 8, .kind = CAIRN_CHANGE_REMOVED,
                              .at_ms = 1700000000002};
    emit_event(&ev, "removed");
    ev = (cairn_change_event){.namespace_id = "", .service = "", .revision = 9,
                              .prev_revision = 9, .kind = CAIRN_CHANGE_TICK,
                              .at_ms = 1700000000003};
    emit_event(&ev, "tick");
}

static void subscriptions(void)
{
    /* The golden subscription of test_msg.c. */
    cairn_subscription sub = {.namespace_id = "public", .service = "g@@s", .clusters = "DEFAULT",
                              .ip = "127.0.0.2", .port = 9999, .agent = "nacos-node",
                              .at_ms = 1700000000000};
    char *buf;
    size_t len;
    cairn_err err = cairn_subscription_encode(&sub, &buf, &len);
    write_seed("subscription", "golden", err, buf, len);
    sub.seq = 42;
    sub.clusters = "";
    sub.agent = "Nacos-Java-Client:v1.4.1";
    err = cairn_subscription_encode(&sub, &buf, &len);
    write_seed("subscription", "java_client", err, buf, len);
}

static void records(void)
{
    char *buf;
    size_t len;
    cairn_instance in;
    rich_instance(&in);
    cairn_err err = cairn_instance_encode(&in, &buf, &len);
    write_seed("records", "instance", err, buf, len);
    cairn_instance_free(&in);

    cairn_service svc;
    service(&svc);
    err = cairn_service_encode(&svc, &buf, &len);
    write_seed("records", "service", err, buf, len);
    cairn_service_free(&svc);

    cairn_service_snapshot snap;
    snapshot(&snap);
    err = cairn_snapshot_encode(&snap, &buf, &len);
    write_seed("records", "snapshot", err, buf, len);
    cairn_service_snapshot_free(&snap);
}

/* ---- cluster replication ---------------------------------------------------------------- */

static cairn_distro_state *states(void)
{
    cairn_distro_state *ds = calloc(2, sizeof *ds);
    ds[0].namespace_id = strdup("public");
    ds[0].service = strdup("DEFAULT_GROUP@@demo");
    ds[0].version = (cairn_distro_version){.epoch = 0x1122334455667788ull, .seq = 42,
                                           .origin = strdup("127.0.0.1:8848")};
    ds[0].instances = calloc(1, sizeof *ds[0].instances);
    ds[0].instance_count = 1;
    rich_instance(&ds[0].instances[0]);
    ds[1].namespace_id = strdup("dev");
    ds[1].service = strdup("g@@gone"); /* a tombstone */
    ds[1].version = (cairn_distro_version){.epoch = 7, .seq = 9};
    ds[1].has_digest = true;
    memset(ds[1].digest, 0x5a, sizeof ds[1].digest);
    return ds;
}

static cairn_persist_record *persist_records(uint32_t *n)
{
    cairn_persist_record *r = calloc(4, sizeof *r);
    for (int i = 0; i < 4; i++) {
        r[i].namespace_id = strdup("public");
        r[i].service = strdup("DEFAULT_GROUP@@demo");
        r[i].has_value = i < 3;
        r[i].kind = i == 0 || i == 3 ? CAIRN_PERSIST_SERVICE : CAIRN_PERSIST_INSTANCE;
        r[i].op = i >= 2 ? CAIRN_PERSIST_DEL : CAIRN_PERSIST_PUT;
        cairn_instance_init(&r[i].instance);
        cairn_service_init(&r[i].service_def);
    }
    cairn_service_free(&r[0].service_def);
    service(&r[0].service_def);
    cairn_instance_free(&r[1].instance);
    rich_instance(&r[1].instance);
    cairn_instance_free(&r[2].instance);
    instance(&r[2].instance, "198.51.100.2", 81);
    *n = 4;
    return r;
}

static void cluster_requests(void)
{
    cairn_request rq;
    cairn_status st;
    const char *owners[] = {"127.0.0.1:8848", "127.0.0.10:8848", "127.0.0.2:8848"};
    const char *ns[] = {"public"}, *svc[] = {"DEFAULT_GROUP@@demo"};
    uint32_t n;
    emit_request((cairn_request_distro_apply(&rq, states(), 2, CAIRN_DISTRO_OWNER, 5, &st), &rq),
                 "distro_apply");
    emit_request((cairn_request_distro_digests(&rq, owners, 3, owners[1], &st), &rq),
                 "distro_digests");
    emit_request((cairn_request_distro_keys(&rq, 200, owners, 3, owners[0], "public", "g@@s", 10,
                                            &st),
                  &rq),
                 "distro_keys");
    emit_request((cairn_request_distro_fetch(&rq, ns, svc, 1, &st), &rq), "distro_fetch");
    emit_request((cairn_request_distro_snapshot(&rq, "public", "g@@s", 65536, &st), &rq),
                 "distro_snapshot");
    emit_request((cairn_request_distro_load_end(&rq, 5, &st), &rq), "distro_load_end");
    cairn_persist_record *r = persist_records(&n);
    emit_request((cairn_request_persist_apply(&rq, 3, 9, r, n, &st), &rq), "persist_apply");
    r = persist_records(&n);
    for (uint32_t i = 2; i < n; i++) /* the request takes the array with its first two */
        cairn_persist_record_free(&r[i]);
    emit_request((cairn_request_persist_replace(&rq, 12, r, 2, &st), &rq), "persist_replace");
}

static void cluster_replies(void)
{
    cairn_reply rep;
    cairn_reply_init(&rep);
    rep.store_epoch = 0x1122334455667788ull;
    rep.store_fresh = true;
    rep.raft_applied = 12;
    rep.skipped = true;
    rep.outcomes = calloc(3, sizeof *rep.outcomes);
    rep.outcomes[1] = CAIRN_DISTRO_STALE;
    rep.outcomes[2] = CAIRN_DISTRO_REJECTED;
    rep.outcome_count = 3;
    rep.states = states();
    rep.state_count = 2;
    rep.cursor_ns = strdup("dev");
    rep.cursor_svc = strdup("g@@gone");
    rep.more = true;
    emit_reply(&rep, "distro_states");
    cairn_reply_init(&rep);
    rep.digests = calloc(1, sizeof *rep.digests);
    for (int b = 0; b < CAIRN_DISTRO_BUCKETS; b++) {
        memset(rep.digests->digest[b], b, CAIRN_DISTRO_DIGEST_LEN);
        rep.digests->count[b] = (uint32_t)b;
    }
    rep.total = 255 * 128;
    emit_reply(&rep, "distro_digests");
}

/* rq as a DISTRO_READ body; built: what building rq returned. */
static void emit_peer_request(cairn_err built, cairn_request *rq, const char *name)
{
    char *buf = NULL;
    size_t len = 0;
    cairn_err err = built == CAIRN_OK ? cairn_request_encode(rq, &buf, &len) : built;
    write_seed("peer", name, err, buf, len);
    cairn_request_free(rq);
}

/* The Distro bodies of the peer channel: a DISTRO_SYNC as an owner sends it, the answer, and a
 * DISTRO_READ of each kind a member sends another (the registry read requests, unchanged). */
static void peer_bodies(void)
{
    char *buf = NULL;
    size_t len = 0;
    cairn_distro_state *ds = states();
    cairn_err err = cairn_peer_sync_encode(ds, 2, &buf, &len);
    for (int i = 0; i < 2; i++)
        cairn_distro_state_free(&ds[i]);
    free(ds);
    write_seed("peer", "distro_sync", err, buf, len);
    cairn_peer_sync_ack ack = {.code = CAIRN_OK, .applied = 1, .stale = 1, .rejected = 0};
    err = cairn_peer_sync_ack_encode(&ack, &buf, &len);
    write_seed("peer", "distro_sync_ack", err, buf, len);

    /* a RAFT_FORWARD of two writes, as a follower gathers them, and the leader's answer */
    cairn_request a, b;
    request_named(&a, CAIRN_MSG_SERVICE_REMOVE, "public", "DEFAULT_GROUP@@gone");
    request_named(&b, CAIRN_MSG_SERVICE_REMOVE, "dev", "g@@old");
    char *abuf = NULL, *bbuf = NULL;
    size_t alen = 0, blen = 0;
    err = cairn_request_encode(&a, &abuf, &alen);
    if (err == CAIRN_OK)
        err = cairn_request_encode(&b, &bbuf, &blen);
    cairn_peer_raft_forward fwd = {.count = 2, .cmds = {abuf, bbuf}, .lens = {alen, blen},
                                   .budgets_ms = {2500, 1800}};
    if (err == CAIRN_OK)
        err = cairn_peer_raft_forward_encode(&fwd, &buf, &len);
    write_seed("peer", "raft_forward", err, buf, len);
    free(abuf);
    free(bbuf);
    cairn_request_free(&a);
    cairn_request_free(&b);
    cairn_peer_raft_acks acks = {.count = 2};
    acks.acks[0] = (cairn_peer_raft_ack){.status = CAIRN_RAFT_FWD_COMMITTED, .index = 42};
    acks.acks[1] = (cairn_peer_raft_ack){.status = CAIRN_RAFT_FWD_NOT_LEADER};
    snprintf(acks.acks[1].leader, sizeof acks.acks[1].leader, "127.0.0.2:8848");
    err = cairn_peer_raft_acks_encode(&acks, &buf, &len);
    write_seed("peer", "raft_forward_ack", err, buf, len);

    cairn_request rq;
    cairn_status st;
    const char *owners[] = {"127.0.0.1:8848", "127.0.0.2:8848"};
    const char *ns[] = {"public", "dev"}, *svc[] = {"DEFAULT_GROUP@@demo", "g@@gone"};
    err = cairn_request_distro_snapshot(&rq, NULL, NULL, 65536, &st);
    emit_peer_request(err, &rq, "distro_read_snapshot");
    err = cairn_request_distro_digests(&rq, owners, 2, owners[0], &st);
    emit_peer_request(err, &rq, "distro_read_digests");
    err = cairn_request_distro_keys(&rq, 7, owners, 2, owners[1], "public", "g@@s", 100, &st);
    emit_peer_request(err, &rq, "distro_read_keys");
    err = cairn_request_distro_fetch(&rq, ns, svc, 2, &st);
    emit_peer_request(err, &rq, "distro_read_fetch");
    request_named(&rq, CAIRN_MSG_STATS, NULL, NULL);
    emit_peer_request(CAIRN_OK, &rq, "distro_read_stats");
}

/* A batch of two requests, as a batching client sends them (cairn_rpc.h). */
static void request_batch(void)
{
    cairn_request a, b;
    request_named(&a, CAIRN_MSG_SERVICE_GET, "public", "DEFAULT_GROUP@@batched");
    request_named(&b, CAIRN_MSG_STATS, NULL, NULL);
    char *abuf = NULL, *bbuf = NULL, *buf = NULL;
    size_t alen = 0, blen = 0, len = 0;
    cairn_err err = cairn_request_encode(&a, &abuf, &alen);
    if (err == CAIRN_OK)
        err = cairn_request_encode(&b, &bbuf, &blen);
    if (err == CAIRN_OK) {
        cairn_batch_part parts[2] = {{abuf, alen}, {bbuf, blen}};
        err = cairn_batch_encode(parts, 2, &buf, &len);
    }
    write_seed("request", "batch_of_two", err, buf, len);
    free(abuf);
    free(bbuf);
    cairn_request_free(&a);
    cairn_request_free(&b);
}

/* ---- access tokens ------------------------------------------------------------------------ */

static void write_text(const char *target, const char *name, const char *text)
{
    write_file(target, name, text, strlen(text));
}

static void tokens(void)
{
    cairn_auth_secret secret = {.bytes = (unsigned char *)FUZZ_TOKEN_SECRET,
                                .len = strlen(FUZZ_TOKEN_SECRET)};
    char made[FUZZ_TOKEN_COUNT][CAIRN_AUTH_TOKEN_MAX];
    static const char *const names[FUZZ_TOKEN_COUNT] = {"valid", "expired", "expires_now"};
    for (size_t i = 0; i < FUZZ_TOKEN_COUNT; i++) {
        if (!cairn_auth_token_create(&secret, fuzz_tokens[i].user, fuzz_tokens[i].exp_s,
                                     made[i], sizeof made[i])) {
            fprintf(stderr, "seed_msgs: token of %s not made\n", fuzz_tokens[i].user);
            exit(1);
        }
        write_text("token", names[i], made[i]);
    }
    const char *valid = made[0];
    size_t len = strlen(valid), head = strcspn(valid, "."), sig = strrchr(valid, '.') - valid + 1;
    char t[2 * CAIRN_AUTH_TOKEN_MAX];
    write_file("token", "truncated_signature", valid, len - 1);
    write_file("token", "truncated_at_signature", valid, sig);
    write_file("token", "truncated_payload", valid, head + 1 + (sig - head - 1) / 2);

    snprintf(t, sizeof t, "%s", valid);
    t[head + 3] = t[head + 3] == 'A' ? 'B' : 'A';
    write_text("token", "altered_payload", t);
    snprintf(t, sizeof t, "%s", valid);
    t[sig] = t[sig] == 'A' ? 'B' : 'A';
    write_text("token", "altered_signature", t);
    /* The signature's last base64 character carries its last 4 bits and 2 zero bits: the same 4
     * bits with a non-zero rest decode to the same signature unless the decoder refuses them. */
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    snprintf(t, sizeof t, "%s", valid);
    t[len - 1] = b64[(strchr(b64, t[len - 1]) - b64) | 1];
    write_text("token", "signature_padding_bits", t);
    /* The expired token with a '_' of its signature written as a byte above 0x7f, which
     * libsodium 1.0.18 decodes as '_': refused (it verified before the verifier checked the
     * characters). */
    snprintf(t, sizeof t, "%s", made[1]);
    char *under = strchr(strrchr(t, '.'), '_');
    if (!under) {
        fprintf(stderr, "seed_msgs: the expired token's signature has no '_'\n");
        exit(1);
    }
    *under = (char)0xc1;
    write_text("token", "signature_high_byte", t);
    /* The valid token's header and claims with the expired token's signature. */
    snprintf(t, sizeof t, "%.*s%s", (int)sig, valid, strrchr(made[1], '.') + 1);
    write_text("token", "signature_of_another", t);
    /* An unsigned token (alg none) with the valid token's claims. */
    static const char none[] = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    sodium_bin2base64(t, sizeof t, (const unsigned char *)none, sizeof none - 1,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(t + strlen(t), sizeof t - strlen(t), "%.*s", (int)(sig - head), valid + head);
    write_text("token", "alg_none", t);

    write_text("token", "claims", "{\"sub\":\"alice\",\"exp\":2000000000}");
    write_text("token", "claims_duplicate_sub",
               "{\"sub\":\"alice\",\"sub\":\"root\",\"exp\":2000000000}");
    write_text("token", "claims_bad_name", "{\"sub\":\"al ice\",\"exp\":1}");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    requests();
    request_batch();
    replies();
    cluster_requests();
    cluster_replies();
    peer_bodies();
    events();
    subscriptions();
    records();
    tokens();
    return 0;
}
