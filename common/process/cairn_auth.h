/* Users, roles and access tokens: what the gateway checks and `cairn user` edits.
 *
 * The users file (auth.users_file) has one user a line, `name:hash:roles`; blank lines and lines
 * starting with '#' are skipped. name is 1..CAIRN_AUTH_NAME_MAX bytes of [A-Za-z0-9._@-]; hash
 * is libsodium's crypto_pwhash_str (argon2id, salted, with its own parameters); roles is a
 * comma-separated list of
 *   admin          everything: every namespace, service and cluster settings, operator writes
 *   read:<ns>      queries in namespace ns
 *   write:<ns>     instance writes (register, deregister, update, beat) and queries in ns
 * where ns `*` means every namespace. The empty list grants nothing but a login. The file is
 * written whole and atomically with mode 0600 (cairn_auth_users_save).
 *
 * Access tokens are JWTs (HS256: HMAC-SHA-256 over `header.payload`) with the claims `sub` (the
 * user) and `exp` (expiry, Unix seconds), signed with the secret of auth.token_secret_file (at
 * least CAIRN_AUTH_SECRET_MIN bytes, trailing white space dropped). Clients treat them as
 * opaque; nothing else is in them.
 *
 * Every function here is thread-safe and keeps no state: the caller owns every structure it
 * passes. Time comes in as a parameter (now_s). */
#ifndef CAIRN_AUTH_H
#define CAIRN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_config.h"
#include "cairn_error.h"

#define CAIRN_AUTH_NAME_MAX 64
#define CAIRN_AUTH_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define CAIRN_AUTH_PASSWORD_MAX 1024
#define CAIRN_AUTH_SECRET_MIN 32
#define CAIRN_AUTH_TOKEN_MAX 512
/* The subject of a token a cluster member mints for itself (with the shared
 * auth.token_secret_file) to read a peer's GET /nacos/v1/ns/operator/servers, where port-0 peer
 * and raft listeners are advertised. ':' is no user name character, so no user can hold it; it
 * counts as a user with no roles: the endpoints that need any user, and nothing else. */
#define CAIRN_AUTH_MEMBER "cairn:member"

typedef enum cairn_auth_action {
    CAIRN_AUTH_READ,
    CAIRN_AUTH_WRITE,
    CAIRN_AUTH_ADMIN,
} cairn_auth_action;

typedef struct cairn_auth_user {
    char name[CAIRN_AUTH_NAME_MAX + 1];
    char hash[CAIRN_AUTH_HASH_MAX];
    char *roles; /* malloc'd, as in the file ("" for none) */
} cairn_auth_user;

typedef struct cairn_auth_users {
    cairn_auth_user *items;
    size_t len;
} cairn_auth_users;

/* ---- the users file ---------------------------------------------------------------------- */
/* Reads path into *out (initialised here, empty on error). A missing file is an empty list when
 * missing_ok, else an error; a malformed line is an error naming the line. */
cairn_err cairn_auth_users_load(const char *path, bool missing_ok, cairn_auth_users *out,
                                cairn_status *st);
/* Writes every user to path, atomically, mode 0600. */
cairn_err cairn_auth_users_save(const char *path, const cairn_auth_users *u, cairn_status *st);
void cairn_auth_users_free(cairn_auth_users *u);
/* The user called name, or NULL; valid until u changes. */
const cairn_auth_user *cairn_auth_users_find(const cairn_auth_users *u, const char *name);
/* Adds the user, or replaces the hash and roles of the one of that name. */
cairn_err cairn_auth_users_put(cairn_auth_users *u, const char *name, const char *hash,
                               const char *roles, cairn_status *st);
/* False when there is no such user. */
bool cairn_auth_users_remove(cairn_auth_users *u, const char *name);
/* The file the node uses: auth.users_file, or <node.data_dir>/users. */
void cairn_auth_users_path(const cairn_config *cfg, char *buf, size_t len);

bool cairn_auth_name_valid(const char *name);
/* 400-style error naming the first role that is not admin, read:<ns> or write:<ns>. */
cairn_err cairn_auth_roles_check(const char *roles, cairn_status *st);

/* ---- permissions ------------------------------------------------------------------------- */
/* Whether roles grant action in namespace ns (NULL: in every namespace at once, which only
 * `*` roles and admin grant). ADMIN ignores ns. */
bool cairn_auth_allows(const char *roles, cairn_auth_action action, const char *ns);

/* ---- passwords (slow on purpose: tens of milliseconds and ~19 MiB each) ------------------ */
cairn_err cairn_auth_hash_password(const char *password, char hash[CAIRN_AUTH_HASH_MAX],
                                   cairn_status *st);
bool cairn_auth_password_matches(const char *hash, const char *password);

/* ---- tokens ------------------------------------------------------------------------------ */
typedef struct cairn_auth_secret {
    unsigned char *bytes;
    size_t len;
} cairn_auth_secret;

/* Reads the secret file (at least CAIRN_AUTH_SECRET_MIN bytes once trailing white space is
 * dropped). */
cairn_err cairn_auth_secret_load(const char *path, cairn_auth_secret *out, cairn_status *st);
void cairn_auth_secret_free(cairn_auth_secret *s);

typedef enum cairn_token_result {
    CAIRN_TOKEN_OK,
    CAIRN_TOKEN_EXPIRED, /* well signed, exp <= now_s */
    CAIRN_TOKEN_INVALID, /* anything else */
} cairn_token_result;

/* Whether sub may be a token's subject: a valid user name, or CAIRN_AUTH_MEMBER (neither needs
 * escaping in JSON). */
bool cairn_auth_token_subject_valid(const char *sub);
/* The token of user (a valid name, or CAIRN_AUTH_MEMBER) valid until exp_s, into out
 * (CAIRN_AUTH_TOKEN_MAX); false if it does not fit. */
bool cairn_auth_token_create(const cairn_auth_secret *s, const char *user, int64_t exp_s,
                             char *out, size_t out_len);
/* Checks the signature, then the expiry; on CAIRN_TOKEN_OK the user goes into user. Only the
 * exact text the secret signed verifies: a token holding anything but base64url characters and
 * dots is invalid. */
cairn_token_result cairn_auth_token_verify(const cairn_auth_secret *s, const char *token,
                                           int64_t now_s, char user[CAIRN_AUTH_NAME_MAX + 1]);

/* ---- start-up rules ---------------------------------------------------------------------- */
/* With auth.enabled: every *.admin_listen must be a loopback address (the admin listeners
 * answer without a user); and, when with_secret, the secret file must be readable and long
 * enough. Nothing is checked when auth is off. A failure is a configuration error
 * (CAIRN_EXIT_CONFIG) whose message names the key. */
cairn_err cairn_auth_config_check(const cairn_config *cfg, bool with_secret, cairn_status *st);

#endif
