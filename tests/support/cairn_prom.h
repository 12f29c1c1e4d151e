/* A strict reader of the Prometheus text exposition format (0.0.4) for checking the roles'
 * /metrics output: every sample line must be `name{labels} value`. */
#ifndef CAIRN_PROM_H
#define CAIRN_PROM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct prom_sample {
    char *name;
    char *labels; /* inside the braces, "" when none */
    double value;
} prom_sample;

typedef struct prom_text {
    prom_sample *samples;
    size_t count;
    size_t type_lines; /* "# TYPE" lines seen */
} prom_text;

/* Parses text; false with err set at the first malformed line. */
bool prom_parse(const char *text, prom_text *out, char *err, size_t err_len);
void prom_free(prom_text *t);

/* The first sample whose name starts with prefix, contains part (NULL: any), ends with suffix
 * (NULL: any) and whose labels contain label_part (NULL: any). */
const prom_sample *prom_match(const prom_text *t, const char *prefix, const char *part,
                              const char *suffix, const char *label_part);
/* Sum of the values of every sample matching as prom_match does; *n gets the match count. */
double prom_sum(const prom_text *t, const char *prefix, const char *part, const char *suffix,
                const char *label_part, size_t *n);

#endif
