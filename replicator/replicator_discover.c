/* Learning a peer's advertised addresses (cluster-design §2.2 step 3): GET
 * /nacos/v1/ns/operator/servers from the member's HTTP address and read extendInfo.peerAddress
 * and raftAddress of the member's own entry (the one whose address is its identity). Blocking
 * HTTP, so it runs on a thread of its own, one lookup at a time, each bounded by a timeout; the
 * loop asks (repl_discover_request: a bit per member) and gets the answer posted back.
 *
 * With auth.enabled the endpoint needs a user: each lookup carries a short-lived token of
 * CAIRN_AUTH_MEMBER (cairn_auth.h) signed with auth.token_secret_file, which every member must
 * share anyway for a client's token to be good on each of them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_auth.h"
#include "cairn_clock.h"
#include "cairn_http_get.h"
#include "cairn_log.h"
#include "replicator.h"

#define DISCOVER_TIMEOUT_MS 1000
#define DISCOVER_TOKEN_TTL_S 60

typedef struct repl_discover {
    replicator *r;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool wanted[CAIRN_CLUSTER_MAX_MEMBERS];
    cairn_auth_secret secret; /* auth.enabled: signs each lookup's token; else empty */
} repl_discover;

/* Reads member id's own entry from an operator/servers body. */
static bool parse_servers(const char *body, const char *id, char *peer, char *raft, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loads(body, 0, &jerr);
    json_t *servers = root ? json_object_get(root, "servers") : NULL;
    bool found = false;
    size_t i;
    json_t *s;
    json_array_foreach(servers, i, s) {
        const char *address = json_string_value(json_object_get(s, "address"));
        json_t *ext = json_object_get(s, "extendInfo");
        const char *p = json_string_value(json_object_get(ext, "peerAddress"));
        const char *rf = json_string_value(json_object_get(ext, "raftAddress"));
        if (address && strcmp(address, id) == 0 && p && *p) {
            snprintf(peer, len, "%s", p);
            snprintf(raft, len, "%s", rf ? rf : "");
            found = true;
            break;
        }
    }
    json_decref(root);
    return found;
}

static void lookup(repl_discover *d, size_t idx)
{
    const char *id = d->r->cfg.members[idx].id;
    char path[64 + CAIRN_AUTH_TOKEN_MAX] = "/nacos/v1/ns/operator/servers";
    char token[CAIRN_AUTH_TOKEN_MAX];
    if (d->secret.bytes &&
        cairn_auth_token_create(&d->secret, CAIRN_AUTH_MEMBER,
                                (int64_t)time(NULL) + DISCOVER_TOKEN_TTL_S, token, sizeof token))
        snprintf(path, sizeof path, "/nacos/v1/ns/operator/servers?accessToken=%s", token);
    cairn_http_response resp;
    char err[256];
    if (cairn_http_get(id, path, DISCOVER_TIMEOUT_MS, &resp, err, sizeof err) != 0) {
        log_debug("peer %s: no address lookup: %s", id, err);
        return;
    }
    char peer[CAIRN_PEER_ID_MAX], raft[CAIRN_PEER_ID_MAX];
    if (resp.status == 200 && parse_servers(resp.body, id, peer, raft, sizeof peer))
        repl_loop_learned(d->r, idx, peer, raft);
    else
        log_debug("peer %s: operator/servers (%d) names no peer address for it", id,
                  resp.status);
    cairn_http_response_free(&resp);
}

static void *discover_main(void *arg)
{
    repl_discover *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stop) {
        size_t idx = CAIRN_CLUSTER_MAX_MEMBERS;
        for (size_t i = 0; i < CAIRN_CLUSTER_MAX_MEMBERS && idx == CAIRN_CLUSTER_MAX_MEMBERS; i++)
            if (d->wanted[i])
                idx = i;
        if (idx == CAIRN_CLUSTER_MAX_MEMBERS) {
            pthread_cond_wait(&d->cond, &d->lock);
            continue;
        }
        d->wanted[idx] = false;
        pthread_mutex_unlock(&d->lock);
        lookup(d, idx);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

cairn_err repl_discover_start(replicator *r, cairn_status *st)
{
    repl_discover *d = calloc(1, sizeof *d);
    if (!d)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    d->r = r;
    const cairn_config *cfg = r->role->config;
    cairn_status sst;
    if (cairn_config_bool(cfg, "auth.enabled") &&
        cairn_auth_secret_load(cairn_config_string(cfg, "auth.token_secret_file"), &d->secret,
                               &sst) != CAIRN_OK)
        log_warn("address lookups go without a token (operator/servers will refuse them): %s",
                 sst.message);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    for (size_t i = 0; i < r->cfg.count; i++)
        d->wanted[i] = i != r->cfg.self; /* every peer once at start */
    if (pthread_create(&d->thread, NULL, discover_main, d) != 0) {
        cairn_auth_secret_free(&d->secret);
        free(d);
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the discovery thread");
    }
    r->discover = d;
    return CAIRN_OK;
}

void repl_discover_request(replicator *r, size_t idx)
{
    repl_discover *d = r->discover;
    if (!d || idx >= r->cfg.count || idx == r->cfg.self)
        return;
    pthread_mutex_lock(&d->lock);
    d->wanted[idx] = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

void repl_discover_stop(replicator *r)
{
    repl_discover *d = r->discover;
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL); /* at most one lookup's timeout */
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    cairn_auth_secret_free(&d->secret);
    free(d);
    r->discover = NULL;
}
