/* Credentials, the password cache and the login endpoint; the users and the secret are the
 * shared store's (cairn_auth_store.h). */
#include "gateway_auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn_auth.h"
#include "cairn_auth_store.h"
#include "cairn_log.h"
#include "gateway_prometheus.h"
#include "gateway_reply.h"

#define DIGEST_BYTES 32

enum result {
    R_ALLOWED,
    R_NO_USER,
    R_UNKNOWN_USER,
    R_TOKEN_EXPIRED,
    R_TOKEN_INVALID,
    R_FORBIDDEN,
    R_LOGIN,
    R_LOGIN_FAILED,
    R__COUNT
};
static const char *const result_names[R__COUNT] = {
    "allowed", "no_user", "unknown_user", "token_expired",
    "token_invalid", "forbidden", "login", "login_failed",
};
/* The 403 texts of Nacos 1.4.8 (NacosAuthManager), by result; the token ones are the store's. */
static const char *result_text(enum result r)
{
    switch (r) {
    case R_NO_USER:
        return cairn_auth_result_text(CAIRN_AUTH_NO_USER);
    case R_TOKEN_EXPIRED:
        return cairn_auth_result_text(CAIRN_AUTH_TOKEN_EXPIRED);
    case R_TOKEN_INVALID:
        return cairn_auth_result_text(CAIRN_AUTH_TOKEN_INVALID);
    case R_FORBIDDEN:
        return cairn_auth_result_text(CAIRN_AUTH_FORBIDDEN);
    default:
        return "unknown user!";
    }
}

struct gateway_auth {
    bool enabled;
    int64_t ttl_s;
    cairn_auth_store *store; /* the secret and the users, reloaded as the file changes */
    cairn_counter *results[R__COUNT];

    pthread_mutex_t cache_lock; /* guards cache */
    unsigned char cache_key[crypto_generichash_KEYBYTES];
    unsigned char (*cache)[DIGEST_BYTES];
};

static void count(gateway_auth *a, enum result r)
{
    if (a->results[r])
        cairn_counter_inc(a->results[r]);
}

static void maybe_reload(gateway_auth *a, int64_t now_ms)
{
    cairn_auth_store_refresh(a->store, now_ms);
}

gateway_auth *gateway_auth_open(const cairn_config *cfg, cairn_metrics *m, cairn_status *st)
{
    gateway_auth *a = calloc(1, sizeof *a);
    if (!a || sodium_init() < 0 ||
        !(a->cache = calloc(GATEWAY_AUTH_CACHE_SLOTS, sizeof a->cache[0]))) {
        free(a);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    a->ttl_s = cairn_config_int(cfg, "auth.token_ttl_s");
    pthread_mutex_init(&a->cache_lock, NULL);
    randombytes_buf(a->cache_key, sizeof a->cache_key);
    for (int r = 0; r < R__COUNT; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "result=\"%s\"", result_names[r]);
        a->results[r] = m ? cairn_metrics_counter(m, "auth_total",
                                                  "Authentication decisions and logins by result.",
                                                  labels)
                          : NULL;
    }
    if (!(a->store = cairn_auth_store_open(cfg, st))) {
        gateway_auth_close(a);
        return NULL;
    }
    a->enabled = cairn_auth_store_enabled(a->store);
    return a;
}

void gateway_auth_close(gateway_auth *a)
{
    if (!a)
        return;
    cairn_auth_store_close(a->store);
    pthread_mutex_destroy(&a->cache_lock);
    sodium_memzero(a->cache_key, sizeof a->cache_key);
    free(a->cache);
    free(a);
}

bool gateway_auth_enabled(const gateway_auth *a)
{
    return a->enabled;
}

/* The cache's digest of a (user, password, stored hash) triple. */
static void digest(const gateway_auth *a, const char *user, const char *password,
                   const char *hash, unsigned char out[DIGEST_BYTES])
{
    crypto_generichash_state s;
    crypto_generichash_init(&s, a->cache_key, sizeof a->cache_key, DIGEST_BYTES);
    crypto_generichash_update(&s, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&s, (const unsigned char *)password, strlen(password) + 1);
    crypto_generichash_update(&s, (const unsigned char *)hash, strlen(hash) + 1);
    crypto_generichash_final(&s, out, DIGEST_BYTES);
}

static size_t slot_of(const unsigned char d[DIGEST_BYTES])
{
    uint64_t x;
    memcpy(&x, d, sizeof x);
    return (size_t)(x % GATEWAY_AUTH_CACHE_SLOTS);
}

static bool cache_has(gateway_auth *a, const unsigned char d[DIGEST_BYTES])
{
    pthread_mutex_lock(&a->cache_lock);
    bool hit = sodium_memcmp(a->cache[slot_of(d)], d, DIGEST_BYTES) == 0;
    pthread_mutex_unlock(&a->cache_lock);
    return hit;
}

static void cache_put(gateway_auth *a, const unsigned char d[DIGEST_BYTES])
{
    pthread_mutex_lock(&a->cache_lock);
    memcpy(a->cache[slot_of(d)], d, DIGEST_BYTES);
    pthread_mutex_unlock(&a->cache_lock);
}

/* What a request asks for, read once. */
typedef struct credentials {
    const char *token;    /* NULL: none */
    const char *username; /* with password; NULL: none */
    const char *password;
} credentials;

static credentials credentials_of(const gateway_request *req)
{
    credentials c = {0};
    const char *h = req->authorization;
    if (h && strncmp(h, "Bearer ", 7) == 0 && h[7]) {
        c.token = h + 7;
        return c;
    }
    c.token = gateway_params_get(req->params, "accessToken");
    if (!c.token) {
        c.username = gateway_params_get(req->params, "username");
        c.password = gateway_params_get(req->params, "password");
        if (!c.username || !c.password)
            c.username = c.password = NULL;
    }
    return c;
}

/* The namespace of a Prometheus path, into ns; false when it names none (every namespace). */
static bool prometheus_namespace(const char *path, char *ns, size_t len)
{
    static const char root[] = GATEWAY_PROMETHEUS_ROOT "/namespaceId/";
    if (strncmp(path, root, sizeof root - 1) != 0)
        return false;
    const char *p = path + sizeof root - 1;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= len)
        return false;
    memcpy(ns, p, n);
    ns[n] = '\0';
    return true;
}

static bool permits(const char *roles, gateway_access need, const gateway_request *req)
{
    char ns[256];
    switch (need) {
    case GATEWAY_ACCESS_OPEN:
    case GATEWAY_ACCESS_USER:
        return true;
    case GATEWAY_ACCESS_READ:
    case GATEWAY_ACCESS_WRITE:
        return cairn_auth_allows(roles,
                                 need == GATEWAY_ACCESS_READ ? CAIRN_AUTH_READ : CAIRN_AUTH_WRITE,
                                 gateway_param_optional(req->params, "namespaceId", "public"));
    case GATEWAY_ACCESS_ADMIN:
        return cairn_auth_allows(roles, CAIRN_AUTH_ADMIN, NULL);
    case GATEWAY_ACCESS_READ_PATH:
        return cairn_auth_allows(roles, CAIRN_AUTH_READ,
                                 prometheus_namespace(req->path, ns, sizeof ns) ? ns : NULL);
    }
    return false;
}

/* With the users read-locked (users): the user named by c, or NULL with *why set. A password is
 * looked up in the cache only; a miss sets *slow_needed (warm_cache then decides). */
static const cairn_auth_user *identify(gateway_auth *a, const cairn_auth_users *users,
                                       const credentials *c, int64_t now_ms, bool *slow_needed,
                                       enum result *why)
{
    if (c->token) {
        static const enum result of[] = {
            [CAIRN_AUTH_OK] = R_ALLOWED,
            [CAIRN_AUTH_NO_USER] = R_TOKEN_INVALID, /* an empty token */
            [CAIRN_AUTH_TOKEN_EXPIRED] = R_TOKEN_EXPIRED,
            [CAIRN_AUTH_TOKEN_INVALID] = R_TOKEN_INVALID,
            [CAIRN_AUTH_FORBIDDEN] = R_FORBIDDEN, /* a user deleted since the login */
        };
        cairn_auth_result r;
        const cairn_auth_user *u = cairn_auth_store_token_user(a->store, users, c->token, now_ms, &r);
        *why = of[r];
        return u;
    }
    if (!c->username) {
        *why = R_NO_USER;
        return NULL;
    }
    const cairn_auth_user *u = cairn_auth_users_find(users, c->username);
    *why = R_UNKNOWN_USER;
    if (!u)
        return NULL;
    unsigned char d[DIGEST_BYTES];
    digest(a, u->name, c->password, u->hash, d);
    if (!cache_has(a, d)) {
        *slow_needed = true;
        return NULL;
    }
    *why = R_ALLOWED;
    return u;
}

/* Verifies c's password with argon2id (tens of ms), holding no lock, and remembers the triple
 * when it matches. */
static void warm_cache(gateway_auth *a, const credentials *c)
{
    char hash[CAIRN_AUTH_HASH_MAX] = "";
    const cairn_auth_users *users = cairn_auth_store_lock(a->store);
    const cairn_auth_user *u = cairn_auth_users_find(users, c->username);
    if (u)
        snprintf(hash, sizeof hash, "%s", u->hash);
    cairn_auth_store_unlock(a->store);
    if (!hash[0] || !cairn_auth_password_matches(hash, c->password))
        return;
    unsigned char d[DIGEST_BYTES];
    digest(a, c->username, c->password, hash, d);
    cache_put(a, d);
}

/* Who c is and whether need is granted: *why. True when the cache missed and slow is false. */
static bool decide(gateway_auth *a, const credentials *c, const gateway_request *req,
                   gateway_access need, int64_t now_ms, bool slow, enum result *why,
                   bool *admin)
{
    for (int pass = 0;; pass++) {
        bool slow_needed = false;
        const cairn_auth_users *users = cairn_auth_store_lock(a->store);
        const cairn_auth_user *u = identify(a, users, c, now_ms, &slow_needed, why);
        if (u && req && !permits(u->roles, need, req))
            *why = R_FORBIDDEN;
        if (u && admin)
            *admin = cairn_auth_allows(u->roles, CAIRN_AUTH_ADMIN, NULL);
        cairn_auth_store_unlock(a->store);
        if (!slow_needed || pass > 0)
            return false; /* a second miss: the password is wrong (*why says unknown user) */
        if (!slow)
            return true;
        warm_cache(a, c);
    }
}

static gateway_auth_verdict check(gateway_auth *a, const gateway_request *req,
                                  gateway_access need, int64_t now_ms, bool slow,
                                  gateway_response *resp)
{
    if (!a->enabled || need == GATEWAY_ACCESS_OPEN)
        return GATEWAY_AUTH_ALLOWED;
    maybe_reload(a, now_ms);
    credentials c = credentials_of(req);
    enum result why;
    if (decide(a, &c, req, need, now_ms, slow, &why, NULL))
        return GATEWAY_AUTH_SLOW;
    count(a, why);
    if (why == R_ALLOWED)
        return GATEWAY_AUTH_ALLOWED;
    gateway_reply_text(resp, 403, "%s", result_text(why));
    return GATEWAY_AUTH_DENIED;
}

gateway_auth_verdict gateway_auth_check(gateway_auth *a, const gateway_request *req,
                                        gateway_access need, int64_t now_ms,
                                        gateway_response *resp)
{
    return check(a, req, need, now_ms, false, resp);
}

gateway_auth_verdict gateway_auth_check_slow(gateway_auth *a, const gateway_request *req,
                                             gateway_access need, int64_t now_ms,
                                             gateway_response *resp)
{
    return check(a, req, need, now_ms, true, resp);
}

static void reply_login(gateway_auth *a, gateway_response *resp, const char *token,
                        const char *user, bool admin)
{
    gateway_reply_json(resp, json_pack("{s:s, s:I, s:b, s:s}", "accessToken", token, "tokenTtl",
                                       (json_int_t)a->ttl_s, "globalAdmin", admin, "username",
                                       user));
}

void gateway_auth_login(gateway_auth *a, const gateway_request *req, int64_t now_ms,
                        gateway_response *resp)
{
    const char *user = gateway_params_get(req->params, "username");
    const char *password = gateway_params_get(req->params, "password");
    if (!user || !password) {
        gateway_reply_text(resp, 400, "Required String parameter '%s' is not present",
                           user ? "password" : "username");
        return;
    }
    if (!a->enabled) {
        reply_login(a, resp, "", user, true);
        return;
    }
    maybe_reload(a, now_ms);
    credentials c = {.username = user, .password = password};
    enum result why;
    bool admin = false;
    char token[CAIRN_AUTH_TOKEN_MAX];
    decide(a, &c, NULL, GATEWAY_ACCESS_USER, now_ms, true, &why, &admin);
    bool ok = why == R_ALLOWED &&
              cairn_auth_token_create(cairn_auth_store_secret(a->store), user, now_ms / 1000 + a->ttl_s, token,
                                      sizeof token);
    count(a, ok ? R_LOGIN : R_LOGIN_FAILED);
    if (!ok) {
        gateway_reply_text(resp, 403, "%s", result_text(R_LOGIN_FAILED));
        return;
    }
    reply_login(a, resp, token, user, admin);
}
