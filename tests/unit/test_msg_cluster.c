/* The replication messages of cairn_msg.h (DISTRO_*, PERSIST_*): golden bytes of every request
 * type and of the replies' new fields, round trips, and the decoder's rejections. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "cairn_requests.h"
#include "test_cluster_samples.h"

static char *hex_of(const char *buf, size_t len)
{
    char *s = malloc(2 * len + 1);
    for (size_t i = 0; i < len; i++)
        sprintf(s + 2 * i, "%02x", (unsigned char)buf[i]);
    s[2 * len] = '\0';
    return s;
}

static char *strip_spaces(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    for (; *s; s++)
        if (*s != ' ')
            *o++ = *s;
    *o = '\0';
    return out;
}

static void expect_request_hex(const cairn_request *req, const char *golden)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_request_encode(req, &buf, &len), CAIRN_OK);
    char *got = hex_of(buf, len), *want = strip_spaces(golden);
    cr_expect_str_eq(got, want, "%s changed (a wire-format change): got %s",
                     cairn_msg_type_name(req->type), got);
    free(got);
    free(want);
    free(buf);
}

static void expect_reply_hex(const cairn_reply *rep, const char *golden)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_reply_encode(rep, &buf, &len), CAIRN_OK);
    char *got = hex_of(buf, len), *want = strip_spaces(golden);
    cr_expect_str_eq(got, want, "reply changed (a wire-format change): got %s", got);
    free(got);
    free(want);
    free(buf);
}

/* A state with no instances: (p, g@@s) at (9, 3), origin o when given. */
static cairn_distro_state *one_state(const char *origin)
{
    cairn_distro_state *ds = calloc(1, sizeof *ds);
    cs_state(ds, "p", "g@@s", 9, 3, origin, 0);
    return ds;
}

#define OK(call)                                                                           \
    do {                                                                                   \
        cairn_status st_;                                                                  \
        cr_assert_eq((call), CAIRN_OK, "%s", st_.message);                                 \
    } while (0)

Test(golden, distro_apply)
{
    cairn_request rq;
    OK(cairn_request_distro_apply(&rq, one_state("a"), 1, CAIRN_DISTRO_OWNER, 7, &st_));
    expect_request_hex(&rq, "85"                                   /* map, 5 fields */
      "a174 13"                            /* "t": 19 DISTRO_APPLY */
      "a176 01"                            /* "v": 1 */
      "a46d6f6465 01"                      /* "mode": 1 OWNER */
      "a6737461746573 91"                  /* "states": array of 1 */
        "86"                               /* map, 6 fields */
          "a26e73 a170"                    /* "ns": "p" */
          "a3737663 a467404073"            /* "svc": "g@@s" */
          "a26570 09"                      /* "ep": 9 */
          "a3736571 03"                    /* "seq": 3 */
          "a36f7267 a161"                  /* "org": "a" */
          "a5696e737473 90"                /* "insts": [] (a tombstone) */
      "a46c6f6164 07"                      /* "load": 7 */);
    cairn_request_free(&rq);
}

Test(golden, distro_digests)
{
    const char *owners[] = {"a", "b"};
    cairn_request rq;
    OK(cairn_request_distro_digests(&rq, owners, 2, "b", &st_));
    expect_request_hex(&rq, "84"                                   /* map, 4 fields */
      "a174 14"                            /* "t": 20 DISTRO_DIGESTS */
      "a176 01"                            /* "v": 1 */
      "a66f776e657273 92 a161 a162"        /* "owners": ["a", "b"] */
      "a473656c66 a162"                    /* "self": "b" */);
    cairn_request_free(&rq);
}

Test(golden, distro_keys)
{
    cairn_request rq;
    OK(cairn_request_distro_keys(&rq, 255, NULL, 0, NULL, "p", "g@@s", 10, &st_));
    expect_request_hex(&rq, "86"                                   /* map, 6 fields */
      "a174 15"                            /* "t": 21 DISTRO_KEYS */
      "a176 01"                            /* "v": 1 */
      "a26e73 a170"                        /* "ns": "p" (the cursor) */
      "a3737663 a467404073"                /* "svc": "g@@s" */
      "a473697a65 0a"                      /* "size": 10 */
      "a66275636b6574 ccff"                /* "bucket": 255 (uint8) */);
    cairn_request_free(&rq);
}

Test(golden, distro_fetch)
{
    const char *ns[] = {"p"}, *svc[] = {"g@@s"};
    cairn_request rq;
    OK(cairn_request_distro_fetch(&rq, ns, svc, 1, &st_));
    expect_request_hex(&rq, "83"                                   /* map, 3 fields */
      "a174 16"                            /* "t": 22 DISTRO_FETCH */
      "a176 01"                            /* "v": 1 */
      "a6737461746573 91"                  /* "states": array of 1 */
        "85"                               /* map, 5 fields: the key */
          "a26e73 a170"                    /* "ns": "p" */
          "a3737663 a467404073"            /* "svc": "g@@s" */
          "a26570 00"                      /* "ep": 0 */
          "a3736571 00"                    /* "seq": 0 */
          "a5696e737473 90"                /* "insts": [] */);
    cairn_request_free(&rq);
}

Test(golden, distro_snapshot)
{
    cairn_request rq;
    OK(cairn_request_distro_snapshot(&rq, NULL, NULL, 0, &st_));
    expect_request_hex(&rq, "83"                                   /* map, 3 fields */
      "a174 17"                            /* "t": 23 DISTRO_SNAPSHOT */
      "a176 01"                            /* "v": 1 */
      "a473697a65 00"                      /* "size": 0 (the default page); no cursor */);
    cairn_request_free(&rq);
}

Test(golden, distro_load_end)
{
    cairn_request rq;
    OK(cairn_request_distro_load_end(&rq, 7, &st_));
    expect_request_hex(&rq, "83"                                   /* map, 3 fields */
      "a174 18"                            /* "t": 24 DISTRO_LOAD_END */
      "a176 01"                            /* "v": 1 */
      "a46c6f6164 07"                      /* "load": 7 */);
    cairn_request_free(&rq);
}

Test(golden, persist_apply)
{
    cairn_persist_record *r = calloc(1, sizeof *r);
    cairn_service_init(&r->service_def);
    cairn_instance_init(&r->instance);
    r->op = CAIRN_PERSIST_DEL;
    r->kind = CAIRN_PERSIST_SERVICE;
    r->namespace_id = strdup("p");
    r->service = strdup("g@@s");
    cairn_request rq;
    OK(cairn_request_persist_apply(&rq, 3, 5, r, 1, &st_));
    expect_request_hex(&rq, "85"                                   /* map, 5 fields */
      "a174 19"                            /* "t": 25 PERSIST_APPLY */
      "a176 01"                            /* "v": 1 */
      "a56669727374 03"                    /* "first": 3 */
      "a46c617374 05"                      /* "last": 5 */
      "a472656373 91"                      /* "recs": array of 1 */
        "84"                               /* map, 4 fields (no value) */
          "a26f70 01"                      /* "op": 1 DEL */
          "a46b696e64 00"                  /* "kind": 0 SERVICE */
          "a26e73 a170"                    /* "ns": "p" */
          "a3737663 a467404073"            /* "svc": "g@@s" */);
    cairn_request_free(&rq);
}

Test(golden, persist_replace)
{
    cairn_request rq;
    OK(cairn_request_persist_replace(&rq, 9, NULL, 0, &st_));
    expect_request_hex(&rq, "84"                                   /* map, 4 fields */
      "a174 1a"                            /* "t": 26 PERSIST_REPLACE */
      "a176 01"                            /* "v": 1 */
      "a46c617374 09"                      /* "last": 9 */
      "a472656373 90"                      /* "recs": [] */);
    cairn_request_free(&rq);
}

/* A reply with every replication field but the digests. */
static void golden_cluster_reply(cairn_reply *rep)
{
    cairn_reply_init(rep);
    rep->store_epoch = 9;
    rep->store_fresh = true;
    rep->raft_applied = 5;
    rep->skipped = true;
    rep->outcomes = calloc(3, sizeof *rep->outcomes);
    rep->outcomes[1] = CAIRN_DISTRO_STALE;
    rep->outcomes[2] = CAIRN_DISTRO_REJECTED;
    rep->outcome_count = 3;
    rep->states = one_state(NULL);
    rep->state_count = 1;
    rep->states[0].has_digest = true;
    memset(rep->states[0].digest, 0xab, sizeof rep->states[0].digest);
    rep->cursor_ns = strdup("p");
    rep->cursor_svc = strdup("g@@s");
}

Test(golden, reply_cluster_fields)
{
    cairn_reply rep;
    golden_cluster_reply(&rep);
    expect_reply_hex(&rep, "8b"                                   /* map, 11 fields */
      "a174 01"                            /* "t": 1 REPLY */
      "a176 01"                            /* "v": 1 */
      "a4636f6465 00"                      /* "code": 0 */
      "a565706f6368 09"                    /* "epoch": 9 */
      "a56672657368 c3"                    /* "fresh": true */
      "a372776d 05"                        /* "rwm": 5 */
      "a4736b6970 c3"                      /* "skip": true */
      "a46f757473 93 00 01 02"             /* "outs": [APPLIED, STALE, REJECTED] */
      "a6737461746573 91"                  /* "states": array of 1 */
        "86"                               /* map, 6 fields */
          "a26e73 a170"                    /* "ns": "p" */
          "a3737663 a467404073"            /* "svc": "g@@s" */
          "a26570 09"                      /* "ep": 9 */
          "a3736571 03"                    /* "seq": 3 */
          "a3646967 c410 abababababababababababababababab" /* "dig": bin of 16 */
          "a5696e737473 90"                /* "insts": [] */
      "a3636e73 a170"                      /* "cns": "p" */
      "a463737663 a467404073"              /* "csvc": "g@@s" */);
    cairn_reply_free(&rep);
}

Test(golden, service_with_distro_version)
{
    cairn_service svc;
    cairn_service_init(&svc);
    free(svc.selector_json);
    svc.selector_json = NULL;
    svc.distro.epoch = 9;
    svc.distro.seq = 3;
    svc.distro.origin = strdup("a");
    char *buf;
    size_t len;
    cr_assert_eq(cairn_service_encode(&svc, &buf, &len), CAIRN_OK);
    char *got = hex_of(buf, len);
    char *want = strip_spaces(
"89"                                   /* map, 9 fields */
      "a27074 ca00000000"                  /* "pt": 0.0 (float32) */
      "a46d657461 80"                      /* "meta": {} */
      "a8636c757374657273 90"              /* "clusters": [] */
      "a7646566696e6564 c2"                /* "defined": false */
      "a3726576 00"                        /* "rev": 0 */
      "a56d74696d65 00"                    /* "mtime": 0 */
      "a3646570 09"                        /* "dep": 9 (written when non-zero) */
      "a464736571 03"                      /* "dseq": 3 */
      "a4646f7267 a161"                    /* "dorg": "a" */);
    cr_expect_str_eq(got, want, "got %s", got);
    free(want);
    free(got);
    free(buf);
    cairn_service_free(&svc);
}

/* ---- round trips ------------------------------------------------------------------------------ */

static void expect_state_eq(const cairn_distro_state *a, const cairn_distro_state *b)
{
    cr_expect_str_eq(a->namespace_id, b->namespace_id);
    cr_expect_str_eq(a->service, b->service);
    cr_expect_eq(a->version.epoch, b->version.epoch);
    cr_expect_eq(a->version.seq, b->version.seq);
    if (a->version.origin || b->version.origin)
        cr_expect_str_eq(a->version.origin ? a->version.origin : "(null)",
                         b->version.origin ? b->version.origin : "(null)");
    cr_expect_eq(a->has_digest, b->has_digest);
    cr_expect(memcmp(a->digest, b->digest, sizeof a->digest) == 0);
    cr_assert_eq(a->instance_count, b->instance_count);
    for (uint32_t i = 0; i < a->instance_count; i++) {
        cr_expect_str_eq(a->instances[i].ip, b->instances[i].ip);
        cr_expect_eq(a->instances[i].port, b->instances[i].port);
        cr_expect_eq(a->instances[i].healthy, b->instances[i].healthy);
    }
}

static void decode_request(const cairn_request *req, cairn_request *got)
{
    char *buf;
    size_t len;
    cairn_status st;
    cr_assert_eq(cairn_request_encode(req, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_request_decode(buf, len, got, &st), CAIRN_OK, "%s", st.message);
    free(buf);
}

Test(round_trip, distro_apply_states)
{
    cairn_request rq, got;
    cs_distro_apply(&rq);
    decode_request(&rq, &got);
    cr_expect_eq(got.mode, CAIRN_DISTRO_OWNER);
    cr_expect_eq(got.load_id, 7);
    cr_assert_eq(got.state_count, 2);
    for (uint32_t i = 0; i < 2; i++)
        expect_state_eq(&rq.states[i], &got.states[i]);
    cairn_request_free(&rq);
    cairn_request_free(&got);
}

Test(round_trip, owner_filter_and_cursor)
{
    cairn_request rq, got;
    cs_distro_keys(&rq);
    decode_request(&rq, &got);
    cr_expect_eq(got.bucket, 255);
    cr_assert_eq(got.owner_count, 1);
    cr_expect_str_eq(got.owners[0], "127.0.0.1:8848");
    cr_expect_str_eq(got.self, "127.0.0.1:8848");
    cr_expect_str_eq(got.namespace_id, "public");
    cr_expect_str_eq(got.service, "g@@s");
    cr_expect_eq(got.page_size, 10);
    cairn_request_free(&rq);
    cairn_request_free(&got);
}

Test(round_trip, persist_records)
{
    cairn_request rq, got;
    cs_persist_apply(&rq);
    decode_request(&rq, &got);
    cr_expect_eq(got.first, 3);
    cr_expect_eq(got.last, 5);
    cr_assert_eq(got.record_count, 4);
    for (uint32_t i = 0; i < 4; i++) {
        const cairn_persist_record *a = &rq.records[i], *b = &got.records[i];
        cr_expect_eq(a->op, b->op);
        cr_expect_eq(a->kind, b->kind);
        cr_expect_eq(a->has_value, b->has_value);
        cr_expect_str_eq(a->service, b->service);
    }
    cr_expect_eq(got.records[0].service_def.protect_threshold, 0.5f);
    cr_expect(got.records[0].service_def.defined);
    cr_expect_str_eq(got.records[1].instance.ip, "127.0.0.3");
    cr_expect_not(got.records[1].instance.ephemeral);
    cr_expect_eq(got.records[2].instance.port, 81);
    cairn_request_free(&rq);
    cairn_request_free(&got);
}

static void reply_round_trip(const cairn_reply *rep, cairn_reply *got)
{
    char *buf, *again;
    size_t len, again_len;
    cairn_status st;
    cr_assert_eq(cairn_reply_encode(rep, &buf, &len), CAIRN_OK);
    cr_assert_eq(cairn_reply_decode(buf, len, got, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(cairn_reply_encode(got, &again, &again_len), CAIRN_OK);
    cr_expect(len == again_len && memcmp(buf, again, len) == 0, "not the same bytes again");
    free(buf);
    free(again);
}

Test(round_trip, reply_cluster_fields)
{
    cairn_reply rep, got;
    golden_cluster_reply(&rep);
    reply_round_trip(&rep, &got);
    cr_expect_eq(got.store_epoch, 9);
    cr_expect(got.store_fresh);
    cr_expect_eq(got.raft_applied, 5);
    cr_expect(got.skipped);
    cr_assert_eq(got.outcome_count, 3);
    cr_expect_eq(got.outcomes[2], CAIRN_DISTRO_REJECTED);
    cr_assert_eq(got.state_count, 1);
    expect_state_eq(&rep.states[0], &got.states[0]);
    cr_expect_str_eq(got.cursor_svc, "g@@s");
    cairn_reply_free(&rep);
    cairn_reply_free(&got);
}

Test(round_trip, reply_digests)
{
    cairn_reply rep, got;
    cairn_reply_init(&rep);
    rep.digests = calloc(1, sizeof *rep.digests);
    for (int b = 0; b < CAIRN_DISTRO_BUCKETS; b++) {
        memset(rep.digests->digest[b], b, CAIRN_DISTRO_DIGEST_LEN);
        rep.digests->count[b] = (uint32_t)b * 1000u;
    }
    rep.total = 42;
    reply_round_trip(&rep, &got);
    cr_assert_not_null(got.digests);
    cr_expect(memcmp(rep.digests, got.digests, sizeof *rep.digests) == 0);
    cr_expect_eq(got.total, 42);
    cairn_reply_free(&rep);
    cairn_reply_free(&got);
}

/* ---- rejections ---------------------------------------------------------------------------------- */

typedef void (*sample_fn)(cairn_request *rq);
static const sample_fn request_samples[] = {
    cs_distro_apply, cs_distro_digests, cs_distro_keys,   cs_distro_fetch,
    cs_distro_snapshot, cs_distro_load_end, cs_persist_apply, cs_persist_replace,
};
#define SAMPLES (sizeof request_samples / sizeof request_samples[0])

static void encode_sample(size_t i, char **buf, size_t *len)
{
    cairn_request rq;
    request_samples[i](&rq);
    cr_assert_eq(cairn_request_encode(&rq, buf, len), CAIRN_OK);
    cairn_request_free(&rq);
}

Test(reject, truncated_and_trailing)
{
    for (size_t i = 0; i < SAMPLES; i++) {
        char *buf;
        size_t len;
        encode_sample(i, &buf, &len);
        cairn_status st;
        cairn_request got;
        for (size_t cut = 0; cut < len; cut++) {
            cr_expect_neq(cairn_request_decode(buf, cut, &got, &st), CAIRN_OK,
                          "sample %zu cut at %zu decoded", i, cut);
            cr_expect_null(got.states);
            cr_expect_null(got.records);
            cr_expect_null(got.owners);
        }
        char *longer = malloc(len + 1);
        memcpy(longer, buf, len);
        longer[len] = 0;
        cr_expect_neq(cairn_request_decode(longer, len + 1, &got, &st), CAIRN_OK);
        free(longer);
        free(buf);
    }
}

/* Every byte of every sample changed in turn: the decoder either decodes or refuses, and what
 * it decodes encodes again (it never crashes or leaks: the sanitizer build checks). */
Test(reject, mutated_bytes)
{
    for (size_t i = 0; i < SAMPLES; i++) {
        char *buf;
        size_t len;
        encode_sample(i, &buf, &len);
        for (size_t pos = 0; pos < len; pos++) {
            static const unsigned char values[] = {0x00, 0x7f, 0x90, 0xc0, 0xc4, 0xdc, 0xdf,
                                                   0xff};
            for (size_t v = 0; v < sizeof values; v++) {
                char saved = buf[pos];
                buf[pos] = (char)values[v];
                cairn_request got;
                cairn_status st;
                if (cairn_request_decode(buf, len, &got, &st) == CAIRN_OK) {
                    char *again;
                    size_t again_len;
                    cairn_err err = cairn_request_encode(&got, &again, &again_len);
                    if (err == CAIRN_OK)
                        free(again);
                    cairn_request_free(&got);
                }
                buf[pos] = saved;
            }
        }
        free(buf);
    }
}

/* A hand-built request map: "t", "v", then the pairs written by fill. */
typedef void (*fill_fn)(msgpack_packer *pk);

static void pk_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static cairn_err decode_built(cairn_msg_type type, uint32_t pairs, fill_fn fill, bool reply,
                              cairn_status *st)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + pairs);
    pk_s(&pk, "t");
    msgpack_pack_uint32(&pk, (uint32_t)type);
    pk_s(&pk, "v");
    msgpack_pack_uint32(&pk, CAIRN_MSG_VERSION);
    fill(&pk);
    cairn_err err;
    if (reply) {
        cairn_reply rep;
        err = cairn_reply_decode(sb.data, sb.size, &rep, st);
        if (err)
            cr_expect(rep.digests == NULL && rep.states == NULL && rep.outcomes == NULL);
        cairn_reply_free(&rep);
    } else {
        cairn_request rq;
        err = cairn_request_decode(sb.data, sb.size, &rq, st);
        if (err)
            cr_expect(rq.states == NULL && rq.records == NULL && rq.owners == NULL);
        cairn_request_free(&rq);
    }
    msgpack_sbuffer_destroy(&sb);
    return err;
}

static void state_without_svc(msgpack_packer *pk)
{
    pk_s(pk, "states");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 1);
    pk_s(pk, "ns");
    pk_s(pk, "p");
}

static void state_short_digest(msgpack_packer *pk)
{
    pk_s(pk, "states");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 3);
    pk_s(pk, "ns");
    pk_s(pk, "p");
    pk_s(pk, "svc");
    pk_s(pk, "s");
    pk_s(pk, "dig");
    msgpack_pack_bin(pk, 15);
    msgpack_pack_bin_body(pk, "0123456789abcde", 15);
}

static void mode_three(msgpack_packer *pk)
{
    pk_s(pk, "states");
    msgpack_pack_array(pk, 0);
    pk_s(pk, "mode");
    msgpack_pack_uint32(pk, 3);
}

static void bucket_256(msgpack_packer *pk)
{
    pk_s(pk, "bucket");
    msgpack_pack_uint32(pk, 256);
}

static void record_fields_only(msgpack_packer *pk, uint32_t op, uint32_t kind)
{
    pk_s(pk, "first");
    msgpack_pack_uint32(pk, 1);
    pk_s(pk, "last");
    msgpack_pack_uint32(pk, 1);
    pk_s(pk, "recs");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 4);
    pk_s(pk, "op");
    msgpack_pack_uint32(pk, op);
    pk_s(pk, "kind");
    msgpack_pack_uint32(pk, kind);
    pk_s(pk, "ns");
    pk_s(pk, "p");
    pk_s(pk, "svc");
    pk_s(pk, "s");
}

static void instance_put_without_value(msgpack_packer *pk)
{
    record_fields_only(pk, CAIRN_PERSIST_PUT, CAIRN_PERSIST_INSTANCE);
}

static void record_op_two(msgpack_packer *pk)
{
    record_fields_only(pk, 2, CAIRN_PERSIST_SERVICE);
}

static void service_del_without_value(msgpack_packer *pk)
{
    record_fields_only(pk, CAIRN_PERSIST_DEL, CAIRN_PERSIST_SERVICE);
}

static void digests_without_counts(msgpack_packer *pk)
{
    static const char zeros[CAIRN_DISTRO_BUCKETS * CAIRN_DISTRO_DIGEST_LEN];
    pk_s(pk, "code");
    msgpack_pack_uint32(pk, 0);
    pk_s(pk, "bdig");
    msgpack_pack_bin(pk, sizeof zeros);
    msgpack_pack_bin_body(pk, zeros, sizeof zeros);
}

static void short_counts(msgpack_packer *pk)
{
    pk_s(pk, "code");
    msgpack_pack_uint32(pk, 0);
    pk_s(pk, "bcnt");
    msgpack_pack_array(pk, CAIRN_DISTRO_BUCKETS - 1);
    for (int i = 0; i < CAIRN_DISTRO_BUCKETS - 1; i++)
        msgpack_pack_uint32(pk, 1);
}

static void negative_outcome(msgpack_packer *pk)
{
    pk_s(pk, "code");
    msgpack_pack_uint32(pk, 0);
    pk_s(pk, "outs");
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint32(pk, 0);
    msgpack_pack_int32(pk, -1);
}

Test(reject, malformed_fields)
{
    cairn_status st;
    cr_expect_eq(decode_built(CAIRN_MSG_DISTRO_APPLY, 1, state_without_svc, false, &st),
                 CAIRN_E_DECODE);
    cr_expect(strstr(st.message, "svc"), "%s", st.message);
    cr_expect_eq(decode_built(CAIRN_MSG_DISTRO_APPLY, 1, state_short_digest, false, &st),
                 CAIRN_E_DECODE);
    cr_expect_eq(decode_built(CAIRN_MSG_DISTRO_APPLY, 2, mode_three, false, &st),
                 CAIRN_E_DECODE);
    cr_expect_eq(decode_built(CAIRN_MSG_DISTRO_KEYS, 1, bucket_256, false, &st),
                 CAIRN_E_DECODE);
    cr_expect_eq(decode_built(CAIRN_MSG_PERSIST_APPLY, 3, instance_put_without_value, false,
                              &st),
                 CAIRN_E_DECODE);
    cr_expect(strstr(st.message, "val"), "%s", st.message);
    cr_expect_eq(decode_built(CAIRN_MSG_PERSIST_APPLY, 3, record_op_two, false, &st),
                 CAIRN_E_DECODE);
    cr_expect_eq(decode_built(CAIRN_MSG_PERSIST_APPLY, 3, service_del_without_value, false,
                              &st),
                 CAIRN_OK, "%s", st.message);
    cr_expect_eq(decode_built(CAIRN_MSG_REPLY, 2, digests_without_counts, true, &st),
                 CAIRN_E_DECODE);
    cr_expect_eq(decode_built(CAIRN_MSG_REPLY, 2, short_counts, true, &st), CAIRN_E_DECODE);
    cr_expect_eq(decode_built(CAIRN_MSG_REPLY, 2, negative_outcome, true, &st),
                 CAIRN_E_DECODE);
}

static void missing_load(msgpack_packer *pk) { (void)pk; }
static void missing_last(msgpack_packer *pk)
{
    pk_s(pk, "first");
    msgpack_pack_uint32(pk, 1);
}

Test(reject, missing_required_fields)
{
    cairn_status st;
    cr_expect_eq(decode_built(CAIRN_MSG_DISTRO_LOAD_END, 0, missing_load, false, &st),
                 CAIRN_E_DECODE);
    cr_expect(strstr(st.message, "load"), "%s", st.message);
    cr_expect_eq(decode_built(CAIRN_MSG_DISTRO_APPLY, 0, missing_load, false, &st),
                 CAIRN_E_DECODE);
    cr_expect_eq(decode_built(CAIRN_MSG_PERSIST_APPLY, 1, missing_last, false, &st),
                 CAIRN_E_DECODE);
    cr_expect(strstr(st.message, "last"), "%s", st.message);
    cr_expect_eq(decode_built(CAIRN_MSG_DISTRO_DIGESTS, 0, missing_load, false, &st), CAIRN_OK);
}

Test(encode, refuses_incomplete_parts)
{
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_DISTRO_APPLY);
    rq.states = calloc(1, sizeof *rq.states);
    rq.state_count = 1;
    rq.states[0].service = strdup("s"); /* no namespace */
    char *buf;
    size_t len;
    cr_expect_eq(cairn_request_encode(&rq, &buf, &len), CAIRN_E_INVALID);
    cairn_request_free(&rq);

    cairn_request_init(&rq, CAIRN_MSG_PERSIST_APPLY);
    rq.records = calloc(1, sizeof *rq.records);
    rq.record_count = 1;
    cairn_instance_init(&rq.records[0].instance);
    rq.records[0].kind = CAIRN_PERSIST_INSTANCE;
    rq.records[0].namespace_id = strdup("p");
    rq.records[0].service = strdup("s");
    rq.records[0].has_value = true; /* an instance without ip */
    cr_expect_eq(cairn_request_encode(&rq, &buf, &len), CAIRN_E_INVALID);
    cairn_request_free(&rq);

    cairn_status st;
    cr_expect_eq(cairn_request_distro_apply(&rq, NULL, 3, CAIRN_DISTRO_FORCE, 0, &st),
                 CAIRN_E_INVALID);
    cairn_request_free(&rq);
    cr_expect_eq(cairn_request_distro_fetch(&rq, NULL, NULL, 1, &st), CAIRN_E_INVALID);
    cairn_request_free(&rq);
}
