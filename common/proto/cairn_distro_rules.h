/* The version rules of Distro (cluster-design §2.5.4) and its removal guard (§2.6), as pure
 * functions, so that the registry (which applies states) and the replicator (which chooses the
 * mode and decides removals) use one definition. Decision tables in tests/unit/test_distro_rules.c.
 *
 * A version is (epoch, seq, origin): the store that wrote the state, its revision of the service
 * then, and the member that wrote it (cairn_model.h). Equal epochs mean the same writer store:
 * the seq then orders the writes. Different epochs are different writers (another member, or the
 * same member after its store was wiped): then ownership decides, not the numbers.
 *
 * No state, no I/O: any thread. */
#ifndef CAIRN_DISTRO_RULES_H
#define CAIRN_DISTRO_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_model.h"
#include "cairn_msg.h"

/* How version a stands to version b: the same writer exactly when both epochs are equal and
 * non-zero, then seq orders them; otherwise unrelated (ownership decides, not the numbers). The
 * origin's name plays no part (a node's own write carries none, the same state back from a peer
 * names it). cairn_distro_decide and the replicator's verify comparison both order by this. */
typedef enum cairn_distro_order {
    CAIRN_DISTRO_VERSION_EQUAL = 0, /* same writer, same seq */
    CAIRN_DISTRO_VERSION_OLDER,     /* same writer, lower seq than b */
    CAIRN_DISTRO_VERSION_NEWER,     /* same writer, higher seq */
    CAIRN_DISTRO_VERSION_UNRELATED, /* different writers, or either has no version (epoch 0) */
} cairn_distro_order;

cairn_distro_order cairn_distro_compare(const cairn_distro_version *a,
                                        const cairn_distro_version *b);

typedef enum cairn_distro_verdict {
    CAIRN_DISTRO_VERDICT_APPLY = 0,
    CAIRN_DISTRO_VERDICT_STALE = 1,
} cairn_distro_verdict;

/* The mode a receiver's replicator asks its registry for, given its own view of the owners:
 * another writer's state is taken when the sender owns the service in the receiver's view or
 * the receiver does not own it (§2.5.4); otherwise only a newer state of the same writer. */
cairn_distro_mode cairn_distro_mode_for(bool sender_owns, bool receiver_owns);

/* Whether the incoming version replaces the held one under mode. held NULL, or with epoch 0,
 * means nothing is held (no ephemeral state, or one never versioned). An incoming version with
 * epoch 0 is not a version: stale unless forced.
 *   FORCE        apply.
 *   SAME_ORIGIN  apply when both epochs are equal (non-zero) and the incoming seq is higher.
 *   OWNER        that, or the epochs differ (nothing held counts as another writer). */
cairn_distro_verdict cairn_distro_decide(const cairn_distro_version *held,
                                         const cairn_distro_version *incoming,
                                         cairn_distro_mode mode);

/* The removal guard (§2.6): a peer deletes its copy of a key missing from the owner's listing
 * only when both members' views of the owner list agree (views_match) and the copy was written
 * by that owner's own store: copy->origin is owner and copy->epoch is owner_epoch (non-zero).
 * Otherwise the key is offered back to the owner instead. */
bool cairn_distro_may_remove(bool views_match, const cairn_distro_version *copy,
                             const char *owner, uint64_t owner_epoch);

/* Whether a service (grouped name) belongs to self among the sorted owner list (the Distro
 * owner, cairn_distro_index over the grouped name, §1.1). count 0 and self NULL select every
 * service; count 0 with a self selects none; self NULL with owners selects none. */
bool cairn_distro_selected(const char *grouped, const char *const *owners, uint32_t count,
                           const char *self);

#endif
