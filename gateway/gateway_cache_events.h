/* Keeps the list cache in step with the registry: a SUB socket on the registry's change events
 * (CAIRN_EP_REGISTRY_EVENTS) and a thread that invalidates each event's service up to its
 * revision. The cache is live only while the connection is up; it is flushed whenever the
 * connection comes up or goes down (a registry restart), since events may have been missed in
 * between. An event that does not decode also flushes everything (its service is unknown). */
#ifndef GATEWAY_CACHE_EVENTS_H
#define GATEWAY_CACHE_EVENTS_H

#include "cairn_error.h"
#include "cairn_body_cache.h"

typedef struct gateway_cache_events gateway_cache_events;

/* Dials url (redialing until the registry is there) and starts the thread. NULL with *st set on
 * failure. */
gateway_cache_events *gateway_cache_events_start(const char *url, cairn_body_cache *cache,
                                                 cairn_status *st);
/* Closes the socket and joins the thread; the cache is no longer touched afterwards. */
void gateway_cache_events_stop(gateway_cache_events *ev);

#endif
