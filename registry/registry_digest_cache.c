/* Content digests remembered by revision (registry_digest_cache.h). */
#include "registry_digest_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_hashmap.h"
#include "cairn_keys.h"

typedef struct entry {
    uint64_t revision;
    bool held;
    uint8_t content[CAIRN_DISTRO_DIGEST_LEN];
} entry;

struct registry_digest_cache {
    pthread_mutex_t mu;
    cairn_hashmap *map; /* service key → entry */
    size_t max_entries;
};

registry_digest_cache *registry_digest_cache_new(size_t max_entries)
{
    registry_digest_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->map = cairn_hashmap_new(1024))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->max_entries = max_entries;
    return c;
}

static void clear(registry_digest_cache *c)
{
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, c->map);
    void *v;
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v))
        free(cairn_hashmap_iter_remove(&it));
}

void registry_digest_cache_free(registry_digest_cache *c)
{
    if (!c)
        return;
    clear(c);
    cairn_hashmap_free(c->map);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool registry_digest_cache_get(registry_digest_cache *c, const char *ns, const char *svc,
                               uint64_t revision, uint8_t content[CAIRN_DISTRO_DIGEST_LEN],
                               bool *held)
{
    cairn_key k;
    if (!c || cairn_key_service(&k, ns, svc))
        return false;
    pthread_mutex_lock(&c->mu);
    const entry *e = cairn_hashmap_get(c->map, k.bytes, k.len);
    bool hit = e && e->revision == revision;
    if (hit) {
        memcpy(content, e->content, CAIRN_DISTRO_DIGEST_LEN);
        *held = e->held;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void registry_digest_cache_put(registry_digest_cache *c, const char *ns, const char *svc,
                               uint64_t revision, const uint8_t content[CAIRN_DISTRO_DIGEST_LEN],
                               bool held)
{
    cairn_key k;
    if (!c || cairn_key_service(&k, ns, svc))
        return;
    entry *e = malloc(sizeof *e);
    if (!e)
        return;
    *e = (entry){.revision = revision, .held = held};
    memcpy(e->content, content, CAIRN_DISTRO_DIGEST_LEN);
    pthread_mutex_lock(&c->mu);
    if (cairn_hashmap_size(c->map) >= c->max_entries)
        clear(c);
    void *old = NULL;
    if (cairn_hashmap_put(c->map, k.bytes, k.len, e, &old) != 0)
        free(e);
    free(old);
    pthread_mutex_unlock(&c->mu);
}
