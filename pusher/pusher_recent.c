/* The ring of recent unsubscribed changes. */
#include "pusher_recent.h"

#include <string.h>

/* FNV-1a over namespace, a 0 byte, service (the 0 keeps "a"+"bc" apart from "ab"+"c"). */
static uint64_t key_hash(const char *namespace_id, const char *service)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = namespace_id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = h * 1099511628211ull;
    for (const char *s = service; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void pusher_recent_init(pusher_recent *r)
{
    memset(r, 0, sizeof *r);
}

void pusher_recent_note(pusher_recent *r, const char *namespace_id, const char *service,
                        int64_t now_ms)
{
    uint32_t i = r->next;
    r->hash[i] = key_hash(namespace_id, service);
    r->at_ms[i] = now_ms > 0 ? now_ms : 1;
    r->next = (i + 1) % PUSHER_RECENT_SLOTS;
}

bool pusher_recent_changed(const pusher_recent *r, const char *namespace_id, const char *service,
                           int64_t now_ms)
{
    uint64_t h = key_hash(namespace_id, service);
    /* Newest first; stop at the first slot out of the window (older ones are older still). */
    for (uint32_t k = 1; k <= PUSHER_RECENT_SLOTS; k++) {
        uint32_t i = (r->next + PUSHER_RECENT_SLOTS - k) % PUSHER_RECENT_SLOTS;
        if (r->at_ms[i] == 0 || now_ms - r->at_ms[i] > PUSHER_RECENT_WINDOW_MS)
            return false;
        if (r->hash[i] == h)
            return true;
    }
    return false;
}
