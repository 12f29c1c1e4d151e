/* Open connections per client address (grpc_per_ip.h). */
#include "grpc_per_ip.h"

#include <stdlib.h>

#include "cairn_hashmap.h"

/* Counts are stored as the map's values (never 0: an address at 0 is removed), so an entry costs
 * the map's slot and its 4- or 16-byte key copy, nothing more. */
struct grpc_per_ip {
    uint32_t max;
    cairn_hashmap *counts; /* address bytes → (uintptr_t) count */
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
    return (uint32_t)(uintptr_t)cairn_hashmap_get(t->counts, ip->addr, key_len(ip));
}

int grpc_per_ip_add(grpc_per_ip *t, const cairn_ip *ip)
{
    uint32_t n = grpc_per_ip_count(t, ip);
    if (n >= t->max)
        return 1;
    return cairn_hashmap_put(t->counts, ip->addr, key_len(ip), (void *)(uintptr_t)(n + 1), NULL)
               ? -1
               : 0;
}

void grpc_per_ip_remove(grpc_per_ip *t, const cairn_ip *ip)
{
    uint32_t n = grpc_per_ip_count(t, ip);
    if (n > 1)
        cairn_hashmap_put(t->counts, ip->addr, key_len(ip), (void *)(uintptr_t)(n - 1), NULL);
    else if (n == 1)
        cairn_hashmap_remove(t->counts, ip->addr, key_len(ip));
}

size_t grpc_per_ip_addresses(const grpc_per_ip *t)
{
    return cairn_hashmap_size(t->counts);
}
