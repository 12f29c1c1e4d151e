/* The raft connection handshake (formats and MACs in raft_handshake.h). */
#include "raft_handshake.h"

#include <sodium.h>
#include <string.h>

#include "raft_ids.h"

#define HELLO_MAGIC "CAIRNRH1"

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t cairn_raft_hs_hello(const cairn_raft_hs *hs, unsigned char out[CAIRN_RAFT_HS_HELLO_MAX])
{
    size_t n = strnlen(hs->identity, 255);
    memcpy(out, HELLO_MAGIC, 8);
    put_u64(out + 8, hs->dialer_id);
    memcpy(out + 16, hs->dialer_nonce, CAIRN_RAFT_HS_NONCE);
    out[16 + CAIRN_RAFT_HS_NONCE] = (unsigned char)n;
    memcpy(out + CAIRN_RAFT_HS_HELLO_FIXED, hs->identity, n);
    return CAIRN_RAFT_HS_HELLO_FIXED + n;
}

bool cairn_raft_hs_hello_fixed(cairn_raft_hs *hs, const unsigned char *in, size_t *ident_len)
{
    if (memcmp(in, HELLO_MAGIC, 8) != 0)
        return false;
    hs->dialer_id = get_u64(in + 8);
    memcpy(hs->dialer_nonce, in + 16, CAIRN_RAFT_HS_NONCE);
    *ident_len = in[16 + CAIRN_RAFT_HS_NONCE];
    return *ident_len > 0;
}

bool cairn_raft_hs_hello_identity(cairn_raft_hs *hs, const unsigned char *in, size_t len)
{
    if (len == 0 || len > 255 || memchr(in, 0, len))
        return false;
    memcpy(hs->identity, in, len);
    hs->identity[len] = 0;
    return cairn_raft_id(hs->identity) == hs->dialer_id;
}

void cairn_raft_hs_mac(const cairn_raft_hs *hs, const cairn_raft_hs_secret *secret, char who,
                       unsigned char out[CAIRN_RAFT_HS_MAC])
{
    crypto_auth_hmacsha256_state s;
    unsigned char ids[16];
    const char label[] = {'c', 'a', 'i', 'r', 'n', '-', 'r', 'a', 'f', 't', '-', who};
    put_u64(ids, hs->dialer_id);
    put_u64(ids + 8, hs->listener_id);
    crypto_auth_hmacsha256_init(&s, secret->bytes, secret->len);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)label, sizeof label);
    crypto_auth_hmacsha256_update(&s, hs->dialer_nonce, CAIRN_RAFT_HS_NONCE);
    crypto_auth_hmacsha256_update(&s, hs->listener_nonce, CAIRN_RAFT_HS_NONCE);
    crypto_auth_hmacsha256_update(&s, ids, sizeof ids);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)hs->identity,
                                  strnlen(hs->identity, 255));
    crypto_auth_hmacsha256_final(&s, out);
    sodium_memzero(&s, sizeof s);
}

void cairn_raft_hs_challenge(const cairn_raft_hs *hs, const cairn_raft_hs_secret *secret,
                             unsigned char out[CAIRN_RAFT_HS_CHALLENGE])
{
    put_u64(out, hs->listener_id);
    memcpy(out + 8, hs->listener_nonce, CAIRN_RAFT_HS_NONCE);
    cairn_raft_hs_mac(hs, secret, 'L', out + 8 + CAIRN_RAFT_HS_NONCE);
}

bool cairn_raft_hs_check_challenge(cairn_raft_hs *hs, const cairn_raft_hs_secret *secret,
                                   const unsigned char in[CAIRN_RAFT_HS_CHALLENGE])
{
    unsigned char want[CAIRN_RAFT_HS_MAC];
    hs->listener_id = get_u64(in);
    memcpy(hs->listener_nonce, in + 8, CAIRN_RAFT_HS_NONCE);
    cairn_raft_hs_mac(hs, secret, 'L', want);
    return crypto_verify_32(want, in + 8 + CAIRN_RAFT_HS_NONCE) == 0;
}

bool cairn_raft_hs_check_proof(const cairn_raft_hs *hs, const cairn_raft_hs_secret *secret,
                               const unsigned char in[CAIRN_RAFT_HS_PROOF])
{
    unsigned char want[CAIRN_RAFT_HS_MAC];
    cairn_raft_hs_mac(hs, secret, 'D', want);
    return crypto_verify_32(want, in) == 0;
}
