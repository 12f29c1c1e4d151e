/* What each Nacos 2.x message means (spec §2.3–2.4, §3): the unary handlers, in Nacos' order of
 * checks, and the bi-stream's setup and acks. Application errors are ErrorResponses with
 * grpc-status 0 (§1.5); only a message that is no Payload gets a gRPC status. Loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "cairn_render.h"
#include "cairn_requests.h"
#include "grpc.h"
#include "grpc_auth.h"
#include "grpc_calls.h"

enum { GRPC_STATUS_INTERNAL = 13 };

typedef void (*handler_fn)(grpc_stream *st, const char *type, const json_t *body);

static void reply_ok(grpc_stream *st, const char *type, const char *resp_type, json_t *extra)
{
    char *json = grpc_json_ok(extra);
    grpc_stream_reply(st, resp_type, json);
    free(json);
    grpc_metrics_request(&st->conn->srv->metrics, type, true);
}

static void reply_error(grpc_stream *st, const char *type, int result, int code, const char *msg)
{
    char *json = grpc_json_error(result, code, msg);
    grpc_stream_reply(st, "ErrorResponse", json);
    free(json);
    grpc_metrics_request(&st->conn->srv->metrics, type, false);
}

/* A registry failure as an ErrorResponse: a refused request is the client's 400 (as Nacos'
 * NacosException(INVALID_PARAM)); a registry that does not answer is a 500, never a 301. */
static void reply_failed_call(grpc_stream *st, struct grpc_call *call)
{
    if (call->rc != CAIRN_OK) {
        cairn_counter_inc(st->conn->srv->metrics.registry_errors);
        reply_error(st, call->type_name, 500, 500, call->st.message);
        return;
    }
    const char *msg = call->rep.message && *call->rep.message ? call->rep.message : "failed";
    bool client = call->rep.code == CAIRN_E_INVALID || call->rep.code == CAIRN_E_LIMIT ||
                  call->rep.code == CAIRN_E_NOT_FOUND;
    if (!client)
        cairn_counter_inc(st->conn->srv->metrics.registry_errors);
    reply_error(st, call->type_name, client ? 400 : 500, client ? 400 : 500, msg);
}

/* The stream a finished call answers, or NULL (its connection or stream went meanwhile). */
static grpc_stream *call_stream(grpc_server *s, struct grpc_call *call, grpc_conn **conn)
{
    grpc_conn *c = grpc_conn_find(s, call->conn_serial);
    *conn = c;
    if (!c || c->closed)
        return NULL;
    return grpc_stream_find(c, call->stream_id);
}

/* A call on behalf of stream st, answered by done. */
static struct grpc_call *call_for(grpc_stream *st, const char *type, grpc_call_fn done)
{
    struct grpc_call *call = grpc_call_new(st->conn->srv, done);
    if (!call)
        return NULL;
    call->conn_serial = st->conn->serial;
    call->stream_id = st->id;
    call->type_name = type;
    return call;
}

/* Starts call, or answers the stream when building it failed. */
static void launch(grpc_stream *st, const char *type, struct grpc_call *call, cairn_err built,
                   const cairn_status *bst, bool write)
{
    if (!call || built != CAIRN_OK) {
        reply_error(st, type, 500, 500, call ? bst->message : "out of memory");
        grpc_call_free(call);
        return;
    }
    if (write)
        grpc_call_write(st->conn, call);
    else
        grpc_call_start(call);
}

/* ---- connection messages --------------------------------------------------------------------- */

static void server_check(grpc_stream *st, const char *type, const json_t *body)
{
    reply_ok(st, type, "ServerCheckResponse",
             json_pack("{s:s, s:b}", "connectionId", st->conn->id, "supportAbilityNegotiation", 0));
}

static void health_check(grpc_stream *st, const char *type, const json_t *body)
{
    reply_ok(st, type, "HealthCheckResponse", NULL);
}

/* ---- writes: the connection's instances, persistent instances -------------------------------- */

/* After a write: drop the service's cached answers older than it before the client hears back,
 * so that its next query shows the write whatever the change event's timing. An unknown outcome
 * (it may have been applied) drops all of them; a refused write changed nothing. */
static void invalidate_after_write(grpc_server *s, const struct grpc_call *call)
{
    /* a write through raft is answered without the registry's revision: all of them go */
    if (call->rc != CAIRN_OK || (call->persistent && s->cluster))
        grpc_query_cache_changed(s, call->ref.ns, call->ref.grouped, UINT64_MAX);
    else if (call->rep.code == CAIRN_OK && call->rep.revision > 0)
        grpc_query_cache_changed(s, call->ref.ns, call->ref.grouped, call->rep.revision);
}

static void write_done(grpc_server *s, struct grpc_call *call)
{
    invalidate_after_write(s, call);
    grpc_conn *c;
    grpc_stream *st = call_stream(s, call, &c);
    if (st) {
        if (call->rc == CAIRN_OK && call->rep.code == CAIRN_OK)
            reply_ok(st, call->type_name, call->resp_type, json_pack("{s:s}", "type", call->op));
        else
            reply_failed_call(st, call);
        grpc_conn_flush(c);
    }
    grpc_call_free(call);
}

/* INSTANCE_SET_OWNED of the connection's share of the service: instances[n] (taken over). */
static void set_owned(grpc_stream *st, const char *type, const char *resp_type, const char *op,
                      const grpc_service_ref *ref, cairn_instance *instances, uint32_t n)
{
    struct grpc_call *call = call_for(st, type, write_done);
    cairn_status bst;
    cairn_err built = CAIRN_E_NOMEM;
    if (call) {
        call->resp_type = (char *)resp_type;
        call->op = (char *)op;
        call->ref = *ref;
        built = cairn_request_instance_set_owned(&call->req, ref->ns, ref->grouped,
                                                 st->conn->owner, instances, n, &bst);
        call->routed = true;
        st->conn->owns = st->conn->srv->any_owned = true;
        if (built == CAIRN_OK && st->conn->srv->cluster &&
            grpc_conn_note_service(st->conn, ref->ns, ref->grouped, call->req.instances,
                                   call->req.instance_count) != 0)
            built = cairn_fail(&bst, CAIRN_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++)
        cairn_instance_free(&instances[i]);
    launch(st, type, call, built, &bst, true);
}

static bool service_ref(grpc_stream *st, const char *type, const json_t *body,
                        grpc_service_ref *ref)
{
    cairn_status s;
    if (grpc_json_service_ref(body, ref, &s) == CAIRN_OK)
        return true;
    reply_error(st, type, 400, 400, s.message);
    return false;
}

/* The opening every write request shares: its `type` among ops, and the service. NULL (the
 * stream answered 400) when either is wrong. */
static const char *opening(grpc_stream *st, const char *type, const json_t *body,
                           const char *const *ops, grpc_service_ref *ref)
{
    const char *op = grpc_json_str(body, "type");
    size_t i = 0;
    while (op && ops[i] && strcmp(op, ops[i]) != 0)
        i++;
    if (!op || !ops[i]) {
        char msg[160];
        snprintf(msg, sizeof msg, "Unsupported request type %.100s", op ? op : "null");
        reply_error(st, type, 400, 400, msg);
        return NULL;
    }
    return service_ref(st, type, body, ref) ? ops[i] : NULL;
}

/* The instance object obj into *in; false (the stream answered 400, *in freed) when it is bad. */
static bool instance_of(grpc_stream *st, const char *type, const json_t *obj, cairn_instance *in)
{
    cairn_status s;
    if (grpc_json_instance(obj, in, &s) == CAIRN_OK)
        return true;
    cairn_instance_free(in);
    reply_error(st, type, 400, 400, s.message);
    return false;
}

static void instance_request(grpc_stream *st, const char *type, const json_t *body)
{
    static const char *const ops[] = {"registerInstance", "deregisterInstance", NULL};
    grpc_service_ref ref;
    const char *op = opening(st, type, body, ops, &ref);
    if (!op)
        return;
    cairn_instance in;
    cairn_instance_init(&in);
    bool reg = op == ops[0];
    if (reg && !instance_of(st, type, json_object_get(body, "instance"), &in))
        return;
    /* deregister removes what the connection has in the service, whatever ip and port say */
    set_owned(st, type, "InstanceResponse", op, &ref, &in, reg ? 1 : 0);
}

static void batch_request(grpc_stream *st, const char *type, const json_t *body)
{
    static const char *const ops[] = {"batchRegisterInstance", NULL};
    grpc_service_ref ref;
    const char *op = opening(st, type, body, ops, &ref);
    if (!op)
        return;
    const json_t *list = json_object_get(body, "instances");
    size_t n = json_is_array(list) ? json_array_size(list) : 0;
    cairn_instance *in = calloc(n ? n : 1, sizeof *in);
    if (!in) {
        reply_error(st, type, 500, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!instance_of(st, type, json_array_get(list, i), &in[i])) {
            for (size_t j = 0; j < i; j++)
                cairn_instance_free(&in[j]);
            free(in);
            return;
        }
    }
    set_owned(st, type, "BatchInstanceResponse", op, &ref, in, (uint32_t)n);
    free(in);
}

/* As a v1 register or deregister with ephemeral=false: owned by ip:port, kept over disconnects;
 * in a cluster through raft (grpc_cluster.h). */
static void persistent_request(grpc_stream *st, const char *type, const json_t *body)
{
    static const char *const ops[] = {"registerInstance", "deregisterInstance", NULL};
    grpc_service_ref ref;
    const char *op = opening(st, type, body, ops, &ref);
    cairn_instance in;
    if (!op || !instance_of(st, type, json_object_get(body, "instance"), &in))
        return;
    in.ephemeral = false;
    cairn_status s;
    struct grpc_call *call = call_for(st, type, write_done);
    cairn_err built = CAIRN_E_NOMEM;
    if (call) {
        call->resp_type = "InstanceResponse";
        call->op = (char *)op;
        call->ref = ref;
        call->persistent = true;
        built = op == ops[0]
                    ? cairn_request_instance_upsert(&call->req, ref.ns, ref.grouped, &in,
                                                    CAIRN_UPSERT_REGISTER, &s)
                    : cairn_request_instance_remove(&call->req, ref.ns, ref.grouped, in.ip,
                                                    in.port, in.cluster, false, &s);
    }
    cairn_instance_free(&in);
    launch(st, type, call, built, &s, true);
}

/* ---- reads --------------------------------------------------------------------------------- */

/* Answers st with a ServiceInfo text (QueryServiceResponse or SubscribeServiceResponse). */
static void reply_service_info(grpc_stream *st, const char *type, const char *resp_type,
                               const char *info)
{
    bool subscribe = strcmp(resp_type, "SubscribeServiceResponse") == 0;
    char *json = grpc_json_service_answer(subscribe, info);
    if (!json) {
        reply_error(st, type, 500, 500, "out of memory");
        return;
    }
    grpc_stream_reply(st, resp_type, json);
    free(json);
    grpc_metrics_request(&st->conn->srv->metrics, type, true);
}

static void query_done(grpc_server *s, struct grpc_call *call)
{
    grpc_conn *c;
    grpc_stream *st = call_stream(s, call, &c);
    bool ok = call->rc == CAIRN_OK && call->rep.code == CAIRN_OK;
    char *info = NULL;
    if (ok) {
        /* rendered and cached even when the stream went: the next query will want it */
        const cairn_service_snapshot *snap = &call->rep.snapshot;
        json_t *j = grpc_json_service_info(snap, &call->ref, call->clusters, call->healthy_only,
                                           grpc_push_ref_time(s));
        info = j ? json_dumps(j, CAIRN_JSON_FLAGS) : NULL;
        json_decref(j);
        if (info)
            grpc_query_cache_put(s, &call->ref, call->clusters, call->healthy_only, call->ticket,
                                 snap->found ? snap->service.revision : 0, info, strlen(info));
    }
    if (st) {
        if (!ok)
            reply_failed_call(st, call);
        else if (info)
            reply_service_info(st, call->type_name, call->resp_type, info);
        else
            reply_error(st, call->type_name, 500, 500, "out of memory");
        grpc_conn_flush(c);
    }
    free(info);
    grpc_call_free(call);
}

static void get_service(grpc_stream *st, const char *type, const char *resp_type,
                        const grpc_service_ref *ref, const char *clusters, bool healthy_only)
{
    grpc_server *s = st->conn->srv;
    clusters = clusters ? clusters : "";
    size_t len;
    char *cached = grpc_query_cache_get(s, ref, clusters, healthy_only, &len);
    if (cached) {
        reply_service_info(st, type, resp_type, cached);
        free(cached);
        return;
    }
    struct grpc_call *call = call_for(st, type, query_done);
    cairn_status bst;
    cairn_err built = CAIRN_E_NOMEM;
    if (call) {
        call->resp_type = (char *)resp_type;
        call->ref = *ref;
        call->healthy_only = healthy_only;
        /* taken before the registry is asked: a change seen after this voids the fill */
        call->ticket = grpc_query_cache_ticket(s, ref);
        call->clusters = strdup(clusters);
        built = call->clusters ? cairn_request_service_get(&call->req, ref->ns, ref->grouped, &bst)
                               : CAIRN_E_NOMEM;
        if (!call->clusters)
            cairn_fail(&bst, CAIRN_E_NOMEM, "out of memory");
    }
    launch(st, type, call, built, &bst, false);
}

static void query_request(grpc_stream *st, const char *type, const json_t *body)
{
    grpc_service_ref ref;
    if (service_ref(st, type, body, &ref))
        get_service(st, type, "QueryServiceResponse", &ref, grpc_json_str(body, "cluster"),
                    grpc_json_bool(body, "healthyOnly", false));
}

static void subscribe_request(grpc_stream *st, const char *type, const json_t *body)
{
    grpc_service_ref ref;
    if (!service_ref(st, type, body, &ref))
        return;
    const char *clusters = grpc_json_str(body, "clusters");
    if (grpc_push_subscribe(st->conn, &ref, clusters ? clusters : "",
                            grpc_json_bool(body, "subscribe", true)) != 0) {
        reply_error(st, type, 500, 500, "out of memory");
        return;
    }
    /* both answers carry the current list (SubscribeServiceRequestHandler) */
    get_service(st, type, "SubscribeServiceResponse", &ref, clusters, false);
}

static void list_done(grpc_server *s, struct grpc_call *call)
{
    grpc_conn *c;
    grpc_stream *st = call_stream(s, call, &c);
    if (st) {
        if (call->rc != CAIRN_OK || call->rep.code != CAIRN_OK) {
            reply_failed_call(st, call);
        } else {
            json_t *names = json_array();
            for (uint32_t i = 0; names && i < call->rep.name_count; i++) {
                const char *n = call->rep.names[i];
                const char *at = strstr(n, "@@");
                json_array_append_new(names, json_string(at ? at + 2 : n)); /* names bare */
            }
            reply_ok(st, call->type_name, "ServiceListResponse",
                     names ? json_pack("{s:i, s:o}", "count", (int)call->rep.total,
                                       "serviceNames", names)
                           : NULL);
        }
        grpc_conn_flush(c);
    }
    grpc_call_free(call);
}

static uint32_t json_u32(const json_t *body, const char *key, uint32_t dflt)
{
    const json_t *v = json_object_get(body, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return dflt;
    return json_integer_value(v) > UINT32_MAX ? UINT32_MAX : (uint32_t)json_integer_value(v);
}

static void list_request(grpc_stream *st, const char *type, const json_t *body)
{
    const char *ns = grpc_json_str(body, "namespace");
    const char *group = grpc_json_str(body, "groupName");
    struct grpc_call *call = call_for(st, type, list_done);
    cairn_status s;
    cairn_err built = CAIRN_E_NOMEM;
    if (call)
        built = cairn_request_service_list(&call->req, ns && *ns ? ns : "public",
                                           group && *group ? group : CAIRN_DEFAULT_GROUP,
                                           json_u32(body, "pageNo", 1),
                                           json_u32(body, "pageSize", 10), &s);
    launch(st, type, call, built, &s, false);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static const struct handler {
    const char *type;
    handler_fn fn;
} handlers[] = {
    {"ServerCheckRequest", server_check},
    {"HealthCheckRequest", health_check},
    {"InstanceRequest", instance_request},
    {"BatchInstanceRequest", batch_request},
    {"PersistentInstanceRequest", persistent_request},
    {"ServiceQueryRequest", query_request},
    {"SubscribeServiceRequest", subscribe_request},
    {"ServiceListRequest", list_request},
};

static const struct handler *handler_of(const char *type)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(type, handlers[i].type) == 0)
            return &handlers[i];
    return NULL;
}

/* The body as a JSON object, or NULL. */
static json_t *parse_body(const grpc_payload *p)
{
    json_error_t err;
    json_t *j = json_loadb(p->body, p->body_len, 0, &err);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

void grpc_naming_unary(grpc_stream *st, const uint8_t *msg, size_t len)
{
    grpc_metrics *gm = &st->conn->srv->metrics;
    grpc_payload p;
    if (grpc_payload_decode(msg, len, &p) != 0) {
        cairn_counter_inc(gm->bad_protobuf);
        grpc_stream_status(st, GRPC_STATUS_INTERNAL, "not a Payload");
        return;
    }
    const struct handler *h = handler_of(p.type);
    const char *type = h ? h->type : "other"; /* static: calls keep it */
    switch (grpc_admit(h != NULL, h && h->fn == server_check, st->conn->setup)) {
    case GRPC_REFUSE_NO_HANDLER:
        reply_error(st, type, 500, 302, "RequestHandler Not Found");
        break;
    case GRPC_REFUSE_UNREGISTERED:
        reply_error(st, type, 500, 301, "Connection is unregistered.");
        break;
    case GRPC_ADMIT: {
        json_t *body = parse_body(&p);
        if (!body) {
            cairn_counter_inc(gm->bad_json);
            reply_error(st, type, 500, 502, "the request body is not a JSON object");
            break;
        }
        if (grpc_auth_admit(st->conn->srv->auth, st, type, &p, body, cairn_wall_ms()))
            h->fn(st, type, body);
        json_decref(body);
        break;
    }
    }
    grpc_payload_free(&p);
}

static size_t ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void grpc_naming_stream(grpc_stream *st, const uint8_t *msg, size_t len)
{
    grpc_conn *c = st->conn;
    grpc_metrics *gm = &c->srv->metrics;
    grpc_payload p;
    json_t *body = NULL;
    if (grpc_payload_decode(msg, len, &p) != 0 || !(body = parse_body(&p))) {
        /* logged and dropped, never a reason to close (§2.4) */
        cairn_counter_inc(p.type ? gm->bad_json : gm->bad_protobuf);
        log_debug("connection %s: unreadable stream message dropped", c->id);
        grpc_payload_free(&p);
        return;
    }
    if (strcmp(p.type, "ConnectionSetupRequest") == 0) {
        c->setup = true;
        cairn_counter_inc(gm->setups);
        const char *version = grpc_json_str(body, "clientVersion");
        const char *app = grpc_json_str(json_object_get(body, "labels"), "AppName");
        log_debug("connection %s set up: %s%s%s", c->id, version ? version : "client",
                  app ? ", app " : "", app ? app : "");
    } else if (ends_with(p.type, "Response")) {
        cairn_counter_inc(gm->acks);
        if (strcmp(p.type, "NotifySubscriberResponse") == 0) {
            const json_t *code = json_object_get(body, "resultCode");
            bool ok = json_is_integer(code) && json_integer_value(code) == 200;
            int64_t now = grpc_now_ms();
            if (grpc_pushq_ack(&c->pushq, grpc_json_request_id(body), ok, now,
                               c->srv->cfg.retry_delay_ms))
                cairn_counter_inc(ok ? gm->pushes_acked : gm->pushes_failed);
            grpc_push_send_due(c, now);
            grpc_conn_rearm(c);
        }
    } else {
        cairn_counter_inc(gm->stream_other);
        log_debug("connection %s: stream message %.64s dropped", c->id, p.type);
    }
    json_decref(body);
    grpc_payload_free(&p);
}
