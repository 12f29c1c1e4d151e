/* The raft state machine of the CP data (cluster-design §2.7 steps 3-5, §5 pitfalls 1 and 7).
 *
 * An entry is one registry write message exactly as the gateway encodes it (cairn_msg.h), framed
 * (below), so a request travels unchanged from the gateway through RAFT_SUBMIT/RAFT_FORWARD into
 * the log.
 * apply decodes it and runs raft_commands.h on the in-memory state. It is total and
 * deterministic and always returns 0 to raft (a non-zero return stalls libraft 0.15 forever):
 * a rejection, or an entry that does not decode, is the entry's result, the same on every node.
 *
 * The result of an entry (cairn_raft_result) lives in the FSM and is valid only during the
 * raft_apply callback that receives it (libraft fires that callback right after apply); copy
 * what you need.
 *
 * Records: each applied entry appends its full records to a pending PERSIST_APPLY batch that
 * covers consecutive entries; cairn_raft_fsm_flush hands the batch to the emit callback (the
 * node wrapper flushes once per loop iteration, so entries applied together travel together).
 * restore replaces the whole state, flushes what was pending, then emits a replacement batch
 * (PERSIST_REPLACE) as of the snapshot's index.
 *
 * Snapshot: raft_snapshot.h, taken synchronously on the loop (the state is small).
 * Everything here runs on the loop thread that runs raft. */
#ifndef CAIRN_RAFT_FSM_H
#define CAIRN_RAFT_FSM_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "raft_commands.h"
#include "raft_records.h"
#include "raft_state.h"

typedef struct cairn_raft_fsm cairn_raft_fsm;

/* The entry framing. libraft 0.15's TCP transport sends an entry's bytes unpadded but decodes a
 * batch as if each entry were padded to a multiple of 8 bytes (src/uv_encoding.c), so an entry of
 * any other length reaches followers shifted. Every entry is therefore a multiple of 8 bytes:
 * length (u32 BE), 4 zero bytes, the command, zero padding. */
/* out->base is raft_calloc'd (raft_apply takes it); returns 0 or a RAFT_* error. */
int cairn_raft_entry_encode(const void *cmd, size_t len, struct raft_buffer *out);
/* The command inside an entry (a slice of buf); false when buf is not framed so. */
bool cairn_raft_entry_command(const struct raft_buffer *buf, const char **cmd, size_t *len);

/* A batch entry carries several commands, applied in order as if each were an entry of its own
 * (each has its own verdict; all share the entry's index): count (u32 BE), the byte 1, 3 zero
 * bytes, then each command framed as a single-command entry is. The leader appends the writes
 * that reach it in one loop turn as one entry: one disk write and one AppendEntries per
 * follower instead of one per write. */
#define CAIRN_RAFT_BATCH_MAX 64
/* n (1..CAIRN_RAFT_BATCH_MAX) commands into one batch entry (raft_calloc'd, as above). */
int cairn_raft_entry_encode_batch(const void *const *cmds, const size_t *lens, size_t n,
                                  struct raft_buffer *out);
/* The commands of a single-command or batch entry (slices of buf) into cmds/lens (room for
 * CAIRN_RAFT_BATCH_MAX), their number in *n; false when buf is neither. */
bool cairn_raft_entry_commands(const struct raft_buffer *buf, const char **cmds, size_t *lens,
                               size_t *n);

typedef struct cairn_raft_fsm_options {
    raft_cmd_limits limits; /* must be equal on every member (see raft_commands.h) */
    cairn_raft_emit_fn emit; /* NULL: batches are dropped (tests of the state alone) */
    void *emit_arg;
} cairn_raft_fsm_options;

typedef struct cairn_raft_result {
    uint64_t index;     /* the entry's log index: raft_last_applied() + 1 inside apply */
    cairn_status status; /* CAIRN_OK, or the rejection (code and Nacos' message); of a batch
                            entry: its first command's, or why the entry did not decode */
    size_t count;                 /* verdicts in statuses: the entry's commands (0: none decoded) */
    const cairn_status *statuses; /* each command's verdict, in the entry's order */
} cairn_raft_result;

cairn_raft_fsm *cairn_raft_fsm_new(const cairn_raft_fsm_options *o);
/* Frees the FSM and any pending batch (not emitted). After raft_close has completed. */
void cairn_raft_fsm_free(cairn_raft_fsm *f);
/* The struct to hand raft_init; valid as long as f. */
struct raft_fsm *cairn_raft_fsm_raft(cairn_raft_fsm *f);
/* The raft instance whose entries f applies (for the entry index); before raft_start. */
void cairn_raft_fsm_bind(cairn_raft_fsm *f, struct raft *r);
/* Emits the pending PERSIST_APPLY batch, if any entry was applied since the last flush. */
void cairn_raft_fsm_flush(cairn_raft_fsm *f);

/* The state as applied so far (read-only), and the index of the last entry applied or restored. */
const raft_cp_state *cairn_raft_fsm_state(const cairn_raft_fsm *f);
uint64_t cairn_raft_fsm_applied(const cairn_raft_fsm *f);
/* Counters for metrics: entries applied, of them rejected, snapshots taken and restored. */
typedef struct cairn_raft_fsm_stats {
    uint64_t applied, rejected, snapshots, restores, snapshot_bytes;
} cairn_raft_fsm_stats;
cairn_raft_fsm_stats cairn_raft_fsm_stats_get(const cairn_raft_fsm *f);

#endif
