/* Per-role metrics, rendered in the Prometheus text exposition format (version 0.0.4).
 * A metric is identified by name plus a label set written in Prometheus syntax, e.g.
 * `endpoint="/nacos/v1/ns/instance",status="200"`. Lookups create on first use and return a
 * stable pointer; updates are lock-free atomics, so hot paths look a metric up once and keep it. */
#ifndef CAIRN_METRICS_H
#define CAIRN_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_metrics cairn_metrics;
typedef struct cairn_counter cairn_counter;
typedef struct cairn_gauge cairn_gauge;
typedef struct cairn_histogram cairn_histogram;

/* All metric names are prefixed with "cairn_<role>_" on output. */
cairn_metrics *cairn_metrics_new(const char *role);
void cairn_metrics_free(cairn_metrics *m);

/* labels may be NULL or "" for none. help is used the first time a name is seen. */
cairn_counter *cairn_metrics_counter(cairn_metrics *m, const char *name, const char *help,
                                     const char *labels);
cairn_gauge *cairn_metrics_gauge(cairn_metrics *m, const char *name, const char *help,
                                 const char *labels);
/* bounds: ascending upper bounds of the buckets (the +Inf bucket is implicit). */
cairn_histogram *cairn_metrics_histogram(cairn_metrics *m, const char *name, const char *help,
                                         const char *labels, const double *bounds,
                                         size_t bound_count);

void cairn_counter_add(cairn_counter *c, uint64_t n);
void cairn_counter_inc(cairn_counter *c);
uint64_t cairn_counter_value(const cairn_counter *c);
void cairn_gauge_set(cairn_gauge *g, double v);
void cairn_gauge_add(cairn_gauge *g, double delta);
double cairn_gauge_value(const cairn_gauge *g);
void cairn_histogram_observe(cairn_histogram *h, double v);
uint64_t cairn_histogram_count(const cairn_histogram *h);

/* Latency buckets in seconds, 50 µs .. 10 s, shared by every role's latency histograms. */
extern const double cairn_latency_buckets[];
extern const size_t cairn_latency_bucket_count;

/* Called at the start of every render so a role can refresh gauges it computes on demand
 * (database size, table sizes). */
typedef void (*cairn_metrics_collect_fn)(cairn_metrics *m, void *arg);
void cairn_metrics_on_collect(cairn_metrics *m, cairn_metrics_collect_fn fn, void *arg);

/* Prometheus text; malloc'd, NUL-terminated, *len without the NUL. */
char *cairn_metrics_render(cairn_metrics *m, size_t *len);

#endif
