/* The node part of a gRPC connection's owner string, grpc/<node>/<incarnation>/<connection id>
 * (cairn-grpc, docs/architecture.md "Nacos 2.x gRPC (cairn-grpc)" and "Cluster: gRPC instances").
 * In a cluster <node> names the member, so that the other members can drop a dead member's
 * connections by the prefix grpc/<node>/ without asking it: the member's identity (its
 * cluster.members entry) when it is at most CAIRN_GRPC_NODE_ID_MAX bytes and holds no '/',
 * else "m-" and the FNV-1a 64 of the identity in hex (owners must stay short: they are LMDB
 * keys). Pure; any thread. */
#ifndef CAIRN_GRPC_OWNER_H
#define CAIRN_GRPC_OWNER_H

#include <stddef.h>

#define CAIRN_GRPC_NODE_ID_MAX 64
#define CAIRN_GRPC_NODE_MAX 72 /* with the NUL */

/* The node name of the member whose identity is member_id into out[CAIRN_GRPC_NODE_MAX]. */
void cairn_grpc_member_node(const char *member_id, char out[CAIRN_GRPC_NODE_MAX]);
/* "grpc/<node>/" of that member into out (len at least CAIRN_GRPC_NODE_MAX + 8). */
void cairn_grpc_member_prefix(const char *member_id, char *out, size_t len);
/* The length of the node prefix "<kind>/<node>/" of one incarnation's owner prefix
 * "<kind>/<node>/<incarnation>/" (no part empty), as OWNER_DROP's OTHER_INCARNATIONS names it;
 * 0 when owner is not of that form. */
size_t cairn_grpc_incarnation_node_len(const char *owner);

#endif
