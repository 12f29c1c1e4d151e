/* MEMBERS_GET and MEMBERSHIP (cairn_msg.h, types 40-49): golden bytes, the reply that carries a
 * MEMBERSHIP, truncation and mutation sweeps, and malformed input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"

static char *hex(const char *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", (unsigned char)b[i]);
    s[2 * n] = '\0';
    return s;
}

static char *owners[] = {"a:1"};
static cairn_member_info members[] = {
    {"a:1", CAIRN_MEMBER_UP, true, true, true, 0, "a:2", "a:3", 5, "none", 0, "", 0, 7, 8}};
static const cairn_membership SAMPLE = {2, "a:1", true, owners, 1, members, 1};

/* {t:41, v:1, view:2, self:"a:1", ready:true, owners:["a:1"], members:[{id:"a:1", state:3,
 * self:true, ready:true, match:true, fails:0, peer:"a:2", raft:"a:3", refresh:5, rrole:"none",
 * rterm:0, rlead:"", rapplied:0, rid:7, vhash:8}]} */
static const char GOLDEN[] =
    "87a17429a17601a47669657702a473656c66a3613a31a57265616479c3a66f776e65727391a3613a31a76d656d62"
    "657273918fa26964a3613a31a5737461746503a473656c66c3a57265616479c3a56d61746368c3a56661696c7300"
    "a470656572a3613a32a472616674a3613a33a77265667265736805a572726f6c65a46e6f6e65a5727465726d00a5"
    "726c656164a0a8726170706c69656400a372696407a5766861736808";
/* The same member without vhash, as a replicator of an earlier version sends it. */
static const char GOLDEN_WITHOUT_VHASH[] =
    "87a17429a17601a47669657702a473656c66a3613a31a57265616479c3a66f776e65727391a3613a31a76d656d62"
    "657273918ea26964a3613a31a5737461746503a473656c66c3a57265616479c3a56d61746368c3a56661696c7300"
    "a470656572a3613a32a472616674a3613a33a77265667265736805a572726f6c65a46e6f6e65a5727465726d00a5"
    "726c656164a0a8726170706c69656400a372696407";

static size_t unhex(const char *h, char *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

Test(membership, a_member_without_vhash_decodes_with_0)
{
    char buf[sizeof GOLDEN_WITHOUT_VHASH / 2];
    size_t len = unhex(GOLDEN_WITHOUT_VHASH, buf);
    cairn_membership m;
    cairn_status st;
    cr_assert_eq(cairn_membership_decode(buf, len, &m, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(m.members[0].raft_id, 7);
    cr_expect_eq(m.members[0].view_hash, 0);
    cairn_membership_free(&m);
}

Test(membership, golden_bytes)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_membership_encode(&SAMPLE, &buf, &len), CAIRN_OK);
    char *h = hex(buf, len);
    cr_expect_str_eq(h, GOLDEN);
    free(h);
    free(buf);
    cairn_request rq;
    cairn_request_members_get(&rq);
    cr_assert_eq(cairn_request_encode(&rq, &buf, &len), CAIRN_OK);
    h = hex(buf, len);
    cr_expect_str_eq(h, "82a17428a17601"); /* {t:40, v:1} */
    free(h);
    free(buf);
}

Test(membership, reply_carries_a_membership)
{
    cairn_reply rep;
    cairn_reply_init(&rep);
    cr_assert_eq(cairn_membership_encode(&SAMPLE, &rep.membership_msg, &rep.membership_len),
                 CAIRN_OK);
    char *buf;
    size_t len;
    cr_assert_eq(cairn_reply_encode(&rep, &buf, &len), CAIRN_OK);
    cairn_reply got;
    cairn_status st;
    cr_assert_eq(cairn_reply_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(got.membership_len, rep.membership_len);
    cr_assert_eq(memcmp(got.membership_msg, rep.membership_msg, rep.membership_len), 0);
    cairn_membership m;
    cr_assert_eq(cairn_membership_decode(got.membership_msg, got.membership_len, &m, &st),
                 CAIRN_OK);
    cr_expect_str_eq(m.self, "a:1");
    cr_expect_eq(m.members[0].state, CAIRN_MEMBER_UP);
    cr_expect_eq(m.members[0].raft_id, 7);
    cairn_membership_free(&m);
    cairn_reply_free(&got);
    cairn_reply_free(&rep);
    free(buf);
}

Test(membership, truncation_and_mutation_sweeps)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_membership_encode(&SAMPLE, &buf, &len), CAIRN_OK);
    cairn_membership m;
    cairn_status st;
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_neq(cairn_membership_decode(buf, cut, &m, &st), CAIRN_OK, "cut %zu", cut);
        cr_assert_null(m.members);
        cr_assert_null(m.self);
    }
    char *copy = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, buf, len);
            copy[i] ^= (char)(1 << bit);
            if (cairn_membership_decode(copy, len, &m, &st) == CAIRN_OK)
                cairn_membership_free(&m); /* some flips are still valid; none may crash */
        }
    memcpy(copy, buf, len);
    copy[len] = 0;
    cr_assert_neq(cairn_membership_decode(copy, len + 1, &m, &st), CAIRN_OK);
    free(copy);
    free(buf);
    /* a huge announced array, the wrong type, a bad state */
    cr_assert_neq(cairn_membership_decode("\xdd\xff\xff\xff\xff", 5, &m, &st), CAIRN_OK);
    cairn_member_info bad = members[0];
    bad.state = (cairn_member_state)9;
    cairn_membership wrong = SAMPLE;
    wrong.members = &bad;
    cr_assert_eq(cairn_membership_encode(&wrong, &buf, &len), CAIRN_E_INVALID);
    wrong.members = members;
    wrong.self = NULL;
    cr_assert_eq(cairn_membership_encode(&wrong, &buf, &len), CAIRN_E_INVALID);
    cr_expect_str_eq(cairn_member_state_name(CAIRN_MEMBER_SUSPICIOUS), "SUSPICIOUS");
}
