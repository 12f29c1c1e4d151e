/* Building responses (§1.5, §1.6): `ok` for writes, JSON for queries, plain-text errors with the
 * status of their cairn_err. The JSON number conventions (cairn_json_float and friends) are in
 * cairn_render.h, shared with the pushers. */
#ifndef GATEWAY_REPLY_H
#define GATEWAY_REPLY_H

#include <jansson.h>

#include "cairn_error.h"
#include "cairn_model.h"
#include "cairn_render.h"
#include "gateway_http.h"

#define GATEWAY_TEXT_TYPE "text/plain;charset=UTF-8"
#define GATEWAY_JSON_TYPE "application/json"
/* The JSON conventions of cairn_render.h (shared with the pushers). */
#define GATEWAY_JSON_FLAGS CAIRN_JSON_FLAGS

void gateway_reply_text(gateway_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 200 `ok`. */
void gateway_reply_ok(gateway_response *r);
/* The status of st->code with st->message as the body. */
void gateway_reply_error(gateway_response *r, const cairn_status *st);
/* 200 with json dumped (takes the reference; NULL json means out of memory: 500). */
void gateway_reply_json(gateway_response *r, json_t *json);
/* 200 with an already dumped body (takes ownership; NULL: 500). */
void gateway_reply_json_text(gateway_response *r, char *body, size_t len);

#endif
