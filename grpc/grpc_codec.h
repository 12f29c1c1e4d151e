/* The gRPC message layer of cairn-grpc (grpc/grpc doc/PROTOCOL-HTTP2.md, Nacos spec §1.2–1.3):
 * length-prefixed messages (1 byte compressed flag, 4 bytes big-endian length, the bytes) and
 * the Payload envelope (metadata.type + a JSON body), decoded and encoded with protobuf-c from
 * grpc_payload.proto. Pure: no I/O, no clock; any thread. */
#ifndef GRPC_CODEC_H
#define GRPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRPC_PREFIX_BYTES 5

/* Reassembles the messages of one stream from DATA chunks. A message may span chunks and a
 * chunk may hold several; nothing is buffered beyond the message being read (its length is
 * checked against max when its prefix is complete), so a stream holds at most
 * GRPC_PREFIX_BYTES + max + one chunk. */
typedef struct grpc_reader {
    uint8_t *buf;
    size_t len, cap;
    size_t max; /* largest message accepted (grpc.max_message_bytes) */
} grpc_reader;

typedef enum grpc_read_result {
    GRPC_READ_MORE = 0,   /* no complete message yet */
    GRPC_READ_MESSAGE,    /* *msg, *len: a message, valid until grpc_reader_consume */
    GRPC_READ_TOO_BIG,    /* its prefix announces more than max: the stream is done */
    GRPC_READ_COMPRESSED, /* compressed flag set: no client compresses, Cairn does not inflate */
} grpc_read_result;

void grpc_reader_init(grpc_reader *r, size_t max);
void grpc_reader_free(grpc_reader *r);
/* Appends a chunk; -1 when out of memory. */
int grpc_reader_feed(grpc_reader *r, const uint8_t *data, size_t len);
/* The next complete message (after the previous one was consumed). */
grpc_read_result grpc_reader_next(grpc_reader *r, const uint8_t **msg, size_t *len);
/* Drops the message grpc_reader_next returned; the buffer itself goes when nothing is left in
 * it (the next feed allocates again). */
void grpc_reader_consume(grpc_reader *r);
/* Bytes held (a partial message): a stream that ends with some is malformed. */
static inline size_t grpc_reader_pending(const grpc_reader *r) { return r->len; }

/* A decoded Payload: the body's type name and JSON text, both malloc'd and NUL-terminated (the
 * body may itself hold NULs, body_len counts them). */
typedef struct grpc_payload {
    char *type;
    char *body;
    size_t body_len;
    char *token; /* header accessToken, else Authorization's "Bearer " token; NULL: none */
} grpc_payload;

/* 0, or -1 when msg is not a Payload (protobuf-c refuses it) or out of memory. */
int grpc_payload_decode(const uint8_t *msg, size_t len, grpc_payload *out);
void grpc_payload_free(grpc_payload *p);

/* A Payload of type with body json, already length-prefixed: the bytes of one gRPC message as
 * they go into a DATA stream. *out is malloc'd; -1 when out of memory. */
int grpc_payload_encode_framed(const char *type, const char *json, size_t json_len,
                               uint8_t **out, size_t *out_len);

#endif
