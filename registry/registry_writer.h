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
/* Most writes queued at once; beyond it a write is answered CAIRN_E_UNAVAILABLE at once. */
#define REGISTRY_WRITE_QUEUE_MAX 65536

/* Told on the writer thread (or on the submitting thread, when the write is refused at once)
 * that rep is final: committed, and synced when durable, or failed. */
typedef void (*registry_write_done_fn)(void *arg);

/* Queues req (a write type) and returns at once; done(arg) runs exactly once when rep is final.
 * req and rep stay the caller's and must live until then. Refused with CAIRN_E_UNAVAILABLE after
 * registry_writer_stop has begun or when the queue is full. No thread waits: the registry's rpc
 * workers hand writes over and go back to receiving, so a batch can hold up to max_batch writes
 * whatever the number of workers. */
void registry_writer_submit_async(registry_writer *w, const cairn_request *req, cairn_reply *rep,
                                  registry_write_done_fn done, void *arg);
/* The same, waiting for done (tests, tools). */
void registry_writer_submit(registry_writer *w, const cairn_request *req, cairn_reply *rep);
/* Finishes every queued write, stops the thread and frees the writer. */
void registry_writer_stop(registry_writer *w);
bool registry_writer_alive(const registry_writer *w);
/* Writes waiting in the queue, and writes taken into the batch being applied now. */
void registry_writer_backlog(registry_writer *w, size_t *queued, size_t *in_flight);

#endif
