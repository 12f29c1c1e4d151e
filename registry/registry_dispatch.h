/* How the registry answers a request: one table maps each request type to how it is served.
 *
 *  read    answered in the calling rpc worker from a read-only transaction;
 *  write   queued to the writer (registry_writer.h) with its apply function; the reply is sent
 *          by the writer's completion once the batch is committed (and synced when durable);
 *  both    (BEAT) tried as a read first; a read that would change state goes to the writer;
 *  note    (SERVICES_IN_USE) answered in the calling rpc worker from memory, without a
 *          transaction (registry_in_use.h).
 *
 * The table (registry_dispatch.c) is the one list of the registry's request types: what is
 * served, how, and the reads_total metric's labels all come from it. A type without an entry is
 * answered CAIRN_E_INVALID. Every write is first checked against the model's limits
 * (cairn_model.h), whoever sent it: the registry does not trust its peers to have done so. The
 * handlers (registry_handlers.h) never see the writer; the writer
 * never sees the handlers. */
#ifndef REGISTRY_DISPATCH_H
#define REGISTRY_DISPATCH_H

#include <stdbool.h>

#include "cairn_msg.h"
#include "cairn_rpc.h"
#include "registry_in_use.h"
#include "registry_metrics.h"
#include "registry_store.h"
#include "registry_writer.h"

/* What the dispatch needs (the rpc server's handler argument). Borrowed: each must outlive the
 * rpc server that calls registry_handle / registry_defer. */
typedef struct registry {
    registry_store *store;
    registry_writer *writer;
    registry_metrics *metrics; /* may be NULL */
    cairn_limits limits;       /* every write is checked against them before it is queued */
    registry_in_use *in_use;   /* services reported in use; NULL (no sweep): reports are
                                  answered and forgotten */
} registry;

/* cairn_rpc_handler; arg is a registry*. Reads are answered here; a write waits for the writer
 * (the rpc server normally defers writes first, see registry_defer). Any rpc worker thread. */
void registry_handle(void *arg, const cairn_request *req, cairn_reply *rep);
/* cairn_rpc_deferrer; arg is a registry*: takes every write, hands it to the writer and lets the
 * worker go (the writer's completion sends the reply). A write that is tried as a read first
 * (BEAT) and needs no writer is answered here. */
bool registry_defer(void *arg, cairn_rpc_pending *p);

/* The table's verdicts, for metrics and tests. */
bool registry_is_read(cairn_msg_type type);
bool registry_is_write(cairn_msg_type type);

#endif
