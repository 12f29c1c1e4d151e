/* One client function per request type: the only place a cairn_request is put together. The
 * fields each type carries are in cairn_msg.h; a caller names them as arguments here instead of
 * setting the struct's fields by hand, so a request type is built the same way in every role.
 *
 * Contract, the same for every builder:
 *  - *rq need not be initialised and its previous contents are overwritten, not freed. After the
 *    call, error included, *rq is a valid request that the caller frees with cairn_request_free.
 *  - String arguments are copied: the caller keeps its own, and they may point into *rq (the
 *    request is built aside and assigned at the end). A string documented as optional may be
 *    NULL, which leaves the field absent (cairn_msg.h says what absent means); every other one
 *    must not be NULL (CAIRN_E_INVALID).
 *  - A cairn_instance * or cairn_service * argument is taken over: its contents move into the
 *    request and the argument is left initialised (empty), in every case, error included. It
 *    may be &rq->instance or &rq->service_def (a caller that parsed into the request).
 *  - Names are not checked here (blank, length caps): the registry answers those in Nacos'
 *    words. Errors are CAIRN_E_NOMEM and CAIRN_E_INVALID, with *st set.
 *  - No I/O and no shared state: any thread.
 *
 * `ns` is the namespace id ("" reads as public at the registry), `svc` the grouped service name.
 * An instance is selected by (ip, port, cluster); cluster is optional (absent: DEFAULT). */
#ifndef CAIRN_REQUESTS_H
#define CAIRN_REQUESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_model.h"
#include "cairn_msg.h"

/* INSTANCE_UPSERT: register or update *in (taken over) with mode's treatment of an existing one. */
cairn_err cairn_request_instance_upsert(cairn_request *rq, const char *ns, const char *svc,
                                        cairn_instance *in, cairn_upsert_mode mode,
                                        cairn_status *st);
/* INSTANCE_PATCH: *in (taken over) selects the instance; the fields in patch_mask (CAIRN_PATCH_*)
 * are the new values. */
cairn_err cairn_request_instance_patch(cairn_request *rq, const char *ns, const char *svc,
                                       cairn_instance *in, uint32_t patch_mask, cairn_status *st);
/* INSTANCE_REMOVE: deregister the ephemeral or persistent instance at ip:port in cluster. */
cairn_err cairn_request_instance_remove(cairn_request *rq, const char *ns, const char *svc,
                                        const char *ip, int32_t port, const char *cluster,
                                        bool ephemeral, cairn_status *st);
/* INSTANCE_GET: the instance at ip:port in cluster. */
cairn_err cairn_request_instance_get(cairn_request *rq, const char *ns, const char *svc,
                                     const char *ip, int32_t port, const char *cluster,
                                     cairn_status *st);
/* INSTANCE_HEALTH: set healthy on the ephemeral or persistent instance at ip:port in cluster,
 * as the checker or by hand (mode). */
cairn_err cairn_request_instance_health(cairn_request *rq, const char *ns, const char *svc,
                                        const char *ip, int32_t port, const char *cluster,
                                        bool ephemeral, bool healthy, cairn_health_mode mode,
                                        cairn_status *st);
/* BEAT: *in (taken over) names the instance (ip, port, cluster) and, when has_body, is the whole
 * instance the beat body described (a beat may re-register it). */
cairn_err cairn_request_beat(cairn_request *rq, const char *ns, const char *svc,
                             cairn_instance *in, bool has_body, cairn_status *st);

/* SERVICE_GET: the service's snapshot with all its instances. */
cairn_err cairn_request_service_get(cairn_request *rq, const char *ns, const char *svc,
                                    cairn_status *st);
/* SERVICE_PUT: create, update or add clusters to (mode) the service from *def (taken over). */
cairn_err cairn_request_service_put(cairn_request *rq, const char *ns, const char *svc,
                                    cairn_service *def, cairn_service_mode mode,
                                    cairn_status *st);
/* SERVICE_REMOVE: delete the service and its instances. */
cairn_err cairn_request_service_remove(cairn_request *rq, const char *ns, const char *svc,
                                       cairn_status *st);
/* SERVICE_LIST: page page_no (1-based) of page_size grouped names of the namespace; group
 * (optional) filters by group ("*" or "" for all). */
cairn_err cairn_request_service_list(cairn_request *rq, const char *ns, const char *group,
                                     uint32_t page_no, uint32_t page_size, cairn_status *st);
/* The same, only services matching a label selector: label is "key=value" (required unless
 * scope is CAIRN_LABEL_NONE). */
cairn_err cairn_request_service_list_labelled(cairn_request *rq, const char *ns,
                                              const char *group, uint32_t page_no,
                                              uint32_t page_size, cairn_label_scope scope,
                                              const char *label, cairn_status *st);
/* SERVICE_CATALOG: page page_no of page_size services with their counts; group and filter
 * (both optional) are substrings of the group and of the bare name. */
cairn_err cairn_request_service_catalog(cairn_request *rq, const char *ns, const char *group,
                                        const char *filter, uint32_t page_no, uint32_t page_size,
                                        cairn_status *st);
/* NAMESPACE_LIST: the namespaces that hold services. */
cairn_err cairn_request_namespace_list(cairn_request *rq, cairn_status *st);
/* STATS: the store's counts. */
cairn_err cairn_request_stats(cairn_request *rq, cairn_status *st);
/* SNAPSHOT_PAGE: page_size services after the cursor (after_ns, after_svc), both optional (the
 * first page: "" or NULL). */
cairn_err cairn_request_snapshot_page(cairn_request *rq, const char *after_ns,
                                      const char *after_svc, uint32_t page_size,
                                      cairn_status *st);
/* SUBSCRIPTION_SNAPSHOT (to the gateway): the live subscriptions that pusher pusher_index of
 * pusher_count owns. */
cairn_err cairn_request_subscription_snapshot(cairn_request *rq, uint32_t pusher_index,
                                              uint32_t pusher_count, cairn_status *st);
/* SERVICES_IN_USE: the count services (ns[i], svc[i]) have a subscriber now. The registry refuses
 * more than CAIRN_IN_USE_MAX_SERVICES: a sender with more builds several (cairn_in_use.h). */
cairn_err cairn_request_services_in_use(cairn_request *rq, const char *const *ns,
                                        const char *const *svc, uint32_t count,
                                        cairn_status *st);

/* ---- cluster replication (replicator → registry) --------------------------------------------
 * An array argument of states or records (malloc'd, each element filled) is taken over with its
 * elements: the request owns and frees it, in every case, error included. NULL with count 0 is
 * an empty list. */
/* DISTRO_APPLY: replace the ephemeral state of each of the count services in states (each with
 * its version; an empty instance list is a tombstone) as mode allows; load_id non-zero: the
 * states are a page of that snapshot load (see DISTRO_LOAD_END). */
cairn_err cairn_request_distro_apply(cairn_request *rq, cairn_distro_state *states,
                                     uint32_t count, cairn_distro_mode mode, uint64_t load_id,
                                     cairn_status *st);
/* DISTRO_DIGESTS: the bucket digests of the services whose Distro owner among owners (sorted,
 * owner_count of them) is self; owners NULL (count 0) and self NULL: every service. */
cairn_err cairn_request_distro_digests(cairn_request *rq, const char *const *owners,
                                       uint32_t owner_count, const char *self, cairn_status *st);
/* DISTRO_KEYS: the keys of bucket (selected as DISTRO_DIGESTS), page_size of them (0: a
 * default) after the cursor (after_ns, after_svc; both optional: the first page). */
cairn_err cairn_request_distro_keys(cairn_request *rq, uint32_t bucket,
                                    const char *const *owners, uint32_t owner_count,
                                    const char *self, const char *after_ns,
                                    const char *after_svc, uint32_t page_size, cairn_status *st);
/* DISTRO_FETCH: the ephemeral states of the count services (ns[i], svc[i]). */
cairn_err cairn_request_distro_fetch(cairn_request *rq, const char *const *ns,
                                     const char *const *svc, uint32_t count, cairn_status *st);
/* DISTRO_SNAPSHOT: the states after the cursor (both optional: the first page), at most
 * max_bytes of them (0: CAIRN_DISTRO_PAGE_MAX_BYTES). */
cairn_err cairn_request_distro_snapshot(cairn_request *rq, const char *after_ns,
                                        const char *after_svc, uint32_t max_bytes,
                                        cairn_status *st);
/* DISTRO_LOAD_END: snapshot load load_id has applied its last page. */
cairn_err cairn_request_distro_load_end(cairn_request *rq, uint64_t load_id, cairn_status *st);
/* PERSIST_APPLY: the count records of raft entries first..last, in log order. */
cairn_err cairn_request_persist_apply(cairn_request *rq, uint64_t first, uint64_t last,
                                      cairn_persist_record *records, uint32_t count,
                                      cairn_status *st);
/* PERSIST_REPLACE: the whole persistent state (count put records) as of raft index index. */
cairn_err cairn_request_persist_replace(cairn_request *rq, uint64_t index,
                                        cairn_persist_record *records, uint32_t count,
                                        cairn_status *st);
/* INSTANCE_SET_OWNED: the instances[count] (each taken over; the array itself stays the
 * caller's) become owner's whole share of the service; count 0 deregisters them. */
cairn_err cairn_request_instance_set_owned(cairn_request *rq, const char *ns, const char *svc,
                                           const char *owner, cairn_instance *instances,
                                           uint32_t count, cairn_status *st);
/* OWNER_DROP: remove every instance of owner, or of every owner starting with it (mode). */
cairn_err cairn_request_owner_drop(cairn_request *rq, const char *owner, cairn_owner_mode mode,
                                   cairn_status *st);
/* OWNER_DROP limited to the services whose Distro owner among owners (sorted) is self (as
 * DISTRO_DIGESTS selects them): a member's share of a dead member's gRPC instances. */
cairn_err cairn_request_owner_drop_owned(cairn_request *rq, const char *owner,
                                         cairn_owner_mode mode, const char *const *owners,
                                         uint32_t owner_count, const char *self,
                                         cairn_status *st);

#endif
