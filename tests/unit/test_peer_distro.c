/* DISTRO_SYNC and DISTRO_SYNC_ACK bodies (cairn_peer_distro.h): golden bytes of the ack, the
 * sync body is exactly a DISTRO_APPLY request, and every rejection rule. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_peer_distro.h"

static char *hex(const char *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", (unsigned char)b[i]);
    s[2 * n] = '\0';
    return s;
}

static cairn_distro_state tombstone(const char *svc, uint64_t epoch, uint64_t seq)
{
    cairn_distro_state s = {.namespace_id = "public", .service = (char *)svc,
                            .version = {.epoch = epoch, .seq = seq, .origin = ""}};
    return s;
}

Test(peer_distro, ack_golden_bytes_and_round_trip)
{
    cairn_peer_sync_ack a = {.code = 0, .applied = 3, .stale = 1, .rejected = 0}, b;
    char *out;
    size_t len;
    cr_assert_eq(cairn_peer_sync_ack_encode(&a, &out, &len), CAIRN_OK);
    char *h = hex(out, len);
    cr_assert_str_eq(h, "84" "a4636f6465" "00" "a76170706c696564" "03" "a57374616c65" "01"
                        "a872656a6563746564" "00");
    free(h);
    cairn_status st;
    cr_assert_eq(cairn_peer_sync_ack_decode(out, len, &b, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(cairn_peer_sync_ack_decode(out, cut, &b, &st), CAIRN_OK);
    free(out);
}

Test(peer_distro, ack_rejections)
{
    cairn_peer_sync_ack b;
    cairn_status st;
    /* {} : the code is required */
    cr_assert_eq(cairn_peer_sync_ack_decode("\x80", 1, &b, &st), CAIRN_E_DECODE);
    /* {"code": 0, "applied": 513}: more than a batch can hold */
    const char big[] = "\x82\xa4" "code" "\x00\xa7" "applied" "\xcd\x02\x01";
    cr_assert_eq(cairn_peer_sync_ack_decode(big, sizeof big - 1, &b, &st), CAIRN_E_DECODE);
    /* not a map */
    cr_assert_eq(cairn_peer_sync_ack_decode("\x90", 1, &b, &st), CAIRN_E_DECODE);
    /* an unknown field is skipped */
    const char extra[] = "\x82\xa4" "code" "\x07\xa1" "x" "\x01";
    cr_assert_eq(cairn_peer_sync_ack_decode(extra, sizeof extra - 1, &b, &st), CAIRN_OK);
    cr_assert_eq(b.code, 7);
}

Test(peer_distro, sync_body_is_a_distro_apply)
{
    cairn_distro_state states[2] = {tombstone("DEFAULT_GROUP@@a", 9, 4),
                                    tombstone("DEFAULT_GROUP@@b", 9, 5)};
    char *out, *want;
    size_t len, want_len;
    cr_assert_eq(cairn_peer_sync_encode(states, 2, &out, &len), CAIRN_OK);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_DISTRO_APPLY);
    rq.states = states;
    rq.state_count = 2;
    rq.mode = CAIRN_DISTRO_OWNER;
    cr_assert_eq(cairn_request_encode(&rq, &want, &want_len), CAIRN_OK);
    cr_assert_eq(len, want_len);
    cr_assert_eq(memcmp(out, want, len), 0);
    free(want);
    cairn_request got;
    cairn_status st;
    cr_assert_eq(cairn_peer_sync_decode(out, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(got.state_count, 2);
    cr_assert_str_eq(got.states[1].service, "DEFAULT_GROUP@@b");
    cr_assert_eq(got.states[1].version.seq, 5);
    cairn_request_free(&got);
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_neq(cairn_peer_sync_decode(out, cut, &got, &st), CAIRN_OK);
        cairn_request_free(&got);
    }
    free(out);
    cr_assert_eq(cairn_peer_sync_encode(states, 0, &out, &len), CAIRN_E_INVALID);
    cr_assert_eq(cairn_peer_sync_encode(states, CAIRN_DISTRO_MAX_STATES + 1, &out, &len),
                 CAIRN_E_INVALID);
}

/* A request encoded as given, then offered as a DISTRO_SYNC body. */
static cairn_err offer(cairn_request *rq, cairn_status *st)
{
    char *buf;
    size_t len;
    cr_assert_eq(cairn_request_encode(rq, &buf, &len), CAIRN_OK);
    cairn_request got;
    cairn_err err = cairn_peer_sync_decode(buf, len, &got, st);
    cairn_request_free(&got);
    free(buf);
    return err;
}

Test(peer_distro, sync_rejections)
{
    cairn_distro_state ok = tombstone("DEFAULT_GROUP@@a", 9, 4);
    cairn_distro_state unversioned = tombstone("DEFAULT_GROUP@@a", 0, 0);
    cairn_status st;
    cairn_request rq;
    /* another request type */
    cairn_request_init(&rq, CAIRN_MSG_DISTRO_FETCH);
    rq.states = &ok;
    rq.state_count = 1;
    cr_assert_eq(offer(&rq, &st), CAIRN_E_DECODE);
    /* a page of a load */
    cairn_request_init(&rq, CAIRN_MSG_DISTRO_APPLY);
    rq.states = &ok;
    rq.state_count = 1;
    rq.load_id = 7;
    cr_assert_eq(offer(&rq, &st), CAIRN_E_DECODE);
    cr_assert(strstr(st.message, "load_id"), "%s", st.message);
    /* a state without a version */
    cairn_request_init(&rq, CAIRN_MSG_DISTRO_APPLY);
    rq.states = &unversioned;
    rq.state_count = 1;
    cr_assert_neq(offer(&rq, &st), CAIRN_OK);
    /* garbage */
    cairn_request got;
    cr_assert_eq(cairn_peer_sync_decode("\xc1", 1, &got, &st), CAIRN_E_DECODE);
    cairn_request_free(&got);
}
