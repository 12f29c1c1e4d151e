/* The one error list of Cairn. Library errors (nng, LMDB, msgpack, jansson) are translated into
 * these where they enter Cairn's code; every reply that crosses a role boundary carries one of
 * these codes plus a human-readable message. */
#ifndef CAIRN_ERROR_H
#define CAIRN_ERROR_H

#include <stdarg.h>

typedef enum cairn_err {
    CAIRN_OK = 0,
    CAIRN_E_INVALID,     /* bad parameter or message: HTTP 400 */
    CAIRN_E_NOT_FOUND,   /* missing service/instance where the API says so: HTTP 404 */
    CAIRN_E_CONFLICT,    /* already exists: HTTP 400 in Nacos terms (it has no 409 for these) */
    CAIRN_E_LIMIT,       /* a configured limit would be exceeded: HTTP 400 */
    CAIRN_E_UNAVAILABLE, /* a role this request depends on is down or timed out: HTTP 503 */
    CAIRN_E_DECODE,      /* malformed inter-role message */
    CAIRN_E_STORAGE,     /* LMDB failure */
    CAIRN_E_NOMEM,
    CAIRN_E_INTERNAL,    /* HTTP 500 */
    CAIRN_E__COUNT
} cairn_err;

/* Short stable name, e.g. "invalid", for logs and metrics labels. */
const char *cairn_err_name(cairn_err err);

/* The HTTP status a gateway answers with for this error. */
int cairn_err_http_status(cairn_err err);

/* An error code with its message, as returned by validation and by every role's reply. */
typedef struct cairn_status {
    cairn_err code;
    char message[512];
} cairn_status;

/* Sets *st (when st is not NULL) to code and a printf-formatted message; returns code, so that
 * callers can write `return cairn_fail(st, CAIRN_E_INVALID, "Param '%s' is required.", k);`. */
cairn_err cairn_fail(cairn_status *st, cairn_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list, for functions that take a format of their own and pass it on. */
cairn_err cairn_vfail(cairn_status *st, cairn_err code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Resets *st to CAIRN_OK with an empty message. */
void cairn_status_clear(cairn_status *st);

#endif
