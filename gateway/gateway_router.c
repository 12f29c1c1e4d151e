/* The route table of the Nacos API. */
#include "gateway_router.h"

#include <stdio.h>
#include <string.h>

#include "gateway_auth.h"
#include "gateway_console.h"
#include "gateway_handlers.h"
#include "gateway_members.h"
#include "gateway_offload.h"
#include "gateway_prometheus.h"
#include "gateway_reply.h"

#define NS_PREFIX "/nacos/v1/ns"
#define OPS_ALIAS NS_PREFIX "/ops/"
#define OPERATOR NS_PREFIX "/operator/"

static void console_redirect(gateway *gw, gateway_request *req, gateway_response *resp)
{
    gateway_console_redirect(resp);
}

static void login(gateway *gw, gateway_request *req, gateway_response *resp)
{
    gateway_auth_login(gw->auth, req, gateway_wall_ms(), resp);
}

#define OPEN GATEWAY_ACCESS_OPEN
#define USER GATEWAY_ACCESS_USER
#define READ GATEWAY_ACCESS_READ
#define WRITE GATEWAY_ACCESS_WRITE
#define ADMIN GATEWAY_ACCESS_ADMIN

typedef struct route {
    const char *method; /* NULL: any method */
    const char *path;   /* also the metrics label (a prefix route's handler may refine it) */
    gateway_handler_fn fn;
    bool offload; /* the handler waits on several calls: run it on the offload pool */
    gateway_access access; /* what the caller needs with auth.enabled (gateway_auth.h) */
} route;

static const route routes[] = {
    {"POST", NS_PREFIX "/instance", gateway_instance_register, false, WRITE},
    {"DELETE", NS_PREFIX "/instance", gateway_instance_deregister, false, WRITE},
    {"PUT", NS_PREFIX "/instance", gateway_instance_update, false, WRITE},
    {"PATCH", NS_PREFIX "/instance", gateway_instance_patch, false, WRITE},
    {"GET", NS_PREFIX "/instance", gateway_instance_detail, false, READ},
    {"GET", NS_PREFIX "/instance/list", gateway_instance_list, false, READ},
    {"PUT", NS_PREFIX "/instance/beat", gateway_instance_beat, false, WRITE},
    {"PUT", NS_PREFIX "/instance/metadata/batch", gateway_instance_metadata_put, false, WRITE},
    {"DELETE", NS_PREFIX "/instance/metadata/batch", gateway_instance_metadata_delete, false,
     WRITE},
    {"POST", NS_PREFIX "/service", gateway_service_create, false, ADMIN},
    {"DELETE", NS_PREFIX "/service", gateway_service_remove, false, ADMIN},
    {"GET", NS_PREFIX "/service", gateway_service_detail, false, READ},
    {"PUT", NS_PREFIX "/service", gateway_service_update, false, ADMIN},
    {"GET", NS_PREFIX "/service/list", gateway_service_list, false, READ},
    {"GET", NS_PREFIX "/operator/switches", gateway_operator_switches, false, USER},
    {"PUT", NS_PREFIX "/operator/switches", gateway_operator_switches_put, false, ADMIN},
    {"GET", NS_PREFIX "/operator/metrics", gateway_operator_metrics, false, USER},
    {"GET", NS_PREFIX "/operator/servers", gateway_operator_servers, false, USER},
    {NULL, NS_PREFIX "/health/server", gateway_health_server, false, USER},
    {"PUT", NS_PREFIX "/health", gateway_health_instance, false, ADMIN},
    {"PUT", NS_PREFIX "/health/instance", gateway_health_instance, false, ADMIN},
    {"GET", NS_PREFIX "/health/checkers", gateway_health_checkers, false, USER},
    {"PUT", NS_PREFIX "/cluster", gateway_cluster_update, false, ADMIN},
    {"GET", NS_PREFIX "/catalog/services", gateway_catalog_services, false, READ},
    {"GET", NS_PREFIX "/catalog/instances", gateway_catalog_instances, false, READ},
    {"GET", "/nacos/v1/console/namespaces", gateway_console_namespaces, false, USER},
    {"GET", "/nacos/v1/console/cairn/roles", gateway_console_roles, true, ADMIN},
    {"GET", "/nacos", console_redirect, false, OPEN},
    {"GET", "/nacos/v1/console/health/liveness", gateway_health_liveness, false, OPEN},
    {"GET", "/nacos/v1/console/health/readiness", gateway_health_readiness, false, OPEN},
    {"POST", "/nacos/v1/auth/login", login, true, OPEN},
    {"POST", "/nacos/v1/auth/users/login", login, true, OPEN},
};

/* Routes that own every path below theirs too (path + "/..."): the handler parses the rest. */
static const route prefix_routes[] = {
    {"GET", GATEWAY_PROMETHEUS_ROOT, gateway_prometheus_sd, true, GATEWAY_ACCESS_READ_PATH},
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

/* The route of req, looking /ops/x up as /operator/x. */
static const route *route_of(const gateway_request *req)
{
    const char *path = req->path;
    char alias[256];
    if (strncmp(path, OPS_ALIAS, strlen(OPS_ALIAS)) == 0) {
        int n = snprintf(alias, sizeof alias, OPERATOR "%s", path + strlen(OPS_ALIAS));
        if (n > 0 && (size_t)n < sizeof alias)
            path = alias;
    }
    return find_route(req->method, path);
}

/* On the offload pool: a request whose password was not in the cache. It is verified here,
 * then the route's handler runs on this thread (one that hands its request on as a job does so
 * from here). */
static void check_then_run(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const route *r = route_of(req);
    if (gateway_auth_check_slow(gw->auth, req, r->access, gateway_wall_ms(), resp) ==
        GATEWAY_AUTH_ALLOWED)
        r->fn(gw, req, resp);
}

void gateway_router_handle(void *arg, gateway_request *req, gateway_response *resp)
{
    gateway *gw = arg;
    const route *r = route_of(req);
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
    if (under_naming(req->path) && gateway_params_apply_grouping(req->params) != CAIRN_OK) {
        gateway_reply_text(resp, 500, "caused: out of memory;");
        return;
    }
    /* A cluster member that has not loaded its peers' data answers reads with Nacos's
     * TrafficReviseFilter text, never with an empty list (cluster-design §2.8 step 5). */
    if (r->access == READ && under_naming(req->path) && !gateway_members_serving(gw->members)) {
        gateway_reply_text(resp, 503, "server is STARTINGnow, please try again later!");
        return;
    }
    /* The one place calls are authorised: nothing below runs for a refused caller. */
    switch (gateway_auth_check(gw->auth, req, r->access, gateway_wall_ms(), resp)) {
    case GATEWAY_AUTH_DENIED:
        return;
    case GATEWAY_AUTH_SLOW:
        gateway_offload_run(gw->offload, check_then_run, req, resp);
        return;
    case GATEWAY_AUTH_ALLOWED:
        break;
    }
    if (r->offload)
        gateway_offload_run(gw->offload, r->fn, req, resp);
    else
        r->fn(gw, req, resp);
}
