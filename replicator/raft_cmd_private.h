/* Shared by the raft command files (raft_commands.c, raft_cmd_instances.c); not an interface. */
#ifndef CAIRN_RAFT_CMD_PRIVATE_H
#define CAIRN_RAFT_CMD_PRIVATE_H

#include "cairn_write_rules.h"
#include "raft_commands.h"

cairn_err raft_cmd_instance_upsert(raft_cp_state *s, const raft_cmd_limits *lim,
                                   const cairn_request *req, cairn_raft_batch *out,
                                   cairn_status *st);
cairn_err raft_cmd_instance_patch(raft_cp_state *s, const raft_cmd_limits *lim,
                                  const cairn_request *req, cairn_raft_batch *out,
                                  cairn_status *st);
cairn_err raft_cmd_instance_remove(raft_cp_state *s, const cairn_request *req,
                                   cairn_raft_batch *out, cairn_status *st);

#endif
