/* Newly owned services get a full grace period (healthcheck_grace.h). */
#include "healthcheck_grace.h"

#include <stdlib.h>
#include <string.h>

#include "distro_grace.h"

long hc_grace_newly_owned(hc_table *t, const char *const *old_owners, size_t old_n,
                          const char *const *owners, size_t n, const char *self, int64_t now_ms)
{
    distro_view *nv = distro_view_new(owners, n, self);
    distro_view *ov = old_owners ? distro_view_new(old_owners, old_n, self) : NULL;
    if (!nv || (old_owners && !ov)) {
        distro_view_free(nv);
        distro_view_free(ov);
        return -1;
    }
    long reset = 0;
    hc_table_lock(t);
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, t->services);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        hc_service *s = v;
        if (s->count == 0 || !distro_grace_newly_owned(ov, nv, s->name))
            continue;
        for (uint32_t i = 0; i < s->count; i++)
            if (s->instances[i]->ephemeral) {
                s->instances[i]->last_beat_ms = now_ms;
                reset++;
            }
    }
    hc_table_unlock(t);
    distro_view_free(nv);
    distro_view_free(ov);
    return reset;
}
