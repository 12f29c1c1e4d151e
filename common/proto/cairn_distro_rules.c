/* Distro's version rules and removal guard (cairn_distro_rules.h). */
#include "cairn_distro_rules.h"

#include <string.h>

#include "cairn_java_hash.h"

cairn_distro_mode cairn_distro_mode_for(bool sender_owns, bool receiver_owns)
{
    return sender_owns || !receiver_owns ? CAIRN_DISTRO_OWNER : CAIRN_DISTRO_SAME_ORIGIN;
}

cairn_distro_order cairn_distro_compare(const cairn_distro_version *a,
                                        const cairn_distro_version *b)
{
    if (a->epoch == 0 || a->epoch != b->epoch)
        return CAIRN_DISTRO_VERSION_UNRELATED;
    if (a->seq == b->seq)
        return CAIRN_DISTRO_VERSION_EQUAL;
    return a->seq < b->seq ? CAIRN_DISTRO_VERSION_OLDER : CAIRN_DISTRO_VERSION_NEWER;
}

cairn_distro_verdict cairn_distro_decide(const cairn_distro_version *held,
                                         const cairn_distro_version *incoming,
                                         cairn_distro_mode mode)
{
    static const cairn_distro_version none = {0};
    if (mode == CAIRN_DISTRO_FORCE)
        return CAIRN_DISTRO_VERDICT_APPLY;
    if (!incoming || incoming->epoch == 0)
        return CAIRN_DISTRO_VERDICT_STALE;
    switch (cairn_distro_compare(incoming, held ? held : &none)) {
    case CAIRN_DISTRO_VERSION_NEWER:
        return CAIRN_DISTRO_VERDICT_APPLY;
    case CAIRN_DISTRO_VERSION_UNRELATED: /* another writer, or nothing held */
        return mode == CAIRN_DISTRO_OWNER ? CAIRN_DISTRO_VERDICT_APPLY
                                          : CAIRN_DISTRO_VERDICT_STALE;
    default:
        return CAIRN_DISTRO_VERDICT_STALE;
    }
}

bool cairn_distro_may_remove(bool views_match, const cairn_distro_version *copy,
                             const char *owner, uint64_t owner_epoch)
{
    return views_match && copy && owner && copy->origin && owner_epoch != 0 &&
           copy->epoch == owner_epoch && strcmp(copy->origin, owner) == 0;
}

bool cairn_distro_selected(const char *grouped, const char *const *owners, uint32_t count,
                           const char *self)
{
    if (count == 0 || !owners)
        return !self;
    if (!self || !grouped)
        return false;
    uint32_t i = cairn_distro_index(grouped, strlen(grouped), count);
    return owners[i] && strcmp(owners[i], self) == 0;
}
