/* Open addressing with linear probing over a power-of-two table, grown at 0.7 load, with
 * backward-shift deletion (no tombstones, so probe lengths never degrade with churn).
 *
 * Iteration and removal. Each entry has a "virtual position" v = home + displacement, in
 * [0, 2 * capacity): an entry that wrapped past the last slot has v = slot + capacity. The
 * iterator walks a counter c over [0, 2 * capacity) and returns the entry in slot c & mask only
 * when its v == c, so an entry is returned at exactly one counter value. Backward shift only
 * moves an entry toward its home, i.e. lowers its v, and the shift chain started by removing the
 * entry at counter c only fills holes whose new v is >= c, or (for entries of the other half of
 * a wrapped cluster) keeps an entry below c that was below c already. So entries already
 * returned stay behind the counter and entries not yet returned stay at or ahead of it; the one
 * that lands exactly on c is in the current slot, which is why the iterator re-examines that
 * counter after iter_remove. That needs nothing but the counter, so it fits the public
 * iterator (slot = the next counter, removed = the current entry is gone). */
#include "cairn_hashmap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MIN_CAPACITY 8

typedef struct entry {
    unsigned char *key; /* NULL: the slot is empty */
    size_t key_len;
    uint64_t hash;
    void *value;
} entry;

struct cairn_hashmap {
    entry *slots;
    size_t capacity; /* a power of two */
    size_t size;
    uint64_t seed; /* per map, so that colliding keys cannot be precomputed */
};

/* ---- hashing ---------------------------------------------------------------------------------- */

/* The murmur3 finaliser: every input bit affects every output bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Eight bytes at a time, each word mixed in before the multiply-rotate step, then finalised;
 * good low bits matter because the table index is the low bits. */
static uint64_t hash_bytes(uint64_t seed, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= mix64(w);
        h = ((h << 27) | (h >> 37)) * 0x9e3779b97f4a7c15ULL;
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h ^= mix64(w ^ ((uint64_t)len << 56));
        h = ((h << 27) | (h >> 37)) * 0x9e3779b97f4a7c15ULL;
    }
    return mix64(h);
}

static uint64_t new_seed(void)
{
    uint64_t s;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) == (ssize_t)sizeof s)
        return s;
    struct timespec ts; /* no entropy yet (early boot): still differs per map and run */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static int marker;
    return mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&marker);
}

/* ---- table ------------------------------------------------------------------------------------ */

static size_t home_of(const cairn_hashmap *m, uint64_t hash) { return hash & (m->capacity - 1); }

/* More than 0.7 * capacity entries (floor(0.7 * capacity) computed without overflow). */
static bool too_full(size_t size, size_t capacity)
{
    return size > capacity / 10 * 7 + capacity % 10 * 7 / 10;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const cairn_hashmap *m, const void *key, size_t key_len, uint64_t hash)
{
    size_t mask = m->capacity - 1, i = hash & mask;
    for (;;) {
        const entry *e = &m->slots[i];
        if (!e->key ||
            (e->hash == hash && e->key_len == key_len &&
             (key_len == 0 || memcmp(e->key, key, key_len) == 0)))
            return i;
        i = (i + 1) & mask;
    }
}

/* Places an entry whose key is not in the map (the table has room). */
static void place(entry *slots, size_t capacity, const entry *e)
{
    size_t mask = capacity - 1, i = e->hash & mask;
    while (slots[i].key)
        i = (i + 1) & mask;
    slots[i] = *e;
}

/* The smallest table that holds n entries below the load limit, or 0 on overflow. */
static size_t capacity_for(size_t n)
{
    size_t cap = MIN_CAPACITY;
    while (too_full(n, cap)) {
        if (cap > SIZE_MAX / 4) /* 2 * capacity must fit (the iterator's counter) */
            return 0;
        cap *= 2;
    }
    return cap;
}

static int resize(cairn_hashmap *m, size_t capacity)
{
    entry *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->capacity; i++)
        if (m->slots[i].key)
            place(slots, capacity, &m->slots[i]);
    free(m->slots);
    m->slots = slots;
    m->capacity = capacity;
    return 0;
}

/* Empties slot i and shifts the following entries of its cluster back toward their homes, so
 * that every entry stays reachable from its home without crossing an empty slot. */
static void remove_at(cairn_hashmap *m, size_t i)
{
    size_t mask = m->capacity - 1, hole = i, j = i;
    free(m->slots[i].key);
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].key)
            break;
        size_t home = home_of(m, m->slots[j].hash);
        /* Stays when its home is in (hole, j]: moving it would put it before its home. */
        if (((j - home) & mask) < ((j - hole) & mask))
            continue;
        m->slots[hole] = m->slots[j];
        hole = j;
    }
    memset(&m->slots[hole], 0, sizeof m->slots[hole]);
    m->size--;
}

/* ---- API -------------------------------------------------------------------------------------- */

cairn_hashmap *cairn_hashmap_new(size_t initial_capacity)
{
    size_t cap = capacity_for(initial_capacity);
    if (cap == 0)
        return NULL;
    cairn_hashmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    m->capacity = cap;
    m->seed = new_seed();
    return m;
}

void cairn_hashmap_free(cairn_hashmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->capacity; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

size_t cairn_hashmap_size(const cairn_hashmap *m) { return m ? m->size : 0; }

void *cairn_hashmap_get(const cairn_hashmap *m, const void *key, size_t key_len)
{
    uint64_t hash = hash_bytes(m->seed, key, key_len);
    const entry *e = &m->slots[find_slot(m, key, key_len, hash)];
    return e->key ? e->value : NULL;
}

int cairn_hashmap_put(cairn_hashmap *m, const void *key, size_t key_len, void *value, void **old)
{
    uint64_t hash = hash_bytes(m->seed, key, key_len);
    size_t i = find_slot(m, key, key_len, hash);
    if (m->slots[i].key) {
        if (old)
            *old = m->slots[i].value;
        m->slots[i].value = value;
        return 0;
    }
    /* Copy the key first: if growing then fails, nothing has changed yet. */
    entry e = {.key = malloc(key_len > 0 ? key_len : 1), .key_len = key_len, .hash = hash,
               .value = value};
    if (!e.key)
        return -1;
    if (key_len > 0)
        memcpy(e.key, key, key_len);
    if (too_full(m->size + 1, m->capacity)) {
        if (m->capacity > SIZE_MAX / 4 || resize(m, m->capacity * 2) != 0) {
            free(e.key);
            return -1;
        }
    }
    place(m->slots, m->capacity, &e);
    m->size++;
    if (old)
        *old = NULL;
    return 0;
}

void *cairn_hashmap_remove(cairn_hashmap *m, const void *key, size_t key_len)
{
    uint64_t hash = hash_bytes(m->seed, key, key_len);
    size_t i = find_slot(m, key, key_len, hash);
    if (!m->slots[i].key)
        return NULL;
    void *value = m->slots[i].value;
    remove_at(m, i);
    return value;
}

/* ---- iteration (see the comment at the top) ------------------------------------------------ */

void cairn_hashmap_iter_init(cairn_hashmap_iter *it, cairn_hashmap *m)
{
    it->map = m;
    it->slot = 0;       /* the next counter to examine */
    it->removed = true; /* nothing current yet: iter_remove is refused */
}

bool cairn_hashmap_iter_next(cairn_hashmap_iter *it, const void **key, size_t *key_len,
                             void **value)
{
    const cairn_hashmap *m = it->map;
    size_t mask = m->capacity - 1;
    it->removed = true;
    for (size_t c = it->slot; c < 2 * m->capacity; c++) {
        const entry *e = &m->slots[c & mask];
        if (!e->key) {
            /* Wrapped entries (v >= capacity) all sit in the run that starts at slot 0: the
             * first empty slot after the wrap ends them. */
            if (c >= m->capacity)
                break;
            continue;
        }
        size_t home = home_of(m, e->hash);
        size_t v = home + (((c & mask) - home) & mask);
        if (v != c)
            continue;
        it->slot = c + 1;
        it->removed = false;
        if (key)
            *key = e->key;
        if (key_len)
            *key_len = e->key_len;
        if (value)
            *value = e->value;
        return true;
    }
    it->slot = 2 * m->capacity;
    return false;
}

void *cairn_hashmap_iter_remove(cairn_hashmap_iter *it)
{
    if (it->removed || it->slot == 0)
        return NULL;
    cairn_hashmap *m = it->map;
    size_t c = it->slot - 1, i = c & (m->capacity - 1);
    void *value = m->slots[i].value;
    remove_at(m, i);
    /* The shift may have moved a not-yet-returned entry into this slot at this same counter. */
    it->slot = c;
    it->removed = true;
    return value;
}

/* ---- counting ------------------------------------------------------------------------------ */

uint32_t cairn_hashmap_count_of(const cairn_hashmap *m, const void *key, size_t key_len)
{
    return (uint32_t)(uintptr_t)cairn_hashmap_get(m, key, key_len);
}

int cairn_hashmap_count_up(cairn_hashmap *m, const void *key, size_t key_len, uint32_t *before)
{
    uint32_t n = cairn_hashmap_count_of(m, key, key_len);
    if (before)
        *before = n;
    return cairn_hashmap_put(m, key, key_len, (void *)(uintptr_t)(n + 1), NULL);
}

void cairn_hashmap_count_down(cairn_hashmap *m, const void *key, size_t key_len)
{
    uint32_t n = cairn_hashmap_count_of(m, key, key_len);
    if (n > 1) /* the key is there: a replacement allocates nothing */
        cairn_hashmap_put(m, key, key_len, (void *)(uintptr_t)(n - 1), NULL);
    else if (n == 1)
        cairn_hashmap_remove(m, key, key_len);
}
