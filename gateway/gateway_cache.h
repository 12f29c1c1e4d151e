/* The gateway's cache of instance/list bodies (§2.5, design §4 "List").
 *
 * An entry is one rendered body, keyed by everything the rendering depends on besides the
 * service's data (namespace, grouped service, the clusters and env strings as sent, healthyOnly,
 * whether the agent gets grouped names, cacheMillis), and remembers the service revision it was
 * rendered from. The body only changes when the service's revision does (lastRefTime is the
 * service's modified time), so an entry stays right until the service changes.
 *
 * Invalidation: gateway_cache_invalidate(ns, svc, rev) drops the service's entries rendered at a
 * revision older than rev (a registry change event, or the reply of a write this gateway sent).
 * Every invalidation of a service also voids the tickets taken for it before, so that a fill that
 * read the registry before a change cannot store its stale body after the change was seen:
 *   t = gateway_cache_ticket(...);  ...ask the registry, render...;  gateway_cache_put(..., t, ...)
 * While the cache is not live (no connection to the registry's events: events may be missed) it
 * answers every lookup with a miss and stores nothing; gateway_cache_flush empties it. Entries
 * older than max_age_ms are misses whatever happened: the bound on staleness if an event is lost
 * without the connection dropping (a full subscriber queue).
 *
 * Bounds: at most max_entries entries and about max_bytes of bodies (a put evicts random entries
 * to make room; a body larger than max_bytes is not stored).
 *
 * Thread-safe: entries live in stripes chosen by (namespace, service), each under a rwlock, so
 * lookups run in parallel and an invalidation blocks only its stripe. */
#ifndef GATEWAY_CACHE_H
#define GATEWAY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_metrics.h"

typedef struct gateway_cache gateway_cache;

typedef struct gateway_cache_key {
    const char *namespace_id;
    const char *service;  /* grouped name */
    const char *clusters; /* as sent; NULL reads as "" */
    const char *env;      /* as sent; NULL reads as "" */
    bool healthy_only;
    bool grouped_names;
    int64_t cache_millis;
} gateway_cache_key;

typedef struct gateway_cache_options {
    size_t max_entries; /* >= 1 */
    size_t max_bytes;   /* >= 1 */
    int64_t max_age_ms; /* >= 1 */
    cairn_metrics *metrics; /* may be NULL; else list_cache_* metrics */
} gateway_cache_options;

/* NULL when out of memory. The cache starts not live. */
gateway_cache *gateway_cache_new(const gateway_cache_options *opts);
void gateway_cache_free(gateway_cache *c);

/* A hit: a malloc'd copy of the body (*len set), which the caller frees. NULL: a miss (absent,
 * older than max_age_ms, cache not live, or out of memory). now_ms is monotonic. */
char *gateway_cache_get(gateway_cache *c, const gateway_cache_key *k, int64_t now_ms,
                        size_t *len);

/* Taken before asking the registry for the data of a fill; 0 when nothing may be stored. */
uint64_t gateway_cache_ticket(gateway_cache *c, const char *namespace_id, const char *service);

/* Stores a body rendered from the service at `revision` (0: the service did not exist), unless
 * the service was invalidated (or the cache flushed) since the ticket was taken. Returns whether
 * it was stored. The body is copied. */
bool gateway_cache_put(gateway_cache *c, const gateway_cache_key *k, uint64_t ticket,
                       uint64_t revision, const char *body, size_t len, int64_t now_ms);

/* The service changed at `revision`: drops its entries rendered before it (UINT64_MAX: all of
 * them) and voids its outstanding tickets. */
void gateway_cache_invalidate(gateway_cache *c, const char *namespace_id, const char *service,
                              uint64_t revision);

/* Drops everything and voids every ticket. */
void gateway_cache_flush(gateway_cache *c);

/* Whether change events are known to arrive (the cache serves and stores only then). Turning it
 * either way flushes. */
void gateway_cache_set_live(gateway_cache *c, bool live);
/* Whether the cache follows the registry's events now. Any thread. */
bool gateway_cache_live(gateway_cache *c);

size_t gateway_cache_entry_count(gateway_cache *c);
size_t gateway_cache_byte_count(gateway_cache *c);

#endif
