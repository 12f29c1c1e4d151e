/* The secret, the clock and the tokens of the token harness (fuzz_token.c), shared with the seed
 * generator (seed_msgs.c) that writes those tokens, truncated and altered ones into
 * tests/fuzz/corpus/token/. */
#ifndef FUZZ_TOKEN_H
#define FUZZ_TOKEN_H

#include <stdint.h>

#define FUZZ_TOKEN_SECRET "fuzz-token-secret-0123456789abcdef0123456789"
#define FUZZ_TOKEN_NOW 1700000000 /* now_s of every verification */

/* The only tokens signed with FUZZ_TOKEN_SECRET: one valid at FUZZ_TOKEN_NOW, one expired
 * before it, one expiring at it (exp <= now is expired). */
static const struct {
    const char *user;
    int64_t exp_s;
} fuzz_tokens[] = {
    {"alice", 2000000000},
    {"bob.ops@example", 1600000000},
    {"c", FUZZ_TOKEN_NOW},
};
#define FUZZ_TOKEN_COUNT (sizeof fuzz_tokens / sizeof fuzz_tokens[0])

#endif
