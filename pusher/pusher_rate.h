/* push.max_sends_per_second per destination address:port: a token bucket per destination that
 * holds at most one second's worth of sends (so a burst of that size goes out at once) and
 * refills continuously. A send over the limit is deferred by the caller until the bucket has a
 * token again, never dropped. Buckets of idle destinations are swept away. */
#ifndef PUSHER_RATE_H
#define PUSHER_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pusher_udp.h"

typedef struct pusher_rate pusher_rate;

pusher_rate *pusher_rate_new(uint32_t per_second);
void pusher_rate_free(pusher_rate *r);

/* Takes a token for dest at now (monotonic ms): true when the send may go now. Otherwise
 * *retry_at is when the next token is due. An allocation failure lets the send go. */
bool pusher_rate_take(pusher_rate *r, const pusher_addr *dest, int64_t now, int64_t *retry_at);

/* Forgets destinations whose bucket is full again (idle for a second or more). */
void pusher_rate_sweep(pusher_rate *r, int64_t now);
size_t pusher_rate_size(const pusher_rate *r);

#endif
