/* PUT / DELETE /instance/metadata/batch (§2.8): set or remove metadata keys on many instances of
 * one service.
 *
 * The job reads the service from the local registry (SERVICE_GET), picks the instances the
 * request names the way Nacos 1.4.8 locates them, and sends one INSTANCE_PATCH per instance with
 * CAIRN_PATCH_METADATA_PUT or _DELETE and CAIRN_PATCH_KIND, each on its kind's path
 * (gateway_write_step.h: raft for a persistent instance in a cluster, the Distro owner for an
 * ephemeral one). The store merges the keys into the metadata it holds when it applies the
 * patch, so a write that lands between the read and the patch is not undone. The answer lists
 * the instances whose patch succeeded, `{"updated":["ip:port:unknown:cluster:ephemeral",...]}`;
 * like Nacos, a request that locates nothing (no such service, no match, a malformed `instances`,
 * an unknown `consistencyType`) answers an empty list. When nothing succeeded because a role was
 * unavailable, the answer is that 503 instead, since the keys may then still be unset.
 *
 * Threads: the handler runs on an HTTP thread; the job continues on nng threads, its patches'
 * completions possibly on several at once (pending counts them down). */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_model.h"
#include "cairn_requests.h"
#include "cairn_write_rules.h"
#include "gateway_handlers.h"
#include "gateway_reply.h"
#include "gateway_write_step.h"

/* One instance of the `instances` parameter: a JSON object with ip, port, ephemeral and
 * clusterName (Nacos' Instance; other fields are ignored). */
typedef struct batch_target {
    const char *ip;      /* NULL: locates nothing */
    int32_t port;        /* 0 when absent */
    bool ephemeral;      /* true when absent */
    const char *cluster; /* DEFAULT when absent or blank */
} batch_target;

typedef struct batch_job batch_job;

/* Which instances the request names. */
typedef enum batch_scope {
    BATCH_NOTHING, /* an unknown consistencyType, a missing or malformed instances list */
    BATCH_BY_KIND, /* consistencyType: every instance of one kind */
    BATCH_BY_LIST, /* instances: the first match of each target */
} batch_scope;

/* `ip:port:unknown:cluster:ephemeral` at its longest */
#define UPDATED_KEY_MAX (CAIRN_MAX_IP_LEN + CAIRN_MAX_CLUSTER_LEN + 40)

typedef struct batch_patch {
    batch_job *job;
    gateway_write_step step;
    bool ok;
    char updated[UPDATED_KEY_MAX]; /* the answer's entry for this instance */
} batch_patch;

struct batch_job {
    gateway *gw;
    gateway_deferred *deferred;
    uint32_t mask; /* CAIRN_PATCH_METADATA_PUT or _DELETE, and CAIRN_PATCH_KIND */
    cairn_metadata metadata;
    batch_scope scope;
    bool kind_ephemeral;   /* BATCH_BY_KIND: the kind */
    json_t *targets_json;  /* BATCH_BY_LIST: owns the strings of targets */
    batch_target *targets;
    size_t target_count;
    cairn_request lookup;
    batch_patch *patches;
    uint32_t patch_count;
    atomic_uint pending;
    atomic_bool unavailable; /* set by the first patch that found a role unavailable, */
    cairn_status failure;    /* which keeps its status here */
};

static void job_free(batch_job *job)
{
    for (uint32_t i = 0; i < job->patch_count; i++)
        cairn_request_free(&job->patches[i].step.rq);
    free(job->patches);
    cairn_request_free(&job->lookup);
    cairn_metadata_free(&job->metadata);
    json_decref(job->targets_json);
    free(job->targets);
    free(job);
}

static void answer_updated(batch_job *job)
{
    gateway_response resp = {0};
    json_t *updated = json_array();
    for (uint32_t i = 0; updated && i < job->patch_count; i++)
        if (job->patches[i].ok)
            json_array_append_new(updated, json_string(job->patches[i].updated));
    if (updated && json_array_size(updated) == 0 && atomic_load(&job->unavailable)) {
        json_decref(updated);
        gateway_reply_error(&resp, &job->failure);
    } else
        gateway_reply_json(&resp, json_pack("{s:o*}", "updated", updated));
    gateway_deferred_answer(job->deferred, &resp);
    job_free(job);
}

/* One patch is over; the last one answers (every other is done with the job by then). */
static void settle(batch_patch *p, cairn_err rc, const cairn_status *st)
{
    batch_job *job = p->job;
    p->ok = rc == CAIRN_OK;
    if (rc == CAIRN_E_UNAVAILABLE && !atomic_exchange(&job->unavailable, true))
        job->failure = *st;
    if (atomic_fetch_sub_explicit(&job->pending, 1, memory_order_acq_rel) == 1)
        answer_updated(job);
}

static void patched(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    batch_patch *p = arg;
    settle(p, gateway_write_step_outcome(p->job->gw, &p->step, rc, rep, st), st);
}

/* Nacos' locateInstance: the stored instance equals the target (same ip, same port or a stored
 * port of 0, the same kind) in the same cluster. */
static bool located_by(const cairn_instance *in, const batch_target *t)
{
    return t->ip && in->ip && in->ephemeral == t->ephemeral && strcmp(in->ip, t->ip) == 0 &&
           (in->port == t->port || in->port == 0) && strcmp(cairn_cluster_or_default(in->cluster), t->cluster) == 0;
}

static cairn_err add_patch(batch_job *job, const cairn_instance *in, cairn_status *st)
{
    batch_patch *p = &job->patches[job->patch_count];
    cairn_instance sel;
    cairn_instance_init(&sel);
    sel.ip = strdup(in->ip);
    sel.cluster = strdup(cairn_cluster_or_default(in->cluster));
    sel.port = in->port;
    sel.ephemeral = in->ephemeral;
    if (!sel.ip || !sel.cluster || cairn_metadata_copy(&sel.metadata, &job->metadata)) {
        cairn_instance_free(&sel);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    if (cairn_request_instance_patch(&p->step.rq, job->lookup.namespace_id,
                                     job->lookup.service, &sel, job->mask, st))
        return st->code;
    cairn_instance_datum_key(p->updated, sizeof p->updated, in->ip, in->port, cairn_cluster_or_default(in->cluster));
    size_t used = strlen(p->updated);
    snprintf(p->updated + used, sizeof p->updated - used, ":%s",
             in->ephemeral ? "ephemeral" : "persist");
    p->job = job;
    job->patch_count++;
    return CAIRN_OK;
}

/* The patches, in Nacos' order: with consistencyType every instance of that kind; else the
 * persistent targets' instances, then the ephemeral ones', each target locating its first. */
static cairn_err plan_patches(batch_job *job, const cairn_service_snapshot *snap, cairn_status *st)
{
    size_t most = job->scope == BATCH_BY_LIST ? job->target_count : snap->instance_count;
    if (most == 0)
        return CAIRN_OK;
    if (!(job->patches = calloc(most, sizeof *job->patches)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (job->scope == BATCH_BY_KIND) {
        for (uint32_t i = 0; i < snap->instance_count; i++)
            if (snap->instances[i].ip && snap->instances[i].ephemeral == job->kind_ephemeral &&
                add_patch(job, &snap->instances[i], st))
                return st->code;
        return CAIRN_OK;
    }
    for (int ephemeral = 0; ephemeral <= 1; ephemeral++)
        for (size_t t = 0; t < job->target_count; t++) {
            if (job->targets[t].ephemeral != (bool)ephemeral)
                continue;
            for (uint32_t i = 0; i < snap->instance_count; i++)
                if (located_by(&snap->instances[i], &job->targets[t])) {
                    if (add_patch(job, &snap->instances[i], st))
                        return st->code;
                    break;
                }
        }
    return CAIRN_OK;
}

static void looked_up(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    batch_job *job = arg;
    rc = gateway_call_outcome(job->gw, job->gw->registry, &job->lookup, rc, rep, st);
    if (rc == CAIRN_E_UNAVAILABLE || rc == CAIRN_E_NOMEM || rc == CAIRN_E_INTERNAL) {
        gateway_response resp = {0};
        gateway_reply_error(&resp, st);
        gateway_deferred_answer(job->deferred, &resp);
        job_free(job);
        return;
    }
    /* Nacos swallows a missing service like any other failure to locate: an empty answer. */
    if (rc == CAIRN_OK && rep->has_snapshot && rep->snapshot.found &&
        plan_patches(job, &rep->snapshot, st) != CAIRN_OK) {
        gateway_response resp = {0};
        gateway_reply_error(&resp, st);
        gateway_deferred_answer(job->deferred, &resp);
        job_free(job);
        return;
    }
    if (job->patch_count == 0) {
        answer_updated(job);
        return;
    }
    atomic_store(&job->pending, job->patch_count);
    uint32_t count = job->patch_count; /* the job may be gone once the last patch is sent */
    for (uint32_t i = 0; i < count; i++) {
        batch_patch *p = &job->patches[i];
        if (gateway_write_step_send(job->gw, &p->step, patched, p, st) != CAIRN_OK)
            settle(p, st->code, st);
    }
}

/* A JSON boolean, or the text "true" / "false" (Jackson's coercion of a scalar). */
static bool json_flag(const json_t *v, bool dflt, bool *ok)
{
    if (!v || json_is_null(v))
        return dflt;
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v) && (!strcmp(json_string_value(v), "true") ||
                              !strcmp(json_string_value(v), "false")))
        return !strcmp(json_string_value(v), "true");
    *ok = false;
    return dflt;
}

/* An integer, or a decimal text (Jackson's coercion). */
static int32_t json_port(const json_t *v, bool *ok)
{
    cairn_status st;
    int32_t port = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
        json_integer_value(v) <= INT32_MAX)
        return (int32_t)json_integer_value(v);
    if (json_is_string(v) && cairn_parse_java_int(json_string_value(v), &port, &st) == CAIRN_OK)
        return port;
    *ok = false;
    return 0;
}

/* The `instances` parameter; a malformed list locates nothing (Nacos logs and ignores it). */
static batch_scope parse_targets(batch_job *job, const char *text)
{
    json_t *arr = job->targets_json = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_array(arr))
        return BATCH_NOTHING;
    size_t n = json_array_size(arr);
    if (n > 0 && !(job->targets = calloc(n, sizeof *job->targets)))
        return BATCH_NOTHING;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        const json_t *ip = json_object_get(o, "ip"), *cl = json_object_get(o, "clusterName");
        if (!json_is_object(o) || (ip && !json_is_string(ip) && !json_is_null(ip)) ||
            (cl && !json_is_string(cl) && !json_is_null(cl)))
            return BATCH_NOTHING;
        batch_target *t = &job->targets[i];
        t->ip = json_is_string(ip) ? json_string_value(ip) : NULL;
        t->port = json_port(json_object_get(o, "port"), &ok);
        t->ephemeral = json_flag(json_object_get(o, "ephemeral"), true, &ok);
        const char *c = json_is_string(cl) ? json_string_value(cl) : "";
        t->cluster = c[strspn(c, " \t\r\n")] ? c : CAIRN_DEFAULT_CLUSTER;
    }
    job->target_count = n;
    return ok ? BATCH_BY_LIST : BATCH_NOTHING;
}

static void metadata_batch(gateway *gw, gateway_request *req, gateway_response *resp,
                           bool removing)
{
    cairn_status st;
    cairn_status_clear(&st);
    const char *ns, *svc, *md;
    if (gateway_param_namespace(req->params, &ns, &st) ||
        gateway_param_service(req->params, false, "Param 'serviceName' is required.", &svc,
                              &st)) {
        gateway_reply_error(resp, &st);
        return;
    }
    batch_job *job = calloc(1, sizeof *job);
    if (!job) {
        cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        gateway_reply_error(resp, &st);
        return;
    }
    job->gw = gw;
    job->mask = (removing ? CAIRN_PATCH_METADATA_DELETE : CAIRN_PATCH_METADATA_PUT) |
                CAIRN_PATCH_KIND;
    cairn_request_init(&job->lookup, CAIRN_MSG_SERVICE_GET);
    const char *type = gateway_params_get(req->params, "consistencyType");
    const char *instances = gateway_params_get(req->params, "instances");
    if (type && *type) {
        job->kind_ephemeral = !strcmp(type, "ephemeral");
        job->scope = job->kind_ephemeral || !strcmp(type, "persist") ? BATCH_BY_KIND
                                                                      : BATCH_NOTHING;
    } else if (instances && *instances)
        job->scope = parse_targets(job, instances);
    if (!(md = gateway_param_required(req->params, "metadata", &st)) ||
        cairn_parse_metadata(md, gw->max_metadata_bytes, &job->metadata, &st) ||
        cairn_request_service_get(&job->lookup, ns, svc, &st)) {
        job_free(job);
        gateway_reply_error(resp, &st);
        return;
    }
    if (job->scope == BATCH_NOTHING || cairn_check_grouped_format(svc, &st) != CAIRN_OK) {
        job_free(job);
        gateway_reply_json(resp, json_pack("{s:[]}", "updated"));
        return;
    }
    job->deferred = gateway_request_defer(req);
    cairn_rpc_call_async(gw->registry, &job->lookup, looked_up, job);
}

void gateway_instance_metadata_put(gateway *gw, gateway_request *req, gateway_response *resp)
{
    metadata_batch(gw, req, resp, false);
}

void gateway_instance_metadata_delete(gateway *gw, gateway_request *req, gateway_response *resp)
{
    metadata_batch(gw, req, resp, true);
}
