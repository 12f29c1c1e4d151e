/* The content digests of services' ephemeral states (cairn_distro_digest.h), remembered with the
 * service's revision, so that DISTRO_DIGESTS and DISTRO_KEYS, asked every verify interval by
 * every peer, decode only the services that changed since the last time. An entry is valid
 * exactly while the service's revision is the one it was computed at: every change of a service
 * or of its instances takes a new revision from the store-wide counter (a service deleted and
 * made again too), so a hit is never stale. Bounded: a put that finds max_entries entries
 * empties the cache first. Any thread (one mutex). */
#ifndef REGISTRY_DIGEST_CACHE_H
#define REGISTRY_DIGEST_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_msg.h"

typedef struct registry_digest_cache registry_digest_cache;

/* NULL when out of memory (callers then compute every digest). */
registry_digest_cache *registry_digest_cache_new(size_t max_entries);
void registry_digest_cache_free(registry_digest_cache *c);
/* Whether (ns, svc) is remembered at revision; then its content digest and whether it holds
 * ephemeral state. c may be NULL (a miss). */
bool registry_digest_cache_get(registry_digest_cache *c, const char *ns, const char *svc,
                               uint64_t revision, uint8_t content[CAIRN_DISTRO_DIGEST_LEN],
                               bool *held);
/* Remembers them (c may be NULL: nothing). */
void registry_digest_cache_put(registry_digest_cache *c, const char *ns, const char *svc,
                               uint64_t revision, const uint8_t content[CAIRN_DISTRO_DIGEST_LEN],
                               bool held);

#endif
