/* The ownership view and the grace rule (replicator/distro_view.h, distro_grace.h). Owner
 * indexes are Java's abs(hashCode % Integer.MAX_VALUE) % n, computed once outside the project:
 *   "DEFAULT_GROUP@@demo"  -> n=2: 0, n=3: 1
 *   "DEFAULT_GROUP@@svc-1" -> n=2: 1, n=3: 2
 *   "DEFAULT_GROUP@@svc-3" -> n=2: 1, n=3: 0 */
#include <criterion/criterion.h>
#include <string.h>

#include "distro_grace.h"
#include "distro_view.h"

/* In sorted order: "127.0.0.10:8848" < "127.0.0.1:8848" ('0' < ':') < "127.0.0.2:8848". */
static const char *A = "127.0.0.10:8848", *B = "127.0.0.1:8848", *C = "127.0.0.2:8848";

static distro_view *view(const char *self, size_t n, const char *m0, const char *m1,
                         const char *m2)
{
    const char *m[3] = {m0, m1, m2};
    distro_view *v = distro_view_new(m, n, self);
    cr_assert_not_null(v);
    return v;
}

Test(distro_view, sorted_as_strings_and_deduplicated)
{
    distro_view *v = view(A, 3, C, A, B);
    cr_assert_eq(distro_view_size(v), 3);
    /* byte order, which is Java's String order for ASCII: "127.0.0.10:8848" first */
    cr_expect_str_eq(distro_view_member(v, 0), A);
    cr_expect_str_eq(distro_view_member(v, 1), B);
    cr_expect_str_eq(distro_view_member(v, 2), C);
    distro_view *d = view(A, 3, C, C, A);
    cr_expect_eq(distro_view_size(d), 2);
    cr_expect(distro_view_contains(d, C));
    cr_expect_not(distro_view_contains(d, B));
    distro_view_free(v);
    distro_view_free(d);
}

Test(distro_view, owner_golden_values)
{
    distro_view *v3 = view(A, 3, C, B, A);
    cr_expect_str_eq(distro_view_owner_of(v3, "DEFAULT_GROUP@@demo"), B);
    cr_expect_str_eq(distro_view_owner_of(v3, "DEFAULT_GROUP@@svc-1"), C);
    cr_expect_str_eq(distro_view_owner_of(v3, "DEFAULT_GROUP@@svc-3"), A);
    cr_expect(distro_view_self_owns(v3, "DEFAULT_GROUP@@svc-3"));
    cr_expect_not(distro_view_self_owns(v3, "DEFAULT_GROUP@@demo"));
    distro_view *v2 = view(A, 2, A, C, NULL);
    cr_expect_str_eq(distro_view_owner_of(v2, "DEFAULT_GROUP@@demo"), A);
    cr_expect_str_eq(distro_view_owner_of(v2, "DEFAULT_GROUP@@svc-1"), C);
    distro_view_free(v3);
    distro_view_free(v2);
}

Test(distro_view, empty_view_owns_nothing)
{
    distro_view *e = view(A, 0, NULL, NULL, NULL);
    cr_expect_null(distro_view_owner_of(e, "DEFAULT_GROUP@@demo"));
    cr_expect_not(distro_view_self_owns(e, "DEFAULT_GROUP@@demo"));
    cr_expect_null(distro_view_owner_of(NULL, "DEFAULT_GROUP@@demo"));
    /* self missing from the list (not READY): owns nothing, unlike Nacos' "owns everything" */
    distro_view *v = view(A, 2, B, C, NULL);
    cr_expect_not(distro_view_self_owns(v, "DEFAULT_GROUP@@demo"));
    cr_expect_not(distro_view_self_owns(v, "DEFAULT_GROUP@@svc-1"));
    distro_view_free(e);
    distro_view_free(v);
}

Test(distro_view, hash_depends_on_the_set_only)
{
    distro_view *x = view(A, 3, A, B, C), *y = view(C, 3, C, B, A), *z = view(A, 2, A, B, NULL);
    cr_expect_eq(distro_view_hash(x), distro_view_hash(y));
    cr_expect_neq(distro_view_hash(x), distro_view_hash(z));
    /* golden: FNV-1a 64 of "127.0.0.1:8848,127.0.0.2:8848," (the membership's owner-list hash) */
    distro_view *g = view(A, 2, "127.0.0.2:8848", "127.0.0.1:8848", NULL);
    cr_expect_eq(distro_view_hash(g), 0xa1406bbaf1be4b12ULL);
    distro_view *none = view(A, 0, NULL, NULL, NULL);
    cr_expect_eq(distro_view_hash(none), 0xcbf29ce484222325ULL);
    distro_view_free(g);
    distro_view_free(none);
    /* "ab" and "a", "b" hash differently: the separator follows every identity */
    distro_view *p = view(A, 1, "ab", NULL, NULL), *q = view(A, 2, "a", "b", NULL);
    cr_expect_neq(distro_view_hash(p), distro_view_hash(q));
    distro_view_free(x);
    distro_view_free(y);
    distro_view_free(z);
    distro_view_free(p);
    distro_view_free(q);
}

Test(distro_view, changed_services_on_down)
{
    /* C goes DOWN: only services whose owner moved are listed */
    distro_view *before = view(A, 3, A, B, C), *after = view(A, 2, A, B, NULL);
    distro_key keys[] = {{"public", "DEFAULT_GROUP@@demo"},
                         {"public", "DEFAULT_GROUP@@svc-1"},
                         {"public", "DEFAULT_GROUP@@svc-3"}};
    size_t idx[3];
    /* before: demo->B, svc-1->C, svc-3->A; after (n=2): demo->A, svc-1->B, svc-3->B */
    size_t n = distro_view_changed(before, after, keys, 3, idx);
    cr_assert_eq(n, 3);
    cr_expect_eq(distro_view_changed(before, before, keys, 3, idx), 0);
    /* from no view at all every service changes */
    cr_expect_eq(distro_view_changed(NULL, after, keys, 3, idx), 3);
    distro_view_free(before);
    distro_view_free(after);
}

Test(distro_grace, newly_owned_after_a_handover)
{
    /* #1873: C dies; A becomes the owner of demo (was B's) and of nothing else */
    distro_view *before = view(A, 3, A, B, C), *after = view(A, 2, A, B, NULL);
    cr_expect(distro_grace_newly_owned(before, after, "DEFAULT_GROUP@@demo"));
    /* svc-3 was A's and stays A's? n=2 maps it to B: not A's any more */
    cr_expect_not(distro_grace_newly_owned(before, after, "DEFAULT_GROUP@@svc-3"));
    cr_expect_not(distro_grace_newly_owned(before, after, "DEFAULT_GROUP@@svc-1"));
    distro_key keys[] = {{"public", "DEFAULT_GROUP@@demo"},
                         {"public", "DEFAULT_GROUP@@svc-1"},
                         {"ns2", "DEFAULT_GROUP@@demo"}};
    size_t idx[3];
    cr_assert_eq(distro_grace_newly_owned_list(before, after, keys, 3, idx), 2);
    cr_expect_eq(idx[0], 0);
    cr_expect_eq(idx[1], 2);
    /* an unchanged view gives nobody a new grace period */
    cr_expect_eq(distro_grace_newly_owned_list(after, after, keys, 3, idx), 0);
    distro_view_free(before);
    distro_view_free(after);
}

Test(distro_grace, becoming_ready_owns_everything_anew)
{
    /* not READY: self absent from its own list; READY: present. Every owned service is new. */
    distro_view *starting = view(A, 2, B, C, NULL), *ready = view(A, 3, A, B, C);
    cr_expect(distro_grace_newly_owned(starting, ready, "DEFAULT_GROUP@@svc-3"));
    cr_expect(distro_grace_newly_owned(NULL, ready, "DEFAULT_GROUP@@svc-3"));
    cr_expect_not(distro_grace_newly_owned(NULL, ready, "DEFAULT_GROUP@@demo"));
    distro_view_free(starting);
    distro_view_free(ready);
}

Test(distro_grace, no_expiry_before_ready_nor_for_copies)
{
    distro_view *v = view(A, 3, A, B, C);
    cr_expect(distro_grace_may_expire(true, v, "DEFAULT_GROUP@@svc-3"));
    cr_expect_not(distro_grace_may_expire(false, v, "DEFAULT_GROUP@@svc-3"));
    cr_expect_not(distro_grace_may_expire(true, v, "DEFAULT_GROUP@@demo"));
    cr_expect_not(distro_grace_may_expire(true, NULL, "DEFAULT_GROUP@@svc-3"));
    distro_view_free(v);
}
