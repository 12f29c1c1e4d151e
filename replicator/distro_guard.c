/* The removal guard (distro_guard.h). */
#include "distro_guard.h"

#include <string.h>

#include "cairn_distro_rules.h"

const char *distro_removal_reason_name(distro_removal_reason r)
{
    static const char *const names[DISTRO_REMOVAL_REASON_COUNT] = {
        "ok", "not_ready", "views_differ", "other_origin", "other_epoch",
    };
    return (unsigned)r < DISTRO_REMOVAL_REASON_COUNT ? names[r] : "unknown";
}

distro_removal distro_removal_guard(const distro_removal_input *in, distro_removal_reason *why)
{
    bool views_match = in->local_view_hash == in->owner_view_hash;
    distro_removal_reason r = DISTRO_REMOVAL_OK;
    if (!in->self_ready)
        r = DISTRO_REMOVAL_NOT_READY;
    else if (!cairn_distro_may_remove(views_match, &in->copy, in->owner, in->owner_epoch))
        r = !views_match ? DISTRO_REMOVAL_VIEWS_DIFFER
            : !in->copy.origin || !in->owner || strcmp(in->copy.origin, in->owner) != 0
                ? DISTRO_REMOVAL_OTHER_ORIGIN
                : DISTRO_REMOVAL_OTHER_EPOCH;
    if (why)
        *why = r;
    if (r == DISTRO_REMOVAL_OK)
        return DISTRO_REMOVAL_DELETE;
    return r == DISTRO_REMOVAL_NOT_READY ? DISTRO_REMOVAL_SKIP : DISTRO_REMOVAL_OFFER;
}
