/* The removal guard of verify rounds (cluster design §2.6, §1.7 "#10323", "#5169").
 *
 * A verify round's receiver holds a copy of a service that the owner's listing lacks. Nacos
 * deleted such copies, and during a membership change (two views) or after a failed sync that
 * deleted live data owned by someone else. Cairn deletes the copy only when
 *   - the receiver is READY (a node not READY never deletes), and
 *   - the registry's removal rule allows it (cairn_distro_may_remove, cairn_distro_rules.h: both
 *     members' view_hash match, and the copy was written by that owner's own store: its origin
 *     is the owner and its epoch the owner's current store epoch, non-zero);
 * otherwise the key goes into offer[] and the owner decides (it fetches and re-publishes it
 * unless it holds a tombstone). distro_removal_guard adds only the READY condition and the
 * reason for the metric to that rule; the version order is cairn_distro_compare's and the
 * "apply or stale" rule of DISTRO_APPLY is cairn_distro_decide's.
 *
 * Pure functions; any thread. */
#ifndef DISTRO_GUARD_H
#define DISTRO_GUARD_H

#include "distro_types.h"

typedef enum distro_removal {
    DISTRO_REMOVAL_DELETE = 0, /* drop the local copy */
    DISTRO_REMOVAL_OFFER,      /* name it in offer[]: the owner decides */
    DISTRO_REMOVAL_SKIP,       /* neither (the receiver is not READY) */
} distro_removal;

/* Why a removal did not happen: the `reason` label of removals_skipped_total. */
typedef enum distro_removal_reason {
    DISTRO_REMOVAL_OK = 0,       /* deleted */
    DISTRO_REMOVAL_NOT_READY,
    DISTRO_REMOVAL_VIEWS_DIFFER,
    DISTRO_REMOVAL_OTHER_ORIGIN, /* written by another member (a handover, a lost sync) */
    DISTRO_REMOVAL_OTHER_EPOCH,  /* written by another store of the owner's, or unversioned */
    DISTRO_REMOVAL_REASON_COUNT
} distro_removal_reason;

const char *distro_removal_reason_name(distro_removal_reason r);

typedef struct distro_removal_input {
    bool self_ready;
    uint64_t local_view_hash;
    const char *owner;        /* the member whose listing lacks the key */
    uint64_t owner_view_hash; /* from its DISTRO_VERIFY */
    uint64_t owner_epoch;     /* its current store epoch, from its DISTRO_VERIFY */
    cairn_distro_version copy; /* the local copy's version (origin borrowed) */
} distro_removal_input;

distro_removal distro_removal_guard(const distro_removal_input *in, distro_removal_reason *why);

#endif
