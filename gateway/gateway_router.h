/* Method + path → handler. Paths under /nacos/v1/ns/ops/ are aliases of /nacos/v1/ns/operator/.
 * An unknown method or path under /nacos/v1/ns answers 501 `no such api:<METHOD>:<URI>` as
 * Nacos' DistroFilter does; any other path 404, but for the console's files under /nacos/
 * (gateway_console.h). Paths below /nacos/prometheus go to the Prometheus service discovery
 * handler, which parses its path parameters itself. */
#ifndef GATEWAY_ROUTER_H
#define GATEWAY_ROUTER_H

#include "gateway_http.h"

/* gateway_http_handler with arg = the gateway. */
void gateway_router_handle(void *arg, gateway_request *req, gateway_response *resp);

#endif
