/* The FSM snapshot: the whole CP state and the index it reflects, as one buffer.
 *
 * Layout (integers big-endian): "CRNSNAP1", index u64, service count u64, then per service in
 * (namespace, name) order: u32 length + cairn_service_encode bytes, u32 instance count, and per
 * instance in (cluster, ip, port) order u32 length + cairn_instance_encode bytes. The decoder
 * trusts no length or count: each must fit in the bytes that remain, every value must decode
 * and name the service it is filed under, and trailing bytes are an error. Loop thread. */
#ifndef CAIRN_RAFT_SNAPSHOT_H
#define CAIRN_RAFT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "raft_state.h"

/* *out is malloc'd; the caller frees it. */
cairn_err raft_snapshot_encode(const raft_cp_state *s, uint64_t index, char **out,
                               size_t *out_len, cairn_status *st);
/* Fills the empty state into; on error into is left empty and *st says why. */
cairn_err raft_snapshot_decode(const char *buf, size_t len, raft_cp_state *into,
                               uint64_t *index, cairn_status *st);

#endif
