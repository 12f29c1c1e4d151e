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
