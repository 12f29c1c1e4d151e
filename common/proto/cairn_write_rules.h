/* Rules of the registry's write requests that more than one applier needs: the registry's
 * handlers (LMDB) and the replicator's raft FSM (the in-memory CP state) apply the same writes
 * and must agree to the letter. Pure functions of their arguments; any thread. */
#ifndef CAIRN_WRITE_RULES_H
#define CAIRN_WRITE_RULES_H

#include <stddef.h>

#include "cairn_msg.h"

/* The request's namespace, "public" when absent or empty. */
const char *cairn_req_ns(const cairn_request *req);
/* serviceName present (400 `Param 'serviceName' is required.`), namespace and service within
 * their length caps. */
cairn_err cairn_check_service_ref(const cairn_request *req, cairn_status *st);
/* A service named without being written (SERVICES_IN_USE): serviceName present, namespace (blank:
 * public) and service within their caps, and groupName@@serviceName as a registration needs it. */
cairn_err cairn_check_service_name(const char *ns, const char *svc, cairn_status *st);
/* The above, ip present (400 `Param 'ip' is required.`) and capped; *cluster is the request's
 * cluster or DEFAULT, capped. */
cairn_err cairn_check_instance_ref(const cairn_request *req, const char **cluster,
                                   cairn_status *st);
/* Nacos' datum key of an instance, `ip:port:unknown:cluster` (`ip:unknown:cluster` for
 * port <= 0), which is how its messages name one. */
void cairn_instance_datum_key(char *buf, size_t len, const char *ip, int32_t port,
                              const char *cluster);
/* INSTANCE_PATCH: the fields of p that mask names (CAIRN_PATCH_*) replace in's; with
 * CAIRN_PATCH_METADATA_PUT / _DELETE p's metadata keys are set in / removed from in's instead.
 * CAIRN_E_NOMEM leaves in as it was, but for metadata keys already set. */
cairn_err cairn_instance_apply_patch(cairn_instance *in, const cairn_instance *p, uint32_t mask,
                                     cairn_status *st);
/* SERVICE_PUT: each cluster of src is added to dst or replaces dst's cluster of the same name.
 * On CAIRN_E_NOMEM dst holds the clusters merged so far. */
cairn_err cairn_service_merge_clusters(cairn_service *dst, const cairn_service *src,
                                       cairn_status *st);

#endif
