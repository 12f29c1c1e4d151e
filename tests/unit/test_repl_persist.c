/* The raft FSM's batches as the registry requests they become (replicator_persist.h): every
 * record kind, PERSIST_APPLY and PERSIST_REPLACE, through an encode/decode round trip, and the
 * merging of queued PERSIST_APPLYs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "replicator_persist.h"

static void fill(cairn_raft_batch *b)
{
    cairn_raft_batch_init(b);
    cairn_service svc;
    cairn_service_init(&svc);
    svc.namespace_id = strdup("ns1");
    svc.name = strdup("DEFAULT_GROUP@@orders");
    svc.protect_threshold = 0.5f;
    svc.defined = true;
    cairn_raft_batch_service_put(b, &svc);
    cairn_service_free(&svc);
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup("127.0.7.7");
    in.port = 8080;
    in.cluster = strdup("c1");
    in.ephemeral = false;
    in.weight = 2.5;
    cairn_raft_batch_instance(b, CAIRN_RAFT_PUT, "ns1", "DEFAULT_GROUP@@orders", &in);
    cairn_raft_batch_instance(b, CAIRN_RAFT_DEL, "ns1", "DEFAULT_GROUP@@orders", &in);
    cairn_instance_free(&in);
    cairn_raft_batch_service_del(b, "ns1", "DEFAULT_GROUP@@gone");
}

static void round_trip(const cairn_request *rq, cairn_request *out)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_request_encode(rq, &buf, &len), CAIRN_OK);
    cairn_status st;
    cr_assert_eq(cairn_request_decode(buf, len, out, &st), CAIRN_OK, "%s", st.message);
    free(buf);
}

Test(repl_persist, apply_batch_carries_every_record_kind)
{
    cairn_raft_batch b;
    fill(&b);
    b.first = 5;
    b.last = 9;
    cairn_request rq, got;
    cairn_status st;
    cr_assert_eq(repl_persist_request(&b, &rq, &st), CAIRN_OK, "%s", st.message);
    round_trip(&rq, &got);
    cr_assert_eq(got.type, CAIRN_MSG_PERSIST_APPLY);
    cr_assert_eq(got.first, 5);
    cr_assert_eq(got.last, 9);
    cr_assert_eq(got.record_count, 4);
    const cairn_persist_record *r = got.records;
    cr_assert_eq(r[0].kind, CAIRN_PERSIST_SERVICE);
    cr_assert_eq(r[0].op, CAIRN_PERSIST_PUT);
    cr_assert_str_eq(r[0].namespace_id, "ns1");
    cr_assert_str_eq(r[0].service, "DEFAULT_GROUP@@orders");
    cr_assert(r[0].service_def.defined);
    cr_assert_float_eq(r[0].service_def.protect_threshold, 0.5f, 1e-6);
    cr_assert_eq(r[1].kind, CAIRN_PERSIST_INSTANCE);
    cr_assert_eq(r[1].op, CAIRN_PERSIST_PUT);
    cr_assert_str_eq(r[1].instance.ip, "127.0.7.7");
    cr_assert_eq(r[1].instance.port, 8080);
    cr_assert_str_eq(r[1].instance.cluster, "c1");
    cr_assert_not(r[1].instance.ephemeral);
    cr_assert_eq(r[2].op, CAIRN_PERSIST_DEL);
    cr_assert_str_eq(r[2].instance.ip, "127.0.7.7");
    cr_assert_eq(r[3].kind, CAIRN_PERSIST_SERVICE);
    cr_assert_eq(r[3].op, CAIRN_PERSIST_DEL);
    cr_assert_not(r[3].has_value);
    cr_assert_str_eq(r[3].service, "DEFAULT_GROUP@@gone");
    cairn_request_free(&rq);
    cairn_request_free(&got);
    cairn_raft_batch_free(&b);
}

Test(repl_persist, replace_batch_and_empty_apply)
{
    cairn_raft_batch b;
    cairn_raft_batch_init(&b);
    b.replace = true;
    b.last = 42;
    cairn_request rq, got;
    cairn_status st;
    cr_assert_eq(repl_persist_request(&b, &rq, &st), CAIRN_OK, "%s", st.message);
    round_trip(&rq, &got);
    cr_assert_eq(got.type, CAIRN_MSG_PERSIST_REPLACE);
    cr_assert_eq(got.last, 42);
    cr_assert_eq(got.record_count, 0);
    cairn_request_free(&rq);
    cairn_request_free(&got);
    /* an entry that changed nothing still moves the watermark: an APPLY without records */
    b.replace = false;
    b.first = b.last = 43;
    cr_assert_eq(repl_persist_request(&b, &rq, &st), CAIRN_OK, "%s", st.message);
    round_trip(&rq, &got);
    cr_assert_eq(got.type, CAIRN_MSG_PERSIST_APPLY);
    cr_assert_eq(got.first, 43);
    cr_assert_eq(got.record_count, 0);
    cairn_request_free(&rq);
    cairn_request_free(&got);
    cairn_raft_batch_free(&b);
}

Test(repl_persist, undecodable_value_fails_the_batch)
{
    cairn_raft_batch b;
    cairn_raft_batch_init(&b);
    b.first = b.last = 1;
    b.records = calloc(1, sizeof *b.records);
    b.count = b.cap = 1;
    b.records[0] = (cairn_raft_record){CAIRN_RAFT_PUT, CAIRN_RAFT_INSTANCE, strdup("ns"),
                                       strdup("g@@s"), strdup("\xc1junk"), 5};
    cairn_request rq;
    cairn_status st;
    cr_assert_neq(repl_persist_request(&b, &rq, &st), CAIRN_OK);
    cairn_request_free(&rq);
    cairn_raft_batch_free(&b);
}

/* Batches queued behind the request in flight travel as one PERSIST_APPLY: records in order,
 * the range from the first's first to the last's last (a gap is a barrier entry). */
Test(repl_persist, later_apply_batches_merge_in_order)
{
    cairn_raft_batch a, b, c;
    fill(&a);
    a.first = 5, a.last = 6;
    fill(&b);
    b.first = 8, b.last = 9; /* 7: a barrier, no record */
    cairn_raft_batch_init(&c);
    c.first = c.last = 10; /* a rejected entry: no record either */
    cairn_request ra, rb, rc, got;
    cairn_status st;
    cr_assert_eq(repl_persist_request(&a, &ra, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(repl_persist_request(&b, &rb, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(repl_persist_request(&c, &rc, &st), CAIRN_OK, "%s", st.message);
    cr_assert(repl_persist_merge(&ra, &rb));
    cr_assert(repl_persist_merge(&ra, &rc));
    cr_assert_eq(rb.record_count, 0);
    cairn_request_free(&rb);
    cairn_request_free(&rc);
    round_trip(&ra, &got);
    cr_assert_eq(got.type, CAIRN_MSG_PERSIST_APPLY);
    cr_assert_eq(got.first, 5);
    cr_assert_eq(got.last, 10);
    cr_assert_eq(got.record_count, 8);
    cr_assert_eq(got.records[0].kind, CAIRN_PERSIST_SERVICE); /* a's, then b's */
    cr_assert_eq(got.records[3].op, CAIRN_PERSIST_DEL);
    cr_assert_eq(got.records[4].kind, CAIRN_PERSIST_SERVICE);
    cr_assert_str_eq(got.records[5].instance.ip, "127.0.7.7");
    cairn_request_free(&ra);
    cairn_request_free(&got);
    cairn_raft_batch_free(&a);
    cairn_raft_batch_free(&b);
    cairn_raft_batch_free(&c);
}

/* A replacement, or a batch that is not after the other, is never merged: nothing moves. */
Test(repl_persist, replace_or_earlier_batches_do_not_merge)
{
    cairn_raft_batch a, b, r;
    fill(&a);
    a.first = 5, a.last = 9;
    fill(&b);
    b.first = 9, b.last = 12; /* overlaps a */
    fill(&r);
    r.replace = true;
    r.last = 20;
    cairn_request ra, rb, rr;
    cairn_status st;
    cr_assert_eq(repl_persist_request(&a, &ra, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(repl_persist_request(&b, &rb, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(repl_persist_request(&r, &rr, &st), CAIRN_OK, "%s", st.message);
    cr_assert_not(repl_persist_merge(&ra, &rb));
    cr_assert_not(repl_persist_merge(&ra, &rr));
    cr_assert_not(repl_persist_merge(&rr, &rb));
    cr_assert_eq(ra.last, 9);
    cr_assert_eq(ra.record_count, 4);
    cr_assert_eq(rb.record_count, 4);
    cr_assert_eq(rr.record_count, 4);
    cairn_request_free(&ra);
    cairn_request_free(&rb);
    cairn_request_free(&rr);
    cairn_raft_batch_free(&a);
    cairn_raft_batch_free(&b);
    cairn_raft_batch_free(&r);
}
