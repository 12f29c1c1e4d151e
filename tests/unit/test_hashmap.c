/* cairn_hashmap: the basic operations, random operations against a reference table, binary keys,
 * growth, and iteration with removal (every entry returned exactly once, including in clusters
 * that wrap around the end of the table, which small, full tables produce all the time). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_hashmap.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void) /* xorshift64*: reproducible */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Key of id: the id's 8 bytes (mostly NULs) then 0..3 more NULs, so keys are unique per id,
 * binary, and of several lengths. */
typedef struct {
    unsigned char b[12];
    size_t len;
} key_t_;

static key_t_ key_of(uint32_t id)
{
    key_t_ k;
    memset(k.b, 0, sizeof k.b);
    uint64_t v = id;
    memcpy(k.b, &v, 8);
    k.len = 8 + id % 4;
    return k;
}

static void *val(uint64_t x) { return (void *)(uintptr_t)(x + 1); } /* never NULL */

/* The id encoded in a key from key_of. */
static uint32_t id_of(const void *key, size_t len)
{
    cr_assert(len >= 8 && len <= 11, "key length %zu", len);
    uint64_t v;
    memcpy(&v, key, 8);
    cr_assert_eq(len, 8 + v % 4);
    return (uint32_t)v;
}

static cairn_hashmap *map_with(uint32_t n)
{
    cairn_hashmap *m = cairn_hashmap_new(0);
    cr_assert_not_null(m);
    for (uint32_t id = 0; id < n; id++) {
        key_t_ k = key_of(id);
        cr_assert_eq(cairn_hashmap_put(m, k.b, k.len, val(id), NULL), 0);
    }
    cr_assert_eq(cairn_hashmap_size(m), n);
    return m;
}

/* ---- basic operations ------------------------------------------------------------------------- */

Test(hashmap, put_get_replace_remove)
{
    cairn_hashmap *m = cairn_hashmap_new(4);
    cr_assert_not_null(m);
    cr_expect_eq(cairn_hashmap_size(m), 0);
    cr_expect_null(cairn_hashmap_get(m, "a", 1));
    cr_expect_null(cairn_hashmap_remove(m, "a", 1));

    int x = 1, y = 2, z = 3;
    void *old = &z;
    cr_expect_eq(cairn_hashmap_put(m, "alpha", 5, &x, &old), 0);
    cr_expect_null(old);
    cr_expect_eq(cairn_hashmap_put(m, "beta", 4, &y, NULL), 0);
    cr_expect_eq(cairn_hashmap_size(m), 2);
    cr_expect_eq(cairn_hashmap_get(m, "alpha", 5), &x);
    cr_expect_eq(cairn_hashmap_get(m, "beta", 4), &y);
    cr_expect_null(cairn_hashmap_get(m, "alph", 4)); /* a prefix is another key */
    cr_expect_null(cairn_hashmap_get(m, "alphab", 6));

    /* replace: the old value comes back, the size does not change */
    cr_expect_eq(cairn_hashmap_put(m, "alpha", 5, &z, &old), 0);
    cr_expect_eq(old, &x);
    cr_expect_eq(cairn_hashmap_get(m, "alpha", 5), &z);
    cr_expect_eq(cairn_hashmap_size(m), 2);

    cr_expect_eq(cairn_hashmap_remove(m, "alpha", 5), &z);
    cr_expect_null(cairn_hashmap_get(m, "alpha", 5));
    cr_expect_null(cairn_hashmap_remove(m, "alpha", 5));
    cr_expect_eq(cairn_hashmap_size(m), 1);
    cr_expect_eq(cairn_hashmap_get(m, "beta", 4), &y);

    /* a NULL value is stored like any other (get cannot tell it from absent, by design) */
    cr_expect_eq(cairn_hashmap_put(m, "nil", 3, NULL, NULL), 0);
    cr_expect_eq(cairn_hashmap_size(m), 2);
    cr_expect_null(cairn_hashmap_remove(m, "nil", 3));
    cr_expect_eq(cairn_hashmap_size(m), 1);
    cairn_hashmap_free(m);
    cairn_hashmap_free(NULL);
}

/* A counting map: counts go up and down per key, and a key leaves at 0. */
Test(hashmap, counts)
{
    cairn_hashmap *m = cairn_hashmap_new(0);
    uint32_t before = 99;
    cr_expect_eq(cairn_hashmap_count_of(m, "a", 1), 0);
    cr_assert_eq(cairn_hashmap_count_up(m, "a", 1, &before), 0);
    cr_expect_eq(before, 0);
    cr_assert_eq(cairn_hashmap_count_up(m, "a", 1, &before), 0);
    cr_expect_eq(before, 1);
    cr_assert_eq(cairn_hashmap_count_up(m, "b", 1, NULL), 0);
    cr_expect_eq(cairn_hashmap_count_of(m, "a", 1), 2);
    cr_expect_eq(cairn_hashmap_size(m), 2);
    cairn_hashmap_count_down(m, "a", 1);
    cr_expect_eq(cairn_hashmap_count_of(m, "a", 1), 1);
    cairn_hashmap_count_down(m, "a", 1);
    cr_expect_eq(cairn_hashmap_count_of(m, "a", 1), 0);
    cr_expect_eq(cairn_hashmap_size(m), 1, "a key at 0 must leave the map");
    cairn_hashmap_count_down(m, "a", 1); /* absent: stays absent */
    cr_expect_eq(cairn_hashmap_size(m), 1);
    cr_expect_eq(cairn_hashmap_count_of(m, "b", 1), 1);
    cairn_hashmap_free(m);
}

Test(hashmap, keys_are_copied)
{
    cairn_hashmap *m = cairn_hashmap_new(0);
    char buf[16];
    int v[100];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(buf, sizeof buf, "key-%d", i);
        cr_assert_eq(cairn_hashmap_put(m, buf, (size_t)n, &v[i], NULL), 0);
    }
    memset(buf, 'x', sizeof buf); /* the caller's buffer is reused */
    for (int i = 0; i < 100; i++) {
        int n = snprintf(buf, sizeof buf, "key-%d", i);
        cr_expect_eq(cairn_hashmap_get(m, buf, (size_t)n), &v[i]);
    }
    cairn_hashmap_free(m);
}

Test(hashmap, binary_keys_with_nul_bytes)
{
    cairn_hashmap *m = cairn_hashmap_new(0);
    static const struct {
        const char *k;
        size_t len;
    } keys[] = {{"", 0},     {"\0", 1},   {"\0\0", 2}, {"a", 1},      {"a\0", 2},
                {"a\0b", 3}, {"a\0c", 3}, {"\0a", 2},  {"a\0b\0", 4}, {"\xff\0\xfe", 3}};
    int n = (int)(sizeof keys / sizeof keys[0]);
    int v[16];
    for (int i = 0; i < n; i++)
        cr_assert_eq(cairn_hashmap_put(m, keys[i].k, keys[i].len, &v[i], NULL), 0);
    cr_expect_eq(cairn_hashmap_size(m), (size_t)n);
    for (int i = 0; i < n; i++)
        cr_expect_eq(cairn_hashmap_get(m, keys[i].k, keys[i].len), &v[i], "key %d", i);
    /* the empty key may also be passed as NULL */
    cr_expect_eq(cairn_hashmap_get(m, NULL, 0), &v[0]);
    /* iteration hands back the exact bytes and lengths */
    cairn_hashmap_iter it;
    const void *k;
    size_t klen;
    void *value;
    int seen = 0;
    cairn_hashmap_iter_init(&it, m);
    while (cairn_hashmap_iter_next(&it, &k, &klen, &value)) {
        int i = (int)((int *)value - v);
        cr_assert(i >= 0 && i < n);
        cr_expect_eq(klen, keys[i].len);
        cr_expect(klen == 0 || memcmp(k, keys[i].k, klen) == 0);
        seen++;
    }
    cr_expect_eq(seen, n);
    for (int i = 0; i < n; i += 2)
        cr_expect_eq(cairn_hashmap_remove(m, keys[i].k, keys[i].len), &v[i]);
    for (int i = 0; i < n; i++)
        cr_expect_eq(cairn_hashmap_get(m, keys[i].k, keys[i].len), i % 2 ? &v[i] : NULL);
    cairn_hashmap_free(m);
}

Test(hashmap, growth)
{
    /* from the smallest table, and from a presized one */
    size_t initial[] = {0, 1, 1000, 50000};
    for (size_t t = 0; t < sizeof initial / sizeof initial[0]; t++) {
        cairn_hashmap *m = cairn_hashmap_new(initial[t]);
        cr_assert_not_null(m);
        for (uint32_t id = 0; id < 50000; id++) {
            key_t_ k = key_of(id);
            cr_assert_eq(cairn_hashmap_put(m, k.b, k.len, val(id), NULL), 0);
            if ((id & (id + 1)) == 0) /* after each power of two: all so far still there */
                for (uint32_t j = 0; j <= id; j++) {
                    key_t_ kj = key_of(j);
                    cr_assert_eq(cairn_hashmap_get(m, kj.b, kj.len), val(j));
                }
        }
        cr_expect_eq(cairn_hashmap_size(m), 50000);
        for (uint32_t id = 0; id < 50000; id++) {
            key_t_ k = key_of(id);
            cr_assert_eq(cairn_hashmap_get(m, k.b, k.len), val(id));
        }
        key_t_ k = key_of(50000);
        cr_expect_null(cairn_hashmap_get(m, k.b, k.len));
        cairn_hashmap_free(m);
    }
}

/* 100k random puts, replaces, removes and gets against a plain array indexed by key id. */
Test(hashmap, random_operations_against_reference)
{
    enum { IDS = 20000, OPS = 100000 };
    void **ref = calloc(IDS, sizeof *ref);
    size_t ref_size = 0;
    cairn_hashmap *m = cairn_hashmap_new(0);
    for (uint32_t op = 0; op < OPS; op++) {
        /* ids from a narrow range first, then wider: the table fills and empties */
        uint32_t range = op < OPS / 2 ? IDS / 10 : IDS;
        uint32_t id = (uint32_t)(rnd() % range);
        key_t_ k = key_of(id);
        switch (rnd() % 4) {
        case 0:
        case 1: {
            void *old = val(999999);
            cr_assert_eq(cairn_hashmap_put(m, k.b, k.len, val(op), &old), 0);
            cr_assert_eq(old, ref[id]);
            ref_size += ref[id] == NULL;
            ref[id] = val(op);
            break;
        }
        case 2:
            cr_assert_eq(cairn_hashmap_remove(m, k.b, k.len), ref[id]);
            ref_size -= ref[id] != NULL;
            ref[id] = NULL;
            break;
        default:
            cr_assert_eq(cairn_hashmap_get(m, k.b, k.len), ref[id]);
            break;
        }
        cr_assert_eq(cairn_hashmap_size(m), ref_size);
    }
    for (uint32_t id = 0; id < IDS; id++) {
        key_t_ k = key_of(id);
        cr_assert_eq(cairn_hashmap_get(m, k.b, k.len), ref[id], "id %u", id);
    }
    /* iteration agrees with the reference as well */
    unsigned char *seen = calloc(IDS, 1);
    cairn_hashmap_iter it;
    const void *key;
    size_t len;
    void *value;
    size_t count = 0;
    cairn_hashmap_iter_init(&it, m);
    while (cairn_hashmap_iter_next(&it, &key, &len, &value)) {
        uint32_t id = id_of(key, len);
        cr_assert(id < IDS);
        cr_assert_eq(seen[id], 0, "id %u returned twice", id);
        seen[id] = 1;
        cr_assert_eq(value, ref[id]);
        count++;
    }
    cr_expect_eq(count, ref_size);
    free(seen);
    free(ref);
    cairn_hashmap_free(m);
}

/* ---- iteration -------------------------------------------------------------------------------- */

Test(iter, empty_map)
{
    cairn_hashmap *m = cairn_hashmap_new(0);
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, m);
    cr_expect_null(cairn_hashmap_iter_remove(&it)); /* nothing current */
    cr_expect_not(cairn_hashmap_iter_next(&it, NULL, NULL, NULL));
    cr_expect_not(cairn_hashmap_iter_next(&it, NULL, NULL, NULL)); /* stays at the end */
    cr_expect_null(cairn_hashmap_iter_remove(&it));
    cairn_hashmap_free(m);
}

Test(iter, visits_every_entry_once)
{
    uint32_t sizes[] = {1, 5, 6, 7, 100, 12345};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t n = sizes[s];
        cairn_hashmap *m = map_with(n);
        unsigned char *seen = calloc(n, 1);
        cairn_hashmap_iter it;
        const void *key;
        size_t len;
        void *value;
        uint32_t count = 0;
        cairn_hashmap_iter_init(&it, m);
        while (cairn_hashmap_iter_next(&it, &key, &len, &value)) {
            uint32_t id = id_of(key, len);
            cr_assert(id < n);
            cr_assert_eq(seen[id], 0, "id %u returned twice", id);
            seen[id] = 1;
            cr_assert_eq(value, val(id));
            count++;
        }
        cr_expect_eq(count, n);
        cr_expect_eq(cairn_hashmap_size(m), n); /* plain iteration changes nothing */
        free(seen);
        cairn_hashmap_free(m);
    }
}

/* Iterates m (ids below n), removing the entries for which remove_it says so; checks that every
 * entry present is returned exactly once and that exactly the removed ones are gone. */
static void iterate_removing(cairn_hashmap *m, uint32_t n, bool (*remove_it)(uint32_t id,
                                                                              uint32_t nth))
{
    unsigned char *seen = calloc(n ? n : 1, 1), *gone = calloc(n ? n : 1, 1);
    unsigned char *present = calloc(n ? n : 1, 1);
    size_t before = cairn_hashmap_size(m), present_count = 0;
    for (uint32_t id = 0; id < n; id++) {
        key_t_ k = key_of(id);
        present[id] = cairn_hashmap_get(m, k.b, k.len) != NULL;
        present_count += present[id];
    }
    cr_assert_eq(present_count, before);
    cairn_hashmap_iter it;
    const void *key;
    size_t len;
    void *value;
    uint32_t nth = 0, removed = 0;
    cairn_hashmap_iter_init(&it, m);
    while (cairn_hashmap_iter_next(&it, &key, &len, &value)) {
        uint32_t id = id_of(key, len);
        cr_assert(id < n);
        cr_assert_eq(seen[id], 0, "id %u returned twice (n %u)", id, n);
        seen[id] = 1;
        cr_assert_eq(value, val(id));
        if (remove_it(id, nth++)) {
            cr_assert_eq(cairn_hashmap_iter_remove(&it), val(id));
            cr_assert_null(cairn_hashmap_iter_remove(&it)); /* only once */
            gone[id] = 1;
            removed++;
        }
    }
    for (uint32_t id = 0; id < n; id++) {
        cr_assert_eq(seen[id], present[id], "id %u returned %d times (n %u)", id, seen[id], n);
        key_t_ k = key_of(id);
        cr_assert_eq(cairn_hashmap_get(m, k.b, k.len), present[id] && !gone[id] ? val(id) : NULL,
                     "id %u", id);
    }
    cr_assert_eq(cairn_hashmap_size(m), before - removed);
    free(seen);
    free(gone);
    free(present);
}

static bool every_other(uint32_t id, uint32_t nth) { return nth % 2 == 0; }
static bool all(uint32_t id, uint32_t nth) { return true; }
static bool none(uint32_t id, uint32_t nth) { return false; }
static bool random_half(uint32_t id, uint32_t nth) { return rnd() % 2 == 0; }

Test(iter, remove_every_other_entry)
{
    cairn_hashmap *m = map_with(10000);
    iterate_removing(m, 10000, every_other);
    cr_expect_eq(cairn_hashmap_size(m), 5000);
    /* a second pass sees exactly the survivors */
    iterate_removing(m, 10000, none);
    cairn_hashmap_free(m);
}

Test(iter, remove_all_entries)
{
    cairn_hashmap *m = map_with(10000);
    iterate_removing(m, 10000, all);
    cr_expect_eq(cairn_hashmap_size(m), 0);
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, m);
    cr_expect_not(cairn_hashmap_iter_next(&it, NULL, NULL, NULL));
    /* the map is usable afterwards */
    key_t_ k = key_of(7);
    cr_expect_eq(cairn_hashmap_put(m, k.b, k.len, val(7), NULL), 0);
    cr_expect_eq(cairn_hashmap_get(m, k.b, k.len), val(7));
    cairn_hashmap_free(m);
}

/* Many small, nearly full tables: long clusters, many of them wrapping around the last slot,
 * which is where a backward shift can move entries across the iteration's starting point. */
Test(iter, removal_in_small_full_tables)
{
    bool (*patterns[])(uint32_t, uint32_t) = {every_other, all, random_half};
    for (int trial = 0; trial < 3000; trial++) {
        uint32_t n = 1 + (uint32_t)(trial % 45);
        /* fresh ids per trial so that home slots differ */
        cairn_hashmap *m = cairn_hashmap_new(0);
        uint32_t base = (uint32_t)trial * 64;
        for (uint32_t i = 0; i < n; i++) {
            key_t_ k = key_of(base + i);
            cr_assert_eq(cairn_hashmap_put(m, k.b, k.len, val(base + i), NULL), 0);
        }
        /* iterate_removing wants ids below n: check the ids relative to base here instead */
        unsigned char seen[64] = {0}, gone[64] = {0};
        cairn_hashmap_iter it;
        const void *key;
        size_t len;
        void *value;
        uint32_t nth = 0, removed = 0;
        cairn_hashmap_iter_init(&it, m);
        while (cairn_hashmap_iter_next(&it, &key, &len, &value)) {
            uint32_t id = id_of(key, len) - base;
            cr_assert(id < n);
            cr_assert_eq(seen[id], 0, "trial %d: id %u returned twice", trial, id);
            seen[id] = 1;
            if (patterns[trial % 3](id, nth++)) {
                cr_assert_eq(cairn_hashmap_iter_remove(&it), val(base + id));
                gone[id] = 1;
                removed++;
            }
        }
        for (uint32_t id = 0; id < n; id++) {
            cr_assert_eq(seen[id], 1, "trial %d: id %u never returned", trial, id);
            key_t_ k = key_of(base + id);
            cr_assert_eq(cairn_hashmap_get(m, k.b, k.len), gone[id] ? NULL : val(base + id));
        }
        cr_assert_eq(cairn_hashmap_size(m), n - removed);
        cairn_hashmap_free(m);
    }
}

Test(iter, remove_from_the_reference_workload)
{
    /* removals and reinsertions first, so the table has a churned layout */
    cairn_hashmap *m = map_with(3000);
    for (uint32_t id = 0; id < 3000; id += 3) {
        key_t_ k = key_of(id);
        cr_assert_eq(cairn_hashmap_remove(m, k.b, k.len), val(id));
    }
    for (uint32_t id = 0; id < 3000; id += 3) {
        key_t_ k = key_of(id);
        cr_assert_eq(cairn_hashmap_put(m, k.b, k.len, val(id), NULL), 0);
    }
    iterate_removing(m, 3000, random_half);
    iterate_removing(m, 3000, all);
    cr_expect_eq(cairn_hashmap_size(m), 0);
    cairn_hashmap_free(m);
}
