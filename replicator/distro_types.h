/* Vocabulary shared by the Distro engines (distro_view, distro_grace, distro_sync, distro_load,
 * distro_guard, distro_compare, distro_verify; docs/architecture.md "Cluster:
 * Distro engines" says how the replicator's loop drives each): member identities, service keys,
 * versions, member states and the defaults of the distro.* timings (cluster design §1.3-1.5,
 * §2.5-2.9); versions, digests and batch limits are the registry's.
 *
 * Identities: a member is named by its `cluster.members` entry as written, the "host:port" of
 * its Nacos HTTP listener (NUL-terminated ASCII). A service is (namespace, grouped name), the
 * grouped name being "group@@service"; only the grouped name decides its owner.
 *
 * Lifetime vocabulary used by every distro_*.h header: "borrowed" pointers stay the caller's and
 * must stay valid for the call only, unless the function says it copies; "valid until X"
 * pointers returned by an engine are the engine's and die at X. Every engine is single-threaded:
 * it belongs to the replicator's libuv loop thread and takes no lock. Time is `now_ms`, a
 * monotonic millisecond clock passed in by the caller (the tests drive it by hand). */
#ifndef DISTRO_TYPES_H
#define DISTRO_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_model.h"
#include "cairn_msg.h"

/* Defaults of the distro.* and raft.ready_timeout_ms keys (§3). A sync batch is bounded by the
 * registry's own limits of one DISTRO_APPLY (CAIRN_DISTRO_MAX_STATES services,
 * CAIRN_DISTRO_PAGE_MAX_BYTES bytes, cairn_msg.h). */
#define DISTRO_SYNC_DELAY_MS 50
#define DISTRO_SYNC_BACKOFF_MIN_MS 200
#define DISTRO_SYNC_BACKOFF_MAX_MS 5000
#define DISTRO_VERIFY_INTERVAL_MS 5000
#define DISTRO_LOAD_WAIT_MS 5000
#define DISTRO_RAFT_READY_TIMEOUT_MS 10000

/* A service: both strings borrowed (see above). */
typedef struct distro_key {
    const char *namespace_id;
    const char *service; /* grouped name, "group@@service" */
} distro_key;

/* Versions are the registry's cairn_distro_version (cairn_model.h), ordered by
 * cairn_distro_compare (cairn_distro_rules.h); digests are CAIRN_DISTRO_DIGEST_LEN bytes
 * (cairn_distro_digest.h). In an engine's inputs a version's origin is borrowed like every other
 * string (the engines never free it); origin is the member the replicator named when it applied
 * the state from a peer, NULL for a node's own writes. */

/* A peer as the membership state machine sees it (§2.9). UNKNOWN: never answered. */
typedef enum distro_peer_state {
    DISTRO_PEER_UNKNOWN = 0,
    DISTRO_PEER_STARTING,
    DISTRO_PEER_UP,
    DISTRO_PEER_SUSPICIOUS,
    DISTRO_PEER_DOWN,
} distro_peer_state;

const char *distro_peer_state_name(distro_peer_state s);

/* A service key as one byte string, "namespace\0grouped\0", for hash maps. Returns a malloc'd
 * buffer (*len set, both NULs counted, so a map's copy of the key is unpackable) or NULL when
 * out of memory. */
char *distro_key_pack(const distro_key *k, size_t *len);
/* Points k's strings into a buffer made by distro_key_pack (valid while the buffer is). */
void distro_key_unpack(const char *packed, distro_key *k);
bool distro_key_equal(const distro_key *a, const distro_key *b);

/* strdup that returns NULL for NULL. */
char *distro_strdup(const char *s);

#endif
