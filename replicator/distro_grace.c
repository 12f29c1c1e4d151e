/* Newly owned services and the expiry rule (distro_grace.h). */
#include "distro_grace.h"

bool distro_grace_newly_owned(const distro_view *old_v, const distro_view *new_v,
                              const char *grouped)
{
    if (!distro_view_self_owns(new_v, grouped))
        return false;
    /* self owned it before only if the old view was its own view and mapped it to self */
    return !distro_view_owned_by(old_v, grouped, distro_view_self(new_v));
}

size_t distro_grace_newly_owned_list(const distro_view *old_v, const distro_view *new_v,
                                     const distro_key *keys, size_t n, size_t *out_idx)
{
    return distro_view_select(old_v, new_v, distro_grace_newly_owned, keys, n, out_idx);
}

bool distro_grace_may_expire(bool self_ready, const distro_view *v, const char *grouped)
{
    return self_ready && distro_view_self_owns(v, grouped);
}
