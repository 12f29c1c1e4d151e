/* FNV-1a 64: the hash of member identities that every member must compute alike (the raft id
 * of an identity, raft_ids.h; the Distro view hash of an owner list, distro_view.h; the member
 * list hash in PING, cairn_cluster_config.h), so its constants never change. Also used for cheap
 * fingerprints (replay-cache keys). Not for hash tables (cairn_hashmap.h mixes with a random
 * seed).
 *
 * Pure; any thread. */
#ifndef CAIRN_FNV_H
#define CAIRN_FNV_H

#include <stddef.h>
#include <stdint.h>

#define CAIRN_FNV64_OFFSET 0xcbf29ce484222325ULL /* the offset basis: the hash of no bytes */
#define CAIRN_FNV64_PRIME 0x100000001b3ULL

/* h continued over len bytes of data; start from CAIRN_FNV64_OFFSET. */
static inline uint64_t cairn_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= CAIRN_FNV64_PRIME;
    }
    return h;
}

/* h continued over the bytes of the string s and then the byte `end` (0 for the NUL, or a
 * separator). */
static inline uint64_t cairn_fnv1a_str(uint64_t h, const char *s, unsigned char end)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * CAIRN_FNV64_PRIME;
    return (h ^ end) * CAIRN_FNV64_PRIME;
}

#endif
