/* A binary min-heap keyed by due time; each node knows its slot, so disarm and re-arm are
 * O(log n) without a search. */
#include "pusher_timer.h"

#include <stdlib.h>

void pusher_timer_init(pusher_timer *t, int kind)
{
    t->due = 0;
    t->slot = PUSHER_TIMER_IDLE;
    t->kind = kind;
}

void pusher_timers_init(pusher_timers *ts)
{
    ts->heap = NULL;
    ts->len = ts->cap = 0;
}

void pusher_timers_free(pusher_timers *ts)
{
    for (size_t i = 0; i < ts->len; i++)
        ts->heap[i]->slot = PUSHER_TIMER_IDLE;
    free(ts->heap);
    pusher_timers_init(ts);
}

static void place(pusher_timers *ts, size_t i, pusher_timer *t)
{
    ts->heap[i] = t;
    t->slot = i;
}

static void sift_up(pusher_timers *ts, size_t i)
{
    pusher_timer *t = ts->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ts->heap[parent]->due <= t->due)
            break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, t);
}

static void sift_down(pusher_timers *ts, size_t i)
{
    pusher_timer *t = ts->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= ts->len)
            break;
        if (child + 1 < ts->len && ts->heap[child + 1]->due < ts->heap[child]->due)
            child++;
        if (t->due <= ts->heap[child]->due)
            break;
        place(ts, i, ts->heap[child]);
        i = child;
    }
    place(ts, i, t);
}

int pusher_timers_arm(pusher_timers *ts, pusher_timer *t, int64_t due)
{
    if (pusher_timer_armed(t)) {
        int64_t old = t->due;
        t->due = due;
        if (due < old)
            sift_up(ts, t->slot);
        else
            sift_down(ts, t->slot);
        return 0;
    }
    if (ts->len == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 64;
        pusher_timer **heap = realloc(ts->heap, cap * sizeof *heap);
        if (!heap)
            return -1;
        ts->heap = heap;
        ts->cap = cap;
    }
    t->due = due;
    place(ts, ts->len++, t);
    sift_up(ts, t->slot);
    return 0;
}

void pusher_timers_disarm(pusher_timers *ts, pusher_timer *t)
{
    if (!pusher_timer_armed(t))
        return;
    size_t i = t->slot;
    t->slot = PUSHER_TIMER_IDLE;
    pusher_timer *last = ts->heap[--ts->len];
    if (i == ts->len)
        return; /* it was the last one */
    place(ts, i, last);
    /* The moved node may belong above or below its new slot. */
    if (i > 0 && ts->heap[(i - 1) / 2]->due > last->due)
        sift_up(ts, i);
    else
        sift_down(ts, i);
}

pusher_timer *pusher_timers_pop_due(pusher_timers *ts, int64_t now)
{
    if (ts->len == 0 || ts->heap[0]->due > now)
        return NULL;
    pusher_timer *t = ts->heap[0];
    pusher_timers_disarm(ts, t);
    return t;
}

int64_t pusher_timers_next(const pusher_timers *ts)
{
    return ts->len ? ts->heap[0]->due : INT64_MAX;
}
