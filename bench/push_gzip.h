/* gzip streams as the push protocol uses them (Nacos §12.3: a datagram of 1024 bytes or more is
 * replaced by its gzip stream, recognised by the magic bytes 1f 8b). */
#ifndef PUSH_GZIP_H
#define PUSH_GZIP_H

#include <stdbool.h>
#include <stddef.h>

/* True when the datagram is a gzip stream. */
bool push_is_gzip(const void *data, size_t len);

/* Compresses into a malloc'd buffer (*out, *out_len). Returns 0, or -1 on failure. */
int push_gzip(const void *in, size_t in_len, unsigned char **out, size_t *out_len);

/* Decompresses into out (capacity cap). Returns 0, or -1 when the stream is malformed or does
 * not fit. */
int push_gunzip(const void *in, size_t in_len, char *out, size_t cap, size_t *out_len);

#endif
