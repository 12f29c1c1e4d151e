/* Parsing acks with jansson; every failure is "not an ack", never an error. */
#include "pusher_ack.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAFE_INTEGER 9007199254740991.0 /* 2^53 - 1: the numbers the pusher hands out */

static bool ack_type(const char *t)
{
    return t && (strcmp(t, "push-ack") == 0 || strcmp(t, "unknown-ack") == 0 ||
                 strcmp(t, "dump-ack") == 0);
}

static bool parse_string(const char *s, uint64_t *out)
{
    if (!s || !*s || *s < '0' || *s > '9' || strlen(s) > 20)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool pusher_ack_parse(const void *buf, size_t len, uint64_t *ref_time)
{
    if (len == 0 || len > PUSHER_ACK_MAX_BYTES)
        return false;
    json_error_t err;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        return false;
    }
    bool ok = ack_type(json_string_value(json_object_get(j, "type")));
    json_t *ref = json_object_get(j, "lastRefTime");
    uint64_t v = 0;
    if (!ok) {
        /* not an ack type */
    } else if (json_is_integer(ref) && json_integer_value(ref) >= 0) {
        v = (uint64_t)json_integer_value(ref);
    } else if (json_is_real(ref)) {
        /* A JavaScript number written with an exponent or a fraction: only an exact integer. */
        double d = json_real_value(ref);
        ok = d >= 0 && d <= MAX_SAFE_INTEGER && floor(d) == d;
        v = ok ? (uint64_t)d : 0;
    } else if (json_is_string(ref)) {
        ok = parse_string(json_string_value(ref), &v);
    } else {
        ok = false;
    }
    json_decref(j);
    if (ok)
        *ref_time = v;
    return ok;
}
