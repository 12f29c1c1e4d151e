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
    CAIRN_MSG__END
} cairn_msg_type;

/* A stable snake_case name of a message type ("instance_upsert"), for logs and metric labels;
 * "unknown" for anything that is not a cairn_msg_type. */
const char *cairn_msg_type_name(cairn_msg_type type);

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
};

/* How a SERVICE_PUT treats an existing / missing service. */
typedef enum cairn_service_mode {
    CAIRN_SERVICE_CREATE = 0, /* exists → 400 `specified service already exists, ...` */
    CAIRN_SERVICE_UPDATE = 1, /* missing → 400 `service <svc> not found!` */
    CAIRN_SERVICE_CLUSTERS = 2, /* PUT /cluster (§6): add or replace the clusters in service_def by
                                   name, nothing else; missing service → 400 `service not found:<svc>` */
} cairn_service_mode;

/* Who sets health in an INSTANCE_HEALTH. */
typedef enum cairn_health_mode {
    CAIRN_HEALTH_BY_CHECKER = 0, /* beat expiry, beat revival, active probe: skipped when marked */
    CAIRN_HEALTH_MANUAL = 1,     /* PUT /health/instance (§5): only where the cluster's checker is
                                    NONE, else 400 `health check is still working, service: <svc>` */
} cairn_health_mode;

/* What a change event reports. */
typedef enum cairn_change_kind {
    CAIRN_CHANGE_INSTANCES = 0, /* instances added, removed or changed */
    CAIRN_CHANGE_SERVICE = 1,   /* service definition created or changed */
    CAIRN_CHANGE_REMOVED = 2,   /* service deleted */
    CAIRN_CHANGE_TICK = 3,      /* nothing changed: the publisher's newest revision, now and then,
                                   so a follower notices a lost last event (cairn_follow.h) */
} cairn_change_kind;

/* A request to a role. Which fields are encoded, and which are required, depends on type:
 *
 *  type              fields (required*, optional)
 *  INSTANCE_UPSERT   ns*, svc*, instance*, mode
 *  INSTANCE_PATCH    ns*, svc*, instance* (ip, port, cluster select it; the rest are values), patch_mask*
 *  INSTANCE_REMOVE   ns*, svc*, instance* (ip, port, cluster, ephemeral)
 *  INSTANCE_GET      ns*, svc*, instance* (ip, port, cluster)
 *  SERVICE_GET       ns*, svc*
 *  SERVICE_PUT       ns*, svc*, service*, mode
 *  SERVICE_REMOVE    ns*, svc*
 *  SERVICE_LIST      ns*, group (prefix filter; "*" or empty = all), page_no, page_size
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
    char *group;         /* SERVICE_LIST, SERVICE_CATALOG */
    char *filter;        /* SERVICE_CATALOG */
    uint32_t page_no;
    uint32_t page_size;
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
 *  writes            revision (of the service after the write; 0 when nothing changed)
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
} cairn_reply;

/* Published by the registry after the write that caused it is committed. */
typedef struct cairn_change_event {
    char *namespace_id;
    char *service;
    uint64_t revision;
    uint64_t prev_revision; /* the revision of the event published just before this one (the
                               chain of cairn_follow.h); 0 from a publisher that predates it */
    cairn_change_kind kind;
    int64_t at_ms; /* wall clock of the commit */
} cairn_change_event;

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

#endif
