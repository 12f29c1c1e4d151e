/* The node's users and token secret as a role holds them while it runs (auth.enabled), shared by
 * every role that checks callers: the gateway (v1 HTTP) and cairn-grpc (Nacos 2.x). One secret
 * and one users file, so a token from the gateway's login is good on every port of the node.
 *
 * The users file is reread when it changed (inode, size or mtime), at most once a second and
 * only from cairn_auth_store_refresh; a file that no longer parses keeps the users read before.
 * A missing users file is an empty list (every caller refused).
 *
 * Token checks follow Nacos' default auth plugin (NacosAuthPluginService + the JWT manager): no
 * token is "user not found!", a bad signature "token invalid!", a passed expiry "token expired!",
 * a user deleted since the login or without the permission "authorization failed!".
 *
 * Thread-safety: every function may be called from any thread at once, between open and close;
 * the users are behind a read-write lock (cairn_auth_store_lock for callers that need more than
 * a token check, e.g. the gateway's password logins). */
#ifndef CAIRN_AUTH_STORE_H
#define CAIRN_AUTH_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_auth.h"
#include "cairn_config.h"
#include "cairn_error.h"

typedef struct cairn_auth_store cairn_auth_store;

typedef enum cairn_auth_result {
    CAIRN_AUTH_OK,
    CAIRN_AUTH_NO_USER,       /* no credentials */
    CAIRN_AUTH_TOKEN_EXPIRED,
    CAIRN_AUTH_TOKEN_INVALID,
    CAIRN_AUTH_FORBIDDEN,     /* the user lacks the permission, or is gone */
} cairn_auth_result;

/* Nacos' text for a refusal ("user not found!", ...); "" for CAIRN_AUTH_OK. */
const char *cairn_auth_result_text(cairn_auth_result r);
/* A metric label for the result: ok, no_user, token_expired, token_invalid, forbidden. */
const char *cairn_auth_result_name(cairn_auth_result r);

/* Reads auth.enabled; when on, the secret (auth.token_secret_file: an error here is a
 * configuration error) and the users file. NULL with st set on failure. */
cairn_auth_store *cairn_auth_store_open(const cairn_config *cfg, cairn_status *st);
void cairn_auth_store_close(cairn_auth_store *s);
bool cairn_auth_store_enabled(const cairn_auth_store *s);
/* Valid while s is open; empty when auth is off. */
const cairn_auth_secret *cairn_auth_store_secret(const cairn_auth_store *s);

/* Rereads the users file if it changed and the last look is a second old (now_ms: wall clock,
 * as everywhere here). */
void cairn_auth_store_refresh(cairn_auth_store *s, int64_t now_ms);

/* Read-locks the users and returns them; every pointer into them is valid until the unlock. */
const cairn_auth_users *cairn_auth_store_lock(cairn_auth_store *s);
void cairn_auth_store_unlock(cairn_auth_store *s);

/* With the users locked (users from cairn_auth_store_lock): the user a token names, or NULL with
 * *why saying what is wrong. token NULL or "" is CAIRN_AUTH_NO_USER. A token of
 * CAIRN_AUTH_MEMBER names a static user of that name with no roles. */
const cairn_auth_user *cairn_auth_store_token_user(const cairn_auth_store *s,
                                                   const cairn_auth_users *users,
                                                   const char *token, int64_t now_ms,
                                                   cairn_auth_result *why);

/* The whole check of a token-carrying call: refresh, the token's user, then whether its roles
 * grant action in namespace ns (cairn_auth_allows). CAIRN_AUTH_OK when auth is off. */
cairn_auth_result cairn_auth_store_check(cairn_auth_store *s, const char *token,
                                         cairn_auth_action action, const char *ns,
                                         int64_t now_ms);

#endif
