/* Access tokens (JWT, HS256), the token secret and the start-up rules of auth (cairn_auth.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_auth.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
/* base64url of {"alg":"HS256","typ":"JWT"}: the only header accepted. */
#define JWT_HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define MAC_BYTES crypto_auth_hmacsha256_BYTES
/* What a token is made of: base64url and the dots between its parts. Checked before decoding:
 * libsodium 1.0.18 (Debian 12) decodes every byte above 0x7f as '_', so a signed token would
 * otherwise verify with its '_'s spelled in 128 other ways. */
#define TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
#define SECRET_MAX_BYTES 4096

cairn_err cairn_auth_secret_load(const char *path, cairn_auth_secret *out, cairn_status *st)
{
    out->bytes = NULL;
    out->len = 0;
    if (!path[0])
        return cairn_fail(st, CAIRN_E_INVALID,
                          "config: auth.token_secret_file: must be set when auth.enabled is true "
                          "(there is no default secret)");
    if (sodium_init() < 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "libsodium cannot start");
    FILE *f = fopen(path, "re");
    if (!f)
        return cairn_fail(st, CAIRN_E_INVALID, "config: auth.token_secret_file: cannot read %s: %s",
                          path, strerror(errno));
    unsigned char *buf = sodium_malloc(SECRET_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SECRET_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
        n--;
    if (n < CAIRN_AUTH_SECRET_MIN || n > SECRET_MAX_BYTES) {
        sodium_free(buf);
        return cairn_fail(st, CAIRN_E_INVALID,
                          "config: auth.token_secret_file: %s must hold %d to %d bytes (e.g. "
                          "`head -c 48 /dev/urandom | base64 > %s`)",
                          path, CAIRN_AUTH_SECRET_MIN, SECRET_MAX_BYTES, path);
    }
    out->bytes = buf;
    out->len = n;
    return CAIRN_OK;
}

void cairn_auth_secret_free(cairn_auth_secret *s)
{
    if (s->bytes)
        sodium_free(s->bytes);
    s->bytes = NULL;
    s->len = 0;
}

static void mac(const cairn_auth_secret *s, const char *text, size_t len,
                unsigned char out[MAC_BYTES])
{
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, s->bytes, s->len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)text, len);
    crypto_auth_hmacsha256_final(&state, out);
}

bool cairn_auth_token_subject_valid(const char *sub)
{
    return cairn_auth_name_valid(sub) || strcmp(sub, CAIRN_AUTH_MEMBER) == 0;
}

bool cairn_auth_token_create(const cairn_auth_secret *s, const char *user, int64_t exp_s,
                             char *out, size_t out_len)
{
    if (!cairn_auth_token_subject_valid(user)) /* nothing to escape in the JSON below */
        return false;
    char payload[128];
    int n = snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":%lld}", user,
                     (long long)exp_s);
    if (n < 0 || (size_t)n >= sizeof payload)
        return false;
    char body[sizeof JWT_HEADER + 1 + sodium_base64_ENCODED_LEN(sizeof payload, B64)];
    size_t head = strlen(JWT_HEADER);
    memcpy(body, JWT_HEADER ".", head + 1);
    sodium_bin2base64(body + head + 1, sizeof body - head - 1, (const unsigned char *)payload,
                      (size_t)n, B64);
    unsigned char sig[MAC_BYTES];
    mac(s, body, strlen(body), sig);
    char sig64[sodium_base64_ENCODED_LEN(MAC_BYTES, B64)];
    sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, B64);
    n = snprintf(out, out_len, "%s.%s", body, sig64);
    return n > 0 && (size_t)n < out_len;
}

/* The claims of a payload whose signature was checked. */
static cairn_token_result read_claims(const char *p64, size_t len, int64_t now_s,
                                      char user[CAIRN_AUTH_NAME_MAX + 1])
{
    unsigned char payload[256];
    size_t n;
    if (sodium_base642bin(payload, sizeof payload - 1, p64, len, NULL, &n, NULL, B64) != 0)
        return CAIRN_TOKEN_INVALID;
    json_t *claims = json_loadb((const char *)payload, n, JSON_REJECT_DUPLICATES, NULL);
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_t *exp = json_object_get(claims, "exp");
    cairn_token_result r = CAIRN_TOKEN_INVALID;
    if (sub && cairn_auth_token_subject_valid(sub) && json_is_integer(exp)) {
        r = json_integer_value(exp) <= now_s ? CAIRN_TOKEN_EXPIRED : CAIRN_TOKEN_OK;
        snprintf(user, CAIRN_AUTH_NAME_MAX + 1, "%s", sub);
    }
    json_decref(claims);
    return r;
}

cairn_token_result cairn_auth_token_verify(const cairn_auth_secret *s, const char *token,
                                           int64_t now_s, char user[CAIRN_AUTH_NAME_MAX + 1])
{
    size_t head = strlen(JWT_HEADER);
    if (!s->bytes || strlen(token) > CAIRN_AUTH_TOKEN_MAX ||
        token[strspn(token, TOKEN_CHARS)] != '\0' || strncmp(token, JWT_HEADER ".", head + 1) != 0)
        return CAIRN_TOKEN_INVALID;
    const char *p64 = token + head + 1;
    const char *dot = strchr(p64, '.');
    if (!dot)
        return CAIRN_TOKEN_INVALID;
    unsigned char want[MAC_BYTES], got[MAC_BYTES];
    size_t n;
    if (sodium_base642bin(got, sizeof got, dot + 1, strlen(dot + 1), NULL, &n, NULL, B64) != 0 ||
        n != MAC_BYTES)
        return CAIRN_TOKEN_INVALID;
    mac(s, token, (size_t)(dot - token), want);
    if (crypto_verify_32(want, got) != 0)
        return CAIRN_TOKEN_INVALID;
    return read_claims(p64, (size_t)(dot - p64), now_s, user);
}

static bool host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return strcmp(host, "localhost") == 0;
}

cairn_err cairn_auth_config_check(const cairn_config *cfg, bool with_secret, cairn_status *st)
{
    if (!cairn_config_bool(cfg, "auth.enabled"))
        return CAIRN_OK;
    static const char suffix[] = ".admin_listen";
    for (const cairn_config_key *k = cairn_config_reference; k->key; k++) {
        size_t n = strlen(k->key);
        if (n < sizeof suffix || strcmp(k->key + n - (sizeof suffix - 1), suffix) != 0)
            continue;
        char host[256];
        uint16_t port;
        cairn_config_address(cfg, k->key, host, sizeof host, &port);
        if (!host_is_loopback(host))
            return cairn_fail(st, CAIRN_E_INVALID,
                              "config: %s: must be a loopback address while auth.enabled is "
                              "true (its /metrics and /health answer without a user), not %s",
                              k->key, host);
    }
    if (!with_secret)
        return CAIRN_OK;
    cairn_auth_secret secret;
    if (cairn_auth_secret_load(cairn_config_string(cfg, "auth.token_secret_file"), &secret, st) !=
        CAIRN_OK)
        return st->code;
    cairn_auth_secret_free(&secret);
    return CAIRN_OK;
}
