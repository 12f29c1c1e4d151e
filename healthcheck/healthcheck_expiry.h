/* The rules of the expiry sweep (§13, ClientBeatCheckTask) and of self-preservation, as pure
 * functions so that they are unit-tested apart from threads and sockets. */
#ifndef HEALTHCHECK_EXPIRY_H
#define HEALTHCHECK_EXPIRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_model.h"

typedef enum hc_expiry {
    HC_EXPIRY_NONE = 0,
    HC_EXPIRY_UNHEALTHY, /* no beat for longer than the beat timeout: mark unhealthy */
    HC_EXPIRY_DELETE,    /* no beat for longer than the delete timeout: remove */
} hc_expiry;

/* What the sweep does with an ephemeral instance idle for idle_ms. Marked instances (health set
 * by hand) are left alone; deletion needs health.expire_instances. As in Nacos, the comparisons
 * are strict (idle > timeout). */
hc_expiry hc_expiry_decide(int64_t idle_ms, int64_t beat_timeout_ms, int64_t delete_timeout_ms,
                           bool healthy, bool marked, bool expire_instances);

/* Self-preservation: whether a namespace's removals are held. They are when the namespace has at
 * least min_instances ephemeral instances and more than `ratio` of them are expiring at once —
 * the signature of the registry's own network failing rather than of the clients (Eureka's
 * self-preservation). `expiring` counts every instance silent for longer than its beat timeout,
 * not only those whose delete timeout passes in this very sweep: clients that lose the registry
 * together fall silent within one beat interval of each other, so their delete timeouts pass over
 * two or more sweeps, none of which alone would hold more than a fraction of them. ratio 1 never
 * holds. */
bool hc_preservation_hold(size_t ephemeral_instances, size_t expiring, double ratio,
                          int64_t min_instances);

/* The timeouts of an instance: its metadata override when present and all digits, else the
 * configured default (the same reading as cairn_metadata_millis). */
typedef struct hc_timeouts {
    int64_t beat_interval_ms; /* told to the client in the beat reply */
    int64_t beat_timeout_ms;
    int64_t delete_timeout_ms;
} hc_timeouts;

void hc_timeouts_from_metadata(const cairn_metadata *md, int64_t default_beat_timeout_ms,
                               int64_t default_delete_timeout_ms, hc_timeouts *out);

#endif
