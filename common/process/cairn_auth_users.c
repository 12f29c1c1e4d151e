/* The users file, roles and password hashes (cairn_auth.h). */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_auth.h"
#include "cairn_files.h"

/* argon2id with OWASP's lighter setting (19 MiB, 2 passes): tens of milliseconds per check. */
#define PWHASH_OPSLIMIT 2
#define PWHASH_MEMLIMIT (19u * 1024u * 1024u)

static bool sodium_ready(void)
{
    return sodium_init() >= 0;
}

bool cairn_auth_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CAIRN_AUTH_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._@-", *p)))
            return false;
    return true;
}

/* Calls fn for each comma-separated role of roles (empty items skipped); stops at the first
 * true and returns it. */
static bool each_role(const char *roles, bool (*fn)(const char *role, size_t len, void *arg),
                      void *arg)
{
    const char *p = roles;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && fn(p, len, arg))
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

static bool has_prefix(const char *role, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len > n && strncmp(role, prefix, n) == 0;
}

/* A namespace of a role: no ':' (the file's separator), ',' (the list's) or white space. */
static bool ns_valid(const char *ns, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (ns[i] == ':' || ns[i] == ',' || (unsigned char)ns[i] <= ' ')
            return false;
    return len > 0;
}

static bool role_is_bad(const char *role, size_t len, void *arg)
{
    if (len == 5 && strncmp(role, "admin", 5) == 0)
        return false;
    if (has_prefix(role, len, "read:") && ns_valid(role + 5, len - 5))
        return false;
    if (has_prefix(role, len, "write:") && ns_valid(role + 6, len - 6))
        return false;
    cairn_status *st = arg;
    cairn_fail(st, CAIRN_E_INVALID,
               "role '%.*s' is not admin, read:<namespace> or write:<namespace> (* for all)",
               (int)len, role);
    return true;
}

cairn_err cairn_auth_roles_check(const char *roles, cairn_status *st)
{
    return each_role(roles, role_is_bad, st) ? st->code : CAIRN_OK;
}

typedef struct grant_query {
    cairn_auth_action action;
    const char *ns; /* NULL: every namespace */
} grant_query;

static bool role_grants(const char *role, size_t len, void *arg)
{
    const grant_query *q = arg;
    if (len == 5 && strncmp(role, "admin", 5) == 0)
        return true;
    if (q->action == CAIRN_AUTH_ADMIN)
        return false;
    size_t skip;
    if (has_prefix(role, len, "write:"))
        skip = 6; /* write implies read */
    else if (has_prefix(role, len, "read:") && q->action == CAIRN_AUTH_READ)
        skip = 5;
    else
        return false;
    const char *ns = role + skip;
    size_t ns_len = len - skip;
    if (ns_len == 1 && ns[0] == '*')
        return true;
    return q->ns && strlen(q->ns) == ns_len && strncmp(q->ns, ns, ns_len) == 0;
}

bool cairn_auth_allows(const char *roles, cairn_auth_action action, const char *ns)
{
    grant_query q = {.action = action, .ns = ns};
    return each_role(roles, role_grants, &q);
}

cairn_err cairn_auth_hash_password(const char *password, char hash[CAIRN_AUTH_HASH_MAX],
                                   cairn_status *st)
{
    if (!sodium_ready())
        return cairn_fail(st, CAIRN_E_INTERNAL, "libsodium cannot start");
    if (crypto_pwhash_str_alg(hash, password, strlen(password), PWHASH_OPSLIMIT, PWHASH_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory hashing the password");
    return CAIRN_OK;
}

bool cairn_auth_password_matches(const char *hash, const char *password)
{
    return sodium_ready() && crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void cairn_auth_users_free(cairn_auth_users *u)
{
    for (size_t i = 0; i < u->len; i++)
        free(u->items[i].roles);
    free(u->items);
    u->items = NULL;
    u->len = 0;
}

const cairn_auth_user *cairn_auth_users_find(const cairn_auth_users *u, const char *name)
{
    for (size_t i = 0; i < u->len; i++)
        if (strcmp(u->items[i].name, name) == 0)
            return &u->items[i];
    return NULL;
}

cairn_err cairn_auth_users_put(cairn_auth_users *u, const char *name, const char *hash,
                               const char *roles, cairn_status *st)
{
    if (!cairn_auth_name_valid(name))
        return cairn_fail(st, CAIRN_E_INVALID,
                          "user name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ @ -", name,
                          CAIRN_AUTH_NAME_MAX);
    if (strlen(hash) >= CAIRN_AUTH_HASH_MAX || strchr(hash, ':') || strchr(hash, '\n'))
        return cairn_fail(st, CAIRN_E_INVALID, "user %s: malformed password hash", name);
    if (cairn_auth_roles_check(roles, st) != CAIRN_OK)
        return st->code;
    char *r = strdup(roles);
    if (!r)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    cairn_auth_user *user = (cairn_auth_user *)cairn_auth_users_find(u, name);
    if (!user) {
        cairn_auth_user *items = realloc(u->items, (u->len + 1) * sizeof *items);
        if (!items) {
            free(r);
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        }
        u->items = items;
        user = &items[u->len++];
        memset(user, 0, sizeof *user);
        snprintf(user->name, sizeof user->name, "%s", name);
    }
    free(user->roles);
    user->roles = r;
    snprintf(user->hash, sizeof user->hash, "%s", hash);
    return CAIRN_OK;
}

bool cairn_auth_users_remove(cairn_auth_users *u, const char *name)
{
    const cairn_auth_user *user = cairn_auth_users_find(u, name);
    if (!user)
        return false;
    size_t i = (size_t)(user - u->items);
    free(u->items[i].roles);
    memmove(&u->items[i], &u->items[i + 1], (u->len - i - 1) * sizeof u->items[0]);
    u->len--;
    return true;
}

/* One line `name:hash:roles` (without its newline) into u. */
static cairn_err parse_line(cairn_auth_users *u, char *line, const char *path, int lineno,
                            cairn_status *st)
{
    char *hash = strchr(line, ':');
    char *roles = hash ? strchr(hash + 1, ':') : NULL;
    if (!roles)
        return cairn_fail(st, CAIRN_E_INVALID, "%s:%d: expected name:hash:roles", path, lineno);
    *hash++ = '\0';
    *roles++ = '\0';
    if (cairn_auth_users_find(u, line))
        return cairn_fail(st, CAIRN_E_INVALID, "%s:%d: user %s appears twice", path, lineno,
                          line);
    if (cairn_auth_users_put(u, line, hash, roles, st) != CAIRN_OK)
        return cairn_fail(st, st->code, "%s:%d: %.400s", path, lineno, st->message);
    return CAIRN_OK;
}

cairn_err cairn_auth_users_load(const char *path, bool missing_ok, cairn_auth_users *out,
                                cairn_status *st)
{
    out->items = NULL;
    out->len = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT && missing_ok)
            return CAIRN_OK;
        return cairn_fail(st, CAIRN_E_INVALID, "cannot read the users file %s: %s", path,
                          strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    cairn_err rc = CAIRN_OK;
    while (rc == CAIRN_OK && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        rc = parse_line(out, line, path, lineno, st);
    }
    free(line);
    fclose(f);
    if (rc != CAIRN_OK)
        cairn_auth_users_free(out);
    return rc;
}

cairn_err cairn_auth_users_save(const char *path, const cairn_auth_users *u, cairn_status *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    fputs("# Cairn users: name:hash:roles (written by `cairn user`)\n", mem);
    for (size_t i = 0; i < u->len; i++)
        fprintf(mem, "%s:%s:%s\n", u->items[i].name, u->items[i].hash, u->items[i].roles);
    bool ok = fclose(mem) == 0;
    cairn_err rc = CAIRN_OK;
    if (!ok)
        rc = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    else if (cairn_write_file_atomic_mode(path, text, len, 0600) != 0)
        rc = cairn_fail(st, CAIRN_E_INTERNAL, "cannot write %s: %s", path, strerror(errno));
    free(text);
    return rc;
}

void cairn_auth_users_path(const cairn_config *cfg, char *buf, size_t len)
{
    const char *file = cairn_config_string(cfg, "auth.users_file");
    if (file[0])
        snprintf(buf, len, "%s", file);
    else
        snprintf(buf, len, "%s/users", cairn_config_string(cfg, "node.data_dir"));
}
