/* Java String.hashCode over UTF-8 input. Java hashes UTF-16 code units, so the bytes are decoded
 * first: characters above U+FFFF count as a surrogate pair, and malformed input is replaced the
 * way Java's UTF-8 decoder does it (one U+FFFD per maximal invalid subsequence; an encoded
 * surrogate is one U+FFFD for its three bytes). */
#include "cairn_java_hash.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Decodes one character at s[*i], advancing *i; returns U+FFFD for malformed input. */
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char b = s[(*i)++];
    if (b < 0x80)
        return b;
    int need;
    uint32_t cp;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        cp = b & 0x0F;
        if (b == 0xE0)
            lo = 0xA0; /* no overlong forms */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        cp = b & 0x07;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0xFFFD; /* a stray continuation byte or a lead byte that never occurs */
    }
    for (int k = 0; k < need; k++) {
        if (*i >= len)
            return 0xFFFD;
        unsigned char c = s[*i];
        if (c < lo || c > hi)
            return 0xFFFD; /* c starts the next character */
        cp = (cp << 6) | (c & 0x3F);
        (*i)++;
        lo = 0x80;
        hi = 0xBF;
    }
    /* An encoded surrogate (ED A0..BF xx) is one malformed 3-byte unit to Java's decoder. */
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0xFFFD;
    return cp;
}

int32_t cairn_java_string_hash(const char *utf8, size_t len)
{
    const unsigned char *s = (const unsigned char *)utf8;
    uint32_t h = 0; /* unsigned: Java's int overflow wraps, C's signed overflow is undefined */
    size_t i = 0;
    while (i < len) {
        uint32_t cp = utf8_next(s, len, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

uint32_t cairn_distro_index(const char *utf8, size_t len, uint32_t count)
{
    if (count == 0)
        return 0;
    /* C's % truncates towards zero like Java's, so the remainder is in (-INT32_MAX, INT32_MAX)
     * and its absolute value always fits. */
    int64_t r = (int64_t)cairn_java_string_hash(utf8, len) % INT32_MAX;
    if (r < 0)
        r = -r;
    return (uint32_t)((uint64_t)r % count);
}

uint32_t cairn_push_owner(const char *namespace_id, const char *service, uint32_t count)
{
    if (count <= 1)
        return 0;
    char *k = NULL;
    int n = asprintf(&k, "%s##%s", namespace_id, service);
    if (n < 0)
        return 0; /* out of memory: any answer is as good, the subscriber polls */
    uint32_t owner = cairn_distro_index(k, (size_t)n, count);
    free(k);
    return owner;
}
