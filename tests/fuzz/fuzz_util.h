/* Helpers shared by the libFuzzer harnesses (one fuzz_<target>.c per parser of outside bytes).
 * A harness calls the product's public functions only; FUZZ_CHECK turns a broken invariant into
 * a crash that libFuzzer reports and saves like any sanitizer finding. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* The input as a C string (an embedded NUL ends it, as it ends any C string the product gets).
 * The caller frees it; NULL only when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

/* Byte equality of two encodings. */
static inline int fuzz_same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
