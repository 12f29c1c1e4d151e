/* Open connections per client address (grpc_per_ip.h). */
#include "grpc_per_ip.h"

#include <stdlib.h>

#include "cairn_hashmap.h"

/* A counting map (cairn_hashmap_count_*): an address costs the map's slot and its 4- or 16-byte
 * key copy, nothing more. */
struct grpc_per_ip {
    uint32_t max;
    cairn_hashmap *counts; /* address bytes → count */
};

grpc_per_ip *grpc_per_ip_new(uint32_t max)
{
    grpc_per_ip *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max;
    if (!(t->counts = cairn_hashmap_new(64))) {
        free(t);
        return NULL;
    }
    return t;
}

void grpc_per_ip_free(grpc_per_ip *t)
{
    if (!t)
        return;
    cairn_hashmap_free(t->counts);
    free(t);
}

static size_t key_len(const cairn_ip *ip)
{
    return cairn_ip_bits(ip) / 8;
}

uint32_t grpc_per_ip_count(const grpc_per_ip *t, const cairn_ip *ip)
{
    return cairn_hashmap_count_of(t->counts, ip->addr, key_len(ip));
}

int grpc_per_ip_add(grpc_per_ip *t, const cairn_ip *ip)
{
    if (grpc_per_ip_count(t, ip) >= t->max)
        return 1;
    return cairn_hashmap_count_up(t->counts, ip->addr, key_len(ip), NULL) ? -1 : 0;
}

void grpc_per_ip_remove(grpc_per_ip *t, const cairn_ip *ip)
{
    cairn_hashmap_count_down(t->counts, ip->addr, key_len(ip));
}

size_t grpc_per_ip_addresses(const grpc_per_ip *t)
{
    return cairn_hashmap_size(t->counts);
}
