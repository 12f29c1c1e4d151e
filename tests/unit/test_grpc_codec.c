/* gRPC framing and the Payload envelope (grpc/grpc_codec.h): messages split across chunks and
 * several in one chunk, the size cap read from the prefix before anything is buffered, the
 * compressed flag, and Payload round trips and garbage. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_codec.h"

static uint8_t *framed(const char *type, const char *json, size_t *len)
{
    uint8_t *out;
    cr_assert_eq(grpc_payload_encode_framed(type, json, strlen(json), &out, len), 0);
    return out;
}

Test(grpc_codec, payload_round_trip)
{
    size_t len;
    uint8_t *m = framed("InstanceRequest", "{\"a\":1}", &len);
    cr_assert_eq(m[0], 0, "not compressed");
    uint32_t n = (uint32_t)m[1] << 24 | m[2] << 16 | m[3] << 8 | m[4];
    cr_assert_eq(n + GRPC_PREFIX_BYTES, len, "the prefix counts the Payload");
    grpc_payload p;
    cr_assert_eq(grpc_payload_decode(m + GRPC_PREFIX_BYTES, n, &p), 0);
    cr_expect_str_eq(p.type, "InstanceRequest");
    cr_expect_str_eq(p.body, "{\"a\":1}");
    cr_expect_eq(p.body_len, 7);
    grpc_payload_free(&p);
    free(m);
}

Test(grpc_codec, known_bytes_decode)
{
    /* Payload{metadata{type:"X", headers{"k":"v"}, clientIp:"1"}, body{type_url:"", value:"{}"}}
     * written by hand from the proto's field numbers: what Java sends. */
    static const uint8_t b[] = {0x12, 0x11, 0x1a, 0x01, 'X', 0x3a, 0x06, 0x0a, 0x01, 'k', 0x12,
                                0x01, 'v', 0x42, 0x01, '1', 0x00, 0x00, 0x00, 0x00,
                                0x1a, 0x04, 0x12, 0x02, '{', '}'};
    grpc_payload p;
    /* the 4 zero bytes are field 0 tags: invalid protobuf */
    cr_expect_neq(grpc_payload_decode(b, sizeof b, &p), 0);
    static const uint8_t ok[] = {0x12, 0x0e, 0x1a, 0x01, 'X', 0x3a, 0x06, 0x0a, 0x01, 'k', 0x12,
                                 0x01, 'v', 0x42, 0x01, '1', 0x1a, 0x04, 0x12, 0x02, '{', '}'};
    cr_assert_eq(grpc_payload_decode(ok, sizeof ok, &p), 0);
    cr_expect_str_eq(p.type, "X");
    cr_expect_str_eq(p.body, "{}");
    grpc_payload_free(&p);
}

Test(grpc_codec, garbage_is_no_payload)
{
    grpc_payload p;
    static const uint8_t trunc[] = {0x12, 0x20, 0x1a};
    cr_expect_neq(grpc_payload_decode(trunc, sizeof trunc, &p), 0, "truncated");
    static const uint8_t wire7[] = {0x17};
    cr_expect_neq(grpc_payload_decode(wire7, 1, &p), 0, "bad wire type");
    /* empty is a valid, empty Payload: no type, no body */
    cr_assert_eq(grpc_payload_decode((const uint8_t *)"", 0, &p), 0);
    cr_expect_str_eq(p.type, "");
    cr_expect_eq(p.body_len, 0);
    grpc_payload_free(&p);
    /* every prefix of a valid message either decodes or is refused, never crashes */
    size_t len;
    uint8_t *m = framed("ServiceQueryRequest", "{\"serviceName\":\"s\"}", &len);
    for (size_t i = 0; i < len - GRPC_PREFIX_BYTES; i++) {
        if (grpc_payload_decode(m + GRPC_PREFIX_BYTES, i, &p) == 0)
            grpc_payload_free(&p);
    }
    free(m);
}

Test(grpc_codec, reader_reassembles_across_chunks)
{
    size_t a_len, b_len;
    uint8_t *a = framed("A", "{\"x\":\"first\"}", &a_len);
    uint8_t *b = framed("B", "{}", &b_len);
    uint8_t both[512];
    memcpy(both, a, a_len);
    memcpy(both + a_len, b, b_len);
    grpc_reader r;
    grpc_reader_init(&r, 1024);
    const uint8_t *msg;
    size_t len;
    /* one byte at a time: a message appears exactly when its last byte is in */
    int seen = 0;
    for (size_t i = 0; i < a_len + b_len; i++) {
        cr_assert_eq(grpc_reader_feed(&r, both + i, 1), 0);
        grpc_read_result res = grpc_reader_next(&r, &msg, &len);
        if (i + 1 == a_len || i + 1 == a_len + b_len) {
            cr_assert_eq(res, GRPC_READ_MESSAGE, "at byte %zu", i);
            grpc_payload p;
            cr_assert_eq(grpc_payload_decode(msg, len, &p), 0);
            cr_expect_str_eq(p.type, seen == 0 ? "A" : "B");
            grpc_payload_free(&p);
            grpc_reader_consume(&r);
            seen++;
        } else {
            cr_assert_eq(res, GRPC_READ_MORE, "at byte %zu", i);
        }
    }
    cr_expect_eq(seen, 2);
    cr_expect_eq(grpc_reader_pending(&r), 0);
    /* both in one chunk */
    grpc_reader_feed(&r, both, a_len + b_len);
    cr_expect_eq(grpc_reader_next(&r, &msg, &len), GRPC_READ_MESSAGE);
    grpc_reader_consume(&r);
    cr_expect_eq(grpc_reader_next(&r, &msg, &len), GRPC_READ_MESSAGE);
    grpc_reader_consume(&r);
    cr_expect_eq(grpc_reader_next(&r, &msg, &len), GRPC_READ_MORE);
    cr_expect_null(r.buf, "an empty reader holds no buffer");
    cr_expect_eq(r.cap, 0);
    grpc_reader_free(&r);
    free(a);
    free(b);
}

Test(grpc_codec, reader_refuses_big_and_compressed_from_the_prefix)
{
    grpc_reader r;
    grpc_reader_init(&r, 100);
    const uint8_t *msg;
    size_t len;
    static const uint8_t big[] = {0, 0, 0, 0, 101};
    grpc_reader_feed(&r, big, sizeof big);
    cr_expect_eq(grpc_reader_next(&r, &msg, &len), GRPC_READ_TOO_BIG, "known before the body");
    grpc_reader_free(&r);
    grpc_reader_init(&r, 100);
    static const uint8_t max[] = {0, 0xff, 0xff, 0xff, 0xff};
    grpc_reader_feed(&r, max, sizeof max);
    cr_expect_eq(grpc_reader_next(&r, &msg, &len), GRPC_READ_TOO_BIG);
    grpc_reader_free(&r);
    grpc_reader_init(&r, 100);
    static const uint8_t z[] = {1, 0, 0, 0, 1, 'x'};
    grpc_reader_feed(&r, z, sizeof z);
    cr_expect_eq(grpc_reader_next(&r, &msg, &len), GRPC_READ_COMPRESSED);
    grpc_reader_free(&r);
    grpc_reader_init(&r, 100);
    static const uint8_t empty[] = {0, 0, 0, 0, 0};
    grpc_reader_feed(&r, empty, sizeof empty);
    cr_expect_eq(grpc_reader_next(&r, &msg, &len), GRPC_READ_MESSAGE, "an empty message");
    cr_expect_eq(len, 0);
    grpc_reader_free(&r);
}
