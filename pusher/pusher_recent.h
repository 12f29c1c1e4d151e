/* Changes of owned services that had no subscriber, remembered for a short while. A list request
 * publishes its subscription to the pusher before the client hears back, but the subscription
 * and a change right after it travel on different sockets (gateway → pusher, registry → pusher),
 * so the change can arrive first and find nobody to push to. A subscriber added to a service
 * that changed within PUSHER_RECENT_WINDOW_MS is therefore pushed (the push reads the service's
 * current state, so an extra push is harmless). A fixed ring of hashes: no allocation, bounded
 * memory; a hash collision costs one extra push. Loop thread only. */
#ifndef PUSHER_RECENT_H
#define PUSHER_RECENT_H

#include <stdbool.h>
#include <stdint.h>

#define PUSHER_RECENT_SLOTS 8192
#define PUSHER_RECENT_WINDOW_MS 2000

typedef struct pusher_recent {
    uint64_t hash[PUSHER_RECENT_SLOTS];
    int64_t at_ms[PUSHER_RECENT_SLOTS]; /* monotonic; 0: empty slot */
    uint32_t next;
} pusher_recent;

void pusher_recent_init(pusher_recent *r);
/* Remembers a change of (namespace_id, service) at now_ms. */
void pusher_recent_note(pusher_recent *r, const char *namespace_id, const char *service,
                        int64_t now_ms);
/* Whether (namespace_id, service) changed within the window before now_ms. */
bool pusher_recent_changed(const pusher_recent *r, const char *namespace_id, const char *service,
                           int64_t now_ms);

#endif
