/* The Nacos HTTP listener (libmicrohttpd): collects each request's parameters (query string,
 * then an application/x-www-form-urlencoded body) into gateway_params, hands the request to one
 * handler and sends the response it fills. It knows nothing of Nacos routes, so tests can drive
 * it with a stub handler. It keeps the listener's limits against hostile clients: connections
 * in all and per address, a read deadline per request (gateway_conns.h), parameters per request
 * (gateway_params.h) and unambiguous body framing. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "gateway_params.h"

typedef struct gateway_request {
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* the URI path, without the query string */
    const char *user_agent; /* User-Agent, or Client-Version when that is empty; never NULL */
    const char *peer_ip;    /* numeric address of the TCP peer ("" when unknown); an IPv4 peer
                               of an IPv6 listener is shown as plain IPv4 */
    const char *authorization; /* the Authorization header; never NULL ("" when absent) */
    gateway_params *params; /* merged query + form parameters */
    struct request_state *state; /* the HTTP layer's (gateway_request_defer) */
} gateway_request;

#define GATEWAY_MAX_HEADERS 4

/* A response header beyond Content-Type; both strings static. */
typedef struct gateway_header {
    const char *name;
    const char *value;
} gateway_header;

typedef struct gateway_response {
    int status;               /* 0 until a reply is set */
    const char *content_type; /* static string */
    char *body;               /* malloc'd; sent and freed by the HTTP layer */
    size_t len;
    const char *endpoint; /* route pattern for metrics (static), NULL when no route matched */
    gateway_header headers[GATEWAY_MAX_HEADERS]; /* the first header_count are sent */
    size_t header_count;
} gateway_response;

/* Adds a header to resp (both strings static); false when GATEWAY_MAX_HEADERS are set already. */
bool gateway_response_add_header(gateway_response *resp, const char *name, const char *value);

/* Fills resp for req, or defers it (gateway_request_defer). Runs on one of the HTTP worker
 * threads, which serve many connections each: it must not block. */
typedef void (*gateway_http_handler)(void *arg, gateway_request *req, gateway_response *resp);

/* A request answered later (libmicrohttpd suspend/resume). A handler that calls
 * gateway_request_defer leaves its resp unset and returns; the connection is then suspended
 * (its thread goes on serving the others) until gateway_deferred_answer is called, exactly once,
 * from any thread, possibly before the handler has returned. req, its params and its strings
 * are valid only until the handler returns: copy what the answer needs. The endpoint label the
 * handler's resp had is kept when the answer carries none. */
typedef struct request_state gateway_deferred;
/* Deferring a request that is deferred already (a handler run on the offload pool, whose
 * request the pool deferred, hands it on as a job) returns the same handle: it is still
 * answered once. */
gateway_deferred *gateway_request_defer(gateway_request *req);
/* Takes resp's contents (the body is freed by the HTTP layer) and resumes the connection. */
void gateway_deferred_answer(gateway_deferred *d, gateway_response *resp);

/* Told about every response sent, with the time since the request's headers arrived. */
typedef void (*gateway_http_observer)(void *arg, const char *method, const char *endpoint,
                                      int status, double seconds);

typedef struct gateway_http_options {
    const char *host; /* numeric address or name to bind */
    uint16_t port;    /* 0: any free port */
    unsigned threads;
    unsigned max_connections;        /* further connections are closed as they are accepted */
    unsigned max_connections_per_ip; /* from one client address (0: no limit) */
    unsigned connection_timeout_s;   /* idle connections are closed after this long */
    unsigned read_timeout_ms; /* a request's line, headers and body arrive within this long of
                                 its first byte, or its connection is closed (gateway_conns.h) */
    size_t max_body_bytes;  /* larger bodies get 413 */
    size_t max_param_bytes; /* longer parameter values get 400 */
    size_t max_params;      /* more query + form parameters get 400 (0: no limit) */
    const char *address_file; /* where to write the address as bound (cairn_address.h), also
                                 logged (NULL: nowhere) */
    gateway_http_handler handler;
    gateway_http_observer observer; /* may be NULL */
    void *arg;
} gateway_http_options;

typedef struct gateway_http gateway_http;

/* Starts listening; returns NULL with *st set when the address cannot be bound. */
gateway_http *gateway_http_start(const gateway_http_options *opts, cairn_status *st);
/* The port actually bound. */
uint16_t gateway_http_port(const gateway_http *h);
/* Stops accepting, waits for every deferred request's answer, frees h. */
void gateway_http_stop(gateway_http *h);

#endif
