#include "cairn_endpoints.h"

#include <stdio.h>
#include <sys/un.h>

static const char *const endpoint_files[CAIRN_EP__COUNT] = {
    [CAIRN_EP_REGISTRY_COMMANDS] = "registry.sock",
    [CAIRN_EP_REGISTRY_EVENTS] = "registry-events.sock",
    [CAIRN_EP_HEALTHCHECK_COMMANDS] = "healthcheck.sock",
    [CAIRN_EP_GATEWAY_SUBSCRIPTIONS] = "gateway-subscriptions.sock",
    [CAIRN_EP_REPLICATOR_COMMANDS] = "replicator.sock",
    [CAIRN_EP_GATEWAY_COMMANDS] = "gateway.sock",
    [CAIRN_EP_REPLICATOR_EVENTS] = "replicator-events.sock",
};

const char *cairn_endpoint_file(cairn_endpoint ep)
{
    if ((unsigned)ep >= CAIRN_EP__COUNT)
        return NULL;
    return endpoint_files[ep];
}

int cairn_endpoint_url(const char *run_dir, cairn_endpoint ep, char *buf, size_t len)
{
    const char *file = cairn_endpoint_file(ep);
    if (!file)
        return -1;
    int n = snprintf(buf, len, "ipc://%s/%s", run_dir, file);
    /* sun_path must hold the path without the "ipc://" scheme, plus its NUL. */
    if (n < 0 || (size_t)n >= len || (size_t)n - 6 >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return -1;
    return 0;
}

int cairn_admin_address_path(const char *run_dir, const char *role, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s.admin", run_dir, role);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int cairn_gateway_http_address_path(const char *run_dir, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/gateway.http", run_dir);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}
