/* Reading the Prometheus text exposition format (0.0.4) that the roles' /metrics serve (what
 * cairn_metrics.h writes): `cairn status` sums a few samples of it, the tests check it strictly.
 * Every non-comment line must be `name{labels} value [timestamp]` or `name value [timestamp]`. */
#ifndef CAIRN_PROM_TEXT_H
#define CAIRN_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cairn_prom_sample {
    char *name;
    char *labels; /* inside the braces, "" when none */
    double value; /* +Inf, -Inf and NaN as such */
} cairn_prom_sample;

typedef struct cairn_prom_text {
    cairn_prom_sample *samples;
    size_t count;
    size_t type_lines; /* "# TYPE" lines seen */
} cairn_prom_text;

/* Parses len bytes of text into out (free with cairn_prom_free). False with err set at the
 * first malformed line, or when out of memory; out is then left empty. */
bool cairn_prom_parse(const char *text, size_t len, cairn_prom_text *out, char *err,
                      size_t err_len);
void cairn_prom_free(cairn_prom_text *t);

/* The first sample whose name starts with prefix, contains part (NULL: any), ends with suffix
 * (NULL: any) and whose labels contain label_part (NULL: any). */
const cairn_prom_sample *cairn_prom_match(const cairn_prom_text *t, const char *prefix,
                                          const char *part, const char *suffix,
                                          const char *label_part);
/* Sum of the values of every sample matching as cairn_prom_match does; *n (may be NULL) gets
 * the number of samples summed. */
double cairn_prom_sum(const cairn_prom_text *t, const char *prefix, const char *part,
                      const char *suffix, const char *label_part, size_t *n);
/* The same for the samples named exactly name (`x_total` does not take in `x_total_other`). */
double cairn_prom_sum_named(const cairn_prom_text *t, const char *name, const char *label_part,
                            size_t *n);

#endif
