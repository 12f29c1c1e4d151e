/* The registry's single writer thread (group commit). Callers queue writes, each with the
 * function that applies it, and are told when the batch holding theirs is committed — and
 * synced, when it held a durable write.
 * The writer runs each request of a batch in its own nested transaction, so a failing request
 * aborts only itself, commits once, syncs once, publishes one change event per changed service,
 * then tells each write it is done. Each event of a service that still exists carries, read after
 * the commit and before publishing on this thread (so nothing can have changed it since), a
 * delta — the instances the batch wrote or removed, as they are at the event's revision — when
 * the service holds more than twice as many instances, and the service's whole snapshot when it
 * does not or when the service has subscribers (in_use: the pushers push the whole), each when
 * it fits event_snapshot_max_bytes; followers read the service themselves only when they cannot
 * use what came. Events are chained (prev_revision,
 * cairn_follow.h), and when no write came for event_tick_ms the writer publishes a TICK with its
 * newest revision, so that a follower that lost the last event of a burst notices within a
 * tick. */
#ifndef REGISTRY_WRITER_H
#define REGISTRY_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_msg.h"
#include "registry_metrics.h"
#include "registry_store.h"

/* Called on the writer thread after a commit, once per changed service; ev and its snapshot
 * bytes are valid only during the call. */
typedef void (*registry_publish_fn)(void *arg, const cairn_change_event *ev);
/* Called on the writer thread after the events of one commit (or a tick): what the publisher
 * held of them goes out now. */
typedef void (*registry_publish_end_fn)(void *arg);

typedef struct registry_writer_config {
    registry_store *store;
    registry_metrics *metrics;        /* may be NULL */
    uint32_t max_batch;               /* registry.max_batch */
    int64_t max_instances_per_service; /* limits.max_instances_per_service */
    cairn_limits limits;              /* for writes that check their parts themselves */
    registry_publish_fn publish;      /* may be NULL */
    registry_publish_end_fn publish_end; /* may be NULL */
    void *publish_arg;
    int64_t event_tick_ms;            /* registry.event_tick_ms; 0: no ticks */
    size_t event_snapshot_max_bytes;  /* registry.event_snapshot_max_bytes; 0: none */
    struct registry_in_use *in_use;   /* services with subscribers; may be NULL (none) */
} registry_writer_config;

typedef struct registry_writer registry_writer;

cairn_err registry_writer_start(const registry_writer_config *cfg, registry_writer **out,
                                cairn_status *st);
/* Most writes queued at once; beyond it a write is answered CAIRN_E_UNAVAILABLE at once. */
#define REGISTRY_WRITE_QUEUE_MAX 65536

struct registry_notes;

/* What the writer hands a write's apply function: the request's own nested transaction, and
 * room to say what changed. */
typedef struct registry_write_ctx {
    registry_store *store;
    MDB_txn *txn; /* the request's own nested transaction */
    int64_t now_ms;
    int64_t max_instances_per_service;
    const cairn_limits *limits;
    /* Set by a write that changed something (then the reply carries revision). */
    bool changed;
    bool durable; /* needs a sync before the reply: persistent instance or service definition */
    cairn_change_kind kind;
    uint64_t revision;
    struct registry_notes *notes; /* the writer's: see registry_write_note_change */
} registry_write_ctx;

/* Records that the write changed service (ns, svc) to revision, for a change event: how a write
 * that changes many services (wr.service NULL, the replication writes) names each of them. The
 * names are copied. Call it only for changes that will be committed with c->txn (after the
 * commit of any transaction nested in it); if the write fails, its notes are dropped. The
 * batch is synced when c->durable is set. */
cairn_err registry_write_note_change(registry_write_ctx *c, const char *ns, const char *svc,
                                     cairn_change_kind kind, uint64_t revision,
                                     cairn_status *st);
/* The notes taken so far, and the undoing of those taken since (for a write that aborts a
 * transaction it nested in c->txn after noting changes made in it). */
size_t registry_write_notes_mark(const registry_write_ctx *c);
void registry_write_notes_rewind(registry_write_ctx *c, size_t mark);

/* Applies one write inside c->txn, on the writer thread. On error *st says why; the writer then
 * aborts c->txn and fails the reply. The writer calls it and nothing else of its user: what a
 * request means is the caller's (registry_dispatch.c), queueing and committing the writer's. */
typedef cairn_err (*registry_apply_fn)(registry_write_ctx *c, const cairn_request *req,
                                       cairn_reply *rep, cairn_status *st);

/* Told on the writer thread (or on the submitting thread, when the write is refused at once)
 * that rep is final: committed, and synced when durable, or failed. */
typedef void (*registry_write_done_fn)(void *arg);

/* One write to queue. Everything it points to is borrowed and must live until done(done_arg) has
 * run. On success the writer sets rep->revision (0 when nothing changed). */
typedef struct registry_write {
    registry_apply_fn apply;
    const cairn_request *req;  /* handed to apply; its type labels writes_total */
    const char *namespace_id;  /* the service the write may change: names its change event; */
    const char *service;       /* NULL when the write names each change it makes
                                  (registry_write_note_change) */
    cairn_reply *rep;
    registry_write_done_fn done;
    void *done_arg;
} registry_write;

/* Queues the write and returns at once; wr->done(wr->done_arg) runs exactly once when wr->rep is
 * final. Refused with CAIRN_E_UNAVAILABLE after registry_writer_stop has begun or when the queue
 * is full. No thread waits: the registry's rpc workers hand writes over and go back to receiving,
 * so a batch can hold up to max_batch writes whatever the number of workers. */
void registry_writer_submit_async(registry_writer *w, const registry_write *wr);
/* The same, returning when wr->rep is final (wr->done is ignored). */
void registry_writer_submit(registry_writer *w, const registry_write *wr);
/* The same for the n writes wrs[], queued together (so they can share batches), returning when
 * every one's rep is final (their done is ignored). */
void registry_writer_submit_all(registry_writer *w, const registry_write *wrs, size_t n);
/* Finishes every queued write, stops the thread and frees the writer. */
void registry_writer_stop(registry_writer *w);
bool registry_writer_alive(const registry_writer *w);
/* Writes waiting in the queue, and writes taken into the batch being applied now. */
void registry_writer_backlog(registry_writer *w, size_t *queued, size_t *in_flight);

#endif
