/* A dead member's gRPC instances leave the services this node owns (replicator_grpc_owners.h). */
#include "replicator_grpc_owners.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_grpc_owner.h"
#include "cairn_log.h"
#include "cairn_requests.h"
#include "replicator_sync.h"

struct repl_grpc_owners {
    bool pending[CAIRN_CLUSTER_MAX_MEMBERS]; /* by member index */
    bool busy;                               /* one drop in flight */
    cairn_counter *drops, *dropped, *failures;
};

typedef struct drop_outcome {
    replicator *r;
    size_t idx;
    bool ok;
    uint32_t total;
    char why[sizeof(((cairn_status *)0)->message)];
} drop_outcome;

static void send_next(replicator *r);

cairn_err repl_grpc_owners_open(replicator *r, cairn_status *st)
{
    struct repl_grpc_owners *g = calloc(1, sizeof *g);
    if (!g)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    cairn_metrics *reg = r->role->metrics;
    g->drops = cairn_metrics_counter(reg, "grpc_member_drops_total",
                                     "Dead members whose gRPC instances left the services this "
                                     "node owns.",
                                     NULL);
    g->dropped = cairn_metrics_counter(reg, "grpc_member_dropped_instances_total",
                                       "gRPC instances of dead members removed here.", NULL);
    g->failures = cairn_metrics_counter(reg, "grpc_member_drop_failures_total",
                                        "Drops of a dead member's gRPC instances the registry "
                                        "did not acknowledge (retried).",
                                        NULL);
    r->grpc_owners = g;
    return CAIRN_OK;
}

void repl_grpc_owners_free(replicator *r)
{
    free(r->grpc_owners);
    r->grpc_owners = NULL;
}

/* Loop thread: the registry's answer. */
static void outcome_on_loop(replicator *r, void *arg)
{
    drop_outcome *o = arg;
    struct repl_grpc_owners *g = r->grpc_owners;
    if (!r->closed && g) {
        g->busy = false;
        const char *id = r->members.m[o->idx].id;
        if (o->ok) {
            g->pending[o->idx] = false;
            cairn_counter_inc(g->drops);
            cairn_counter_add(g->dropped, o->total);
            log_info("member %s is down: %u of its gRPC instances removed here", id, o->total);
        } else {
            cairn_counter_inc(g->failures);
            log_warn("removing the gRPC instances of %s failed, retrying: %s", id, o->why);
        }
        send_next(r);
    }
    free(o);
}

/* nng thread. */
static void on_dropped(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    drop_outcome *o = arg;
    o->ok = rc == CAIRN_OK && rep->code == CAIRN_OK;
    o->total = rep->total;
    snprintf(o->why, sizeof o->why, "%s",
             rc != CAIRN_OK ? st->message : rep->message ? rep->message : "registry error");
    replicator_post(o->r, outcome_on_loop, o);
}

static void send_next(replicator *r)
{
    struct repl_grpc_owners *g = r->grpc_owners;
    repl_members *ms = &r->members;
    if (!g || g->busy || r->stopping || r->closed)
        return;
    for (size_t i = 0; i < ms->count; i++) {
        if (!g->pending[i])
            continue;
        if (ms->m[i].state != CAIRN_MEMBER_DOWN) { /* back meanwhile: its instances stand */
            g->pending[i] = false;
            continue;
        }
        const char *owners[CAIRN_CLUSTER_MAX_MEMBERS];
        for (size_t k = 0; k < ms->owner_count; k++)
            owners[k] = ms->m[ms->owners[k]].id;
        char prefix[CAIRN_GRPC_NODE_MAX + 8];
        cairn_grpc_member_prefix(ms->m[i].id, prefix, sizeof prefix);
        cairn_request rq;
        cairn_status st;
        drop_outcome *o = calloc(1, sizeof *o);
        if (!o)
            return; /* the next tick tries again */
        o->r = r;
        o->idx = i;
        if (cairn_request_owner_drop_owned(&rq, prefix, CAIRN_OWNER_PREFIX, owners,
                                           (uint32_t)ms->owner_count, ms->m[ms->self].id,
                                           &st) != CAIRN_OK) {
            free(o);
            return;
        }
        g->busy = true;
        cairn_rpc_call_async(repl_sync_registry(r), &rq, on_dropped, o);
        cairn_request_free(&rq);
        return;
    }
}

void repl_grpc_owners_member_down(replicator *r, size_t idx)
{
    struct repl_grpc_owners *g = r->grpc_owners;
    if (!g || idx == r->members.self || idx >= r->members.count)
        return;
    g->pending[idx] = true;
    send_next(r);
}

void repl_grpc_owners_tick(replicator *r)
{
    send_next(r);
}
