#include "cli_prom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cli_prom_sum(const char *text, size_t len, const char *sample, double *sum)
{
    size_t name_len = strlen(sample);
    const char *p = text, *end = text + len;
    bool found = false;
    *sum = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        /* "name{labels} value" or "name value"; comments start with '#'. */
        if (n > name_len && p[0] != '#' && memcmp(p, sample, name_len) == 0 &&
            (p[name_len] == '{' || p[name_len] == ' ')) {
            const char *v = line_end;
            while (v > p && v[-1] != ' ')
                v--;
            char num[64];
            size_t vn = (size_t)(line_end - v);
            if (vn > 0 && vn < sizeof num) {
                memcpy(num, v, vn);
                num[vn] = '\0';
                char *e;
                double d = strtod(num, &e);
                if (*e == '\0' && !isnan(d)) {
                    *sum += d;
                    found = true;
                }
            }
        }
        p = line_end + 1;
    }
    return found;
}
