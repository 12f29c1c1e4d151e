/* The services reported in use (registry_in_use.h). */
#include "registry_in_use.h"

#include <pthread.h>
#include <stdlib.h>

#include "cairn_hashmap.h"
#include "cairn_keys.h"
#include "cairn_model.h"
#include "cairn_write_rules.h"
#include "registry_handlers.h"

/* A full table drops its worthless marks at most this often: each time is a walk of it all. */
#define PURGE_GAP_MS 1000

struct registry_in_use {
    pthread_mutex_t mu;
    cairn_hashmap *marks; /* service key (cairn_key_service) → int64_t* last report, owned */
    size_t max_entries;
    int64_t keep_ms;
    int64_t since_ms;
    int64_t next_purge_ms; /* a full table may purge again from then */
};

registry_in_use *registry_in_use_new(size_t max_entries, int64_t keep_ms, int64_t since_ms)
{
    registry_in_use *u = calloc(1, sizeof *u);
    if (!u || !(u->marks = cairn_hashmap_new(1024))) {
        free(u);
        return NULL;
    }
    pthread_mutex_init(&u->mu, NULL);
    u->max_entries = max_entries;
    u->keep_ms = keep_ms;
    u->since_ms = since_ms;
    u->next_purge_ms = INT64_MIN;
    return u;
}

void registry_in_use_free(registry_in_use *u)
{
    if (!u)
        return;
    registry_in_use_forget(u, INT64_MAX);
    cairn_hashmap_free(u->marks);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

/* The checks a registration makes of the names (cairn_check_service_name, which the senders
 * apply too), all before anything is kept. */
static cairn_err check_names(const cairn_request *req, cairn_status *st)
{
    if (req->state_count > CAIRN_IN_USE_MAX_SERVICES)
        return cairn_fail(st, CAIRN_E_LIMIT, "too many services in one report (%u, limit %d)",
                          req->state_count, CAIRN_IN_USE_MAX_SERVICES);
    for (uint32_t i = 0; i < req->state_count; i++) {
        const cairn_distro_state *ds = &req->states[i];
        cairn_key k;
        if (cairn_check_service_name(ds->namespace_id, ds->service, st))
            return st->code;
        if (cairn_key_service(&k, registry_ns(ds->namespace_id), ds->service) != 0)
            return cairn_fail(st, CAIRN_E_INVALID, "service name too long for a key: %s",
                              ds->service);
    }
    return CAIRN_OK;
}

static size_t forget_locked(registry_in_use *u, int64_t cutoff_ms)
{
    size_t n = 0;
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, u->marks);
    const void *k;
    void *v;
    while (cairn_hashmap_iter_next(&it, &k, NULL, &v)) {
        if (*(int64_t *)v > cutoff_ms)
            continue;
        cairn_hashmap_iter_remove(&it);
        free(v);
        n++;
    }
    return n;
}

/* Marks one service; false when the table has no room for it (or no memory). mu held. */
static bool mark(registry_in_use *u, const cairn_key *k, int64_t now_ms)
{
    int64_t *at = cairn_hashmap_get(u->marks, k->bytes, k->len);
    if (at) {
        if (now_ms > *at) /* a wall clock stepped back keeps the later mark */
            *at = now_ms;
        return true;
    }
    if (cairn_hashmap_size(u->marks) >= u->max_entries && now_ms >= u->next_purge_ms) {
        forget_locked(u, now_ms - u->keep_ms);
        u->next_purge_ms = now_ms + PURGE_GAP_MS;
    }
    if (cairn_hashmap_size(u->marks) >= u->max_entries || !(at = malloc(sizeof *at)))
        return false;
    *at = now_ms;
    if (cairn_hashmap_put(u->marks, k->bytes, k->len, at, NULL) != 0) {
        free(at);
        return false;
    }
    return true;
}

cairn_err registry_in_use_note(registry_in_use *u, const cairn_request *req, int64_t now_ms,
                               cairn_status *st)
{
    if (check_names(req, st))
        return st->code;
    uint32_t refused = 0;
    pthread_mutex_lock(&u->mu);
    for (uint32_t i = 0; i < req->state_count; i++) {
        cairn_key k;
        cairn_key_service(&k, registry_ns(req->states[i].namespace_id), req->states[i].service);
        refused += !mark(u, &k, now_ms);
    }
    pthread_mutex_unlock(&u->mu);
    if (refused > 0)
        return cairn_fail(st, CAIRN_E_LIMIT,
                          "%u of %u services not marked in use: the registry holds %zu marks "
                          "at most",
                          refused, req->state_count, u->max_entries);
    return CAIRN_OK;
}

int64_t registry_in_use_last(registry_in_use *u, const char *ns, const char *svc)
{
    if (!u)
        return INT64_MIN;
    cairn_key k;
    if (cairn_key_service(&k, registry_ns(ns), svc) != 0)
        return u->since_ms; /* no such key was ever marked */
    pthread_mutex_lock(&u->mu);
    const int64_t *at = cairn_hashmap_get(u->marks, k.bytes, k.len);
    int64_t last = at && *at > u->since_ms ? *at : u->since_ms;
    pthread_mutex_unlock(&u->mu);
    return last;
}

bool registry_in_use_watched(registry_in_use *u, const char *ns, const char *svc, int64_t now_ms)
{
    cairn_key k;
    if (!u || cairn_key_service(&k, registry_ns(ns), svc) != 0)
        return false;
    pthread_mutex_lock(&u->mu);
    const int64_t *at = cairn_hashmap_get(u->marks, k.bytes, k.len);
    bool watched = at && *at > now_ms - u->keep_ms;
    pthread_mutex_unlock(&u->mu);
    return watched;
}

size_t registry_in_use_forget(registry_in_use *u, int64_t cutoff_ms)
{
    if (!u)
        return 0;
    pthread_mutex_lock(&u->mu);
    size_t n = forget_locked(u, cutoff_ms);
    pthread_mutex_unlock(&u->mu);
    return n;
}

size_t registry_in_use_size(registry_in_use *u)
{
    if (!u)
        return 0;
    pthread_mutex_lock(&u->mu);
    size_t n = cairn_hashmap_size(u->marks);
    pthread_mutex_unlock(&u->mu);
    return n;
}
