/* Beats answered without waiting for the healthcheck (gateway_beat_cache.h). */
#include "gateway_beat_cache.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_cluster_config.h"
#include "gateway_reply.h"
#include "gateway_route.h"

/* The cache key of a beat: its service as the registry names it in change events (so that an
 * event drops the service's answers), its cluster and "ip:port". */
typedef struct beat_key {
    cairn_body_cache_key k;
    char instance[CAIRN_MAX_IP_LEN + 8];
} beat_key;

static void beat_key_of(const cairn_request *rq, beat_key *bk)
{
    memset(bk, 0, sizeof *bk);
    const char *c = rq->instance.cluster;
    snprintf(bk->instance, sizeof bk->instance, "%s:%d", rq->instance.ip ? rq->instance.ip : "",
             (int)rq->instance.port);
    bk->k.namespace_id = rq->namespace_id && *rq->namespace_id ? rq->namespace_id
                                                                : CAIRN_DEFAULT_NAMESPACE;
    bk->k.service = rq->service;
    bk->k.clusters = cairn_cluster_or_default(c);
    bk->k.instance = bk->instance;
}

static bool answered_here(gateway *gw, const cairn_request *rq)
{
    char owner[CAIRN_CLUSTER_ID_MAX];
    return gw->beat_cache && rq->service &&
           gateway_route_write(gw, rq, owner, sizeof owner) == GATEWAY_PATH_LOCAL;
}

/* A beat sent on behind an answer: what its check needs. */
typedef struct beat_behind {
    gateway *gw;
    int64_t interval_ms; /* the clientBeatInterval the answer gave; -1: not known */
} beat_behind;

/* The clientBeatInterval of an answer the gateway rendered (render_beat in gateway_beat.c);
 * -1 when it has none. */
static int64_t answer_interval(const char *body)
{
    static const char key[] = "\"clientBeatInterval\":";
    const char *at = strstr(body, key);
    if (!at)
        return -1;
    char *end;
    long long v = strtoll(at + sizeof key - 1, &end, 10);
    return end == at + sizeof key - 1 ? -1 : (int64_t)v;
}

/* The healthcheck's reply to a beat sent behind an answer. Anything but the answer given (a
 * 10200 with the same interval) means the answers kept may be wrong now (or the healthcheck is
 * not answering): none is used until beats have been answered afresh. */
static void beat_passed_on(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    (void)st;
    beat_behind *b = arg;
    gateway *gw = b->gw;
    int64_t interval = rep->beat_interval_ms > 0 ? rep->beat_interval_ms
                                                 : CAIRN_DEFAULT_BEAT_INTERVAL_MS;
    bool same = rc == CAIRN_OK && rep->code == CAIRN_OK &&
                (rep->beat_code == 0 || rep->beat_code == CAIRN_BEAT_CODE_OK) &&
                (b->interval_ms < 0 || interval == b->interval_ms);
    if (!same) {
        if (rc == CAIRN_E_UNAVAILABLE)
            gateway_metrics_healthcheck_unavailable(&gw->metrics);
        cairn_body_cache_flush(gw->beat_cache);
    }
    cairn_reply_free(rep);
    free(b);
    atomic_fetch_sub(&gw->beats_in_flight, 1);
}

bool gateway_beat_answer_known(gateway *gw, const cairn_request *rq, gateway_response *resp,
                               uint64_t *ticket)
{
    *ticket = 0;
    if (!answered_here(gw, rq))
        return false;
    beat_key bk;
    beat_key_of(rq, &bk);
    char *body = NULL;
    size_t len = 0;
    beat_behind *b = NULL;
    if (atomic_fetch_add(&gw->beats_in_flight, 1) < GATEWAY_BEATS_BEHIND_MAX &&
        (body = cairn_body_cache_get(gw->beat_cache, &bk.k, gateway_now_ms(), &len)) &&
        (b = malloc(sizeof *b))) {
        b->gw = gw;
        b->interval_ms = answer_interval(body);
        gateway_reply_json_text(resp, body, len);
        cairn_rpc_call_async(gw->beats, rq, beat_passed_on, b);
        return true;
    }
    free(body);
    atomic_fetch_sub(&gw->beats_in_flight, 1);
    /* Taken before the beat goes out the usual way, so that its answer is kept only when the
     * service has not changed meanwhile. */
    *ticket = cairn_body_cache_ticket(gw->beat_cache, bk.k.namespace_id, bk.k.service);
    return false;
}

void gateway_beat_remember(gateway *gw, const cairn_request *rq, uint64_t ticket, int beat_code,
                           const gateway_response *resp)
{
    if (ticket == 0 || beat_code != CAIRN_BEAT_CODE_OK || resp->status != 200 || !resp->body ||
        resp->len > GATEWAY_BEAT_ANSWER_MAX_BYTES)
        return;
    beat_key bk;
    beat_key_of(rq, &bk);
    /* Revision 0: the answer goes with the service's next change event, whichever it is. */
    cairn_body_cache_put(gw->beat_cache, &bk.k, ticket, 0, resp->body, resp->len,
                         gateway_now_ms());
}
