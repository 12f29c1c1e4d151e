/* The batch of inter-role messages (cairn_batch.h), on msgpack-c. */
#include "cairn_batch.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msgpack_codec.h"

bool cairn_batch_is(const char *buf, size_t len)
{
    if (!buf || len == 0)
        return false;
    uint8_t b = (uint8_t)buf[0];
    return (b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd; /* fixarray, array 16, array 32 */
}

cairn_err cairn_batch_encode(const cairn_batch_part *parts, size_t n, char **out,
                             size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n == 0 || n > CAIRN_BATCH_MAX_PARTS)
        return CAIRN_E_INVALID;
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rv = msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n && rv == 0; i++) {
        rv = msgpack_pack_bin(&pk, parts[i].len);
        if (rv == 0 && parts[i].len > 0)
            rv = msgpack_pack_bin_body(&pk, parts[i].data, parts[i].len);
    }
    if (rv != 0) {
        msgpack_sbuffer_destroy(&sb);
        return CAIRN_E_NOMEM;
    }
    *out = sb.data; /* the sbuffer's malloc'd bytes are ours now */
    *out_len = sb.size;
    return CAIRN_OK;
}

cairn_err cairn_batch_decode(const char *buf, size_t len, cairn_batch_part **parts, size_t *n,
                             cairn_status *st)
{
    *parts = NULL;
    *n = 0;
    msgpack_unpacked u;
    cairn_err err = cairn_msgpack_unpack_whole(buf, len, &u, st);
    if (err != CAIRN_OK) {
        msgpack_unpacked_destroy(&u);
        return err;
    }
    const msgpack_object *o = &u.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
        o->via.array.size > CAIRN_BATCH_MAX_PARTS) {
        msgpack_unpacked_destroy(&u);
        return cairn_fail(st, CAIRN_E_DECODE, "a batch must be an array of 1 to %d parts",
                          CAIRN_BATCH_MAX_PARTS);
    }
    size_t count = o->via.array.size;
    cairn_batch_part *out = calloc(count, sizeof *out);
    if (!out) {
        msgpack_unpacked_destroy(&u);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a batch");
    }
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        /* msgpack-c points a bin at the input rather than copying it; anything else would not
         * outlive u, so it is refused rather than trusted. */
        if (e->type != MSGPACK_OBJECT_BIN ||
            (e->via.bin.size > 0 &&
             (e->via.bin.ptr < buf || e->via.bin.ptr + e->via.bin.size > buf + len))) {
            free(out);
            msgpack_unpacked_destroy(&u);
            return cairn_fail(st, CAIRN_E_DECODE, "batch part %zu is not a bin", i);
        }
        out[i].data = e->via.bin.size > 0 ? e->via.bin.ptr : buf;
        out[i].len = e->via.bin.size;
    }
    msgpack_unpacked_destroy(&u);
    *parts = out;
    *n = count;
    return CAIRN_OK;
}
