/* Token buckets per destination, in a cairn_hashmap keyed by the address key. */
#include "pusher_rate.h"

#include <stdlib.h>

#include "cairn_hashmap.h"

typedef struct bucket {
    double tokens;
    int64_t at_ms; /* when tokens was computed */
} bucket;

struct pusher_rate {
    cairn_hashmap *buckets;
    double rate; /* tokens per millisecond */
    double capacity;
};

pusher_rate *pusher_rate_new(uint32_t per_second)
{
    pusher_rate *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->buckets = cairn_hashmap_new(64);
    if (!r->buckets) {
        free(r);
        return NULL;
    }
    r->capacity = per_second > 0 ? (double)per_second : 1.0;
    r->rate = r->capacity / 1000.0;
    return r;
}

void pusher_rate_free(pusher_rate *r)
{
    if (!r)
        return;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, r->buckets);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v))
        free(v);
    cairn_hashmap_free(r->buckets);
    free(r);
}

static double refill(const pusher_rate *r, const bucket *b, int64_t now)
{
    double t = b->tokens + (double)(now - b->at_ms) * r->rate;
    return t > r->capacity ? r->capacity : t;
}

bool pusher_rate_take(pusher_rate *r, const pusher_addr *dest, int64_t now, int64_t *retry_at)
{
    bucket *b = cairn_hashmap_get(r->buckets, dest->key, sizeof dest->key);
    if (!b) {
        b = malloc(sizeof *b);
        if (!b || cairn_hashmap_put(r->buckets, dest->key, sizeof dest->key, b, NULL) != 0) {
            free(b);
            return true; /* no memory to limit with: better a send than a stall */
        }
        b->tokens = r->capacity;
        b->at_ms = now;
    }
    b->tokens = refill(r, b, now);
    b->at_ms = now;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    int64_t wait = (int64_t)((1.0 - b->tokens) / r->rate) + 1;
    *retry_at = now + wait;
    return false;
}

void pusher_rate_sweep(pusher_rate *r, int64_t now)
{
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, r->buckets);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        if (refill(r, v, now) >= r->capacity) {
            cairn_hashmap_iter_remove(&it);
            free(v);
        }
    }
}

size_t pusher_rate_size(const pusher_rate *r)
{
    return cairn_hashmap_size(r->buckets);
}
