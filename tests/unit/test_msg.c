/* The inter-role message schema (cairn_msg.h): golden bytes, round trips of every message type,
 * and the decoder's rejections of malformed input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_forward.h"
#include "cairn_msg.h"
#include "cairn_peer_raft.h"
#include "cairn_requests.h"
#include "test_cluster_samples.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static char *hex_of(const char *buf, size_t len)
{
    char *s = malloc(2 * len + 1);
    for (size_t i = 0; i < len; i++)
        sprintf(s + 2 * i, "%02x", (unsigned char)buf[i]);
    s[2 * len] = '\0';
    return s;
}

/* The bytes of a hex string (spaces skipped), malloc'd. */
static char *hex_decode(const char *hex, size_t *len)
{
    char *out = malloc(strlen(hex) / 2 + 1);
    cr_assert(out);
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        cr_assert_eq(sscanf(p, "%2x", &v), 1, "bad hex at %s", p);
        out[n++] = (char)v;
        p += 2;
    }
    *len = n;
    return out;
}

static void expect_hex(const char *buf, size_t len, const char *want_hex)
{
    char *got = hex_of(buf, len);
    cr_expect_str_eq(got, want_hex, "encoding changed (a wire-format change): got %s", got);
    free(got);
}

/* The four kinds of message, for the helpers that take any of them. */
typedef enum { MSG_REQUEST, MSG_REPLY, MSG_EVENT, MSG_SUBSCRIPTION } msg_kind;

/* Encodes msg (a cairn_request, cairn_reply, cairn_change_event or cairn_subscription as kind
 * says); asserts success. */
static void encode_msg(msg_kind kind, const void *msg, char **buf, size_t *len)
{
    cairn_err err = kind == MSG_REQUEST ? cairn_request_encode(msg, buf, len)
                    : kind == MSG_REPLY ? cairn_reply_encode(msg, buf, len)
                    : kind == MSG_EVENT ? cairn_event_encode(msg, buf, len)
                                        : cairn_subscription_encode(msg, buf, len);
    cr_assert_eq(err, CAIRN_OK, "encode a message of kind %d", (int)kind);
}

/* Decodes len bytes as a message of kind and frees what was decoded. A failed decode must leave
 * the output empty (and freeable). Returns the decoder's result; st gets its message. */
static cairn_err decode_and_free(msg_kind kind, const char *buf, size_t len, cairn_status *st)
{
    cairn_err err;
    if (kind == MSG_REQUEST) {
        cairn_request req;
        err = cairn_request_decode(buf, len, &req, st);
        if (err) {
            cr_expect_null(req.namespace_id);
            cr_expect_null(req.service);
            cr_expect_null(req.instance.ip);
        }
        cairn_request_free(&req);
    } else if (kind == MSG_REPLY) {
        cairn_reply rep;
        err = cairn_reply_decode(buf, len, &rep, st);
        if (err) {
            cr_expect_null(rep.message);
            cr_expect_not(rep.has_snapshot);
            cr_expect_null(rep.snapshot.instances);
            cr_expect_null(rep.names);
            cr_expect_null(rep.snapshots);
            cr_expect_eq(rep.snapshot_count, 0);
        }
        cairn_reply_free(&rep);
    } else if (kind == MSG_EVENT) {
        cairn_change_event ev;
        err = cairn_event_decode(buf, len, &ev, st);
        if (err) {
            cr_expect_null(ev.namespace_id);
            cr_expect_null(ev.service);
        }
        cairn_event_free(&ev);
    } else {
        cairn_subscription sub;
        err = cairn_subscription_decode(buf, len, &sub, st);
        if (err) {
            cr_expect_null(sub.namespace_id);
            cr_expect_null(sub.service);
            cr_expect_null(sub.clusters);
            cr_expect_null(sub.ip);
            cr_expect_null(sub.agent);
        }
        cairn_subscription_free(&sub);
    }
    return err;
}

static void sample_instance(cairn_instance *in, const char *ip, int32_t port)
{
    cairn_instance_init(in);
    in->ip = strdup(ip);
    in->port = port;
    in->cluster = strdup("DEFAULT");
}

static void sample_service(cairn_service *svc)
{
    cairn_service_init(svc);
    svc->namespace_id = strdup("public");
    svc->name = strdup("g@@s");
    svc->protect_threshold = 0.5f;
    svc->clusters = calloc(1, sizeof *svc->clusters);
    svc->cluster_count = 1;
    cairn_cluster_init_default(&svc->clusters[0]);
    svc->clusters[0].name = strdup("DEFAULT");
    svc->revision = 7;
    svc->modified_ms = 1000;
}

/* The golden request: INSTANCE_UPSERT of a small instance. */
static void golden_request(cairn_request *req)
{
    cairn_request_init(req, CAIRN_MSG_INSTANCE_UPSERT);
    req->namespace_id = strdup("public");
    req->service = strdup("g@@s");
    req->has_instance = true;
    sample_instance(&req->instance, "127.0.0.1", 8080);
    req->instance.weight = 1.5;
    cairn_metadata_set(&req->instance.metadata, "k", "v");
    req->instance.modified_ms = 1700000000000;
    req->mode = CAIRN_UPSERT_REGISTER;
}

/* The golden reply: a SERVICE_GET snapshot with one cluster and one instance. */
static void golden_reply(cairn_reply *rep)
{
    cairn_reply_init(rep);
    rep->revision = 7;
    rep->has_snapshot = true;
    rep->snapshot.found = true;
    sample_service(&rep->snapshot.service);
    rep->snapshot.instances = calloc(1, sizeof *rep->snapshot.instances);
    rep->snapshot.instance_count = 1;
    sample_instance(&rep->snapshot.instances[0], "127.2.3.4", 80);
    rep->snapshot.instances[0].modified_ms = 1000;
}

static void golden_event(cairn_change_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->namespace_id = strdup("public");
    ev->service = strdup("g@@s");
    ev->revision = 7;
    ev->kind = CAIRN_CHANGE_INSTANCES;
    ev->at_ms = 1700000000000;
}

static void expect_metadata_eq(const cairn_metadata *a, const cairn_metadata *b)
{
    cr_assert_eq(a->len, b->len);
    for (uint32_t i = 0; i < a->len; i++) {
        cr_expect_str_eq(a->items[i].key, b->items[i].key);
        cr_expect_str_eq(a->items[i].value, b->items[i].value);
    }
}

static void expect_opt_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        cr_expect_eq(a, b, "one string is NULL: %s / %s", a ? a : "NULL", b ? b : "NULL");
    else
        cr_expect_str_eq(a, b);
}

static void expect_instance_eq(const cairn_instance *a, const cairn_instance *b)
{
    expect_opt_str_eq(a->ip, b->ip);
    cr_expect_eq(a->port, b->port);
    expect_opt_str_eq(a->cluster, b->cluster);
    expect_opt_str_eq(a->instance_id, b->instance_id);
    expect_opt_str_eq(a->app, b->app);
    cr_expect_eq(a->weight, b->weight);
    cr_expect_eq(a->healthy, b->healthy);
    cr_expect_eq(a->enabled, b->enabled);
    cr_expect_eq(a->ephemeral, b->ephemeral);
    cr_expect_eq(a->marked, b->marked);
    expect_metadata_eq(&a->metadata, &b->metadata);
    cr_expect_eq(a->modified_ms, b->modified_ms);
    expect_opt_str_eq(a->owner, b->owner);
}

static void expect_service_eq(const cairn_service *a, const cairn_service *b)
{
    expect_opt_str_eq(a->namespace_id, b->namespace_id);
    expect_opt_str_eq(a->name, b->name);
    cr_expect_eq(a->protect_threshold, b->protect_threshold);
    expect_metadata_eq(&a->metadata, &b->metadata);
    expect_opt_str_eq(a->selector_json, b->selector_json);
    cr_assert_eq(a->cluster_count, b->cluster_count);
    for (uint32_t i = 0; i < a->cluster_count; i++) {
        const cairn_cluster *x = &a->clusters[i], *y = &b->clusters[i];
        expect_opt_str_eq(x->name, y->name);
        cr_expect_eq(x->check_type, y->check_type);
        expect_opt_str_eq(x->check_path, y->check_path);
        cr_expect_eq(x->check_expected_status, y->check_expected_status);
        cr_expect_eq(x->check_port, y->check_port);
        cr_expect_eq(x->use_instance_port, y->use_instance_port);
        expect_metadata_eq(&x->metadata, &y->metadata);
    }
    cr_expect_eq(a->defined, b->defined);
    cr_expect_eq(a->revision, b->revision);
    cr_expect_eq(a->modified_ms, b->modified_ms);
}

static void expect_request_eq(const cairn_request *a, const cairn_request *b)
{
    cr_expect_eq(a->type, b->type);
    expect_opt_str_eq(a->namespace_id, b->namespace_id);
    expect_opt_str_eq(a->service, b->service);
    cr_expect_eq(a->has_instance, b->has_instance);
    if (a->has_instance && b->has_instance)
        expect_instance_eq(&a->instance, &b->instance);
    cr_expect_eq(a->has_service, b->has_service);
    if (a->has_service && b->has_service)
        expect_service_eq(&a->service_def, &b->service_def);
    cr_expect_eq(a->mode, b->mode);
    cr_expect_eq(a->cmd, b->cmd);
    cr_expect_eq(a->patch_mask, b->patch_mask);
    cr_expect_eq(a->has_body, b->has_body);
    expect_opt_str_eq(a->group, b->group);
    expect_opt_str_eq(a->filter, b->filter);
    cr_expect_eq(a->page_no, b->page_no);
    cr_expect_eq(a->page_size, b->page_size);
    expect_opt_str_eq(a->owner, b->owner);
    cr_assert_eq(a->instance_count, b->instance_count);
    for (uint32_t i = 0; i < a->instance_count; i++)
        expect_instance_eq(&a->instances[i], &b->instances[i]);
}

static void expect_snapshot_eq(const cairn_service_snapshot *a, const cairn_service_snapshot *b)
{
    cr_expect_eq(a->found, b->found);
    expect_service_eq(&a->service, &b->service);
    cr_assert_eq(a->instance_count, b->instance_count);
    for (uint32_t i = 0; i < a->instance_count; i++)
        expect_instance_eq(&a->instances[i], &b->instances[i]);
}

static void expect_reply_eq(const cairn_reply *a, const cairn_reply *b)
{
    cr_expect_eq(a->code, b->code);
    expect_opt_str_eq(a->message, b->message);
    cr_expect_eq(a->revision, b->revision);
    cr_expect_eq(a->has_instance, b->has_instance);
    if (a->has_instance && b->has_instance)
        expect_instance_eq(&a->instance, &b->instance);
    cr_expect_eq(a->has_snapshot, b->has_snapshot);
    if (a->has_snapshot && b->has_snapshot) {
        cr_expect_eq(a->snapshot.found, b->snapshot.found);
        expect_service_eq(&a->snapshot.service, &b->snapshot.service);
        cr_assert_eq(a->snapshot.instance_count, b->snapshot.instance_count);
        for (uint32_t i = 0; i < a->snapshot.instance_count; i++)
            expect_instance_eq(&a->snapshot.instances[i], &b->snapshot.instances[i]);
    }
    cr_assert_eq(a->name_count, b->name_count);
    for (uint32_t i = 0; i < a->name_count; i++)
        cr_expect_str_eq(a->names[i], b->names[i]);
    cr_expect_eq(a->total, b->total);
    cr_expect_eq(a->beat_code, b->beat_code);
    cr_expect_eq(a->beat_interval_ms, b->beat_interval_ms);
    cr_expect_eq(a->service_count, b->service_count);
    cr_expect_eq(a->instance_count, b->instance_count);
    cr_assert_eq(a->snapshot_count, b->snapshot_count);
    for (uint32_t i = 0; i < a->snapshot_count; i++)
        expect_snapshot_eq(&a->snapshots[i], &b->snapshots[i]);
    cr_expect_eq(a->more, b->more);
    cr_assert_eq(a->summary_count, b->summary_count);
    for (uint32_t i = 0; i < a->summary_count; i++) {
        const cairn_service_summary *x = &a->summaries[i], *y = &b->summaries[i];
        cr_expect_str_eq(x->name, y->name);
        cr_expect_eq(x->protect_threshold, y->protect_threshold);
        cr_expect_eq(x->cluster_count, y->cluster_count);
        cr_expect_eq(x->instance_count, y->instance_count);
        cr_expect_eq(x->healthy_count, y->healthy_count);
    }
}

/* ---- golden bytes -------------------------------------------------------------------------- */
/* A change of any of these bytes is a wire-format change: roles of different builds would stop
 * understanding each other. Bump CAIRN_MSG_VERSION rather than editing them. Each line is
 * decoded by hand in its comment (msgpack: 00-7f positive fixint, 8x fixmap of x pairs, 9x
 * fixarray, a0-bf fixstr of (byte & 0x1f) bytes, c2/c3 false/true, ca float32, cb float64,
 * cc/cd/cf uint8/16/64, all big-endian). Spaces inside the strings are ignored. */

static const char GOLDEN_REQUEST_HEX[] =
    "86"                                     /* map, 6 fields */
      "a174 02"                              /* "t": 2 INSTANCE_UPSERT */
      "a176 01"                              /* "v": 1 */
      "a26e73 a67075626c6963"                /* "ns": "public" */
      "a3737663 a467404073"                  /* "svc": "g@@s" */
      "a4696e7374"                           /* "inst": */
      "8a"                                   /* map, 10 fields */
        "a26970 a93132372e302e302e31"        /* "ip": "127.0.0.1" */
        "a4706f7274 cd1f90"                  /* "port": 8080 (uint16) */
        "a7636c7573746572 a744454641554c54"  /* "cluster": "DEFAULT" */
        "a6776569676874 cb3ff8000000000000"  /* "weight": 1.5 (float64) */
        "a76865616c746879 c3"                /* "healthy": true */
        "a7656e61626c6564 c3"                /* "enabled": true */
        "a9657068656d6572616c c3"            /* "ephemeral": true */
        "a66d61726b6564 c2"                  /* "marked": false */
        "a46d657461"                         /* "meta": */
        "81"                                 /* map, 1 field */
          "a16b a176"                        /* "k": "v" */
        "a56d74696d65 cf0000018bcfe56800"    /* "mtime": 1700000000000 (uint64) */
      "a46d6f6465 00";                       /* "mode": 0 REGISTER */

static const char GOLDEN_REPLY_HEX[] =
    "85"                                               /* map, 5 fields */
      "a174 01"                                        /* "t": 1 REPLY */
      "a176 01"                                        /* "v": 1 */
      "a4636f6465 00"                                  /* "code": 0 OK */
      "a3726576 07"                                    /* "rev": 7 */
      "a4736e6170"                                     /* "snap": */
      "83"                                             /* map, 3 fields */
        "a5666f756e64 c3"                              /* "found": true */
        "a3737663"                                     /* "svc": */
        "89"                                           /* map, 9 fields */
          "a26e73 a67075626c6963"                      /* "ns": "public" */
          "a46e616d65 a467404073"                      /* "name": "g@@s" */
          "a27074 ca3f000000"                          /* "pt": 0.5 (float32) */
          "a46d657461"                                 /* "meta": */
          "80"                                         /* map, 0 fields */
          "a373656c af7b2274797065223a226e6f6e65227d"  /* "sel": {"type":"none"} */
          "a8636c757374657273"                         /* "clusters": */
          "91"                                         /* array, 1 element */
            "86"                                       /* map, 6 fields */
              "a46e616d65 a744454641554c54"            /* "name": "DEFAULT" */
              "a5636865636b 00"                        /* "check": 0 TCP */
              "a6737461747573 ccc8"                    /* "status": 200 (uint8) */
              "a563706f7274 50"                        /* "cport": 80 */
              "a7757365706f7274 c3"                    /* "useport": true */
              "a46d657461"                             /* "meta": */
              "80"                                     /* map, 0 fields */
          "a7646566696e6564 c2"                        /* "defined": false */
          "a3726576 07"                                /* "rev": 7 */
          "a56d74696d65 cd03e8"                        /* "mtime": 1000 (uint16) */
        "a5696e737473"                                 /* "insts": */
        "91"                                           /* array, 1 element */
          "8a"                                         /* map, 10 fields */
            "a26970 a93132372e322e332e34"              /* "ip": "127.2.3.4" */
            "a4706f7274 50"                            /* "port": 80 */
            "a7636c7573746572 a744454641554c54"        /* "cluster": "DEFAULT" */
            "a6776569676874 cb3ff0000000000000"        /* "weight": 1.0 (float64) */
            "a76865616c746879 c3"                      /* "healthy": true */
            "a7656e61626c6564 c3"                      /* "enabled": true */
            "a9657068656d6572616c c3"                  /* "ephemeral": true */
            "a66d61726b6564 c2"                        /* "marked": false */
            "a46d657461"                               /* "meta": */
            "80"                                       /* map, 0 fields */
            "a56d74696d65 cd03e8";                     /* "mtime": 1000 (uint16) */

static const char GOLDEN_EVENT_HEX[] =
    "87"                           /* map, 7 fields */
      "a174 0c"                    /* "t": 12 CHANGE_EVENT */
      "a176 01"                    /* "v": 1 */
      "a26e73 a67075626c6963"      /* "ns": "public" */
      "a3737663 a467404073"        /* "svc": "g@@s" */
      "a3726576 07"                /* "rev": 7 */
      "a46b696e64 00"              /* "kind": 0 INSTANCES */
      "a26174 cf0000018bcfe56800"; /* "at": 1700000000000 (uint64) */

/* The comments above are laid out with spaces for reading; the comparison ignores them. */
static char *strip_spaces(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    for (; *s; s++)
        if (*s != ' ')
            *o++ = *s;
    *o = '\0';
    return out;
}

/* msg encodes to exactly the bytes of golden_hex (laid out with spaces). */
static void expect_golden(msg_kind kind, const void *msg, const char *golden_hex)
{
    char *buf;
    size_t len;
    encode_msg(kind, msg, &buf, &len);
    char *want = strip_spaces(golden_hex);
    expect_hex(buf, len, want);
    free(want);
    free(buf);
}

Test(golden, request_instance_upsert)
{
    cairn_request req;
    golden_request(&req);
    expect_golden(MSG_REQUEST, &req, GOLDEN_REQUEST_HEX);
    cairn_request_free(&req);
}

Test(golden, reply_snapshot)
{
    cairn_reply rep;
    golden_reply(&rep);
    expect_golden(MSG_REPLY, &rep, GOLDEN_REPLY_HEX);
    cairn_reply_free(&rep);
}

Test(golden, event)
{
    cairn_change_event ev;
    golden_event(&ev);
    expect_golden(MSG_EVENT, &ev, GOLDEN_EVENT_HEX);
    cairn_event_free(&ev);
}

/* ---- round trips ----------------------------------------------------------------------------- */

static void round_trip_request(const cairn_request *req)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_request_encode(req, &buf, &len), CAIRN_OK, "encode type %d", req->type);
    cairn_msg_type type;
    cairn_status st;
    cr_assert_eq(cairn_msg_peek_type(buf, len, &type, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(type, req->type);
    cairn_request got;
    cr_assert_eq(cairn_request_decode(buf, len, &got, &st), CAIRN_OK, "type %d: %s", req->type,
                 st.message);
    expect_request_eq(req, &got);
    cairn_request_free(&got);
    free(buf);
}

static void full_instance(cairn_instance *in)
{
    sample_instance(in, "fe80::1", -1);
    in->instance_id = strdup("7");
    in->app = strdup("app");
    in->weight = 0.01;
    in->healthy = false;
    in->enabled = false;
    in->ephemeral = false;
    in->marked = true;
    cairn_metadata_set(&in->metadata, "preserved.heart.beat.timeout", "3000");
    cairn_metadata_set(&in->metadata, "", "empty key");
    cairn_metadata_set(&in->metadata, "utf8", "caf\xc3\xa9");
    in->modified_ms = -5;
}

Test(round_trip, service_list_without_group)
{
    cairn_request req;
    cairn_request_init(&req, CAIRN_MSG_SERVICE_LIST);
    req.namespace_id = strdup("");
    round_trip_request(&req);
    cairn_request_free(&req);
}

static void round_trip_reply(const cairn_reply *rep)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_reply_encode(rep, &buf, &len), CAIRN_OK);
    cairn_reply got;
    cairn_status st;
    cr_assert_eq(cairn_reply_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    expect_reply_eq(rep, &got);
    cairn_reply_free(&got);
    free(buf);
}

Test(round_trip, replies)
{
    cairn_reply rep;

    /* error status */
    cairn_reply_init(&rep);
    cairn_status st;
    cairn_fail(&st, CAIRN_E_NOT_FOUND, "service %s is not found!", "g@@s");
    cairn_reply_set_status(&rep, &st);
    cr_expect_eq(rep.code, CAIRN_E_NOT_FOUND);
    cr_expect_str_eq(rep.message, "service g@@s is not found!");
    round_trip_reply(&rep);
    cairn_reply_free(&rep);

    /* plain OK, nothing else */
    cairn_reply_init(&rep);
    round_trip_reply(&rep);
    cairn_reply_free(&rep);

    /* INSTANCE_GET */
    cairn_reply_init(&rep);
    rep.has_instance = true;
    full_instance(&rep.instance);
    rep.revision = UINT64_MAX;
    round_trip_reply(&rep);
    cairn_reply_free(&rep);

    /* SERVICE_GET, found and not found */
    golden_reply(&rep);
    round_trip_reply(&rep);
    cairn_reply_free(&rep);
    cairn_reply_init(&rep);
    rep.has_snapshot = true;
    cairn_service_init(&rep.snapshot.service); /* what a decoder fills in */
    round_trip_reply(&rep);
    cairn_reply_free(&rep);

    /* SERVICE_LIST */
    cairn_reply_init(&rep);
    rep.names = calloc(3, sizeof *rep.names);
    rep.names[0] = strdup("a");
    rep.names[1] = strdup("");
    rep.names[2] = strdup("grp@@c");
    rep.name_count = 3;
    rep.total = 42;
    round_trip_reply(&rep);
    cairn_reply_free(&rep);

    /* BEAT and STATS */
    cairn_reply_init(&rep);
    rep.beat_code = CAIRN_BEAT_CODE_NOT_FOUND;
    rep.beat_interval_ms = 5000;
    rep.service_count = 3;
    rep.instance_count = 1ull << 40;
    round_trip_reply(&rep);
    cairn_reply_free(&rep);
}

Test(round_trip, events)
{
    for (int kind = CAIRN_CHANGE_INSTANCES; kind <= CAIRN_CHANGE_TICK; kind++) {
        cairn_change_event ev;
        golden_event(&ev);
        ev.kind = (cairn_change_kind)kind;
        ev.revision = UINT64_MAX - (uint64_t)kind;
        ev.prev_revision = (uint64_t)kind; /* 0 (absent on the wire) for the first kind */
        ev.at_ms = -1;
        char *buf;
        size_t len;
        cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
        cairn_change_event got;
        cairn_status st;
        cr_assert_eq(cairn_event_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
        cr_expect_str_eq(got.namespace_id, ev.namespace_id);
        cr_expect_str_eq(got.service, ev.service);
        cr_expect_eq(got.revision, ev.revision);
        cr_expect_eq(got.prev_revision, ev.prev_revision);
        cr_expect_eq(got.kind, ev.kind);
        cr_expect_eq(got.at_ms, ev.at_ms);
        cairn_event_free(&got);
        cairn_event_free(&ev);
        free(buf);
    }
}

Test(round_trip, instance_and_service_values)
{
    cairn_instance in, in2;
    full_instance(&in);
    char *buf;
    size_t len;
    cairn_status st;
    cr_assert_eq(cairn_instance_encode(&in, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_instance_decode(buf, len, &in2, &st), CAIRN_OK, "%s", st.message);
    expect_instance_eq(&in, &in2);
    free(buf);
    cairn_instance_free(&in);
    cairn_instance_free(&in2);

    cairn_service s, s2;
    sample_service(&s);
    cr_assert_eq(cairn_service_encode(&s, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_service_decode(buf, len, &s2, &st), CAIRN_OK, "%s", st.message);
    expect_service_eq(&s, &s2);
    free(buf);
    cairn_service_free(&s);
    cairn_service_free(&s2);
}

/* ---- hand-built messages for the rejection tests --------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} builder;

static void b_init(builder *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void b_str(builder *b, const char *s)
{
    msgpack_pack_str(&b->pk, strlen(s));
    msgpack_pack_str_body(&b->pk, s, strlen(s));
}

static void b_kv_uint(builder *b, const char *k, uint64_t v)
{
    b_str(b, k);
    msgpack_pack_uint64(&b->pk, v);
}

static void b_kv_str(builder *b, const char *k, const char *v)
{
    b_str(b, k);
    b_str(b, v);
}

/* Starts a message: a map of `fields` pairs, the first two "t": type and "v": 1; the caller
 * writes the rest. */
static void b_message(builder *b, uint64_t type, size_t fields)
{
    b_init(b);
    msgpack_pack_map(&b->pk, fields);
    b_kv_uint(b, "t", type);
    b_kv_uint(b, "v", CAIRN_MSG_VERSION);
}

/* The same with "ns": "public" and "svc": "g@@s" as the third and fourth pairs. */
static void b_service_message(builder *b, uint64_t type, size_t fields)
{
    b_message(b, type, fields);
    b_kv_str(b, "ns", "public");
    b_kv_str(b, "svc", "g@@s");
}

/* An instance map of "ip", "port" and `extra` more pairs that the caller writes. */
static void b_instance_with(builder *b, size_t extra)
{
    msgpack_pack_map(&b->pk, 2 + extra);
    b_kv_str(b, "ip", "127.1.1.1");
    b_kv_uint(b, "port", 80);
}

/* An instance map of ip and port, or of one of them: skip names the one to leave out (NULL:
 * none). */
static void b_instance(builder *b, const char *skip)
{
    int n = 2 - (skip != NULL);
    msgpack_pack_map(&b->pk, (size_t)n);
    if (!skip || strcmp(skip, "ip") != 0)
        b_kv_str(b, "ip", "127.1.1.1");
    if (!skip || strcmp(skip, "port") != 0)
        b_kv_uint(b, "port", 80);
}

/* b (then destroyed) does not decode as a message of kind, with exactly want_msg. */
static void expect_decode_error(msg_kind kind, builder *b, const char *want_msg)
{
    cairn_status st;
    cairn_status_clear(&st);
    cr_expect_eq(decode_and_free(kind, b->sb.data, b->sb.size, &st), CAIRN_E_DECODE,
                 "expected: %s", want_msg);
    cr_expect_str_eq(st.message, want_msg);
    msgpack_sbuffer_destroy(&b->sb);
}

/* A valid INSTANCE_GET with 'extra' more fields to be written by the caller. */
static void b_get_request(builder *b, int extra)
{
    b_service_message(b, CAIRN_MSG_INSTANCE_GET, 5 + (size_t)extra);
    b_str(b, "inst");
    b_instance(b, NULL);
}

Test(reject, hand_built_baseline_is_valid)
{
    builder b;
    b_get_request(&b, 0);
    cairn_request req;
    cairn_status st;
    cr_assert_eq(cairn_request_decode(b.sb.data, b.sb.size, &req, &st), CAIRN_OK, "%s",
                 st.message);
    cr_expect_str_eq(req.instance.ip, "127.1.1.1");
    cr_expect_eq(req.instance.port, 80);
    cr_expect(req.has_instance);
    cairn_request_free(&req);
    msgpack_sbuffer_destroy(&b.sb);
}

Test(reject, unknown_fields_are_skipped)
{
    builder b;
    b_get_request(&b, 2);
    b_str(&b, "future");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_nil(&b.pk);
    msgpack_pack_map(&b.pk, 1);
    b_kv_str(&b, "x", "y");
    b_str(&b, "bin");
    msgpack_pack_bin(&b.pk, 3);
    msgpack_pack_bin_body(&b.pk, "\0\1\2", 3);
    cairn_request req;
    cairn_status st;
    cr_expect_eq(cairn_request_decode(b.sb.data, b.sb.size, &req, &st), CAIRN_OK, "%s",
                 st.message);
    cairn_request_free(&req);
    msgpack_sbuffer_destroy(&b.sb);
}

Test(reject, empty_and_garbage)
{
    cairn_request req;
    cairn_reply rep;
    cairn_change_event ev;
    cairn_msg_type type;
    cairn_status st;
    cr_expect_eq(cairn_request_decode("", 0, &req, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "empty message");
    cr_expect_eq(cairn_request_decode(NULL, 0, &req, &st), CAIRN_E_DECODE);
    cr_expect_eq(cairn_reply_decode("", 0, &rep, &st), CAIRN_E_DECODE);
    cr_expect_eq(cairn_event_decode("", 0, &ev, &st), CAIRN_E_DECODE);
    cr_expect_eq(cairn_msg_peek_type("", 0, &type, &st), CAIRN_E_DECODE);

    /* containers announcing billions of elements in a few bytes: refused before msgpack-c
     * would try to allocate them */
    const char *huge[] = {"\xdf\xff\xff\xff\xff", "\xdd\xff\xff\xff\xff",
                          "\x81\xa1t\xdd\x7f\xff\xff\xff", "\xde\xff\xff"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        cr_expect_eq(cairn_request_decode(huge[i], strlen(huge[i]), &req, &st), CAIRN_E_DECODE);
        cr_expect_str_eq(st.message, "truncated or malformed msgpack");
    }
    /* 0xc1 is never used */
    cr_expect_eq(cairn_request_decode("\xc1", 1, &req, &st), CAIRN_E_DECODE);
    /* not a map */
    cr_expect_eq(cairn_request_decode("\x90", 1, &req, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "message is not a map");
    cr_expect_eq(cairn_request_decode("\x80", 1, &req, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "message: missing field 't'");

    /* random bytes never decode, never crash */
    uint32_t seed = 12345;
    char buf[96];
    for (int round = 0; round < 5000; round++) {
        size_t len = 1 + (size_t)round % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)(seed >> 16);
        }
        cr_assert_neq(cairn_request_decode(buf, len, &req, &st), CAIRN_OK);
        cr_assert_neq(cairn_reply_decode(buf, len, &rep, &st), CAIRN_OK);
        cr_assert_neq(cairn_event_decode(buf, len, &ev, &st), CAIRN_OK);
        cr_assert_neq(cairn_msg_peek_type(buf, len, &type, &st), CAIRN_OK);
    }
}

/* Every strict prefix of msg's encoding fails cleanly; a copy of exactly that length in its own
 * heap block lets ASan catch any read past the end. */
static void expect_truncations_fail(msg_kind kind, const void *msg)
{
    char *buf;
    size_t len;
    encode_msg(kind, msg, &buf, &len);
    for (size_t n = 0; n < len; n++) {
        char *p = malloc(n ? n : 1);
        memcpy(p, buf, n);
        cairn_status st;
        cr_assert_eq(decode_and_free(kind, p, n, &st), CAIRN_E_DECODE,
                     "prefix of %zu/%zu bytes decoded", n, len);
        free(p);
    }
    free(buf);
}

Test(reject, truncated)
{
    cairn_request req;
    golden_request(&req);
    expect_truncations_fail(MSG_REQUEST, &req);
    cairn_request_free(&req);

    cairn_reply rep;
    golden_reply(&rep);
    expect_truncations_fail(MSG_REPLY, &rep);
    cairn_reply_free(&rep);

    cairn_change_event ev;
    golden_event(&ev);
    expect_truncations_fail(MSG_EVENT, &ev);
    cairn_event_free(&ev);
}

/* A malloc'd copy of buf with `flips` bytes set to pseudo-random values (seed advances). */
static char *mutated_copy(const char *buf, size_t len, int flips, uint32_t *seed)
{
    char *p = malloc(len);
    cr_assert_not_null(p);
    memcpy(p, buf, len);
    for (int k = 0; k < flips; k++) {
        *seed = *seed * 1103515245u + 12345u;
        size_t at = (*seed >> 8) % len;
        *seed = *seed * 1103515245u + 12345u;
        p[at] = (char)(*seed >> 16);
    }
    return p;
}

/* Flipping bytes of a valid message may or may not give a valid one, but never a crash or
 * leak (run under ASan). */
Test(reject, mutated_bytes)
{
    char *buf;
    size_t len;
    cairn_reply rep;
    golden_reply(&rep);
    cr_assert_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_OK);
    cairn_reply_free(&rep);
    uint32_t seed = 99;
    for (int round = 0; round < 4000; round++) {
        char *p = mutated_copy(buf, len, 1 + round % 3, &seed);
        cairn_status st;
        if (cairn_reply_decode(p, len, &rep, &st) == CAIRN_OK)
            cairn_reply_free(&rep);
        else
            cr_assert_eq(rep.message, NULL);
        free(p);
    }
    free(buf);
}

Test(reject, trailing_bytes)
{
    char *buf;
    size_t len;
    cairn_change_event ev;
    golden_event(&ev);
    cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
    cairn_event_free(&ev);
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = '\xc0';
    cairn_status st;
    cr_expect_eq(cairn_event_decode(longer, len + 1, &ev, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "1 trailing bytes after the message");
    cr_expect_null(ev.namespace_id);
    /* two whole messages back to back are not one message either */
    char *two = malloc(2 * len);
    memcpy(two, buf, len);
    memcpy(two + len, buf, len);
    cr_expect_eq(cairn_event_decode(two, 2 * len, &ev, &st), CAIRN_E_DECODE);
    free(two);
    free(longer);
    free(buf);
}

Test(reject, envelope)
{
    builder b;
    /* wrong version */
    b_init(&b);
    msgpack_pack_map(&b.pk, 2);
    b_kv_uint(&b, "t", CAIRN_MSG_STATS);
    b_kv_uint(&b, "v", 2);
    expect_decode_error(MSG_REQUEST, &b, "unsupported message version 2 (this peer speaks 1)");
    /* unknown types */
    b_message(&b, 99, 2);
    expect_decode_error(MSG_REQUEST, &b, "unknown message type 99");
    b_message(&b, 0, 2);
    expect_decode_error(MSG_REQUEST, &b, "unknown message type 0");
    /* missing t / v */
    b_init(&b);
    msgpack_pack_map(&b.pk, 1);
    b_kv_uint(&b, "t", CAIRN_MSG_STATS);
    expect_decode_error(MSG_REQUEST, &b, "message: missing field 'v'");
    /* t of the wrong type */
    b_init(&b);
    msgpack_pack_map(&b.pk, 2);
    b_kv_str(&b, "t", "2");
    b_kv_uint(&b, "v", 1);
    expect_decode_error(MSG_REQUEST, &b, "message: field 't' has the wrong type");
    /* a reply is not a request */
    b_message(&b, CAIRN_MSG_REPLY, 3);
    b_kv_uint(&b, "code", 0);
    expect_decode_error(MSG_REQUEST, &b, "message type 1 is not a request");
    /* a minimal STATS request is fine */
    b_init(&b);
    msgpack_pack_map(&b.pk, 2);
    b_kv_uint(&b, "v", 1);
    b_kv_uint(&b, "t", CAIRN_MSG_STATS);
    cairn_request req;
    cairn_status st;
    cr_expect_eq(cairn_request_decode(b.sb.data, b.sb.size, &req, &st), CAIRN_OK);
    cr_expect_eq(req.type, CAIRN_MSG_STATS);
    cairn_request_free(&req);
    msgpack_sbuffer_destroy(&b.sb);
}

/* A metadata map in descending key order, the worst case for inserting one key at a time into a
 * sorted array: decoding must stay linear-ish (200 000 keys took minutes when each insertion
 * moved the array), and the result is sorted. */
#define MANY_KEYS 200000

Test(reject, metadata_maps_decode_in_linear_time)
{
    builder b;
    b_service_message(&b, CAIRN_MSG_INSTANCE_UPSERT, 5);
    b_str(&b, "inst");
    b_instance_with(&b, 1);
    b_str(&b, "meta");
    msgpack_pack_map(&b.pk, MANY_KEYS);
    for (int i = MANY_KEYS; i > 0; i--) {
        char key[16];
        snprintf(key, sizeof key, "k%07d", i);
        b_kv_str(&b, key, "v");
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cairn_request req;
    cairn_status st;
    cr_assert_eq(cairn_request_decode(b.sb.data, b.sb.size, &req, &st), CAIRN_OK, "%s",
                 st.message);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_lt(seconds, 5.0, "%d keys took %.1f s to decode", MANY_KEYS, seconds);
    cr_assert_eq(req.instance.metadata.len, MANY_KEYS);
    for (uint32_t i = 1; i < req.instance.metadata.len; i++)
        cr_assert_lt(strcmp(req.instance.metadata.items[i - 1].key,
                            req.instance.metadata.items[i].key),
                     0, "not sorted at %u", i);
    cr_expect_str_eq(cairn_metadata_get(&req.instance.metadata, "k0000001"), "v");
    cairn_request_free(&req);
    msgpack_sbuffer_destroy(&b.sb);

    /* A key given twice is as wrong as a field given twice. */
    b_service_message(&b, CAIRN_MSG_INSTANCE_UPSERT, 5);
    b_str(&b, "inst");
    b_instance_with(&b, 1);
    b_str(&b, "meta");
    msgpack_pack_map(&b.pk, 3);
    b_kv_str(&b, "b", "1");
    b_kv_str(&b, "a", "2");
    b_kv_str(&b, "b", "3");
    expect_decode_error(MSG_REQUEST, &b, "instance: field 'meta' has a duplicate key");
}

Test(reject, wrong_types)
{
    builder b;
    b_get_request(&b, 1);
    b_kv_uint(&b, "ns", 1); /* duplicate first */
    expect_decode_error(MSG_REQUEST, &b, "request: duplicate field 'ns'");

    /* port as a string */
    b_service_message(&b, CAIRN_MSG_INSTANCE_GET, 5);
    b_str(&b, "inst");
    msgpack_pack_map(&b.pk, 2);
    b_kv_str(&b, "ip", "127.1.1.1");
    b_kv_str(&b, "port", "80");
    expect_decode_error(MSG_REQUEST, &b, "instance: field 'port' has the wrong type");

    /* port out of int32 range, and negative where unsigned */
    b_service_message(&b, CAIRN_MSG_INSTANCE_GET, 5);
    b_str(&b, "inst");
    msgpack_pack_map(&b.pk, 2);
    b_kv_str(&b, "ip", "127.1.1.1");
    b_kv_uint(&b, "port", 1ull << 31);
    expect_decode_error(MSG_REQUEST, &b, "instance: field 'port' is out of range");

    b_message(&b, CAIRN_MSG_SERVICE_LIST, 4);
    b_kv_str(&b, "ns", "public");
    b_str(&b, "page");
    msgpack_pack_int64(&b.pk, -1);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'page' is out of range");

    /* ns as binary, healthy as an int, weight as a string, metadata value as an int */
    b_message(&b, CAIRN_MSG_SERVICE_GET, 3);
    b_str(&b, "ns");
    msgpack_pack_bin(&b.pk, 1);
    msgpack_pack_bin_body(&b.pk, "x", 1);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'ns' has the wrong type");

    const char *bad_fields[] = {"healthy", "weight", "meta", "mtime"};
    const char *want[] = {"instance: field 'healthy' has the wrong type",
                          "instance: field 'weight' has the wrong type",
                          "instance: field 'meta' has the wrong type",
                          "instance: field 'mtime' has the wrong type"};
    for (int i = 0; i < 4; i++) {
        b_service_message(&b, CAIRN_MSG_INSTANCE_GET, 5);
        b_str(&b, "inst");
        b_instance_with(&b, 1);
        b_str(&b, bad_fields[i]);
        if (i == 0)
            msgpack_pack_uint64(&b.pk, 1);
        else if (i == 1)
            b_str(&b, "1.0");
        else if (i == 2) {
            msgpack_pack_map(&b.pk, 1);
            b_str(&b, "k");
            msgpack_pack_uint64(&b.pk, 1);
        } else
            msgpack_pack_double(&b.pk, 1.0);
        expect_decode_error(MSG_REQUEST, &b, want[i]);
    }

    /* a NUL inside a string */
    b_message(&b, CAIRN_MSG_SERVICE_GET, 4);
    b_kv_str(&b, "ns", "public");
    b_str(&b, "svc");
    msgpack_pack_str(&b.pk, 3);
    msgpack_pack_str_body(&b.pk, "a\0b", 3);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'svc' contains a NUL byte");

    /* a non-string field name */
    b_message(&b, CAIRN_MSG_STATS, 3);
    msgpack_pack_uint64(&b.pk, 7);
    msgpack_pack_nil(&b.pk);
    expect_decode_error(MSG_REQUEST, &b, "request: a field name is not a string");

    /* out-of-range enum values */
    b_service_message(&b, CAIRN_MSG_INSTANCE_UPSERT, 6);
    b_str(&b, "inst");
    b_instance(&b, NULL);
    b_kv_uint(&b, "mode", 2);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'mode' is out of range");

    b_service_message(&b, CAIRN_MSG_INSTANCE_PATCH, 6);
    b_str(&b, "inst");
    b_instance(&b, NULL);
    b_kv_uint(&b, "mask", 1u << 8);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'mask' is out of range");
}

Test(reject, weight_accepts_float32_and_integers)
{
    for (int form = 0; form < 3; form++) {
        builder b;
        b_service_message(&b, CAIRN_MSG_INSTANCE_GET, 5);
        b_str(&b, "inst");
        b_instance_with(&b, 1);
        b_str(&b, "weight");
        if (form == 0)
            msgpack_pack_float(&b.pk, 2.5f);
        else if (form == 1)
            msgpack_pack_uint64(&b.pk, 3);
        else
            msgpack_pack_int64(&b.pk, -4);
        cairn_request req;
        cairn_status st;
        cr_assert_eq(cairn_request_decode(b.sb.data, b.sb.size, &req, &st), CAIRN_OK, "%s",
                     st.message);
        double want[] = {2.5, 3.0, -4.0};
        cr_expect_eq(req.instance.weight, want[form]);
        cairn_request_free(&req);
        msgpack_sbuffer_destroy(&b.sb);
    }
}

Test(reject, missing_required_fields)
{
    builder b;
    /* INSTANCE_GET without inst */
    b_service_message(&b, CAIRN_MSG_INSTANCE_GET, 4);
    expect_decode_error(MSG_REQUEST, &b, "request: missing field 'inst'");

    /* SERVICE_GET without svc */
    b_message(&b, CAIRN_MSG_SERVICE_GET, 3);
    b_kv_str(&b, "ns", "public");
    expect_decode_error(MSG_REQUEST, &b, "request: missing field 'svc'");

    /* INSTANCE_PATCH without mask */
    b_service_message(&b, CAIRN_MSG_INSTANCE_PATCH, 5);
    b_str(&b, "inst");
    b_instance(&b, NULL);
    expect_decode_error(MSG_REQUEST, &b, "request: missing field 'mask'");

    /* an instance without port, and one without ip */
    const char *skip[] = {"port", "ip"};
    for (int i = 0; i < 2; i++) {
        b_service_message(&b, CAIRN_MSG_INSTANCE_GET, 5);
        b_str(&b, "inst");
        b_instance(&b, skip[i]);
        char want[64];
        snprintf(want, sizeof want, "instance: missing field '%s'", skip[i]);
        expect_decode_error(MSG_REQUEST, &b, want);
    }

    /* a reply without code; an event without rev; a snapshot without found */
    b_message(&b, CAIRN_MSG_REPLY, 2);
    expect_decode_error(MSG_REPLY, &b, "reply: missing field 'code'");

    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_str(&b, "snap");
    msgpack_pack_map(&b.pk, 1);
    b_str(&b, "insts");
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_map(&b.pk, 2);
    b_kv_str(&b, "ip", "127.1.1.1");
    b_kv_uint(&b, "port", 1);
    expect_decode_error(MSG_REPLY, &b, "snapshot: missing field 'found'");

    /* a reply code beyond the error list */
    b_message(&b, CAIRN_MSG_REPLY, 3);
    b_kv_uint(&b, "code", CAIRN_E__COUNT);
    expect_decode_error(MSG_REPLY, &b, "reply: field 'code' is out of range");

    /* reply names with a non-string element, after a valid one (no leak of the first) */
    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_str(&b, "names");
    msgpack_pack_array(&b.pk, 2);
    b_str(&b, "ok");
    msgpack_pack_true(&b.pk);
    expect_decode_error(MSG_REPLY, &b, "reply: field 'names' has the wrong type");

    b_service_message(&b, CAIRN_MSG_CHANGE_EVENT, 5);
    b_kv_uint(&b, "kind", 0);
    expect_decode_error(MSG_EVENT, &b, "event: missing field 'rev'");

    /* a cluster with an unknown checker type inside a service definition */
    b_service_message(&b, CAIRN_MSG_SERVICE_PUT, 5);
    b_str(&b, "svcdef");
    msgpack_pack_map(&b.pk, 2);
    b_kv_str(&b, "name", "g@@s");
    b_str(&b, "clusters");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_map(&b.pk, 1);
    b_kv_str(&b, "name", "A");
    msgpack_pack_map(&b.pk, 2);
    b_kv_str(&b, "name", "B");
    b_kv_uint(&b, "check", CAIRN_CHECK__COUNT);
    expect_decode_error(MSG_REQUEST, &b, "cluster: field 'check' is out of range");
}

Test(encode, refuses_incomplete_requests)
{
    char *buf = NULL;
    size_t len = 0;
    cairn_request req;
    cairn_request_init(&req, CAIRN_MSG_INSTANCE_UPSERT);
    req.namespace_id = strdup("public");
    req.service = strdup("g@@s");
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_E_INVALID); /* no instance */
    req.has_instance = true;
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_E_INVALID); /* no ip */
    req.instance.ip = strdup("127.1.1.1");
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_OK);
    free(buf);
    req.type = CAIRN_MSG_REPLY;
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_E_INVALID);
    req.type = CAIRN_MSG__END;
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_E_INVALID);
    cairn_request_free(&req);

    cairn_change_event ev = {0};
    cr_expect_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_E_INVALID);
}

Test(decode, peek_type_and_cross_type)
{
    char *buf;
    size_t len;
    cairn_change_event ev;
    golden_event(&ev);
    cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
    cairn_event_free(&ev);
    cairn_msg_type type;
    cairn_status st;
    cr_expect_eq(cairn_msg_peek_type(buf, len, &type, &st), CAIRN_OK);
    cr_expect_eq(type, CAIRN_MSG_CHANGE_EVENT);
    cairn_reply rep;
    cr_expect_eq(cairn_reply_decode(buf, len, &rep, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "message type 12 is not a reply");
    cairn_request req;
    cr_expect_eq(cairn_request_decode(buf, len, &req, &st), CAIRN_E_DECODE);
    free(buf);
}

Test(reply, set_status_replaces_message)
{
    cairn_reply rep;
    cairn_reply_init(&rep);
    cairn_status st;
    cairn_fail(&st, CAIRN_E_INVALID, "first");
    cairn_reply_set_status(&rep, &st);
    cairn_fail(&st, CAIRN_E_CONFLICT, "second");
    cairn_reply_set_status(&rep, &st);
    cr_expect_eq(rep.code, CAIRN_E_CONFLICT);
    cr_expect_str_eq(rep.message, "second");
    cairn_status_clear(&st);
    cairn_reply_set_status(&rep, &st);
    cr_expect_eq(rep.code, CAIRN_OK);
    cr_expect_str_eq(rep.message, "");
    cairn_reply_free(&rep);
}

/* ---- snapshot pages, health, cluster updates, subscriptions ----------------------------------- */

static const char GOLDEN_SUBSCRIPTION_HEX[] =
    "89"                                     /* map, 9 fields */
      "a174 0f"                              /* "t": 15 SUBSCRIPTION */
      "a176 01"                              /* "v": 1 */
      "a26e73 a67075626c6963"                /* "ns": "public" */
      "a3737663 a467404073"                  /* "svc": "g@@s" */
      "a8636c757374657273 a744454641554c54"  /* "clusters": "DEFAULT" */
      "a26970 a93132372e302e302e32"          /* "ip": "127.0.0.2" */
      "a4706f7274 cd270f"                    /* "port": 9999 (uint16) */
      "a56167656e74 aa6e61636f732d6e6f6465"  /* "agent": "nacos-node" */
      "a26174 cf0000018bcfe56800";           /* "at": 1700000000000 (uint64) */

static void golden_subscription(cairn_subscription *sub)
{
    memset(sub, 0, sizeof *sub);
    sub->namespace_id = strdup("public");
    sub->service = strdup("g@@s");
    sub->clusters = strdup("DEFAULT");
    sub->ip = strdup("127.0.0.2");
    sub->port = 9999;
    sub->agent = strdup("nacos-node");
    sub->at_ms = 1700000000000;
}

Test(golden, subscription)
{
    cairn_subscription sub;
    golden_subscription(&sub);
    expect_golden(MSG_SUBSCRIPTION, &sub, GOLDEN_SUBSCRIPTION_HEX);
    char *buf;
    size_t len;
    encode_msg(MSG_SUBSCRIPTION, &sub, &buf, &len);
    cairn_msg_type type;
    cairn_status st;
    cr_expect_eq(cairn_msg_peek_type(buf, len, &type, &st), CAIRN_OK);
    cr_expect_eq(type, CAIRN_MSG_SUBSCRIPTION);
    free(buf);
    cairn_subscription_free(&sub);
}

/* A SERVICE_CATALOG request with both filters: page 2 of 10. */
static void catalog_request(cairn_request *req)
{
    cairn_request_init(req, CAIRN_MSG_SERVICE_CATALOG);
    req->namespace_id = strdup("public");
    req->group = strdup("g");
    req->filter = strdup("pay");
    req->page_no = 2;
    req->page_size = 10;
}

/* The requests added with SNAPSHOT_PAGE, INSTANCE_HEALTH, SERVICE_CATALOG and NAMESPACE_LIST,
 * and SERVICE_PUT's cluster mode. */
static void new_request(cairn_request *req, int which)
{
    switch (which) {
    case 0: /* a later page: the cursor is set */
        cairn_request_init(req, CAIRN_MSG_SNAPSHOT_PAGE);
        req->namespace_id = strdup("public");
        req->service = strdup("g@@s");
        req->page_size = 100;
        break;
    case 1: /* the first page: no cursor */
        cairn_request_init(req, CAIRN_MSG_SNAPSHOT_PAGE);
        req->page_size = UINT32_MAX;
        break;
    case 2: /* the first page with an explicit empty cursor */
        cairn_request_init(req, CAIRN_MSG_SNAPSHOT_PAGE);
        req->namespace_id = strdup("");
        req->service = strdup("");
        req->page_size = 1;
        break;
    case 3:
        cairn_request_init(req, CAIRN_MSG_INSTANCE_HEALTH);
        req->namespace_id = strdup("ns-1");
        req->service = strdup("grp@@svc");
        req->has_instance = true;
        sample_instance(&req->instance, "127.1.1.1", 8080);
        req->instance.ephemeral = false;
        req->instance.healthy = false;
        req->mode = CAIRN_HEALTH_MANUAL;
        break;
    case 4:
        cairn_request_init(req, CAIRN_MSG_INSTANCE_HEALTH);
        req->namespace_id = strdup("ns-1");
        req->service = strdup("grp@@svc");
        req->has_instance = true;
        full_instance(&req->instance);
        req->mode = CAIRN_HEALTH_BY_CHECKER;
        break;
    case 5:
        cairn_request_init(req, CAIRN_MSG_SERVICE_PUT);
        req->namespace_id = strdup("public");
        req->service = strdup("g@@s");
        req->has_service = true;
        sample_service(&req->service_def);
        req->mode = CAIRN_SERVICE_CLUSTERS;
        break;
    case 6: /* both filters */
        catalog_request(req);
        break;
    case 7: /* no filters: every service of the namespace */
        cairn_request_init(req, CAIRN_MSG_SERVICE_CATALOG);
        req->namespace_id = strdup("");
        req->page_size = UINT32_MAX;
        break;
    default:
        cairn_request_init(req, CAIRN_MSG_NAMESPACE_LIST);
        break;
    }
}
#define NEW_REQUESTS 9

Test(round_trip, new_request_types)
{
    for (int i = 0; i < NEW_REQUESTS; i++) {
        cairn_request req;
        new_request(&req, i);
        round_trip_request(&req);
        cairn_request_free(&req);
    }
}

Test(encode, snapshot_page_omits_an_absent_cursor)
{
    cairn_request req;
    new_request(&req, 1);
    char *buf;
    size_t len;
    cr_assert_eq(cairn_request_encode(&req, &buf, &len), CAIRN_OK);
    /* t, v, size */
    expect_hex(buf, len, "83a1740da17601a473697a65ceffffffff");
    free(buf);
    cairn_request_free(&req);
}

/* A SNAPSHOT_PAGE reply: the golden snapshot and a not-found one, another page to come. */
static void snapshot_page_reply(cairn_reply *rep)
{
    cairn_reply golden;
    golden_reply(&golden);
    cairn_reply_init(rep);
    rep->snapshots = calloc(2, sizeof *rep->snapshots);
    rep->snapshot_count = 2;
    rep->snapshots[0] = golden.snapshot; /* moved, not copied */
    golden.has_snapshot = false;
    memset(&golden.snapshot, 0, sizeof golden.snapshot);
    cairn_reply_free(&golden);
    rep->snapshots[1].found = true;
    cairn_service_init(&rep->snapshots[1].service);
    rep->snapshots[1].service.name = strdup("g@@t");
    rep->snapshots[1].instances = calloc(2, sizeof *rep->snapshots[1].instances);
    rep->snapshots[1].instance_count = 2;
    full_instance(&rep->snapshots[1].instances[0]);
    sample_instance(&rep->snapshots[1].instances[1], "127.9.9.9", 1);
    rep->more = true;
}

Test(round_trip, reply_snapshot_page)
{
    cairn_reply rep;
    snapshot_page_reply(&rep);
    round_trip_reply(&rep);
    char *buf;
    size_t len;
    cr_assert_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_OK);
    cairn_reply got;
    cairn_status st;
    cr_assert_eq(cairn_reply_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(got.snapshot_count, 2);
    cr_expect(got.more);
    cr_expect_str_eq(got.snapshots[1].instances[1].ip, "127.9.9.9");
    cairn_reply_free(&got);
    free(buf);
    cairn_reply_free(&rep);

    /* the last page: no snapshots, more false; neither field is written */
    cairn_reply_init(&rep);
    cr_assert_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_OK);
    expect_hex(buf, len, "83a17401a17601a4636f646500");
    free(buf);
    round_trip_reply(&rep);

    /* a count without an array is refused */
    rep.snapshot_count = 1;
    cr_expect_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_E_INVALID);
}

Test(round_trip, subscriptions)
{
    cairn_subscription sub, got;
    golden_subscription(&sub);
    sub.port = -1;
    sub.at_ms = -5;
    char *buf;
    size_t len;
    cairn_status st;
    cr_assert_eq(cairn_subscription_encode(&sub, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_subscription_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_str_eq(got.namespace_id, "public");
    cr_expect_str_eq(got.service, "g@@s");
    cr_expect_str_eq(got.clusters, "DEFAULT");
    cr_expect_str_eq(got.ip, "127.0.0.2");
    cr_expect_eq(got.port, -1);
    cr_expect_str_eq(got.agent, "nacos-node");
    cr_expect_eq(got.at_ms, -5);
    cr_expect_eq(got.seq, 0);
    cairn_subscription_free(&got);
    free(buf);

    /* the publication number */
    sub.seq = UINT64_MAX;
    cr_assert_eq(cairn_subscription_encode(&sub, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_subscription_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(got.seq, UINT64_MAX);
    cairn_subscription_free(&got);
    free(buf);
    sub.seq = 0;

    /* a snapshot reply lists them bare, with the sequence it covers */
    cairn_reply rep, rgot;
    cairn_reply_init(&rep);
    rep.revision = 42;
    rep.subscriptions = &sub;
    rep.subscription_count = 1;
    cr_assert_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_reply_decode(buf, len, &rgot, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(rgot.revision, 42);
    cr_assert_eq(rgot.subscription_count, 1);
    cr_expect_str_eq(rgot.subscriptions[0].service, "g@@s");
    cr_expect_eq(rgot.subscriptions[0].port, -1);
    cairn_reply_free(&rgot);
    free(buf);

    /* NULL clusters and agent are written as "" and read back as "" */
    free(sub.clusters);
    free(sub.agent);
    sub.clusters = sub.agent = NULL;
    cr_assert_eq(cairn_subscription_encode(&sub, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_subscription_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_str_eq(got.clusters, "");
    cr_expect_str_eq(got.agent, "");
    cairn_subscription_free(&got);
    free(buf);
    cairn_subscription_free(&sub);
    cr_expect_null(sub.ip);
    cairn_subscription_free(NULL);

    /* absent clusters, agent and at decode to "", "" and 0 */
    builder b;
    b_service_message(&b, CAIRN_MSG_SUBSCRIPTION, 6);
    b_kv_str(&b, "ip", "127.1.1.1");
    b_kv_uint(&b, "port", 80);
    cr_assert_eq(cairn_subscription_decode(b.sb.data, b.sb.size, &got, &st), CAIRN_OK, "%s",
                 st.message);
    cr_expect_str_eq(got.clusters, "");
    cr_expect_str_eq(got.agent, "");
    cr_expect_eq(got.at_ms, 0);
    cr_expect_eq(got.port, 80);
    cairn_subscription_free(&got);
    msgpack_sbuffer_destroy(&b.sb);

    /* the encoder refuses a subscription without a destination */
    golden_subscription(&sub);
    free(sub.ip);
    sub.ip = NULL;
    cr_expect_eq(cairn_subscription_encode(&sub, &buf, &len), CAIRN_E_INVALID);
    cairn_subscription_free(&sub);
    cr_expect_eq(cairn_subscription_encode(NULL, &buf, &len), CAIRN_E_INVALID);
}

Test(reject, subscription)
{
    builder b;
    /* no port (clusters and agent already read: freed, not leaked) */
    b_service_message(&b, CAIRN_MSG_SUBSCRIPTION, 7);
    b_kv_str(&b, "clusters", "A,B");
    b_kv_str(&b, "ip", "127.1.1.1");
    b_kv_str(&b, "agent", "x");
    expect_decode_error(MSG_SUBSCRIPTION, &b, "subscription: missing field 'port'");

    /* no ip */
    b_service_message(&b, CAIRN_MSG_SUBSCRIPTION, 5);
    b_kv_uint(&b, "port", 80);
    expect_decode_error(MSG_SUBSCRIPTION, &b, "subscription: missing field 'ip'");

    /* port beyond int32, port as a string */
    b_service_message(&b, CAIRN_MSG_SUBSCRIPTION, 6);
    b_kv_str(&b, "ip", "127.1.1.1");
    b_kv_uint(&b, "port", 1ull << 31);
    expect_decode_error(MSG_SUBSCRIPTION, &b, "subscription: field 'port' is out of range");
    b_service_message(&b, CAIRN_MSG_SUBSCRIPTION, 6);
    b_kv_str(&b, "ip", "127.1.1.1");
    b_kv_str(&b, "port", "80");
    expect_decode_error(MSG_SUBSCRIPTION, &b, "subscription: field 'port' has the wrong type");

    /* an event is not a subscription, and a subscription is not a request */
    char *buf;
    size_t len;
    cairn_change_event ev;
    golden_event(&ev);
    cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
    cairn_event_free(&ev);
    cairn_subscription sub;
    cairn_status st;
    cr_expect_eq(cairn_subscription_decode(buf, len, &sub, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "message type 12 is not a subscription");
    free(buf);
    golden_subscription(&sub);
    cr_assert_eq(cairn_subscription_encode(&sub, &buf, &len), CAIRN_OK);
    cairn_subscription_free(&sub);
    cairn_request req;
    cr_expect_eq(cairn_request_decode(buf, len, &req, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "message type 15 is not a request");
    cr_expect_eq(cairn_event_decode(buf, len, &ev, &st), CAIRN_E_DECODE);
    free(buf);
}

/* A request of type t with ns, svc, a minimal instance or service definition, and mode. */
static void b_mode_request(builder *b, cairn_msg_type t, uint64_t mode)
{
    b_service_message(b, t, 6);
    if (t == CAIRN_MSG_SERVICE_PUT) {
        b_str(b, "svcdef");
        msgpack_pack_map(&b->pk, 0);
    } else {
        b_str(b, "inst");
        b_instance(b, NULL);
    }
    b_kv_uint(b, "mode", mode);
}

Test(reject, new_modes_and_required_fields)
{
    builder b;
    cairn_request req;
    cairn_status st;

    b_mode_request(&b, CAIRN_MSG_INSTANCE_HEALTH, 3);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'mode' is out of range");
    b_mode_request(&b, CAIRN_MSG_SERVICE_PUT, 3);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'mode' is out of range");
    /* the largest valid values decode */
    b_mode_request(&b, CAIRN_MSG_INSTANCE_HEALTH, CAIRN_HEALTH_MANUAL_KIND);
    cr_expect_eq(cairn_request_decode(b.sb.data, b.sb.size, &req, &st), CAIRN_OK, "%s",
                 st.message);
    cr_expect_eq(req.mode, CAIRN_HEALTH_MANUAL_KIND);
    cairn_request_free(&req);
    msgpack_sbuffer_destroy(&b.sb);
    b_mode_request(&b, CAIRN_MSG_SERVICE_PUT, CAIRN_SERVICE_CLUSTERS);
    cr_expect_eq(cairn_request_decode(b.sb.data, b.sb.size, &req, &st), CAIRN_OK, "%s",
                 st.message);
    cr_expect_eq(req.mode, CAIRN_SERVICE_CLUSTERS);
    cairn_request_free(&req);
    msgpack_sbuffer_destroy(&b.sb);
    /* ... and the upsert keeps its two values */
    b_mode_request(&b, CAIRN_MSG_INSTANCE_UPSERT, 2);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'mode' is out of range");

    /* the encoder refuses what the decoder would */
    char *buf = NULL;
    size_t len = 0;
    new_request(&req, 3);
    req.mode = 3;
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_E_INVALID);
    cairn_request_free(&req);
    new_request(&req, 5);
    req.mode = 3;
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_E_INVALID);
    cairn_request_free(&req);
    new_request(&req, 3);
    req.has_instance = false;
    cr_expect_eq(cairn_request_encode(&req, &buf, &len), CAIRN_E_INVALID);
    cairn_request_free(&req);

    /* SNAPSHOT_PAGE needs a size; INSTANCE_HEALTH needs ns, svc and inst */
    b_service_message(&b, CAIRN_MSG_SNAPSHOT_PAGE, 4);
    expect_decode_error(MSG_REQUEST, &b, "request: missing field 'size'");
    b_message(&b, CAIRN_MSG_SNAPSHOT_PAGE, 3);
    b_kv_uint(&b, "size", 1ull << 32);
    expect_decode_error(MSG_REQUEST, &b, "request: field 'size' is out of range");
    b_service_message(&b, CAIRN_MSG_INSTANCE_HEALTH, 4);
    expect_decode_error(MSG_REQUEST, &b, "request: missing field 'inst'");
    b_message(&b, CAIRN_MSG_INSTANCE_HEALTH, 4);
    b_kv_str(&b, "ns", "public");
    b_str(&b, "inst");
    b_instance(&b, NULL);
    expect_decode_error(MSG_REQUEST, &b, "request: missing field 'svc'");
}

Test(reject, reply_snapshots)
{
    builder b;
    /* the second snapshot lacks 'found': the first is freed, nothing leaks */
    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_str(&b, "snaps");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_map(&b.pk, 2);
    b_str(&b, "found");
    msgpack_pack_true(&b.pk);
    b_str(&b, "insts");
    msgpack_pack_array(&b.pk, 1);
    b_instance(&b, NULL);
    msgpack_pack_map(&b.pk, 1);
    b_str(&b, "insts");
    msgpack_pack_array(&b.pk, 0);
    expect_decode_error(MSG_REPLY, &b, "snapshot: missing field 'found'");

    /* snaps not an array; more not a bool */
    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_str(&b, "snaps");
    msgpack_pack_map(&b.pk, 0);
    expect_decode_error(MSG_REPLY, &b, "reply: field 'snaps' has the wrong type");
    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_kv_uint(&b, "more", 1);
    expect_decode_error(MSG_REPLY, &b, "reply: field 'more' has the wrong type");
}

Test(reject, truncated_new_messages)
{
    cairn_subscription sub;
    golden_subscription(&sub);
    expect_truncations_fail(MSG_SUBSCRIPTION, &sub);
    cairn_subscription_free(&sub);

    cairn_reply rep;
    snapshot_page_reply(&rep);
    expect_truncations_fail(MSG_REPLY, &rep);
    cairn_reply_free(&rep);

    for (int i = 0; i < NEW_REQUESTS; i++) {
        cairn_request req;
        new_request(&req, i);
        expect_truncations_fail(MSG_REQUEST, &req);
        cairn_request_free(&req);
    }
}

/* Random bytes and flipped bytes of a subscription never crash or leak (run under ASan). */
Test(reject, subscription_garbage)
{
    char *buf;
    size_t len;
    cairn_subscription sub;
    golden_subscription(&sub);
    cr_assert_eq(cairn_subscription_encode(&sub, &buf, &len), CAIRN_OK);
    cairn_subscription_free(&sub);
    uint32_t seed = 7;
    for (int round = 0; round < 4000; round++) {
        char *p = mutated_copy(buf, len, 1 + round % 3, &seed);
        cairn_status st;
        if (cairn_subscription_decode(p, len, &sub, &st) == CAIRN_OK) {
            cr_assert_not_null(sub.ip);
            cr_assert_not_null(sub.clusters);
            cr_assert_not_null(sub.agent);
        } else {
            cr_assert_null(sub.ip);
        }
        cairn_subscription_free(&sub);
        free(p);
    }
    free(buf);
    cairn_status st;
    cr_expect_eq(cairn_subscription_decode("", 0, &sub, &st), CAIRN_E_DECODE);
    cr_expect_eq(cairn_subscription_decode("\x90", 1, &sub, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "message is not a map");
}

/* ---- the console's catalog: SERVICE_CATALOG and NAMESPACE_LIST ------------------------------ */

/* A SERVICE_CATALOG reply: one page of two summaries out of 12 matching services. */
static void catalog_reply(cairn_reply *rep)
{
    cairn_reply_init(rep);
    rep->summaries = calloc(2, sizeof *rep->summaries);
    rep->summary_count = 2;
    rep->summaries[0] = (cairn_service_summary){strdup("g@@pay"), 0.5f, 2, 3, 1};
    rep->summaries[1] = (cairn_service_summary){strdup("g@@payments"), 0.0f, 0, 0, 0};
    rep->total = 12;
}

Test(golden, request_service_catalog)
{
    cairn_request req;
    catalog_request(&req);
    expect_golden(MSG_REQUEST, &req,
                  "87"                          /* map, 7 fields */
                  "a174 11"                     /* "t": 17 SERVICE_CATALOG */
                  "a176 01"                     /* "v": 1 */
                  "a26e73 a67075626c6963"       /* "ns": "public" */
                  "a567726f7570 a167"           /* "group": "g" */
                  "a666696c746572 a3706179"     /* "filter": "pay" */
                  "a470616765 02"               /* "page": 2 */
                  "a473697a65 0a");             /* "size": 10 */
    cairn_request_free(&req);
}

Test(golden, reply_service_catalog)
{
    cairn_reply rep;
    catalog_reply(&rep);
    expect_golden(MSG_REPLY, &rep,
                  "85"                                  /* map, 5 fields */
                  "a174 01 a176 01 a4636f6465 00"       /* "t": 1, "v": 1, "code": 0 */
                  "a5746f74616c 0c"                     /* "total": 12 */
                  "a473756d73 92"                       /* "sums": array of 2 */
                  "85"                                  /* map, 5 fields */
                    "a46e616d65 a66740407061 79"        /* "name": "g@@pay" */
                    "a27074 ca3f000000"                 /* "pt": 0.5 (float32) */
                    "a8636c757374657273 02"             /* "clusters": 2 */
                    "a5696e737473 03"                   /* "insts": 3 */
                    "a76865616c746879 01"               /* "healthy": 1 */
                  "85"
                    "a46e616d65 ab674040706179 6d656e7473" /* "name": "g@@payments" */
                    "a27074 ca00000000"
                    "a8636c757374657273 00"
                    "a5696e737473 00"
                    "a76865616c746879 00");
    round_trip_reply(&rep);
    cairn_reply_free(&rep);
}

Test(round_trip, namespace_list_reply)
{
    cairn_reply rep;
    cairn_reply_init(&rep);
    rep.names = calloc(2, sizeof *rep.names);
    rep.names[0] = strdup("dev");
    rep.names[1] = strdup("public");
    rep.name_count = 2;
    rep.total = 2;
    round_trip_reply(&rep);
    cairn_reply_free(&rep);
}

Test(encode, catalog_refuses_a_summary_without_name)
{
    cairn_reply rep;
    catalog_reply(&rep);
    free(rep.summaries[1].name);
    rep.summaries[1].name = NULL;
    char *buf;
    size_t len;
    cr_expect_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_E_INVALID);
    cairn_reply_free(&rep);
}

Test(reject, summary)
{
    builder b;
    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_str(&b, "sums");
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_map(&b.pk, 1);
    b_kv_uint(&b, "insts", 1);
    expect_decode_error(MSG_REPLY, &b, "summary: missing field 'name'");

    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_str(&b, "sums");
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_map(&b.pk, 1);
    b_kv_str(&b, "name", "g@@a");
    msgpack_pack_map(&b.pk, 2);
    b_kv_str(&b, "name", "g@@b");
    b_kv_uint(&b, "healthy", (uint64_t)UINT32_MAX + 1);
    expect_decode_error(MSG_REPLY, &b, "summary: field 'healthy' is out of range");

    b_message(&b, CAIRN_MSG_REPLY, 4);
    b_kv_uint(&b, "code", 0);
    b_kv_str(&b, "sums", "x");
    expect_decode_error(MSG_REPLY, &b, "reply: field 'sums' has the wrong type");

    b_message(&b, CAIRN_MSG_SERVICE_CATALOG, 3);
    b_kv_str(&b, "filter", "x");
    expect_decode_error(MSG_REQUEST, &b, "request: missing field 'ns'");
}

/* ---- change events carrying the service's snapshot ------------------------------------------- */

/* The golden event with a snapshot {"found": false} (the shortest one) as its "snap" bin. */
static const char GOLDEN_EVENT_SNAPSHOT_HEX[] =
    "88"                           /* map, 8 fields */
      "a174 0c"                    /* "t": 12 CHANGE_EVENT */
      "a176 01"                    /* "v": 1 */
      "a26e73 a67075626c6963"      /* "ns": "public" */
      "a3737663 a467404073"        /* "svc": "g@@s" */
      "a3726576 07"                /* "rev": 7 */
      "a46b696e64 00"              /* "kind": 0 INSTANCES */
      "a26174 cf0000018bcfe56800"  /* "at": 1700000000000 (uint64) */
      "a4736e6170 c408"            /* "snap": bin, 8 bytes */
        "81 a5666f756e64 c2";      /* the snapshot: map, 1 field: "found": false */

Test(golden, event_with_snapshot)
{
    static const char tiny[] = "\x81\xa5" "found" "\xc2";
    cairn_change_event ev;
    golden_event(&ev);
    ev.snapshot = tiny;
    ev.snapshot_len = sizeof tiny - 1;
    expect_golden(MSG_EVENT, &ev, GOLDEN_EVENT_SNAPSHOT_HEX);
    cairn_event_free(&ev); /* the snapshot is borrowed: not freed */

    cairn_service_snapshot snap;
    cairn_status st;
    cr_assert_eq(cairn_snapshot_decode(tiny, sizeof tiny - 1, &snap, &st), CAIRN_OK, "%s",
                 st.message);
    cr_expect_not(snap.found);
    cr_expect_eq(snap.instance_count, 0);
    cairn_service_snapshot_free(&snap);
}

/* An event's snapshot is the SERVICE_GET reply's snapshot, byte for byte. */
static char *reply_snapshot_bytes(const cairn_reply *rep, size_t *len)
{
    char *buf;
    cr_assert_eq(cairn_snapshot_encode(&rep->snapshot, &buf, len), CAIRN_OK);
    char *reply;
    size_t reply_len;
    cr_assert_eq(cairn_reply_encode(rep, &reply, &reply_len), CAIRN_OK);
    cr_expect_not_null(memmem(reply, reply_len, buf, *len),
                       "the reply's \"snap\" is not the same encoding");
    free(reply);
    return buf;
}

Test(round_trip, event_with_snapshot)
{
    cairn_reply rep;
    golden_reply(&rep);
    size_t snap_len;
    char *snap_buf = reply_snapshot_bytes(&rep, &snap_len);
    for (int kind = CAIRN_CHANGE_INSTANCES; kind <= CAIRN_CHANGE_SERVICE; kind++) {
        cairn_change_event ev;
        golden_event(&ev);
        ev.kind = (cairn_change_kind)kind;
        ev.prev_revision = 6;
        ev.snapshot = snap_buf;
        ev.snapshot_len = snap_len;
        char *buf;
        size_t len;
        cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
        cairn_change_event got;
        cairn_status st;
        cr_assert_eq(cairn_event_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
        cr_expect_eq(got.revision, 7);
        cr_expect_eq(got.prev_revision, 6);
        cr_expect_eq(got.kind, ev.kind);
        /* borrowed from the decoded buffer, not copied */
        cr_assert_eq(got.snapshot_len, snap_len);
        cr_expect(got.snapshot > buf && got.snapshot + got.snapshot_len <= buf + len);
        cr_expect_eq(memcmp(got.snapshot, snap_buf, snap_len), 0);
        cairn_service_snapshot snap;
        cr_assert_eq(cairn_snapshot_decode(got.snapshot, got.snapshot_len, &snap, &st),
                     CAIRN_OK, "%s", st.message);
        expect_snapshot_eq(&snap, &rep.snapshot);
        cairn_service_snapshot_free(&snap);
        cairn_event_free(&got);
        cairn_event_free(&ev);
        free(buf);
    }
    free(snap_buf);
    cairn_reply_free(&rep);
}

/* A delta event: the delta and the removed keys travel beside (or without) the snapshot; both
 * come back as slices of the decoded buffer. Keys need a delta: such an event is not encoded,
 * and a hand-built one is refused, as are keys that are not byte strings. */
Test(round_trip, event_with_delta)
{
    static const char tiny[] = "\x81\xa5" "found" "\xc2";
    static const char k1[] = "public\0g@@s\0eDEFAULT\0" "1.2.3.4\0\0\0\x1f\x90";
    cairn_bytes gone[2] = {{k1, sizeof k1 - 1}, {"x", 1}};
    for (int with_snapshot = 0; with_snapshot < 2; with_snapshot++) {
        cairn_change_event ev;
        golden_event(&ev);
        if (with_snapshot) {
            ev.snapshot = tiny;
            ev.snapshot_len = sizeof tiny - 1;
        }
        ev.delta = tiny;
        ev.delta_len = sizeof tiny - 1;
        ev.gone = gone;
        ev.gone_count = 2;
        char *buf;
        size_t len;
        cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
        cairn_change_event got;
        cairn_status st;
        cr_assert_eq(cairn_event_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
        cr_expect_eq(got.snapshot != NULL, with_snapshot);
        cr_assert_eq(got.delta_len, sizeof tiny - 1);
        cr_expect(got.delta > buf && got.delta + got.delta_len <= buf + len);
        cr_expect_eq(memcmp(got.delta, tiny, got.delta_len), 0);
        cr_assert_eq(got.gone_count, 2);
        cr_assert_eq(got.gone[0].len, sizeof k1 - 1);
        cr_expect_eq(memcmp(got.gone[0].ptr, k1, sizeof k1 - 1), 0);
        cr_expect((const char *)got.gone[0].ptr > buf &&
                  (const char *)got.gone[0].ptr + got.gone[0].len <= buf + len);
        cr_expect_eq(got.gone[1].len, 1);
        cairn_event_free(&got);
        free(buf);

        ev.delta = NULL;
        ev.delta_len = 0;
        cr_expect_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_E_INVALID,
                     "keys without a delta");
        ev.gone = NULL; /* the caller's: cairn_event_free frees only a decoded event's */
        ev.gone_count = 0;
        cairn_event_free(&ev);
    }

    /* Hand-built: {t:12, v:1, ns, svc, rev, kind, FIELD} with FIELD each of the bad ones. */
    static const char *const bad_hex[] = {
        "a4676f6e65 91 c40178",  /* "gone": [bin "x"], no "delta" */
        "a564656c7461 a178",     /* "delta": a str */
    };
    static const char *const bad_with_delta_hex[] = {
        "a4676f6e65 91 a178",    /* "gone": [str "x"] */
        "a4676f6e65 c40178",     /* "gone": bin, not an array */
        "a4676f6e65 91 c400",    /* "gone": [empty bin] */
    };
    static const char head[] = "a174 0c a176 01 a26e73 a67075626c6963 a3737663 a467404073 "
                               "a3726576 07 a46b696e64 00";
    for (size_t i = 0; i < 5; i++) {
        bool with_delta = i >= 2;
        const char *field = with_delta ? bad_with_delta_hex[i - 2] : bad_hex[i];
        char hex[512];
        snprintf(hex, sizeof hex, "%s %s %s %s", with_delta ? "88" : "87", head,
                 with_delta ? "a564656c7461 c408 81a5666f756e64c2" : "", field);
        size_t n;
        char *msg = hex_decode(hex, &n);
        cairn_change_event got;
        cairn_status st;
        cr_expect_neq(cairn_event_decode(msg, n, &got, &st), CAIRN_OK, "accepted: %s", field);
        free(msg);
    }
    /* And the baseline of those: a good delta with a good key decodes. */
    size_t n;
    char *msg = hex_decode("88 a174 0c a176 01 a26e73 a67075626c6963 a3737663 a467404073 "
                           "a3726576 07 a46b696e64 00 a564656c7461 c408 81a5666f756e64c2 "
                           "a4676f6e65 91 c40178",
                           &n);
    cairn_change_event got;
    cairn_status st;
    cr_expect_eq(cairn_event_decode(msg, n, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(got.gone_count, 1);
    cairn_event_free(&got);
    free(msg);
}

/* An event without "snap" decodes with no snapshot, and so does one from an older publisher. */
Test(round_trip, event_without_snapshot)
{
    cairn_change_event ev;
    golden_event(&ev);
    char *buf;
    size_t len;
    cr_assert_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_OK);
    cairn_change_event got;
    cairn_status st;
    cr_assert_eq(cairn_event_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_null(got.snapshot);
    cr_expect_eq(got.snapshot_len, 0);
    cairn_event_free(&got);
    cairn_event_free(&ev);
    free(buf);
}

/* Assembling from stored records gives the bytes that encoding the decoded values gives. */
Test(encode, snapshot_assembled_from_records)
{
    cairn_reply rep;
    golden_reply(&rep);
    cairn_instance second;
    sample_instance(&second, "127.9.9.9", 8080);
    cairn_instance *grown = realloc(rep.snapshot.instances, 2 * sizeof *grown);
    cr_assert_not_null(grown);
    rep.snapshot.instances = grown;
    rep.snapshot.instances[1] = second;
    rep.snapshot.instance_count = 2;

    char *want;
    size_t want_len;
    cr_assert_eq(cairn_snapshot_encode(&rep.snapshot, &want, &want_len), CAIRN_OK);
    char *svc, *in[2];
    size_t svc_len, in_len[2];
    cr_assert_eq(cairn_service_encode(&rep.snapshot.service, &svc, &svc_len), CAIRN_OK);
    cairn_bytes parts[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(cairn_instance_encode(&rep.snapshot.instances[i], &in[i], &in_len[i]),
                     CAIRN_OK);
        parts[i] = (cairn_bytes){in[i], in_len[i]};
    }
    char *got;
    size_t got_len;
    cr_assert_eq(cairn_snapshot_assemble((cairn_bytes){svc, svc_len}, parts, 2, &got, &got_len),
                 CAIRN_OK);
    cr_assert_eq(got_len, want_len);
    cr_expect_eq(memcmp(got, want, want_len), 0);
    free(got);
    /* no instances */
    cr_assert_eq(cairn_snapshot_assemble((cairn_bytes){svc, svc_len}, NULL, 0, &got, &got_len),
                 CAIRN_OK);
    cairn_service_snapshot snap;
    cairn_status st;
    cr_assert_eq(cairn_snapshot_decode(got, got_len, &snap, &st), CAIRN_OK, "%s", st.message);
    cr_expect(snap.found);
    cr_expect_eq(snap.instance_count, 0);
    expect_service_eq(&snap.service, &rep.snapshot.service);
    cairn_service_snapshot_free(&snap);
    free(got);
    cr_expect_eq(cairn_snapshot_assemble((cairn_bytes){NULL, 0}, NULL, 0, &got, &got_len),
                 CAIRN_E_INVALID);
    for (int i = 0; i < 2; i++)
        free(in[i]);
    free(svc);
    free(want);
    cairn_reply_free(&rep);
}

Test(reject, event_snapshot)
{
    /* "snap" must be a bin: a snapshot map in its place is refused */
    builder b;
    b_service_message(&b, CAIRN_MSG_CHANGE_EVENT, 7);
    b_kv_uint(&b, "rev", 7);
    b_kv_uint(&b, "kind", 0);
    b_str(&b, "snap");
    msgpack_pack_map(&b.pk, 1);
    b_str(&b, "found");
    msgpack_pack_false(&b.pk);
    expect_decode_error(MSG_EVENT, &b, "event: field 'snap' has the wrong type");

    cairn_change_event ev;
    golden_event(&ev);
    static const char tiny[] = "\x81\xa5" "found" "\xc2";
    ev.snapshot = tiny;
    ev.snapshot_len = sizeof tiny - 1;
    char *buf;
    size_t len;
    cairn_status st;
    expect_truncations_fail(MSG_EVENT, &ev);
    /* a snapshot length without bytes cannot be encoded */
    ev.snapshot = NULL;
    ev.snapshot_len = 3;
    cr_expect_eq(cairn_event_encode(&ev, &buf, &len), CAIRN_E_INVALID);
    cairn_event_free(&ev);

    /* the carried bytes are checked when decoded, as any message is */
    cairn_service_snapshot snap;
    cr_expect_eq(cairn_snapshot_decode("", 0, &snap, &st), CAIRN_E_DECODE);
    cr_expect_eq(cairn_snapshot_decode("\x80", 1, &snap, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "snapshot: missing field 'found'");
    cr_expect_null(snap.instances);
    cairn_reply rep;
    golden_reply(&rep);
    size_t snap_len;
    char *snap_buf = reply_snapshot_bytes(&rep, &snap_len);
    for (size_t n = 0; n < snap_len; n++) {
        char *p = malloc(n ? n : 1);
        memcpy(p, snap_buf, n);
        cr_assert_eq(cairn_snapshot_decode(p, n, &snap, &st), CAIRN_E_DECODE,
                     "prefix of %zu/%zu bytes decoded", n, snap_len);
        cr_expect_null(snap.instances);
        free(p);
    }
    free(snap_buf);
    cairn_reply_free(&rep);
}

/* ---- every message type ----------------------------------------------------------------------- */

/* One message of some type, as the sample table below makes it. */
typedef struct sample {
    msg_kind kind;
    cairn_request req;
    cairn_reply rep;
    cairn_change_event ev;
    cairn_subscription sub;
} sample;

#define BUILT(call)                                                                        \
    do {                                                                                   \
        cairn_status st_;                                                                  \
        cairn_status_clear(&st_);                                                          \
        cr_assert_eq((call), CAIRN_OK, "%s", st_.message);                                 \
    } while (0)
#define B(builder, ...) BUILT(builder(&s->req, __VA_ARGS__, &st_))

static void s_instance_upsert(sample *s)
{
    cairn_instance in;
    full_instance(&in);
    B(cairn_request_instance_upsert, "ns-1", "grp@@svc", &in, CAIRN_UPSERT_MUST_EXIST);
}

static void s_instance_patch(sample *s)
{
    cairn_instance in;
    full_instance(&in);
    B(cairn_request_instance_patch, "ns-1", "grp@@svc", &in,
      CAIRN_PATCH_METADATA | CAIRN_PATCH_ENABLED);
}

static void s_instance_remove(sample *s)
{
    B(cairn_request_instance_remove, "ns-1", "grp@@svc", "127.1.1.1", 65535, "DEFAULT", false);
}

static void s_instance_get(sample *s)
{
    B(cairn_request_instance_get, "ns-1", "grp@@svc", "127.1.1.1", 65535, NULL);
}

static void s_instance_health(sample *s)
{
    B(cairn_request_instance_health, "ns-1", "grp@@svc", "127.1.1.1", 8080, "DEFAULT", false,
      false, CAIRN_HEALTH_MANUAL);
}

static void s_beat(sample *s)
{
    cairn_instance in;
    full_instance(&in);
    B(cairn_request_beat, "ns-1", "grp@@svc", &in, true);
}

static void s_service_get(sample *s)
{
    B(cairn_request_service_get, "ns-1", "grp@@svc");
}

static void s_service_put(sample *s)
{
    cairn_service def;
    sample_service(&def);
    cairn_metadata_set(&def.metadata, "owner", "team");
    free(def.selector_json);
    def.selector_json =
        strdup("{\"type\":\"label\",\"expression\":\"CONSUMER.label.a = PROVIDER.label.a\"}");
    def.defined = true;
    def.clusters[0].check_type = CAIRN_CHECK_HTTP;
    def.clusters[0].check_path = strdup("/health");
    def.clusters[0].check_expected_status = 204;
    def.clusters[0].check_port = 9000;
    def.clusters[0].use_instance_port = false;
    cairn_metadata_set(&def.clusters[0].metadata, "zone", "a");
    B(cairn_request_service_put, "ns-1", "grp@@svc", &def, CAIRN_SERVICE_UPDATE);
}

static void s_service_remove(sample *s)
{
    B(cairn_request_service_remove, "ns-1", "grp@@svc");
}

static void s_service_list(sample *s)
{
    B(cairn_request_service_list_labelled, "ns-1", "grp", 3, UINT32_MAX, CAIRN_LABEL_INSTANCE,
      "zone=east");
}

static void s_service_catalog(sample *s)
{
    B(cairn_request_service_catalog, "public", "g", "pay", 2, 10);
}

static void s_snapshot_page(sample *s)
{
    B(cairn_request_snapshot_page, "public", "g@@s", 100);
}

static void s_subscription_snapshot(sample *s)
{
    B(cairn_request_subscription_snapshot, 1, 2);
}

static void s_stats(sample *s)
{
    BUILT(cairn_request_stats(&s->req, &st_));
}

static void s_namespace_list(sample *s)
{
    BUILT(cairn_request_namespace_list(&s->req, &st_));
}

/* The replication messages (samples in test_cluster_samples.h). */
static void s_distro_apply(sample *s) { cs_distro_apply(&s->req); }
static void s_distro_digests(sample *s) { cs_distro_digests(&s->req); }
static void s_distro_keys(sample *s) { cs_distro_keys(&s->req); }
static void s_distro_fetch(sample *s) { cs_distro_fetch(&s->req); }
static void s_distro_snapshot(sample *s) { cs_distro_snapshot(&s->req); }
static void s_distro_load_end(sample *s) { cs_distro_load_end(&s->req); }
static void s_persist_apply(sample *s) { cs_persist_apply(&s->req); }
static void s_persist_replace(sample *s) { cs_persist_replace(&s->req); }
static void s_instance_set_owned(sample *s)
{
    cairn_instance in[2];
    full_instance(&in[0]);
    in[0].owner = strdup("grpc/n1/0001/1700000000000_127.0.0.1_40000");
    sample_instance(&in[1], "127.0.0.2", 9);
    B(cairn_request_instance_set_owned, "ns-1", "grp@@svc", "grpc/n1/0001/c1", in, 2);
}

static void s_owner_drop(sample *s)
{
    B(cairn_request_owner_drop, "grpc/n1/", CAIRN_OWNER_PREFIX);
}

static void s_services_in_use(sample *s)
{
    const char *ns[] = {"public", "ns-1"}, *svc[] = {"DEFAULT_GROUP@@demo", "grp@@svc"};
    B(cairn_request_services_in_use, ns, svc, 2);
}

static void s_reply(sample *s)
{
    s->kind = MSG_REPLY;
    golden_reply(&s->rep);
}

static void s_change_event(sample *s)
{
    s->kind = MSG_EVENT;
    golden_event(&s->ev);
    s->ev.prev_revision = 6;
}

static void s_subscription(sample *s)
{
    s->kind = MSG_SUBSCRIPTION;
    golden_subscription(&s->sub);
    s->sub.seq = 9;
}

static void s_members_get(sample *s)
{
    cairn_request_members_get(&s->req);
}

static void s_forward(sample *s)
{
    cairn_request inner;
    cairn_request_init(&inner, CAIRN_MSG_STATS);
    cairn_instance in;
    full_instance(&in);
    cairn_status st;
    cr_assert_eq(cairn_request_beat(&inner, "ns-1", "grp@@svc", &in, true, &st), CAIRN_OK);
    cr_assert_eq(cairn_request_forward(&s->req, &inner, "127.0.0.2:8848", 123456789, &st),
                 CAIRN_OK);
    cairn_request_free(&inner);
}

/* A persistent registration wrapped for the raft log (cairn_peer_raft.h). */
static void s_raft_submit(sample *s)
{
    cairn_instance in;
    full_instance(&in);
    in.ephemeral = false;
    B(cairn_request_instance_upsert, "ns-1", "grp@@svc", &in, CAIRN_UPSERT_MUST_EXIST);
    cairn_status st;
    cr_assert_eq(cairn_raft_submit_wrap(&s->req, &st), CAIRN_OK, "%s", st.message);
}

/* A MEMBERSHIP round trip: type, fields (through the bytes) and the very bytes. */
static void membership_round_trip(void)
{
    char *owners[] = {"127.0.0.10:8848", "127.0.0.2:8848"};
    cairn_member_info members[] = {
        {"127.0.0.2:8848", CAIRN_MEMBER_UP, true, true, true, 0, "127.0.0.2:9849",
         "127.0.0.2:7848", 1700000000000, "none", 0, "", 0, 1, 0x1122334455667788ull},
        {"127.0.0.10:8848", CAIRN_MEMBER_SUSPICIOUS, false, true, false, 2, "127.0.0.10:9849",
         "127.0.0.10:7848", 1700000000001, "leader", 3, "127.0.0.10:8848", 42,
         0xfedcba9876543210ull, 0}};
    cairn_membership m = {7, "127.0.0.2:8848", true, owners, 2, members, 2};
    char *buf, *again;
    size_t len, again_len;
    cr_assert_eq(cairn_membership_encode(&m, &buf, &len), CAIRN_OK);
    cairn_msg_type type;
    cairn_status st;
    cr_assert_eq(cairn_msg_peek_type(buf, len, &type, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(type, CAIRN_MSG_MEMBERSHIP);
    cairn_membership got;
    cr_assert_eq(cairn_membership_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(got.member_count, 2);
    cr_expect_str_eq(got.members[1].raft_leader, "127.0.0.10:8848");
    cr_expect_eq(got.members[0].view_hash, 0x1122334455667788ull);
    cr_assert_eq(cairn_membership_encode(&got, &again, &again_len), CAIRN_OK);
    cr_expect(again_len == len && memcmp(buf, again, len) == 0);
    cairn_membership_free(&got);
    free(buf);
    free(again);
}

/* A sample of every message type, by type: the round trip below fails for a type without one,
 * so a new message type cannot go untested. */
static void (*const samples[CAIRN_MSG__END])(sample *s) = {
    [CAIRN_MSG_REPLY] = s_reply,
    [CAIRN_MSG_INSTANCE_UPSERT] = s_instance_upsert,
    [CAIRN_MSG_INSTANCE_PATCH] = s_instance_patch,
    [CAIRN_MSG_INSTANCE_REMOVE] = s_instance_remove,
    [CAIRN_MSG_INSTANCE_GET] = s_instance_get,
    [CAIRN_MSG_SERVICE_GET] = s_service_get,
    [CAIRN_MSG_SERVICE_PUT] = s_service_put,
    [CAIRN_MSG_SERVICE_REMOVE] = s_service_remove,
    [CAIRN_MSG_SERVICE_LIST] = s_service_list,
    [CAIRN_MSG_BEAT] = s_beat,
    [CAIRN_MSG_STATS] = s_stats,
    [CAIRN_MSG_CHANGE_EVENT] = s_change_event,
    [CAIRN_MSG_SNAPSHOT_PAGE] = s_snapshot_page,
    [CAIRN_MSG_INSTANCE_HEALTH] = s_instance_health,
    [CAIRN_MSG_SUBSCRIPTION] = s_subscription,
    [CAIRN_MSG_SUBSCRIPTION_SNAPSHOT] = s_subscription_snapshot,
    [CAIRN_MSG_SERVICE_CATALOG] = s_service_catalog,
    [CAIRN_MSG_NAMESPACE_LIST] = s_namespace_list,
    [CAIRN_MSG_DISTRO_APPLY] = s_distro_apply,
    [CAIRN_MSG_DISTRO_DIGESTS] = s_distro_digests,
    [CAIRN_MSG_DISTRO_KEYS] = s_distro_keys,
    [CAIRN_MSG_DISTRO_FETCH] = s_distro_fetch,
    [CAIRN_MSG_DISTRO_SNAPSHOT] = s_distro_snapshot,
    [CAIRN_MSG_DISTRO_LOAD_END] = s_distro_load_end,
    [CAIRN_MSG_PERSIST_APPLY] = s_persist_apply,
    [CAIRN_MSG_PERSIST_REPLACE] = s_persist_replace,
    [CAIRN_MSG_INSTANCE_SET_OWNED] = s_instance_set_owned,
    [CAIRN_MSG_OWNER_DROP] = s_owner_drop,
    [CAIRN_MSG_MEMBERS_GET] = s_members_get,
    [CAIRN_MSG_FORWARD] = s_forward,
    [CAIRN_MSG_RAFT_SUBMIT] = s_raft_submit,
    [CAIRN_MSG_SERVICES_IN_USE] = s_services_in_use,
};

/* Types with a codec of their own (not a request, reply, event or subscription): their round
 * trip, by type. */
static void membership_round_trip(void);
static void (*const own_round_trips[CAIRN_MSG__END])(void) = {
    [CAIRN_MSG_MEMBERSHIP] = membership_round_trip,
};

static const void *sample_msg(const sample *s)
{
    return s->kind == MSG_REQUEST ? (const void *)&s->req
           : s->kind == MSG_REPLY ? (const void *)&s->rep
           : s->kind == MSG_EVENT ? (const void *)&s->ev
                                  : (const void *)&s->sub;
}

/* Decodes buf as a message of s->kind and encodes it again. */
static void reencode(const sample *s, const char *buf, size_t len, char **out, size_t *out_len)
{
    cairn_status st;
    sample got;
    memset(&got, 0, sizeof got);
    got.kind = s->kind;
    cairn_err err = s->kind == MSG_REQUEST ? cairn_request_decode(buf, len, &got.req, &st)
                    : s->kind == MSG_REPLY ? cairn_reply_decode(buf, len, &got.rep, &st)
                    : s->kind == MSG_EVENT ? cairn_event_decode(buf, len, &got.ev, &st)
                                           : cairn_subscription_decode(buf, len, &got.sub, &st);
    cr_assert_eq(err, CAIRN_OK, "%s", st.message);
    if (s->kind == MSG_REQUEST)
        expect_request_eq(&s->req, &got.req);
    else if (s->kind == MSG_REPLY)
        expect_reply_eq(&s->rep, &got.rep);
    encode_msg(got.kind, sample_msg(&got), out, out_len);
    cairn_request_free(&got.req);
    cairn_reply_free(&got.rep);
    cairn_event_free(&got.ev);
    cairn_subscription_free(&got.sub);
}

/* Every type in [1, CAIRN_MSG__END) has a name, a sample of its kind, and a round trip that gives
 * back its type, its fields (requests, replies) and its very bytes. */
Test(round_trip, every_message_type)
{
    for (int t = CAIRN_MSG_REPLY; t < CAIRN_MSG__END; t++) {
        const char *name = cairn_msg_type_name((cairn_msg_type)t);
        /* Numbers are handed out in blocks (cairn_msg.h); an unused one has neither a name nor
         * a sample, and decodes as no request. */
        if (!samples[t] && !own_round_trips[t] && strcmp(name, "unknown") == 0) {
            cr_expect(!cairn_msg_is_request((cairn_msg_type)t), "unused type %d", t);
            continue;
        }
        cr_assert_str_neq(name, "unknown", "message type %d has no name", t);
        if (own_round_trips[t]) {
            own_round_trips[t]();
            continue;
        }
        cr_assert_not_null(samples[t], "message type %s has no sample", name);
        sample s;
        memset(&s, 0, sizeof s);
        s.kind = MSG_REQUEST;
        cairn_request_init(&s.req, CAIRN_MSG_STATS);
        cairn_reply_init(&s.rep);
        samples[t](&s);
        cr_expect_eq(s.kind == MSG_REQUEST, cairn_msg_is_request((cairn_msg_type)t), "%s", name);
        if (s.kind == MSG_REQUEST)
            cr_expect_eq(s.req.type, t, "the sample of %s builds a %s", name,
                         cairn_msg_type_name(s.req.type));
        char *buf, *again;
        size_t len, again_len;
        encode_msg(s.kind, sample_msg(&s), &buf, &len);
        cairn_msg_type type;
        cairn_status st;
        cr_assert_eq(cairn_msg_peek_type(buf, len, &type, &st), CAIRN_OK, "%s", st.message);
        cr_expect_eq(type, t, "%s encodes as type %d", name, (int)type);
        reencode(&s, buf, len, &again, &again_len);
        cr_expect(again_len == len && memcmp(buf, again, len) == 0,
                  "%s does not encode the same after a round trip", name);
        free(buf);
        free(again);
        cairn_request_free(&s.req);
        cairn_reply_free(&s.rep);
        cairn_event_free(&s.ev);
        cairn_subscription_free(&s.sub);
    }
}

/* ---- connection-owned instances (INSTANCE_SET_OWNED, OWNER_DROP) ---------------------------- */

Test(golden, request_instance_set_owned)
{
    cairn_request req;
    cairn_status st;
    cairn_instance in;
    sample_instance(&in, "127.0.0.1", 8080);
    in.owner = strdup("o");
    cr_assert_eq(cairn_request_instance_set_owned(&req, "public", "g@@s", "o", &in, 1, &st),
                 CAIRN_OK);
    expect_golden(MSG_REQUEST, &req,
                  "86"                              /* map, 6 fields */
                  "a174 1e"                         /* "t": 30 INSTANCE_SET_OWNED */
                  "a176 01"                         /* "v": 1 */
                  "a26e73 a67075626c6963"           /* "ns": "public" */
                  "a3737663 a467404073"             /* "svc": "g@@s" */
                  "a56f776e6572 a16f"               /* "owner": "o" */
                  "a5696e737473 91"                 /* "insts": [1] */
                  "8b"                              /*   instance map, 11 fields */
                  "a26970 a93132372e302e302e31"     /*   "ip": "127.0.0.1" */
                  "a4706f7274 cd1f90"               /*   "port": 8080 */
                  "a7636c7573746572 a744454641554c54" /* "cluster": "DEFAULT" */
                  "a6776569676874 cb3ff0000000000000" /* "weight": 1.0 */
                  "a76865616c746879 c3"             /*   "healthy": true */
                  "a7656e61626c6564 c3"             /*   "enabled": true */
                  "a9657068656d6572616c c3"         /*   "ephemeral": true */
                  "a66d61726b6564 c2"               /*   "marked": false */
                  "a46d657461 80"                   /*   "meta": {} */
                  "a56d74696d65 00"                 /*   "mtime": 0 */
                  "a56f776e6572 a16f");             /*   "owner": "o" */
    cairn_request_free(&req);
}

Test(golden, request_owner_drop)
{
    cairn_request req;
    cairn_status st;
    cr_assert_eq(cairn_request_owner_drop(&req, "grpc/n1/", CAIRN_OWNER_PREFIX, &st), CAIRN_OK);
    expect_golden(MSG_REQUEST, &req,
                  "84"                              /* map, 4 fields */
                  "a174 1f"                         /* "t": 31 OWNER_DROP */
                  "a176 01"                         /* "v": 1 */
                  "a46d6f6465 01"                   /* "mode": 1 prefix */
                  "a56f776e6572 a8677270632f6e312f"); /* "owner": "grpc/n1/" */
    cairn_request_free(&req);
}

/* ---- services in use (SERVICES_IN_USE) -------------------------------------------------------- */

Test(golden, request_services_in_use)
{
    const char *ns[] = {"p"}, *svc[] = {"g@@s"};
    cairn_request req;
    cairn_status st;
    cr_assert_eq(cairn_request_services_in_use(&req, ns, svc, 1, &st), CAIRN_OK);
    expect_golden(MSG_REQUEST, &req,
                  "83"                              /* map, 3 fields */
                  "a174 3c"                         /* "t": 60 SERVICES_IN_USE */
                  "a176 01"                         /* "v": 1 */
                  "a6737461746573 91"               /* "states": array of 1 */
                  "85"                              /*   map, 5 fields: a key, as a fetch's */
                  "a26e73 a170"                     /*   "ns": "p" */
                  "a3737663 a467404073"             /*   "svc": "g@@s" */
                  "a26570 00"                       /*   "ep": 0 */
                  "a3736571 00"                     /*   "seq": 0 */
                  "a5696e737473 90");               /*   "insts": [] */
    cairn_request_free(&req);
}

Test(reject, services_in_use_without_states)
{
    cairn_request req;
    cairn_status st;
    /* {"t": 60, "v": 1}: the list is required (a sender with nothing to say sends nothing) */
    static const char bytes[] = "\x82\xa1t\x3c\xa1v\x01";
    cr_assert_eq(cairn_request_decode(bytes, sizeof bytes - 1, &req, &st), CAIRN_E_DECODE);
    cr_expect_str_eq(st.message, "request: missing field 'states'");
    cr_expect_eq(cairn_request_services_in_use(&req, NULL, NULL, 1, &st), CAIRN_E_INVALID);
    cr_expect_str_eq(st.message, "services_in_use request without a key list");
    cairn_request_free(&req);
    const char *ns[] = {"public"}, *svc[] = {NULL};
    cr_expect_eq(cairn_request_services_in_use(&req, ns, svc, 1, &st), CAIRN_E_INVALID);
    cairn_request_free(&req);
}

Test(golden, instance_without_owner_is_unchanged)
{
    /* v1 instances carry no owner field: their stored bytes are those of before owners. */
    cairn_instance in;
    sample_instance(&in, "127.0.0.1", 8080);
    in.owner = strdup("");
    char *buf;
    size_t len;
    cr_assert_eq(cairn_instance_encode(&in, &buf, &len), CAIRN_OK);
    cr_expect_eq(buf[0], (char)0x8a, "an empty owner is not written");
    free(buf);
    cairn_instance_free(&in);
}

Test(reject, owned_requests)
{
    cairn_request req;
    cairn_status st;
    cr_expect_eq(cairn_request_owner_drop(&req, NULL, CAIRN_OWNER_EXACT, &st), CAIRN_E_INVALID);
    cairn_request_free(&req);
    cr_expect_eq(cairn_request_instance_set_owned(&req, "public", "g@@s", NULL, NULL, 0, &st),
                 CAIRN_E_INVALID);
    cairn_request_free(&req);
    /* An OWNER_DROP without its owner, or with a mode past OTHER_INCARNATIONS, decodes to an
     * error. */
    static const uint8_t no_owner[] = {0x82, 0xa1, 't', 0x1f, 0xa1, 'v', 0x01};
    cr_expect_eq(cairn_request_decode((const char *)no_owner, sizeof no_owner, &req, &st),
                 CAIRN_E_DECODE);
    static const uint8_t bad_mode[] = {0x84, 0xa1, 't', 0x1f, 0xa1, 'v', 0x01, 0xa4, 'm', 'o',
                                       'd', 'e', 0x03, 0xa5, 'o', 'w', 'n', 'e', 'r', 0xa1, 'o'};
    cr_expect_eq(cairn_request_decode((const char *)bad_mode, sizeof bad_mode, &req, &st),
                 CAIRN_E_DECODE);
    /* insts must be an array of instance maps */
    static const uint8_t bad_insts[] = {0x86, 0xa1, 't', 0x1e, 0xa1, 'v', 0x01, 0xa2, 'n', 's',
                                        0xa1, 'p', 0xa3, 's', 'v', 'c', 0xa1, 's', 0xa5, 'o',
                                        'w', 'n', 'e', 'r', 0xa1, 'o', 0xa5, 'i', 'n', 's', 't',
                                        's', 0x91, 0x01};
    cr_expect_eq(cairn_request_decode((const char *)bad_insts, sizeof bad_insts, &req, &st),
                 CAIRN_E_DECODE);
}
