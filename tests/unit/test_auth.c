/* cairn_auth.h: roles, the users file, tokens (time as a parameter, so expiry needs no sleep). */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn_auth.h"

static const char *const KEY = "unit-test-secret-0123456789abcdef0123456789";

static cairn_auth_secret secret(const char *text)
{
    cairn_auth_secret s = {.bytes = (unsigned char *)text, .len = strlen(text)};
    return s;
}

Test(auth, roles_grant_by_action_and_namespace)
{
    cr_expect(cairn_auth_allows("admin", CAIRN_AUTH_ADMIN, NULL));
    cr_expect(cairn_auth_allows("admin", CAIRN_AUTH_WRITE, "x"));
    cr_expect(cairn_auth_allows("read:a", CAIRN_AUTH_READ, "a"));
    cr_expect(!cairn_auth_allows("read:a", CAIRN_AUTH_WRITE, "a"));
    cr_expect(!cairn_auth_allows("read:a", CAIRN_AUTH_READ, "ab"));
    cr_expect(!cairn_auth_allows("read:ab", CAIRN_AUTH_READ, "a"));
    cr_expect(cairn_auth_allows("write:a", CAIRN_AUTH_READ, "a"), "write implies read");
    cr_expect(!cairn_auth_allows("write:a", CAIRN_AUTH_WRITE, "b"));
    cr_expect(cairn_auth_allows("read:a,write:*", CAIRN_AUTH_WRITE, "b"));
    cr_expect(cairn_auth_allows("read:*", CAIRN_AUTH_READ, NULL), "* covers every namespace");
    cr_expect(!cairn_auth_allows("read:a", CAIRN_AUTH_READ, NULL));
    cr_expect(!cairn_auth_allows("write:*", CAIRN_AUTH_ADMIN, NULL));
    cr_expect(!cairn_auth_allows("", CAIRN_AUTH_READ, "public"));
    cairn_status st;
    cr_expect_eq(cairn_auth_roles_check("admin,read:a,write:*", &st), CAIRN_OK);
    cr_expect_eq(cairn_auth_roles_check("", &st), CAIRN_OK);
    cr_expect_neq(cairn_auth_roles_check("owner", &st), CAIRN_OK);
    cr_expect_neq(cairn_auth_roles_check("read:", &st), CAIRN_OK);
    cr_expect_neq(cairn_auth_roles_check("read:a:b", &st), CAIRN_OK);
    cr_expect_neq(cairn_auth_roles_check("read:a b", &st), CAIRN_OK);
}

Test(auth, tokens_verify_expire_and_resist_tampering)
{
    cairn_auth_secret s = secret(KEY), other = secret("another-secret-0123456789abcdef0123");
    char token[CAIRN_AUTH_TOKEN_MAX], user[CAIRN_AUTH_NAME_MAX + 1];
    cr_assert(cairn_auth_token_create(&s, "alice", 1000, token, sizeof token));
    cr_expect_eq(cairn_auth_token_verify(&s, token, 999, user), CAIRN_TOKEN_OK);
    cr_expect_str_eq(user, "alice");
    cr_expect_eq(cairn_auth_token_verify(&s, token, 1000, user), CAIRN_TOKEN_EXPIRED);
    cr_expect_eq(cairn_auth_token_verify(&other, token, 999, user), CAIRN_TOKEN_INVALID);
    for (size_t i = 0; token[i]; i++) { /* every one-character change is refused */
        char copy[CAIRN_AUTH_TOKEN_MAX];
        snprintf(copy, sizeof copy, "%s", token);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        cr_expect_neq(cairn_auth_token_verify(&s, copy, 999, user), CAIRN_TOKEN_OK, "at %zu", i);
    }
    cr_expect_eq(cairn_auth_token_verify(&s, "", 0, user), CAIRN_TOKEN_INVALID);
    cr_expect_eq(cairn_auth_token_verify(&s, "a.b.c", 0, user), CAIRN_TOKEN_INVALID);
    cr_expect(!cairn_auth_token_create(&s, "bad\"name", 1, token, sizeof token));
}

Test(auth, tokens_hold_only_base64url_and_dots)
{
    /* libsodium 1.0.18 decodes a byte above 0x7f as '_': in place of a '_' of a signature it
     * must not verify. Tokens of several expiries, so that their signatures hold '_'s. */
    cairn_auth_secret s = secret(KEY);
    char token[CAIRN_AUTH_TOKEN_MAX], user[CAIRN_AUTH_NAME_MAX + 1];
    int respelled = 0;
    for (int64_t exp = 1000; exp < 1016; exp++) {
        cr_assert(cairn_auth_token_create(&s, "alice", exp, token, sizeof token));
        cr_assert_eq(cairn_auth_token_verify(&s, token, 999, user), CAIRN_TOKEN_OK);
        for (char *u = strchr(strrchr(token, '.'), '_'); u; u = strchr(u + 1, '_')) {
            *u = (char)0xc1;
            cr_expect_eq(cairn_auth_token_verify(&s, token, 999, user), CAIRN_TOKEN_INVALID,
                         "%s", token);
            *u = '_';
            respelled++;
        }
    }
    cr_assert_gt(respelled, 0);
}

Test(auth, users_file_round_trip_mode_and_errors)
{
    char dir[] = "/tmp/cairn-auth-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/users", dir);
    cairn_auth_users u;
    cairn_status st;
    cr_assert_eq(cairn_auth_users_load(path, true, &u, &st), CAIRN_OK, "missing is empty");
    cr_expect_eq(u.len, 0);
    cr_expect_neq(cairn_auth_users_load(path, false, &u, &st), CAIRN_OK);
    char hash[CAIRN_AUTH_HASH_MAX];
    cr_assert_eq(cairn_auth_hash_password("pw", hash, &st), CAIRN_OK, "%s", st.message);
    cr_expect(cairn_auth_password_matches(hash, "pw"));
    cr_expect(!cairn_auth_password_matches(hash, "pW"));
    cr_assert_eq(cairn_auth_users_put(&u, "alice", hash, "admin", &st), CAIRN_OK);
    cr_assert_eq(cairn_auth_users_put(&u, "bob", hash, "read:a", &st), CAIRN_OK);
    cr_expect_neq(cairn_auth_users_put(&u, "b:c", hash, "", &st), CAIRN_OK);
    cr_expect_neq(cairn_auth_users_put(&u, "carol", hash, "root", &st), CAIRN_OK);
    cr_assert_eq(cairn_auth_users_save(path, &u, &st), CAIRN_OK, "%s", st.message);
    cairn_auth_users_free(&u);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600);
    cr_assert_eq(cairn_auth_users_load(path, false, &u, &st), CAIRN_OK, "%s", st.message);
    cr_expect_eq(u.len, 2);
    const cairn_auth_user *bob = cairn_auth_users_find(&u, "bob");
    cr_assert(bob);
    cr_expect_str_eq(bob->roles, "read:a");
    cr_expect(cairn_auth_password_matches(bob->hash, "pw"));
    cr_expect(cairn_auth_users_remove(&u, "alice"));
    cr_expect(!cairn_auth_users_remove(&u, "alice"));
    cr_expect_eq(u.len, 1);
    cairn_auth_users_free(&u);

    FILE *f = fopen(path, "w");
    fputs("# comment\n\nalice:h:admin\nalice:h:admin\n", f);
    fclose(f);
    cr_expect_neq(cairn_auth_users_load(path, false, &u, &st), CAIRN_OK);
    cr_expect(strstr(st.message, ":4:"), "names the line: %s", st.message);
    f = fopen(path, "w");
    fputs("alice-no-hash\n", f);
    fclose(f);
    cr_expect_neq(cairn_auth_users_load(path, false, &u, &st), CAIRN_OK);
    unlink(path);
    rmdir(dir);
}
