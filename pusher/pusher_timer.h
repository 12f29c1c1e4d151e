/* The pusher loop's timers: a binary min-heap of intrusive timer nodes (merge-window ends,
 * ack deadlines, deferred sends, the periodic sweep). A node lives inside the object it times,
 * so arming never allocates beyond the heap array, and an object disarms its node before it is
 * freed. Not thread-safe: the loop thread owns it. */
#ifndef PUSHER_TIMER_H
#define PUSHER_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pusher_timer {
    int64_t due;  /* monotonic milliseconds */
    size_t slot;  /* position in the heap; PUSHER_TIMER_IDLE when not armed */
    int kind;     /* what the owner is (the loop dispatches on it) */
} pusher_timer;

#define PUSHER_TIMER_IDLE SIZE_MAX

typedef struct pusher_timers {
    pusher_timer **heap;
    size_t len;
    size_t cap;
} pusher_timers;

void pusher_timer_init(pusher_timer *t, int kind);
static inline bool pusher_timer_armed(const pusher_timer *t)
{
    return t->slot != PUSHER_TIMER_IDLE;
}

void pusher_timers_init(pusher_timers *ts);
void pusher_timers_free(pusher_timers *ts); /* the nodes belong to their owners */

/* Arms t (or moves it) to fire at due. Returns 0, or -1 when out of memory (t stays as it was). */
int pusher_timers_arm(pusher_timers *ts, pusher_timer *t, int64_t due);
void pusher_timers_disarm(pusher_timers *ts, pusher_timer *t);
/* The earliest timer due at or before now, disarmed; NULL when none is due. */
pusher_timer *pusher_timers_pop_due(pusher_timers *ts, int64_t now);
/* The earliest due time, or INT64_MAX when nothing is armed. */
int64_t pusher_timers_next(const pusher_timers *ts);

#endif
