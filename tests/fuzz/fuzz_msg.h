/* The round-trip rule the message harnesses check: a message a decoder accepts encodes, and that
 * encoding decodes and encodes again to the same bytes (the decoder keeps everything the encoder
 * writes, and the encoder writes everything the decoder keeps). MSG_ROUND_TRIP expands to a
 * function round_trip_<name>(const T *) for a message type T with its encode, decode, init-less
 * free and a zero-initialised value. */
#ifndef FUZZ_MSG_H
#define FUZZ_MSG_H

#include "cairn_msg.h"
#include "fuzz_util.h"

#define MSG_ROUND_TRIP(name, T, encode, decode, release)                                      \
    static void round_trip_##name(const T *first)                                             \
    {                                                                                         \
        char *a = NULL, *b = NULL;                                                            \
        size_t a_len = 0, b_len = 0;                                                          \
        FUZZ_CHECK(encode(first, &a, &a_len) == CAIRN_OK);                                    \
        T second;                                                                             \
        memset(&second, 0, sizeof second);                                                    \
        cairn_status st;                                                                      \
        FUZZ_CHECK(decode(a, a_len, &second, &st) == CAIRN_OK);                               \
        FUZZ_CHECK(encode(&second, &b, &b_len) == CAIRN_OK);                                  \
        FUZZ_CHECK(fuzz_same_bytes(a, a_len, b, b_len));                                      \
        release(&second);                                                                     \
        free(a);                                                                              \
        free(b);                                                                              \
    }

#endif
