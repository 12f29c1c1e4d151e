/* Cairn's data model: namespace → service (grouped name "group@@name") → cluster → instance, and
 * the validation rules every entry point applies. The Nacos rules quoted in messages come from the
 * wire-protocol spec (§1.3, §1.4, §2.1); messages are kept word for word because clients and
 * operators match on them. */
#ifndef CAIRN_MODEL_H
#define CAIRN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"

#define CAIRN_DEFAULT_NAMESPACE "public"
#define CAIRN_DEFAULT_GROUP "DEFAULT_GROUP"
#define CAIRN_DEFAULT_CLUSTER "DEFAULT"
#define CAIRN_GROUP_SEPARATOR "@@"
#define CAIRN_DEFAULT_APP "DEFAULT"

/* An instance's cluster name as stored and keyed: a missing or empty one is DEFAULT. */
static inline const char *cairn_cluster_or_default(const char *cluster)
{
    return cluster && *cluster ? cluster : CAIRN_DEFAULT_CLUSTER;
}

/* Length caps (bytes). Nacos has none; Cairn needs them so that every instance key fits LMDB's
 * 511-byte key limit (see cairn_keys.h): 128 + 240 + 64 + 64 plus separators and port < 511. */
#define CAIRN_MAX_NAMESPACE_LEN 128
#define CAIRN_MAX_SERVICE_LEN 240 /* grouped name */
#define CAIRN_MAX_CLUSTER_LEN 64
#define CAIRN_MAX_IP_LEN 64

#define CAIRN_WEIGHT_MIN 0.0
#define CAIRN_WEIGHT_MAX 10000.0
#define CAIRN_WEIGHT_FLOOR 0.01 /* weights in (0, 0.01) are raised to this on store */

/* Per-instance timing overrides carried in metadata (§1.4); a value counts only if all digits. */
#define CAIRN_META_BEAT_INTERVAL "preserved.heart.beat.interval"
#define CAIRN_META_BEAT_TIMEOUT "preserved.heart.beat.timeout"
#define CAIRN_META_DELETE_TIMEOUT "preserved.ip.delete.timeout"
#define CAIRN_META_ID_GENERATOR "preserved.instance.id.generator"
#define CAIRN_DEFAULT_BEAT_INTERVAL_MS 5000
#define CAIRN_DEFAULT_BEAT_TIMEOUT_MS 15000
#define CAIRN_DEFAULT_DELETE_TIMEOUT_MS 30000

/* Beat response codes (§1.7). */
#define CAIRN_BEAT_CODE_OK 10200
#define CAIRN_BEAT_CODE_NOT_FOUND 20404

typedef struct cairn_kv {
    char *key;
    char *value;
} cairn_kv;

/* String → string map, kept sorted by key (so encodings and checksums are canonical). */
typedef struct cairn_metadata {
    cairn_kv *items;
    uint32_t len;
} cairn_metadata;

typedef enum cairn_check_type {
    CAIRN_CHECK_TCP = 0, /* Nacos' default checker for a cluster */
    CAIRN_CHECK_HTTP,
    CAIRN_CHECK_NONE, /* health is client-reported / set by PUT /health/instance */
    CAIRN_CHECK_MYSQL,
    CAIRN_CHECK__COUNT
} cairn_check_type;

typedef struct cairn_cluster {
    char *name;
    cairn_check_type check_type;
    char *check_path;              /* HTTP checker */
    int32_t check_expected_status; /* HTTP checker, default 200 */
    int32_t check_port;            /* 0: use the instance port */
    bool use_instance_port;
    cairn_metadata metadata;
} cairn_cluster;

typedef struct cairn_instance {
    char *ip;
    int32_t port;
    char *cluster;
    char *instance_id;
    char *app;
    double weight;
    bool healthy;
    bool enabled;
    bool ephemeral;
    bool marked; /* health set by hand: the beat checker leaves it alone */
    cairn_metadata metadata;
    int64_t modified_ms; /* wall clock of the last write */
    /* Who keeps an ephemeral instance alive: NULL or "" for a v1 client (beats), or
     * "grpc/<node>/<incarnation>/<connection id>" for a gRPC connection (cairn-grpc), whose
     * instances get no beats and go when the connection's owner is dropped (OWNER_DROP). */
    char *owner;
} cairn_instance;

/* The version of a service's ephemeral state (Distro, cluster-design §2.5.4): the store that
 * wrote it (epoch: a random non-zero id made once with that node's LMDB store) and that store's
 * revision of the service at the write (seq). origin names the member that wrote it when the
 * replicator said so; NULL for a write of this node's own (its identity is the replicator's
 * business) or when unknown. Two versions come from the same writer exactly when their epochs
 * are equal: the epoch alone identifies the writing store. */
typedef struct cairn_distro_version {
    uint64_t epoch; /* 0: no version (no ephemeral state was ever written with one) */
    uint64_t seq;
    char *origin;
} cairn_distro_version;

typedef struct cairn_service {
    char *namespace_id;
    char *name; /* grouped: group@@name */
    float protect_threshold;
    cairn_metadata metadata;
    char *selector_json; /* {"type":"none"} unless set */
    cairn_cluster *clusters;
    uint32_t cluster_count;
    bool defined;         /* created through the service API (a persistent definition) */
    uint64_t revision;    /* bumped by every change to the service or its instances */
    int64_t modified_ms;  /* wall clock of the last change */
    cairn_distro_version distro; /* of the ephemeral instances (cluster replication) */
} cairn_service;

/* A service with all its instances (both ephemeral and persistent), as one consistent read. */
typedef struct cairn_service_snapshot {
    bool found;
    cairn_service service;
    cairn_instance *instances;
    uint32_t instance_count;
} cairn_service_snapshot;

/* ---- lifetime ---------------------------------------------------------------------------- */
void cairn_metadata_free(cairn_metadata *md);
cairn_err cairn_metadata_copy(cairn_metadata *dst, const cairn_metadata *src);
/* Sets key to value (copies both), keeping the map sorted; replaces an existing value. */
cairn_err cairn_metadata_set(cairn_metadata *md, const char *key, const char *value);
bool cairn_metadata_remove(cairn_metadata *md, const char *key);
const char *cairn_metadata_get(const cairn_metadata *md, const char *key);
/* The metadata timing override for key in milliseconds, or dflt when absent or not all digits. */
int64_t cairn_metadata_millis(const cairn_metadata *md, const char *key, int64_t dflt);

void cairn_cluster_free(cairn_cluster *c);
cairn_err cairn_cluster_copy(cairn_cluster *dst, const cairn_cluster *src);
void cairn_cluster_init_default(cairn_cluster *c); /* TCP checker, empty metadata, no name */

void cairn_instance_init(cairn_instance *in); /* defaults: weight 1, healthy, enabled, ephemeral */
void cairn_instance_free(cairn_instance *in);
cairn_err cairn_instance_copy(cairn_instance *dst, const cairn_instance *src);

void cairn_service_init(cairn_service *svc); /* threshold 0, selector none, no clusters */
void cairn_service_free(cairn_service *svc);
cairn_err cairn_service_copy(cairn_service *dst, const cairn_service *src);
const cairn_cluster *cairn_service_find_cluster(const cairn_service *svc, const char *name);
/* Whether svc holds only what registrations give a service: never defined through the service
 * API, and every cluster as cairn_cluster_init_default made it (a checker or metadata someone
 * set is configuration, not a leftover). Only such a service goes once it is empty: the
 * registry's empty-service sweep and the raft state's last persistent deregistration. */
bool cairn_service_is_implicit(const cairn_service *svc);

void cairn_service_snapshot_free(cairn_service_snapshot *snap);

void cairn_distro_version_free(cairn_distro_version *v);
cairn_err cairn_distro_version_copy(cairn_distro_version *dst, const cairn_distro_version *src);

/* ---- names (§1.3) ------------------------------------------------------------------------ */
/* The grouped name for (serviceName, groupName) per the Nacos filter rewrite: a name already
 * containing "@@" is kept, otherwise groupName (blank → DEFAULT_GROUP) + "@@" + name. Returns a
 * malloc'd string, or NULL when service_name is blank. */
char *cairn_grouped_name(const char *service_name, const char *group_name);
/* Length caps above: 400 `Param '<param>' is too long (max N bytes)`. */
cairn_err cairn_check_length(const char *param, const char *value, size_t max, cairn_status *st);
/* The NamingUtils format check on a grouped name (400 messages of §1.3). */
cairn_err cairn_check_grouped_format(const char *grouped, cairn_status *st);
/* Character rules checked when a service or cluster is created. */
cairn_err cairn_check_service_chars(const char *grouped, cairn_status *st);
cairn_err cairn_check_cluster_chars(const char *cluster, cairn_status *st);
/* Part before / after "@@" (group defaults to DEFAULT_GROUP); results point into a caller buffer. */
void cairn_split_grouped(const char *grouped, char *group, size_t group_len, char *name,
                         size_t name_len);

/* ---- parsing with Java semantics (§1.2, §2.1) ------------------------------------------- */
/* Integer.parseInt: optional sign, decimal digits, int32 range; else 400 `For input string: "x"`. */
cairn_err cairn_parse_java_int(const char *s, int32_t *out, cairn_status *st);
/* Double.parseDouble (finite decimal forms); else 400 `For input string: "x"`. */
cairn_err cairn_parse_java_double(const char *s, double *out, cairn_status *st);
/* BooleanUtils.toBoolean: true/on/yes/y/t, case-insensitive; anything else false. */
bool cairn_parse_bool_lenient(const char *s);
/* Boolean.parseBoolean: only "true", case-insensitive. */
bool cairn_parse_bool_strict(const char *s);
/* Metadata as a JSON object (scalars become strings) or as `k1=v1,k2=v2`; else 400
 * `metadata format incorrect:<raw>`. Enforces max_bytes (0: no limit) on the raw text. */
cairn_err cairn_parse_metadata(const char *raw, size_t max_bytes, cairn_metadata *out,
                               cairn_status *st);

/* ---- limits (the limits.* configuration keys) ---------------------------------------------- */
/* What one write may store. The gateway checks them on the text it parses; the registry checks
 * them again on every write it is sent, since any local process can reach its socket. */
typedef struct cairn_limits {
    size_t max_metadata_bytes; /* limits.max_metadata_bytes; 0: no limit */
} cairn_limits;
/* The bytes of a metadata map as the limit counts them: its keys and values. Never more than the
 * JSON or k=v text the map was parsed from (quotes, colons and separators outweigh the two bytes
 * a JSON number can gain as text), so text the gateway accepted is accepted here too. */
size_t cairn_metadata_bytes(const cairn_metadata *md);
/* Each metadata map within max_metadata_bytes (400 `Param 'metadata' is too long (max N bytes)`,
 * the gateway's words), and each free-text value (app, health check path, selector) within the
 * same number of bytes (400 `Param '<name>' is too long (max N bytes)`). */
cairn_err cairn_instance_check_limits(const cairn_instance *in, const cairn_limits *l,
                                      cairn_status *st);
/* The service's metadata and selector, and each cluster's name (cap and characters), metadata
 * and check path. */
cairn_err cairn_service_check_limits(const cairn_service *svc, const cairn_limits *l,
                                     cairn_status *st);

/* ---- instance rules ---------------------------------------------------------------------- */
/* Weight bounds (400 `instance format invalid: The weights range from 0.0 to 10000.0`), ip and
 * cluster presence, cluster characters. */
cairn_err cairn_instance_validate(const cairn_instance *in, cairn_status *st);
/* Clamp rules applied when an instance is stored (§2.1 step 5). */
void cairn_instance_normalize_weight(cairn_instance *in);
/* The default ("simple") instanceId: ip#port#cluster#grouped. Returns malloc'd string. */
char *cairn_instance_default_id(const char *ip, int32_t port, const char *cluster,
                                const char *grouped);

#endif
