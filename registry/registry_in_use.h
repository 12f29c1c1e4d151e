/* Which services have subscribers, as the roles that hold the subscribers report them
 * (SERVICES_IN_USE): the gateway for its v1 UDP push subscriptions, cairn-grpc for its gRPC
 * subscriptions. The empty-service sweep keeps a service reported since its cutoff
 * (registry_sweep.h). Memory only, not the store: a mark is worth registry.empty_service_clean_
 * after_ms at most, the senders repeat theirs every third of it, and a lost one costs nothing but
 * a removal (a subscriber of a removed service is pushed and listed an empty one, as before).
 *
 * The table holds the last report time of each service (wall ms, the sweep's clock), keyed as the
 * store keys services (a blank namespace is public). Bounded: marks at or before now - keep_ms are
 * worthless and go at every sweep pass, and when the table is still full a new service is
 * refused (a refresh always passes), which its sender counts as a failed report.
 *
 * A registry that starts has heard no report yet: every service counts as reported at since_ms
 * (its start), so a restart never removes a service whose subscribers are reported a moment
 * later. Only services already empty before the restart wait longer for it.
 *
 * Threads: any; one mutex guards the table (rpc workers note, the sweep and the writer read). */
#ifndef REGISTRY_IN_USE_H
#define REGISTRY_IN_USE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_msg.h"

/* The registry's bound: above the gateway's default gateway.max_push_subscriptions (10^6
 * subscriptions, so at most as many services); about 100 bytes a service. */
#define REGISTRY_IN_USE_MAX_ENTRIES (1u << 20)

typedef struct registry_in_use registry_in_use;

/* keep_ms: registry.empty_service_clean_after_ms; since_ms: see above (0 in tests that want
 * none). NULL when out of memory. */
registry_in_use *registry_in_use_new(size_t max_entries, int64_t keep_ms, int64_t since_ms);
void registry_in_use_free(registry_in_use *u);

/* SERVICES_IN_USE as of now_ms: every name of req is checked first (CAIRN_E_LIMIT past
 * CAIRN_IN_USE_MAX_SERVICES, CAIRN_E_INVALID for a name the model refuses: blank, over its cap,
 * not groupName@@serviceName), and nothing is kept when one is refused; then each service is
 * marked. CAIRN_E_LIMIT when the table is full for some of them (the others are marked), NOMEM. */
cairn_err registry_in_use_note(registry_in_use *u, const cairn_request *req, int64_t now_ms,
                               cairn_status *st);
/* When (ns, svc) was last reported in use (ns as stored), or since_ms when never. u may be NULL:
 * INT64_MIN (nothing is in use). */
int64_t registry_in_use_last(registry_in_use *u, const char *ns, const char *svc);
/* Whether (ns, svc) was reported in use after now_ms - keep_ms: a report, not the start's
 * assumption (a service nobody watches gets none). u may be NULL: false. */
bool registry_in_use_watched(registry_in_use *u, const char *ns, const char *svc, int64_t now_ms);
/* Forgets the marks at or before cutoff_ms (they keep nothing); returns how many. */
size_t registry_in_use_forget(registry_in_use *u, int64_t cutoff_ms);
size_t registry_in_use_size(registry_in_use *u);

#endif
