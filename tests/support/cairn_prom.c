/* Prometheus text reader for the tests (see cairn_prom.h). */
#include "cairn_prom.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

/* One sample line into s; false when malformed. */
static bool parse_line(const char *line, size_t len, prom_sample *s)
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
    return s->name && s->labels;
}

bool prom_parse(const char *text, prom_text *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    int lineno = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len > 0 && p[0] == '#') {
            if (len > 7 && strncmp(p, "# TYPE ", 7) == 0)
                out->type_lines++;
        } else if (len > 0) {
            if (out->count == cap) {
                cap = cap ? cap * 2 : 64;
                prom_sample *ns = realloc(out->samples, cap * sizeof *ns);
                if (!ns) {
                    snprintf(err, err_len, "out of memory");
                    return false;
                }
                out->samples = ns;
            }
            if (!parse_line(p, len, &out->samples[out->count])) {
                snprintf(err, err_len, "line %d is not `name{labels} value`: \"%.*s\"", lineno,
                         (int)(len > 200 ? 200 : len), p);
                return false;
            }
            out->count++;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return true;
}

void prom_free(prom_text *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->samples[i].name);
        free(t->samples[i].labels);
    }
    free(t->samples);
    memset(t, 0, sizeof *t);
}

static bool matches(const prom_sample *s, const char *prefix, const char *part,
                    const char *suffix, const char *label_part)
{
    size_t nlen = strlen(s->name);
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

const prom_sample *prom_match(const prom_text *t, const char *prefix, const char *part,
                              const char *suffix, const char *label_part)
{
    for (size_t i = 0; i < t->count; i++) {
        if (matches(&t->samples[i], prefix, part, suffix, label_part))
            return &t->samples[i];
    }
    return NULL;
}

double prom_sum(const prom_text *t, const char *prefix, const char *part, const char *suffix,
                const char *label_part, size_t *n)
{
    double sum = 0;
    size_t c = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (matches(&t->samples[i], prefix, part, suffix, label_part)) {
            sum += t->samples[i].value;
            c++;
        }
    }
    if (n)
        *n = c;
    return sum;
}
