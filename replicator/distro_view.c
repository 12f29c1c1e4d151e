/* The ownership view: a sorted owner list, its hash, and the owner of a service. */
#include "distro_view.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_cluster_config.h"
#include "cairn_java_hash.h"

struct distro_view {
    char **ids; /* sorted, unique */
    size_t n;
    char *self;
    uint64_t hash;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same hash as the members hash in PING, so the two can be compared. */
static uint64_t view_hash(char *const *ids, size_t n)
{
    return cairn_cluster_ids_hash((const char *const *)ids, n);
}

distro_view *distro_view_new(const char *const *owners, size_t n, const char *self)
{
    if (!self)
        return NULL;
    distro_view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->self = strdup(self);
    v->ids = calloc(n ? n : 1, sizeof *v->ids);
    if (!v->self || !v->ids)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!(v->ids[i] = strdup(owners[i])))
            goto oom;
        v->n = i + 1;
    }
    qsort(v->ids, v->n, sizeof *v->ids, cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (w > 0 && strcmp(v->ids[w - 1], v->ids[i]) == 0)
            free(v->ids[i]);
        else
            v->ids[w++] = v->ids[i];
    }
    v->n = w;
    v->hash = view_hash(v->ids, v->n);
    return v;
oom:
    distro_view_free(v);
    return NULL;
}

void distro_view_free(distro_view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        free(v->ids[i]);
    free(v->ids);
    free(v->self);
    free(v);
}

size_t distro_view_size(const distro_view *v)
{
    return v ? v->n : 0;
}

const char *distro_view_member(const distro_view *v, size_t i)
{
    return v->ids[i];
}

const char *distro_view_self(const distro_view *v)
{
    return v->self;
}

bool distro_view_contains(const distro_view *v, const char *id)
{
    if (!v || v->n == 0)
        return false;
    return bsearch(&id, v->ids, v->n, sizeof *v->ids, cmp_str) != NULL;
}

uint64_t distro_view_hash(const distro_view *v)
{
    return v ? v->hash : view_hash(NULL, 0);
}

const char *distro_view_owner_of(const distro_view *v, const char *grouped)
{
    if (!v || v->n == 0)
        return NULL;
    return v->ids[cairn_distro_index(grouped, strlen(grouped), (uint32_t)v->n)];
}

bool distro_view_owned_by(const distro_view *v, const char *grouped, const char *member)
{
    const char *o = distro_view_owner_of(v, grouped);
    return o && member && strcmp(o, member) == 0;
}

bool distro_view_self_owns(const distro_view *v, const char *grouped)
{
    return v && distro_view_owned_by(v, grouped, v->self);
}

bool distro_view_owner_changed(const distro_view *old_v, const distro_view *new_v,
                               const char *grouped)
{
    const char *a = distro_view_owner_of(old_v, grouped);
    const char *b = distro_view_owner_of(new_v, grouped);
    if (!a || !b)
        return a != b;
    return strcmp(a, b) != 0;
}

size_t distro_view_select(const distro_view *old_v, const distro_view *new_v,
                          distro_view_change_rule rule, const distro_key *keys, size_t n,
                          size_t *out_idx)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (rule(old_v, new_v, keys[i].service))
            out_idx[k++] = i;
    return k;
}

size_t distro_view_changed(const distro_view *old_v, const distro_view *new_v,
                           const distro_key *keys, size_t n, size_t *out_idx)
{
    return distro_view_select(old_v, new_v, distro_view_owner_changed, keys, n, out_idx);
}
