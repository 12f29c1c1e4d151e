/* Where the raft FSM's batches go (cluster-design §2.7 steps 3-5): each cairn_raft_batch becomes
 * one PERSIST_APPLY {first, last, records} (or PERSIST_REPLACE {last, records} after a snapshot
 * restore) to the local registry's registry.sock, in order, one request in flight; batches that
 * wait behind it are merged into one PERSIST_APPLY (up to 4 MiB of records). A request the
 * registry does not answer (restarting, timeout) is sent again after a short delay; one it
 * answers with an error is logged and dropped (the registry's watermark decides what it takes,
 * and resending the same bytes would be refused the same way).
 *
 * Threads: repl_persist_new and repl_persist_free on the main thread (before the loop thread
 * starts, after it ended); repl_persist_emit and repl_persist_stop on the loop thread; replies
 * arrive on nng threads and are posted to the loop. */
#ifndef REPLICATOR_PERSIST_H
#define REPLICATOR_PERSIST_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_msg.h"
#include "raft_records.h"

typedef struct replicator replicator;
typedef struct repl_persist repl_persist;

/* Pure: the request for a batch (PERSIST_APPLY, or PERSIST_REPLACE when b->replace). The
 * values are decoded (service definitions, instances); a value that does not decode fails the
 * whole batch (CAIRN_E_DECODE): the FSM encoded it, so that is a bug, not input. *rq is valid
 * (free with cairn_request_free) in every case. */
cairn_err repl_persist_request(const cairn_raft_batch *b, cairn_request *rq, cairn_status *st);

/* Pure: moves from's records after into's when both are PERSIST_APPLY and from covers later
 * entries (from->first > into->last; a gap is a barrier or configuration entry, which has no
 * records): into then covers into->first..from->last and from keeps no records (free it as
 * usual). false, nothing moved: not mergeable, or out of memory. */
bool repl_persist_merge(cairn_request *into, cairn_request *from);

repl_persist *repl_persist_new(replicator *r, cairn_status *st);
/* The FSM's emit callback (cairn_raft_emit_fn): takes the batch's contents. */
void repl_persist_emit(void *arg, cairn_raft_batch *batch);
/* Counters for the log and tests: batches sent and answered OK, dropped, resent, queued, and
 * of those queued, merged into the one queued before (batches wait behind the request in
 * flight; consecutive PERSIST_APPLYs travel as one, so the registry syncs once for them). */
typedef struct repl_persist_stats {
    uint64_t sent_ok, dropped, resent, queued, merged;
} repl_persist_stats;
repl_persist_stats repl_persist_stats_get(const repl_persist *p);
/* The registry's raft watermark as its last answers said it (0 before the first): every entry
 * at or below it is readable there. Loop thread. A write is acknowledged to its client only once
 * this reaches the write's index (read-your-writes, cluster-design §2.7 step 4). */
uint64_t repl_persist_applied(const repl_persist *p);
/* Every batch emitted so far has been answered (nothing queued or in flight). Loop thread. */
bool repl_persist_idle(const repl_persist *p);
/* fn runs on the loop thread each time the watermark advances, with the new value. */
typedef void (*repl_persist_applied_fn)(void *arg, uint64_t applied);
void repl_persist_on_applied(repl_persist *p, repl_persist_applied_fn fn, void *arg);
/* Loop thread, at stop: no more resends (the retry timer closes). */
void repl_persist_stop(repl_persist *p);
/* After the loop has ended: closes the registry client; unsent batches are lost (raft replays
 * them to the registry from its log on the next start, above the registry's watermark). */
void repl_persist_free(repl_persist *p);

#endif
