/* The registry's single writer thread (group commit). Worker threads submit write requests and
 * block until the batch holding theirs is committed — and synced, when it held a durable write.
 * The writer runs each request of a batch in its own nested transaction, so a failing request
 * aborts only itself, commits once, syncs once, publishes one change event per changed service,
 * then wakes the submitters. Events are chained (prev_revision, cairn_follow.h), and when no
 * write came for event_tick_ms the writer publishes a TICK with its newest revision, so that a
 * follower that lost the last event of a burst notices within a tick. */
#ifndef REGISTRY_WRITER_H
#define REGISTRY_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_msg.h"
#include "registry_metrics.h"
#include "registry_store.h"

/* Called on the writer thread after a commit, once per changed service. */
typedef void (*registry_publish_fn)(void *arg, const cairn_change_event *ev);

typedef struct registry_writer_config {
    registry_store *store;
    registry_metrics *metrics;        /* may be NULL */
    uint32_t max_batch;               /* registry.max_batch */
    int64_t max_instances_per_service; /* limits.max_instances_per_service */
    registry_publish_fn publish;      /* may be NULL */
    void *publish_arg;
    int64_t event_tick_ms;            /* registry.event_tick_ms; 0: no ticks */
} registry_writer_config;

typedef struct registry_writer registry_writer;

cairn_err registry_writer_start(const registry_writer_config *cfg, registry_writer **out,
                                cairn_status *st);
/* Applies req (a write type) and fills rep; returns once it is committed or has failed. After
 * registry_writer_stop has begun, replies CAIRN_E_UNAVAILABLE. */
void registry_writer_submit(registry_writer *w, const cairn_request *req, cairn_reply *rep);
/* Finishes every queued write, stops the thread and frees the writer. */
void registry_writer_stop(registry_writer *w);
bool registry_writer_alive(const registry_writer *w);
/* Writes waiting in the queue, and writes taken into the batch being applied now. */
void registry_writer_backlog(registry_writer *w, size_t *queued, size_t *in_flight);

#endif
