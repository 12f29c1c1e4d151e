/* The raft FSM on libraft's deterministic fixture (simulated network, disk and time): entries
 * commit and apply on every server with the same result, a rejection is a result and never
 * stalls the log, the entry index inside apply is raft_last_applied() + 1, a killed leader is
 * replaced, and a node with an empty raft dir catches up by snapshot and emits PERSIST_REPLACE. */
#include <criterion/criterion.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "raft_fsm.h"

#define N 3
#define SVC "DEFAULT_GROUP@@orders"

typedef struct emitted {
    unsigned batches, replaces;
    uint64_t first, last;
    size_t records;
} emitted;

static struct raft_fixture f;
static cairn_raft_fsm *fsm[N];
static emitted em[N];

typedef struct applied {
    bool done;
    int status;
    uint64_t req_index;
    cairn_raft_result result;
} applied;

static void on_emit(void *arg, cairn_raft_batch *b)
{
    emitted *e = arg;
    if (b->replace) {
        e->replaces++;
    } else {
        if (!e->batches)
            e->first = b->first;
        e->batches++;
    }
    e->last = b->last;
    e->records += b->count;
}

static void start_fixture(unsigned bootstrapped)
{
    cr_assert_eq(raft_fixture_initialize(&f), 0);
    for (unsigned i = 0; i < N; i++) {
        cairn_raft_fsm_options o = {.limits = {{16384}, 1000}, .emit = on_emit, .emit_arg = &em[i]};
        fsm[i] = cairn_raft_fsm_new(&o);
        cr_assert_eq(raft_fixture_grow(&f, cairn_raft_fsm_raft(fsm[i])), 0);
        struct raft *r = raft_fixture_get(&f, i);
        cairn_raft_fsm_bind(fsm[i], r);
        raft_set_snapshot_threshold(r, 4);
        raft_set_snapshot_trailing(r, 2);
        raft_set_pre_vote(r, true);
    }
    struct raft_configuration conf;
    cr_assert_eq(raft_fixture_configuration(&f, N, &conf), 0);
    for (unsigned i = 0; i < bootstrapped; i++)
        cr_assert_eq(raft_bootstrap(raft_fixture_get(&f, i), &conf), 0);
    raft_configuration_close(&conf);
    cr_assert_eq(raft_fixture_start(&f), 0);
}

static void teardown(void)
{
    raft_fixture_close(&f);
    for (unsigned i = 0; i < N; i++)
        cairn_raft_fsm_free(fsm[i]);
    memset(em, 0, sizeof em);
}

TestSuite(raft_fixture, .fini = teardown);

static void on_applied(struct raft_apply *req, int status, void *result)
{
    applied *a = req->data;
    a->done = true;
    a->status = status;
    a->req_index = req->index;
    if (status == 0)
        a->result = *(const cairn_raft_result *)result;
}

static struct raft *leader(void)
{
    cr_assert(raft_fixture_step_until_has_leader(&f, 10000));
    return raft_fixture_get(&f, raft_fixture_leader_index(&f));
}

/* Appends an entry on the leader and steps until every live server applied it. */
static void submit_bytes(const void *bytes, size_t len, applied *a)
{
    static struct raft_apply req;
    memset(a, 0, sizeof *a);
    memset(&req, 0, sizeof req);
    req.data = a;
    struct raft_buffer buf;
    cr_assert_eq(cairn_raft_entry_encode(bytes, len, &buf), 0);
    cr_assert_eq(raft_apply(leader(), &req, &buf, 1, on_applied), 0);
    for (unsigned i = 0; i < N; i++)
        if (raft_fixture_alive(&f, i))
            cr_assert(raft_fixture_step_until_applied(&f, i, req.index, 10000), "server %u", i);
    cr_assert(a->done);
    cr_assert_eq(a->status, 0);
    for (unsigned i = 0; i < N; i++)
        cairn_raft_fsm_flush(fsm[i]);
}

/* A persistent registration as the gateway encodes it (malloc'd). */
static size_t encode_upsert(const char *ip, int port, uint32_t mode, char **buf)
{
    cairn_request r;
    cairn_request_init(&r, CAIRN_MSG_INSTANCE_UPSERT);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    r.has_instance = true;
    cairn_instance_init(&r.instance);
    r.instance.ip = strdup(ip);
    r.instance.port = port;
    r.instance.ephemeral = false;
    r.mode = mode;
    size_t len;
    cr_assert_eq(cairn_request_encode(&r, buf, &len), CAIRN_OK);
    cairn_request_free(&r);
    return len;
}

static void submit_upsert(const char *ip, int port, uint32_t mode, applied *a)
{
    char *buf;
    size_t len = encode_upsert(ip, port, mode, &buf);
    submit_bytes(buf, len, a);
    free(buf);
}

static uint64_t instances(unsigned i)
{
    return cairn_raft_fsm_state(fsm[i])->instance_count;
}

Test(raft_fixture, commits_on_every_server_and_index_is_last_applied_plus_one)
{
    start_fixture(N);
    applied a;
    submit_upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, &a);
    cr_assert_eq(a.result.status.code, CAIRN_OK, "%s", a.result.status.message);
    /* the index the FSM saw inside apply is the entry's own (raft_apply set req.index) */
    cr_assert_eq(a.result.index, a.req_index);
    for (unsigned i = 0; i < N; i++) {
        cr_assert_eq(instances(i), 1, "server %u", i);
        cr_assert_eq(cairn_raft_fsm_applied(fsm[i]), a.req_index);
        cr_assert_eq(em[i].last, a.req_index);
        cr_assert_eq(em[i].records, 2); /* the implicit service and the instance */
    }
}

Test(raft_fixture, rejection_is_the_result_everywhere_and_the_log_goes_on)
{
    start_fixture(N);
    applied a;
    submit_upsert("127.9.0.1", 8080, CAIRN_UPSERT_MUST_EXIST, &a);
    cr_assert_eq(a.result.status.code, CAIRN_E_INVALID);
    cr_assert(strstr(a.result.status.message, "service not found"));
    submit_bytes("\x93garbage", 8, &a); /* not a message at all */
    cr_assert_eq(a.result.status.code, CAIRN_E_DECODE);
    submit_upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, &a);
    cr_assert_eq(a.result.status.code, CAIRN_OK);
    for (unsigned i = 0; i < N; i++) {
        cr_assert_eq(instances(i), 1);
        cr_assert_eq(cairn_raft_fsm_stats_get(fsm[i]).rejected, 2);
        cr_assert_eq(em[i].last, a.req_index); /* rejected entries advance the watermark too */
    }
}

/* A batch entry: its commands applied in order on every server, each with its own verdict
 * (one refused among them changes nothing for the others), all at the entry's index. */
Test(raft_fixture, batch_entry_applies_each_command_with_its_own_verdict)
{
    start_fixture(N);
    char *cmds[3];
    size_t lens[3];
    lens[0] = encode_upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, &cmds[0]);
    lens[1] = encode_upsert("127.9.0.2", 8080, CAIRN_UPSERT_MUST_EXIST, &cmds[1]);
    lens[2] = encode_upsert("127.9.0.3", 8080, CAIRN_UPSERT_REGISTER, &cmds[2]);
    static struct raft_apply req;
    applied a;
    memset(&a, 0, sizeof a);
    memset(&req, 0, sizeof req);
    req.data = &a;
    struct raft_buffer buf;
    cr_assert_eq(cairn_raft_entry_encode_batch((const void *const *)cmds, lens, 3, &buf), 0);
    cr_assert_eq(buf.len % 8, 0);
    cr_assert_eq(raft_apply(leader(), &req, &buf, 1, on_applied), 0);
    for (unsigned i = 0; i < N; i++)
        cr_assert(raft_fixture_step_until_applied(&f, i, req.index, 10000), "server %u", i);
    cr_assert(a.done);
    cr_assert_eq(a.status, 0);
    cr_assert_eq(a.result.index, a.req_index);
    cr_assert_eq(a.result.count, 3);
    cr_assert_eq(a.result.statuses[0].code, CAIRN_OK, "%s", a.result.statuses[0].message);
    cr_assert_eq(a.result.statuses[1].code, CAIRN_E_INVALID);
    cr_assert(strstr(a.result.statuses[1].message, "instance not exist"), "%s",
              a.result.statuses[1].message);
    cr_assert_eq(a.result.statuses[2].code, CAIRN_OK, "%s", a.result.statuses[2].message);
    for (unsigned i = 0; i < N; i++) {
        cairn_raft_fsm_flush(fsm[i]);
        cr_assert_eq(instances(i), 2, "server %u", i);
        cr_assert_eq(cairn_raft_fsm_stats_get(fsm[i]).rejected, 1);
        cr_assert_eq(em[i].last, a.req_index);
        cr_assert_eq(em[i].records, 3); /* the implicit service and two instances */
    }
    for (int k = 0; k < 3; k++)
        free(cmds[k]);
}

Test(raft_fixture, killed_leader_is_replaced_and_writes_go_on)
{
    start_fixture(N);
    applied a;
    submit_upsert("127.9.0.1", 8080, CAIRN_UPSERT_REGISTER, &a);
    unsigned old = raft_fixture_leader_index(&f);
    raft_fixture_kill(&f, old);
    cr_assert(raft_fixture_step_until_has_no_leader(&f, 10000));
    cr_assert(raft_fixture_step_until_has_leader(&f, 10000));
    cr_assert_neq(raft_fixture_leader_index(&f), old);
    submit_upsert("127.9.0.2", 8080, CAIRN_UPSERT_REGISTER, &a);
    cr_assert_eq(a.result.status.code, CAIRN_OK);
    for (unsigned i = 0; i < N; i++)
        if (i != old)
            cr_assert_eq(instances(i), 2, "server %u", i);
}

Test(raft_fixture, empty_node_catches_up_by_snapshot_and_replaces)
{
    /* Server 2 starts with an empty raft dir and no configuration, cut off from the others; it
     * never votes, so 0 and 1 elect a leader, and their log is compacted past its reach. */
    start_fixture(2);
    raft_fixture_disconnect(&f, 0, 2);
    raft_fixture_disconnect(&f, 1, 2);
    applied a;
    char ip[32];
    for (int k = 0; k < 12; k++) {
        snprintf(ip, sizeof ip, "127.9.0.%d", k + 1);
        cr_assert(raft_fixture_step_until_has_leader(&f, 10000));
        static struct raft_apply req;
        char *buf;
        size_t len = encode_upsert(ip, 1, CAIRN_UPSERT_REGISTER, &buf);
        struct raft_buffer rb;
        cr_assert_eq(cairn_raft_entry_encode(buf, len, &rb), 0);
        free(buf);
        memset(&req, 0, sizeof req);
        req.data = &a;
        cr_assert_eq(raft_apply(leader(), &req, &rb, 1, on_applied), 0);
        cr_assert(raft_fixture_step_until_applied(&f, raft_fixture_leader_index(&f), req.index,
                                                  10000));
    }
    unsigned l = raft_fixture_leader_index(&f);
    cr_assert_geq(cairn_raft_fsm_stats_get(fsm[l]).snapshots, 1);
    cr_assert_eq(instances(2), 0);
    raft_fixture_reconnect(&f, 0, 2);
    raft_fixture_reconnect(&f, 1, 2);
    cr_assert(raft_fixture_step_until_applied(&f, 2, cairn_raft_fsm_applied(fsm[l]), 20000));
    cr_assert_eq(cairn_raft_fsm_stats_get(fsm[2]).restores, 1);
    cr_assert_eq(instances(2), 12);
    cairn_raft_fsm_flush(fsm[2]);
    cr_assert_eq(em[2].replaces, 1);
    /* the replacement (the service and the instances as of the snapshot), then what followed */
    cr_assert_geq(em[2].records, 13);
    cr_assert_eq(em[2].last, cairn_raft_fsm_applied(fsm[l]));
}
