/* Pieces of the service endpoints (§3) that are pure, exposed for unit tests. */
#ifndef GATEWAY_SERVICE_H
#define GATEWAY_SERVICE_H

#include <jansson.h>

#include "cairn_error.h"
#include "cairn_model.h"
#include "cairn_msg.h"

/* The `selector` parameter (§3.1): URL-decoded once more as Nacos does, then {"type":"none"} or
 * {"type":"label","expression":"..."}; blank means none, anything else is a 400. *out is the
 * canonical compact JSON (malloc'd). Label expressions are stored, not interpreted: without a
 * CMDB, Nacos' label selector has no labels to match either. */
cairn_err gateway_parse_selector(const char *raw, char **out, cairn_status *st);

/* The `selector` of GET /service/list (§3.5), as ServiceController.list reads it (no second
 * URL decoding, unlike a create's): JSON with a type of the SelectorType enum (else 400); a
 * label type's expression is read by cairn_label_parse into *scope and *label (malloc'd, NULL
 * for no filter). Absent, none, unknown, or a label without a usable expression selects every
 * service. Invalid JSON or no type is a 400 `selector format incorrect: ...` (Nacos: 500). */
cairn_err gateway_list_selector(const char *raw, cairn_label_scope *scope, char **label,
                                cairn_status *st);

/* GET /service (§3.3): name (bare), namespaceId, protectThreshold, metadata, selector,
 * groupName, clusters [{name, healthChecker, metadata}]. NULL when out of memory. */
json_t *gateway_service_detail_json(const cairn_service_snapshot *snap, const char *ns,
                                    const char *grouped);

#endif
