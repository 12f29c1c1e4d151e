/* Following the replicator's MEMBERSHIP (gateway_members.h). */
#include "gateway_members.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_java_hash.h"
#include "cairn_members_follow.h"

struct gateway_members {
    cairn_cluster_config cfg;
    cairn_members_follower *follower;
    pthread_mutex_t lock;
    char *latest; /* the newest MEMBERSHIP message (encoded) */
    size_t latest_len;
    /* the owner list of that message, for routing: ids packed in owner_ids (NUL-separated) */
    char *owner_ids;
    const char *owners[CAIRN_CLUSTER_MAX_MEMBERS];
    uint32_t owner_count;
    char self[CAIRN_CLUSTER_ID_MAX];
    atomic_bool self_ready; /* the newest view's self_ready (gateway_members_serving) */
};

/* The owner list of m, packed into one allocation (NULL on out of memory or none). */
static char *pack_owners(const cairn_membership *m, const char **owners, uint32_t *count)
{
    size_t total = 0;
    uint32_t n = m->owner_count < CAIRN_CLUSTER_MAX_MEMBERS ? m->owner_count
                                                              : CAIRN_CLUSTER_MAX_MEMBERS;
    for (uint32_t i = 0; i < n; i++)
        total += strlen(m->owners[i]) + 1;
    char *ids = malloc(total ? total : 1);
    *count = 0;
    if (!ids)
        return NULL;
    char *at = ids;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(m->owners[i]) + 1;
        memcpy(at, m->owners[i], len);
        owners[i] = at;
        at += len;
    }
    *count = n;
    return ids;
}

/* Follower thread: keep the bytes (for the view) and the owner list (for routing). */
static void keep(void *arg, const cairn_membership *m, const char *buf, size_t len)
{
    gateway_members *gm = arg;
    char *copy = malloc(len);
    const char *owners[CAIRN_CLUSTER_MAX_MEMBERS];
    uint32_t count = 0;
    char *ids = pack_owners(m, owners, &count);
    if (!copy || !ids) {
        free(copy);
        free(ids);
        return;
    }
    atomic_store(&gm->self_ready, m->self_ready);
    memcpy(copy, buf, len);
    pthread_mutex_lock(&gm->lock);
    free(gm->latest);
    gm->latest = copy;
    gm->latest_len = len;
    free(gm->owner_ids);
    gm->owner_ids = ids;
    memcpy(gm->owners, owners, sizeof owners);
    gm->owner_count = count;
    snprintf(gm->self, sizeof gm->self, "%s", m->self);
    pthread_mutex_unlock(&gm->lock);
}

gateway_members *gateway_members_open(const cairn_config *cfg, const char *run_dir,
                                      cairn_status *st)
{
    cairn_status_clear(st);
    gateway_members *gm = calloc(1, sizeof *gm);
    if (!gm) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    if (cairn_cluster_config_load(cfg, &gm->cfg, st) != CAIRN_OK || gm->cfg.count == 0) {
        free(gm);
        return NULL;
    }
    pthread_mutex_init(&gm->lock, NULL);
    if (!(gm->follower = cairn_members_follow_start(run_dir, keep, gm, st))) {
        pthread_mutex_destroy(&gm->lock);
        free(gm);
        return NULL;
    }
    return gm;
}

void gateway_members_close(gateway_members *gm)
{
    if (!gm)
        return;
    cairn_members_follow_stop(gm->follower);
    pthread_mutex_destroy(&gm->lock);
    free(gm->latest);
    free(gm->owner_ids);
    free(gm);
}

const cairn_cluster_config *gateway_members_config(const gateway_members *gm)
{
    return &gm->cfg;
}

bool gateway_members_view(gateway_members *gm, cairn_membership *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&gm->lock);
    char *copy = gm->latest ? malloc(gm->latest_len) : NULL;
    size_t len = gm->latest_len;
    if (copy)
        memcpy(copy, gm->latest, len);
    pthread_mutex_unlock(&gm->lock);
    if (!copy)
        return false;
    cairn_status st;
    bool ok = cairn_membership_decode(copy, len, out, &st) == CAIRN_OK;
    free(copy);
    return ok;
}

gateway_owner gateway_members_owner(gateway_members *gm, const char *grouped, char *owner,
                                    size_t owner_len)
{
    gateway_owner who = GATEWAY_OWNER_NONE;
    pthread_mutex_lock(&gm->lock);
    if (gm->owner_count > 0) {
        uint32_t i = cairn_distro_index(grouped, strlen(grouped), gm->owner_count);
        const char *id = gm->owners[i];
        who = strcmp(id, gm->self) == 0 ? GATEWAY_OWNER_SELF : GATEWAY_OWNER_PEER;
        snprintf(owner, owner_len, "%s", id);
    }
    pthread_mutex_unlock(&gm->lock);
    return who;
}

bool gateway_members_serving(gateway_members *gm)
{
    return !gm || atomic_load(&gm->self_ready);
}
