/* The one schema of every message that crosses a role boundary (msgpack).
 *
 * Every message is a msgpack map with named fields. Two fields are always present:
 *   "t" (uint): the message type, one of cairn_msg_type;
 *   "v" (uint): the schema version, CAIRN_MSG_VERSION.
 * The remaining fields are named below per type. A decoder rejects (CAIRN_E_DECODE, with a
 * message) anything that is not such a map, has a field of the wrong msgpack type, lacks a
 * required field, or has a version it does not speak; unknown fields are skipped so that a newer
 * peer may add fields. Golden-byte tests in tests/unit/test_msg.c pin the encoding.
 *
 * Instances, services and clusters are encoded by the same functions wherever they appear
 * (requests, replies, events, and the registry's LMDB values), so there is one encoding of each. */
#ifndef CAIRN_MSG_H
#define CAIRN_MSG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_model.h"

#define CAIRN_MSG_VERSION 1

/* Wire values are fixed: never renumber, only append. */
typedef enum cairn_msg_type {
    CAIRN_MSG_REPLY = 1,           /* any role → requester */
    CAIRN_MSG_INSTANCE_UPSERT = 2, /* gateway → registry: register or update an instance */
    CAIRN_MSG_INSTANCE_PATCH = 3,  /* gateway → registry: change the fields in patch_mask */
    CAIRN_MSG_INSTANCE_REMOVE = 4, /* gateway → registry: deregister (ip, port, cluster, ephemeral) */
    CAIRN_MSG_INSTANCE_GET = 5,    /* gateway → registry: one instance (ip, port, cluster) */
    CAIRN_MSG_SERVICE_GET = 6,     /* any → registry: service snapshot with all instances */
    CAIRN_MSG_SERVICE_PUT = 7,     /* gateway → registry: create or update a service definition */
    CAIRN_MSG_SERVICE_REMOVE = 8,  /* gateway → registry: delete a service and its instances */
    CAIRN_MSG_SERVICE_LIST = 9,    /* gateway → registry: grouped names of a namespace, paged */
    CAIRN_MSG_BEAT = 10,           /* gateway → beat handler: a client heartbeat */
    CAIRN_MSG_STATS = 11,          /* any → registry: counts for operator/metrics */
    CAIRN_MSG_CHANGE_EVENT = 12,   /* registry PUB: a service changed */
    CAIRN_MSG_SNAPSHOT_PAGE = 13,  /* any → registry: snapshots of every service, a page at a time */
    CAIRN_MSG_INSTANCE_HEALTH = 14, /* healthcheck/gateway → registry: set an instance's health */
    CAIRN_MSG_SUBSCRIPTION = 15,   /* gateway PUB → pushers: a push subscriber (re)subscribed */
    CAIRN_MSG_SUBSCRIPTION_SNAPSHOT = 16, /* pusher → gateway: every live subscription it owns */
    CAIRN_MSG_SERVICE_CATALOG = 17, /* gateway → registry: a page of services with their counts */
    CAIRN_MSG_NAMESPACE_LIST = 18, /* gateway → registry: the namespaces that hold services */
    /* Cluster replication, replicator → registry (docs/architecture.md, "Cluster: the
     * registry's replication messages"). 27-29 are kept for this block. */
    CAIRN_MSG_DISTRO_APPLY = 19,    /* replace the ephemeral state of services, by version */
    CAIRN_MSG_DISTRO_DIGESTS = 20,  /* 256 bucket digests of the ephemeral states */
    CAIRN_MSG_DISTRO_KEYS = 21,     /* the keys, versions and digests of one bucket, paged */
    CAIRN_MSG_DISTRO_FETCH = 22,    /* the ephemeral states of named services */
    CAIRN_MSG_DISTRO_SNAPSHOT = 23, /* every ephemeral state, a page at a time */
    CAIRN_MSG_DISTRO_LOAD_END = 24, /* a snapshot load is complete: drop what it did not bring */
    CAIRN_MSG_PERSIST_APPLY = 25,   /* a batch of committed raft records, in one transaction */
    CAIRN_MSG_PERSIST_REPLACE = 26, /* the whole persistent state at a raft index */
    /* 30..39: connection-owned instances (cairn-grpc) */
    CAIRN_MSG_INSTANCE_SET_OWNED = 30, /* grpc → registry: an owner's instances of one service */
    CAIRN_MSG_OWNER_DROP = 31,     /* grpc → registry: every instance of an owner (or prefix) */
    /* 40-49: cluster membership (cairn-replicator); other numbers are taken by other blocks */
    CAIRN_MSG_MEMBERS_GET = 40, /* gateway → replicator: the current MEMBERSHIP (reply "mship") */
    CAIRN_MSG_MEMBERSHIP = 41,  /* replicator PUB: the node's view of the cluster changed */
    /* 50-54: forwarding a write to its Distro owner (cairn-replicator) */
    CAIRN_MSG_FORWARD = 50, /* gateway → replicator: run an inner request at the owner */
    /* 55-59: persistent writes through raft (cairn-replicator) */
    CAIRN_MSG_RAFT_SUBMIT = 55, /* gateway → replicator: a persistent write for the raft log */
    /* 60-64: the registry's memory, not its store */
    CAIRN_MSG_SERVICES_IN_USE = 60, /* gateway, grpc → registry: services with subscribers */
    CAIRN_MSG__END
} cairn_msg_type;

/* A stable snake_case name of a message type ("instance_upsert"), for logs and metric labels;
 * "unknown" for anything that is not a cairn_msg_type. */
const char *cairn_msg_type_name(cairn_msg_type type);
/* Whether type is a request (has fields in the request table of cairn_msg.c). */
bool cairn_msg_is_request(cairn_msg_type type);

/* How an INSTANCE_UPSERT treats an existing / missing instance. */
typedef enum cairn_upsert_mode {
    CAIRN_UPSERT_REGISTER = 0,     /* create or replace (keeps the existing instanceId) */
    CAIRN_UPSERT_MUST_EXIST = 1,   /* strict update (§2.3): missing service/instance → 400 */
} cairn_upsert_mode;

/* Which fields an INSTANCE_PATCH changes (§2.4). */
enum {
    CAIRN_PATCH_METADATA = 1u << 0,
    CAIRN_PATCH_APP = 1u << 1,
    CAIRN_PATCH_WEIGHT = 1u << 2,
    CAIRN_PATCH_HEALTHY = 1u << 3,
    CAIRN_PATCH_ENABLED = 1u << 4,
    /* PUT /instance/metadata/batch (§2.8): the keys of the patch's metadata are set, the others
     * kept (rather than CAIRN_PATCH_METADATA's replacing the whole map) */
    CAIRN_PATCH_METADATA_PUT = 1u << 5,
    /* DELETE /instance/metadata/batch: the keys of the patch's metadata are removed */
    CAIRN_PATCH_METADATA_DELETE = 1u << 6,
    /* only the instance of the kind instance.ephemeral names (else the ephemeral one at ip:port,
     * failing that the persistent one) */
    CAIRN_PATCH_KIND = 1u << 7,
};

/* How a SERVICE_PUT treats an existing / missing service. */
typedef enum cairn_service_mode {
    CAIRN_SERVICE_CREATE = 0, /* exists → 400 `specified service already exists, ...` */
    CAIRN_SERVICE_UPDATE = 1, /* missing → 400 `service <svc> not found!` */
    CAIRN_SERVICE_CLUSTERS = 2, /* PUT /cluster (§6): add or replace the clusters in service_def by
                                   name, nothing else; missing service → 400 `service not found:<svc>` */
} cairn_service_mode;

/* A SERVICE_LIST's label selector (v1 `selector={"type":"label","expression":...}`, §3.5): which
 * metadata `filter` ("key=value") is matched against. */
typedef enum cairn_label_scope {
    CAIRN_LABEL_NONE = 0,     /* no selector: every service */
    CAIRN_LABEL_INSTANCE = 1, /* services with an instance whose metadata has key = value */
    CAIRN_LABEL_SERVICE = 2,  /* services whose own metadata has key = value */
} cairn_label_scope;

/* What an OWNER_DROP's owner names. */
typedef enum cairn_owner_mode {
    CAIRN_OWNER_EXACT = 0,  /* that owner */
    CAIRN_OWNER_PREFIX = 1, /* every owner that starts with it (a dead node's connections) */
    CAIRN_OWNER_OTHER_INCARNATIONS = 2, /* it names one incarnation, "<node prefix><inc>/": every
                                           owner of that node prefix but those of <inc> (safe to
                                           send while <inc> serves, and to send again) */
} cairn_owner_mode;

/* Who sets health in an INSTANCE_HEALTH. */
typedef enum cairn_health_mode {
    CAIRN_HEALTH_BY_CHECKER = 0, /* beat expiry, beat revival, active probe: skipped when marked */
    CAIRN_HEALTH_MANUAL = 1,     /* PUT /health/instance (§5): only where the cluster's checker is
                                    NONE, else 400 `health check is still working, service: <svc>` */
    CAIRN_HEALTH_MANUAL_KIND = 2, /* as MANUAL, but only the instance of the kind `ephemeral` names
                                     (a cluster sets each kind on its own path) */
} cairn_health_mode;

/* What a change event reports. */
typedef enum cairn_change_kind {
    CAIRN_CHANGE_INSTANCES = 0, /* instances added, removed or changed */
    CAIRN_CHANGE_SERVICE = 1,   /* service definition created or changed */
    CAIRN_CHANGE_REMOVED = 2,   /* service deleted */
    CAIRN_CHANGE_TICK = 3,      /* nothing changed: the publisher's newest revision, now and then,
                                   so a follower notices a lost last event (cairn_follow.h) */
} cairn_change_kind;

/* ---- cluster replication (DISTRO_*, PERSIST_*) ------------------------------------------ */

/* How a DISTRO_APPLY weighs an incoming state against the one held (cairn_distro_rules.h). */
typedef enum cairn_distro_mode {
    CAIRN_DISTRO_SAME_ORIGIN = 0, /* only a newer version from the same writer (epoch) */
    CAIRN_DISTRO_OWNER = 1,       /* that, or any version from another writer: the sender owns
                                     the service in the receiver's view, or the receiver does
                                     not own it (§2.5.4) */
    CAIRN_DISTRO_FORCE = 2,       /* whatever is held (a snapshot load, a repair) */
} cairn_distro_mode;

/* What a DISTRO_APPLY did with each state (the reply's outcomes, in request order). */
typedef enum cairn_distro_outcome {
    CAIRN_DISTRO_APPLIED = 0,
    CAIRN_DISTRO_STALE = 1,    /* the version rules kept what is held; nothing changed */
    CAIRN_DISTRO_REJECTED = 2, /* the state is invalid (names, instances, limits); nothing changed */
} cairn_distro_outcome;

#define CAIRN_DISTRO_BUCKETS 256
#define CAIRN_DISTRO_DIGEST_LEN 16
/* Most services in one DISTRO_APPLY or DISTRO_FETCH, and the page size of the replies that
 * carry states (a page holds at least one state, however large). */
#define CAIRN_DISTRO_MAX_STATES 512
#define CAIRN_DISTRO_PAGE_MAX_BYTES (1024 * 1024)
/* Most services in one SERVICES_IN_USE; a sender with more sends several. 256 names at their
 * caps are about 100 KiB, so even a batch of 64 such messages stays far below the 16 MiB a
 * role takes in one request. */
#define CAIRN_IN_USE_MAX_SERVICES 256

/* The ephemeral state of one service: its key, version and ephemeral instances. An empty list
 * with a version is a tombstone. In DISTRO_FETCH requests only the key is used; in DISTRO_KEYS
 * replies the instances are left out and digest is the content digest (cairn_distro_digest.h). */
typedef struct cairn_distro_state {
    char *namespace_id;
    char *service; /* grouped name */
    cairn_distro_version version;
    bool has_digest;
    uint8_t digest[CAIRN_DISTRO_DIGEST_LEN];
    cairn_instance *instances;
    uint32_t instance_count;
} cairn_distro_state;

/* A DISTRO_DIGESTS reply: per bucket, the XOR of its services' entry digests and their count. */
typedef struct cairn_distro_digests {
    uint8_t digest[CAIRN_DISTRO_BUCKETS][CAIRN_DISTRO_DIGEST_LEN];
    uint32_t count[CAIRN_DISTRO_BUCKETS];
} cairn_distro_digests;

typedef enum cairn_persist_op { CAIRN_PERSIST_PUT = 0, CAIRN_PERSIST_DEL = 1 } cairn_persist_op;
typedef enum cairn_persist_kind {
    CAIRN_PERSIST_SERVICE = 0,
    CAIRN_PERSIST_INSTANCE = 1,
} cairn_persist_kind;

/* One record of the persistent (raft) state, as PERSIST_APPLY and PERSIST_REPLACE carry it:
 *  put service   service_def: the definition (threshold, metadata, selector, clusters with their
 *                checkers, defined); replaces the definition, keeps the instances
 *  del service   no value: the service goes with all its instances, ephemeral ones too
 *  put instance  instance: a persistent instance, keyed by (ip, port, cluster)
 *  del instance  instance: ip, port, cluster select the persistent instance to delete */
typedef struct cairn_persist_record {
    cairn_persist_op op;
    cairn_persist_kind kind;
    char *namespace_id;
    char *service; /* grouped name */
    bool has_value;
    cairn_service service_def; /* kind SERVICE */
    cairn_instance instance;   /* kind INSTANCE */
} cairn_persist_record;

void cairn_distro_state_free(cairn_distro_state *s);
void cairn_persist_record_free(cairn_persist_record *r);

/* A request to a role. Which fields are encoded, and which are required, depends on type:
 *
 *  type              fields (required*, optional)
 *  INSTANCE_UPSERT   ns*, svc*, instance*, mode
 *  INSTANCE_PATCH    ns*, svc*, instance* (ip, port, cluster select it; the rest are values), patch_mask*
 *  INSTANCE_REMOVE   ns*, svc*, instance* (ip, port, cluster, ephemeral)
 *  INSTANCE_GET      ns*, svc*, instance* (ip, port, cluster)
 *  SERVICE_GET       ns*, svc*
 *  SERVICE_PUT       ns*, svc*, service*, mode, held
 *  SERVICE_REMOVE    ns*, svc*, held
 *  SERVICE_LIST      ns*, group (prefix filter; "*" or empty = all), page_no, page_size, mode
 *                    (cairn_label_scope), filter ("key=value": split at the first '=', the
 *                    metadata value the scope must hold; with CAIRN_LABEL_NONE, unused)
 *  BEAT              ns*, svc*, instance* (ip, port, cluster; full instance when has_body), has_body
 *  STATS             (none)
 *  SNAPSHOT_PAGE     ns, svc (the cursor: the page starts after this (ns, svc); both "" or absent
 *                    to start), page_size* (services per page)
 *  INSTANCE_HEALTH   ns*, svc*, instance* (ip, port, cluster, ephemeral select it; healthy is the
 *                    new value), mode (cairn_health_mode). Unknown ip:port → OK, nothing changes.
 *  SUBSCRIPTION_SNAPSHOT page_no* (the asking pusher's pusher.index), page_size* (pusher.count)
 *  SERVICE_CATALOG   ns*, group (substring of the group), filter (substring of the bare name),
 *                    page_no (1-based; 0 reads as 1), page_size. Both filters are case-sensitive;
 *                    absent or "" matches everything.
 *  NAMESPACE_LIST    (none)
 *  DISTRO_APPLY      states* (≤ CAIRN_DISTRO_MAX_STATES, each with a version), mode
 *                    (cairn_distro_mode), load_id (non-zero: the states are a page of that
 *                    snapshot load)
 *  DISTRO_DIGESTS    owners, self: only services whose Distro owner among the sorted owners is
 *                    self (both absent: every service)
 *  DISTRO_KEYS       bucket*, owners, self (as DIGESTS), ns, svc (the cursor, as SNAPSHOT_PAGE),
 *                    page_size (most keys; 0: a default)
 *  DISTRO_FETCH      states* (their ns and svc name the services)
 *  DISTRO_SNAPSHOT   ns, svc (the cursor), page_size (most bytes of states; 0 or more than
 *                    CAIRN_DISTRO_PAGE_MAX_BYTES: that)
 *  DISTRO_LOAD_END   load_id*
 *  PERSIST_APPLY     first*, last* (the raft indexes the batch covers), records
 *  PERSIST_REPLACE   last* (the raft index of the state), records (every service definition
 *                    and persistent instance)
 *  INSTANCE_SET_OWNED ns*, svc*, owner*, instances (absent or empty: deregister). Replaces every
 *                    ephemeral instance of the service that owner holds by the list (each one's
 *                    owner is set to it); a v1 or other owner's instance at the same ip:port:
 *                    cluster is taken over (last writer owns it).
 *  OWNER_DROP        owner*, mode (cairn_owner_mode), owners, self: removes every instance of
 *                    the owner (or of every owner with that prefix, or of every other
 *                    incarnation of the node the owner names), in one transaction, one
 *                    change event per service; with owners or self, only in the services
 *                    selected as DISTRO_DIGESTS selects them. The reply's total counts the
 *                    instances removed.
 *  FORWARD           forward_to* (the owner's identity), inner* (an encoded request:
 *                    INSTANCE_UPSERT, _PATCH, _REMOVE, _HEALTH, BEAT or INSTANCE_SET_OWNED), deadline_ms* (this
 *                    host's CLOCK_MONOTONIC ms: past it the gateway has answered 503). The reply
 *                    is the owner's reply to the inner request, or CAIRN_E_UNAVAILABLE naming
 *                    the owner (docs/architecture.md, "Cluster: forwarding to the owner").
 *  RAFT_SUBMIT       cmd* (the write's own type: INSTANCE_UPSERT, INSTANCE_REMOVE, SERVICE_PUT,
 *                    SERVICE_REMOVE, ...), and that write's fields: ns*, svc*, instance,
 *                    service_def, mode, patch_mask (cairn_peer_raft.h wraps and unwraps it)
 *  SERVICES_IN_USE   states* (≤ CAIRN_IN_USE_MAX_SERVICES; as in DISTRO_FETCH only their ns and
 *                    svc are read): services that have a push or gRPC subscriber at the sender
 *                    now. Not a write: the registry notes the time in memory, and its
 *                    empty-service sweep keeps them (registry_sweep.h).
 */
typedef struct cairn_request {
    cairn_msg_type type;
    char *namespace_id;
    char *service; /* grouped name */
    bool has_instance;
    cairn_instance instance;
    bool has_service;
    cairn_service service_def;
    uint32_t mode;       /* cairn_upsert_mode or cairn_service_mode */
    uint32_t patch_mask; /* CAIRN_PATCH_* */
    bool has_body;       /* BEAT: the beat carried a JSON body (may re-register) */
    bool held; /* SERVICE_PUT, SERVICE_REMOVE as raft commands: the entry node's registry holds
                  the service, which then exists for the FSM even when the raft state does not
                  define it (a service made by ephemeral registrations is Distro's) */
    char *group;         /* SERVICE_LIST, SERVICE_CATALOG */
    char *filter;        /* SERVICE_CATALOG; SERVICE_LIST's label "key=value" */
    uint32_t page_no;
    uint32_t page_size;
    /* cluster replication */
    cairn_distro_state *states; /* DISTRO_APPLY, DISTRO_FETCH, SERVICES_IN_USE */
    uint32_t state_count;
    uint64_t load_id;           /* DISTRO_APPLY, DISTRO_LOAD_END */
    char **owners;              /* DISTRO_DIGESTS, DISTRO_KEYS, OWNER_DROP */
    uint32_t owner_count;
    char *self;                 /* DISTRO_DIGESTS, DISTRO_KEYS */
    uint32_t bucket;            /* DISTRO_KEYS */
    uint64_t first, last;       /* PERSIST_APPLY, PERSIST_REPLACE (last) */
    cairn_persist_record *records;
    uint32_t record_count;
    char *owner;                 /* INSTANCE_SET_OWNED, OWNER_DROP */
    cairn_instance *instances;   /* INSTANCE_SET_OWNED (malloc'd array) */
    uint32_t instance_count;
    /* FORWARD */
    char *forward_to;    /* the owner's identity (its cluster.members entry) */
    char *inner;         /* the encoded inner request (malloc'd) */
    size_t inner_len;
    int64_t deadline_ms; /* CLOCK_MONOTONIC ms of this host */
    uint32_t cmd;                /* RAFT_SUBMIT: the wrapped write's cairn_msg_type */
} cairn_request;

/* One service of a SERVICE_CATALOG page: what the console's service list shows. */
typedef struct cairn_service_summary {
    char *name;              /* grouped name */
    float protect_threshold;
    uint32_t cluster_count;  /* clusters defined or named by an instance */
    uint32_t instance_count; /* both kinds, disabled ones included */
    uint32_t healthy_count;  /* instances whose healthy flag is set */
} cairn_service_summary;

/* A reply. code/message always; the rest as the request type implies:
 *  INSTANCE_GET      instance (when code == OK)
 *  SERVICE_GET       snapshot
 *  SERVICE_LIST      names, total
 *  BEAT              beat_code (10200/20404), beat_interval_ms
 *  STATS             service_count, instance_count
 *  SNAPSHOT_PAGE     snapshots (in key order), more (true when another page follows), revision
 *                    (the store's revision when the page was read)
 *  SUBSCRIPTION_SNAPSHOT subscriptions (the live ones the pusher owns), revision (the sequence
 *                    number of the newest subscription published: the snapshot covers it)
 *  SERVICE_CATALOG   summaries (the page, in key order), total (services matching the filters)
 *  NAMESPACE_LIST    names (namespace ids in key order), total
 *  MEMBERS_GET       membership_msg (a MEMBERSHIP message; decode it with
 *                    cairn_membership_decode)
 *  writes            revision (of the service after the write; 0 when nothing changed)
 *  STATS             also store_epoch, store_fresh (the store has held no data but a partial
 *                    snapshot load since it was made), raft_applied (the persistent watermark)
 *  DISTRO_APPLY      outcomes (cairn_distro_outcome, one per state in request order)
 *  DISTRO_DIGESTS    digests, total (services counted), store_epoch
 *  DISTRO_KEYS       states (key, version, digest; no instances), more, cursor_ns/cursor_svc
 *  DISTRO_FETCH      states (one per requested key, in request order; version.epoch 0 and no
 *                    instances: nothing held)
 *  DISTRO_SNAPSHOT   states (key order), more, cursor_ns/cursor_svc (the next page starts after)
 *  DISTRO_LOAD_END   total (services whose ephemeral state was dropped)
 *  PERSIST_APPLY     raft_applied (the watermark after), skipped (the batch was at or below
 *  PERSIST_REPLACE   it and changed nothing), total (records applied)
 *  RAFT_SUBMIT       code/message: the write's verdict (as the registry would answer it);
 *                    raft_applied: the entry's raft index (committed, and applied by this
 *                    node's registry) when it entered the log
 */
typedef struct cairn_reply {
    cairn_err code;
    char *message; /* NULL or "" on success */
    uint64_t revision;
    bool has_instance;
    cairn_instance instance;
    bool has_snapshot;
    cairn_service_snapshot snapshot;
    char **names;
    uint32_t name_count;
    uint32_t total;
    int32_t beat_code;
    int64_t beat_interval_ms;
    uint64_t service_count;
    uint64_t instance_count;
    cairn_service_snapshot *snapshots;
    uint32_t snapshot_count;
    struct cairn_subscription *subscriptions;
    uint32_t subscription_count;
    bool more;
    cairn_service_summary *summaries;
    uint32_t summary_count;
    /* cluster replication */
    uint64_t store_epoch;
    bool store_fresh;
    uint64_t raft_applied;
    bool skipped;
    uint32_t *outcomes;
    uint32_t outcome_count;
    cairn_distro_digests *digests; /* malloc'd; freed by cairn_reply_free */
    cairn_distro_state *states;
    uint32_t state_count;
    char *cursor_ns;
    char *cursor_svc;
    /* MEMBERS_GET: a whole MEMBERSHIP message (cairn_membership_encode), owned (malloc'd) */
    char *membership_msg;
    size_t membership_len;
} cairn_reply;

/* A slice of bytes owned by someone else (a stored record, a decoded message). */
typedef struct cairn_bytes {
    const void *ptr;
    size_t len;
} cairn_bytes;

/* Copies of n slices and their bytes in one allocation (free() it); NULL when n is 0 or out of
 * memory. */
cairn_bytes *cairn_bytes_copy_all(const cairn_bytes *src, uint32_t n);

/* Published by the registry after the write that caused it is committed. */
typedef struct cairn_change_event {
    char *namespace_id;
    char *service;
    uint64_t revision;
    uint64_t prev_revision; /* the revision of the event published just before this one (the
                               chain of cairn_follow.h); 0 from a publisher that predates it */
    cairn_change_kind kind;
    int64_t at_ms; /* wall clock of the commit */
    /* The service as of exactly `revision`, encoded by cairn_snapshot_encode (the SERVICE_GET
     * reply's snapshot), so that a follower need not ask for it; NULL when the event carries
     * none (TICK and REMOVED events, a snapshot over registry.event_snapshot_max_bytes, a
     * publisher that predates the field): the follower then asks SERVICE_GET as before.
     * Borrowed, never freed by cairn_event_free: when encoding, the caller's; after
     * cairn_event_decode it points into the decoded buffer and is valid as long as that buffer
     * is. Decoding an event therefore costs nothing for the snapshot; a follower that wants it
     * decodes it with cairn_snapshot_decode (or copies the bytes to keep them). */
    const char *snapshot;
    size_t snapshot_len;
    /* What the commit changed in the service, when that is smaller than the service: `delta`
     * is encoded as a snapshot (cairn_snapshot_decode) that holds the service record and only
     * the instances the commit wrote, as they are at `revision`; `gone` lists the store keys
     * (cairn_keys.h) of the instances it removed. The rest of the service is as the follower
     * last saw it: a follower applies a delta to the state it holds (at the revision of the
     * service's previous event, or newer: then the delta is no news), and reads the service
     * when it holds none. An event may carry a delta, the snapshot, or both (a service with
     * subscribers: the pushers want the whole). Both are borrowed like `snapshot`; after
     * cairn_event_decode the `gone` array is malloc'd and freed by cairn_event_free. */
    const char *delta;
    size_t delta_len;
    const cairn_bytes *gone;
    uint32_t gone_count;
} cairn_change_event;

/* Largest change event a subscriber must accept: a snapshot and a delta with its removed keys,
 * each at the largest registry.event_snapshot_max_bytes, plus the event's other fields (bounded
 * by the name caps).
 * Subscribers set it as their socket's receive limit; nng drops the connection on a larger
 * message. CAIRN_EVENT_SNAPSHOT_MAX_BYTES is the key's maximum in cairn_config_keys.c. */
#define CAIRN_EVENT_SNAPSHOT_MAX_BYTES (1024 * 1024)
#define CAIRN_EVENT_MAX_BYTES (2 * CAIRN_EVENT_SNAPSHOT_MAX_BYTES + 4096)

/* Published by the gateway when an instance/list request asks for UDP pushes (§12.1); the pusher
 * owning the service adds or refreshes the subscriber. */
typedef struct cairn_subscription {
    char *namespace_id;
    char *service;  /* grouped name */
    char *clusters; /* the request's clusters parameter, verbatim ("" for all) */
    char *ip;       /* push destination */
    int32_t port;   /* push destination (udpPort) */
    char *agent;    /* User-Agent (or Client-Version) of the subscriber */
    int64_t at_ms;  /* wall clock of the list request */
    uint64_t seq;   /* the gateway's publication number (the chain of cairn_follow.h: the one
                       before is seq - 1); 0 inside a SUBSCRIPTION_SNAPSHOT reply */
} cairn_subscription;

/* ---- encoding: each returns CAIRN_OK and a malloc'd buffer the caller frees -------------- */
cairn_err cairn_request_encode(const cairn_request *req, char **out, size_t *out_len);
cairn_err cairn_reply_encode(const cairn_reply *rep, char **out, size_t *out_len);
cairn_err cairn_event_encode(const cairn_change_event *ev, char **out, size_t *out_len);
cairn_err cairn_subscription_encode(const cairn_subscription *sub, char **out, size_t *out_len);

/* ---- decoding: on error *st says what was wrong and the output is left freed ------------- */
/* The type of a message without decoding the rest (CAIRN_E_DECODE if it has none). */
cairn_err cairn_msg_peek_type(const char *buf, size_t len, cairn_msg_type *type, cairn_status *st);
cairn_err cairn_request_decode(const char *buf, size_t len, cairn_request *req, cairn_status *st);
cairn_err cairn_reply_decode(const char *buf, size_t len, cairn_reply *rep, cairn_status *st);
cairn_err cairn_event_decode(const char *buf, size_t len, cairn_change_event *ev, cairn_status *st);
cairn_err cairn_subscription_decode(const char *buf, size_t len, cairn_subscription *sub,
                                    cairn_status *st);

void cairn_request_init(cairn_request *req, cairn_msg_type type);
void cairn_request_free(cairn_request *req);
void cairn_reply_init(cairn_reply *rep);
void cairn_reply_free(cairn_reply *rep);
/* Sets code and a copy of the status message. */
void cairn_reply_set_status(cairn_reply *rep, const cairn_status *st);
/* Replaces whatever rep holds with the error in st (a failed request carries no payload). */
void cairn_reply_fail(cairn_reply *rep, const cairn_status *st);
void cairn_event_free(cairn_change_event *ev);
void cairn_subscription_free(cairn_subscription *sub);

/* ---- building blocks, also used for the registry's stored values ------------------------- */
int cairn_pack_instance(msgpack_packer *pk, const cairn_instance *in);
int cairn_pack_service(msgpack_packer *pk, const cairn_service *svc);
cairn_err cairn_unpack_instance(const msgpack_object *obj, cairn_instance *in, cairn_status *st);
cairn_err cairn_unpack_service(const msgpack_object *obj, cairn_service *svc, cairn_status *st);
/* Whole-buffer forms of the above (a single msgpack object in buf). */
cairn_err cairn_instance_encode(const cairn_instance *in, char **out, size_t *out_len);
cairn_err cairn_instance_decode(const char *buf, size_t len, cairn_instance *in, cairn_status *st);
cairn_err cairn_service_encode(const cairn_service *svc, char **out, size_t *out_len);
cairn_err cairn_service_decode(const char *buf, size_t len, cairn_service *svc, cairn_status *st);
/* A service snapshot alone, as a SERVICE_GET reply carries it ("snap") and a change event
 * carries it encoded (cairn_change_event.snapshot). Decoding fills *snap (free it with
 * cairn_service_snapshot_free; left freed on error). */
cairn_err cairn_snapshot_encode(const cairn_service_snapshot *snap, char **out, size_t *out_len);
cairn_err cairn_snapshot_decode(const char *buf, size_t len, cairn_service_snapshot *snap,
                                cairn_status *st);
/* A snapshot of a found service from values already encoded by cairn_service_encode and
 * cairn_instance_encode (the registry's stored records), copied instead of decoded and encoded
 * again: the same bytes as cairn_snapshot_encode of the decoded values. The slices are only
 * read during the call. */
cairn_err cairn_snapshot_assemble(cairn_bytes service, const cairn_bytes *instances,
                                  uint32_t count, char **out, size_t *out_len);

/* ---- cluster membership (40-49; codec in cairn_msg_membership.c) --------------------------- */

/* A member as this node sees it (cluster-design §2.9; Nacos's names). Wire values are fixed. */
typedef enum cairn_member_state {
    CAIRN_MEMBER_DOWN = 0,       /* fail_count missed pings, a refused redial, or STOPPING */
    CAIRN_MEMBER_STARTING = 1,   /* reachable, not (yet cluster.up_pings times) READY */
    CAIRN_MEMBER_SUSPICIOUS = 2, /* 1 .. fail_count-1 missed pings; still owns its services */
    CAIRN_MEMBER_UP = 3,         /* READY and answering */
} cairn_member_state;

/* "DOWN", "STARTING", "SUSPICIOUS", "UP" ("UNKNOWN" otherwise). */
const char *cairn_member_state_name(cairn_member_state s);

typedef struct cairn_member_info {
    char *id;           /* identity: the cluster.members entry */
    cairn_member_state state;
    bool self;
    bool ready;         /* its phase is READY (distroReady) */
    bool members_match; /* its cluster.members hash equals ours (self: true) */
    uint32_t fail_count; /* missed pings in a row */
    char *peer_address; /* advertised (or, until learned, the default dialed) */
    char *raft_address;
    int64_t last_refresh_ms; /* wall clock of its last answer (self: now); 0 never */
    char *raft_role;    /* "none" until the raft module reports */
    uint64_t raft_term;
    char *raft_leader;  /* "" when none */
    uint64_t raft_applied;
    uint64_t raft_id;   /* its raft server id (FNV-1a 64 of id, replicator/raft_ids.h) */
    uint64_t view_hash; /* the owner-list hash it last reported (self: its own); 0: not heard.
                         * A peer's changes when it sees a member go DOWN or come back, also
                         * this node, which this node's own view may never show (cairn-grpc
                         * re-sends its connections' instances then) */
} cairn_member_info;

/* MEMBERSHIP, published by the replicator on every change (and now and then), and the reply to
 * MEMBERS_GET. Fields: view (view_version), self, ready, owners (array of ids, sorted by
 * strcmp: the Distro owner list), members (array of member maps: id, state, self, ready, match,
 * fails, peer, raft, refresh, rrole, rterm, rlead, rapplied, rid, vhash). All required but
 * vhash (0 when absent). */
typedef struct cairn_membership {
    uint64_t view_version;
    char *self;
    bool self_ready;
    char **owners;
    uint32_t owner_count;
    cairn_member_info *members; /* in cluster.members order */
    uint32_t member_count;
} cairn_membership;

#define CAIRN_MEMBERSHIP_MAX_BYTES (256 * 1024) /* SUB receive limit: 64 members fit easily */

cairn_err cairn_membership_encode(const cairn_membership *m, char **out, size_t *out_len);
cairn_err cairn_membership_decode(const char *buf, size_t len, cairn_membership *m,
                                  cairn_status *st);
void cairn_membership_free(cairn_membership *m);
/* A MEMBERS_GET request (allocates nothing). */
void cairn_request_members_get(cairn_request *req);

/* One message on the registry's event socket holds one commit's change events back to back
 * (each a whole cairn_event_encode'd message), as many as fit CAIRN_EVENT_PACK_BYTES; an event
 * larger than that goes alone. A follower reads each with cairn_event_next, then decodes it:
 * one message and one wake-up per commit and follower instead of one per event. */
#define CAIRN_EVENT_PACK_BYTES (64 * 1024)
/* The length of the first event of buf (len > 0); CAIRN_E_DECODE when it is malformed or
 * truncated (the rest of the message is then unreadable). */
cairn_err cairn_event_next(const char *buf, size_t len, size_t *event_len, cairn_status *st);
/* Calls one(arg, event, event_len) for each event of a message in order (each still encoded:
 * decode it with cairn_event_decode). CAIRN_E_DECODE when the framing breaks; the events before
 * the break were handed out, the rest of the message is unreadable. */
cairn_err cairn_event_each(const char *buf, size_t len,
                           void (*one)(void *arg, const char *event, size_t event_len), void *arg,
                           cairn_status *st);

#endif
