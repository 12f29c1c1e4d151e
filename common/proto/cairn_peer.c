/* The peer envelope: encoding, MAC, and the acceptance rules (cairn_peer.h). */
#include "cairn_peer.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_fnv.h"
#include "cairn_hashmap.h"
#include "cairn_msgpack_codec.h"

static const char *const verdict_names[CAIRN_PEER__VERDICTS] = {
    [CAIRN_PEER_ACCEPTED] = "accepted",         [CAIRN_PEER_BAD_FORMAT] = "bad_format",
    [CAIRN_PEER_BAD_MAC] = "bad_mac",           [CAIRN_PEER_UNKNOWN_FROM] = "unknown_from",
    [CAIRN_PEER_WRONG_TO] = "wrong_to",         [CAIRN_PEER_CLOCK] = "clock",
    [CAIRN_PEER_REPLAY] = "replay",
};

const char *cairn_peer_verdict_name(cairn_peer_verdict v)
{
    return (unsigned)v < CAIRN_PEER__VERDICTS ? verdict_names[v] : "unknown";
}

const char *cairn_peer_type_name(cairn_peer_type t)
{
    switch (t) {
    case CAIRN_PEER_PING: return "ping";
    case CAIRN_PEER_PONG: return "pong";
    case CAIRN_PEER_DISTRO_SYNC: return "distro_sync";
    case CAIRN_PEER_DISTRO_SYNC_ACK: return "distro_sync_ack";
    case CAIRN_PEER_FORWARD: return "forward";
    case CAIRN_PEER_FORWARD_REPLY: return "forward_reply";
    case CAIRN_PEER_RAFT_FORWARD: return "raft_forward";
    case CAIRN_PEER_RAFT_FORWARD_ACK: return "raft_forward_ack";
    case CAIRN_PEER_DISTRO_READ: return "distro_read";
    case CAIRN_PEER_DISTRO_READ_REPLY: return "distro_read_reply";
    default: return "unknown";
    }
}

/* ---- MAC ------------------------------------------------------------------------------------ */

static void put_be(uint8_t *b, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

static void mac_lenstr(crypto_auth_hmacsha256_state *s, const void *p, size_t n)
{
    uint8_t b[4];
    put_be(b, n, 4);
    crypto_auth_hmacsha256_update(s, b, 4);
    crypto_auth_hmacsha256_update(s, p, n);
}

static void compute_mac(const uint8_t *key, size_t key_len, const cairn_peer_envelope *env,
                        const uint8_t *request_nonce, const void *body, size_t body_len,
                        uint8_t mac[CAIRN_PEER_MAC_BYTES])
{
    static const char domain[] = "cairn-peer-v1";
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, key, key_len);
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)domain, sizeof domain - 1);
    uint8_t b[8];
    put_be(b, (uint32_t)env->type, 4);
    crypto_auth_hmacsha256_update(&s, b, 4);
    mac_lenstr(&s, env->from, strlen(env->from));
    mac_lenstr(&s, env->to, strlen(env->to));
    put_be(b, env->incarnation, 8);
    crypto_auth_hmacsha256_update(&s, b, 8);
    put_be(b, (uint64_t)env->ts_ms, 8);
    crypto_auth_hmacsha256_update(&s, b, 8);
    crypto_auth_hmacsha256_update(&s, env->nonce, CAIRN_PEER_NONCE_BYTES);
    uint8_t kind = request_nonce ? 1 : 0;
    crypto_auth_hmacsha256_update(&s, &kind, 1);
    if (request_nonce)
        crypto_auth_hmacsha256_update(&s, request_nonce, CAIRN_PEER_NONCE_BYTES);
    mac_lenstr(&s, body, body_len);
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_memzero(&s, sizeof s);
}

/* ---- encoding ------------------------------------------------------------------------------- */

#define pk_key cairn_msgpack_pack_str

static int pk_bin(msgpack_packer *pk, const char *k, const void *p, size_t n)
{
    return pk_key(pk, k) || msgpack_pack_bin(pk, n) || (n && msgpack_pack_bin_body(pk, p, n));
}

static int pack_envelope(msgpack_packer *pk, const cairn_peer_envelope *env, const void *body,
                         size_t body_len, const uint8_t *mac)
{
    return msgpack_pack_map(pk, 8) || pk_key(pk, "t") ||
           msgpack_pack_uint32(pk, (uint32_t)env->type) || pk_key(pk, "from") ||
           pk_key(pk, env->from) || pk_key(pk, "to") || pk_key(pk, env->to) /* strs */ ||
           pk_key(pk, "inc") || msgpack_pack_uint64(pk, env->incarnation) || pk_key(pk, "ts") ||
           msgpack_pack_int64(pk, env->ts_ms) ||
           pk_bin(pk, "nonce", env->nonce, CAIRN_PEER_NONCE_BYTES) ||
           pk_bin(pk, "body", body, body_len) || pk_bin(pk, "mac", mac, CAIRN_PEER_MAC_BYTES);
}

cairn_err cairn_peer_seal(const uint8_t *key, size_t key_len, const cairn_peer_envelope *env,
                          const uint8_t *request_nonce, const void *body, size_t body_len,
                          char **out, size_t *out_len)
{
    if ((unsigned)env->type == 0 || env->type >= CAIRN_PEER__END ||
        body_len > CAIRN_PEER_MAX_BYTES - 1024 || (body_len > 0 && !body))
        return CAIRN_E_INVALID;
    uint8_t mac[CAIRN_PEER_MAC_BYTES];
    compute_mac(key, key_len, env, request_nonce, body, body_len, mac);
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (pack_envelope(&pk, env, body, body_len, mac) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return CAIRN_E_NOMEM;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return CAIRN_OK;
}

void cairn_peer_envelope_init(cairn_peer_envelope *env, cairn_peer_type type, const char *self,
                              const char *to, uint64_t incarnation, int64_t now_ms)
{
    memset(env, 0, sizeof *env);
    env->type = type;
    snprintf(env->from, sizeof env->from, "%s", self);
    snprintf(env->to, sizeof env->to, "%s", to);
    env->incarnation = incarnation;
    env->ts_ms = now_ms;
    randombytes_buf(env->nonce, sizeof env->nonce);
}

/* ---- decoding ------------------------------------------------------------------------------- */

enum { F_T, F_FROM, F_TO, F_INC, F_TS, F_NONCE, F_BODY, F_MAC, F__COUNT };
static const char *const field_names[F__COUNT] = {"t", "from", "to", "inc",
                                                  "ts", "nonce", "body", "mac"};

typedef struct decoded {
    cairn_peer_envelope *env;
    const msgpack_object *body;
    const msgpack_object *mac;
} decoded;

static cairn_err rd_id(const msgpack_object *v, const char *field, char *out, cairn_status *st)
{
    char *s = NULL;
    cairn_err err = cairn_msgpack_rd_str(v, "peer envelope", field, &s, st);
    if (err == CAIRN_OK && (strlen(s) == 0 || strlen(s) >= CAIRN_PEER_ID_MAX))
        err = cairn_fail(st, CAIRN_E_DECODE, "peer envelope: field '%s' is empty or too long",
                         field);
    if (err == CAIRN_OK)
        strcpy(out, s);
    free(s);
    return err;
}

static cairn_err rd_bin(const msgpack_object *v, const char *field, size_t want,
                        cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_BIN || (want && v->via.bin.size != want))
        return cairn_fail(st, CAIRN_E_DECODE, "peer envelope: field '%s' is not a bin%s", field,
                          want ? " of the right size" : "");
    return CAIRN_OK;
}

static cairn_err envelope_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    decoded *d = target;
    uint64_t u;
    cairn_err err;
    switch (idx) {
    case F_T:
        err = cairn_msgpack_rd_uint(v, "peer envelope", "t", CAIRN_PEER__END - 1, &u, st);
        if (err == CAIRN_OK && u == 0)
            err = cairn_fail(st, CAIRN_E_DECODE, "peer envelope: unknown type 0");
        d->env->type = (cairn_peer_type)u;
        return err;
    case F_FROM: return rd_id(v, "from", d->env->from, st);
    case F_TO: return rd_id(v, "to", d->env->to, st);
    case F_INC:
        return cairn_msgpack_rd_uint(v, "peer envelope", "inc", UINT64_MAX, &d->env->incarnation,
                                     st);
    case F_TS:
        return cairn_msgpack_rd_int(v, "peer envelope", "ts", INT64_MIN, INT64_MAX,
                                    &d->env->ts_ms, st);
    case F_NONCE:
        err = rd_bin(v, "nonce", CAIRN_PEER_NONCE_BYTES, st);
        if (err == CAIRN_OK)
            memcpy(d->env->nonce, v->via.bin.ptr, CAIRN_PEER_NONCE_BYTES);
        return err;
    case F_BODY:
        d->body = v;
        return rd_bin(v, "body", 0, st);
    case F_MAC:
        d->mac = v;
        return rd_bin(v, "mac", CAIRN_PEER_MAC_BYTES, st);
    }
    return CAIRN_OK;
}

cairn_peer_verdict cairn_peer_unseal(const uint8_t *key, size_t key_len, const char *buf,
                                     size_t len, const uint8_t *request_nonce,
                                     cairn_peer_envelope *env, char **body, size_t *body_len,
                                     cairn_status *st)
{
    *body = NULL;
    *body_len = 0;
    memset(env, 0, sizeof *env);
    if (len > CAIRN_PEER_MAX_BYTES) {
        cairn_fail(st, CAIRN_E_DECODE, "peer message of %zu bytes is over the limit", len);
        return CAIRN_PEER_BAD_FORMAT;
    }
    msgpack_unpacked u;
    decoded d = {env, NULL, NULL};
    uint64_t seen = 0;
    cairn_err err = cairn_msgpack_unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = cairn_msgpack_walk_map(&u.data, "peer envelope", field_names, F__COUNT,
                                     envelope_field, &d, &seen, st);
    if (err == CAIRN_OK && seen != (1u << F__COUNT) - 1)
        err = cairn_fail(st, CAIRN_E_DECODE, "peer envelope: a field is missing");
    cairn_peer_verdict v = CAIRN_PEER_BAD_FORMAT;
    if (err == CAIRN_OK) {
        uint8_t mac[CAIRN_PEER_MAC_BYTES];
        const char *bp = d.body->via.bin.ptr;
        size_t bn = d.body->via.bin.size;
        compute_mac(key, key_len, env, request_nonce, bp, bn, mac);
        v = crypto_verify_32(mac, (const uint8_t *)d.mac->via.bin.ptr) == 0 ? CAIRN_PEER_ACCEPTED
                                                                           : CAIRN_PEER_BAD_MAC;
        if (v == CAIRN_PEER_BAD_MAC)
            cairn_fail(st, CAIRN_E_INVALID, "peer message from '%s' has a bad MAC", env->from);
        else if (!(*body = malloc(bn ? bn : 1))) {
            cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
            v = CAIRN_PEER_BAD_FORMAT;
        } else {
            if (bn)
                memcpy(*body, bp, bn);
            *body_len = bn;
        }
    }
    msgpack_unpacked_destroy(&u);
    return v;
}

/* ---- the guard ------------------------------------------------------------------------------- */

cairn_err cairn_peer_guard_init(cairn_peer_guard *g, const uint8_t *key, size_t key_len,
                                const char *self, const char *const *members,
                                size_t member_count)
{
    memset(g, 0, sizeof *g);
    if (sodium_init() < 0)
        return CAIRN_E_INTERNAL;
    g->ring = calloc(CAIRN_PEER_REPLAY_CAPACITY, sizeof *g->ring);
    if (!g->ring || !(g->seen = cairn_hashmap_new(CAIRN_PEER_REPLAY_CAPACITY))) {
        free(g->ring);
        g->ring = NULL;
        return CAIRN_E_NOMEM;
    }
    g->key = key;
    g->key_len = key_len;
    g->self = self;
    g->members = members;
    g->member_count = member_count;
    g->floor_ts_ms = INT64_MIN;
    pthread_mutex_init(&g->lock, NULL);
    return CAIRN_OK;
}

void cairn_peer_guard_destroy(cairn_peer_guard *g)
{
    if (!g->ring)
        return;
    pthread_mutex_destroy(&g->lock);
    cairn_hashmap_free(g->seen);
    g->seen = NULL;
    free(g->ring);
    g->ring = NULL;
}

/* The replay cache's key of an entry: the sender's hash, then the nonce. */
typedef struct replay_key {
    uint8_t bytes[sizeof(uint64_t) + CAIRN_PEER_NONCE_BYTES];
} replay_key;

static replay_key key_of(uint64_t from_hash, const uint8_t *nonce)
{
    replay_key k;
    memcpy(k.bytes, &from_hash, sizeof from_hash);
    memcpy(k.bytes + sizeof from_hash, nonce, CAIRN_PEER_NONCE_BYTES);
    return k;
}

/* Drops the oldest entry of the ring. Lock held. */
static void drop_oldest(cairn_peer_guard *g)
{
    const cairn_peer_replay_entry *e = &g->ring[g->head];
    replay_key k = key_of(e->from_hash, e->nonce);
    cairn_hashmap_remove(g->seen, k.bytes, sizeof k.bytes);
    g->head = (g->head + 1) % CAIRN_PEER_REPLAY_CAPACITY;
    g->count--;
}

/* Remembers (from, nonce, ts); false when already seen or at/below the floor. Lock held. */
static bool replay_admit(cairn_peer_guard *g, const cairn_peer_envelope *env, int64_t now_ms)
{
    /* drop entries the clock window already rejects */
    while (g->count > 0 && g->ring[g->head].ts_ms < now_ms - CAIRN_PEER_CLOCK_WINDOW_MS)
        drop_oldest(g);
    if (env->ts_ms <= g->floor_ts_ms)
        return false;
    uint64_t fh = cairn_fnv1a_str(CAIRN_FNV64_OFFSET, env->from, 0);
    replay_key k = key_of(fh, env->nonce);
    if (cairn_hashmap_get(g->seen, k.bytes, sizeof k.bytes))
        return false;
    if (g->count == CAIRN_PEER_REPLAY_CAPACITY) { /* evict the oldest; its ts becomes the floor */
        if (g->ring[g->head].ts_ms > g->floor_ts_ms)
            g->floor_ts_ms = g->ring[g->head].ts_ms;
        drop_oldest(g);
    }
    /* Unremembered, it could be replayed: out of memory refuses it (the sender retries). */
    if (cairn_hashmap_put(g->seen, k.bytes, sizeof k.bytes, g, NULL) != 0)
        return false;
    cairn_peer_replay_entry *e = &g->ring[(g->head + g->count) % CAIRN_PEER_REPLAY_CAPACITY];
    e->ts_ms = env->ts_ms;
    e->from_hash = fh;
    memcpy(e->nonce, env->nonce, CAIRN_PEER_NONCE_BYTES);
    g->count++;
    return true;
}

static cairn_peer_verdict check_rules(cairn_peer_guard *g, const cairn_peer_envelope *env,
                                      int64_t now_ms, cairn_status *st)
{
    bool known = false;
    for (size_t i = 0; i < g->member_count && !known; i++)
        known = strcmp(g->members[i], env->from) == 0 && strcmp(env->from, g->self) != 0;
    if (!known) {
        cairn_fail(st, CAIRN_E_INVALID, "peer message from '%s', not a peer", env->from);
        return CAIRN_PEER_UNKNOWN_FROM;
    }
    if (strcmp(env->to, g->self) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "peer message from '%s' is for '%s', not this node",
                   env->from, env->to);
        return CAIRN_PEER_WRONG_TO;
    }
    int64_t skew = env->ts_ms - now_ms;
    if (skew > CAIRN_PEER_CLOCK_WINDOW_MS || skew < -CAIRN_PEER_CLOCK_WINDOW_MS) {
        cairn_fail(st, CAIRN_E_INVALID,
                   "peer message from '%s' is %lld ms off this node's clock (limit %d; run NTP)",
                   env->from, (long long)skew, CAIRN_PEER_CLOCK_WINDOW_MS);
        return CAIRN_PEER_CLOCK;
    }
    pthread_mutex_lock(&g->lock);
    bool fresh = replay_admit(g, env, now_ms);
    pthread_mutex_unlock(&g->lock);
    if (!fresh) {
        cairn_fail(st, CAIRN_E_INVALID, "peer message from '%s' replays a nonce", env->from);
        return CAIRN_PEER_REPLAY;
    }
    return CAIRN_PEER_ACCEPTED;
}

cairn_peer_verdict cairn_peer_guard_open(cairn_peer_guard *g, const char *buf, size_t len,
                                         const uint8_t *request_nonce, int64_t now_ms,
                                         cairn_peer_envelope *env, char **body,
                                         size_t *body_len, cairn_status *st)
{
    cairn_peer_verdict v =
        cairn_peer_unseal(g->key, g->key_len, buf, len, request_nonce, env, body, body_len, st);
    if (v == CAIRN_PEER_ACCEPTED)
        v = check_rules(g, env, now_ms, st);
    if (v != CAIRN_PEER_ACCEPTED) {
        free(*body);
        *body = NULL;
        *body_len = 0;
    }
    return v;
}

cairn_err cairn_peer_guard_seal(const cairn_peer_guard *g, const cairn_peer_envelope *env,
                                const uint8_t *request_nonce, const void *body, size_t body_len,
                                char **out, size_t *out_len)
{
    return cairn_peer_seal(g->key, g->key_len, env, request_nonce, body, body_len, out, out_len);
}
