/* gRPC message framing and the Payload envelope (grpc_codec.h). */
#include "grpc_codec.h"

#include <stdlib.h>
#include <string.h>

#include "grpc_payload.pb-c.h"

void grpc_reader_init(grpc_reader *r, size_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
}

void grpc_reader_free(grpc_reader *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

int grpc_reader_feed(grpc_reader *r, const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len)
            cap *= 2;
        uint8_t *grown = realloc(r->buf, cap);
        if (!grown)
            return -1;
        r->buf = grown;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

grpc_read_result grpc_reader_next(grpc_reader *r, const uint8_t **msg, size_t *len)
{
    if (r->len < GRPC_PREFIX_BYTES)
        return GRPC_READ_MORE;
    if (r->buf[0] != 0)
        return GRPC_READ_COMPRESSED;
    uint32_t n = be32(r->buf + 1);
    if (n > r->max)
        return GRPC_READ_TOO_BIG;
    if (r->len < GRPC_PREFIX_BYTES + (size_t)n)
        return GRPC_READ_MORE;
    *msg = r->buf + GRPC_PREFIX_BYTES;
    *len = n;
    return GRPC_READ_MESSAGE;
}

void grpc_reader_consume(grpc_reader *r)
{
    if (r->len < GRPC_PREFIX_BYTES)
        return;
    size_t n = GRPC_PREFIX_BYTES + (size_t)be32(r->buf + 1);
    if (n > r->len)
        return;
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
    if (r->len == 0) {
        /* nothing pending: an idle bi-stream holds no buffer between messages */
        free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
}

/* The access token among the metadata headers (NacosAuthPluginService.resolveToken: a Bearer
 * Authorization first, then accessToken); NULL when there is none. */
static const char *header_token(const Metadata *md)
{
    const char *token = NULL;
    for (size_t i = 0; md && i < md->n_headers; i++) {
        const char *k = md->headers[i]->key, *v = md->headers[i]->value;
        if (!k || !v || !*v)
            continue;
        if (strcmp(k, "Authorization") == 0 && strncmp(v, "Bearer ", 7) == 0 && v[7])
            return v + 7;
        if (strcmp(k, "accessToken") == 0)
            token = v;
    }
    return token;
}

int grpc_payload_decode(const uint8_t *msg, size_t len, grpc_payload *out)
{
    memset(out, 0, sizeof *out);
    Payload *p = payload__unpack(NULL, len, msg);
    if (!p)
        return -1;
    const char *type = p->metadata && p->metadata->type ? p->metadata->type : "";
    const ProtobufCBinaryData *v = p->body ? &p->body->value : NULL;
    size_t n = v ? v->len : 0;
    out->type = strdup(type);
    out->body = malloc(n + 1);
    const char *token = header_token(p->metadata);
    bool token_ok = !token || (out->token = strdup(token));
    if (out->type && out->body && token_ok) {
        if (n)
            memcpy(out->body, v->data, n);
        out->body[n] = 0;
        out->body_len = n;
    }
    payload__free_unpacked(p, NULL);
    if (!out->type || !out->body || !token_ok) {
        grpc_payload_free(out);
        return -1;
    }
    return 0;
}

void grpc_payload_free(grpc_payload *p)
{
    free(p->type);
    free(p->body);
    free(p->token);
    memset(p, 0, sizeof *p);
}

int grpc_payload_encode_framed(const char *type, const char *json, size_t json_len,
                               uint8_t **out, size_t *out_len)
{
    Metadata md = METADATA__INIT;
    md.type = (char *)type;
    Any body = ANY__INIT;
    body.value.data = (uint8_t *)json;
    body.value.len = json_len;
    Payload p = PAYLOAD__INIT;
    p.metadata = &md;
    p.body = &body;
    size_t n = payload__get_packed_size(&p);
    if (n > UINT32_MAX)
        return -1;
    uint8_t *buf = malloc(GRPC_PREFIX_BYTES + n);
    if (!buf)
        return -1;
    buf[0] = 0;
    buf[1] = (uint8_t)(n >> 24);
    buf[2] = (uint8_t)(n >> 16);
    buf[3] = (uint8_t)(n >> 8);
    buf[4] = (uint8_t)n;
    payload__pack(&p, buf + GRPC_PREFIX_BYTES);
    *out = buf;
    *out_len = GRPC_PREFIX_BYTES + n;
    return 0;
}
