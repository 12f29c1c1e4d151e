/* The batch of inter-role messages (cairn_batch.h): what it encodes decodes to the same parts,
 * a single message is never taken for a batch, and malformed batches are refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_batch.h"
#include "cairn_msg.h"

Test(batch, parts_round_trip_in_order_and_point_into_the_message)
{
    cairn_batch_part in[3] = {{"first", 5}, {"", 0}, {"third part", 10}};
    char *buf;
    size_t len;
    cr_assert_eq(cairn_batch_encode(in, 3, &buf, &len), CAIRN_OK);
    cr_assert(cairn_batch_is(buf, len));
    cairn_batch_part *out;
    size_t n;
    cairn_status st;
    cr_assert_eq(cairn_batch_decode(buf, len, &out, &n, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(out[i].len, in[i].len, "part %zu", i);
        cr_expect(out[i].len == 0 || memcmp(out[i].data, in[i].data, in[i].len) == 0);
        cr_expect(out[i].data >= buf && out[i].data + out[i].len <= buf + len);
    }
    free(out);
    free(buf);
}

Test(batch, a_single_request_is_not_a_batch)
{
    cairn_request req;
    cairn_request_init(&req, CAIRN_MSG_STATS);
    char *buf;
    size_t len;
    cr_assert_eq(cairn_request_encode(&req, &buf, &len), CAIRN_OK);
    cr_expect_not(cairn_batch_is(buf, len));
    free(buf);
    cairn_request_free(&req);
    cr_expect_not(cairn_batch_is("", 0));
    cr_expect_not(cairn_batch_is(NULL, 0));
}

Test(batch, empty_oversized_and_malformed_batches_are_refused)
{
    cairn_batch_part none[1] = {{"", 0}};
    char *buf;
    size_t len;
    cr_expect_eq(cairn_batch_encode(none, 0, &buf, &len), CAIRN_E_INVALID);
    cr_expect_eq(cairn_batch_encode(none, CAIRN_BATCH_MAX_PARTS + 1, &buf, &len),
                 CAIRN_E_INVALID);
    const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x90", 1},                 /* no parts */
        {"\x91\x01", 2},             /* a part that is not a bin */
        {"\x92\xc4\x01x", 4},        /* fewer parts than announced */
        {"\x91\xc4\x05xy", 5},       /* a bin longer than the message */
        {"\x91\xc4\x01xy", 5},       /* trailing bytes */
        {"\xdd\xff\xff\xff\xff", 5}, /* 2^32-1 parts announced */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_batch_part *out = (cairn_batch_part *)1;
        size_t n = 99;
        cairn_status st;
        cr_expect_neq(cairn_batch_decode(bad[i].bytes, bad[i].len, &out, &n, &st), CAIRN_OK,
                      "case %zu", i);
        cr_expect_null(out, "case %zu", i);
        cr_expect_eq(n, 0, "case %zu", i);
    }
}
