/* The ownership view (cluster design §1.1, §2.9): who owns each service for one owner list.
 *
 * A view is an immutable value built from the owner list the membership state machine publishes
 * (the identities of UP and SUSPICIOUS members, self only when READY) and self's identity. It
 * sorts the list as byte strings, which for ASCII "host:port" is Java's String order
 * ("127.0.0.10:8848" before "127.0.0.2:8848"), drops duplicates, and maps a service to
 * list[cairn_distro_index("group@@service")], Nacos' DistroMapper; the namespace takes no part.
 * An empty view owns nothing: a service has no owner (NULL), never "self by default".
 *
 * view_hash is FNV-1a 64 over the sorted identities, each followed by ',': the value the
 * membership state machine computes for PING's view_hash (cairn_cluster_ids_hash over the owner
 * list; when the two meet, this calls it). Two members whose hashes match map every service to
 * the same owner; the removal guard (distro_guard.h) relies on it.
 *
 * Ownership: distro_view_new copies every string; a view is freed by distro_view_free, and the
 * strings it returns are valid until then. Views are immutable, so any thread may read one, but
 * in the replicator they belong to the loop thread, which swaps in a new view on each
 * MEMBERSHIP change and keeps the previous one for distro_view_changed. */
#ifndef DISTRO_VIEW_H
#define DISTRO_VIEW_H

#include "distro_types.h"

typedef struct distro_view distro_view;

/* owners: n identities in any order (borrowed; duplicates dropped). self: this node's identity
 * (borrowed; it need not be in the list: a node that is not READY owns nothing). NULL when out
 * of memory or self is NULL. */
distro_view *distro_view_new(const char *const *owners, size_t n, const char *self);
void distro_view_free(distro_view *v);

size_t distro_view_size(const distro_view *v);
/* The i-th identity in sorted order (i < size). */
const char *distro_view_member(const distro_view *v, size_t i);
const char *distro_view_self(const distro_view *v);
bool distro_view_contains(const distro_view *v, const char *id);
uint64_t distro_view_hash(const distro_view *v);

/* The owner of a grouped service name, or NULL when the view is empty. v may be NULL (no view
 * yet: nobody owns anything). */
const char *distro_view_owner_of(const distro_view *v, const char *grouped);
bool distro_view_self_owns(const distro_view *v, const char *grouped);
bool distro_view_owned_by(const distro_view *v, const char *grouped, const char *member);

/* Whether the owner of the service differs between two views (either may be NULL: empty). */
bool distro_view_owner_changed(const distro_view *old_v, const distro_view *new_v,
                               const char *grouped);

/* A rule over a view change for one grouped service name. */
typedef bool (*distro_view_change_rule)(const distro_view *old_v, const distro_view *new_v,
                                        const char *grouped);

/* The services among keys[0..n) for which rule holds: writes their indexes to out_idx (room for
 * n) in order and returns how many. */
size_t distro_view_select(const distro_view *old_v, const distro_view *new_v,
                          distro_view_change_rule rule, const distro_key *keys, size_t n,
                          size_t *out_idx);

/* distro_view_select with distro_view_owner_changed: what a DOWN member's departure re-hashes,
 * and what "a new owner gives a full grace period" starts from. */
size_t distro_view_changed(const distro_view *old_v, const distro_view *new_v,
                           const distro_key *keys, size_t n, size_t *out_idx);

#endif
