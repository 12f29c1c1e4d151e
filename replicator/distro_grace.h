/* Expiry safety on an ownership change (cluster design §1.7 "#1873", §2.6 "Expiry safety").
 *
 * A node that becomes a service's owner has never seen that service's beats, so the lastBeat it
 * holds is whatever the previous owner last synced, possibly seconds old. Expiring on it would
 * delete live instances right after a handover. The rule: on every view change, each service
 * newly owned by self gets lastBeat = now on all its instances (a full grace period), and no
 * expiry sweep runs before the node is READY.
 *
 * Pure functions over two views (distro_view.h); no state. The healthcheck applies them to its
 * own table on each MEMBERSHIP message (healthcheck_set_members), so this file must stay free of
 * anything but distro_view. Any thread, since views are immutable. */
#ifndef DISTRO_GRACE_H
#define DISTRO_GRACE_H

#include "distro_view.h"

/* Whether self owns the service in new_v but did not in old_v (old_v NULL: no view before, as
 * at start: everything self owns is new). Self is new_v's self. */
bool distro_grace_newly_owned(const distro_view *old_v, const distro_view *new_v,
                              const char *grouped);

/* The services among keys[0..n) newly owned by self, as indexes into keys (out_idx has room
 * for n), in order; returns how many. The healthcheck resets their instances' lastBeat. */
size_t distro_grace_newly_owned_list(const distro_view *old_v, const distro_view *new_v,
                                     const distro_key *keys, size_t n, size_t *out_idx);

/* Whether an expiry sweep may remove the service's instances: only on a READY node, and only
 * for services it owns in its current view (a copy belongs to its owner's sweep). */
bool distro_grace_may_expire(bool self_ready, const distro_view *v, const char *grouped);

#endif
