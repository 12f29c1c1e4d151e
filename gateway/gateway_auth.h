/* Who may call what (auth.enabled): the router asks here before any handler runs.
 *
 * A request names its user the way Nacos 1.4.8's NacosAuthManager reads it, first found wins:
 * the `Authorization: Bearer <token>` header, the `accessToken` parameter, then the `username`
 * and `password` parameters (the Node client sends these on every call). Refusals are 403 with
 * Nacos' texts: `user not found!` (no credentials), `unknown user!` (wrong user or password),
 * `token expired!`, `token invalid!`, `authorization failed!` (the user lacks the permission).
 * The user agent grants nothing.
 *
 * Cost: a token is checked with one HMAC (microseconds). A password is checked with argon2id,
 * tens of milliseconds on purpose, so a (user, password, stored hash) triple that passed once is
 * remembered as a keyed BLAKE2b digest (the key is random per process, the password itself is
 * never kept) in a fixed table of GATEWAY_AUTH_CACHE_SLOTS entries, a newer one replacing the
 * one in its slot. A triple not in the table is GATEWAY_AUTH_SLOW from gateway_auth_check: the
 * router then runs gateway_auth_check_slow on the offload pool, never on an HTTP thread. A
 * changed password or user changes the triple, so the table needs no invalidation.
 *
 * The secret and the users come from the node's shared store (cairn_auth_store.h, which
 * cairn-grpc uses too): the users file is reread when its inode, size or mtime change, looked at
 * no more than once a second (by the first request after that second; a few syscalls). A file
 * that fails to parse is logged and the users read before are kept.
 *
 * Metrics: auth_total{result}, result one of allowed, no_user, unknown_user, token_expired,
 * token_invalid, forbidden, login, login_failed.
 *
 * Thread-safety: every function may be called from any thread at once, after gateway_auth_open
 * and before gateway_auth_close. */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include "cairn_config.h"
#include "cairn_error.h"
#include "cairn_metrics.h"
#include "gateway_http.h"

#define GATEWAY_AUTH_CACHE_SLOTS 4096

/* What a route needs (gateway_router.c tags each route). */
typedef enum gateway_access {
    GATEWAY_ACCESS_OPEN,  /* anyone: login, console health, console files */
    GATEWAY_ACCESS_USER,  /* any known user (node-wide read-only views) */
    GATEWAY_ACCESS_READ,  /* read in the request's namespaceId (default public) */
    GATEWAY_ACCESS_WRITE, /* write in the request's namespaceId */
    GATEWAY_ACCESS_ADMIN, /* the admin role */
    GATEWAY_ACCESS_READ_PATH, /* read in the namespace named by a Prometheus path, every
                                 namespace when it names none */
} gateway_access;

typedef enum gateway_auth_verdict {
    GATEWAY_AUTH_ALLOWED,
    GATEWAY_AUTH_DENIED, /* resp holds the 403 */
    GATEWAY_AUTH_SLOW,   /* a password to verify: call gateway_auth_check_slow where waiting is
                            allowed */
} gateway_auth_verdict;

typedef struct gateway_auth gateway_auth;

/* Reads the auth.* keys; with auth.enabled, the secret and the users file (a missing users file
 * is an empty one: nobody can log in until `cairn user add`). NULL with *st set on failure. */
gateway_auth *gateway_auth_open(const cairn_config *cfg, cairn_metrics *m, cairn_status *st);
void gateway_auth_close(gateway_auth *a);
bool gateway_auth_enabled(const gateway_auth *a);

/* Decides req against need without waiting (an HTTP thread). now_ms: wall-clock milliseconds. */
gateway_auth_verdict gateway_auth_check(gateway_auth *a, const gateway_request *req,
                                        gateway_access need, int64_t now_ms,
                                        gateway_response *resp);
/* The same, verifying a password that is not in the cache (tens of ms); never SLOW. */
gateway_auth_verdict gateway_auth_check_slow(gateway_auth *a, const gateway_request *req,
                                             gateway_access need, int64_t now_ms,
                                             gateway_response *resp);

/* POST /nacos/v1/auth/login and /nacos/v1/auth/users/login (username, password): 200
 * {"accessToken","tokenTtl","globalAdmin","username"}, or 403 `unknown user!`. Verifies the
 * password: run it where waiting is allowed. With auth off every login succeeds with an empty
 * token (no call needs one). */
void gateway_auth_login(gateway_auth *a, const gateway_request *req, int64_t now_ms,
                        gateway_response *resp);

#endif
