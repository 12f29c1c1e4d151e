/* The msgpack building blocks of cairn_msg.c, for the other codecs of common/proto (the peer
 * envelope, PING bodies, membership): one implementation of "never trust a length" (house
 * style 2) and of string packing. Pure functions; any thread. */
#ifndef CAIRN_MSGPACK_CODEC_H
#define CAIRN_MSGPACK_CODEC_H

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>

#include "cairn_error.h"

/* Unpacks the one msgpack object that must fill buf exactly, after checking that no container
 * announces more elements than bytes remain (msgpack_bounded in cairn_msg.c). *u is initialised
 * in every case; the caller destroys it. */
cairn_err cairn_msgpack_unpack_whole(const char *buf, size_t len, msgpack_unpacked *u,
                                     cairn_status *st);

/* Calls fn for each known field of a map (idx into names); non-string keys and repeated known
 * fields are rejected, unknown fields skipped; *seen gets one bit per field found. */
typedef cairn_err (*cairn_msgpack_field_fn)(int idx, const msgpack_object *val, void *target,
                                            cairn_status *st);
cairn_err cairn_msgpack_walk_map(const msgpack_object *obj, const char *ctx,
                                 const char *const *names, int name_count,
                                 cairn_msgpack_field_fn fn, void *target, uint64_t *seen,
                                 cairn_status *st);

/* A body that is one map filling buf: unpacked and walked as above, in one call. fn must copy
 * what it keeps (the unpacked objects are gone when this returns). */
cairn_err cairn_msgpack_decode_map(const char *buf, size_t len, const char *ctx,
                                   const char *const *names, int name_count,
                                   cairn_msgpack_field_fn fn, void *target, uint64_t *seen,
                                   cairn_status *st);

/* Field readers: a str without NUL bytes (malloc'd, *out's old value freed), an unsigned within
 * max, a signed within [min, max], a bool. Errors name ctx and field. */
cairn_err cairn_msgpack_rd_str(const msgpack_object *o, const char *ctx, const char *field,
                               char **out, cairn_status *st);
cairn_err cairn_msgpack_rd_uint(const msgpack_object *o, const char *ctx, const char *field,
                                uint64_t max, uint64_t *out, cairn_status *st);
cairn_err cairn_msgpack_rd_int(const msgpack_object *o, const char *ctx, const char *field,
                               int64_t min, int64_t max, int64_t *out, cairn_status *st);
cairn_err cairn_msgpack_rd_bool(const msgpack_object *o, const char *ctx, const char *field,
                                bool *out, cairn_status *st);

/* A msgpack_sbuffer that starts with CAIRN_SBUFFER_START bytes instead of msgpack-c's 8 KiB:
 * most messages (a beat, a reply, a delta event) are a few hundred bytes, and an 8 KiB block
 * per encode is past glibc's per-thread cache, so each one took the slow allocator paths
 * (about a fifth of an encode). Larger messages grow by doubling as before. Freed as any
 * sbuffer (msgpack_sbuffer_destroy, or the released data with free). */
#define CAIRN_SBUFFER_START 512
static inline void cairn_sbuffer_init(msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    if ((sb->data = malloc(CAIRN_SBUFFER_START)))
        sb->alloc = CAIRN_SBUFFER_START;
}

/* Packs a str; non-zero when s is NULL or msgpack-c could not grow its buffer. */
int cairn_msgpack_pack_str(msgpack_packer *pk, const char *s);

#endif
