/* The route table of the Nacos API. */
#include "gateway_router.h"

#include <stdio.h>
#include <string.h>

#include "gateway_console.h"
#include "gateway_handlers.h"
#include "gateway_prometheus.h"
#include "gateway_reply.h"

#define NS_PREFIX "/nacos/v1/ns"
#define OPS_ALIAS NS_PREFIX "/ops/"
#define OPERATOR NS_PREFIX "/operator/"

static void console_redirect(gateway *gw, gateway_request *req, gateway_response *resp)
{
    gateway_console_redirect(resp);
}

typedef struct route {
    const char *method; /* NULL: any method */
    const char *path;   /* also the metrics label (a prefix route's handler may refine it) */
    gateway_handler_fn fn;
} route;

static const route routes[] = {
    {"POST", NS_PREFIX "/instance", gateway_instance_register},
    {"DELETE", NS_PREFIX "/instance", gateway_instance_deregister},
    {"PUT", NS_PREFIX "/instance", gateway_instance_update},
    {"PATCH", NS_PREFIX "/instance", gateway_instance_patch},
    {"GET", NS_PREFIX "/instance", gateway_instance_detail},
    {"GET", NS_PREFIX "/instance/list", gateway_instance_list},
    {"PUT", NS_PREFIX "/instance/beat", gateway_instance_beat},
    {"POST", NS_PREFIX "/service", gateway_service_create},
    {"DELETE", NS_PREFIX "/service", gateway_service_remove},
    {"GET", NS_PREFIX "/service", gateway_service_detail},
    {"PUT", NS_PREFIX "/service", gateway_service_update},
    {"GET", NS_PREFIX "/service/list", gateway_service_list},
    {"GET", NS_PREFIX "/operator/switches", gateway_operator_switches},
    {"PUT", NS_PREFIX "/operator/switches", gateway_operator_switches_put},
    {"GET", NS_PREFIX "/operator/metrics", gateway_operator_metrics},
    {"GET", NS_PREFIX "/operator/servers", gateway_operator_servers},
    {NULL, NS_PREFIX "/health/server", gateway_health_server},
    {"PUT", NS_PREFIX "/health", gateway_health_instance},
    {"PUT", NS_PREFIX "/health/instance", gateway_health_instance},
    {"GET", NS_PREFIX "/health/checkers", gateway_health_checkers},
    {"PUT", NS_PREFIX "/cluster", gateway_cluster_update},
    {"GET", NS_PREFIX "/catalog/services", gateway_catalog_services},
    {"GET", NS_PREFIX "/catalog/instances", gateway_catalog_instances},
    {"GET", "/nacos/v1/console/namespaces", gateway_console_namespaces},
    {"GET", "/nacos/v1/console/cairn/roles", gateway_console_roles},
    {"GET", "/nacos", console_redirect},
    {"GET", "/nacos/v1/console/health/liveness", gateway_health_liveness},
    {"GET", "/nacos/v1/console/health/readiness", gateway_health_readiness},
};

/* Routes that own every path below theirs too (path + "/..."): the handler parses the rest. */
static const route prefix_routes[] = {
    {"GET", GATEWAY_PROMETHEUS_ROOT, gateway_prometheus_sd},
};

static bool under_naming(const char *path)
{
    size_t n = strlen(NS_PREFIX);
    return strncmp(path, NS_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool method_matches(const route *r, const char *method)
{
    return !r->method || strcmp(r->method, method) == 0;
}

static const route *find_route(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].path, path) == 0 && method_matches(&routes[i], method))
            return &routes[i];
    for (size_t i = 0; i < sizeof prefix_routes / sizeof prefix_routes[0]; i++) {
        const route *r = &prefix_routes[i];
        size_t n = strlen(r->path);
        if (strncmp(r->path, path, n) == 0 && (path[n] == '\0' || path[n] == '/') &&
            method_matches(r, method))
            return r;
    }
    return NULL;
}

void gateway_router_handle(void *arg, gateway_request *req, gateway_response *resp)
{
    gateway *gw = arg;

    /* /ops/x is /operator/x: look the canonical path up, keep the original for messages. */
    const char *path = req->path;
    char alias[256];
    if (strncmp(path, OPS_ALIAS, strlen(OPS_ALIAS)) == 0) {
        int n = snprintf(alias, sizeof alias, OPERATOR "%s", path + strlen(OPS_ALIAS));
        if (n > 0 && (size_t)n < sizeof alias)
            path = alias;
    }
    const route *r = find_route(req->method, path);
    if (r)
        resp->endpoint = r->path;

    cairn_status st;
    cairn_status_clear(&st);
    if (gateway_params_check(req->params, &st) != CAIRN_OK) {
        gateway_reply_error(resp, &st);
        return;
    }
    const gateway_console_file *file =
        !r && strcmp(req->method, "GET") == 0 ? gateway_console_find(req->path) : NULL;
    if (file) {
        resp->endpoint = GATEWAY_CONSOLE_ENDPOINT;
        gateway_console_reply(resp, file);
        return;
    }
    if (!r) {
        if (under_naming(req->path))
            gateway_reply_text(resp, 501, "no such api:%s:%s", req->method, req->path);
        else
            gateway_reply_text(resp, 404, "no such path: %s", req->path);
        return;
    }
    if (under_naming(path) && gateway_params_apply_grouping(req->params) != CAIRN_OK) {
        gateway_reply_text(resp, 500, "caused: out of memory;");
        return;
    }
    r->fn(gw, req, resp);
}
