/* Building responses (§1.5, §1.6): `ok` for writes, JSON for queries, plain-text errors with the
 * status of their cairn_err; and the JSON number conventions (Java prints floats and doubles
 * with a decimal point and in their shortest form). */
#ifndef GATEWAY_REPLY_H
#define GATEWAY_REPLY_H

#include <jansson.h>

#include "cairn_error.h"
#include "cairn_model.h"
#include "gateway_http.h"

#define GATEWAY_TEXT_TYPE "text/plain;charset=UTF-8"
#define GATEWAY_JSON_TYPE "application/json"
/* 16 significant digits: "0.1" rather than "0.10000000000000001"; jansson appends ".0" to
 * integral reals, as Java does ("weight":1.0). */
#define GATEWAY_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16))

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

/* JSON numbers as Java prints them: a float by its shortest float text (0.7f → 0.7). */
json_t *gateway_json_float(float f);
json_t *gateway_json_double(double d);
/* A metadata map as a JSON object of strings (NULL when out of memory). */
json_t *gateway_json_metadata(const cairn_metadata *md);

#endif
