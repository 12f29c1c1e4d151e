/* Prometheus text reader (see cairn_prom_text.h). */
#include "cairn_prom_text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' ||
           (!first && isdigit((unsigned char)c));
}

/* One sample line into s; false when malformed. */
static bool parse_line(const char *line, size_t len, cairn_prom_sample *s)
{
    size_t i = 0;
    if (len == 0 || !name_char(line[0], true))
        return false;
    while (i < len && name_char(line[i], i == 0))
        i++;
    size_t name_end = i;
    size_t lab_start = 0, lab_end = 0;
    if (i < len && line[i] == '{') {
        lab_start = ++i;
        bool in_str = false;
        for (; i < len; i++) {
            if (in_str && line[i] == '\\') {
                i++;
                continue;
            }
            if (line[i] == '"')
                in_str = !in_str;
            else if (!in_str && line[i] == '}')
                break;
        }
        if (i >= len)
            return false;
        lab_end = i++;
    }
    if (i >= len || line[i] != ' ')
        return false;
    while (i < len && line[i] == ' ')
        i++;
    char num[64];
    size_t nlen = 0;
    while (i < len && line[i] != ' ' && nlen < sizeof num - 1)
        num[nlen++] = line[i++];
    num[nlen] = '\0';
    if (nlen == 0)
        return false;
    char *end;
    double v;
    if (strcmp(num, "+Inf") == 0)
        v = INFINITY;
    else if (strcmp(num, "-Inf") == 0)
        v = -INFINITY;
    else if (strcmp(num, "NaN") == 0)
        v = NAN;
    else {
        v = strtod(num, &end);
        if (*end)
            return false;
    }
    /* An optional timestamp may follow. */
    s->name = strndup(line, name_end);
    s->labels = lab_end > lab_start ? strndup(line + lab_start, lab_end - lab_start) : strdup("");
    s->value = v;
    if (!s->name || !s->labels) {
        free(s->name);
        free(s->labels);
        return false;
    }
    return true;
}

bool cairn_prom_parse(const char *text, size_t len, cairn_prom_text *out, char *err,
                      size_t err_len)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    int lineno = 0;
    const char *end = text + len;
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (n > 0 && p[0] == '#') {
            if (n > 7 && strncmp(p, "# TYPE ", 7) == 0)
                out->type_lines++;
        } else if (n > 0) {
            if (out->count == cap) {
                cap = cap ? cap * 2 : 64;
                cairn_prom_sample *ns = realloc(out->samples, cap * sizeof *ns);
                if (!ns) {
                    snprintf(err, err_len, "out of memory");
                    cairn_prom_free(out);
                    return false;
                }
                out->samples = ns;
            }
            if (!parse_line(p, n, &out->samples[out->count])) {
                snprintf(err, err_len, "line %d is not `name{labels} value`: \"%.*s\"", lineno,
                         (int)(n > 200 ? 200 : n), p);
                cairn_prom_free(out);
                return false;
            }
            out->count++;
        }
        p += n;
        if (p < end && *p == '\n')
            p++;
    }
    return true;
}

void cairn_prom_free(cairn_prom_text *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->samples[i].name);
        free(t->samples[i].labels);
    }
    free(t->samples);
    memset(t, 0, sizeof *t);
}

/* name: the exact name (NULL: any); the rest as cairn_prom_match. */
static bool matches(const cairn_prom_sample *s, const char *name, const char *prefix,
                    const char *part, const char *suffix, const char *label_part)
{
    size_t nlen = strlen(s->name);
    if (name && strcmp(s->name, name) != 0)
        return false;
    if (prefix && strncmp(s->name, prefix, strlen(prefix)) != 0)
        return false;
    if (part && !strstr(s->name, part))
        return false;
    if (suffix && (nlen < strlen(suffix) || strcmp(s->name + nlen - strlen(suffix), suffix) != 0))
        return false;
    if (label_part && !strstr(s->labels, label_part))
        return false;
    return true;
}

const cairn_prom_sample *cairn_prom_match(const cairn_prom_text *t, const char *prefix,
                                          const char *part, const char *suffix,
                                          const char *label_part)
{
    for (size_t i = 0; i < t->count; i++) {
        if (matches(&t->samples[i], NULL, prefix, part, suffix, label_part))
            return &t->samples[i];
    }
    return NULL;
}

static double sum_matching(const cairn_prom_text *t, const char *name, const char *prefix,
                           const char *part, const char *suffix, const char *label_part,
                           size_t *n)
{
    double sum = 0;
    size_t c = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (matches(&t->samples[i], name, prefix, part, suffix, label_part)) {
            sum += t->samples[i].value;
            c++;
        }
    }
    if (n)
        *n = c;
    return sum;
}

double cairn_prom_sum(const cairn_prom_text *t, const char *prefix, const char *part,
                      const char *suffix, const char *label_part, size_t *n)
{
    return sum_matching(t, NULL, prefix, part, suffix, label_part, n);
}

double cairn_prom_sum_named(const cairn_prom_text *t, const char *name, const char *label_part,
                            size_t *n)
{
    return sum_matching(t, name, NULL, NULL, NULL, label_part, n);
}
