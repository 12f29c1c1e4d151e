/* Access tokens (cairn_auth_token_verify): the accessToken a client sends to the gateway and to
 * cairn-grpc. Each input is tried two ways.
 *  - As the token (a C string: a NUL ends it), under the secret of fuzz_token.h. It verifies
 *    (valid or expired) only when it is, byte for byte, one of the tokens signed with that secret,
 *    and then names that token's user and agrees with its expiry: an altered or truncated token
 *    never verifies. Under another secret nothing verifies.
 *  - As the claims (JSON) of a token the harness signs with the secret as the product signs one
 *    (HMAC-SHA-256 over header.payload), which only a holder of the secret can make: this reaches
 *    the claims reader. A verified token's claims are an object whose `sub` is a valid user name,
 *    the user handed out, and whose integer `exp` decides expired or valid; claims short enough
 *    for any token the product makes (under 128 bytes) with both verify. */
#include <jansson.h>
#include <sodium.h>

#include "cairn_auth.h"
#include "fuzz_token.h"
#include "fuzz_util.h"

#define CLAIMS_MADE_MAX 128 /* the claims buffer of cairn_auth_token_create */
#define OTHER_SECRET "another-secret-0123456789abcdef0123"

static cairn_auth_secret secret = {.bytes = (unsigned char *)FUZZ_TOKEN_SECRET,
                                   .len = sizeof FUZZ_TOKEN_SECRET - 1};
static cairn_auth_secret other = {.bytes = (unsigned char *)OTHER_SECRET,
                                  .len = sizeof OTHER_SECRET - 1};
static char signed_tokens[FUZZ_TOKEN_COUNT][CAIRN_AUTH_TOKEN_MAX];
static size_t header_len; /* of the base64url JWT header the product writes, dot excluded */

static cairn_token_result expected(int64_t exp_s)
{
    return exp_s <= FUZZ_TOKEN_NOW ? CAIRN_TOKEN_EXPIRED : CAIRN_TOKEN_OK;
}

/* Signs the known tokens once; each verifies as its expiry says. */
static void setup(void)
{
    if (header_len)
        return;
    FUZZ_CHECK(sodium_init() >= 0);
    char user[CAIRN_AUTH_NAME_MAX + 1];
    for (size_t i = 0; i < FUZZ_TOKEN_COUNT; i++) {
        FUZZ_CHECK(cairn_auth_token_create(&secret, fuzz_tokens[i].user, fuzz_tokens[i].exp_s,
                                           signed_tokens[i], sizeof signed_tokens[i]));
        FUZZ_CHECK(cairn_auth_token_verify(&secret, signed_tokens[i], FUZZ_TOKEN_NOW, user) ==
                   expected(fuzz_tokens[i].exp_s));
        FUZZ_CHECK(strcmp(user, fuzz_tokens[i].user) == 0);
    }
    header_len = strcspn(signed_tokens[0], ".");
}

static void as_token(const uint8_t *data, size_t size)
{
    char *token = fuzz_cstr(data, size);
    FUZZ_CHECK(token);
    char user[CAIRN_AUTH_NAME_MAX + 1];
    cairn_token_result r = cairn_auth_token_verify(&secret, token, FUZZ_TOKEN_NOW, user);
    if (r != CAIRN_TOKEN_INVALID) {
        size_t i = 0;
        while (i < FUZZ_TOKEN_COUNT && strcmp(token, signed_tokens[i]) != 0)
            i++;
        FUZZ_CHECK(i < FUZZ_TOKEN_COUNT); /* verified, so signed with the secret */
        FUZZ_CHECK(strcmp(user, fuzz_tokens[i].user) == 0);
        FUZZ_CHECK(r == expected(fuzz_tokens[i].exp_s));
    }
    FUZZ_CHECK(cairn_auth_token_verify(&other, token, FUZZ_TOKEN_NOW, user) ==
               CAIRN_TOKEN_INVALID);
    free(token);
}

static void as_claims(const uint8_t *data, size_t size)
{
    size_t p64 = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t s64 = sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *token = malloc(header_len + 1 + p64 + 1 + s64);
    FUZZ_CHECK(token);
    memcpy(token, signed_tokens[0], header_len + 1); /* the header and its dot */
    sodium_bin2base64(token + header_len + 1, p64, data, size,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t body_len = strlen(token);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, secret.bytes, secret.len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)token, body_len);
    crypto_auth_hmacsha256_final(&state, mac);
    token[body_len] = '.';
    sodium_bin2base64(token + body_len + 1, s64, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);

    char user[CAIRN_AUTH_NAME_MAX + 1];
    cairn_token_result r = cairn_auth_token_verify(&secret, token, FUZZ_TOKEN_NOW, user);
    json_t *claims = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_t *exp = json_object_get(claims, "exp");
    bool well_formed = sub && cairn_auth_token_subject_valid(sub) && json_is_integer(exp);
    if (r != CAIRN_TOKEN_INVALID) {
        FUZZ_CHECK(well_formed && strcmp(user, sub) == 0);
        FUZZ_CHECK(r == expected(json_integer_value(exp)));
    } else if (size < CLAIMS_MADE_MAX) {
        FUZZ_CHECK(!well_formed);
    }
    json_decref(claims);
    FUZZ_CHECK(cairn_auth_token_verify(&other, token, FUZZ_TOKEN_NOW, user) ==
               CAIRN_TOKEN_INVALID);
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    as_token(data, size);
    as_claims(data, size);
    return 0;
}
