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

/* A growing response body, NUL-terminated once anything is written, for tests that drive
 * libcurl themselves (a multi handle): http_body_write is the CURLOPT_WRITEFUNCTION, the
 * http_body its CURLOPT_WRITEDATA. The caller frees data. */
typedef struct http_body {
    char *data;
    size_t len;
    size_t cap;
} http_body;
size_t http_body_write(char *ptr, size_t size, size_t nmemb, void *arg);
/* Resets an easy handle (a handle of a multi keeps its connection: the cache is the multi's)
 * for a GET of url on loopback (proxy variables ignored, no signals) within timeout_ms, its body
 * into resp (emptied), priv as its CURLOPT_PRIVATE. The caller sets the method and body. The
 * handle is a CURL *, kept as void * so that this header needs no curl. */
void http_easy_setup(void *easy, const char *url, int timeout_ms, http_body *resp, void *priv);

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
/* Connects to hostport (numeric IPv4); the socket, or -1. */
int tcp_open(const char *hostport);
/* Sends len bytes (each send bounded by timeout_ms); the number sent, less when the peer closed
 * or stopped reading. */
size_t tcp_send_all(int fd, const void *data, size_t len, int timeout_ms);
/* Reads fd until the peer closes (or resets) it or timeout_ms passes; the bytes read (malloc'd,
 * NUL-terminated; NULL when out of memory), *out_len their number, *closed (may be NULL) whether
 * the peer closed. */
char *tcp_read_all(int fd, int timeout_ms, size_t *out_len, bool *closed);
/* True when a TCP connection to hostport succeeds. */
bool tcp_can_connect(const char *hostport);

#endif
