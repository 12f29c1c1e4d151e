/* The users and secret a running role checks callers against (cairn_auth_store.h). */
#include "cairn_auth_store.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cairn_log.h"

#define RELOAD_EVERY_MS 1000

struct cairn_auth_store {
    bool enabled;
    cairn_auth_secret secret;
    char users_path[PATH_MAX];
    pthread_rwlock_t users_lock; /* guards users */
    cairn_auth_users users;
    pthread_mutex_t reload_lock; /* one reloader at a time; guards seen */
    struct stat seen;            /* of the users file as last read (st_ino 0: absent) */
    _Atomic int64_t next_reload_ms;
};

static const char *const texts[] = {
    [CAIRN_AUTH_OK] = "",
    [CAIRN_AUTH_NO_USER] = "user not found!",
    [CAIRN_AUTH_TOKEN_EXPIRED] = "token expired!",
    [CAIRN_AUTH_TOKEN_INVALID] = "token invalid!",
    [CAIRN_AUTH_FORBIDDEN] = "authorization failed!",
};
static const char *const names[] = {
    [CAIRN_AUTH_OK] = "ok",
    [CAIRN_AUTH_NO_USER] = "no_user",
    [CAIRN_AUTH_TOKEN_EXPIRED] = "token_expired",
    [CAIRN_AUTH_TOKEN_INVALID] = "token_invalid",
    [CAIRN_AUTH_FORBIDDEN] = "forbidden",
};

const char *cairn_auth_result_text(cairn_auth_result r)
{
    return r <= CAIRN_AUTH_FORBIDDEN ? texts[r] : "authorization failed!";
}

const char *cairn_auth_result_name(cairn_auth_result r)
{
    return r <= CAIRN_AUTH_FORBIDDEN ? names[r] : "forbidden";
}

static bool same_file(const struct stat *x, const struct stat *y)
{
    return x->st_ino == y->st_ino && x->st_dev == y->st_dev && x->st_size == y->st_size &&
           x->st_mtim.tv_sec == y->st_mtim.tv_sec && x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

void cairn_auth_store_refresh(cairn_auth_store *a, int64_t now_ms)
{
    if (!a->enabled || now_ms < atomic_load(&a->next_reload_ms) ||
        pthread_mutex_trylock(&a->reload_lock) != 0)
        return;
    atomic_store(&a->next_reload_ms, now_ms + RELOAD_EVERY_MS);
    struct stat now;
    if (stat(a->users_path, &now) != 0)
        memset(&now, 0, sizeof now);
    if (!same_file(&now, &a->seen)) {
        cairn_auth_users fresh;
        cairn_status st;
        if (cairn_auth_users_load(a->users_path, true, &fresh, &st) == CAIRN_OK) {
            pthread_rwlock_wrlock(&a->users_lock);
            cairn_auth_users old = a->users;
            a->users = fresh;
            pthread_rwlock_unlock(&a->users_lock);
            cairn_auth_users_free(&old);
            log_info("auth: %zu users from %s", fresh.len, a->users_path);
        } else {
            log_warn("auth: keeping the users read before: %s", st.message);
        }
        a->seen = now;
    }
    pthread_mutex_unlock(&a->reload_lock);
}

cairn_auth_store *cairn_auth_store_open(const cairn_config *cfg, cairn_status *st)
{
    cairn_auth_store *a = calloc(1, sizeof *a);
    if (!a || sodium_init() < 0) {
        free(a);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    a->enabled = cairn_config_bool(cfg, "auth.enabled");
    cairn_auth_users_path(cfg, a->users_path, sizeof a->users_path);
    pthread_rwlock_init(&a->users_lock, NULL);
    pthread_mutex_init(&a->reload_lock, NULL);
    if (a->enabled) {
        if (cairn_auth_secret_load(cairn_config_string(cfg, "auth.token_secret_file"), &a->secret,
                                   st) != CAIRN_OK) {
            cairn_auth_store_close(a);
            return NULL;
        }
        cairn_auth_store_refresh(a, 0);
    }
    return a;
}

void cairn_auth_store_close(cairn_auth_store *a)
{
    if (!a)
        return;
    cairn_auth_secret_free(&a->secret);
    cairn_auth_users_free(&a->users);
    pthread_rwlock_destroy(&a->users_lock);
    pthread_mutex_destroy(&a->reload_lock);
    free(a);
}

bool cairn_auth_store_enabled(const cairn_auth_store *a)
{
    return a->enabled;
}

const cairn_auth_secret *cairn_auth_store_secret(const cairn_auth_store *a)
{
    return &a->secret;
}

const cairn_auth_users *cairn_auth_store_lock(cairn_auth_store *a)
{
    pthread_rwlock_rdlock(&a->users_lock);
    return &a->users;
}

void cairn_auth_store_unlock(cairn_auth_store *a)
{
    pthread_rwlock_unlock(&a->users_lock);
}

const cairn_auth_user *cairn_auth_store_token_user(const cairn_auth_store *a,
                                                   const cairn_auth_users *users,
                                                   const char *token, int64_t now_ms,
                                                   cairn_auth_result *why)
{
    if (!token || !*token) {
        *why = CAIRN_AUTH_NO_USER;
        return NULL;
    }
    char name[CAIRN_AUTH_NAME_MAX + 1];
    switch (cairn_auth_token_verify(&a->secret, token, now_ms / 1000, name)) {
    case CAIRN_TOKEN_OK:
        break;
    case CAIRN_TOKEN_EXPIRED:
        *why = CAIRN_AUTH_TOKEN_EXPIRED;
        return NULL;
    case CAIRN_TOKEN_INVALID:
    default:
        *why = CAIRN_AUTH_TOKEN_INVALID;
        return NULL;
    }
    static const cairn_auth_user member = {.name = CAIRN_AUTH_MEMBER, .roles = (char *)""};
    const cairn_auth_user *u = strcmp(name, CAIRN_AUTH_MEMBER) == 0
                                   ? &member /* no roles: what any user may do */
                                   : cairn_auth_users_find(users, name);
    *why = u ? CAIRN_AUTH_OK : CAIRN_AUTH_FORBIDDEN; /* a user deleted since the login */
    return u;
}

cairn_auth_result cairn_auth_store_check(cairn_auth_store *a, const char *token,
                                         cairn_auth_action action, const char *ns,
                                         int64_t now_ms)
{
    if (!a->enabled)
        return CAIRN_AUTH_OK;
    cairn_auth_store_refresh(a, now_ms);
    cairn_auth_result why;
    const cairn_auth_users *users = cairn_auth_store_lock(a);
    const cairn_auth_user *u = cairn_auth_store_token_user(a, users, token, now_ms, &why);
    if (u && !cairn_auth_allows(u->roles, action, ns))
        why = CAIRN_AUTH_FORBIDDEN;
    cairn_auth_store_unlock(a);
    return why;
}
