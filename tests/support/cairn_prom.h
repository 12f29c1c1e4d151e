/* Transitional: the tests' old names for the Prometheus text reader, which now lives in common
 * (cairn_prom_text.h, shared with `cairn status`). Kept only while tests written against these
 * names are moved over; new code includes cairn_prom_text.h. No logic of its own. */
#ifndef CAIRN_PROM_H
#define CAIRN_PROM_H

#include <string.h>

#include "cairn_prom_text.h"

typedef cairn_prom_sample prom_sample;
typedef cairn_prom_text prom_text;

/* text is NUL-terminated. */
static inline bool prom_parse(const char *text, prom_text *out, char *err, size_t err_len)
{
    return cairn_prom_parse(text, strlen(text), out, err, err_len);
}

#define prom_free cairn_prom_free
#define prom_match cairn_prom_match
#define prom_sum cairn_prom_sum

#endif
