/* The metric registry: families (one name, help and type) holding series (one label set each).
 * The mutex guards the family and series lists, which only grow; the values are atomics that
 * hot paths update without it. Series are allocated one by one, so their pointers stay valid
 * until cairn_metrics_free. */
#include "cairn_metrics.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double cairn_latency_buckets[] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0,
};
const size_t cairn_latency_bucket_count = sizeof cairn_latency_buckets / sizeof(double);

typedef enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* Doubles are kept as their bit pattern in an atomic uint64 (C11 has no atomic double add). */
static uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_dbl_add(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, dbl_bits(bits_dbl(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

struct cairn_counter {
    _Atomic uint64_t value;
};

struct cairn_gauge {
    _Atomic uint64_t bits;
};

struct cairn_histogram {
    size_t bound_count;
    double *bounds;
    _Atomic uint64_t *buckets; /* bound_count + 1 (the last is +Inf), not cumulative */
    _Atomic uint64_t sum_bits;
};

typedef struct series {
    char *labels; /* "" when none */
    union {
        struct cairn_counter counter;
        struct cairn_gauge gauge;
        struct cairn_histogram histogram;
    } u;
} series;

typedef struct family {
    char *name; /* full name, cairn_<role>_<name> */
    char *help;
    metric_type type;
    series **series;
    size_t series_count, series_cap;
} family;

typedef struct collector {
    cairn_metrics_collect_fn fn;
    void *arg;
} collector;

struct cairn_metrics {
    pthread_mutex_t lock;
    char *prefix; /* "cairn_<role>_" */
    family **families;
    size_t family_count, family_cap;
    collector *collectors;
    size_t collector_count;
};

cairn_metrics *cairn_metrics_new(const char *role)
{
    cairn_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    size_t n = strlen(role) + sizeof "cairn__";
    m->prefix = malloc(n);
    if (!m->prefix || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m->prefix);
        free(m);
        return NULL;
    }
    snprintf(m->prefix, n, "cairn_%s_", role);
    /* A role name like "health-check" must still give a valid metric name. */
    for (char *p = m->prefix; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            *p = '_';
    return m;
}

static void series_free(series *s, metric_type type)
{
    if (!s)
        return;
    if (type == METRIC_HISTOGRAM) {
        free(s->u.histogram.bounds);
        free(s->u.histogram.buckets);
    }
    free(s->labels);
    free(s);
}

void cairn_metrics_free(cairn_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->family_count; i++) {
        family *f = m->families[i];
        for (size_t j = 0; j < f->series_count; j++)
            series_free(f->series[j], f->type);
        free(f->series);
        free(f->name);
        free(f->help);
        free(f);
    }
    free(m->families);
    free(m->collectors);
    free(m->prefix);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static bool valid_name(const char *name)
{
    if (!name || !(isalpha((unsigned char)*name) || *name == '_' || *name == ':'))
        return false;
    for (; *name; name++)
        if (!isalnum((unsigned char)*name) && *name != '_' && *name != ':')
            return false;
    return true;
}

/* Makes room for one more element in a growing array (doubling); false on allocation failure. */
#define RESERVE_ONE(array, count, cap)                                                      \
    ((count) < (cap) || reserve_more((void *)&(array), sizeof *(array), &(cap)))

static bool reserve_more(void *arrayp, size_t elem_size, size_t *cap)
{
    void *old;
    memcpy(&old, arrayp, sizeof old);
    size_t ncap = *cap ? *cap * 2 : 8;
    void *n = realloc(old, ncap * elem_size);
    if (!n)
        return false;
    memcpy(arrayp, &n, sizeof n);
    *cap = ncap;
    return true;
}

/* Finds or creates the series (name, labels) of type; called with m->lock held. A name reused
 * with another type is a programming error. */
static series *lookup(cairn_metrics *m, const char *name, const char *help, const char *labels,
                      metric_type type, const double *bounds, size_t bound_count)
{
    if (!valid_name(name)) {
        fprintf(stderr, "cairn_metrics: invalid metric name \"%s\"\n", name ? name : "(null)");
        abort();
    }
    if (!labels)
        labels = "";
    size_t plen = strlen(m->prefix);
    family *f = NULL;
    for (size_t i = 0; i < m->family_count; i++) {
        family *c = m->families[i];
        if (strncmp(c->name, m->prefix, plen) == 0 && strcmp(c->name + plen, name) == 0) {
            f = c;
            break;
        }
    }
    if (f && f->type != type) {
        fprintf(stderr, "cairn_metrics: %s registered as %s, requested as %s\n", f->name,
                type_names[f->type], type_names[type]);
        abort();
    }
    if (f) {
        for (size_t j = 0; j < f->series_count; j++)
            if (strcmp(f->series[j]->labels, labels) == 0)
                return f->series[j];
    } else {
        if (!RESERVE_ONE(m->families, m->family_count, m->family_cap))
            return NULL;
        f = calloc(1, sizeof *f);
        if (!f)
            return NULL;
        size_t n = plen + strlen(name) + 1;
        f->name = malloc(n);
        f->help = strdup(help ? help : "");
        if (!f->name || !f->help) {
            free(f->name);
            free(f->help);
            free(f);
            return NULL;
        }
        snprintf(f->name, n, "%s%s", m->prefix, name);
        f->type = type;
        m->families[m->family_count++] = f;
    }

    if (!RESERVE_ONE(f->series, f->series_count, f->series_cap))
        return NULL;
    series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->labels = strdup(labels);
    if (!s->labels) {
        free(s);
        return NULL;
    }
    if (type == METRIC_HISTOGRAM) {
        struct cairn_histogram *h = &s->u.histogram;
        h->bound_count = bound_count;
        h->bounds = malloc((bound_count ? bound_count : 1) * sizeof *h->bounds);
        h->buckets = calloc(bound_count + 1, sizeof *h->buckets);
        if (!h->bounds || !h->buckets) {
            series_free(s, type);
            return NULL;
        }
        if (bound_count)
            memcpy(h->bounds, bounds, bound_count * sizeof *bounds);
    }
    f->series[f->series_count++] = s;
    return s;
}

/* lookup under the lock; NULL for a NULL registry. */
static series *lookup_locked(cairn_metrics *m, const char *name, const char *help,
                             const char *labels, metric_type type, const double *bounds,
                             size_t bound_count)
{
    if (!m)
        return NULL;
    pthread_mutex_lock(&m->lock);
    series *s = lookup(m, name, help, labels, type, bounds, bound_count);
    pthread_mutex_unlock(&m->lock);
    return s;
}

cairn_counter *cairn_metrics_counter(cairn_metrics *m, const char *name, const char *help,
                                     const char *labels)
{
    series *s = lookup_locked(m, name, help, labels, METRIC_COUNTER, NULL, 0);
    return s ? &s->u.counter : NULL;
}

cairn_gauge *cairn_metrics_gauge(cairn_metrics *m, const char *name, const char *help,
                                 const char *labels)
{
    series *s = lookup_locked(m, name, help, labels, METRIC_GAUGE, NULL, 0);
    return s ? &s->u.gauge : NULL;
}

cairn_histogram *cairn_metrics_histogram(cairn_metrics *m, const char *name, const char *help,
                                         const char *labels, const double *bounds,
                                         size_t bound_count)
{
    series *s = lookup_locked(m, name, help, labels, METRIC_HISTOGRAM, bounds, bound_count);
    return s ? &s->u.histogram : NULL;
}

/* Updates accept NULL (a metric whose allocation failed) so that callers need no checks. */
void cairn_counter_add(cairn_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void cairn_counter_inc(cairn_counter *c)
{
    cairn_counter_add(c, 1);
}

uint64_t cairn_counter_value(const cairn_counter *c)
{
    return c ? atomic_load_explicit(&((cairn_counter *)c)->value, memory_order_relaxed) : 0;
}

void cairn_gauge_set(cairn_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->bits, dbl_bits(v), memory_order_relaxed);
}

void cairn_gauge_add(cairn_gauge *g, double delta)
{
    if (g)
        atomic_dbl_add(&g->bits, delta);
}

double cairn_gauge_value(const cairn_gauge *g)
{
    return g ? bits_dbl(atomic_load_explicit(&((cairn_gauge *)g)->bits, memory_order_relaxed))
             : 0.0;
}

void cairn_histogram_observe(cairn_histogram *h, double v)
{
    if (!h)
        return;
    /* Buckets are few (~17): a linear scan beats a binary search at this size. */
    size_t i = 0;
    while (i < h->bound_count && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_dbl_add(&h->sum_bits, v);
}

uint64_t cairn_histogram_count(const cairn_histogram *h)
{
    if (!h)
        return 0;
    uint64_t n = 0;
    for (size_t i = 0; i <= h->bound_count; i++)
        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}

void cairn_metrics_on_collect(cairn_metrics *m, cairn_metrics_collect_fn fn, void *arg)
{
    if (!m || !fn)
        return;
    pthread_mutex_lock(&m->lock);
    collector *n = realloc(m->collectors, (m->collector_count + 1) * sizeof *n);
    if (n) {
        m->collectors = n;
        m->collectors[m->collector_count++] = (collector){fn, arg};
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- rendering ------------------------------------------------------------------------- */

/* Shortest of %.15g / %.17g that reads back as the same double; Prometheus spellings for
 * the non-finite values. */
static void format_double(char *buf, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(buf, len, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, len, "%.17g", v);
    }
}

/* HELP text escapes backslash and newline (exposition format 0.0.4). */
static void print_help(FILE *out, const family *f)
{
    fprintf(out, "# HELP %s ", f->name);
    for (const char *p = f->help; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fputc('\n', out);
}

static void print_labels(FILE *out, const char *labels, const char *extra)
{
    if (!labels[0] && !extra)
        return;
    fputc('{', out);
    fputs(labels, out);
    if (extra)
        fprintf(out, "%s%s", labels[0] ? "," : "", extra);
    fputc('}', out);
}

static void render_series(FILE *out, const family *f, series *s)
{
    char num[64];
    switch (f->type) {
    case METRIC_COUNTER:
        fputs(f->name, out);
        print_labels(out, s->labels, NULL);
        fprintf(out, " %" PRIu64 "\n", cairn_counter_value(&s->u.counter));
        break;
    case METRIC_GAUGE:
        format_double(num, sizeof num, cairn_gauge_value(&s->u.gauge));
        fputs(f->name, out);
        print_labels(out, s->labels, NULL);
        fprintf(out, " %s\n", num);
        break;
    case METRIC_HISTOGRAM: {
        struct cairn_histogram *h = &s->u.histogram;
        uint64_t cumulative = 0;
        char le[96];
        for (size_t i = 0; i <= h->bound_count; i++) {
            cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
            if (i < h->bound_count)
                format_double(num, sizeof num, h->bounds[i]);
            else
                snprintf(num, sizeof num, "+Inf");
            snprintf(le, sizeof le, "le=\"%s\"", num);
            fprintf(out, "%s_bucket", f->name);
            print_labels(out, s->labels, le);
            fprintf(out, " %" PRIu64 "\n", cumulative);
        }
        format_double(num, sizeof num,
                      bits_dbl(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
        fprintf(out, "%s_sum", f->name);
        print_labels(out, s->labels, NULL);
        fprintf(out, " %s\n", num);
        /* _count is the +Inf bucket as rendered, so the two always agree. */
        fprintf(out, "%s_count", f->name);
        print_labels(out, s->labels, NULL);
        fprintf(out, " %" PRIu64 "\n", cumulative);
        break;
    }
    }
}

char *cairn_metrics_render(cairn_metrics *m, size_t *len)
{
    if (len)
        *len = 0;
    if (!m)
        return NULL;

    /* Collectors run without the lock: they create and set gauges themselves. */
    pthread_mutex_lock(&m->lock);
    size_t ncollect = m->collector_count;
    collector *copy = ncollect ? malloc(ncollect * sizeof *copy) : NULL;
    if (copy)
        memcpy(copy, m->collectors, ncollect * sizeof *copy);
    else
        ncollect = 0;
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; i < ncollect; i++)
        copy[i].fn(m, copy[i].arg);
    free(copy);

    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->family_count; i++) {
        family *f = m->families[i];
        print_help(out, f);
        fprintf(out, "# TYPE %s %s\n", f->name, type_names[f->type]);
        for (size_t j = 0; j < f->series_count; j++)
            render_series(out, f, f->series[j]);
    }
    pthread_mutex_unlock(&m->lock);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = size;
    return buf;
}
