/* HTTP for the integration tests: libcurl for well-formed requests (loopback only, no proxy),
 * and a raw TCP helper for the malformed ones curl refuses to send. */
#ifndef CAIRN_HTTP_H
#define CAIRN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct http_resp {
    long status;          /* 0 when the transfer failed (see error) */
    char *body;           /* malloc'd, NUL-terminated (never NULL after a request) */
    size_t body_len;
    char *content_type;   /* malloc'd or NULL */
    long elapsed_ms;
    char error[256];      /* curl's message when status == 0 */
} http_resp;

/* One request. body may be NULL (POST/PUT/PATCH then send an empty body); content_type defaults
 * to application/x-www-form-urlencoded when a body is given; headers is a NULL-terminated list of
 * "Name: value" lines or NULL. Never asserts; check r.status. Free with http_resp_free. */
http_resp http_request(const char *method, const char *url, const char *body, size_t body_len,
                       const char *content_type, const char *const *headers, int timeout_ms);
void http_resp_free(http_resp *r);

/* "k1=v1&k2=v2" from a NULL-terminated key, value, key, value... list; each part escaped with
 * curl_easy_escape. NULL kv gives "". malloc'd. */
char *http_query(const char *const *kv);
/* base + path + ("?" query when kv is non-empty). malloc'd. */
char *http_url(const char *base, const char *path, const char *const *kv);

/* GET http://hostport/path; returns the response (status 0 when unreachable). */
http_resp http_get_addr(const char *hostport, const char *path, int timeout_ms);

/* Raw TCP: connects to hostport, writes len bytes, half-closes, reads until EOF or timeout.
 * Returns the bytes read (malloc'd, NUL-terminated) or NULL when it could not connect. */
char *tcp_exchange(const char *hostport, const void *data, size_t len, int timeout_ms,
                   size_t *out_len);
/* True when a TCP connection to hostport succeeds. */
bool tcp_can_connect(const char *hostport);

#endif
