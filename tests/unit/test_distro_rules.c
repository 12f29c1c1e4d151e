/* Distro's version rules and removal guard (cairn_distro_rules.h) as decision tables, the owner
 * selection of the digests, and the digests themselves (cairn_distro_digest.h): stable,
 * order-independent, and changed by exactly what they cover. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cairn_distro_digest.h"
#include "cairn_distro_rules.h"
#include "cairn_java_hash.h"

#define V(e, s) ((cairn_distro_version){.epoch = (e), .seq = (s)})
enum { APPLY = CAIRN_DISTRO_VERDICT_APPLY, STALE = CAIRN_DISTRO_VERDICT_STALE };

Test(rules, mode_from_ownership)
{
    static const struct {
        bool sender_owns, receiver_owns;
        cairn_distro_mode want;
    } table[] = {
        {true, false, CAIRN_DISTRO_OWNER},      /* the owner syncs to a peer */
        {false, false, CAIRN_DISTRO_OWNER},     /* neither owns it: take it (views differ) */
        {false, true, CAIRN_DISTRO_SAME_ORIGIN}, /* a non-owner's copy to the owner */
        {true, true, CAIRN_DISTRO_OWNER},       /* both think they own it: the sender wins */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_expect_eq(cairn_distro_mode_for(table[i].sender_owns, table[i].receiver_owns),
                     table[i].want, "row %zu", i);
}

Test(rules, decide)
{
    static const struct {
        bool held_present;
        cairn_distro_version held, in;
        cairn_distro_mode mode;
        int want;
    } table[] = {
        /* same writer: only a higher seq, whatever the mode but FORCE */
        {true, V(5, 10), V(5, 11), CAIRN_DISTRO_SAME_ORIGIN, APPLY},
        {true, V(5, 10), V(5, 10), CAIRN_DISTRO_SAME_ORIGIN, STALE},
        {true, V(5, 10), V(5, 9), CAIRN_DISTRO_SAME_ORIGIN, STALE},
        {true, V(5, 10), V(5, 11), CAIRN_DISTRO_OWNER, APPLY},
        {true, V(5, 10), V(5, 10), CAIRN_DISTRO_OWNER, STALE},
        {true, V(5, 10), V(5, 9), CAIRN_DISTRO_OWNER, STALE},
        {true, V(5, 10), V(5, 9), CAIRN_DISTRO_FORCE, APPLY},
        /* another writer: ownership decides, the numbers do not */
        {true, V(5, 10), V(6, 1), CAIRN_DISTRO_SAME_ORIGIN, STALE},
        {true, V(5, 10), V(6, 1), CAIRN_DISTRO_OWNER, APPLY},
        {true, V(5, 10), V(6, 99), CAIRN_DISTRO_SAME_ORIGIN, STALE},
        {true, V(5, 10), V(6, 1), CAIRN_DISTRO_FORCE, APPLY},
        /* nothing held (no record, or one never versioned) counts as another writer */
        {false, V(0, 0), V(6, 1), CAIRN_DISTRO_SAME_ORIGIN, STALE},
        {false, V(0, 0), V(6, 1), CAIRN_DISTRO_OWNER, APPLY},
        {true, V(0, 0), V(6, 1), CAIRN_DISTRO_SAME_ORIGIN, STALE},
        {true, V(0, 0), V(6, 1), CAIRN_DISTRO_OWNER, APPLY},
        /* an incoming state without a version is not one */
        {true, V(5, 10), V(0, 0), CAIRN_DISTRO_OWNER, STALE},
        {false, V(0, 0), V(0, 7), CAIRN_DISTRO_OWNER, STALE},
        {true, V(0, 0), V(0, 7), CAIRN_DISTRO_SAME_ORIGIN, STALE},
        {true, V(5, 10), V(0, 0), CAIRN_DISTRO_FORCE, APPLY},
        /* a wiped origin store (new epoch) with lower numbers still wins for the owner */
        {true, V(5, 1000), V(7, 1), CAIRN_DISTRO_OWNER, APPLY},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const cairn_distro_version *held = table[i].held_present ? &table[i].held : NULL;
        cr_expect_eq((int)cairn_distro_decide(held, &table[i].in, table[i].mode), table[i].want,
                     "row %zu", i);
    }
    cr_expect_eq(cairn_distro_decide(NULL, NULL, CAIRN_DISTRO_OWNER), STALE);
}

Test(rules, version_order)
{
    static const struct {
        cairn_distro_version a, b;
        cairn_distro_order want;
    } rows[] = {
        {{1, 5, "A"}, {1, 5, "A"}, CAIRN_DISTRO_VERSION_EQUAL},
        {{1, 4, "A"}, {1, 5, "A"}, CAIRN_DISTRO_VERSION_OLDER},
        {{1, 6, "A"}, {1, 5, "A"}, CAIRN_DISTRO_VERSION_NEWER},
        {{2, 1, "A"}, {1, 5, "A"}, CAIRN_DISTRO_VERSION_UNRELATED}, /* a new store of A */
        /* the epoch alone names the writer: a node's own write carries no origin, the same
         * state back from a peer names it */
        {{1, 9, NULL}, {1, 5, "A"}, CAIRN_DISTRO_VERSION_NEWER},
        {{1, 5, "A"}, {1, 5, NULL}, CAIRN_DISTRO_VERSION_EQUAL},
        {{0, 0, NULL}, {0, 0, NULL}, CAIRN_DISTRO_VERSION_UNRELATED}, /* no version */
        {{0, 3, "A"}, {0, 3, "A"}, CAIRN_DISTRO_VERSION_UNRELATED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        cr_expect_eq(cairn_distro_compare(&rows[i].a, &rows[i].b), rows[i].want, "row %zu", i);
}

Test(rules, removal_guard)
{
    cairn_distro_version by_a = {.epoch = 5, .seq = 3, .origin = "a"};
    cairn_distro_version by_b = {.epoch = 5, .seq = 3, .origin = "b"};
    cairn_distro_version unnamed = {.epoch = 5, .seq = 3, .origin = NULL};
    static const char *const owner = "a";
    struct {
        bool views_match;
        const cairn_distro_version *copy;
        uint64_t owner_epoch;
        bool want;
    } table[] = {
        {true, &by_a, 5, true},     /* the owner's own copy, views agree: delete */
        {false, &by_a, 5, false},   /* views differ: offer it instead (#10323) */
        {true, &by_a, 6, false},    /* the owner's store was wiped since: offer */
        {true, &by_b, 5, false},    /* another member wrote it: offer */
        {true, &unnamed, 5, false}, /* nobody named: offer */
        {true, &by_a, 0, false},    /* the owner's epoch unknown: offer */
        {true, NULL, 5, false},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_expect_eq(cairn_distro_may_remove(table[i].views_match, table[i].copy, owner,
                                             table[i].owner_epoch),
                     table[i].want, "row %zu", i);
}

Test(rules, selection_by_owner)
{
    const char *owners[] = {"127.0.0.1:8848", "127.0.0.10:8848", "127.0.0.2:8848"};
    int mine[3] = {0};
    char name[64];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "DEFAULT_GROUP@@svc-%d", i);
        int hits = 0;
        for (int m = 0; m < 3; m++) {
            if (cairn_distro_selected(name, owners, 3, owners[m])) {
                mine[m]++;
                hits++;
            }
        }
        cr_expect_eq(hits, 1, "%s has %d owners", name, hits);
        uint32_t idx = cairn_distro_index(name, strlen(name), 3);
        cr_expect(cairn_distro_selected(name, owners, 3, owners[idx]));
    }
    for (int m = 0; m < 3; m++)
        cr_expect_gt(mine[m], 50, "member %d owns %d of 300", m, mine[m]);
    cr_expect(cairn_distro_selected("g@@s", NULL, 0, NULL), "no filter: every service");
    cr_expect_not(cairn_distro_selected("g@@s", NULL, 0, "a"));
    cr_expect_not(cairn_distro_selected("g@@s", owners, 3, NULL));
    cr_expect_not(cairn_distro_selected("g@@s", owners, 3, "not-a-member"));
}

/* ---- digests ------------------------------------------------------------------------------------ */

static void instance(cairn_instance *in, const char *ip, int32_t port, const char *cluster)
{
    cairn_instance_init(in);
    in->ip = strdup(ip);
    in->port = port;
    in->cluster = strdup(cluster);
    in->instance_id = strdup("x");
}

static void three(cairn_instance in[3])
{
    instance(&in[0], "127.0.0.1", 80, "A");
    instance(&in[1], "127.0.0.2", 80, "A");
    instance(&in[2], "127.0.0.1", 9, "B");
    cairn_metadata_set(&in[2].metadata, "k", "v");
}

static void free3(cairn_instance in[3])
{
    for (int i = 0; i < 3; i++)
        cairn_instance_free(&in[i]);
}

static void digest(const cairn_instance *in, uint32_t n, uint8_t out[16])
{
    cr_assert_eq(cairn_distro_content_digest(in, n, out), CAIRN_OK);
}

Test(digest, content_is_order_independent_and_stable)
{
    cairn_instance a[3], b[3];
    three(a);
    three(b);
    cairn_instance t = b[0];
    b[0] = b[2];
    b[2] = t;
    uint8_t da[16], db[16], again[16];
    digest(a, 3, da);
    digest(b, 3, db);
    digest(a, 3, again);
    cr_expect(memcmp(da, db, 16) == 0, "instance order changed the digest");
    cr_expect(memcmp(da, again, 16) == 0);
    /* the write time and the kind are not content */
    a[1].modified_ms = 12345;
    digest(a, 3, again);
    cr_expect(memcmp(da, again, 16) == 0, "modified_ms changed the digest");
    free3(a);
    free3(b);
}

Test(digest, content_changes_with_each_field)
{
    uint8_t base[16], d[16];
    cairn_instance a[3];
    three(a);
    digest(a, 3, base);
    /* Each change, made and undone in turn, must change the digest. */
    a[0].healthy = false;
    digest(a, 3, d);
    cr_expect(memcmp(base, d, 16) != 0, "health is not in the digest");
    a[0].healthy = true;
    a[0].enabled = false;
    digest(a, 3, d);
    cr_expect(memcmp(base, d, 16) != 0, "enabled is not in the digest");
    a[0].enabled = true;
    a[0].weight = 2;
    digest(a, 3, d);
    cr_expect(memcmp(base, d, 16) != 0, "weight is not in the digest");
    a[0].weight = 1;
    cairn_metadata_set(&a[2].metadata, "k", "w");
    digest(a, 3, d);
    cr_expect(memcmp(base, d, 16) != 0, "metadata is not in the digest");
    cairn_metadata_set(&a[2].metadata, "k", "v");
    a[1].port = 81;
    digest(a, 3, d);
    cr_expect(memcmp(base, d, 16) != 0, "port is not in the digest");
    a[1].port = 80;
    digest(a, 2, d);
    cr_expect(memcmp(base, d, 16) != 0, "a missing instance is not seen");
    digest(a, 3, d);
    cr_expect(memcmp(base, d, 16) == 0, "undoing every change gives the digest back");
    free3(a);
}

Test(digest, golden_values)
{
    /* Pinned: members of different builds must compute the same digests. */
    uint8_t empty[16], e[16];
    digest(NULL, 0, empty);
    cairn_distro_version v = {.epoch = 1, .seq = 2};
    cairn_distro_entry_digest("public", "DEFAULT_GROUP@@s", &v, empty, e);
    char hex[33];
    for (int i = 0; i < 16; i++)
        sprintf(hex + 2 * i, "%02x", e[i]);
    cr_expect_str_eq(hex, "224c80f693342f75d6274d52af81d767", "entry digest changed: %s", hex);
    cr_expect_eq(cairn_distro_bucket("public", "DEFAULT_GROUP@@s"), 127u);
}

Test(digest, entry_covers_key_and_version_not_origin)
{
    uint8_t content[16] = {1}, base[16], d[16];
    cairn_distro_version v = {.epoch = 5, .seq = 3, .origin = "a"};
    cairn_distro_entry_digest("public", "g@@s", &v, content, base);
    v.origin = "b";
    cairn_distro_entry_digest("public", "g@@s", &v, content, d);
    cr_expect(memcmp(base, d, 16) == 0, "the origin's name is not covered");
    v.seq = 4;
    cairn_distro_entry_digest("public", "g@@s", &v, content, d);
    cr_expect(memcmp(base, d, 16) != 0);
    v.seq = 3;
    v.epoch = 6;
    cairn_distro_entry_digest("public", "g@@s", &v, content, d);
    cr_expect(memcmp(base, d, 16) != 0);
    v.epoch = 5;
    cairn_distro_entry_digest("public", "g@@t", &v, content, d);
    cr_expect(memcmp(base, d, 16) != 0);
    /* "ab" + "c" and "a" + "bc" are different keys */
    cairn_distro_entry_digest("ab", "c", &v, content, base);
    cairn_distro_entry_digest("a", "bc", &v, content, d);
    cr_expect(memcmp(base, d, 16) != 0);
}

Test(digest, buckets_xor_and_count)
{
    cairn_distro_digests d;
    memset(&d, 0, sizeof d);
    uint8_t x[16], y[16];
    memset(x, 0x0f, 16);
    memset(y, 0xf0, 16);
    cairn_distro_digests_add(&d, 3, x);
    cairn_distro_digests_add(&d, 3, y);
    cr_expect_eq(d.count[3], 2);
    for (int i = 0; i < 16; i++)
        cr_expect_eq(d.digest[3][i], 0xff);
    cairn_distro_digests_add(&d, 3, y);
    for (int i = 0; i < 16; i++)
        cr_expect_eq(d.digest[3][i], 0x0f, "adding in any order gives the same");
    /* buckets spread */
    int used[CAIRN_DISTRO_BUCKETS] = {0}, distinct = 0;
    char name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "g@@s%d", i);
        uint32_t b = cairn_distro_bucket("public", name);
        cr_assert_lt(b, CAIRN_DISTRO_BUCKETS);
        if (!used[b]++)
            distinct++;
    }
    cr_expect_gt(distinct, 240, "2000 keys fell into %d buckets", distinct);
}
