/* Raft ids and the raft configuration, derived from member identities (cluster-design §2.2).
 *
 * A member's identity is its `cluster.members` entry as written: the host:port of its Nacos HTTP
 * listener. Its raft id is a non-zero FNV-1a 64 hash of that string, and the raft configuration
 * stores the identity as the server's "address". The raft log therefore never holds a raft port:
 * the transport (raft_transport.h) asks the role for the address to dial for an id, so raft ports
 * may change between restarts. Pure functions; any thread. */
#ifndef CAIRN_RAFT_IDS_H
#define CAIRN_RAFT_IDS_H

#include <raft.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"

/* The raft id of an identity: FNV-1a 64 of its bytes, never 0 (0 means "no server" to raft;
 * a hash of 0 becomes the FNV offset basis). */
raft_id cairn_raft_id(const char *identity);

/* Checks a member list: every entry non-empty and at most CAIRN_RAFT_IDENTITY_MAX bytes, no
 * entry twice, no two entries with the same raft id (a collision is a configuration error the
 * operator fixes by writing an entry differently). CAIRN_E_INVALID with a message naming the
 * entries otherwise. */
#define CAIRN_RAFT_IDENTITY_MAX 255
cairn_err cairn_raft_check_members(const char *const *identities, size_t n, cairn_status *st);

/* A configuration with every member as a voter, address = identity, in sorted order so that
 * every member builds the same bootstrap entry. conf is initialized here;
 * the caller closes it with raft_configuration_close (also on error, where it is empty). */
cairn_err cairn_raft_configuration(const char *const *identities, size_t n,
                                   struct raft_configuration *conf, cairn_status *st);

/* The identity whose id is id, or NULL. The pointer is one of identities. */
const char *cairn_raft_identity_of(const char *const *identities, size_t n, raft_id id);

#endif
