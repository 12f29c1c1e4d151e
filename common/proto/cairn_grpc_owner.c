/* The node part of gRPC owners (cairn_grpc_owner.h). */
#include "cairn_grpc_owner.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void cairn_grpc_member_node(const char *member_id, char out[CAIRN_GRPC_NODE_MAX])
{
    size_t n = strlen(member_id);
    if (n > 0 && n <= CAIRN_GRPC_NODE_ID_MAX && !strchr(member_id, '/')) {
        memcpy(out, member_id, n + 1);
        return;
    }
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
    for (const char *p = member_id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    snprintf(out, CAIRN_GRPC_NODE_MAX, "m-%016" PRIx64, h);
}

void cairn_grpc_member_prefix(const char *member_id, char *out, size_t len)
{
    char node[CAIRN_GRPC_NODE_MAX];
    cairn_grpc_member_node(member_id, node);
    snprintf(out, len, "grpc/%s/", node);
}

size_t cairn_grpc_incarnation_node_len(const char *owner)
{
    size_t n = strlen(owner);
    if (n < 2 || owner[n - 1] != '/')
        return 0;
    const char *cut = memrchr(owner, '/', n - 1); /* before <incarnation> */
    if (!cut || cut + 1 == owner + n - 1 || cut == owner)
        return 0;
    const char *node_at = memrchr(owner, '/', (size_t)(cut - owner)); /* before <node> */
    if (!node_at || node_at == owner || node_at + 1 == cut)
        return 0;
    return (size_t)(cut - owner) + 1;
}
