/* The names of every local socket between roles. Roles of one node meet in its run directory
 * (node.run_dir, by default <node.data_dir>/run); these names are spelled nowhere else. */
#ifndef CAIRN_ENDPOINTS_H
#define CAIRN_ENDPOINTS_H

#include <stddef.h>

typedef enum cairn_endpoint {
    CAIRN_EP_REGISTRY_COMMANDS = 0, /* registry REP: commands and queries */
    CAIRN_EP_REGISTRY_EVENTS,       /* registry PUB: change events */
    CAIRN_EP_HEALTHCHECK_COMMANDS,  /* healthcheck REP: beats */
    CAIRN_EP_GATEWAY_SUBSCRIPTIONS, /* gateway PUB: push subscriptions */
    CAIRN_EP_REPLICATOR_COMMANDS,   /* replicator REP */
    CAIRN_EP_GATEWAY_COMMANDS,      /* gateway REP: subscription snapshots for pushers */
    CAIRN_EP_REPLICATOR_EVENTS,     /* replicator PUB: MEMBERSHIP */
    CAIRN_EP__COUNT
} cairn_endpoint;

/* Writes "ipc://<run_dir>/<socket file>" into buf. Returns 0, or -1 if it does not fit (an ipc
 * path is limited to about 100 bytes by the kernel). */
int cairn_endpoint_url(const char *run_dir, cairn_endpoint ep, char *buf, size_t len);

/* The socket file name alone, e.g. "registry.sock". */
const char *cairn_endpoint_file(cairn_endpoint ep);

/* The file in which a role writes the address its admin (metrics/health) listener bound to,
 * e.g. "<run_dir>/gateway.admin"; `cairn status` reads these. Both files hold the address as
 * bound (a wildcard stays 0.0.0.0 or [::]); a reader dials it with cairn_dial_address. */
int cairn_admin_address_path(const char *run_dir, const char *role, char *buf, size_t len);

/* The file in which the gateway writes the address its Nacos HTTP listener bound to
 * ("<run_dir>/gateway.http"), so that gateway.listen may use port 0 (tests) and `cairn run`
 * can print where the node listens. */
int cairn_gateway_http_address_path(const char *run_dir, char *buf, size_t len);

#endif
