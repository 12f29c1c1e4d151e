/* The body cache: striped hash tables of rendered bodies, revision-checked
 * invalidation, and fill tickets (see cairn_body_cache.h for the contract). */
#include "cairn_body_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_hashmap.h"

/* A power of two. All entries of one service share a stripe, so an invalidation locks one. */
#define STRIPES 64
/* Puts that cannot make room after this many evictions (other threads filling the space as
 * fast) give up: the body is served anyway, only not stored. */
#define MAX_EVICTIONS_PER_PUT (2 * STRIPES)
#define SMALL_KEY 512

struct svc_group;

typedef struct cache_entry {
    struct cache_entry *next_free; /* on a list of entries to free once the lock is released */
    struct svc_group *group;       /* its service's entries */
    struct cache_entry *svc_prev, *svc_next;
    size_t svc_len; /* length of the "ns\0svc\0" prefix of the key */
    size_t key_len;
    size_t slot; /* index in its stripe's items */
    uint64_t revision;
    int64_t stored_ms;
    size_t len;
    char *body; /* points into data, after the key */
    char data[];
} cache_entry;

/* One service's entries in a stripe: an invalidation visits only these, not the whole stripe
 * (a gateway keeping the beat answers of 100 000 instances holds thousands per stripe). */
typedef struct svc_group {
    cache_entry *head;
    size_t key_len;
    char key[]; /* "ns\0svc\0" */
} svc_group;

typedef struct stripe {
    _Alignas(64) pthread_rwlock_t lock;
    cairn_hashmap *map;      /* key bytes -> cache_entry */
    cairn_hashmap *services; /* "ns\0svc\0" -> svc_group, while it has entries */
    cache_entry **items;     /* the entries, for flushes and random eviction */
    size_t count, cap;
    /* Bumped (under the write lock) by every invalidation of a service of this stripe; a ticket
     * is its value when the fill started. Starts at 1: 0 is "no ticket". */
    _Atomic uint64_t seq;
} stripe;

struct cairn_body_cache {
    stripe *stripes;
    size_t max_entries, max_bytes;
    int64_t max_age_ms;
    /* Entries and body bytes, including the room reserved by puts in progress. */
    _Atomic size_t entries, bytes;
    _Atomic unsigned hand; /* next stripe to evict from */
    atomic_bool live;
    cairn_counter *hits, *misses, *invalidations, *evictions, *flushes;
    cairn_gauge *entries_gauge, *bytes_gauge, *live_gauge;
};

/* ---- keys ---------------------------------------------------------------------------------- */

/* FNV-1a of "ns\0svc\0": the stripe of a service and a quick filter in scans. */
static uint64_t service_hash(const char *ns, const char *svc)
{
    const char *parts[2] = {ns, svc};
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 2; i++) {
        const unsigned char *p = (const unsigned char *)parts[i];
        do
            h = (h ^ *p) * 1099511628211ULL; /* the NUL too: ("a", "bc") != ("ab", "c") */
        while (*p++);
    }
    return h;
}

static stripe *stripe_of(cairn_body_cache *c, uint64_t svc_hash)
{
    return &c->stripes[(svc_hash ^ (svc_hash >> 32)) & (STRIPES - 1)];
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* The key bytes: ns \0 svc \0 clusters \0 env \0 instance \0 flags cache_millis. Strings hold
 * no NUL, so the encoding is unambiguous. Returns the length; writes into buf when it fits. */
static size_t key_bytes(const cairn_body_cache_key *k, char *buf, size_t cap, size_t *svc_len)
{
    const char *parts[5] = {or_empty(k->namespace_id), or_empty(k->service),
                            or_empty(k->clusters), or_empty(k->env), or_empty(k->instance)};
    size_t n = 0;
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]) + 1;
        if (n + l <= cap)
            memcpy(buf + n, parts[i], l);
        n += l;
        if (i == 1 && svc_len)
            *svc_len = n;
    }
    unsigned char flags = (unsigned char)((k->healthy_only ? 1 : 0) | (k->grouped_names ? 2 : 0));
    if (n + 1 + sizeof k->cache_millis <= cap) {
        buf[n] = (char)flags;
        memcpy(buf + n + 1, &k->cache_millis, sizeof k->cache_millis);
    }
    return n + 1 + sizeof k->cache_millis;
}

/* The key in buf (SMALL_KEY bytes) or in a malloc'd buffer (*heap, to free). NULL: no memory. */
static char *make_key(const cairn_body_cache_key *k, char *buf, char **heap, size_t *len,
                      size_t *svc_len)
{
    *heap = NULL;
    *len = key_bytes(k, buf, SMALL_KEY, svc_len);
    if (*len <= SMALL_KEY)
        return buf;
    if (!(*heap = malloc(*len)))
        return NULL;
    key_bytes(k, *heap, *len, svc_len);
    return *heap;
}

/* ---- metrics ------------------------------------------------------------------------------- */

static void count(cairn_counter *m, uint64_t n)
{
    if (m && n)
        cairn_counter_add(m, n);
}

static void gauge_add(cairn_gauge *g, double d)
{
    if (g)
        cairn_gauge_add(g, d);
}

/* ---- stripes ------------------------------------------------------------------------------- */

/* Takes e out of s (write lock held) and gives back its room; the caller frees it. */
static void stripe_remove(cairn_body_cache *c, stripe *s, cache_entry *e)
{
    cairn_hashmap_remove(s->map, e->data, e->key_len);
    svc_group *g = e->group;
    if (e->svc_prev)
        e->svc_prev->svc_next = e->svc_next;
    else
        g->head = e->svc_next;
    if (e->svc_next)
        e->svc_next->svc_prev = e->svc_prev;
    if (!g->head) {
        cairn_hashmap_remove(s->services, g->key, g->key_len);
        free(g);
    }
    cache_entry *last = s->items[--s->count];
    s->items[e->slot] = last;
    last->slot = e->slot;
    atomic_fetch_sub(&c->entries, 1);
    atomic_fetch_sub(&c->bytes, e->len);
    gauge_add(c->entries_gauge, -1);
    gauge_add(c->bytes_gauge, -(double)e->len);
}

static void free_list(cache_entry *e)
{
    while (e) {
        cache_entry *next = e->next_free;
        free(e);
        e = next;
    }
}

/* Links e (not yet in s) into its service's group, made when it is the first. Write lock
 * held. False: out of memory. */
static bool group_link(stripe *s, cache_entry *e)
{
    svc_group *g = cairn_hashmap_get(s->services, e->data, e->svc_len);
    if (!g) {
        if (!(g = malloc(sizeof *g + e->svc_len)))
            return false;
        g->head = NULL;
        g->key_len = e->svc_len;
        memcpy(g->key, e->data, e->svc_len);
        if (cairn_hashmap_put(s->services, g->key, g->key_len, g, NULL) != 0) {
            free(g);
            return false;
        }
    }
    e->group = g;
    e->svc_prev = NULL;
    e->svc_next = g->head;
    if (g->head)
        g->head->svc_prev = e;
    g->head = e;
    return true;
}

/* Drops the entries of s matching (all, or the service prefix with a revision below rev), and
 * voids the stripe's tickets. Write lock held. Returns the dropped entries as a list. */
static cache_entry *stripe_drop(cairn_body_cache *c, stripe *s, const char *prefix, size_t plen,
                                uint64_t rev, size_t *dropped)
{
    atomic_fetch_add(&s->seq, 1);
    cache_entry *out = NULL;
    if (prefix) {
        svc_group *g = cairn_hashmap_get(s->services, prefix, plen);
        /* the group is freed with its last entry, when next is NULL too */
        for (cache_entry *e = g ? g->head : NULL, *next; e; e = next) {
            next = e->svc_next;
            if (e->revision >= rev)
                continue;
            stripe_remove(c, s, e);
            e->next_free = out;
            out = e;
            (*dropped)++;
        }
        return out;
    }
    while (s->count > 0) {
        cache_entry *e = s->items[s->count - 1];
        stripe_remove(c, s, e);
        e->next_free = out;
        out = e;
        (*dropped)++;
    }
    return out;
}

static uint64_t next_random(void)
{
    static _Thread_local uint64_t x;
    if (!x) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&x ^ 0x9E3779B97F4A7C15ULL;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* Evicts one random entry from the next non-empty stripe (one stripe lock at a time, never
 * while holding another). Returns false when the cache is empty. */
static bool evict_one(cairn_body_cache *c)
{
    unsigned start = atomic_fetch_add(&c->hand, 1);
    for (unsigned i = 0; i < STRIPES; i++) {
        stripe *s = &c->stripes[(start + i) & (STRIPES - 1)];
        pthread_rwlock_wrlock(&s->lock);
        if (s->count == 0) {
            pthread_rwlock_unlock(&s->lock);
            continue;
        }
        cache_entry *e = s->items[next_random() % s->count];
        stripe_remove(c, s, e);
        pthread_rwlock_unlock(&s->lock);
        free(e);
        count(c->evictions, 1);
        return true;
    }
    return false;
}

/* Reserves n of *used under limit, evicting to make room. */
static bool reserve(cairn_body_cache *c, _Atomic size_t *used, size_t n, size_t limit)
{
    for (int evicted = 0;; evicted++) {
        size_t have = atomic_load(used);
        while (have + n <= limit)
            if (atomic_compare_exchange_weak(used, &have, have + n))
                return true;
        if (evicted >= MAX_EVICTIONS_PER_PUT || !evict_one(c))
            return false;
    }
}

/* <prefix>_<name>, with help "<pre><what><post>". */
static void *metric(cairn_metrics *m, bool counter, const char *prefix, const char *name,
                    const char *what, const char *pre, const char *post)
{
    char full[96], text[320];
    snprintf(full, sizeof full, "%s_%s", prefix, name);
    snprintf(text, sizeof text, "%s%s%s", pre, what, post);
    return counter ? (void *)cairn_metrics_counter(m, full, text, NULL)
                   : (void *)cairn_metrics_gauge(m, full, text, NULL);
}

static void make_metrics(cairn_body_cache *c, cairn_metrics *m, const char *p, const char *w)
{
    c->hits = metric(m, true, p, "hits_total", w, "Requests for ", " answered from the cache.");
    c->misses = metric(m, true, p, "misses_total", w, "Requests for ",
                       " the cache could not answer (rendered afresh).");
    c->invalidations = metric(m, true, p, "invalidations_total", w, "Cached ",
                              " dropped because their service changed or events may have been "
                              "missed.");
    c->evictions = metric(m, true, p, "evictions_total", w, "Cached ",
                          " dropped to stay within the entry and byte bounds.");
    c->flushes = metric(m, true, p, "flushes_total", w, "Times the cache of ",
                        " was emptied: the registry's change events connection came up or went "
                        "down, or events were missed.");
    c->entries_gauge = metric(m, false, p, "entries", w, "Entries in the cache of ", ".");
    c->bytes_gauge = metric(m, false, p, "bytes", w, "Bytes in the cache of ", ".");
    c->live_gauge = metric(m, false, p, "live", w, "1 while the cache of ",
                           " follows the registry's change events (it serves only then).");
}

/* ---- the API ------------------------------------------------------------------------------- */

cairn_body_cache *cairn_body_cache_new(const cairn_body_cache_options *o)
{
    cairn_body_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max_entries = o->max_entries > 0 ? o->max_entries : 1;
    c->max_bytes = o->max_bytes > 0 ? o->max_bytes : 1;
    c->max_age_ms = o->max_age_ms > 0 ? o->max_age_ms : 1;
    atomic_init(&c->entries, 0);
    atomic_init(&c->bytes, 0);
    atomic_init(&c->hand, 0);
    atomic_init(&c->live, false);
    c->stripes = aligned_alloc(_Alignof(stripe), STRIPES * sizeof(stripe));
    if (!c->stripes) {
        free(c);
        return NULL;
    }
    size_t ready = 0;
    for (; ready < STRIPES; ready++) {
        stripe *s = &c->stripes[ready];
        memset(s, 0, sizeof *s);
        atomic_init(&s->seq, 1);
        if (!(s->map = cairn_hashmap_new(16)))
            break;
        if (!(s->services = cairn_hashmap_new(16)) || pthread_rwlock_init(&s->lock, NULL) != 0) {
            cairn_hashmap_free(s->services);
            cairn_hashmap_free(s->map);
            break;
        }
    }
    if (ready < STRIPES) {
        for (size_t i = 0; i < ready; i++) {
            pthread_rwlock_destroy(&c->stripes[i].lock);
            cairn_hashmap_free(c->stripes[i].map);
            cairn_hashmap_free(c->stripes[i].services);
        }
        free(c->stripes);
        free(c);
        return NULL;
    }
    if (o->metrics)
        make_metrics(c, o->metrics, o->metric_prefix ? o->metric_prefix : "list_cache",
                     o->what ? o->what : "instance/list bodies");
    return c;
}

void cairn_body_cache_free(cairn_body_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < STRIPES; i++) {
        stripe *s = &c->stripes[i];
        for (size_t j = 0; j < s->count; j++)
            free(s->items[j]);
        cairn_hashmap_iter it;
        cairn_hashmap_iter_init(&it, s->services);
        void *g;
        while (cairn_hashmap_iter_next(&it, NULL, NULL, &g))
            free(g);
        free(s->items);
        cairn_hashmap_free(s->map);
        cairn_hashmap_free(s->services);
        pthread_rwlock_destroy(&s->lock);
    }
    free(c->stripes);
    free(c);
}

char *cairn_body_cache_get(cairn_body_cache *c, const cairn_body_cache_key *k, int64_t now_ms,
                           size_t *len)
{
    char *copy = NULL;
    char small[SMALL_KEY], *heap;
    size_t key_len, svc_len;
    const char *key = atomic_load(&c->live) ? make_key(k, small, &heap, &key_len, &svc_len) : NULL;
    if (key) {
        stripe *s = stripe_of(c, service_hash(or_empty(k->namespace_id), or_empty(k->service)));
        pthread_rwlock_rdlock(&s->lock);
        const cache_entry *e = cairn_hashmap_get(s->map, key, key_len);
        if (e && now_ms - e->stored_ms < c->max_age_ms && (copy = malloc(e->len + 1))) {
            memcpy(copy, e->body, e->len);
            copy[e->len] = '\0';
            *len = e->len;
        }
        pthread_rwlock_unlock(&s->lock);
        free(heap);
    }
    count(copy ? c->hits : c->misses, 1);
    return copy;
}

uint64_t cairn_body_cache_ticket(cairn_body_cache *c, const char *namespace_id, const char *service)
{
    if (!atomic_load(&c->live))
        return 0;
    return atomic_load(&stripe_of(c, service_hash(or_empty(namespace_id), or_empty(service)))->seq);
}

bool cairn_body_cache_put(cairn_body_cache *c, const cairn_body_cache_key *k, uint64_t ticket,
                          uint64_t revision, const char *body, size_t len, int64_t now_ms)
{
    if (ticket == 0 || !atomic_load(&c->live) || len > c->max_bytes)
        return false;
    stripe *s = stripe_of(c, service_hash(or_empty(k->namespace_id), or_empty(k->service)));
    if (atomic_load(&s->seq) != ticket)
        return false; /* already stale: spare the evictions */

    size_t svc_len = 0, key_len = key_bytes(k, NULL, 0, NULL);
    cache_entry *e = malloc(sizeof *e + key_len + len + 1);
    if (!e)
        return false;
    key_bytes(k, e->data, key_len, &svc_len);
    e->svc_len = svc_len;
    e->key_len = key_len;
    e->revision = revision;
    e->stored_ms = now_ms;
    e->len = len;
    e->body = e->data + key_len;
    memcpy(e->body, body, len);
    e->body[len] = '\0';

    if (!reserve(c, &c->entries, 1, c->max_entries)) {
        free(e);
        return false;
    }
    if (!reserve(c, &c->bytes, len, c->max_bytes)) {
        atomic_fetch_sub(&c->entries, 1);
        free(e);
        return false;
    }

    cache_entry *old = NULL;
    bool stored = false;
    pthread_rwlock_wrlock(&s->lock);
    if (atomic_load(&s->seq) == ticket && atomic_load(&c->live)) {
        old = cairn_hashmap_get(s->map, e->data, key_len);
        /* Two fills of one key may finish out of order: never go back to an older body. */
        if (old && old->revision > revision) {
            old = NULL;
            goto done;
        }
        if (old)
            stripe_remove(c, s, old);
        if (s->count == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 16;
            cache_entry **items = realloc(s->items, cap * sizeof *items);
            if (items) {
                s->items = items;
                s->cap = cap;
            }
        }
        bool in_map = s->count < s->cap &&
                      cairn_hashmap_put(s->map, e->data, key_len, e, NULL) == 0;
        if (in_map && !group_link(s, e)) {
            cairn_hashmap_remove(s->map, e->data, key_len);
            in_map = false;
        }
        if (in_map) {
            e->slot = s->count;
            s->items[s->count++] = e;
            gauge_add(c->entries_gauge, 1);
            gauge_add(c->bytes_gauge, (double)len);
            stored = true;
        }
    }
done:
    pthread_rwlock_unlock(&s->lock);
    free(old); /* replaced, or taken out before a failed insert */
    if (!stored) {
        atomic_fetch_sub(&c->entries, 1);
        atomic_fetch_sub(&c->bytes, len);
        free(e);
    }
    return stored;
}

void cairn_body_cache_invalidate(cairn_body_cache *c, const char *namespace_id, const char *service,
                                 uint64_t revision)
{
    const char *ns = or_empty(namespace_id), *svc = or_empty(service);
    size_t nl = strlen(ns) + 1, sl = strlen(svc) + 1;
    char small[SMALL_KEY], *prefix = nl + sl <= sizeof small ? small : malloc(nl + sl);
    uint64_t hash = service_hash(ns, svc);
    stripe *s = stripe_of(c, hash);
    size_t dropped = 0;
    pthread_rwlock_wrlock(&s->lock);
    cache_entry *gone;
    if (prefix) {
        memcpy(prefix, ns, nl);
        memcpy(prefix + nl, svc, sl);
        gone = stripe_drop(c, s, prefix, nl + sl, revision, &dropped);
    } else {
        gone = stripe_drop(c, s, NULL, 0, 0, &dropped); /* no memory: drop the stripe */
    }
    pthread_rwlock_unlock(&s->lock);
    if (prefix != small)
        free(prefix);
    free_list(gone);
    count(c->invalidations, dropped);
}

void cairn_body_cache_flush(cairn_body_cache *c)
{
    size_t dropped = 0;
    for (size_t i = 0; i < STRIPES; i++) {
        stripe *s = &c->stripes[i];
        pthread_rwlock_wrlock(&s->lock);
        cache_entry *gone = stripe_drop(c, s, NULL, 0, 0, &dropped);
        pthread_rwlock_unlock(&s->lock);
        free_list(gone);
    }
    count(c->invalidations, dropped);
    count(c->flushes, 1);
}

void cairn_body_cache_set_live(cairn_body_cache *c, bool live)
{
    /* Going live: flush first, so nothing filled while events were missed survives. Going
     * down: stop serving first, then flush (and void the fills in progress). */
    if (live) {
        cairn_body_cache_flush(c);
        atomic_store(&c->live, true);
    } else {
        atomic_store(&c->live, false);
        cairn_body_cache_flush(c);
    }
    if (c->live_gauge)
        cairn_gauge_set(c->live_gauge, live ? 1 : 0);
}

bool cairn_body_cache_live(cairn_body_cache *c)
{
    return atomic_load(&c->live);
}

size_t cairn_body_cache_entry_count(cairn_body_cache *c)
{
    size_t n = 0;
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_rwlock_rdlock(&c->stripes[i].lock);
        n += c->stripes[i].count;
        pthread_rwlock_unlock(&c->stripes[i].lock);
    }
    return n;
}

size_t cairn_body_cache_byte_count(cairn_body_cache *c)
{
    size_t n = 0;
    for (size_t i = 0; i < STRIPES; i++) {
        pthread_rwlock_rdlock(&c->stripes[i].lock);
        for (size_t j = 0; j < c->stripes[i].count; j++)
            n += c->stripes[i].items[j]->len;
        pthread_rwlock_unlock(&c->stripes[i].lock);
    }
    return n;
}
