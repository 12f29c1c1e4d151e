/* Keeps the gateway's caches (the list cache, the beat answers) in step with the registry: a SUB
 * socket on the registry's change events (CAIRN_EP_REGISTRY_EVENTS) and a thread that invalidates
 * each event's service up to its revision in every cache. The caches are live only while the
 * connection is up; they are flushed whenever the connection comes up or goes down (a registry
 * restart), since events may have been missed in between. An event that does not decode also
 * flushes everything (its service is unknown). */
#ifndef GATEWAY_CACHE_EVENTS_H
#define GATEWAY_CACHE_EVENTS_H

#include "cairn_error.h"
#include "cairn_body_cache.h"

typedef struct gateway_cache_events gateway_cache_events;

/* The most caches one subscription keeps in step. */
#define GATEWAY_CACHE_EVENTS_MAX 4

/* Dials url (redialing until the registry is there) and starts the thread, for the caches[0..n)
 * that are not NULL (borrowed: they must outlive the subscription). NULL with *st set on
 * failure. */
gateway_cache_events *gateway_cache_events_start(const char *url, cairn_body_cache *const *caches,
                                                 size_t n, cairn_status *st);
/* Closes the socket and joins the thread; the caches are no longer touched afterwards. */
void gateway_cache_events_stop(gateway_cache_events *ev);

#endif
