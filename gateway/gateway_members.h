/* The gateway's view of the cluster, for GET /nacos/v1/ns/operator/servers and for owner
 * routing (gateway_route.h): the node's cluster configuration plus the latest MEMBERSHIP of its
 * replicator.
 *
 * A thread of its own follows the replicator's MEMBERSHIP (cairn_members_follow.h). HTTP threads
 * only copy the latest view, or look an owner up, under a short lock: no request ever waits for
 * the replicator. Standalone (cluster.members empty) there is no thread and no view. */
#ifndef GATEWAY_MEMBERS_H
#define GATEWAY_MEMBERS_H

#include <stdbool.h>

#include "cairn_cluster_config.h"
#include "cairn_config.h"
#include "cairn_msg.h"

typedef struct gateway_members gateway_members;

/* NULL with *st OK when standalone; NULL with *st set on a bad cluster configuration. */
gateway_members *gateway_members_open(const cairn_config *cfg, const char *run_dir,
                                      cairn_status *st);
/* Stops the thread and frees everything; NULL is fine. */
void gateway_members_close(gateway_members *gm);

/* Read-only after open: any thread. */
const cairn_cluster_config *gateway_members_config(const gateway_members *gm);
/* A decoded copy of the latest view into *out (free it with cairn_membership_free); false when
 * none has arrived yet. Any thread; never blocks beyond a short lock. */
bool gateway_members_view(gateway_members *gm, cairn_membership *out);
/* Whether the node serves reads: standalone (gm NULL), or the replicator's latest view says self
 * is READY (its Distro load is done). false before any view. Any thread, lock-free. */
bool gateway_members_serving(gateway_members *gm);

/* Who owns the service `grouped` (group@@name) in the latest view (cairn_distro_index over the
 * sorted owner list, as the replicator and the healthcheck compute it). */
typedef enum gateway_owner {
    GATEWAY_OWNER_SELF = 0,  /* self is the owner */
    GATEWAY_OWNER_PEER = 1,  /* another member: its identity is copied into owner */
    GATEWAY_OWNER_NONE = 2,  /* no view yet, or an empty owner list: nobody to ask */
} gateway_owner;
/* Any thread; a short lock, no allocation. */
gateway_owner gateway_members_owner(gateway_members *gm, const char *grouped, char *owner,
                                    size_t owner_len);

#endif
