/* Response builders shared by every handler. */
#include "gateway_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_body(gateway_response *r, int status, const char *type, char *body, size_t len)
{
    free(r->body);
    if (!body) {
        static const char oom[] = "caused: out of memory;";
        status = 500;
        type = GATEWAY_TEXT_TYPE;
        body = strdup(oom);
        len = body ? sizeof oom - 1 : 0;
    }
    r->status = status;
    r->content_type = type;
    r->body = body;
    r->len = len;
}

void gateway_reply_text(gateway_response *r, int status, const char *fmt, ...)
{
    char *body;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&body, fmt, ap);
    va_end(ap);
    set_body(r, status, GATEWAY_TEXT_TYPE, n < 0 ? NULL : body, n < 0 ? 0 : (size_t)n);
}

void gateway_reply_ok(gateway_response *r)
{
    gateway_reply_text(r, 200, "ok");
}

void gateway_reply_error(gateway_response *r, const cairn_status *st)
{
    int status = cairn_err_http_status(st->code);
    if (status == 200)
        status = 500; /* an error without a code is still an error */
    gateway_reply_text(r, status, "%s", st->message[0] ? st->message : cairn_err_name(st->code));
}

void gateway_reply_json(gateway_response *r, json_t *json)
{
    char *body = json ? json_dumps(json, GATEWAY_JSON_FLAGS) : NULL;
    json_decref(json);
    set_body(r, 200, GATEWAY_JSON_TYPE, body, body ? strlen(body) : 0);
}

void gateway_reply_json_text(gateway_response *r, char *body, size_t len)
{
    set_body(r, 200, GATEWAY_JSON_TYPE, body, len);
}
