/* PUT /nacos/v1/ns/cluster (§6): a cluster's health checker, check port and metadata; the way a
 * user sets the NONE checker that PUT /health/instance needs, or an HTTP checker. The cluster is
 * created when missing; the service must exist. Parameters other than clusterName and
 * serviceName are optional here (Nacos requires them all): an omitted one takes the default of a
 * new cluster (TCP checker, check port 80, instance port used). HTTP checker headers are not
 * supported and are ignored. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn_requests.h"
#include "gateway_handlers.h"
#include "gateway_job.h"
#include "gateway_reply.h"

#define CHECKER_FORMAT "healthChecker format incorrect: "
#define CHECK_PATH_MAX 1024

/* A path goes verbatim into the probe's request line: no spaces or control characters. */
static bool path_ok(const char *path)
{
    size_t n = strlen(path);
    if (n > CHECK_PATH_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f)
            return false;
    return true;
}

static cairn_err parse_http(json_t *root, cairn_cluster *cl, cairn_status *st)
{
    json_t *path = json_object_get(root, "path");
    if (path && !json_is_null(path)) {
        if (!json_is_string(path))
            return cairn_fail(st, CAIRN_E_INVALID, CHECKER_FORMAT "path is not a string");
        if (!path_ok(json_string_value(path)))
            return cairn_fail(st, CAIRN_E_INVALID,
                              CHECKER_FORMAT "path must be at most %d characters without "
                                             "spaces or control characters",
                              CHECK_PATH_MAX);
        if (!(cl->check_path = strdup(json_string_value(path))))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    json_t *code = json_object_get(root, "expectedResponseCode");
    if (code && !json_is_null(code)) {
        int32_t n = 0;
        bool ok = false;
        if (json_is_integer(code)) {
            json_int_t v = json_integer_value(code);
            ok = v >= 100 && v <= 599;
            n = (int32_t)v;
        } else if (json_is_string(code)) {
            ok = cairn_parse_java_int(json_string_value(code), &n, NULL) == CAIRN_OK && n >= 100 &&
                 n <= 599;
        }
        if (!ok)
            return cairn_fail(st, CAIRN_E_INVALID,
                              CHECKER_FORMAT "expectedResponseCode must be an HTTP status");
        cl->check_expected_status = n;
    }
    return CAIRN_OK;
}

/* The healthChecker JSON: {"type": "TCP" | "HTTP" | "NONE" | "MYSQL", ...}. */
static cairn_err parse_checker(const char *text, cairn_cluster *cl, cairn_status *st)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root)
        return cairn_fail(st, CAIRN_E_INVALID, CHECKER_FORMAT "%s", jerr.text);
    json_t *type = json_object_get(root, "type");
    cairn_err err = CAIRN_OK;
    if (!json_is_object(root) || !json_is_string(type)) {
        err = cairn_fail(st, CAIRN_E_INVALID, CHECKER_FORMAT "no type");
    } else {
        static const struct {
            const char *name;
            cairn_check_type type;
        } types[] = {{"TCP", CAIRN_CHECK_TCP},
                     {"HTTP", CAIRN_CHECK_HTTP},
                     {"NONE", CAIRN_CHECK_NONE},
                     {"MYSQL", CAIRN_CHECK_MYSQL}};
        size_t i = 0;
        while (i < sizeof types / sizeof types[0] &&
               strcasecmp(types[i].name, json_string_value(type)) != 0)
            i++;
        if (i == sizeof types / sizeof types[0])
            err = cairn_fail(st, CAIRN_E_INVALID, "Unknown health checker type: %s",
                             json_string_value(type));
        else
            cl->check_type = types[i].type;
        if (err == CAIRN_OK && cl->check_type == CAIRN_CHECK_HTTP)
            err = parse_http(root, cl, st);
    }
    json_decref(root);
    return err;
}

/* NumberUtils.toInt: Integer.parseInt, or the default for anything it rejects. */
static int32_t to_int(const char *s, int32_t dflt)
{
    int32_t n;
    return cairn_parse_java_int(s, &n, NULL) == CAIRN_OK ? n : dflt;
}

void gateway_cluster_update(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const gateway_params *p = req->params;
    cairn_status st;
    cairn_status_clear(&st);
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_SERVICE_PUT);
    cairn_service service;
    cairn_service_init(&service);
    cairn_service *def = &service;
    cairn_cluster cl;
    cairn_cluster_init_default(&cl);

    const char *name = gateway_param_required(p, "clusterName", &st);
    const char *svc = NULL, *ns = NULL;
    cairn_err err = name ? CAIRN_OK : st.code;
    if (err == CAIRN_OK)
        err = gateway_param_service(p, false, "Param 'serviceName' is required.", &svc, &st);
    if (err == CAIRN_OK)
        err = gateway_param_namespace(p, &ns, &st);
    if (err == CAIRN_OK && (cairn_check_length("clusterName", name, CAIRN_MAX_CLUSTER_LEN, &st) ||
                            cairn_check_cluster_chars(name, &st)))
        err = st.code;
    const char *checker = gateway_params_get(p, "healthChecker");
    if (err == CAIRN_OK && checker)
        err = parse_checker(checker, &cl, &st);
    const char *metadata = gateway_params_get(p, "metadata");
    if (err == CAIRN_OK && metadata)
        err = cairn_parse_metadata(metadata, gw->max_metadata_bytes, &cl.metadata, &st);
    if (err == CAIRN_OK) {
        const char *port = gateway_params_get(p, "checkPort");
        if (port)
            cl.check_port = to_int(port, 0);
        const char *use = gateway_params_get(p, "useInstancePort4Check");
        if (use)
            cl.use_instance_port = cairn_parse_bool_lenient(use);
        if (!(cl.name = strdup(name)) || !(def->clusters = calloc(1, sizeof *def->clusters)) ||
            !(def->namespace_id = strdup(ns)) || !(def->name = strdup(svc))) {
            err = cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        } else {
            def->clusters[0] = cl; /* the request owns it now */
            def->cluster_count = 1;
            cairn_cluster_init_default(&cl);
        }
    }
    cairn_cluster_free(&cl);
    if (err == CAIRN_OK)
        err = cairn_request_service_put(&rq, ns, svc, def, CAIRN_SERVICE_CLUSTERS, &st);
    cairn_service_free(def);
    gateway_finish_write(gw, req, resp, &rq, err, &st);
}
