/* Several inter-role requests (or their replies) in one nng message: a msgpack array of bin, each
 * element one encoded cairn_request (or cairn_reply) exactly as a message of its own carries it.
 * A message of its own is a msgpack map, so the first byte tells the two apart.
 *
 * Why: each nng message costs both roles a handful of thread hand-offs and system calls
 * (cairn_rpc.h); a client under load sends the calls that queued behind its busy exchanges as one
 * message, and the server answers them as one. Pure functions; any thread. */
#ifndef CAIRN_BATCH_H
#define CAIRN_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn_error.h"

/* Parts one batch may hold; a batch announcing more is undecodable. */
#define CAIRN_BATCH_MAX_PARTS 256

/* One part: len bytes at data (borrowed). */
typedef struct cairn_batch_part {
    const char *data;
    size_t len;
} cairn_batch_part;

/* Whether buf starts like a batch (a msgpack array) rather than a single message (a map). */
bool cairn_batch_is(const char *buf, size_t len);

/* The n parts (1..CAIRN_BATCH_MAX_PARTS) as one batch in *out (malloc'd, *out_len bytes). A part
 * with len 0 is allowed (it decodes as an empty part). */
cairn_err cairn_batch_encode(const cairn_batch_part *parts, size_t n, char **out,
                             size_t *out_len);

/* Splits the batch in buf: *parts (calloc'd, the caller frees it) gets *n parts that point into
 * buf, valid as long as buf is. Errors (CAIRN_E_DECODE with a message in *st): not a whole
 * msgpack array, an element that is not a bin, no parts, more than CAIRN_BATCH_MAX_PARTS. */
cairn_err cairn_batch_decode(const char *buf, size_t len, cairn_batch_part **parts, size_t *n,
                             cairn_status *st);

#endif
