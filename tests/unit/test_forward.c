/* Forwarding to the owner (cairn_forward.h): which requests travel, the local FORWARD request
 * and the peer FORWARD body (golden bytes, round trip) and every rejection of the peer decoder:
 * truncations, bit flips, wrong types and requests that must not travel decode to an error and
 * leave nothing behind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_forward.h"
#include "cairn_requests.h"

static char *hex(const char *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", (unsigned char)b[i]);
    s[2 * n] = '\0';
    return s;
}

/* An ephemeral deregistration (or a persistent one), encoded. */
static void remove_request(cairn_request *rq, bool ephemeral)
{
    cairn_status st;
    cairn_request_init(rq, CAIRN_MSG_STATS);
    cr_assert_eq(cairn_request_instance_remove(rq, "public", "DEFAULT_GROUP@@svc", "198.51.100.1",
                                               8080, "DEFAULT", ephemeral, &st),
                 CAIRN_OK, "%s", st.message);
}

Test(forward, which_requests_travel)
{
    cairn_request rq;
    remove_request(&rq, true);
    cr_expect(cairn_forward_wanted(&rq));
    rq.type = CAIRN_MSG_INSTANCE_UPSERT;
    cr_expect(cairn_forward_wanted(&rq));
    rq.type = CAIRN_MSG_INSTANCE_PATCH;
    cr_expect(cairn_forward_wanted(&rq));
    rq.type = CAIRN_MSG_BEAT;
    cr_expect(cairn_forward_wanted(&rq));
    rq.instance.ephemeral = false; /* a beat goes to the owner whatever it says */
    cr_expect(cairn_forward_wanted(&rq));
    rq.type = CAIRN_MSG_INSTANCE_REMOVE; /* persistent: not Distro's */
    cr_expect(!cairn_forward_wanted(&rq));
    rq.instance.ephemeral = true;
    const cairn_msg_type local[] = {CAIRN_MSG_INSTANCE_HEALTH, CAIRN_MSG_INSTANCE_GET,
                                    CAIRN_MSG_SERVICE_PUT, CAIRN_MSG_SERVICE_REMOVE,
                                    CAIRN_MSG_DISTRO_LOAD_END, CAIRN_MSG_FORWARD};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        rq.type = local[i];
        cr_expect(!cairn_forward_wanted(&rq), "%s travels", cairn_msg_type_name(local[i]));
    }
    rq.type = CAIRN_MSG_INSTANCE_REMOVE;
    cairn_request_free(&rq);
    /* a gRPC connection's share of a service goes to the service's owner */
    cairn_status st;
    cr_assert_eq(cairn_request_instance_set_owned(&rq, "public", "DEFAULT_GROUP@@svc",
                                                  "grpc/127.0.0.1:8848/1/c", NULL, 0, &st),
                 CAIRN_OK);
    cr_expect(cairn_forward_wanted(&rq));
    cairn_request_free(&rq);
    /* a gRPC owner's drop travels (a restarted cairn-grpc's earlier incarnations); no other */
    cr_assert_eq(cairn_request_owner_drop(&rq, "grpc/127.0.0.1:8848/", CAIRN_OWNER_PREFIX, &st),
                 CAIRN_OK);
    cr_expect(cairn_forward_wanted(&rq));
    cairn_request_free(&rq);
    cr_assert_eq(cairn_request_owner_drop(&rq, "x", CAIRN_OWNER_PREFIX, &st), CAIRN_OK);
    cr_expect(!cairn_forward_wanted(&rq));
    /* health by hand travels only as MANUAL_KIND of the ephemeral instance (the gateway sends
     * the persistent one through raft) */
    cairn_request_free(&rq);
    cairn_request_init(&rq, CAIRN_MSG_STATS);
    cr_assert_eq(cairn_request_instance_health(&rq, "public", "DEFAULT_GROUP@@svc",
                                               "198.51.100.1", 8080, "DEFAULT", true, false,
                                               CAIRN_HEALTH_MANUAL_KIND, &st),
                 CAIRN_OK, "%s", st.message);
    cr_expect(cairn_forward_wanted(&rq));
    rq.instance.ephemeral = false;
    cr_expect(!cairn_forward_wanted(&rq), "a persistent instance's health travels");
    rq.instance.ephemeral = true;
    rq.mode = CAIRN_HEALTH_MANUAL;
    cr_expect(!cairn_forward_wanted(&rq), "health of both kinds travels");
    rq.mode = CAIRN_HEALTH_BY_CHECKER;
    cr_expect(!cairn_forward_wanted(&rq), "a checker's health travels");
    cairn_request_free(&rq);
}

Test(forward, local_request_golden_bytes_and_round_trip)
{
    cairn_request inner, fw, got;
    remove_request(&inner, true);
    char *inner_buf, *buf;
    size_t inner_len, len;
    cr_assert_eq(cairn_request_encode(&inner, &inner_buf, &inner_len), CAIRN_OK);
    cairn_status st;
    cr_assert_eq(cairn_request_forward(&fw, &inner, "127.0.0.2:8848", 5000, &st), CAIRN_OK);
    cr_assert_eq(cairn_request_encode(&fw, &buf, &len), CAIRN_OK);
    /* {"t": 50, "v": 1, "to": "127.0.0.2:8848", "inner": bin(the request), "dl": 5000} */
    char *h = hex(buf, len), *ih = hex(inner_buf, inner_len);
    char want[4096];
    snprintf(want, sizeof want,
             "85" "a174" "32" "a176" "01" "a2746f" "ae3132372e302e302e323a38383438"
             "a5696e6e6572" "c4%02zx%s" "a2646c" "cd1388",
             inner_len, ih);
    cr_assert_str_eq(h, want);
    free(h);
    free(ih);
    cr_assert_eq(cairn_request_decode(buf, len, &got, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(got.type, CAIRN_MSG_FORWARD);
    cr_expect_str_eq(got.forward_to, "127.0.0.2:8848");
    cr_expect_eq(got.deadline_ms, 5000);
    cr_assert_eq(got.inner_len, inner_len);
    cr_expect_eq(memcmp(got.inner, inner_buf, inner_len), 0);
    cairn_request_free(&got);
    /* every field is required */
    for (size_t cut = 0; cut < len; cut++)
        cr_expect_neq(cairn_request_decode(buf, cut, &got, &st), CAIRN_OK);
    cairn_request_free(&fw);
    fw.forward_to = NULL;
    cr_expect_neq(cairn_request_encode(&fw, &h, &len), CAIRN_OK, "a FORWARD without its owner");
    free(buf);
    free(inner_buf);
    cairn_request_free(&inner);
}

/* The peer body of inner (encoded) with budget ms. */
static void peer_body(const cairn_request *inner, uint32_t ms, char **out, size_t *len)
{
    char *ib;
    size_t il;
    cr_assert_eq(cairn_request_encode(inner, &ib, &il), CAIRN_OK);
    cr_assert_eq(cairn_peer_forward_encode(ib, il, ms, out, len), CAIRN_OK);
    free(ib);
}

Test(forward, peer_body_golden_bytes_and_round_trip)
{
    cairn_request inner, got;
    remove_request(&inner, true);
    char *ib, *buf;
    size_t il, len;
    cr_assert_eq(cairn_request_encode(&inner, &ib, &il), CAIRN_OK);
    cr_assert_eq(cairn_peer_forward_encode(ib, il, 2000, &buf, &len), CAIRN_OK);
    char *h = hex(buf, len), *ih = hex(ib, il), want[4096];
    /* {"req": bin(the request), "ms": 2000} */
    snprintf(want, sizeof want, "82" "a3726571" "c4%02zx%s" "a26d73" "cd07d0", il, ih);
    cr_assert_str_eq(h, want);
    free(h);
    free(ih);
    uint32_t ms = 0;
    cairn_status st;
    cr_assert_eq(cairn_peer_forward_decode(buf, len, &got, &ms, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(ms, 2000);
    cr_expect_eq(got.type, CAIRN_MSG_INSTANCE_REMOVE);
    cr_expect_str_eq(got.service, "DEFAULT_GROUP@@svc");
    cr_expect_str_eq(got.instance.ip, "198.51.100.1");
    char *again;
    size_t again_len;
    cr_assert_eq(cairn_request_encode(&got, &again, &again_len), CAIRN_OK);
    cr_expect(again_len == il && memcmp(again, ib, il) == 0, "the inner request changed");
    free(again);
    cairn_request_free(&got);
    free(ib);
    free(buf);
    cairn_request_free(&inner);
}

/* A refused body: an error, and nothing held (the request is empty, the budget 0). */
static void expect_refused(const char *buf, size_t len, const char *why)
{
    cairn_request got;
    uint32_t ms = 77;
    cairn_status st;
    cr_expect_eq(cairn_peer_forward_decode(buf, len, &got, &ms, &st), CAIRN_E_DECODE, "%s", why);
    cr_expect_eq(ms, 0, "%s: a budget was left", why);
    cr_expect(!got.service && !got.namespace_id && !got.has_instance && !got.inner,
              "%s: something was left", why);
    cairn_request_free(&got);
}

Test(forward, peer_body_rejections)
{
    cairn_request rq;
    char *buf;
    size_t len;
    /* a persistent deregistration, a service delete, a load end: not for FORWARD */
    remove_request(&rq, false);
    peer_body(&rq, 1000, &buf, &len);
    expect_refused(buf, len, "persistent remove");
    free(buf);
    rq.type = CAIRN_MSG_SERVICE_REMOVE;
    peer_body(&rq, 1000, &buf, &len);
    expect_refused(buf, len, "service remove");
    free(buf);
    cairn_request_free(&rq);
    cairn_request_init(&rq, CAIRN_MSG_DISTRO_LOAD_END);
    rq.load_id = 3;
    peer_body(&rq, 1000, &buf, &len);
    expect_refused(buf, len, "distro load end");
    free(buf);
    cairn_request_free(&rq);
    /* no time left, or more than the key allows */
    remove_request(&rq, true);
    peer_body(&rq, 0, &buf, &len);
    expect_refused(buf, len, "ms 0");
    free(buf);
    peer_body(&rq, CAIRN_FORWARD_MAX_MS + 1, &buf, &len);
    expect_refused(buf, len, "ms too large");
    free(buf);
    cairn_request_free(&rq);
    /* missing fields, wrong types, not a map, an inner that is not a request */
    expect_refused("\x81\xa2ms\x10", 5, "no req");
    expect_refused("\x81\xa3req\xc4\x00", 6, "empty req, no ms");
    expect_refused("\x82\xa3req\xa1x\xa2ms\x10", 10, "req is a str");
    expect_refused("\x82\xa3req\xc4\x01\x80\xa2ms\x10", 11, "req is an empty map");
    expect_refused("\x90", 1, "an array");
    expect_refused("", 0, "nothing");
}

Test(forward, peer_body_truncations_and_bit_flips_never_leave_anything)
{
    cairn_request rq, got;
    remove_request(&rq, true);
    char *buf;
    size_t len;
    peer_body(&rq, 1500, &buf, &len);
    for (size_t cut = 0; cut < len; cut++)
        expect_refused(buf, cut, "truncated");
    cairn_status st;
    uint32_t ms;
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (char)(1 << bit);
            cairn_err err = cairn_peer_forward_decode(buf, len, &got, &ms, &st);
            if (err == CAIRN_OK) /* a flip inside a value: still a request that may travel */
                cr_expect(cairn_forward_wanted(&got) && ms > 0 && ms <= CAIRN_FORWARD_MAX_MS);
            else
                cr_expect(!got.service && !got.has_instance && ms == 0);
            cairn_request_free(&got);
            buf[i] ^= (char)(1 << bit);
        }
    free(buf);
    cairn_request_free(&rq);
}
