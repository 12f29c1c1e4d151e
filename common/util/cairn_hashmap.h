/* A hash map from byte-string keys to pointers, for the in-memory tables of the healthcheck
 * (instances by key) and the pushers (subscribers, pending acks). Open addressing with linear
 * probing and backward-shift deletion; keys are copied, values are the caller's. Not
 * thread-safe: each table belongs to one thread or is guarded by its owner's lock. */
#ifndef CAIRN_HASHMAP_H
#define CAIRN_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cairn_hashmap cairn_hashmap;

cairn_hashmap *cairn_hashmap_new(size_t initial_capacity);
/* Frees the map and its key copies; values are not touched (free them first via iteration). */
void cairn_hashmap_free(cairn_hashmap *m);

size_t cairn_hashmap_size(const cairn_hashmap *m);
void *cairn_hashmap_get(const cairn_hashmap *m, const void *key, size_t key_len);
/* Inserts or replaces. Returns 0, or -1 when out of memory (the map is unchanged).
 * *old (when old is not NULL) receives the replaced value or NULL. */
int cairn_hashmap_put(cairn_hashmap *m, const void *key, size_t key_len, void *value, void **old);
/* Removes key; returns its value or NULL when absent. */
void *cairn_hashmap_remove(cairn_hashmap *m, const void *key, size_t key_len);

/* Counting: a map whose values are counts rather than pointers (stored as uintptr_t, never 0:
 * a key whose count falls to 0 is removed), for multisets such as connections per address or
 * subscriptions per service. Do not mix with pointer values in one map. */
/* The count of key (0 when absent). */
uint32_t cairn_hashmap_count_of(const cairn_hashmap *m, const void *key, size_t key_len);
/* One more of key; *before (may be NULL) gets its count before. -1 when out of memory (nothing
 * changed), else 0. */
int cairn_hashmap_count_up(cairn_hashmap *m, const void *key, size_t key_len, uint32_t *before);
/* One fewer of key (removed at 0); a key that is absent stays so. Allocates nothing. */
void cairn_hashmap_count_down(cairn_hashmap *m, const void *key, size_t key_len);

/* Iteration in unspecified order. Removing the current entry (via cairn_hashmap_iter_remove) is
 * allowed during iteration; any other change invalidates the iterator. */
typedef struct cairn_hashmap_iter {
    cairn_hashmap *map;
    size_t slot;
    bool removed; /* internal */
} cairn_hashmap_iter;

void cairn_hashmap_iter_init(cairn_hashmap_iter *it, cairn_hashmap *m);
/* Returns false at the end; otherwise sets *key, *key_len (may be NULL) and *value. */
bool cairn_hashmap_iter_next(cairn_hashmap_iter *it, const void **key, size_t *key_len,
                             void **value);
/* Removes the entry last returned by iter_next, returning its value. */
void *cairn_hashmap_iter_remove(cairn_hashmap_iter *it);

#endif
