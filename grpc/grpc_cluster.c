/* cairn-grpc in a cluster: the owner list and the forward leg (grpc_cluster.h). */
#include "grpc_cluster.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_distro_rules.h"
#include "cairn_endpoints.h"
#include "cairn_forward.h"
#include "cairn_grpc_owner.h"
#include "cairn_java_hash.h"
#include "cairn_members_follow.h"

/* The replicator answers at the deadline; the rpc's own timeout only covers a replicator that
 * does not answer at all (as gateway_forward.c). */
#define LOCAL_SLACK_MS 250

struct grpc_cluster {
    char self[CAIRN_CLUSTER_ID_MAX];
    int timeout_ms; /* cluster.forward_timeout_ms */
    cairn_rpc_client *replicator;
    cairn_members_follower *follower;
    pthread_mutex_t lock;
    char *owner_ids; /* the latest owner list, NUL-separated, under lock */
    size_t owner_len;
    uint32_t owner_count;
};

/* Follower thread: keep the owner list. */
static void keep(void *arg, const cairn_membership *m, const char *buf, size_t len)
{
    (void)buf;
    (void)len;
    grpc_cluster *gc = arg;
    size_t total = 0;
    for (uint32_t i = 0; i < m->owner_count; i++)
        total += strlen(m->owners[i]) + 1;
    char *ids = malloc(total ? total : 1);
    if (!ids)
        return; /* the previous view stays */
    size_t at = 0;
    for (uint32_t i = 0; i < m->owner_count; i++) {
        size_t n = strlen(m->owners[i]) + 1;
        memcpy(ids + at, m->owners[i], n);
        at += n;
    }
    pthread_mutex_lock(&gc->lock);
    free(gc->owner_ids);
    gc->owner_ids = ids;
    gc->owner_len = total;
    gc->owner_count = m->owner_count;
    pthread_mutex_unlock(&gc->lock);
}

cairn_err grpc_cluster_open(const cairn_config *cfg, const char *run_dir, grpc_cluster **out,
                            char *node, cairn_status *st)
{
    *out = NULL;
    cairn_cluster_config *cc = calloc(1, sizeof *cc);
    if (!cc)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (cairn_cluster_config_load(cfg, cc, st) != CAIRN_OK || cc->count == 0) {
        cairn_err err = cc->count == 0 && st->code == CAIRN_OK ? CAIRN_OK : st->code;
        free(cc);
        return err;
    }
    grpc_cluster *gc = calloc(1, sizeof *gc);
    if (!gc) {
        free(cc);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    snprintf(gc->self, sizeof gc->self, "%s", cc->members[cc->self].id);
    free(cc);
    cairn_grpc_member_node(gc->self, node);
    gc->timeout_ms = (int)cairn_config_int(cfg, "cluster.forward_timeout_ms");
    pthread_mutex_init(&gc->lock, NULL);
    char url[PATH_MAX + 64];
    if (cairn_endpoint_url(run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url) != 0) {
        grpc_cluster_close(gc);
        return cairn_fail(st, CAIRN_E_INVALID, "run directory path too long");
    }
    if (!(gc->replicator = cairn_rpc_client_open(url, "replicator",
                                                 gc->timeout_ms + LOCAL_SLACK_MS, st)) ||
        !(gc->follower = cairn_members_follow_start(run_dir, keep, gc, st))) {
        grpc_cluster_close(gc);
        return st->code;
    }
    *out = gc;
    return CAIRN_OK;
}

void grpc_cluster_close(grpc_cluster *gc)
{
    if (!gc)
        return;
    cairn_members_follow_stop(gc->follower);
    if (gc->replicator)
        cairn_rpc_client_close(gc->replicator);
    pthread_mutex_destroy(&gc->lock);
    free(gc->owner_ids);
    free(gc);
}

bool grpc_cluster_peer_owner(grpc_cluster *gc, const char *grouped, char *owner)
{
    bool peer = false;
    pthread_mutex_lock(&gc->lock);
    if (gc->owner_count > 0) {
        uint32_t k = cairn_distro_index(grouped, strlen(grouped), gc->owner_count);
        const char *id = gc->owner_ids;
        for (uint32_t i = 0; i < k; i++)
            id += strlen(id) + 1;
        peer = strcmp(id, gc->self) != 0;
        if (peer)
            snprintf(owner, CAIRN_CLUSTER_ID_MAX, "%s", id);
    }
    pthread_mutex_unlock(&gc->lock);
    return peer;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cairn_err grpc_cluster_wrap(grpc_cluster *gc, cairn_request *req, const char *owner,
                            cairn_status *st)
{
    cairn_request fw;
    if (cairn_request_forward(&fw, req, owner, mono_ms() + gc->timeout_ms, st) != CAIRN_OK)
        return st->code;
    cairn_request_free(req);
    *req = fw;
    return CAIRN_OK;
}

cairn_rpc_client *grpc_cluster_replicator(grpc_cluster *gc)
{
    return gc->replicator;
}
