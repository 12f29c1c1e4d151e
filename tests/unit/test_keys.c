/* LMDB key layout: prefix ranges, the length limit, parsing, and ordering. */
#include <criterion/criterion.h>
#include <string.h>

#include "cairn_keys.h"

static int key_cmp(const cairn_key *a, const cairn_key *b)
{
    /* LMDB's default order: memcmp, then the shorter key first. */
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

Test(keys, layout)
{
    cairn_key k;
    cr_assert_eq(cairn_key_instance(&k, "ns", "g@@s", true, "DEFAULT", "127.2.3.4", 0x01020304), 0);
    const char want[] = "ns\0g@@s\0eDEFAULT\0" "127.2.3.4\0\x01\x02\x03\x04";
    cr_assert_eq(k.len, sizeof want - 1);
    cr_expect_eq(memcmp(k.bytes, want, k.len), 0);

    cr_assert_eq(cairn_key_service(&k, "ns", "g@@s"), 0);
    cr_assert_eq(k.len, 7);
    cr_expect_eq(memcmp(k.bytes, "ns\0g@@s", 7), 0);
    cr_assert_eq(cairn_key_instance(&k, "ns", "g@@s", false, "C", "h", 8080), 0);
    cr_expect_eq(k.bytes[8], 'p');
}

Test(keys, instance_prefix)
{
    cairn_key prefix, other, inst;
    cr_assert_eq(cairn_key_instances_prefix(&prefix, "public", "DEFAULT_GROUP@@a"), 0);
    cr_assert_eq(cairn_key_instances_prefix(&other, "public", "DEFAULT_GROUP@@ab"), 0);
    const char *clusters[] = {"DEFAULT", "z"};
    const char *ips[] = {"127.0.0.1", "::1", ""};
    int32_t ports[] = {0, 1, 8080, -1, INT32_MAX};
    for (int e = 0; e < 2; e++)
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 3; i++)
                for (int p = 0; p < 5; p++) {
                    cr_assert_eq(cairn_key_instance(&inst, "public", "DEFAULT_GROUP@@a", e,
                                                    clusters[c], ips[i], ports[p]),
                                 0);
                    cr_expect(cairn_key_has_prefix(inst.bytes, inst.len, &prefix));
                    cr_expect_not(cairn_key_has_prefix(inst.bytes, inst.len, &other));
                }
    /* ... and an instance of "ab" is not in "a"'s range */
    cr_assert_eq(cairn_key_instance(&inst, "public", "DEFAULT_GROUP@@ab", true, "D", "h", 1), 0);
    cr_expect_not(cairn_key_has_prefix(inst.bytes, inst.len, &prefix));
    cr_expect(cairn_key_has_prefix(inst.bytes, inst.len, &other));
    /* the same for namespaces */
    cairn_key nsp, svc;
    cr_assert_eq(cairn_key_namespace_prefix(&nsp, "pub"), 0);
    cr_assert_eq(cairn_key_service(&svc, "public", "g@@s"), 0);
    cr_expect_not(cairn_key_has_prefix(svc.bytes, svc.len, &nsp));
    cr_assert_eq(cairn_key_namespace_prefix(&nsp, "public"), 0);
    cr_expect(cairn_key_has_prefix(svc.bytes, svc.len, &nsp));
    cr_expect_not(cairn_key_has_prefix(nsp.bytes, 3, &nsp)); /* shorter than the prefix */
}

Test(keys, length_limit)
{
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cairn_key k;
    cr_expect_eq(cairn_key_service(&k, "ns", big), -1);
    cr_expect_eq(cairn_key_namespace_prefix(&k, big), -1);

    /* exactly at the limit: ns(1) + 0 + grouped(509) = 511 */
    big[509] = '\0';
    cr_expect_eq(cairn_key_service(&k, "n", big), 0);
    cr_expect_eq(k.len, CAIRN_LMDB_MAX_KEY);
    cr_expect_eq(cairn_key_instances_prefix(&k, "n", big), -1);

    /* the model's caps always fit: 128 + 240 + 64 + 64 */
    char ns[129], svc[241], cl[65], ip[65];
    memset(ns, 'n', 128), ns[128] = '\0';
    memset(svc, 's', 240), svc[240] = '\0';
    memset(cl, 'c', 64), cl[64] = '\0';
    memset(ip, 'i', 64), ip[64] = '\0';
    cr_expect_eq(cairn_key_instance(&k, ns, svc, true, cl, ip, 1), 0);
    cr_expect_leq(k.len, CAIRN_LMDB_MAX_KEY);
}

Test(keys, parse_service_round_trip)
{
    cairn_key k;
    cr_assert_eq(cairn_key_service(&k, "public", "DEFAULT_GROUP@@demo"), 0);
    char ns[64], grouped[64];
    cr_assert_eq(cairn_key_parse_service(k.bytes, k.len, ns, sizeof ns, grouped, sizeof grouped),
                 0);
    cr_expect_str_eq(ns, "public");
    cr_expect_str_eq(grouped, "DEFAULT_GROUP@@demo");

    /* empty namespace and name still parse */
    cr_assert_eq(cairn_key_service(&k, "", ""), 0);
    cr_assert_eq(cairn_key_parse_service(k.bytes, k.len, ns, sizeof ns, grouped, sizeof grouped),
                 0);
    cr_expect_str_eq(ns, "");
    cr_expect_str_eq(grouped, "");

    /* no separator, a second separator (an instance key), buffers too small */
    cr_expect_eq(cairn_key_parse_service("abc", 3, ns, sizeof ns, grouped, sizeof grouped), -1);
    cr_assert_eq(cairn_key_instance(&k, "ns", "g@@s", true, "D", "h", 1), 0);
    cr_expect_eq(cairn_key_parse_service(k.bytes, k.len, ns, sizeof ns, grouped, sizeof grouped),
                 -1);
    cr_assert_eq(cairn_key_service(&k, "public", "DEFAULT_GROUP@@demo"), 0);
    cr_expect_eq(cairn_key_parse_service(k.bytes, k.len, ns, 6, grouped, sizeof grouped), -1);
    cr_expect_eq(cairn_key_parse_service(k.bytes, k.len, ns, 7, grouped, 19), -1);
    cr_expect_eq(cairn_key_parse_service(k.bytes, k.len, ns, 7, grouped, 20), 0);
    cr_expect_eq(cairn_key_parse_service(k.bytes, 0, ns, 7, grouped, 20), -1);
}

Test(keys, ordering)
{
    /* (ns, grouped) pairs in lexicographic order must give keys in the same order */
    const char *pairs[][2] = {
        {"a", "g@@s"},  {"a", "g@@s-1"}, {"a", "g@@sa"}, {"a", "h@@a"},
        {"ab", "a@@a"}, {"b", ""},       {"b", "A@@z"},  {"public", "DEFAULT_GROUP@@a"},
    };
    size_t n = sizeof pairs / sizeof pairs[0];
    for (size_t i = 0; i + 1 < n; i++) {
        cairn_key a, b;
        cr_assert_eq(cairn_key_service(&a, pairs[i][0], pairs[i][1]), 0);
        cr_assert_eq(cairn_key_service(&b, pairs[i + 1][0], pairs[i + 1][1]), 0);
        cr_expect_lt(key_cmp(&a, &b), 0, "%s/%s < %s/%s", pairs[i][0], pairs[i][1],
                     pairs[i + 1][0], pairs[i + 1][1]);
    }
    /* a service's instances sort after the service key and before the next service */
    cairn_key s1, i1, s2;
    cr_assert_eq(cairn_key_service(&s1, "a", "g@@s"), 0);
    cr_assert_eq(cairn_key_instance(&i1, "a", "g@@s", false, "Z", "127.255.255.255", -1), 0);
    cr_assert_eq(cairn_key_service(&s2, "a", "g@@s-1"), 0);
    cr_expect_lt(key_cmp(&s1, &i1), 0);
    cr_expect_lt(key_cmp(&i1, &s2), 0);
}
