/* The registry's change-event publisher: an nng PUB socket on CAIRN_EP_REGISTRY_EVENTS carrying
 * cairn_event_encode'd events, one per changed service per committed batch, packed into as few
 * messages as CAIRN_EVENT_PACK_BYTES allows (cairn_event_next). PUB never blocks: a subscriber
 * that is not connected or too slow misses events and catches up from a snapshot. Called on the
 * registry's writer thread only. */
#ifndef REGISTRY_EVENTS_H
#define REGISTRY_EVENTS_H

#include "cairn_error.h"
#include "cairn_msg.h"

typedef struct registry_events registry_events;

registry_events *registry_events_open(const char *url, cairn_status *st);
/* registry_publish_fn: arg is the registry_events*. Holds the event for the commit's message. */
void registry_events_publish(void *arg, const cairn_change_event *ev);
/* registry_publish_end_fn: sends the events held since the last call. */
void registry_events_flush(void *arg);
void registry_events_close(registry_events *e);

#endif
