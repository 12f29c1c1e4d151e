/* The removal guard and the receiver's bucket comparison (replicator/distro_guard.h,
 * distro_compare.h), as decision tables, each checked against the registry's rules
 * (cairn_distro_rules.h) it builds on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cairn_distro_rules.h"
#include "distro_compare.h"
#include "distro_guard.h"

/* Sorted: A < B < C. With the three, "DEFAULT_GROUP@@demo" -> B, "svc-1" -> C, "svc-3" -> A;
 * with A and B only, demo -> A, svc-1 -> B, svc-3 -> B. */
static const char *A = "127.0.0.1:8848", *B = "127.0.0.2:8848", *C = "127.0.0.3:8848";

Test(distro_guard, removal_decision_table)
{
    struct {
        bool ready;
        uint64_t local_hash, owner_hash;
        cairn_distro_version copy;
        uint64_t owner_epoch;
        distro_removal want;
        distro_removal_reason why;
    } rows[] = {
        {true, 7, 7, {1, 3, "A"}, 1, DISTRO_REMOVAL_DELETE, DISTRO_REMOVAL_OK},
        {false, 7, 7, {1, 3, "A"}, 1, DISTRO_REMOVAL_SKIP, DISTRO_REMOVAL_NOT_READY},
        {true, 7, 8, {1, 3, "A"}, 1, DISTRO_REMOVAL_OFFER, DISTRO_REMOVAL_VIEWS_DIFFER},
        {true, 7, 7, {1, 3, "C"}, 1, DISTRO_REMOVAL_OFFER, DISTRO_REMOVAL_OTHER_ORIGIN},
        {true, 7, 7, {1, 3, NULL}, 1, DISTRO_REMOVAL_OFFER, DISTRO_REMOVAL_OTHER_ORIGIN},
        {true, 7, 7, {2, 3, "A"}, 1, DISTRO_REMOVAL_OFFER, DISTRO_REMOVAL_OTHER_EPOCH},
        {true, 7, 7, {0, 3, "A"}, 0, DISTRO_REMOVAL_OFFER, DISTRO_REMOVAL_OTHER_EPOCH},
        /* every condition is needed: views differ and another origin: still an offer */
        {true, 7, 8, {2, 3, "C"}, 1, DISTRO_REMOVAL_OFFER, DISTRO_REMOVAL_VIEWS_DIFFER},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        distro_removal_input in = {rows[i].ready, rows[i].local_hash, "A", rows[i].owner_hash,
                                   rows[i].owner_epoch, rows[i].copy};
        distro_removal_reason why;
        cr_expect_eq(distro_removal_guard(&in, &why), rows[i].want, "row %zu", i);
        cr_expect_eq(why, rows[i].why, "row %zu", i);
        /* a READY receiver deletes exactly what the registry's removal rule allows */
        if (rows[i].ready)
            cr_expect_eq(rows[i].want == DISTRO_REMOVAL_DELETE,
                         cairn_distro_may_remove(rows[i].local_hash == rows[i].owner_hash,
                                                 &rows[i].copy, "A", rows[i].owner_epoch),
                         "row %zu", i);
    }
    cr_expect_str_eq(distro_removal_reason_name(DISTRO_REMOVAL_VIEWS_DIFFER), "views_differ");
}

typedef struct verdicts {
    char text[512];
} verdicts;

static void collect(void *ctx, distro_verdict v, const distro_key *k)
{
    verdicts *out = ctx;
    char line[96];
    snprintf(line, sizeof line, "%s %s;", v == DISTRO_VERDICT_WANT    ? "want"
                                          : v == DISTRO_VERDICT_OFFER ? "offer"
                                                                      : "delete",
             strchr(k->service, '@') + 2);
    strcat(out->text, line);
}

static distro_view *view(const char *self, size_t n)
{
    const char *m[] = {A, B, C};
    distro_view *v = distro_view_new(m, n, self);
    cr_assert_not_null(v);
    return v;
}

/* A DISTRO_KEYS state; the digest's first byte stands for the whole content digest. */
#define E(svc, by, ep, sq, dg)                                                                 \
    {.namespace_id = "public",                                                                 \
     .service = "DEFAULT_GROUP@@" svc,                                                         \
     .version = {ep, sq, by},                                                                  \
     .has_digest = true,                                                                       \
     .digest = {dg}}

/* Receiver A (its view: A, B, C), sender B which owns "demo" and, per the listing, "x-*" keys
 * whose owners are computed too; we restrict to keys with known owners. */
Test(distro_compare, per_key_table)
{
    distro_view *va = view(A, 3);
    /* B owns demo. "svc-3" is A's own (skipped), "svc-1" is C's (not B's to judge). */
    cairn_distro_state listed[] = {
        E("demo", "127.0.0.2:8848", 1, 10, 111),
        E("svc-3", "127.0.0.2:8848", 1, 1, 1),
    };
    cairn_distro_state local[] = {
        E("demo", "127.0.0.2:8848", 1, 10, 111),
        E("svc-1", "127.0.0.3:8848", 1, 1, 1),
        E("svc-3", "127.0.0.1:8848", 1, 9, 9),
    };
    distro_compare_input in = {true, va, B, distro_view_hash(va), 1, listed, 2, local, 3};
    verdicts out = {{0}};
    distro_compare_result r;
    cr_assert_eq(distro_compare_bucket(&in, collect, &out, &r), 0);
    cr_expect_str_eq(out.text, "");
    cr_expect_eq(r.equal, 1);
    cr_expect_eq(r.skipped_self_owned, 1);
    cr_expect_eq(r.skipped_other_owner, 1);
    distro_view_free(va);
}

static const char *compare_one(const cairn_distro_state *listed, const cairn_distro_state *local,
                               uint64_t sender_hash, uint64_t sender_epoch, distro_compare_result *r)
{
    static verdicts out;
    memset(&out, 0, sizeof out);
    distro_view *va = view(A, 3);
    distro_compare_input in = {true, va, B,
                               sender_hash ? sender_hash : distro_view_hash(va), sender_epoch,
                               listed, listed ? 1 : 0, local, local ? 1 : 0};
    cr_assert_eq(distro_compare_bucket(&in, collect, &out, r), 0);
    distro_view_free(va);
    return out.text;
}

Test(distro_compare, listed_key_table)
{
    distro_compare_result r;
    cairn_distro_state owner = E("demo", "127.0.0.2:8848", 1, 10, 111);
    struct {
        cairn_distro_state local;
        bool present;
        const char *want;
    } rows[] = {
        {E("demo", "", 0, 0, 0), false, "want demo;"},                 /* missing here */
        {E("demo", "127.0.0.2:8848", 1, 10, 111), true, ""},           /* equal */
        {E("demo", "127.0.0.2:8848", 1, 10, 222), true, "want demo;"}, /* same version, other content */
        {E("demo", "127.0.0.2:8848", 1, 9, 111), true, "want demo;"},  /* older */
        {E("demo", "127.0.0.2:8848", 1, 11, 5), true, "offer demo;"},  /* newer, same writer */
        {E("demo", "127.0.0.3:8848", 3, 50, 5), true, "want demo;"},   /* another writer */
        {E("demo", "127.0.0.2:8848", 7, 50, 5), true, "want demo;"},   /* another store of B */
        {E("demo", NULL, 0, 50, 5), true, "want demo;"},               /* unversioned */
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        cr_expect_str_eq(compare_one(&owner, rows[i].present ? &rows[i].local : NULL, 0, 1, &r),
                         rows[i].want, "row %zu", i);
}

Test(distro_compare, unlisted_copy_goes_through_the_guard)
{
    distro_compare_result r;
    cairn_distro_state mine = E("demo", "127.0.0.2:8848", 1, 10, 111);
    cr_expect_str_eq(compare_one(NULL, &mine, 0, 1, &r), "delete demo;");
    cr_expect_eq(r.deleted, 1);
    /* B's store was replaced since (epoch 2 now): offer */
    cr_expect_str_eq(compare_one(NULL, &mine, 0, 2, &r), "offer demo;");
    cr_expect_eq(r.removals_skipped[DISTRO_REMOVAL_OTHER_EPOCH], 1);
}

/* #10323: during a membership change A still counts C in, B has dropped C. A copy written by C
 * that B's listing lacks is offered, never deleted; so is C's copy when the views agree. */
Test(distro_compare, membership_change_never_deletes_another_nodes_keys)
{
    distro_view *va2 = distro_view_new((const char *[]){A, B}, 2, A); /* A's view without C */
    distro_view *vb3 = view(B, 3);
    cr_assert_not_null(va2);
    /* without C: svc-1 -> B. A holds C's copy of svc-1; B's listing (as owner, in A's view)
     * lacks it since B, with C in its view, does not own svc-1. */
    cairn_distro_state copy = E("svc-1", "127.0.0.3:8848", 4, 7, 1);
    distro_compare_input in = {true, va2, B, distro_view_hash(vb3), 9, NULL, 0, &copy, 1};
    verdicts out = {{0}};
    distro_compare_result r;
    cr_assert_eq(distro_compare_bucket(&in, collect, &out, &r), 0);
    cr_expect_str_eq(out.text, "offer svc-1;");
    cr_expect_eq(r.removals_skipped[DISTRO_REMOVAL_VIEWS_DIFFER], 1);
    /* views agree now, but the copy came from C (a handover): still offered */
    in.sender_view_hash = distro_view_hash(va2);
    memset(&out, 0, sizeof out);
    cr_assert_eq(distro_compare_bucket(&in, collect, &out, &r), 0);
    cr_expect_str_eq(out.text, "offer svc-1;");
    cr_expect_eq(r.removals_skipped[DISTRO_REMOVAL_OTHER_ORIGIN], 1);
    distro_view_free(va2);
    distro_view_free(vb3);
}

Test(distro_compare, not_ready_answers_nothing)
{
    distro_view *va = view(A, 3);
    cairn_distro_state copy = E("demo", "127.0.0.2:8848", 1, 1, 1);
    distro_compare_input in = {false, va, B, distro_view_hash(va), 1, NULL, 0, &copy, 1};
    verdicts out = {{0}};
    distro_compare_result r;
    cr_assert_eq(distro_compare_bucket(&in, collect, &out, &r), 0);
    cr_expect_str_eq(out.text, "");
    cr_expect_eq(r.skipped_not_ready, 1);
    distro_view_free(va);
}

/* Keys the receiver owns itself are skipped one by one; the rest of the bucket is still judged
 * (Nacos aborted the whole round). Lists arrive in any order. */
Test(distro_compare, self_owned_keys_skipped_round_goes_on)
{
    distro_view *va = view(A, 3);
    cairn_distro_state listed[] = {
        E("svc-3", "127.0.0.2:8848", 1, 1, 1), /* A's own */
        E("demo", "127.0.0.2:8848", 1, 3, 3),
    };
    cairn_distro_state local[] = {
        E("svc-3", "127.0.0.1:8848", 1, 1, 1),
    };
    distro_compare_input in = {true, va, B, distro_view_hash(va), 1, listed, 2, local, 1};
    verdicts out = {{0}};
    distro_compare_result r;
    cr_assert_eq(distro_compare_bucket(&in, collect, &out, &r), 0);
    cr_expect_str_eq(out.text, "want demo;");
    cr_expect_eq(r.skipped_self_owned, 1);
    distro_view_free(va);
}
