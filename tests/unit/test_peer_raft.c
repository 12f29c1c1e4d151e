/* Persistent writes on their way into raft (cairn_peer_raft.h): which writes are raft commands,
 * RAFT_SUBMIT wrapping (golden bytes; the unwrapped write encodes exactly as before), and the
 * RAFT_FORWARD / RAFT_FORWARD_ACK bodies: round trips, every truncation, garbage refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_peer_raft.h"
#include "cairn_requests.h"

static char *hex(const char *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", (unsigned char)b[i]);
    s[2 * n] = '\0';
    return s;
}

static void persistent_upsert(cairn_request *rq, bool ephemeral)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup("198.51.100.1");
    in.port = 8080;
    in.cluster = strdup("DEFAULT");
    in.ephemeral = ephemeral;
    cairn_status st;
    cairn_request_init(rq, CAIRN_MSG_INSTANCE_UPSERT);
    cr_assert_eq(cairn_request_instance_upsert(rq, "public", "DEFAULT_GROUP@@svc", &in,
                                               CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK, "%s", st.message);
    cairn_instance_free(&in);
}

Test(peer_raft, which_writes_are_raft_commands)
{
    cairn_request rq;
    persistent_upsert(&rq, false);
    cr_assert(cairn_raft_is_command(&rq));
    cairn_request_free(&rq);
    persistent_upsert(&rq, true);
    cr_assert_not(cairn_raft_is_command(&rq), "an ephemeral registration is Distro's");
    cairn_status st;
    cr_assert_eq(cairn_raft_submit_wrap(&rq, &st), CAIRN_E_INVALID);
    cr_assert_eq(rq.type, CAIRN_MSG_INSTANCE_UPSERT, "a refused wrap changed the request");
    cairn_request_free(&rq);
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_REMOVE);
    cr_assert_eq(cairn_request_service_remove(&rq, "public", "DEFAULT_GROUP@@s", &st), CAIRN_OK);
    cr_assert(cairn_raft_is_command(&rq));
    cairn_request_free(&rq);
    cairn_request_init(&rq, CAIRN_MSG_BEAT);
    cr_assert_not(cairn_raft_is_command(&rq));
    cairn_request_free(&rq);
    /* health of a persistent instance (a probe's flip, or by hand), not of an ephemeral one */
    cairn_request_init(&rq, CAIRN_MSG_INSTANCE_HEALTH);
    cr_assert_eq(cairn_request_instance_health(&rq, "public", "DEFAULT_GROUP@@s", "127.0.0.9", 80,
                                               "DEFAULT", false, false, CAIRN_HEALTH_BY_CHECKER,
                                               &st),
                 CAIRN_OK);
    cr_assert(cairn_raft_is_command(&rq));
    rq.instance.ephemeral = true;
    rq.mode = CAIRN_HEALTH_MANUAL;
    cr_assert_not(cairn_raft_is_command(&rq), "an ephemeral instance's health is Distro's");
    cairn_request_free(&rq);
}

/* The encoded RAFT_SUBMIT of a SERVICE_REMOVE of DEFAULT_GROUP@@s in public, held or not
 * (malloc'd into *out). */
static void remove_submit(bool held, char **out, size_t *len)
{
    cairn_request rq;
    cairn_status st;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_REMOVE);
    cr_assert_eq(cairn_request_service_remove(&rq, "public", "DEFAULT_GROUP@@s", &st), CAIRN_OK);
    rq.held = held;
    cr_assert_eq(cairn_raft_submit_wrap(&rq, &st), CAIRN_OK);
    cr_assert_eq(cairn_request_encode(&rq, out, len), CAIRN_OK);
    cairn_request_free(&rq);
}

Test(peer_raft, submit_golden_bytes)
{
    char *out;
    size_t len;
    remove_submit(false, &out, &len);
    char *h = hex(out, len);
    cr_assert_str_eq(h, "87" "a174" "37" "a176" "01" "a26e73" "a67075626c6963" "a3737663"
                        "b0" "44454641554c545f47524f55504040" "73" "a46d6f6465" "00"
                        "a46d61736b" "00" "a3636d64" "08");
    free(h);
    free(out);
}

/* held (cairn_request.held) is written only when set, so entries without it keep their bytes
 * (submit_golden_bytes), and it survives the wrap, the wire and the unwrap. */
Test(peer_raft, held_travels_with_the_submit_and_only_when_set)
{
    char *out;
    size_t len;
    remove_submit(true, &out, &len);
    char *h = hex(out, len);
    cr_assert_str_eq(h, "88" "a174" "37" "a176" "01" "a26e73" "a67075626c6963" "a3737663"
                        "b0" "44454641554c545f47524f55504040" "73" "a46d6f6465" "00"
                        "a46d61736b" "00" "a468656c64" "c3" "a3636d64" "08");
    free(h);
    cairn_request back;
    cairn_status st;
    cr_assert_eq(cairn_request_decode(out, len, &back, &st), CAIRN_OK, "%s", st.message);
    free(out);
    cr_assert_eq(cairn_raft_submit_unwrap(&back, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(back.type, CAIRN_MSG_SERVICE_REMOVE);
    cr_assert(back.held);
    cairn_request_free(&back);
}

Test(peer_raft, submit_round_trip_gives_the_write_back_byte_for_byte)
{
    cairn_request rq, back;
    cairn_status st;
    persistent_upsert(&rq, false);
    char *plain, *wrapped, *again;
    size_t plain_len, wrapped_len, again_len;
    cr_assert_eq(cairn_request_encode(&rq, &plain, &plain_len), CAIRN_OK);
    cr_assert_eq(cairn_raft_submit_wrap(&rq, &st), CAIRN_OK);
    cr_assert_eq(rq.type, CAIRN_MSG_RAFT_SUBMIT);
    cr_assert_eq(cairn_request_encode(&rq, &wrapped, &wrapped_len), CAIRN_OK);
    cr_assert_eq(cairn_request_decode(wrapped, wrapped_len, &back, &st), CAIRN_OK, "%s",
                 st.message);
    cr_assert_eq(back.cmd, CAIRN_MSG_INSTANCE_UPSERT);
    cr_assert_eq(cairn_raft_submit_unwrap(&back, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(cairn_request_encode(&back, &again, &again_len), CAIRN_OK);
    cr_assert_eq(again_len, plain_len);
    cr_assert_eq(memcmp(again, plain, plain_len), 0, "the raft entry differs from the write");
    for (size_t cut = 0; cut < wrapped_len; cut++) {
        cairn_request t;
        cr_assert_neq(cairn_request_decode(wrapped, cut, &t, &st), CAIRN_OK, "cut %zu", cut);
    }
    free(plain);
    free(wrapped);
    free(again);
    cairn_request_free(&rq);
    cairn_request_free(&back);
}

Test(peer_raft, unwrap_refuses_what_is_not_a_raft_command)
{
    cairn_request rq;
    cairn_status st;
    persistent_upsert(&rq, true); /* ephemeral */
    rq.cmd = CAIRN_MSG_INSTANCE_UPSERT;
    rq.type = CAIRN_MSG_RAFT_SUBMIT;
    cr_assert_eq(cairn_raft_submit_unwrap(&rq, &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "ephemeral"), "%s", st.message);
    cr_assert_eq(rq.type, CAIRN_MSG_RAFT_SUBMIT);
    rq.cmd = CAIRN_MSG_BEAT;
    rq.instance.ephemeral = false;
    cr_assert_eq(cairn_raft_submit_unwrap(&rq, &st), CAIRN_E_INVALID);
    rq.cmd = CAIRN_MSG_SERVICE_PUT; /* without a service definition */
    cr_assert_eq(cairn_raft_submit_unwrap(&rq, &st), CAIRN_E_INVALID);
    rq.type = CAIRN_MSG_INSTANCE_UPSERT;
    cr_assert_eq(cairn_raft_submit_unwrap(&rq, &st), CAIRN_E_INVALID, "not a RAFT_SUBMIT");
    cairn_request_free(&rq);
    /* a cmd beyond the message types does not decode */
    const char bad[] = "\x84\xa1t\x37\xa1v\x01\xa2ns\xa1p\xa3" "cmd\xcc\xff";
    cr_assert_eq(cairn_request_decode(bad, sizeof bad - 1, &rq, &st), CAIRN_E_DECODE);
}

Test(peer_raft, forward_round_trip_truncations_and_garbage)
{
    char cmd[] = "\x81\xa1t\x02"; /* any bytes: the leader decodes them itself */
    char cmd2[] = "\x81\xa1t\x03";
    cairn_peer_raft_forward f = {.count = 1, .cmds = {cmd}, .lens = {sizeof cmd - 1},
                                 .budgets_ms = {2500}},
                            g;
    char *out;
    size_t len;
    cr_assert_eq(cairn_peer_raft_forward_encode(&f, &out, &len), CAIRN_OK);
    char *h = hex(out, len);
    cr_assert_str_eq(h, "82" "a4636d6473" "91" "c404" "81a17402" "a7627564676574" "73" "91"
                        "cd09c4");
    free(h);
    cairn_status st;
    cr_assert_eq(cairn_peer_raft_forward_decode(out, len, &g, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.lens[0], f.lens[0]);
    cr_assert_eq(memcmp(g.cmds[0], cmd, f.lens[0]), 0);
    cr_assert_eq(g.budgets_ms[0], 2500);
    cairn_peer_raft_forward_free(&g);
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_neq(cairn_peer_raft_forward_decode(out, cut, &g, &st), CAIRN_OK);
        cr_assert(g.count == 0 && !g.cmds[0], "a refused forward left a command behind");
    }
    free(out);
    /* several commands keep their order */
    cairn_peer_raft_forward two = {.count = 2, .cmds = {cmd, cmd2},
                                   .lens = {sizeof cmd - 1, sizeof cmd2 - 1},
                                   .budgets_ms = {7, 3000}};
    cr_assert_eq(cairn_peer_raft_forward_encode(&two, &out, &len), CAIRN_OK);
    cr_assert_eq(cairn_peer_raft_forward_decode(out, len, &g, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(g.count, 2);
    cr_assert_eq(memcmp(g.cmds[1], cmd2, g.lens[1]), 0);
    cr_assert(g.budgets_ms[0] == 7 && g.budgets_ms[1] == 3000, "each command keeps its budget");
    cairn_peer_raft_forward_free(&g);
    free(out);
    /* what the encoder refuses: no command, an empty one, more than the maximum */
    cairn_peer_raft_forward none = {.count = 0};
    cr_assert_eq(cairn_peer_raft_forward_encode(&none, &out, &len), CAIRN_E_INVALID);
    cairn_peer_raft_forward empty = {.count = 1, .cmds = {cmd}, .lens = {0}};
    cr_assert_eq(cairn_peer_raft_forward_encode(&empty, &out, &len), CAIRN_E_INVALID);
    cairn_peer_raft_forward many = {.count = CAIRN_RAFT_FORWARD_MAX + 1};
    cr_assert_eq(cairn_peer_raft_forward_encode(&many, &out, &len), CAIRN_E_INVALID);
    cairn_peer_raft_forward late = {.count = 1, .cmds = {cmd}, .lens = {4},
                                    .budgets_ms = {CAIRN_RAFT_BUDGET_MAX + 1}};
    cr_assert_eq(cairn_peer_raft_forward_encode(&late, &out, &len), CAIRN_E_INVALID);
    /* a command a str, not a bin */
    const char str[] = "\x82\xa4" "cmds\x91\xa1x\xa7" "budgets\x91\x01";
    cr_assert_eq(cairn_peer_raft_forward_decode(str, sizeof str - 1, &g, &st), CAIRN_E_DECODE);
    /* an empty bin after a good one: the good one is freed */
    const char zero[] = "\x82\xa4" "cmds\x92\xc4\x01x\xc4\x00\xa7" "budgets\x92\x01\x01";
    cr_assert_eq(cairn_peer_raft_forward_decode(zero, sizeof zero - 1, &g, &st),
                 CAIRN_E_DECODE);
    cr_assert(g.count == 0 && !g.cmds[0]);
    /* no commands */
    const char noc[] = "\x82\xa4" "cmds\x90\xa7" "budgets\x91\x01";
    cr_assert_eq(cairn_peer_raft_forward_decode(noc, sizeof noc - 1, &g, &st), CAIRN_E_DECODE);
    /* the budgets missing; fewer budgets than commands; one over the maximum */
    const char nobudget[] = "\x81\xa4" "cmds\x91\xc4\x01x";
    cr_assert_eq(cairn_peer_raft_forward_decode(nobudget, sizeof nobudget - 1, &g, &st),
                 CAIRN_E_DECODE);
    const char fewer[] = "\x82\xa4" "cmds\x92\xc4\x01x\xc4\x01y\xa7" "budgets\x91\x01";
    cr_assert_eq(cairn_peer_raft_forward_decode(fewer, sizeof fewer - 1, &g, &st),
                 CAIRN_E_DECODE);
    cr_assert(g.count == 0 && !g.cmds[0], "a refused forward left a command behind");
    const char over[] = "\x82\xa4" "cmds\x91\xc4\x01x\xa7" "budgets\x91\xce\x00\x36\xee\x81";
    cr_assert_eq(cairn_peer_raft_forward_decode(over, sizeof over - 1, &g, &st),
                 CAIRN_E_DECODE);
    /* a bin32 header claiming 4 GiB in a few bytes */
    const char huge[] = "\x82\xa4" "cmds\x91\xc6\xff\xff\xff\xff";
    cr_assert_eq(cairn_peer_raft_forward_decode(huge, sizeof huge - 1, &g, &st),
                 CAIRN_E_DECODE);
    /* more commands than a forward may carry: 65 one-byte bins and 65 budgets (array16s) */
    char many_cmds[9 + 65 * 3 + 11 + 65];
    for (int n = 65; n >= 64; n--) {
        size_t o = 0;
        memcpy(many_cmds, "\x82\xa4" "cmds\xdc\x00", 8);
        o = 8;
        many_cmds[o++] = (char)n;
        for (int i = 0; i < n; i++) {
            memcpy(many_cmds + o, "\xc4\x01x", 3);
            o += 3;
        }
        memcpy(many_cmds + o, "\xa7" "budgets\xdc\x00", 10);
        o += 10;
        many_cmds[o++] = (char)n;
        memset(many_cmds + o, 0x05, (size_t)n);
        o += (size_t)n;
        cairn_err want = n == 65 ? CAIRN_E_DECODE : CAIRN_OK; /* 64 of them fit */
        cr_assert_eq(cairn_peer_raft_forward_decode(many_cmds, o, &g, &st), want, "%d: %s", n,
                     st.message);
    }
    cr_assert_eq(g.count, 64);
    cr_assert_eq(g.budgets_ms[63], 5);
    cairn_peer_raft_forward_free(&g);
}

/* acks of one command (a) as a RAFT_FORWARD_ACK body decoded into *out. */
static cairn_err one_ack_round_trip(const cairn_peer_raft_ack *a, cairn_peer_raft_acks *out)
{
    cairn_peer_raft_acks in = {.count = 1};
    in.acks[0] = *a;
    char *buf;
    size_t len;
    cairn_err err = cairn_peer_raft_acks_encode(&in, &buf, &len);
    cairn_status st;
    if (err == CAIRN_OK) {
        err = cairn_peer_raft_acks_decode(buf, len, out, &st);
        free(buf);
    }
    return err;
}

Test(peer_raft, ack_round_trip_truncations_and_garbage)
{
    cairn_peer_raft_acks a = {.count = 2}, b;
    a.acks[0] = (cairn_peer_raft_ack){.status = CAIRN_RAFT_FWD_COMMITTED,
                                      .code = CAIRN_E_INVALID, .index = 42};
    snprintf(a.acks[0].msg, sizeof a.acks[0].msg, "service s not found!");
    a.acks[1] = (cairn_peer_raft_ack){.status = CAIRN_RAFT_FWD_NOT_LEADER};
    snprintf(a.acks[1].leader, sizeof a.acks[1].leader, "127.0.0.2:8848");
    char *out;
    size_t len;
    cr_assert_eq(cairn_peer_raft_acks_encode(&a, &out, &len), CAIRN_OK);
    cairn_status st;
    cr_assert_eq(cairn_peer_raft_acks_decode(out, len, &b, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    cr_assert_str_eq(b.acks[1].leader, "127.0.0.2:8848");
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(cairn_peer_raft_acks_decode(out, cut, &b, &st), CAIRN_OK);
    free(out);
    /* the encoder refuses no acks, a status or a code out of range */
    cairn_peer_raft_acks none = {.count = 0};
    cr_assert_eq(cairn_peer_raft_acks_encode(&none, &out, &len), CAIRN_E_INVALID);
    cairn_peer_raft_ack bad = {.status = CAIRN_RAFT_FWD__COUNT};
    cr_assert_eq(one_ack_round_trip(&bad, &b), CAIRN_E_INVALID);
    /* committed without an index does not decode */
    cairn_peer_raft_ack noidx = {.status = CAIRN_RAFT_FWD_COMMITTED};
    cr_assert_eq(one_ack_round_trip(&noidx, &b), CAIRN_E_DECODE);
    /* {}: the acks are required; an empty array; an ack without a status */
    cr_assert_eq(cairn_peer_raft_acks_decode("\x80", 1, &b, &st), CAIRN_E_DECODE);
    const char empty[] = "\x81\xa4" "acks\x90";
    cr_assert_eq(cairn_peer_raft_acks_decode(empty, sizeof empty - 1, &b, &st),
                 CAIRN_E_DECODE);
    const char nostatus[] = "\x81\xa4" "acks\x91\x80";
    cr_assert_eq(cairn_peer_raft_acks_decode(nostatus, sizeof nostatus - 1, &b, &st),
                 CAIRN_E_DECODE);
    /* a status beyond the known ones; a code beyond cairn_err */
    const char st9[] = "\x81\xa4" "acks\x91\x81\xa6" "status\x09";
    cr_assert_eq(cairn_peer_raft_acks_decode(st9, sizeof st9 - 1, &b, &st), CAIRN_E_DECODE);
    const char code[] = "\x81\xa4" "acks\x91\x82\xa6" "status\x03\xa4" "code\xcc\xff";
    cr_assert_eq(cairn_peer_raft_acks_decode(code, sizeof code - 1, &b, &st), CAIRN_E_DECODE);
    /* a leader longer than an identity (a str16 of 300 bytes) */
    char big[400];
    memcpy(big, "\x81\xa4" "acks\x91\x82\xa6" "status\x01\xa6" "leader\xda\x01\x2c", 26);
    memset(big + 26, 'a', 300);
    cr_assert_eq(cairn_peer_raft_acks_decode(big, 26 + 300, &b, &st), CAIRN_E_DECODE);
    big[24] = 0x00; /* 44 bytes: fits */
    big[25] = 0x2c;
    cr_assert_eq(cairn_peer_raft_acks_decode(big, 26 + 44, &b, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(strlen(b.acks[0].leader), 44);
    /* not a map; acks not an array */
    cr_assert_eq(cairn_peer_raft_acks_decode("\x93\x01\x02\x03", 4, &b, &st), CAIRN_E_DECODE);
    const char notarr[] = "\x81\xa4" "acks\x01";
    cr_assert_eq(cairn_peer_raft_acks_decode(notarr, sizeof notarr - 1, &b, &st),
                 CAIRN_E_DECODE);
}

Test(peer_raft, random_bytes_never_decode_into_something_held)
{
    srand(7);
    char buf[64];
    cairn_status st;
    for (int i = 0; i < 5000; i++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)rand();
        cairn_peer_raft_forward f;
        if (cairn_peer_raft_forward_decode(buf, n, &f, &st) == CAIRN_OK)
            cairn_peer_raft_forward_free(&f);
        else
            cr_assert(f.count == 0 && !f.cmds[0]);
        cairn_peer_raft_acks a;
        (void)cairn_peer_raft_acks_decode(buf, n, &a, &st);
        cairn_request rq;
        if (cairn_request_decode(buf, n, &rq, &st) == CAIRN_OK)
            cairn_request_free(&rq);
    }
}
