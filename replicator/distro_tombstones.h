/* Recently deleted services, as the owner's verify rounds must remember them (cluster design
 * §2.5 step 5, §2.6).
 *
 * A service that loses its last ephemeral instance keeps its version, empty, as a tombstone in
 * the registry, so that an older state cannot bring its instances back. On the replicator's
 * side a verify round must not resurrect it either: an owner never fetches and re-publishes an
 * offered key it holds a tombstone for. This tracker answers that question for
 * distro.tombstone_rounds verify intervals (keep_ms = rounds x interval) after the deletion, then
 * forgets the key. It holds no data: the registry stores the tombstone and removes it with its
 * empty-service sweep (registry.empty_service_clean_after_ms, which must be at least keep_ms so
 * the registry never forgets first).
 *
 * The loop adds a key when a CHANGE_EVENT of an owned service shows it emptied, clears it when the
 * service gets an instance again, and calls distro_tombstones_purge once per verify interval.
 *
 * Ownership: keys are copied. Single-threaded: the replicator's loop thread. */
#ifndef DISTRO_TOMBSTONES_H
#define DISTRO_TOMBSTONES_H

#include "distro_types.h"

typedef struct distro_tombstones distro_tombstones;

/* keep_ms >= 0. NULL when out of memory. */
distro_tombstones *distro_tombstones_new(int64_t keep_ms);
void distro_tombstones_free(distro_tombstones *t);

/* The service became empty at now_ms. An existing tombstone keeps its first time. 0, or -1 when
 * out of memory. */
int distro_tombstones_add(distro_tombstones *t, const distro_key *k, int64_t now_ms);
/* The service has instances again. */
void distro_tombstones_clear(distro_tombstones *t, const distro_key *k);
bool distro_tombstones_holds(const distro_tombstones *t, const distro_key *k);
size_t distro_tombstones_count(const distro_tombstones *t);

/* Forgets every tombstone at least keep_ms old, calling fn for each when fn is not NULL (k valid
 * during the call); returns how many. */
size_t distro_tombstones_purge(distro_tombstones *t, int64_t now_ms,
                               void (*fn)(void *ctx, const distro_key *k), void *ctx);

#endif
