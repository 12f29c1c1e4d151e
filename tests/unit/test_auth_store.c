/* The shared check of token-carrying calls (cairn_auth_store.h): results and texts in Nacos'
 * words, permissions by action and namespace, a deleted user, and users file reloads, in
 * virtual time. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_auth_store.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

Test(auth_store, tokens_users_permissions_and_reloads)
{
    char dir[] = "/tmp/cairn-auth-store-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char secret[PATH_MAX], users[PATH_MAX], set_secret[PATH_MAX + 64], set_users[PATH_MAX + 64];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    snprintf(users, sizeof users, "%s/users", dir);
    write_file(secret, "unit-test-secret-0123456789abcdef0123456789\n");
    write_file(users, "app:h:write:public\nreader:h:read:public\n");
    snprintf(set_secret, sizeof set_secret, "auth.token_secret_file=%s", secret);
    snprintf(set_users, sizeof set_users, "auth.users_file=%s", users);
    const char *sets[] = {"auth.enabled=true", set_secret, set_users};
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, sets, 3, &st);
    cr_assert(cfg, "%s", st.message);
    cairn_auth_store *s = cairn_auth_store_open(cfg, &st);
    cr_assert(s, "%s", st.message);
    cr_expect(cairn_auth_store_enabled(s));

    const int64_t now = 1000000; /* ms */
    char app[CAIRN_AUTH_TOKEN_MAX], reader[CAIRN_AUTH_TOKEN_MAX], gone[CAIRN_AUTH_TOKEN_MAX];
    const cairn_auth_secret *sec = cairn_auth_store_secret(s);
    cr_assert(cairn_auth_token_create(sec, "app", now / 1000 + 100, app, sizeof app));
    cr_assert(cairn_auth_token_create(sec, "reader", now / 1000 + 100, reader, sizeof reader));
    cr_assert(cairn_auth_token_create(sec, "nobody", now / 1000 + 100, gone, sizeof gone));

    cr_expect_eq(cairn_auth_store_check(s, NULL, CAIRN_AUTH_READ, "public", now),
                 CAIRN_AUTH_NO_USER);
    cr_expect_eq(cairn_auth_store_check(s, "", CAIRN_AUTH_READ, "public", now), CAIRN_AUTH_NO_USER);
    cr_expect_eq(cairn_auth_store_check(s, "x.y.z", CAIRN_AUTH_READ, "public", now),
                 CAIRN_AUTH_TOKEN_INVALID);
    cr_expect_eq(cairn_auth_store_check(s, app, CAIRN_AUTH_WRITE, "public", now), CAIRN_AUTH_OK);
    cr_expect_eq(cairn_auth_store_check(s, app, CAIRN_AUTH_WRITE, "other", now),
                 CAIRN_AUTH_FORBIDDEN);
    cr_expect_eq(cairn_auth_store_check(s, reader, CAIRN_AUTH_READ, "public", now), CAIRN_AUTH_OK);
    cr_expect_eq(cairn_auth_store_check(s, reader, CAIRN_AUTH_WRITE, "public", now),
                 CAIRN_AUTH_FORBIDDEN);
    cr_expect_eq(cairn_auth_store_check(s, gone, CAIRN_AUTH_READ, "public", now),
                 CAIRN_AUTH_FORBIDDEN, "a token of a user not in the file");
    /* the members' own subject: a user with no roles, whom no users file can name */
    char member[CAIRN_AUTH_TOKEN_MAX];
    cr_assert(cairn_auth_token_create(sec, CAIRN_AUTH_MEMBER, now / 1000 + 100, member,
                                      sizeof member));
    cr_expect_not(cairn_auth_name_valid(CAIRN_AUTH_MEMBER));
    const cairn_auth_users *held = cairn_auth_store_lock(s);
    cairn_auth_result why;
    const cairn_auth_user *u = cairn_auth_store_token_user(s, held, member, now, &why);
    cr_expect_eq(why, CAIRN_AUTH_OK);
    cr_expect(u && strcmp(u->name, CAIRN_AUTH_MEMBER) == 0 && u->roles && !u->roles[0]);
    cairn_auth_store_unlock(s);
    cr_expect_eq(cairn_auth_store_check(s, member, CAIRN_AUTH_READ, "public", now),
                 CAIRN_AUTH_FORBIDDEN, "the members' token reads no namespace");
    cr_expect_eq(cairn_auth_store_check(s, member, CAIRN_AUTH_WRITE, "public", now),
                 CAIRN_AUTH_FORBIDDEN);
    cr_expect_str_eq(cairn_auth_result_text(CAIRN_AUTH_NO_USER), "user not found!");
    cr_expect_str_eq(cairn_auth_result_text(CAIRN_AUTH_TOKEN_INVALID), "token invalid!");
    cr_expect_str_eq(cairn_auth_result_text(CAIRN_AUTH_TOKEN_EXPIRED), "token expired!");
    cr_expect_str_eq(cairn_auth_result_text(CAIRN_AUTH_FORBIDDEN), "authorization failed!");

    /* the file changes: seen at the next look a second after the last one, not before */
    const int64_t later = now;
    write_file(users, "reader:h:read:public\n# app removed, reader unchanged, size differs\n");
    cr_expect_eq(cairn_auth_store_check(s, app, CAIRN_AUTH_WRITE, "public", later + 500),
                 CAIRN_AUTH_OK, "not reread within a second of the last look");
    cr_expect_eq(cairn_auth_store_check(s, app, CAIRN_AUTH_WRITE, "public", later + 1500),
                 CAIRN_AUTH_FORBIDDEN, "app is gone");
    /* a file that no longer parses keeps the users read before */
    write_file(users, "this is not a users file\n");
    cr_expect_eq(cairn_auth_store_check(s, reader, CAIRN_AUTH_READ, "public", later + 3000),
                 CAIRN_AUTH_OK);
    cr_expect_eq(cairn_auth_store_check(s, reader, CAIRN_AUTH_READ, "public", now + 100000),
                 CAIRN_AUTH_TOKEN_EXPIRED);

    cairn_auth_store_close(s);
    cairn_config_free(cfg);
    unlink(users);
    unlink(secret);
    rmdir(dir);
}

Test(auth_store, off_allows_everything_and_a_bad_secret_is_refused)
{
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, NULL, 0, &st);
    cr_assert(cfg);
    cairn_auth_store *s = cairn_auth_store_open(cfg, &st);
    cr_assert(s);
    cr_expect(!cairn_auth_store_enabled(s));
    cr_expect_eq(cairn_auth_store_check(s, NULL, CAIRN_AUTH_ADMIN, NULL, 0), CAIRN_AUTH_OK);
    cairn_auth_store_close(s);
    cairn_config_free(cfg);

    const char *sets[] = {"auth.enabled=true", "auth.token_secret_file=/nonexistent/secret"};
    cfg = cairn_config_load(NULL, sets, 2, &st);
    cr_assert(cfg, "%s", st.message);
    cr_expect_null(cairn_auth_store_open(cfg, &st));
    cairn_config_free(cfg);
}
