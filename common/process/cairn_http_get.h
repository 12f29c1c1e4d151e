/* A minimal blocking HTTP/1.0 GET of a role's admin listener (`cairn status`, the gateway's
 * readiness monitor, the console's roles view), which answers small, complete, Connection: close
 * responses. Not a general HTTP client. Thread-safe: each call has its own connection and never
 * waits past its timeout. */
#ifndef CAIRN_HTTP_GET_H
#define CAIRN_HTTP_GET_H

#include <stddef.h>

typedef struct cairn_http_response {
    int status;
    char *body; /* NUL-terminated */
    size_t body_len;
} cairn_http_response;

/* GETs path from address ("host:port" or "[v6]:port") within timeout_ms in total. Returns 0, or
 * -1 with a message in err (connection refused, timeout, malformed response). */
int cairn_http_get(const char *address, const char *path, int timeout_ms, cairn_http_response *resp,
                 char *err, size_t err_len);
void cairn_http_response_free(cairn_http_response *resp);

#endif
