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
    cairn_peer_raft_forward f = {.cmd = cmd, .cmd_len = sizeof cmd - 1, .budget_ms = 2500}, g;
    char *out;
    size_t len;
    cr_assert_eq(cairn_peer_raft_forward_encode(&f, &out, &len), CAIRN_OK);
    char *h = hex(out, len);
    cr_assert_str_eq(h, "82" "a3636d64" "c404" "81a17402" "a6627564676574" "cd09c4");
    free(h);
    cairn_status st;
    cr_assert_eq(cairn_peer_raft_forward_decode(out, len, &g, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(g.cmd_len, f.cmd_len);
    cr_assert_eq(memcmp(g.cmd, cmd, f.cmd_len), 0);
    cr_assert_eq(g.budget_ms, 2500);
    cairn_peer_raft_forward_free(&g);
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_neq(cairn_peer_raft_forward_decode(out, cut, &g, &st), CAIRN_OK);
        cr_assert_null(g.cmd, "a refused forward left a command behind");
    }
    free(out);
    cairn_peer_raft_forward empty = {.cmd = cmd, .cmd_len = 0};
    cr_assert_eq(cairn_peer_raft_forward_encode(&empty, &out, &len), CAIRN_E_INVALID);
    /* cmd a str, not a bin */
    const char str[] = "\x82\xa3" "cmd\xa1x\xa6" "budget\x01";
    cr_assert_eq(cairn_peer_raft_forward_decode(str, sizeof str - 1, &g, &st), CAIRN_E_DECODE);
    /* an empty bin */
    const char zero[] = "\x82\xa3" "cmd\xc4\x00\xa6" "budget\x01";
    cr_assert_eq(cairn_peer_raft_forward_decode(zero, sizeof zero - 1, &g, &st),
                 CAIRN_E_DECODE);
    /* the budget missing */
    const char nobudget[] = "\x81\xa3" "cmd\xc4\x01x";
    cr_assert_eq(cairn_peer_raft_forward_decode(nobudget, sizeof nobudget - 1, &g, &st),
                 CAIRN_E_DECODE);
    /* a bin32 header claiming 4 GiB in a few bytes */
    const char huge[] = "\x82\xa3" "cmd\xc6\xff\xff\xff\xff";
    cr_assert_eq(cairn_peer_raft_forward_decode(huge, sizeof huge - 1, &g, &st),
                 CAIRN_E_DECODE);
}

Test(peer_raft, ack_round_trip_truncations_and_garbage)
{
    cairn_peer_raft_ack a = {.status = CAIRN_RAFT_FWD_COMMITTED, .code = CAIRN_E_INVALID,
                             .index = 42},
                        b;
    snprintf(a.msg, sizeof a.msg, "service s not found!");
    char *out;
    size_t len;
    cr_assert_eq(cairn_peer_raft_ack_encode(&a, &out, &len), CAIRN_OK);
    cairn_status st;
    cr_assert_eq(cairn_peer_raft_ack_decode(out, len, &b, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(cairn_peer_raft_ack_decode(out, cut, &b, &st), CAIRN_OK);
    free(out);
    cairn_peer_raft_ack nl = {.status = CAIRN_RAFT_FWD_NOT_LEADER};
    snprintf(nl.leader, sizeof nl.leader, "127.0.0.2:8848");
    cr_assert_eq(cairn_peer_raft_ack_encode(&nl, &out, &len), CAIRN_OK);
    cr_assert_eq(cairn_peer_raft_ack_decode(out, len, &b, &st), CAIRN_OK);
    cr_assert_str_eq(b.leader, "127.0.0.2:8848");
    free(out);
    /* {}: the status is required */
    cr_assert_eq(cairn_peer_raft_ack_decode("\x80", 1, &b, &st), CAIRN_E_DECODE);
    /* a status beyond the known ones */
    const char st9[] = "\x81\xa6" "status\x09";
    cr_assert_eq(cairn_peer_raft_ack_decode(st9, sizeof st9 - 1, &b, &st), CAIRN_E_DECODE);
    /* committed without an index */
    const char noidx[] = "\x81\xa6" "status\x00";
    cr_assert_eq(cairn_peer_raft_ack_decode(noidx, sizeof noidx - 1, &b, &st), CAIRN_E_DECODE);
    /* a code beyond cairn_err */
    const char code[] = "\x82\xa6" "status\x03\xa4" "code\xcc\xff";
    cr_assert_eq(cairn_peer_raft_ack_decode(code, sizeof code - 1, &b, &st), CAIRN_E_DECODE);
    /* a leader longer than an identity (a str16 of 300 bytes) */
    char big[400];
    memcpy(big, "\x82\xa6" "status\x01\xa6" "leader\xda\x01\x2c", 19);
    memset(big + 19, 'a', 300);
    cr_assert_eq(cairn_peer_raft_ack_decode(big, 19 + 300, &b, &st), CAIRN_E_DECODE);
    big[17] = 0x00; /* 44 bytes: fits */
    big[18] = 0x2c;
    cr_assert_eq(cairn_peer_raft_ack_decode(big, 19 + 44, &b, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(strlen(b.leader), 44);
    /* not a map */
    cr_assert_eq(cairn_peer_raft_ack_decode("\x93\x01\x02\x03", 4, &b, &st), CAIRN_E_DECODE);
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
            cr_assert_null(f.cmd);
        cairn_peer_raft_ack a;
        (void)cairn_peer_raft_ack_decode(buf, n, &a, &st);
        cairn_request rq;
        if (cairn_request_decode(buf, n, &rq, &st) == CAIRN_OK)
            cairn_request_free(&rq);
    }
}
