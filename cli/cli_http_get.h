/* A minimal blocking HTTP/1.0 GET, for `cairn status` reading the roles' admin listeners (which
 * answer small, complete, Connection: close responses). Not a general HTTP client. */
#ifndef CLI_HTTP_GET_H
#define CLI_HTTP_GET_H

#include <stddef.h>

typedef struct cli_http_response {
    int status;
    char *body; /* NUL-terminated */
    size_t body_len;
} cli_http_response;

/* GETs path from address ("host:port" or "[v6]:port") within timeout_ms in total. Returns 0, or
 * -1 with a message in err (connection refused, timeout, malformed response). */
int cli_http_get(const char *address, const char *path, int timeout_ms, cli_http_response *resp,
                 char *err, size_t err_len);
void cli_http_response_free(cli_http_response *resp);

#endif
