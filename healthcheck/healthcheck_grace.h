/* Expiry safety on an ownership change (cluster-design §1.7 "#1873", §2.6 "Expiry safety"): the
 * beats of a service went to its old owner, so the lastBeat this node holds is stale. When a view
 * makes this node the owner of a service it did not own in the previous view, every ephemeral
 * instance of it gets lastBeat = now: a full grace period before the new owner may expire it.
 * The decision is distro_grace.h's (shared with the replicator's engines); this file applies it
 * to the healthcheck's table. */
#ifndef HEALTHCHECK_GRACE_H
#define HEALTHCHECK_GRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "healthcheck_table.h"

/* Under the table's lock (taken here): resets last_beat_ms to now_ms for the ephemeral instances
 * of every service newly owned by self. old_owners NULL: no previous view (everything self owns
 * is new). Lists are member identities in any order (borrowed). Returns how many instances were
 * reset, or -1 when out of memory (nothing reset). Any thread but under no other lock. */
long hc_grace_newly_owned(hc_table *t, const char *const *old_owners, size_t old_n,
                          const char *const *owners, size_t n, const char *self, int64_t now_ms);

#endif
