/* Pieces of the service endpoints (§3) that are pure, exposed for unit tests. */
#ifndef GATEWAY_SERVICE_H
#define GATEWAY_SERVICE_H

#include <jansson.h>

#include "cairn_error.h"
#include "cairn_model.h"

/* The `selector` parameter (§3.1): URL-decoded once more as Nacos does, then {"type":"none"} or
 * {"type":"label","expression":"..."}; blank means none, anything else is a 400. *out is the
 * canonical compact JSON (malloc'd). Label expressions are stored, not interpreted: without a
 * CMDB, Nacos' label selector has no labels to match either. */
cairn_err gateway_parse_selector(const char *raw, char **out, cairn_status *st);

/* GET /service (§3.3): name (bare), namespaceId, protectThreshold, metadata, selector,
 * groupName, clusters [{name, healthChecker, metadata}]. NULL when out of memory. */
json_t *gateway_service_detail_json(const cairn_service_snapshot *snap, const char *ns,
                                    const char *grouped);

#endif
