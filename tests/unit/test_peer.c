/* The peer envelope: golden bytes, MAC coverage, every acceptance rule, the bounded replay
 * cache, and truncation / mutation sweeps; PING bodies round-trip. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_peer.h"
#include "cairn_peer_ping.h"

static const uint8_t KEY[32] = "0123456789abcdef0123456789abcdef";
static const char *const MEMBERS[] = {"127.0.0.1:8848", "127.0.0.2:8848", "127.0.0.3:8848"};
#define NOW 1700000000000LL

static void fixed_env(cairn_peer_envelope *env, cairn_peer_type t, const char *from,
                      const char *to)
{
    cairn_peer_envelope_init(env, t, from, to, 0x0102030405060708ull, NOW);
    for (int i = 0; i < CAIRN_PEER_NONCE_BYTES; i++)
        env->nonce[i] = (uint8_t)(0xa0 + i);
}

static char *hex(const char *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(s + 2 * i, "%02x", (unsigned char)b[i]);
    return s;
}

/* The bytes of a PING from .1 to .2 with body "hi": pinned so that the wire never changes by
 * accident. The MAC part is also recomputed independently below. */
static const char GOLDEN[] =
    "88a174" "01" "a466726f6d" "ae3132372e302e302e313a38383438" "a2746f"
    "ae3132372e302e302e323a38383438" "a3696e63" "cf0102030405060708" "a27473"
    "cf0000018bcfe56800" "a56e6f6e6365" "c410a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "a4626f6479" "c4026869" "a36d6163" "c420";

Test(peer, golden_bytes_and_independent_mac)
{
    cr_assert_geq(sodium_init(), 0);
    cairn_peer_envelope env;
    fixed_env(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1]);
    char *out;
    size_t len;
    cr_assert_eq(cairn_peer_seal(KEY, 32, &env, NULL, "hi", 2, &out, &len), CAIRN_OK);
    char *h = hex(out, len);
    cr_assert_eq(len, (sizeof GOLDEN - 1) / 2 + 32, "%s", h);
    cr_assert_eq(strncmp(h, GOLDEN, sizeof GOLDEN - 1), 0, "got %s", h);
    /* the MAC, computed here from the documented MAC input */
    uint8_t in[256];
    size_t n = 0;
    memcpy(in + n, "cairn-peer-v1", 13), n += 13;
    const uint8_t t[4] = {0, 0, 0, 1}, l14[4] = {0, 0, 0, 14}, l2[4] = {0, 0, 0, 2};
    memcpy(in + n, t, 4), n += 4;
    memcpy(in + n, l14, 4), n += 4;
    memcpy(in + n, MEMBERS[0], 14), n += 14;
    memcpy(in + n, l14, 4), n += 4;
    memcpy(in + n, MEMBERS[1], 14), n += 14;
    for (int i = 1; i <= 8; i++)
        in[n++] = (uint8_t)i;
    for (int i = 7; i >= 0; i--)
        in[n++] = (uint8_t)((uint64_t)NOW >> (8 * i));
    memcpy(in + n, env.nonce, 16), n += 16;
    in[n++] = 0;
    memcpy(in + n, l2, 4), n += 4;
    memcpy(in + n, "hi", 2), n += 2;
    uint8_t mac[32];
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, KEY, 32);
    crypto_auth_hmacsha256_update(&s, in, n);
    crypto_auth_hmacsha256_final(&s, mac);
    cr_assert_eq(memcmp(out + len - 32, mac, 32), 0);
    free(h);
    free(out);
}

static cairn_peer_guard guard2; /* node .2 */

static void guard_init(void)
{
    cr_assert_eq(cairn_peer_guard_init(&guard2, KEY, 32, MEMBERS[1], MEMBERS, 3), CAIRN_OK);
}
static void guard_fini(void) { cairn_peer_guard_destroy(&guard2); }

static char *seal(cairn_peer_envelope *env, const uint8_t *req_nonce, const uint8_t *key,
                  size_t *len)
{
    char *out;
    cr_assert_eq(cairn_peer_seal(key, 32, env, req_nonce, "body", 4, &out, len), CAIRN_OK);
    return out;
}

static cairn_peer_verdict open_at(const char *buf, size_t len, const uint8_t *req_nonce,
                                  int64_t now)
{
    cairn_peer_envelope env;
    char *body;
    size_t body_len;
    cairn_status st;
    cairn_peer_verdict v =
        cairn_peer_guard_open(&guard2, buf, len, req_nonce, now, &env, &body, &body_len, &st);
    if (v == CAIRN_PEER_ACCEPTED) {
        cr_assert_eq(body_len, 4);
        cr_assert_eq(memcmp(body, "body", 4), 0);
        free(body);
    } else {
        cr_assert_null(body);
    }
    return v;
}

Test(peer, accepts_once_then_replay, .init = guard_init, .fini = guard_fini)
{
    cairn_peer_envelope env;
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW);
    size_t len;
    char *m = seal(&env, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_ACCEPTED);
    cr_assert_eq(open_at(m, len, NULL, NOW + 10), CAIRN_PEER_REPLAY);
    free(m);
}

Test(peer, rejections, .init = guard_init, .fini = guard_fini)
{
    cairn_peer_envelope env;
    size_t len;
    char *m;
    static const uint8_t OTHER[32] = "another secret of thirty-two b!!";
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW);
    m = seal(&env, NULL, OTHER, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_BAD_MAC);
    free(m);
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, "127.0.0.9:8848", MEMBERS[1], 7, NOW);
    m = seal(&env, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_UNKNOWN_FROM);
    free(m);
    /* from self is not a peer */
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[1], MEMBERS[1], 7, NOW);
    m = seal(&env, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_UNKNOWN_FROM);
    free(m);
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[2], 7, NOW);
    m = seal(&env, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_WRONG_TO);
    free(m);
    /* the clock window: 30 s either way is fine, beyond is not */
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW - 30000);
    m = seal(&env, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_ACCEPTED);
    free(m);
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW - 30001);
    m = seal(&env, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_CLOCK);
    free(m);
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW + 30001);
    m = seal(&env, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_CLOCK);
    free(m);
    cr_assert_eq(open_at("garbage", 7, NULL, NOW), CAIRN_PEER_BAD_FORMAT);
    cr_assert_eq(open_at("", 0, NULL, NOW), CAIRN_PEER_BAD_FORMAT);
}

Test(peer, reply_mac_covers_the_request_nonce, .init = guard_init, .fini = guard_fini)
{
    uint8_t asked[16], other[16];
    randombytes_buf(asked, 16);
    randombytes_buf(other, 16);
    cairn_peer_envelope env;
    cairn_peer_envelope_init(&env, CAIRN_PEER_PONG, MEMBERS[0], MEMBERS[1], 7, NOW);
    size_t len;
    char *m = seal(&env, asked, KEY, &len);
    cr_assert_eq(open_at(m, len, other, NOW), CAIRN_PEER_BAD_MAC);
    cr_assert_eq(open_at(m, len, NULL, NOW), CAIRN_PEER_BAD_MAC); /* not a request either */
    cr_assert_eq(open_at(m, len, asked, NOW), CAIRN_PEER_ACCEPTED);
    free(m);
}

Test(peer, truncation_and_mutation_sweeps, .init = guard_init, .fini = guard_fini)
{
    cairn_peer_envelope env;
    cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW);
    size_t len;
    char *m = seal(&env, NULL, KEY, &len);
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(open_at(m, cut, NULL, NOW), CAIRN_PEER_ACCEPTED, "cut at %zu", cut);
    char *copy = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, m, len);
            copy[i] ^= (char)(1 << bit);
            /* a flipped bit never yields an accepted message (the nonce is fresh each time, so
             * only the MAC and format can stop it) */
            cr_assert_neq(open_at(copy, len, NULL, NOW), CAIRN_PEER_ACCEPTED, "byte %zu bit %d",
                          i, bit);
        }
    }
    memcpy(copy, m, len);
    copy[len] = 0;
    cr_assert_eq(open_at(copy, len + 1, NULL, NOW), CAIRN_PEER_BAD_FORMAT); /* trailing byte */
    /* a container announcing more elements than there are bytes */
    const char huge[] = "\xdf\xff\xff\xff\xff";
    cr_assert_eq(open_at(huge, 5, NULL, NOW), CAIRN_PEER_BAD_FORMAT);
    free(copy);
    free(m);
}

Test(peer, replay_cache_is_bounded_and_keeps_refusing, .init = guard_init, .fini = guard_fini)
{
    /* fill the cache beyond capacity with fresh messages, a millisecond apart */
    cairn_peer_envelope first;
    cairn_peer_envelope_init(&first, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW - 5);
    size_t first_len;
    char *first_msg = seal(&first, NULL, KEY, &first_len);
    cr_assert_eq(open_at(first_msg, first_len, NULL, NOW), CAIRN_PEER_ACCEPTED);
    for (int i = 0; i < CAIRN_PEER_REPLAY_CAPACITY + 10; i++) {
        cairn_peer_envelope env;
        cairn_peer_envelope_init(&env, CAIRN_PEER_PING, MEMBERS[2], MEMBERS[1], 7, NOW + i);
        size_t len;
        char *m = seal(&env, NULL, KEY, &len);
        cr_assert_eq(open_at(m, len, NULL, NOW + i), CAIRN_PEER_ACCEPTED);
        free(m);
    }
    cr_assert_leq(guard2.count, CAIRN_PEER_REPLAY_CAPACITY);
    /* the first one was evicted, yet its replay is still refused (the floor) */
    cr_assert_eq(open_at(first_msg, first_len, NULL, NOW), CAIRN_PEER_REPLAY);
    /* a message at or below the floor is refused too; a newer one is accepted */
    cairn_peer_envelope old;
    cairn_peer_envelope_init(&old, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW + 5);
    size_t old_len;
    char *old_msg = seal(&old, NULL, KEY, &old_len);
    cr_assert_eq(open_at(old_msg, old_len, NULL, NOW + 20000), CAIRN_PEER_REPLAY);
    free(old_msg);
    /* entries past the clock window are dropped as time passes */
    cairn_peer_envelope later;
    cairn_peer_envelope_init(&later, CAIRN_PEER_PING, MEMBERS[0], MEMBERS[1], 7, NOW + 60000);
    size_t len;
    char *m = seal(&later, NULL, KEY, &len);
    cr_assert_eq(open_at(m, len, NULL, NOW + 60000), CAIRN_PEER_ACCEPTED);
    cr_assert_eq(guard2.count, 1);
    free(m);
    free(first_msg);
}

Test(peer, ping_round_trip_and_sweeps)
{
    cairn_peer_ping p = {.phase = CAIRN_PHASE_READY,
                         .members_hash = 0xfeedfacecafebeefull,
                         .view_version = 3,
                         .view_hash = 9,
                         .peer_address = "127.0.0.2:9849",
                         .raft_address = "127.0.0.2:7848",
                         .store_fresh = true,
                         .raft = {.initialized = true, .role = "leader", .term = 4,
                                  .leader = "127.0.0.2:8848", .commit = 10, .applied = 9}};
    char *out;
    size_t len;
    cr_assert_eq(cairn_peer_ping_encode(&p, &out, &len), CAIRN_OK);
    cairn_peer_ping q;
    cairn_status st;
    cr_assert_eq(cairn_peer_ping_decode(out, len, &q, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(memcmp(&p, &q, sizeof p), 0);
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(cairn_peer_ping_decode(out, cut, &q, &st), CAIRN_OK);
    free(out);
    /* no leader, raft absent: "none" */
    cairn_peer_ping r = {.phase = CAIRN_PHASE_STARTING, .peer_address = "a:1",
                         .raft_address = "a:2", .raft = {.role = "none"}};
    cr_assert_eq(cairn_peer_ping_encode(&r, &out, &len), CAIRN_OK);
    cr_assert_eq(cairn_peer_ping_decode(out, len, &q, &st), CAIRN_OK);
    cr_assert_str_eq(q.raft.role, "none");
    cr_assert_str_eq(q.raft.leader, "");
    free(out);
    r.phase = (cairn_peer_phase)7;
    cr_assert_eq(cairn_peer_ping_encode(&r, &out, &len), CAIRN_E_INVALID);
}
