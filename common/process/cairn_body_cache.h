/* A cache of bodies rendered from one service's data: the gateway's instance/list bodies (§2.5,
 * design §4 "List"), its answers to the beats of known instances (gateway_beat.c), and
 * cairn-grpc's ServiceQuery/Subscribe answers.
 *
 * An entry is one rendered body, keyed by everything the rendering depends on besides the
 * service's data (namespace, grouped service, the clusters and env strings as sent, healthyOnly,
 * whether the agent gets grouped names, cacheMillis: a user leaves unused parts zero), and
 * remembers the service revision it was rendered from. An entry stays right until the service
 * changes.
 *
 * Invalidation: cairn_body_cache_invalidate(ns, svc, rev) drops the service's entries rendered
 * at a revision older than rev (a registry change event, or the reply of a write the process
 * sent).
 * Every invalidation of a service also voids the tickets taken for it before, so that a fill that
 * read the registry before a change cannot store its stale body after the change was seen:
 *   t = cairn_body_cache_ticket(...);  ...ask the registry, render...;
 *   cairn_body_cache_put(..., t, ...)
 * While the cache is not live (no connection to the registry's events: events may be missed) it
 * answers every lookup with a miss and stores nothing; cairn_body_cache_flush empties it. Entries
 * older than max_age_ms are misses whatever happened: the bound on staleness if an event is lost
 * without the connection dropping (a full subscriber queue).
 *
 * Bounds: at most max_entries entries and about max_bytes of bodies (a put evicts random entries
 * to make room; a body larger than max_bytes is not stored).
 *
 * Cost: an invalidation visits only the entries of its service (each stripe indexes its entries
 * by service), never the rest of the cache: a gateway holding the beat answers of 100 000
 * instances spends on a change event what one service's entries take.
 *
 * Thread-safe: entries live in stripes chosen by (namespace, service), each under a rwlock, so
 * lookups run in parallel and an invalidation blocks only its stripe. */
#ifndef CAIRN_BODY_CACHE_H
#define CAIRN_BODY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_metrics.h"

typedef struct cairn_body_cache cairn_body_cache;

typedef struct cairn_body_cache_key {
    const char *namespace_id;
    const char *service;  /* grouped name */
    const char *clusters; /* as sent; NULL reads as "" */
    const char *env;      /* as sent; NULL reads as "" */
    const char *instance; /* one instance's "ip:port" (beat answers); NULL reads as "" */
    bool healthy_only;
    bool grouped_names;
    int64_t cache_millis;
} cairn_body_cache_key;

typedef struct cairn_body_cache_options {
    size_t max_entries; /* >= 1 */
    size_t max_bytes;   /* >= 1 */
    int64_t max_age_ms; /* >= 1 */
    cairn_metrics *metrics; /* may be NULL; else <metric_prefix>_* metrics */
    const char *metric_prefix; /* NULL: "list_cache" */
    const char *what;          /* the bodies, in metric help; NULL: "instance/list bodies" */
} cairn_body_cache_options;

/* NULL when out of memory. The cache starts not live. */
cairn_body_cache *cairn_body_cache_new(const cairn_body_cache_options *opts);
void cairn_body_cache_free(cairn_body_cache *c);

/* A hit: a malloc'd copy of the body (*len set), which the caller frees. NULL: a miss (absent,
 * older than max_age_ms, cache not live, or out of memory). now_ms is monotonic. */
char *cairn_body_cache_get(cairn_body_cache *c, const cairn_body_cache_key *k, int64_t now_ms,
                           size_t *len);

/* Taken before asking the registry for the data of a fill; 0 when nothing may be stored. */
uint64_t cairn_body_cache_ticket(cairn_body_cache *c, const char *namespace_id,
                                 const char *service);

/* Stores a body rendered from the service at `revision` (0: the service did not exist), unless
 * the service was invalidated (or the cache flushed) since the ticket was taken. Returns whether
 * it was stored. The body is copied. */
bool cairn_body_cache_put(cairn_body_cache *c, const cairn_body_cache_key *k, uint64_t ticket,
                          uint64_t revision, const char *body, size_t len, int64_t now_ms);

/* The service changed at `revision`: drops its entries rendered before it (UINT64_MAX: all of
 * them) and voids its outstanding tickets. */
void cairn_body_cache_invalidate(cairn_body_cache *c, const char *namespace_id, const char *service,
                                 uint64_t revision);

/* Drops everything and voids every ticket. */
void cairn_body_cache_flush(cairn_body_cache *c);

/* Whether change events are known to arrive (the cache serves and stores only then). Turning it
 * either way flushes. */
void cairn_body_cache_set_live(cairn_body_cache *c, bool live);
/* Whether the cache follows the registry's events now. Any thread. */
bool cairn_body_cache_live(cairn_body_cache *c);

size_t cairn_body_cache_entry_count(cairn_body_cache *c);
size_t cairn_body_cache_byte_count(cairn_body_cache *c);

#endif
