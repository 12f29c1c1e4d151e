/* Tombstone timing (distro_tombstones.h): a map from packed key to the time it emptied. Purges
 * scan the map; they run once per verify interval over the few services deleted lately. */
#include "distro_tombstones.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_hashmap.h"

struct distro_tombstones {
    int64_t keep_ms;
    cairn_hashmap *map; /* packed key -> int64_t * (since) */
};

distro_tombstones *distro_tombstones_new(int64_t keep_ms)
{
    distro_tombstones *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->keep_ms = keep_ms;
    if (!(t->map = cairn_hashmap_new(16))) {
        free(t);
        return NULL;
    }
    return t;
}

void distro_tombstones_free(distro_tombstones *t)
{
    if (!t)
        return;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, t->map);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v))
        free(v);
    cairn_hashmap_free(t->map);
    free(t);
}

int distro_tombstones_add(distro_tombstones *t, const distro_key *k, int64_t now_ms)
{
    size_t len;
    char *p = distro_key_pack(k, &len);
    if (!p)
        return -1;
    int rc = 0;
    if (!cairn_hashmap_get(t->map, p, len)) {
        int64_t *since = malloc(sizeof *since);
        if (since)
            *since = now_ms;
        if (!since || cairn_hashmap_put(t->map, p, len, since, NULL) != 0) {
            free(since);
            rc = -1;
        }
    }
    free(p);
    return rc;
}

void distro_tombstones_clear(distro_tombstones *t, const distro_key *k)
{
    size_t len;
    char *p = distro_key_pack(k, &len);
    if (p)
        free(cairn_hashmap_remove(t->map, p, len));
    free(p);
}

bool distro_tombstones_holds(const distro_tombstones *t, const distro_key *k)
{
    size_t len;
    char *p = distro_key_pack(k, &len);
    bool held = p && cairn_hashmap_get(t->map, p, len) != NULL;
    free(p);
    return held;
}

size_t distro_tombstones_count(const distro_tombstones *t)
{
    return cairn_hashmap_size(t->map);
}

size_t distro_tombstones_purge(distro_tombstones *t, int64_t now_ms,
                               void (*fn)(void *ctx, const distro_key *k), void *ctx)
{
    size_t n = 0;
    cairn_hashmap_iter it;
    const void *key;
    void *v;
    cairn_hashmap_iter_init(&it, t->map);
    while (cairn_hashmap_iter_next(&it, &key, NULL, &v)) {
        if (now_ms - *(int64_t *)v < t->keep_ms)
            continue;
        distro_key k;
        distro_key_unpack(key, &k);
        if (fn)
            fn(ctx, &k);
        free(cairn_hashmap_iter_remove(&it));
        n++;
    }
    return n;
}
