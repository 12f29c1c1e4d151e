/* Raft membership changes from `cluster.members` (README "Changing the members"): the leader
 * brings the raft configuration to the configured member list, one change at a time, and only
 * while every configured member answers its pings and reports the same list (its members hash).
 * The operator changes the list on every member (a rolling restart), starts a new member last,
 * and the leader then adds it (as a spare, then a voter once libraft has caught it up), or
 * removes the voters no list names any more.
 *
 * Why the agreement gate: a member started with a wrong list (a typo, a forgotten member) must
 * not make its leader remove voters the others still count on; while any configured member is
 * silent or reports another list, nothing changes. Adds and promotions come before removals,
 * so replacing a member (a new address for a failed machine) grows the configuration first.
 *
 * Pure: no libraft calls (replicator_raft.c issues the change through raft_node.h), no clock,
 * no I/O. Any thread. Tested in tests/unit/test_raft_reconfigure.c. */
#ifndef CAIRN_RAFT_RECONFIGURE_H
#define CAIRN_RAFT_RECONFIGURE_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum raft_reconf_kind {
    RAFT_RECONF_NONE = 0,
    RAFT_RECONF_ADD,     /* raft_add: a configured member the configuration lacks (as a spare) */
    RAFT_RECONF_PROMOTE, /* raft_assign RAFT_VOTER: a configured member that is not a voter */
    RAFT_RECONF_REMOVE,  /* raft_remove: a server no configured member is */
} raft_reconf_kind;

const char *raft_reconf_kind_name(raft_reconf_kind k); /* "none", "add", "promote", "remove" */

/* One configured member as the leader sees it. */
typedef struct raft_reconf_member {
    const char *identity; /* its cluster.members entry (borrowed) */
    bool agrees;          /* self, or answering pings with the same members hash as self */
} raft_reconf_member;

typedef struct raft_reconf_change {
    raft_reconf_kind kind;
    raft_id id;
    /* ADD: the identity to give raft as the server's address (a pointer into the members);
     * otherwise the configuration server's address (a pointer into conf) */
    const char *identity;
} raft_reconf_change;

/* The next change that brings conf towards members, or kind NONE when conf already matches or
 * a configured member does not agree yet. Members in their given order, adds and promotions
 * first; a server of conf is matched to a member by raft id (cairn_raft_id of the identity). */
raft_reconf_change raft_reconf_next(const raft_reconf_member *members, size_t n,
                                    const struct raft_configuration *conf);

#endif
