/* Beats (§2.7), answered on the rpc workers. A known ephemeral instance gets its last beat
 * refreshed, and is made healthy again when the sweep had marked it unhealthy (unless its health
 * was set by hand). An instance the table does not know yet is looked up in the registry first —
 * it may have been registered a moment ago, before its change event arrived — so that a fresh
 * registration is never answered 20404. Only an instance the registry lacks is re-registered from
 * the beat body, or answered 20404 without one. */
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "cairn_requests.h"
#include "healthcheck.h"

typedef struct beat_outcome {
    bool revive;          /* send INSTANCE_HEALTH healthy=true */
    int64_t interval_ms;  /* clientBeatInterval */
} beat_outcome;

/* With the table locked: the beat of a tracked instance. */
static void beat_tracked(hc_instance *e, int64_t now, beat_outcome *out)
{
    out->interval_ms = e->beat_interval_ms;
    if (!e->ephemeral)
        return; /* persistent instances are probed, not beaten (§2.7 step 6) */
    e->last_beat_ms = now;
    if (!e->healthy && !e->marked && !e->write_pending) {
        e->write_pending = true;
        out->revive = true;
    }
}

static hc_instance *find_either(hc_table *t, const char *ns, const char *svc, const char *cluster,
                                const cairn_instance *sel)
{
    hc_instance *e = hc_table_find(t, ns, svc, true, cluster, sel->ip, sel->port);
    return e ? e : hc_table_find(t, ns, svc, false, cluster, sel->ip, sel->port);
}

static void revive(healthcheck *hc, const char *ns, const char *svc, const char *cluster,
                   const cairn_instance *sel)
{
    cairn_status st;
    cairn_err err = hc_call_set_health(hc, ns, svc, cluster, sel->ip, sel->port, true, true, &st);
    hc_table_lock(&hc->table);
    hc_instance *e = hc_table_find(&hc->table, ns, svc, true, cluster, sel->ip, sel->port);
    if (e) {
        e->write_pending = false;
        if (err == CAIRN_OK)
            e->healthy = true;
    }
    hc_table_unlock(&hc->table);
    if (err == CAIRN_OK) {
        hc_count(hc->metrics.flips_healthy, 1);
        log_info("%s %s %s:%d healthy again: it beats", ns, svc, sel->ip, (int)sel->port);
    } else {
        /* The beat itself is recorded; the next one tries again. */
        log_warn("cannot mark %s %s %s:%d healthy: %s", ns, svc, sel->ip, (int)sel->port,
                 st.message);
    }
}

/* INSTANCE_GET. *found false with CAIRN_OK when the registry has no such instance. */
static cairn_err registry_lookup(healthcheck *hc, const cairn_request *req, const char *ns,
                                 const char *cluster, cairn_instance *out, bool *found,
                                 cairn_status *st)
{
    *found = false;
    cairn_request rq;
    if (cairn_request_instance_get(&rq, ns, req->service, req->instance.ip, req->instance.port,
                                   cluster, st)) {
        cairn_request_free(&rq);
        return st->code;
    }
    cairn_reply rep;
    cairn_err err = hc_call(hc, &rq, &rep, st);
    cairn_request_free(&rq);
    if (err == CAIRN_OK && rep.has_instance) {
        *out = rep.instance; /* taken over */
        cairn_instance_init(&rep.instance);
        *found = true;
    } else if (err == CAIRN_OK || err == CAIRN_E_NOT_FOUND) {
        err = CAIRN_OK;
    }
    cairn_reply_free(&rep);
    return err;
}

/* The instance the beat body describes, in the beat's cluster, healthy and enabled (§2.7 step 4).
 * *out is valid (perhaps empty) in every case. */
static cairn_err body_instance(const cairn_request *req, const char *cluster, cairn_instance *out,
                               cairn_status *st)
{
    if (cairn_instance_copy(out, &req->instance) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    out->healthy = out->enabled = true;
    free(out->cluster);
    if (!(out->cluster = strdup(cluster)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    return CAIRN_OK;
}

/* Registers the instance the beat body describes; *in gets it as registered. */
static cairn_err register_from_body(healthcheck *hc, const cairn_request *req, const char *ns,
                                    const char *cluster, cairn_instance *in, cairn_status *st)
{
    cairn_instance body;
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_INSTANCE_UPSERT); /* in case the body cannot be built */
    cairn_err err = body_instance(req, cluster, &body, st);
    if (err == CAIRN_OK)
        err = cairn_request_instance_upsert(&rq, ns, req->service, &body, CAIRN_UPSERT_REGISTER,
                                            st);
    cairn_instance_free(&body); /* empty when taken over */
    if (err == CAIRN_OK) {
        cairn_reply rep;
        err = hc_call(hc, &rq, &rep, st);
        cairn_reply_free(&rep);
    }
    if (err == CAIRN_OK) {
        *in = rq.instance;
        cairn_instance_init(&rq.instance);
    }
    cairn_request_free(&rq);
    return err;
}

/* A beat for an instance the table does not know. */
static cairn_err beat_untracked(healthcheck *hc, const cairn_request *req, const char *ns,
                                const char *cluster, int64_t now, cairn_reply *rep,
                                beat_outcome *out, cairn_status *st)
{
    cairn_instance in;
    bool found;
    cairn_err err = registry_lookup(hc, req, ns, cluster, &in, &found, st);
    if (err != CAIRN_OK)
        return err;
    if (!found) {
        hc_count(hc->metrics.unknown_beats, 1);
        if (!req->has_body) {
            rep->beat_code = CAIRN_BEAT_CODE_NOT_FOUND;
            rep->beat_interval_ms = CAIRN_DEFAULT_BEAT_INTERVAL_MS;
            return CAIRN_OK;
        }
        if ((err = register_from_body(hc, req, ns, cluster, &in, st)) != CAIRN_OK)
            return err;
        log_info("%s %s %s:%d registered from its beat", ns, req->service, in.ip, (int)in.port);
    }
    out->interval_ms = cairn_metadata_millis(&in.metadata, CAIRN_META_BEAT_INTERVAL,
                                             CAIRN_DEFAULT_BEAT_INTERVAL_MS);
    if (in.ephemeral) {
        /* Track it now; its change event will reconcile the rest. */
        hc_table_lock(&hc->table);
        hc_instance *e = hc_table_track(&hc->table, ns, req->service, &in, now);
        if (e)
            beat_tracked(e, now, out);
        hc_table_unlock(&hc->table);
        if (!e)
            log_warn("cannot track %s %s %s:%d (out of memory)", ns, req->service, in.ip,
                     (int)in.port);
    }
    cairn_instance_free(&in);
    rep->beat_code = CAIRN_BEAT_CODE_OK;
    rep->beat_interval_ms = out->interval_ms;
    return CAIRN_OK;
}

static cairn_err check_beat(const cairn_request *req, cairn_status *st)
{
    if (!req->service || !*req->service)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'serviceName' is required.");
    if (!req->has_instance || !req->instance.ip || !*req->instance.ip)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'ip' is required.");
    const char *ns = req->namespace_id && *req->namespace_id ? req->namespace_id
                                                              : CAIRN_DEFAULT_NAMESPACE;
    const char *c = req->instance.cluster;
    if (cairn_check_length("namespaceId", ns, CAIRN_MAX_NAMESPACE_LEN, st) ||
        cairn_check_length("serviceName", req->service, CAIRN_MAX_SERVICE_LEN, st) ||
        cairn_check_length("ip", req->instance.ip, CAIRN_MAX_IP_LEN, st) ||
        cairn_check_length("clusterName", c && *c ? c : CAIRN_DEFAULT_CLUSTER,
                           CAIRN_MAX_CLUSTER_LEN, st))
        return st->code;
    return CAIRN_OK;
}

static cairn_err handle_beat(healthcheck *hc, const cairn_request *req, cairn_reply *rep,
                             cairn_status *st)
{
    if (check_beat(req, st) != CAIRN_OK)
        return st->code;
    const char *ns = req->namespace_id && *req->namespace_id ? req->namespace_id
                                                              : CAIRN_DEFAULT_NAMESPACE;
    const char *cluster = cairn_cluster_or_default(req->instance.cluster);
    int64_t now = hc_now_ms();
    beat_outcome out = {false, CAIRN_DEFAULT_BEAT_INTERVAL_MS};

    hc_table_lock(&hc->table);
    hc_instance *e = find_either(&hc->table, ns, req->service, cluster, &req->instance);
    if (e)
        beat_tracked(e, now, &out);
    hc_table_unlock(&hc->table);

    cairn_err err = CAIRN_OK;
    if (e) {
        rep->beat_code = CAIRN_BEAT_CODE_OK;
        rep->beat_interval_ms = out.interval_ms;
    } else {
        err = beat_untracked(hc, req, ns, cluster, now, rep, &out, st);
    }
    if (err == CAIRN_OK && out.revive)
        revive(hc, ns, req->service, cluster, &req->instance);
    return err;
}

void hc_handle_request(void *arg, const cairn_request *req, cairn_reply *rep)
{
    healthcheck *hc = arg;
    cairn_status st;
    cairn_status_clear(&st);
    cairn_err err;
    if (req->type == CAIRN_MSG_BEAT)
        err = handle_beat(hc, req, rep, &st);
    else
        err = cairn_fail(&st, CAIRN_E_INVALID, "unsupported request type %d", (int)req->type);
    if (err != CAIRN_OK) {
        cairn_reply_free(rep);
        cairn_reply_init(rep);
        cairn_reply_set_status(rep, &st);
        return;
    }
    hc_count(hc->metrics.beats, 1);
}
