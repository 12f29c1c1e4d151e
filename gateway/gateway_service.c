/* Service endpoints: create (§3.1), delete (§3.2), detail (§3.3), update (§3.4), list (§3.5). */
#include "gateway_service.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_label.h"
#include "cairn_requests.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "gateway_reply.h"

/* Spring's @RequestParam message (create, delete, detail) and WebUtils.required's (update). */
#define SERVICE_MISSING "Parameter 'serviceName' is missing"
#define SERVICE_REQUIRED "Param 'serviceName' is required."

cairn_err gateway_parse_selector(const char *raw, char **out, cairn_status *st)
{
    *out = NULL;
    json_t *sel = NULL;
    if (!raw || !*raw) {
        sel = json_pack("{s:s}", "type", "none");
    } else {
        /* Nacos URL-decodes the (already decoded) parameter once more, '+' included. */
        char *text = strdup(raw);
        if (!text)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        for (char *c = text; *c; c++)
            if (*c == '+')
                *c = ' ';
        MHD_http_unescape(text);
        json_error_t jerr;
        json_t *in = json_loads(text, 0, &jerr);
        free(text);
        if (!in)
            return cairn_fail(st, CAIRN_E_INVALID, "selector format incorrect: %s", jerr.text);
        json_t *type = json_object_get(in, "type");
        json_t *expr = json_object_get(in, "expression");
        cairn_err err = CAIRN_OK;
        if (!json_is_object(in) || !json_is_string(type))
            err = cairn_fail(st, CAIRN_E_INVALID, "selector format incorrect: no type");
        else if (strcmp(json_string_value(type), "none") == 0)
            sel = json_pack("{s:s}", "type", "none");
        else if (strcmp(json_string_value(type), "label") == 0 && json_is_string(expr) &&
                 json_string_length(expr) > 0)
            sel = json_pack("{s:s, s:s}", "type", "label", "expression", json_string_value(expr));
        else if (strcmp(json_string_value(type), "label") == 0)
            err = cairn_fail(st, CAIRN_E_INVALID, "selector format incorrect: no expression");
        else if (strcmp(json_string_value(type), "unknown") == 0)
            err = cairn_fail(st, CAIRN_E_INVALID, "not match any type of selector!");
        else
            err = cairn_fail(st, CAIRN_E_INVALID,
                             "No enum constant com.alibaba.nacos.api.selector.SelectorType.%s",
                             json_string_value(type));
        json_decref(in);
        if (err != CAIRN_OK)
            return err;
    }
    *out = sel ? json_dumps(sel, GATEWAY_JSON_FLAGS) : NULL;
    json_decref(sel);
    return *out ? CAIRN_OK : cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

/* NumberUtils.toFloat: Float.parseFloat, or 0 for anything it rejects. */
static float to_float(const char *s)
{
    double d;
    return cairn_parse_java_double(s, &d, NULL) == CAIRN_OK ? (float)d : 0.0f;
}

/* The service a request names: ns and grouped svc (pointing into p). */
static cairn_err service_named(const gateway_params *p, const char *missing_msg, const char **ns,
                               const char **svc, cairn_status *st)
{
    cairn_err err = gateway_param_service(p, false, missing_msg, svc, st);
    return err == CAIRN_OK ? gateway_param_namespace(p, ns, st) : err;
}

/* SERVICE_PUT for create and update: threshold, metadata and selector. */
static void service_put(gateway *gw, gateway_request *req, gateway_response *resp,
                        cairn_service_mode mode)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_PUT);
    cairn_service service;
    cairn_service_init(&service);
    cairn_service *def = &service;
    const char *ns = NULL, *svc = NULL;
    cairn_err err = service_named(p, mode == CAIRN_SERVICE_CREATE ? SERVICE_MISSING
                                                                   : SERVICE_REQUIRED,
                                  &ns, &svc, &st);
    if (err == CAIRN_OK && mode == CAIRN_SERVICE_CREATE) {
        const char *t = gateway_params_get(p, "protectThreshold");
        double d = 0.0;
        if (t)
            err = cairn_parse_java_double(t, &d, &st);
        def->protect_threshold = (float)d;
    } else if (err == CAIRN_OK) {
        const char *t = gateway_param_required(p, "protectThreshold", &st);
        if (!t)
            err = st.code;
        else
            def->protect_threshold = to_float(t);
    }
    const char *metadata = gateway_params_get(p, "metadata");
    if (err == CAIRN_OK && metadata)
        err = cairn_parse_metadata(metadata, gw->max_metadata_bytes, &def->metadata, &st);
    char *selector = NULL;
    if (err == CAIRN_OK)
        err = gateway_parse_selector(gateway_params_get(p, "selector"), &selector, &st);
    if (err == CAIRN_OK) {
        free(def->selector_json);
        def->selector_json = selector;
        def->defined = true;
        if (!(def->namespace_id = strdup(ns)) || !(def->name = strdup(svc)))
            err = cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
    }
    if (err == CAIRN_OK && mode == CAIRN_SERVICE_CREATE)
        err = cairn_check_service_chars(svc, &st);
    if (err == CAIRN_OK)
        err = cairn_request_service_put(&rq, ns, svc, def, mode, &st);
    cairn_service_free(def);
    gateway_finish_write(gw, req, resp, &rq, err, &st);
}

void gateway_service_create(gateway *gw, gateway_request *req, gateway_response *resp)
{
    service_put(gw, req, resp, CAIRN_SERVICE_CREATE);
}

void gateway_service_update(gateway *gw, gateway_request *req, gateway_response *resp)
{
    service_put(gw, req, resp, CAIRN_SERVICE_UPDATE);
}

void gateway_service_remove(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_REMOVE);
    const char *ns, *svc;
    cairn_err err = service_named(req->params, SERVICE_MISSING, &ns, &svc, &st);
    if (err == CAIRN_OK)
        err = cairn_request_service_remove(&rq, ns, svc, &st);
    gateway_finish_write(gw, req, resp, &rq, err, &st);
}

/* A cluster's health checker as Nacos serializes it (nulls omitted). */
static json_t *checker_json(const cairn_cluster *c)
{
    switch (c->check_type) {
    case CAIRN_CHECK_HTTP:
        return json_pack("{s:s, s:s, s:s, s:i}", "type", "HTTP", "path",
                         c->check_path ? c->check_path : "", "headers", "",
                         "expectedResponseCode", (int)c->check_expected_status);
    case CAIRN_CHECK_NONE:
        return json_pack("{s:s}", "type", "NONE");
    case CAIRN_CHECK_MYSQL:
        return json_pack("{s:s}", "type", "MYSQL");
    case CAIRN_CHECK_TCP:
    default:
        return json_pack("{s:s}", "type", "TCP");
    }
}

static bool append_cluster(json_t *arr, const cairn_cluster *c)
{
    return json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "name", c->name ? c->name : "",
                                                "healthChecker", checker_json(c), "metadata",
                                                cairn_json_metadata(&c->metadata))) == 0;
}

/* Clusters of the definition, then any cluster that only its instances name (with defaults). */
static json_t *clusters_json(const cairn_service_snapshot *snap)
{
    json_t *arr = json_array();
    const cairn_service *svc = &snap->service;
    for (uint32_t i = 0; arr && i < svc->cluster_count; i++)
        if (!append_cluster(arr, &svc->clusters[i]))
            goto fail;
    for (uint32_t i = 0; arr && i < snap->instance_count; i++) {
        const char *name = snap->instances[i].cluster;
        if (!name || cairn_service_find_cluster(svc, name))
            continue;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = snap->instances[j].cluster && strcmp(snap->instances[j].cluster, name) == 0;
        if (seen)
            continue;
        cairn_cluster c;
        cairn_cluster_init_default(&c);
        c.name = (char *)name;
        if (!append_cluster(arr, &c))
            goto fail;
    }
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

json_t *gateway_service_detail_json(const cairn_service_snapshot *snap, const char *ns,
                                    const char *grouped)
{
    char group[CAIRN_MAX_SERVICE_LEN + 1], bare[CAIRN_MAX_SERVICE_LEN + 1];
    cairn_split_grouped(grouped, group, sizeof group, bare, sizeof bare);
    const char *selector_text = snap->service.selector_json;
    json_t *selector = selector_text ? json_loads(selector_text, 0, NULL) : NULL;
    if (!selector)
        selector = json_pack("{s:s}", "type", "none");
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:o}", "name", bare, "namespaceId", ns,
                     "protectThreshold", cairn_json_float(snap->service.protect_threshold),
                     "metadata", cairn_json_metadata(&snap->service.metadata), "selector",
                     selector, "groupName", group, "clusters", clusters_json(snap));
}

static void render_detail(gateway *gw, const cairn_request *rq, cairn_err rc, cairn_reply *rep,
                          cairn_status *st, void *data, gateway_response *resp)
{
    (void)gw, (void)data;
    if (rc == CAIRN_E_NOT_FOUND || (rc == CAIRN_OK && (!rep->has_snapshot || !rep->snapshot.found)))
        rc = cairn_fail(st, CAIRN_E_NOT_FOUND, "service %s is not found!", rq->service);
    if (rc != CAIRN_OK)
        gateway_reply_error(resp, st);
    else
        gateway_reply_json(resp, gateway_service_detail_json(&rep->snapshot, rq->namespace_id,
                                                             rq->service));
}

void gateway_service_detail(gateway *gw, gateway_request *req, gateway_response *resp)
{
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_GET);
    const char *ns, *svc;
    if (service_named(req->params, SERVICE_MISSING, &ns, &svc, &st) != CAIRN_OK ||
        cairn_request_service_get(&rq, ns, svc, &st) != CAIRN_OK) {
        gateway_reply_error(resp, &st);
        cairn_request_free(&rq);
        return;
    }
    gateway_ask_registry(gw, req, resp, &rq, render_detail, NULL, NULL);
}

/* NumberUtils.toInt: Integer.parseInt, or 0 for anything it rejects. */
static int32_t to_int(const char *s)
{
    int32_t n;
    return cairn_parse_java_int(s, &n, NULL) == CAIRN_OK ? n : 0;
}

static void render_names(gateway *gw, const cairn_request *rq, cairn_err rc, cairn_reply *rep,
                         cairn_status *st, void *data, gateway_response *resp)
{
    (void)gw, (void)rq, (void)data;
    if (rc != CAIRN_OK) {
        gateway_reply_error(resp, st);
        return;
    }
    json_t *doms = json_array();
    for (uint32_t i = 0; doms && i < rep->name_count; i++)
        if (json_array_append_new(doms, json_string(rep->names[i])) != 0) {
            json_decref(doms);
            doms = NULL;
        }
    gateway_reply_json(resp, json_pack("{s:o, s:I}", "doms", doms, "count", (json_int_t)rep->total));
}

cairn_err gateway_list_selector(const char *raw, cairn_label_scope *scope, char **label,
                                cairn_status *st)
{
    *scope = CAIRN_LABEL_NONE;
    *label = NULL;
    if (!raw)
        return CAIRN_OK;
    json_error_t jerr;
    json_t *sel = json_loads(raw, 0, &jerr);
    if (!sel)
        return cairn_fail(st, CAIRN_E_INVALID, "selector format incorrect: %s", jerr.text);
    const char *type = json_string_value(json_object_get(sel, "type"));
    const char *expr = json_string_value(json_object_get(sel, "expression"));
    cairn_err err = CAIRN_OK;
    if (!json_is_object(sel) || !type)
        err = cairn_fail(st, CAIRN_E_INVALID, "selector format incorrect: no type");
    else if (strcmp(type, "label") == 0 && expr)
        err = cairn_label_parse(expr, scope, label, st); /* blank: no filter */
    else if (strcmp(type, "label") != 0 && strcmp(type, "none") != 0 &&
             strcmp(type, "unknown") != 0)
        err = cairn_fail(st, CAIRN_E_INVALID,
                         "No enum constant com.alibaba.nacos.api.selector.SelectorType.%s", type);
    json_decref(sel);
    return err;
}

void gateway_service_list(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    const char *page_no = gateway_param_required(p, "pageNo", &st);
    const char *page_size = page_no ? gateway_param_required(p, "pageSize", &st) : NULL;
    const char *ns = NULL;
    if (page_size)
        gateway_param_namespace(p, &ns, &st);
    if (st.code != CAIRN_OK) {
        gateway_reply_error(resp, &st);
        return;
    }
    cairn_label_scope scope;
    char *label = NULL;
    if (gateway_list_selector(gateway_params_get(p, "selector"), &scope, &label, &st) !=
        CAIRN_OK) {
        gateway_reply_error(resp, &st);
        return;
    }
    int32_t no = to_int(page_no), size = to_int(page_size);
    cairn_request rq;
    /* Page numbers below 1 read as 1 and sizes below 1 as an empty page, as Nacos' clamping
     * of start = (pageNo-1)*pageSize does. */
    cairn_err err = cairn_request_service_list_labelled(
        &rq, ns, gateway_param_optional(p, "groupName", CAIRN_DEFAULT_GROUP),
        no > 0 ? (uint32_t)no : 0, size > 0 ? (uint32_t)size : 0, scope, label, &st);
    free(label);
    if (err != CAIRN_OK) {
        cairn_request_free(&rq);
        gateway_reply_error(resp, &st);
        return;
    }
    gateway_ask_registry(gw, req, resp, &rq, render_names, NULL, NULL);
}
