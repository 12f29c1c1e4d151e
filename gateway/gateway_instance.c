/* Instance writes and detail: register (§2.1), deregister (§2.2), update (§2.3), patch (§2.4),
 * detail (§2.6). The registry applies them; here they are parsed and validated in full first. */
#include <stdlib.h>
#include <string.h>

#include "cairn_client.h"
#include "cairn_model.h"
#include "cairn_requests.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "gateway_reply.h"

#define SERVICE_REQUIRED "Param 'serviceName' is required."

/* `enabled`, else the legacy `enable` (what both clients send). */
static const char *enabled_param(const gateway_params *p)
{
    const char *v = gateway_params_get(p, "enabled");
    return v ? v : gateway_params_get(p, "enable");
}

static cairn_err set_string(char **dst, const char *value, cairn_status *st)
{
    free(*dst);
    *dst = strdup(value);
    return *dst ? CAIRN_OK : cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

/* ip and port (both required, in this order as Nacos checks them) and the cluster. */
static cairn_err parse_address(const gateway_params *p, cairn_instance *in, cairn_status *st)
{
    const char *ip = gateway_param_required(p, "ip", st);
    if (!ip)
        return st->code;
    cairn_err err = gateway_param_int(p, "port", true, 0, &in->port, st);
    if (err == CAIRN_OK)
        err = set_string(&in->ip, ip, st);
    if (err == CAIRN_OK)
        err = set_string(&in->cluster, gateway_param_cluster(p), st);
    return err;
}

/* The instance parameters shared by register, deregister and update (parseInstance). */
static cairn_err parse_instance(gateway *gw, const gateway_params *p, cairn_instance *in,
                                cairn_status *st)
{
    cairn_err err = parse_address(p, in, st);
    if (err != CAIRN_OK)
        return err;
    const char *weight = gateway_params_get(p, "weight");
    if (weight && (err = cairn_parse_java_double(weight, &in->weight, st)) != CAIRN_OK)
        return err;
    in->enabled = cairn_parse_bool_lenient(enabled_param(p) ? enabled_param(p) : "true");
    in->healthy = cairn_parse_bool_lenient(gateway_param_optional(p, "healthy", "true"));
    in->ephemeral = cairn_parse_bool_lenient(gateway_param_optional(p, "ephemeral", "true"));
    if ((err = set_string(&in->app, gateway_param_optional(p, "app", CAIRN_DEFAULT_APP), st)))
        return err;
    const char *metadata = gateway_params_get(p, "metadata");
    if (metadata &&
        (err = cairn_parse_metadata(metadata, gw->max_metadata_bytes, &in->metadata, st)))
        return err;
    return cairn_instance_validate(in, st);
}

/* The opening every instance endpoint shares: the (grouped, format-checked) serviceName and the
 * namespace, an empty instance to parse into (freed by the caller in every case), and an empty
 * request for the builder to fill. */
static cairn_err instance_target(gateway_request *req, const char **ns, const char **svc,
                                 cairn_instance *in, cairn_request *rq, cairn_status *st)
{
    cairn_status_clear(st);
    cairn_instance_init(in);
    cairn_request_init(rq, CAIRN_MSG_INSTANCE_GET);
    cairn_err err = gateway_param_service(req->params, true, SERVICE_REQUIRED, svc, st);
    return err == CAIRN_OK ? gateway_param_namespace(req->params, ns, st) : err;
}

/* Register (mode) or, when removing, deregister the instance the common parameters describe,
 * and answer `ok`. */
static void instance_write(gateway *gw, gateway_request *req, gateway_response *resp,
                           bool removing, cairn_upsert_mode mode)
{
    cairn_status st;
    cairn_request rq;
    cairn_instance in;
    const char *ns, *svc;
    cairn_err err = instance_target(req, &ns, &svc, &in, &rq, &st);
    if (err == CAIRN_OK)
        err = parse_instance(gw, req->params, &in, &st);
    if (err == CAIRN_OK)
        err = removing ? cairn_request_instance_remove(&rq, ns, svc, in.ip, in.port, in.cluster,
                                                       in.ephemeral, &st)
                       : cairn_request_instance_upsert(&rq, ns, svc, &in, mode, &st);
    cairn_instance_free(&in);
    gateway_finish_write(gw, req, resp, &rq, err, &st);
}

void gateway_instance_register(gateway *gw, gateway_request *req, gateway_response *resp)
{
    instance_write(gw, req, resp, false, CAIRN_UPSERT_REGISTER);
}

void gateway_instance_deregister(gateway *gw, gateway_request *req, gateway_response *resp)
{
    instance_write(gw, req, resp, true, CAIRN_UPSERT_REGISTER);
}

/* JAVA clients >= 1.0.0 (the Node client included) get a strict update; everyone else, curl
 * and proxies included, register semantics (§2.3). */
void gateway_instance_update(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_upsert_mode mode = cairn_client_is_java_v1(req->user_agent) ? CAIRN_UPSERT_MUST_EXIST
                                                                        : CAIRN_UPSERT_REGISTER;
    instance_write(gw, req, resp, false, mode);
}

/* Only the non-blank optional fields change (§2.4); the rest of the instance is kept. */
static cairn_err parse_patch(gateway *gw, const gateway_params *p, cairn_instance *in,
                             uint32_t *mask, cairn_status *st)
{
    cairn_err err = parse_address(p, in, st);
    if (err != CAIRN_OK)
        return err;
    *mask = 0;
    const char *v;
    if ((v = gateway_params_get(p, "metadata"))) {
        if ((err = cairn_parse_metadata(v, gw->max_metadata_bytes, &in->metadata, st)))
            return err;
        *mask |= CAIRN_PATCH_METADATA;
    }
    if ((v = gateway_params_get(p, "app"))) {
        if ((err = set_string(&in->app, v, st)))
            return err;
        *mask |= CAIRN_PATCH_APP;
    }
    if ((v = gateway_params_get(p, "weight"))) {
        if ((err = cairn_parse_java_double(v, &in->weight, st)))
            return err;
        *mask |= CAIRN_PATCH_WEIGHT;
    }
    if ((v = gateway_params_get(p, "healthy"))) {
        in->healthy = cairn_parse_bool_lenient(v);
        *mask |= CAIRN_PATCH_HEALTHY;
    }
    if ((v = enabled_param(p))) {
        in->enabled = cairn_parse_bool_lenient(v);
        *mask |= CAIRN_PATCH_ENABLED;
    }
    return cairn_instance_validate(in, st);
}

void gateway_instance_patch(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_status st;
    cairn_request rq;
    cairn_instance in;
    const char *ns, *svc;
    uint32_t mask = 0;
    cairn_err err = instance_target(req, &ns, &svc, &in, &rq, &st);
    if (err == CAIRN_OK)
        err = parse_patch(gw, req->params, &in, &mask, &st);
    if (err == CAIRN_OK)
        err = cairn_request_instance_patch(&rq, ns, svc, &in, mask, &st);
    cairn_instance_free(&in);
    gateway_finish_write(gw, req, resp, &rq, err, &st);
}

/* §2.6: keys service, ip, port, clusterName, weight, healthy, instanceId, metadata. */
static json_t *detail_json(const char *svc, const cairn_instance *in)
{
    char *id = in->instance_id ? NULL
                               : cairn_instance_default_id(in->ip, in->port, in->cluster, svc);
    json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:o, s:b, s:s, s:o}", "service", svc, "ip",
                          in->ip ? in->ip : "", "port", (int)in->port, "clusterName",
                          in->cluster ? in->cluster : "", "weight", cairn_json_double(in->weight),
                          "healthy", in->healthy, "instanceId",
                          in->instance_id ? in->instance_id : (id ? id : ""), "metadata",
                          cairn_json_metadata(&in->metadata));
    free(id);
    return j;
}

static void render_detail(gateway *gw, const cairn_request *rq, cairn_err rc, cairn_reply *rep,
                          cairn_status *st, void *data, gateway_response *resp)
{
    (void)gw, (void)data;
    if (rc == CAIRN_OK && !rep->has_instance)
        rc = cairn_fail(st, CAIRN_E_NOT_FOUND, "no matched ip found!");
    if (rc != CAIRN_OK)
        gateway_reply_error(resp, st);
    else
        gateway_reply_json(resp, detail_json(rq->service, &rep->instance));
}

void gateway_instance_detail(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_status st;
    cairn_request rq;
    cairn_instance in;
    const char *ns, *svc;
    cairn_err err = instance_target(req, &ns, &svc, &in, &rq, &st);
    if (err == CAIRN_OK)
        err = parse_address(req->params, &in, &st);
    if (err == CAIRN_OK)
        err = cairn_request_instance_get(&rq, ns, svc, in.ip, in.port, in.cluster, &st);
    cairn_instance_free(&in);
    if (err != CAIRN_OK) {
        gateway_reply_error(resp, &st);
        cairn_request_free(&rq);
        return;
    }
    gateway_ask_registry(gw, req, resp, &rq, render_detail, NULL, NULL);
}
