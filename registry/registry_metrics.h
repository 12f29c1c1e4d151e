/* The registry's metrics (on the role's cairn_metrics) and its /health answer. Gauges that
 * describe the store (size, entry counts) are computed when /metrics is rendered. */
#ifndef REGISTRY_METRICS_H
#define REGISTRY_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn_error.h"
#include "cairn_metrics.h"
#include "cairn_msg.h"
#include "registry_store.h"

struct registry_writer;

typedef struct registry_metrics {
    cairn_metrics *m; /* NULL: every update below is a no-op */
    cairn_histogram *batch_size;
    cairn_histogram *commit_seconds;
    cairn_histogram *sync_seconds;
    cairn_gauge *queue_depth;
    cairn_gauge *used_bytes;
    cairn_gauge *map_bytes;
    cairn_gauge *services;
    cairn_gauge *instances;
    cairn_gauge *raft_applied; /* the raft watermark (PERSIST_APPLY / PERSIST_REPLACE) */
    cairn_gauge *store_fresh;  /* 1 while the store has held no data but a partial load */
    cairn_counter *reads[CAIRN_MSG__END];
    /* change events of a service, by whether they carried its snapshot, and those that carried
     * a delta (writer thread) */
    cairn_counter *events_with_snapshot;
    cairn_counter *events_without_snapshot;
    cairn_counter *event_deltas;
    /* services removed by the empty-service sweep (registry_sweep.h) */
    cairn_counter *empty_services_removed;
    /* writes_total{type,result}, created on first use; touched by the writer thread only. */
    cairn_counter *writes[CAIRN_MSG__END][CAIRN_E__COUNT];

    /* What /health and the collector look at; detached before they go away. */
    pthread_mutex_t mu;
    registry_store *store;
    struct registry_writer *writer;
} registry_metrics;

/* m may be NULL (no metrics). Registers the collector on m, and a reads_total counter for each
 * message type that is_read says is a read (registry_is_read: the dispatch table's). */
void registry_metrics_init(registry_metrics *rm, cairn_metrics *m,
                           bool (*is_read)(cairn_msg_type type));
/* Points /health and the collector at the open store and running writer. */
void registry_metrics_attach(registry_metrics *rm, registry_store *store,
                             struct registry_writer *writer);
/* Before the writer stops and the store closes. */
void registry_metrics_detach(registry_metrics *rm);
void registry_metrics_destroy(registry_metrics *rm);

void registry_metrics_read(registry_metrics *rm, cairn_msg_type type);
void registry_metrics_write(registry_metrics *rm, cairn_msg_type type, cairn_err result);

/* cairn_health_fn: healthy while the store is open and the writer thread is alive. */
bool registry_health(void *arg, char *detail, size_t detail_len);

#endif
