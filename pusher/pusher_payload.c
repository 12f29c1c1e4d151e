/* Push datagrams: the JSON wrapper (jansson), gzip (zlib) and the ack sequence. */
#include "pusher_payload.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "cairn_render.h"

static pusher_datagram *alloc_datagram(size_t len)
{
    pusher_datagram *d = malloc(sizeof *d + (len ? len : 1));
    if (d) {
        d->refs = 1;
        d->len = len;
    }
    return d;
}

/* The whole of in as one gzip member (windowBits 15 + 16: gzip header and trailer). */
static pusher_datagram *gzip(const char *in, size_t in_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return NULL;
    size_t bound = deflateBound(&zs, (uLong)in_len);
    pusher_datagram *d = alloc_datagram(bound);
    if (!d) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = d->bytes;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    d->len = bound - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(d);
        return NULL;
    }
    return d;
}

cairn_err pusher_datagram_build(const char *data, uint64_t ref_time, size_t gzip_threshold,
                                size_t max_bytes, pusher_datagram **out, size_t *raw_len)
{
    *out = NULL;
    *raw_len = 0;
    json_t *j = json_pack("{s:s, s:s, s:I}", "type", "dom", "data", data, "lastRefTime",
                          (json_int_t)ref_time);
    char *text = j ? json_dumps(j, CAIRN_JSON_FLAGS) : NULL;
    json_decref(j);
    if (!text)
        return CAIRN_E_NOMEM; /* or data was not UTF-8, which the renderer never produces */
    size_t len = strlen(text);
    *raw_len = len;
    pusher_datagram *d;
    /* Too large plain: gzip gets its chance, below the threshold too, before the push is
     * given up. */
    bool zipped = len >= gzip_threshold || len > max_bytes;
    if (zipped) {
        d = gzip(text, len);
    } else {
        d = alloc_datagram(len);
        if (d)
            memcpy(d->bytes, text, len);
    }
    free(text);
    if (!d)
        return zipped ? CAIRN_E_INTERNAL : CAIRN_E_NOMEM;
    if (d->len > max_bytes) {
        free(d);
        return CAIRN_E_LIMIT;
    }
    d->ref_time = ref_time;
    d->raw_len = len;
    d->gzip = zipped;
    *out = d;
    return CAIRN_OK;
}

pusher_datagram *pusher_datagram_ref(pusher_datagram *d)
{
    d->refs++;
    return d;
}

void pusher_datagram_unref(pusher_datagram *d)
{
    if (d && --d->refs == 0)
        free(d);
}

uint64_t pusher_next_ref_time(uint64_t *last)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    uint64_t next = us > *last ? us : *last + 1;
    *last = next;
    return next;
}
