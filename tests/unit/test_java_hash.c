/* Java String.hashCode over UTF-8 input and the Distro index (§10.1). Expected values are Java's
 * h = 31*h + c over UTF-16 code units with int wrap-around. They were computed once with node,
 * whose strings are UTF-16 too:
 *   const h = s => { let x = 0; for (let i = 0; i < s.length; i++)
 *                      x = (Math.imul(31, x) + s.charCodeAt(i)) | 0; return x; };
 *   const idx = (s, n) => Math.abs(h(s) % 2147483647) % n;
 * Invalid UTF-8 was hashed as the U+FFFD characters Java's decoder substitutes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cairn_java_hash.h"

static int32_t hash(const char *s)
{
    return cairn_java_string_hash(s, strlen(s));
}

Test(java_hash, known_values)
{
    cr_expect_eq(hash(""), 0);
    cr_expect_eq(hash("hello"), 99162322);
    cr_expect_eq(hash("DEFAULT_GROUP@@demo"), -1251993628);
    cr_expect_eq(hash("DEFAULT_GROUP@@svc-1"), -142749149);
    /* wraps to exactly INT32_MIN */
    cr_expect_eq(hash("polygenelubricants"), INT32_MIN);
    cr_expect_eq(hash("Aa"), hash("BB"));
}

Test(java_hash, utf16_code_units)
{
    /* 2 bytes: U+00E9, 3 bytes: U+20AC, one code unit each */
    cr_expect_eq(hash("\xc3\xa9"), 233);
    cr_expect_eq(hash("\xe2\x82\xac"), 8364);
    /* 4 bytes: U+1F600 is the surrogate pair d83d de00: 0xd83d * 31 + 0xde00 */
    cr_expect_eq(hash("\xf0\x9f\x98\x80"), 0xd83d * 31 + 0xde00);
    cr_expect_eq(hash("\xf0\x9f\x98\x80"), 1772899);
    cr_expect_eq(hash("a\xf0\x9f\x98\x80" "b"), 57849694);
}

Test(java_hash, invalid_utf8_is_replacement_char)
{
    /* Java's decoder maps malformed input to U+FFFD (65533). */
    cr_expect_eq(hash("\xff"), 65533);
    cr_expect_eq(hash("\x80"), 65533);
    cr_expect_eq(hash("\xff\xff"), 2097056);       /* two U+FFFD */
    cr_expect_eq(hash("\xe2\x82" "A"), 2031588);   /* truncated 3-byte char, then 'A' */
    cr_expect_eq(hash("\xe2\x82"), 65533);         /* truncated at the end: one U+FFFD */
    cr_expect_eq(hash("a\xc0" "b"), hash("a\xef\xbf\xbd" "b")); /* overlong lead */
    cr_expect_eq(hash("a\xed\xa0\x80" "b"), 2124838); /* an encoded surrogate: one U+FFFD */
    cr_expect_eq(hash("\xf0\x9f\x98"), 65533);     /* truncated 4-byte char */
}

Test(java_hash, length_not_nul)
{
    const char buf[] = {'h', 'e', 'l', 'l', 'o', 'X'};
    cr_expect_eq(cairn_java_string_hash(buf, 5), 99162322);
}

Test(java_hash, distro_index)
{
    /* abs(hash % Integer.MAX_VALUE) % count */
    cr_expect_eq(cairn_distro_index("hello", 5, 3), 1);
    cr_expect_eq(cairn_distro_index("DEFAULT_GROUP@@demo", 19, 3), 1);
    cr_expect_eq(cairn_distro_index("DEFAULT_GROUP@@demo", 19, 7), 4);
    cr_expect_eq(cairn_distro_index("DEFAULT_GROUP@@svc-1", 20, 3), 2);
    cr_expect_eq(cairn_distro_index("polygenelubricants", 18, 7), 1);
    cr_expect_eq(cairn_distro_index("", 0, 5), 0);
    for (uint32_t count = 1; count < 20; count++) {
        char name[32];
        for (int i = 0; i < 200; i++) {
            int n = snprintf(name, sizeof name, "g@@svc-%d", i);
            cr_assert_lt(cairn_distro_index(name, (size_t)n, count), count);
        }
    }
}
