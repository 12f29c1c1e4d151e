/* The msgpack encoding of every inter-role message (schema rules in cairn_msg.h).
 *
 * Field names on the wire. They are part of the wire format: never rename one, only add.
 * Fields are written in the order listed, so an encoding is deterministic (golden bytes in
 * tests/unit/test_msg.c). "-" marks a field that is omitted when its value is NULL (strings) or,
 * in replies, zero / absent; a decoder then leaves the field at its default.
 *
 *  every message   t     uint    cairn_msg_type
 *                  v     uint    CAIRN_MSG_VERSION
 *  request         ns    str     namespace_id      (all types but STATS; "-" in SNAPSHOT_PAGE)
 *                  svc   str     service           (all types but SERVICE_LIST, STATS; "-" in
 *                                                   SNAPSHOT_PAGE)
 *                  inst  map     instance          (INSTANCE_*, BEAT)
 *                  svcdef map    service_def       (SERVICE_PUT)
 *                  mode  uint    mode              (INSTANCE_UPSERT, SERVICE_PUT, INSTANCE_HEALTH,
 *                                                   SERVICE_LIST)
 *                  mask  uint    patch_mask        (INSTANCE_PATCH)
 *                  body  bool    has_body          (BEAT)
 *                  held  bool -  held              (SERVICE_PUT, SERVICE_REMOVE; only when true)
 *                  group str -   group             (SERVICE_LIST, SERVICE_CATALOG)
 *                  filter str -  filter            (SERVICE_CATALOG, SERVICE_LIST)
 *                  page  uint    page_no           (SERVICE_LIST, SERVICE_CATALOG)
 *                  size  uint    page_size         (SERVICE_LIST, SNAPSHOT_PAGE, SERVICE_CATALOG,
 *                                                   DISTRO_KEYS, DISTRO_SNAPSHOT)
 *                  states array  states (state maps)   (DISTRO_APPLY, DISTRO_FETCH,
 *                                                   SERVICES_IN_USE)
 *                  load  uint -  load_id           (DISTRO_APPLY; required in DISTRO_LOAD_END)
 *                  owners array - owners (str)     (DISTRO_DIGESTS, DISTRO_KEYS, OWNER_DROP;
 *                                                   when any)
 *                  self  str -   self              (DISTRO_DIGESTS, DISTRO_KEYS, OWNER_DROP)
 *                  bucket uint   bucket            (DISTRO_KEYS)
 *                  first uint    first             (PERSIST_APPLY)
 *                  last  uint    last              (PERSIST_APPLY, PERSIST_REPLACE)
 *                  recs  array   records (record maps)  (PERSIST_APPLY, PERSIST_REPLACE)
 *                  owner str     owner             (INSTANCE_SET_OWNED, OWNER_DROP)
 *                  insts array - instances (instance maps)  (INSTANCE_SET_OWNED; written when
 *                                                   instance_count > 0)
 *                  to    str     forward_to        (FORWARD)
 *                  inner bin     inner             (FORWARD: an encoded request)
 *                  dl    int     deadline_ms       (FORWARD)
 *                  cmd   uint    cmd               (RAFT_SUBMIT: the wrapped write's type)
 *  reply           code  uint    code (cairn_err)
 *                  msg   str -   message
 *                  rev   uint -  revision
 *                  inst  map -   instance          (when has_instance)
 *                  snap  map -   snapshot          (when has_snapshot)
 *                  names array - names (str)       (when name_count > 0)
 *                  total uint -  total
 *                  bcode int -   beat_code
 *                  bint  int -   beat_interval_ms
 *                  nsvc  uint -  service_count
 *                  ninst uint -  instance_count
 *                  snaps array - snapshots (snapshot maps)  (when snapshot_count > 0)
 *                  subs  array - subscriptions (subscription maps without t/v)
 *                                                  (when subscription_count > 0)
 *                  more  bool -  more              (when true)
 *                  sums  array - summaries (summary maps)  (when summary_count > 0)
 *                  epoch uint -  store_epoch
 *                  fresh bool -  store_fresh       (when true)
 *                  rwm   uint -  raft_applied
 *                  skip  bool -  skipped           (when true)
 *                  outs  array - outcomes (uint)   (when outcome_count > 0)
 *                  bdig  bin -   digests->digest   (when digests; 256 x 16 bytes)
 *                  bcnt  array - digests->count    (when digests; 256 uint)
 *                  states array - states (state maps)  (when state_count > 0)
 *                  cns   str -   cursor_ns
 *                  csvc  str -   cursor_svc
 *                  mship bin -   membership_msg    (when non-NULL: a MEMBERSHIP message)
 *  event           ns    str     namespace_id
 *                  svc   str     service
 *                  rev   uint    revision
 *                  kind  uint    kind (cairn_change_kind)
 *                  at    int     at_ms             (optional when decoding)
 *                  prev  uint -  prev_revision     (written when non-zero)
 *                  snap  bin -   snapshot          (written when non-NULL: the bytes of
 *                                                   cairn_snapshot_encode, a snapshot map;
 *                                                   a bin so that decoding the event leaves
 *                                                   them undecoded)
 *                  delta bin -   delta             (written when non-NULL: encoded as snap)
 *                  gone  arr -   gone              (bins: removed instances' store keys;
 *                                                   written when any, only with delta)
 *  subscription    ns    str     namespace_id      (required)
 *                  svc   str     service           (required)
 *                  clusters str  clusters          (NULL is written as ""; decoder default "")
 *                  ip    str     ip                (required)
 *                  port  int     port              (required, int32)
 *                  agent str     agent             (NULL is written as ""; decoder default "")
 *                  at    int     at_ms             (optional when decoding)
 *                  seq   uint -  seq               (written when non-zero)
 *  instance        ip    str     ip                (required)
 *                  port  int     port              (required, int32)
 *                  cluster str - cluster
 *                  id    str -   instance_id
 *                  app   str -   app
 *                  weight float64 weight           (decoder also takes float32 and integers)
 *                  healthy, enabled, ephemeral, marked   bool
 *                  meta  map     metadata (str → str, sorted by key)
 *                  mtime int     modified_ms
 *                  owner str -   owner             (written when non-empty)
 *  service         ns    str -   namespace_id
 *                  name  str -   name (grouped)
 *                  pt    float32 protect_threshold (decoder also takes float64 and integers)
 *                  meta  map     metadata
 *                  sel   str -   selector_json
 *                  clusters array of cluster maps
 *                  defined bool  defined
 *                  rev   uint    revision
 *                  mtime int     modified_ms
 *  cluster         name  str -   name
 *                  check uint    check_type (cairn_check_type)
 *                  path  str -   check_path
 *                  status int    check_expected_status (int32)
 *                  cport int     check_port (int32)
 *                  useport bool  use_instance_port
 *                  meta  map     metadata
 *  summary         name  str     name (grouped)    (required)
 *                  pt    float32 protect_threshold (decoder also takes float64 and integers)
 *                  clusters uint cluster_count     (uint32)
 *                  insts uint    instance_count    (uint32)
 *                  healthy uint  healthy_count     (uint32)
 *  snapshot        found bool    found             (required)
 *                  svc   map     service
 *                  insts array   instances
 *  service (cont.) dep   uint -  distro.epoch      (written when non-zero)
 *                  dseq  uint -  distro.seq        (with dep)
 *                  dorg  str -   distro.origin     (with dep, when non-NULL)
 *  state           ns    str     namespace_id      (required)
 *                  svc   str     service           (required)
 *                  ep    uint    version.epoch
 *                  seq   uint    version.seq
 *                  org   str -   version.origin
 *                  dig   bin -   digest            (when has_digest; 16 bytes)
 *                  insts array   instances
 *  record          op    uint    op (cairn_persist_op)      (required)
 *                  kind  uint    kind (cairn_persist_kind)  (required)
 *                  ns    str     namespace_id      (required)
 *                  svc   str     service           (required)
 *                  val   map -   service_def or instance, by kind (when has_value; required
 *                                but for a service delete)
 */
#include "cairn_msg.h"

#include "cairn_keys.h"
#include "cairn_msgpack_codec.h"

#include <stdlib.h>
#include <string.h>

/* Which request fields each type carries (the table in cairn_msg.h). */
enum {
    RQ_NS = 1u << 0,
    RQ_SVC = 1u << 1,
    RQ_INST = 1u << 2,
    RQ_SVCDEF = 1u << 3,
    RQ_MODE = 1u << 4,
    RQ_MASK = 1u << 5,
    RQ_BODY = 1u << 6,
    RQ_LIST = 1u << 7, /* group, page */
    RQ_SIZE = 1u << 8,
    RQ_FILTER = 1u << 9,
    /* cluster replication */
    RQ_STATES = 1u << 10,
    RQ_LOAD = 1u << 11,
    RQ_OWNERS = 1u << 12, /* owners, self */
    RQ_BUCKET = 1u << 13,
    RQ_FIRST = 1u << 14,
    RQ_LAST = 1u << 15,
    RQ_RECORDS = 1u << 16,
    RQ_OWNER = 1u << 17,
    RQ_INSTS = 1u << 18,
    RQ_FWD = 1u << 19, /* forward_to, inner, deadline_ms */
    RQ_CMD = 1u << 20,
    RQ_HELD = 1u << 21, /* written only when true */
};

/* Every message type: the one list of them. A new message is an entry here (and its encoder and
 * decoder below); a new request type only an entry. A type is a request exactly when `request`
 * is set. */
static const struct msg_type_info {
    const char *name;  /* cairn_msg_type_name */
    bool request;
    uint32_t fields;   /* RQ_*: encoded */
    uint32_t required; /* RQ_*: must be present when decoding */
    uint32_t mode_max; /* RQ_MODE: the largest mode value the type takes */
} msg_types[CAIRN_MSG__END] = {
    [CAIRN_MSG_REPLY] = {"reply"},
    [CAIRN_MSG_INSTANCE_UPSERT] = {"instance_upsert", true, RQ_NS | RQ_SVC | RQ_INST | RQ_MODE,
                                   RQ_NS | RQ_SVC | RQ_INST, CAIRN_UPSERT_MUST_EXIST},
    [CAIRN_MSG_INSTANCE_PATCH] = {"instance_patch", true, RQ_NS | RQ_SVC | RQ_INST | RQ_MASK,
                                  RQ_NS | RQ_SVC | RQ_INST | RQ_MASK},
    [CAIRN_MSG_INSTANCE_REMOVE] = {"instance_remove", true, RQ_NS | RQ_SVC | RQ_INST,
                                   RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_INSTANCE_GET] = {"instance_get", true, RQ_NS | RQ_SVC | RQ_INST,
                                RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_SERVICE_GET] = {"service_get", true, RQ_NS | RQ_SVC, RQ_NS | RQ_SVC},
    [CAIRN_MSG_SERVICE_PUT] = {"service_put", true,
                               RQ_NS | RQ_SVC | RQ_SVCDEF | RQ_MODE | RQ_HELD,
                               RQ_NS | RQ_SVC | RQ_SVCDEF, CAIRN_SERVICE_CLUSTERS},
    [CAIRN_MSG_SERVICE_REMOVE] = {"service_remove", true, RQ_NS | RQ_SVC | RQ_HELD,
                                  RQ_NS | RQ_SVC},
    [CAIRN_MSG_SERVICE_LIST] = {"service_list", true,
                                RQ_NS | RQ_LIST | RQ_SIZE | RQ_MODE | RQ_FILTER, RQ_NS,
                                CAIRN_LABEL_SERVICE},
    [CAIRN_MSG_BEAT] = {"beat", true, RQ_NS | RQ_SVC | RQ_INST | RQ_BODY,
                        RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_STATS] = {"stats", true, 0, 0},
    [CAIRN_MSG_CHANGE_EVENT] = {"change_event"},
    /* ns and svc are the cursor: omitted when NULL (the first page) */
    [CAIRN_MSG_SNAPSHOT_PAGE] = {"snapshot_page", true, RQ_NS | RQ_SVC | RQ_SIZE, RQ_SIZE},
    [CAIRN_MSG_INSTANCE_HEALTH] = {"instance_health", true, RQ_NS | RQ_SVC | RQ_INST | RQ_MODE,
                                   RQ_NS | RQ_SVC | RQ_INST, CAIRN_HEALTH_MANUAL_KIND},
    [CAIRN_MSG_SUBSCRIPTION] = {"subscription"},
    /* page = the pusher's index, size = pusher.count */
    [CAIRN_MSG_SUBSCRIPTION_SNAPSHOT] = {"subscription_snapshot", true, RQ_LIST | RQ_SIZE,
                                         RQ_LIST | RQ_SIZE},
    [CAIRN_MSG_SERVICE_CATALOG] = {"service_catalog", true,
                                   RQ_NS | RQ_LIST | RQ_FILTER | RQ_SIZE, RQ_NS},
    [CAIRN_MSG_NAMESPACE_LIST] = {"namespace_list", true, 0, 0},
    /* cluster replication; ns and svc are cursors where they appear */
    [CAIRN_MSG_DISTRO_APPLY] = {"distro_apply", true, RQ_STATES | RQ_MODE | RQ_LOAD, RQ_STATES,
                                CAIRN_DISTRO_FORCE},
    [CAIRN_MSG_DISTRO_DIGESTS] = {"distro_digests", true, RQ_OWNERS, 0},
    [CAIRN_MSG_DISTRO_KEYS] = {"distro_keys", true,
                               RQ_BUCKET | RQ_OWNERS | RQ_NS | RQ_SVC | RQ_SIZE, RQ_BUCKET},
    [CAIRN_MSG_DISTRO_FETCH] = {"distro_fetch", true, RQ_STATES, RQ_STATES},
    [CAIRN_MSG_DISTRO_SNAPSHOT] = {"distro_snapshot", true, RQ_NS | RQ_SVC | RQ_SIZE, 0},
    [CAIRN_MSG_DISTRO_LOAD_END] = {"distro_load_end", true, RQ_LOAD, RQ_LOAD},
    [CAIRN_MSG_PERSIST_APPLY] = {"persist_apply", true, RQ_FIRST | RQ_LAST | RQ_RECORDS,
                                 RQ_FIRST | RQ_LAST},
    [CAIRN_MSG_PERSIST_REPLACE] = {"persist_replace", true, RQ_LAST | RQ_RECORDS, RQ_LAST},
    [CAIRN_MSG_MEMBERS_GET] = {"members_get", true, 0, 0},
    [CAIRN_MSG_MEMBERSHIP] = {"membership"},
    [CAIRN_MSG_INSTANCE_SET_OWNED] = {"instance_set_owned", true,
                                      RQ_NS | RQ_SVC | RQ_OWNER | RQ_INSTS,
                                      RQ_NS | RQ_SVC | RQ_OWNER},
    [CAIRN_MSG_OWNER_DROP] = {"owner_drop", true, RQ_OWNER | RQ_MODE | RQ_OWNERS, RQ_OWNER,
                              CAIRN_OWNER_OTHER_INCARNATIONS},
    [CAIRN_MSG_FORWARD] = {"forward", true, RQ_FWD, RQ_FWD},
    /* a write wrapped for the raft log: the write's fields plus its type */
    [CAIRN_MSG_RAFT_SUBMIT] = {"raft_submit", true,
                               RQ_NS | RQ_SVC | RQ_INST | RQ_SVCDEF | RQ_MODE | RQ_MASK | RQ_CMD |
                                   RQ_HELD,
                               RQ_NS | RQ_SVC | RQ_CMD, CAIRN_SERVICE_CLUSTERS},
    /* services named by states, as DISTRO_FETCH names them */
    [CAIRN_MSG_SERVICES_IN_USE] = {"services_in_use", true, RQ_STATES, RQ_STATES},
};

const char *cairn_msg_type_name(cairn_msg_type type)
{
    if ((unsigned)type >= CAIRN_MSG__END || !msg_types[type].name)
        return "unknown";
    return msg_types[type].name;
}

bool cairn_msg_is_request(cairn_msg_type type)
{
    return (unsigned)type < CAIRN_MSG__END && msg_types[type].request;
}

/* The largest mode value a request type takes. Types without a mode keep the old bound of 1 so
 * that a stray "mode" field decodes as it always did. */
static uint32_t request_mode_max(cairn_msg_type type)
{
    uint32_t max = msg_types[type].mode_max;
    return max ? max : CAIRN_UPSERT_MUST_EXIST;
}

#define PATCH_KNOWN_BITS                                                                   \
    (CAIRN_PATCH_METADATA | CAIRN_PATCH_APP | CAIRN_PATCH_WEIGHT | CAIRN_PATCH_HEALTHY |   \
     CAIRN_PATCH_ENABLED | CAIRN_PATCH_METADATA_PUT | CAIRN_PATCH_METADATA_DELETE |          \
     CAIRN_PATCH_KIND)

/* ======================================================================= encoding ========== */

/* Packing helpers return 0, PACK_NOMEM when msgpack-c could not grow its buffer, or
 * PACK_INVALID when the struct cannot be encoded (a required string is NULL). */
enum { PACK_NOMEM = -1, PACK_INVALID = -2 };

#define TRY(expr)                                                                          \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_ != 0)                                                                      \
            return rc_ == PACK_INVALID ? PACK_INVALID : PACK_NOMEM;                        \
    } while (0)

static int pk_str(msgpack_packer *pk, const char *s)
{
    if (!s)
        return PACK_INVALID;
    size_t n = strlen(s);
    TRY(msgpack_pack_str(pk, n));
    TRY(msgpack_pack_str_body(pk, s, n));
    return 0;
}

/* ---- maps: each map's fields are listed once, by a fields function that pack_map runs twice,
 * first counting (pk NULL), then writing. So a map's size is never counted by hand: a field
 * added, or made optional, is counted by the very line that writes it. ----------------------- */

typedef struct field_writer {
    msgpack_packer *pk; /* NULL while counting */
    uint32_t n;         /* fields counted */
} field_writer;

typedef int (*fields_fn)(field_writer *f, const void *obj);

static int pack_map(msgpack_packer *pk, fields_fn fn, const void *obj)
{
    field_writer count = {NULL, 0};
    TRY(fn(&count, obj));
    TRY(msgpack_pack_map(pk, count.n));
    field_writer write = {pk, 0};
    return fn(&write, obj);
}

/* Counts one field; when writing, writes its key and returns true: the caller writes the value. */
static bool f_key(field_writer *f, const char *key, int *rc)
{
    f->n++;
    if (!f->pk)
        return false;
    *rc = pk_str(f->pk, key);
    return *rc == 0;
}

/* Each writes one key-value pair (or only counts it). */
static int f_str(field_writer *f, const char *key, const char *s)
{
    int rc = 0;
    return f_key(f, key, &rc) ? pk_str(f->pk, s) : rc;
}

static int f_uint(field_writer *f, const char *key, uint64_t v)
{
    int rc = 0;
    return f_key(f, key, &rc) ? msgpack_pack_uint64(f->pk, v) : rc;
}

static int f_int(field_writer *f, const char *key, int64_t v)
{
    int rc = 0;
    return f_key(f, key, &rc) ? msgpack_pack_int64(f->pk, v) : rc;
}

static int f_bool(field_writer *f, const char *key, bool v)
{
    int rc = 0;
    if (!f_key(f, key, &rc))
        return rc;
    return v ? msgpack_pack_true(f->pk) : msgpack_pack_false(f->pk);
}

static int f_double(field_writer *f, const char *key, double v)
{
    int rc = 0;
    return f_key(f, key, &rc) ? msgpack_pack_double(f->pk, v) : rc;
}

static int f_float(field_writer *f, const char *key, float v)
{
    int rc = 0;
    return f_key(f, key, &rc) ? msgpack_pack_float(f->pk, v) : rc;
}

static int f_metadata(field_writer *f, const char *key, const cairn_metadata *md)
{
    int rc = 0;
    if (!f_key(f, key, &rc))
        return rc;
    if (md->len > 0 && !md->items)
        return PACK_INVALID;
    TRY(msgpack_pack_map(f->pk, md->len));
    for (uint32_t i = 0; i < md->len; i++) {
        TRY(pk_str(f->pk, md->items[i].key));
        TRY(pk_str(f->pk, md->items[i].value));
    }
    return 0;
}

/* A nested map, written by its own fields function. */
static int f_map(field_writer *f, const char *key, fields_fn fn, const void *obj)
{
    int rc = 0;
    return f_key(f, key, &rc) ? pack_map(f->pk, fn, obj) : rc;
}

/* An array of count maps of `size` bytes each, starting at items. */
static int f_maps(field_writer *f, const char *key, fields_fn fn, const void *items, uint32_t count,
                  size_t size)
{
    int rc = 0;
    if (!f_key(f, key, &rc))
        return rc;
    if (count > 0 && !items)
        return PACK_INVALID;
    TRY(msgpack_pack_array(f->pk, count));
    for (uint32_t i = 0; i < count; i++)
        TRY(pack_map(f->pk, fn, (const char *)items + i * size));
    return 0;
}

static int f_strs(field_writer *f, const char *key, char *const *strs, uint32_t count)
{
    int rc = 0;
    if (!f_key(f, key, &rc))
        return rc;
    if (count > 0 && !strs)
        return PACK_INVALID;
    TRY(msgpack_pack_array(f->pk, count));
    for (uint32_t i = 0; i < count; i++)
        TRY(pk_str(f->pk, strs[i]));
    return 0;
}

static int f_bin(field_writer *f, const char *key, const void *data, size_t len)
{
    int rc = 0;
    if (!f_key(f, key, &rc))
        return rc;
    TRY(msgpack_pack_bin(f->pk, len));
    return msgpack_pack_bin_body(f->pk, data, len);
}

/* "t" and "v", the first two fields of every message. */
static int f_envelope(field_writer *f, cairn_msg_type type)
{
    TRY(f_uint(f, "t", (uint32_t)type));
    return f_uint(f, "v", CAIRN_MSG_VERSION);
}

/* ---- the maps ------------------------------------------------------------------------------- */

static int instance_fields(field_writer *f, const void *obj)
{
    const cairn_instance *in = obj;
    TRY(f_str(f, "ip", in->ip));
    TRY(f_int(f, "port", in->port));
    if (in->cluster)
        TRY(f_str(f, "cluster", in->cluster));
    if (in->instance_id)
        TRY(f_str(f, "id", in->instance_id));
    if (in->app)
        TRY(f_str(f, "app", in->app));
    TRY(f_double(f, "weight", in->weight));
    TRY(f_bool(f, "healthy", in->healthy));
    TRY(f_bool(f, "enabled", in->enabled));
    TRY(f_bool(f, "ephemeral", in->ephemeral));
    TRY(f_bool(f, "marked", in->marked));
    TRY(f_metadata(f, "meta", &in->metadata));
    TRY(f_int(f, "mtime", in->modified_ms));
    if (in->owner && in->owner[0])
        TRY(f_str(f, "owner", in->owner));
    return 0;
}

int cairn_pack_instance(msgpack_packer *pk, const cairn_instance *in)
{
    if (!in->ip)
        return PACK_INVALID;
    return pack_map(pk, instance_fields, in);
}

static int cluster_fields(field_writer *f, const void *obj)
{
    const cairn_cluster *c = obj;
    if (c->name)
        TRY(f_str(f, "name", c->name));
    TRY(f_uint(f, "check", (uint32_t)c->check_type));
    if (c->check_path)
        TRY(f_str(f, "path", c->check_path));
    TRY(f_int(f, "status", c->check_expected_status));
    TRY(f_int(f, "cport", c->check_port));
    TRY(f_bool(f, "useport", c->use_instance_port));
    return f_metadata(f, "meta", &c->metadata);
}

static int service_fields(field_writer *f, const void *obj)
{
    const cairn_service *svc = obj;
    if (svc->namespace_id)
        TRY(f_str(f, "ns", svc->namespace_id));
    if (svc->name)
        TRY(f_str(f, "name", svc->name));
    TRY(f_float(f, "pt", svc->protect_threshold));
    TRY(f_metadata(f, "meta", &svc->metadata));
    if (svc->selector_json)
        TRY(f_str(f, "sel", svc->selector_json));
    TRY(f_maps(f, "clusters", cluster_fields, svc->clusters, svc->cluster_count,
               sizeof *svc->clusters));
    TRY(f_bool(f, "defined", svc->defined));
    TRY(f_uint(f, "rev", svc->revision));
    TRY(f_int(f, "mtime", svc->modified_ms));
    if (svc->distro.epoch != 0) {
        TRY(f_uint(f, "dep", svc->distro.epoch));
        TRY(f_uint(f, "dseq", svc->distro.seq));
        if (svc->distro.origin)
            TRY(f_str(f, "dorg", svc->distro.origin));
    }
    return 0;
}

int cairn_pack_service(msgpack_packer *pk, const cairn_service *svc)
{
    return pack_map(pk, service_fields, svc);
}

static int snapshot_fields(field_writer *f, const void *obj)
{
    const cairn_service_snapshot *snap = obj;
    TRY(f_bool(f, "found", snap->found));
    TRY(f_map(f, "svc", service_fields, &snap->service));
    return f_maps(f, "insts", instance_fields, snap->instances, snap->instance_count,
                  sizeof *snap->instances);
}

static int state_fields(field_writer *f, const void *obj)
{
    const cairn_distro_state *ds = obj;
    TRY(f_str(f, "ns", ds->namespace_id));
    TRY(f_str(f, "svc", ds->service));
    TRY(f_uint(f, "ep", ds->version.epoch));
    TRY(f_uint(f, "seq", ds->version.seq));
    if (ds->version.origin)
        TRY(f_str(f, "org", ds->version.origin));
    if (ds->has_digest)
        TRY(f_bin(f, "dig", ds->digest, sizeof ds->digest));
    return f_maps(f, "insts", instance_fields, ds->instances, ds->instance_count,
                  sizeof *ds->instances);
}

static int record_fields(field_writer *f, const void *obj)
{
    const cairn_persist_record *r = obj;
    TRY(f_uint(f, "op", (uint32_t)r->op));
    TRY(f_uint(f, "kind", (uint32_t)r->kind));
    TRY(f_str(f, "ns", r->namespace_id));
    TRY(f_str(f, "svc", r->service));
    if (!r->has_value)
        return 0;
    if (r->kind == CAIRN_PERSIST_SERVICE)
        return f_map(f, "val", service_fields, &r->service_def);
    if (!r->instance.ip)
        return PACK_INVALID;
    return f_map(f, "val", instance_fields, &r->instance);
}

/* The replication fields of a request (the RQ_ bits from RQ_STATES on). */
static int request_cluster_fields(field_writer *f, const cairn_request *req, uint32_t has)
{
    uint32_t req_bits = msg_types[req->type].required;
    if (has & RQ_STATES)
        TRY(f_maps(f, "states", state_fields, req->states, req->state_count,
                   sizeof *req->states));
    if ((has & RQ_LOAD) && (req->load_id != 0 || (req_bits & RQ_LOAD)))
        TRY(f_uint(f, "load", req->load_id));
    if ((has & RQ_OWNERS) && req->owner_count > 0)
        TRY(f_strs(f, "owners", req->owners, req->owner_count));
    if ((has & RQ_OWNERS) && req->self)
        TRY(f_str(f, "self", req->self));
    if (has & RQ_BUCKET)
        TRY(f_uint(f, "bucket", req->bucket));
    if (has & RQ_FIRST)
        TRY(f_uint(f, "first", req->first));
    if (has & RQ_LAST)
        TRY(f_uint(f, "last", req->last));
    if (has & RQ_RECORDS)
        TRY(f_maps(f, "recs", record_fields, req->records, req->record_count,
                   sizeof *req->records));
    if (has & RQ_CMD)
        TRY(f_uint(f, "cmd", req->cmd));
    return 0;
}

static int request_fields(field_writer *f, const void *obj)
{
    const cairn_request *req = obj;
    uint32_t has = msg_types[req->type].fields;
    TRY(f_envelope(f, req->type));
    /* Optional parts are written when present (every part of the older types is required, so
     * their encodings are unchanged). */
    if ((has & RQ_NS) && req->namespace_id)
        TRY(f_str(f, "ns", req->namespace_id));
    if ((has & RQ_SVC) && req->service)
        TRY(f_str(f, "svc", req->service));
    if ((has & RQ_INST) && req->has_instance)
        TRY(f_map(f, "inst", instance_fields, &req->instance));
    if ((has & RQ_SVCDEF) && req->has_service)
        TRY(f_map(f, "svcdef", service_fields, &req->service_def));
    if (has & RQ_MODE)
        TRY(f_uint(f, "mode", req->mode));
    if (has & RQ_MASK)
        TRY(f_uint(f, "mask", req->patch_mask));
    if (has & RQ_BODY)
        TRY(f_bool(f, "body", req->has_body));
    if ((has & RQ_HELD) && req->held)
        TRY(f_bool(f, "held", req->held));
    if ((has & RQ_LIST) && req->group)
        TRY(f_str(f, "group", req->group));
    if ((has & RQ_FILTER) && req->filter)
        TRY(f_str(f, "filter", req->filter));
    if (has & RQ_LIST)
        TRY(f_uint(f, "page", req->page_no));
    if (has & RQ_SIZE)
        TRY(f_uint(f, "size", req->page_size));
    if (has & RQ_OWNER)
        TRY(f_str(f, "owner", req->owner));
    if ((has & RQ_INSTS) && req->instance_count > 0)
        TRY(f_maps(f, "insts", instance_fields, req->instances, req->instance_count,
                   sizeof *req->instances));
    if (has & RQ_FWD) {
        TRY(f_str(f, "to", req->forward_to));
        TRY(f_bin(f, "inner", req->inner, req->inner_len));
        TRY(f_int(f, "dl", req->deadline_ms));
    }
    return request_cluster_fields(f, req, has);
}

static int pack_request(msgpack_packer *pk, const cairn_request *req)
{
    uint32_t r = msg_types[req->type].required;
    if (((r & RQ_NS) && !req->namespace_id) || ((r & RQ_SVC) && !req->service) ||
        ((r & RQ_INST) && !req->has_instance) ||
        ((r & RQ_SVCDEF) && !req->has_service) || ((r & RQ_OWNER) && !req->owner) ||
        ((r & RQ_FWD) && (!req->forward_to || !req->inner)))
        return PACK_INVALID;
    return pack_map(pk, request_fields, req);
}

/* A subscription's fields; the published message puts t and v before them, a snapshot reply
 * lists them bare. */
static int subscription_fields(field_writer *f, const void *obj)
{
    const cairn_subscription *sub = obj;
    if (!sub->namespace_id || !sub->service || !sub->ip)
        return PACK_INVALID;
    TRY(f_str(f, "ns", sub->namespace_id));
    TRY(f_str(f, "svc", sub->service));
    TRY(f_str(f, "clusters", sub->clusters ? sub->clusters : ""));
    TRY(f_str(f, "ip", sub->ip));
    TRY(f_int(f, "port", sub->port));
    TRY(f_str(f, "agent", sub->agent ? sub->agent : ""));
    TRY(f_int(f, "at", sub->at_ms));
    if (sub->seq != 0)
        TRY(f_uint(f, "seq", sub->seq));
    return 0;
}

static int subscription_message_fields(field_writer *f, const void *obj)
{
    TRY(f_envelope(f, CAIRN_MSG_SUBSCRIPTION));
    return subscription_fields(f, obj);
}

static int summary_fields(field_writer *f, const void *obj)
{
    const cairn_service_summary *sum = obj;
    TRY(f_str(f, "name", sum->name));
    TRY(f_float(f, "pt", sum->protect_threshold));
    TRY(f_uint(f, "clusters", sum->cluster_count));
    TRY(f_uint(f, "insts", sum->instance_count));
    return f_uint(f, "healthy", sum->healthy_count);
}

static int f_uints(field_writer *f, const char *key, const uint32_t *v, uint32_t count)
{
    int rc = 0;
    if (!f_key(f, key, &rc))
        return rc;
    if (count > 0 && !v)
        return PACK_INVALID;
    TRY(msgpack_pack_array(f->pk, count));
    for (uint32_t i = 0; i < count; i++)
        TRY(msgpack_pack_uint32(f->pk, v[i]));
    return 0;
}

/* The replication fields of a reply, each written when set. */
static int reply_cluster_fields(field_writer *f, const cairn_reply *rep)
{
    if (rep->store_epoch != 0)
        TRY(f_uint(f, "epoch", rep->store_epoch));
    if (rep->store_fresh)
        TRY(f_bool(f, "fresh", true));
    if (rep->raft_applied != 0)
        TRY(f_uint(f, "rwm", rep->raft_applied));
    if (rep->skipped)
        TRY(f_bool(f, "skip", true));
    if (rep->outcome_count > 0)
        TRY(f_uints(f, "outs", rep->outcomes, rep->outcome_count));
    if (rep->digests) {
        TRY(f_bin(f, "bdig", rep->digests->digest, sizeof rep->digests->digest));
        TRY(f_uints(f, "bcnt", rep->digests->count, CAIRN_DISTRO_BUCKETS));
    }
    if (rep->state_count > 0)
        TRY(f_maps(f, "states", state_fields, rep->states, rep->state_count,
                   sizeof *rep->states));
    if (rep->cursor_ns)
        TRY(f_str(f, "cns", rep->cursor_ns));
    if (rep->cursor_svc)
        TRY(f_str(f, "csvc", rep->cursor_svc));
    return 0;
}

static int reply_fields(field_writer *f, const void *obj)
{
    const cairn_reply *rep = obj;
    TRY(f_envelope(f, CAIRN_MSG_REPLY));
    TRY(f_uint(f, "code", (uint32_t)rep->code));
    if (rep->message)
        TRY(f_str(f, "msg", rep->message));
    if (rep->revision != 0)
        TRY(f_uint(f, "rev", rep->revision));
    if (rep->has_instance)
        TRY(f_map(f, "inst", instance_fields, &rep->instance));
    if (rep->has_snapshot)
        TRY(f_map(f, "snap", snapshot_fields, &rep->snapshot));
    if (rep->name_count > 0)
        TRY(f_strs(f, "names", rep->names, rep->name_count));
    if (rep->total != 0)
        TRY(f_uint(f, "total", rep->total));
    if (rep->beat_code != 0)
        TRY(f_int(f, "bcode", rep->beat_code));
    if (rep->beat_interval_ms != 0)
        TRY(f_int(f, "bint", rep->beat_interval_ms));
    if (rep->service_count != 0)
        TRY(f_uint(f, "nsvc", rep->service_count));
    if (rep->instance_count != 0)
        TRY(f_uint(f, "ninst", rep->instance_count));
    if (rep->snapshot_count > 0)
        TRY(f_maps(f, "snaps", snapshot_fields, rep->snapshots, rep->snapshot_count,
                   sizeof *rep->snapshots));
    if (rep->subscription_count > 0)
        TRY(f_maps(f, "subs", subscription_fields, rep->subscriptions, rep->subscription_count,
                   sizeof *rep->subscriptions));
    if (rep->more)
        TRY(f_bool(f, "more", true));
    if (rep->summary_count > 0)
        TRY(f_maps(f, "sums", summary_fields, rep->summaries, rep->summary_count,
                   sizeof *rep->summaries));
    if (rep->membership_msg)
        TRY(f_bin(f, "mship", rep->membership_msg, rep->membership_len));
    return reply_cluster_fields(f, rep);
}

static int event_fields(field_writer *f, const void *obj)
{
    const cairn_change_event *ev = obj;
    TRY(f_envelope(f, CAIRN_MSG_CHANGE_EVENT));
    TRY(f_str(f, "ns", ev->namespace_id));
    TRY(f_str(f, "svc", ev->service));
    TRY(f_uint(f, "rev", ev->revision));
    TRY(f_uint(f, "kind", (uint32_t)ev->kind));
    TRY(f_int(f, "at", ev->at_ms));
    if (ev->prev_revision != 0)
        TRY(f_uint(f, "prev", ev->prev_revision));
    if (ev->snapshot)
        TRY(f_bin(f, "snap", ev->snapshot, ev->snapshot_len));
    if (ev->delta)
        TRY(f_bin(f, "delta", ev->delta, ev->delta_len));
    if (ev->gone_count > 0) {
        int rc = 0;
        if (f_key(f, "gone", &rc)) {
            TRY(msgpack_pack_array(f->pk, ev->gone_count));
            for (uint32_t i = 0; i < ev->gone_count; i++) {
                TRY(msgpack_pack_bin(f->pk, ev->gone[i].len));
                TRY(msgpack_pack_bin_body(f->pk, ev->gone[i].ptr, ev->gone[i].len));
            }
        } else if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Runs one packing function into a fresh buffer and hands the buffer to the caller. */
typedef int (*pack_fn)(msgpack_packer *pk, const void *obj);

static cairn_err encode_with(pack_fn fn, const void *obj, char **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = fn(&pk, obj);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return rc == PACK_INVALID ? CAIRN_E_INVALID : CAIRN_E_NOMEM;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return CAIRN_OK;
}

static int pack_request_v(msgpack_packer *pk, const void *o) { return pack_request(pk, o); }
static int pack_reply_v(msgpack_packer *pk, const void *o)
{
    return pack_map(pk, reply_fields, o);
}
static int pack_event_v(msgpack_packer *pk, const void *o)
{
    return pack_map(pk, event_fields, o);
}
static int pack_subscription_v(msgpack_packer *pk, const void *o)
{
    return pack_map(pk, subscription_message_fields, o);
}
static int pack_instance_v(msgpack_packer *pk, const void *o) { return cairn_pack_instance(pk, o); }
static int pack_service_v(msgpack_packer *pk, const void *o) { return cairn_pack_service(pk, o); }
static int pack_snapshot_v(msgpack_packer *pk, const void *o)
{
    return pack_map(pk, snapshot_fields, o);
}

cairn_err cairn_request_encode(const cairn_request *req, char **out, size_t *out_len)
{
    if (!req || !cairn_msg_is_request(req->type))
        return CAIRN_E_INVALID;
    /* a mode the peer's decoder would refuse */
    if ((msg_types[req->type].fields & RQ_MODE) && req->mode > request_mode_max(req->type))
        return CAIRN_E_INVALID;
    return encode_with(pack_request_v, req, out, out_len);
}

cairn_err cairn_reply_encode(const cairn_reply *rep, char **out, size_t *out_len)
{
    if (!rep || (unsigned)rep->code >= CAIRN_E__COUNT)
        return CAIRN_E_INVALID;
    return encode_with(pack_reply_v, rep, out, out_len);
}

cairn_err cairn_event_encode(const cairn_change_event *ev, char **out, size_t *out_len)
{
    if (!ev || !ev->namespace_id || !ev->service || (unsigned)ev->kind > CAIRN_CHANGE_TICK ||
        ev->snapshot_len > UINT32_MAX || (!ev->snapshot && ev->snapshot_len > 0) ||
        ev->delta_len > UINT32_MAX || (!ev->delta && ev->delta_len > 0) ||
        (ev->gone_count > 0 && (!ev->gone || !ev->delta)))
        return CAIRN_E_INVALID;
    return encode_with(pack_event_v, ev, out, out_len);
}

cairn_err cairn_subscription_encode(const cairn_subscription *sub, char **out, size_t *out_len)
{
    if (!sub || !sub->namespace_id || !sub->service || !sub->ip)
        return CAIRN_E_INVALID;
    return encode_with(pack_subscription_v, sub, out, out_len);
}

cairn_err cairn_instance_encode(const cairn_instance *in, char **out, size_t *out_len)
{
    return encode_with(pack_instance_v, in, out, out_len);
}

cairn_err cairn_service_encode(const cairn_service *svc, char **out, size_t *out_len)
{
    return encode_with(pack_service_v, svc, out, out_len);
}

cairn_err cairn_snapshot_encode(const cairn_service_snapshot *snap, char **out, size_t *out_len)
{
    return encode_with(pack_snapshot_v, snap, out, out_len);
}

/* pack_snapshot's layout, with the service and instances as ready-made msgpack. */
typedef struct assembly {
    cairn_bytes service;
    const cairn_bytes *instances;
    uint32_t count;
} assembly;

static int pack_assembly_v(msgpack_packer *pk, const void *o)
{
    const assembly *a = o;
    if (!a->service.ptr || (a->count > 0 && !a->instances))
        return PACK_INVALID;
    TRY(msgpack_pack_map(pk, 3));
    TRY(pk_str(pk, "found"));
    TRY(msgpack_pack_true(pk));
    TRY(pk_str(pk, "svc"));
    TRY(pk->callback(pk->data, a->service.ptr, a->service.len));
    TRY(pk_str(pk, "insts"));
    TRY(msgpack_pack_array(pk, a->count));
    for (uint32_t i = 0; i < a->count; i++)
        TRY(pk->callback(pk->data, a->instances[i].ptr, a->instances[i].len));
    return 0;
}

cairn_err cairn_snapshot_assemble(cairn_bytes service, const cairn_bytes *instances,
                                  uint32_t count, char **out, size_t *out_len)
{
    assembly a = {.service = service, .instances = instances, .count = count};
    return encode_with(pack_assembly_v, &a, out, out_len);
}

/* ======================================================================= decoding ========== */

/* msgpack-c allocates a container's element array from the count in its header, before any
 * element is read: a 5-byte map32 header asks for hundreds of GiB (and aborts an ASan build).
 * So before msgpack-c sees a buffer, this walk checks that the buffer holds exactly one complete
 * object (its end is returned) and that no container announces more elements than there are
 * bytes left (every element takes at least one byte). msgpack-c's allocations are then bounded
 * by a small multiple of the message size. It only measures; msgpack-c does the decoding. */
static bool msgpack_bounded(const uint8_t *b, size_t len, size_t *end)
{
    size_t pos = 0;
    uint64_t pending = 1; /* objects still to read */
    while (pending > 0) {
        if (pos >= len)
            return false;
        uint8_t c = b[pos++];
        pending--;
        uint64_t body = 0;  /* payload bytes after the header */
        uint64_t items = 0; /* nested objects */
        size_t lenbytes = 0;
        enum { FIXED, BODY, ARRAY, MAP } kind = FIXED;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            /* fixint, nil, bool: the type byte is all */
        } else if (c <= 0x8f) {
            items = 2u * (c & 0x0f);
        } else if (c <= 0x9f) {
            items = c & 0x0f;
        } else if (c <= 0xbf) {
            body = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4: case 0xd9: lenbytes = 1; kind = BODY; break; /* bin8, str8 */
            case 0xc5: case 0xda: lenbytes = 2; kind = BODY; break;
            case 0xc6: case 0xdb: lenbytes = 4; kind = BODY; break;
            case 0xc7: lenbytes = 1; kind = BODY; body = 1; break; /* ext: + type byte */
            case 0xc8: lenbytes = 2; kind = BODY; body = 1; break;
            case 0xc9: lenbytes = 4; kind = BODY; body = 1; break;
            case 0xca: body = 4; break; /* float32 */
            case 0xcb: body = 8; break;
            case 0xcc: case 0xd0: body = 1; break; /* (u)int8 .. (u)int64 */
            case 0xcd: case 0xd1: body = 2; break;
            case 0xce: case 0xd2: body = 4; break;
            case 0xcf: case 0xd3: body = 8; break;
            case 0xd4: body = 2; break; /* fixext: type byte + 1..16 */
            case 0xd5: body = 3; break;
            case 0xd6: body = 5; break;
            case 0xd7: body = 9; break;
            case 0xd8: body = 17; break;
            case 0xdc: lenbytes = 2; kind = ARRAY; break;
            case 0xdd: lenbytes = 4; kind = ARRAY; break;
            case 0xde: lenbytes = 2; kind = MAP; break;
            case 0xdf: lenbytes = 4; kind = MAP; break;
            default: return false; /* 0xc1: never used */
            }
        }
        if (lenbytes > 0) {
            if (len - pos < lenbytes)
                return false;
            uint64_t n = 0;
            for (size_t i = 0; i < lenbytes; i++)
                n = (n << 8) | b[pos++];
            if (kind == BODY)
                body += n;
            else if (kind == ARRAY)
                items = n;
            else
                items = 2 * n;
        }
        if (len - pos < body)
            return false;
        pos += (size_t)body;
        pending += items;
        if (pending > len - pos)
            return false;
    }
    *end = pos;
    return true;
}

/* Unpacks the one object that must fill buf exactly. */
static cairn_err unpack_whole(const char *buf, size_t len, msgpack_unpacked *u, cairn_status *st)
{
    msgpack_unpacked_init(u);
    if (!buf || len == 0)
        return cairn_fail(st, CAIRN_E_DECODE, "empty message");
    size_t end;
    if (!msgpack_bounded((const uint8_t *)buf, len, &end))
        return cairn_fail(st, CAIRN_E_DECODE, "truncated or malformed msgpack");
    if (end != len)
        return cairn_fail(st, CAIRN_E_DECODE, "%zu trailing bytes after the message", len - end);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(u, buf, len, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    if (r != MSGPACK_UNPACK_SUCCESS)
        return cairn_fail(st, CAIRN_E_DECODE, "truncated or malformed msgpack");
    if (off != len)
        return cairn_fail(st, CAIRN_E_DECODE, "%zu trailing bytes after the message", len - off);
    return CAIRN_OK;
}

/* ---- field readers: ctx names the object (for messages), field the key ---------------------- */

static cairn_err wrong_type(const char *ctx, const char *field, cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_DECODE, "%s: field '%s' has the wrong type", ctx, field);
}

static cairn_err out_of_range(const char *ctx, const char *field, cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_DECODE, "%s: field '%s' is out of range", ctx, field);
}

/* A str without NUL bytes, as a malloc'd C string (*out's old value is freed). */
static cairn_err rd_str(const msgpack_object *o, const char *ctx, const char *field, char **out,
                        cairn_status *st)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return wrong_type(ctx, field, st);
    if (o->via.str.size > 0 && memchr(o->via.str.ptr, 0, o->via.str.size))
        return cairn_fail(st, CAIRN_E_DECODE, "%s: field '%s' contains a NUL byte", ctx, field);
    char *s = malloc((size_t)o->via.str.size + 1);
    if (!s)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    if (o->via.str.size > 0)
        memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    free(*out);
    *out = s;
    return CAIRN_OK;
}

static cairn_err rd_uint(const msgpack_object *o, const char *ctx, const char *field,
                         uint64_t max, uint64_t *out, cairn_status *st)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return out_of_range(ctx, field, st);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return wrong_type(ctx, field, st);
    if (o->via.u64 > max)
        return out_of_range(ctx, field, st);
    *out = o->via.u64;
    return CAIRN_OK;
}

static cairn_err rd_int(const msgpack_object *o, const char *ctx, const char *field, int64_t min,
                        int64_t max, int64_t *out, cairn_status *st)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)max)
            return out_of_range(ctx, field, st);
        *out = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        if (o->via.i64 < min)
            return out_of_range(ctx, field, st);
        *out = o->via.i64;
    } else {
        return wrong_type(ctx, field, st);
    }
    return CAIRN_OK;
}

static cairn_err rd_bool(const msgpack_object *o, const char *ctx, const char *field, bool *out,
                         cairn_status *st)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return wrong_type(ctx, field, st);
    *out = o->via.boolean;
    return CAIRN_OK;
}

/* Floats of either width, or an integer (a peer may write 1 for 1.0). */
static cairn_err rd_double(const msgpack_object *o, const char *ctx, const char *field,
                           double *out, cairn_status *st)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = o->via.f64;
        return CAIRN_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o->via.u64;
        return CAIRN_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o->via.i64;
        return CAIRN_OK;
    default:
        return wrong_type(ctx, field, st);
    }
}

static int kv_order(const void *a, const void *b)
{
    return strcmp(((const cairn_kv *)a)->key, ((const cairn_kv *)b)->key);
}

/* A map of str → str into md (md is empty on entry; freed by the caller's cleanup). The pairs are
 * read into one array of the map's size, sorted once unless they arrive in order (as every
 * Cairn encoder writes them), and checked for a repeated key: O(n log n) whatever a peer sends,
 * where inserting each key into the sorted array moved it (O(n²): 200 000 keys in reverse order
 * took 20-30 s). A repeated key is rejected like a repeated field. */
static cairn_err rd_metadata(const msgpack_object *o, const char *ctx, const char *field,
                             cairn_metadata *md, cairn_status *st)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return wrong_type(ctx, field, st);
    uint32_t n = o->via.map.size;
    if (n == 0)
        return CAIRN_OK;
    if (!(md->items = calloc(n, sizeof *md->items)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    bool in_order = true;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        cairn_kv *item = &md->items[i];
        md->len = i + 1; /* so that the caller's cleanup frees this pair too */
        cairn_err err = rd_str(&kv->key, ctx, field, &item->key, st);
        if (err == CAIRN_OK)
            err = rd_str(&kv->val, ctx, field, &item->value, st);
        if (err != CAIRN_OK)
            return err;
        in_order = in_order && (i == 0 || strcmp(md->items[i - 1].key, item->key) < 0);
    }
    if (in_order)
        return CAIRN_OK;
    qsort(md->items, n, sizeof *md->items, kv_order);
    for (uint32_t i = 1; i < n; i++)
        if (strcmp(md->items[i - 1].key, md->items[i].key) == 0)
            return cairn_fail(st, CAIRN_E_DECODE, "%s: field '%s' has a duplicate key", ctx,
                              field);
    return CAIRN_OK;
}

/* ---- generic map walk ------------------------------------------------------------------------ */

typedef cairn_err (*field_fn)(int idx, const msgpack_object *val, void *target, cairn_status *st);

/* Calls fn for every known field of the map obj (index into names), rejecting non-string or
 * NUL-containing keys and duplicated known fields; unknown fields are skipped. *seen gets one bit
 * per field found. */
static cairn_err walk_map(const msgpack_object *obj, const char *ctx, const char *const *names,
                          int name_count, field_fn fn, void *target, uint64_t *seen,
                          cairn_status *st)
{
    *seen = 0;
    if (obj->type != MSGPACK_OBJECT_MAP)
        return cairn_fail(st, CAIRN_E_DECODE, "%s is not a map", ctx);
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *key = &obj->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return cairn_fail(st, CAIRN_E_DECODE, "%s: a field name is not a string", ctx);
        int idx = -1;
        for (int k = 0; k < name_count; k++) {
            if (strlen(names[k]) == key->via.str.size &&
                memcmp(names[k], key->via.str.ptr, key->via.str.size) == 0) {
                idx = k;
                break;
            }
        }
        if (idx < 0)
            continue; /* a newer peer's field */
        if (*seen & (1ull << idx))
            return cairn_fail(st, CAIRN_E_DECODE, "%s: duplicate field '%s'", ctx, names[idx]);
        *seen |= 1ull << idx;
        cairn_err err = fn(idx, &obj->via.map.ptr[i].val, target, st);
        if (err != CAIRN_OK)
            return err;
    }
    return CAIRN_OK;
}

/* The first field of required (a bit set over names) that is not in seen, or OK. */
static cairn_err check_required(uint64_t seen, uint64_t required, const char *ctx,
                                const char *const *names, int name_count, cairn_status *st)
{
    for (int k = 0; k < name_count; k++)
        if ((required & (1ull << k)) && !(seen & (1ull << k)))
            return cairn_fail(st, CAIRN_E_DECODE, "%s: missing field '%s'", ctx, names[k]);
    return CAIRN_OK;
}

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- instance -------------------------------------------------------------------------------- */

enum { IN_IP, IN_PORT, IN_CLUSTER, IN_ID, IN_APP, IN_WEIGHT, IN_HEALTHY, IN_ENABLED,
       IN_EPHEMERAL, IN_MARKED, IN_META, IN_MTIME, IN_OWNER };
static const char *const instance_names[] = {"ip", "port", "cluster", "id", "app", "weight",
                                             "healthy", "enabled", "ephemeral", "marked",
                                             "meta", "mtime", "owner"};

static cairn_err instance_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_instance *in = target;
    const char *ctx = "instance", *f = instance_names[idx];
    int64_t i64;
    cairn_err err;
    switch (idx) {
    case IN_IP: return rd_str(v, ctx, f, &in->ip, st);
    case IN_PORT:
        err = rd_int(v, ctx, f, INT32_MIN, INT32_MAX, &i64, st);
        in->port = (int32_t)i64;
        return err;
    case IN_CLUSTER: return rd_str(v, ctx, f, &in->cluster, st);
    case IN_ID: return rd_str(v, ctx, f, &in->instance_id, st);
    case IN_APP: return rd_str(v, ctx, f, &in->app, st);
    case IN_WEIGHT: return rd_double(v, ctx, f, &in->weight, st);
    case IN_HEALTHY: return rd_bool(v, ctx, f, &in->healthy, st);
    case IN_ENABLED: return rd_bool(v, ctx, f, &in->enabled, st);
    case IN_EPHEMERAL: return rd_bool(v, ctx, f, &in->ephemeral, st);
    case IN_MARKED: return rd_bool(v, ctx, f, &in->marked, st);
    case IN_META: return rd_metadata(v, ctx, f, &in->metadata, st);
    case IN_MTIME:
        err = rd_int(v, ctx, f, INT64_MIN, INT64_MAX, &i64, st);
        in->modified_ms = i64;
        return err;
    case IN_OWNER: return rd_str(v, ctx, f, &in->owner, st);
    }
    return CAIRN_OK;
}

cairn_err cairn_unpack_instance(const msgpack_object *obj, cairn_instance *in, cairn_status *st)
{
    cairn_instance_init(in);
    uint64_t seen;
    cairn_err err = walk_map(obj, "instance", instance_names, COUNT(instance_names),
                             instance_field, in, &seen, st);
    if (err == CAIRN_OK)
        err = check_required(seen, (1u << IN_IP) | (1u << IN_PORT), "instance", instance_names,
                             COUNT(instance_names), st);
    if (err != CAIRN_OK)
        cairn_instance_free(in);
    return err;
}

/* ---- cluster and service --------------------------------------------------------------------- */

enum { CL_NAME, CL_CHECK, CL_PATH, CL_STATUS, CL_CPORT, CL_USEPORT, CL_META };
static const char *const cluster_names[] = {"name", "check", "path", "status", "cport",
                                            "useport", "meta"};

static cairn_err cluster_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_cluster *c = target;
    const char *ctx = "cluster", *f = cluster_names[idx];
    int64_t i64;
    uint64_t u64;
    cairn_err err;
    switch (idx) {
    case CL_NAME: return rd_str(v, ctx, f, &c->name, st);
    case CL_CHECK:
        err = rd_uint(v, ctx, f, CAIRN_CHECK__COUNT - 1, &u64, st);
        c->check_type = (cairn_check_type)u64;
        return err;
    case CL_PATH: return rd_str(v, ctx, f, &c->check_path, st);
    case CL_STATUS:
        err = rd_int(v, ctx, f, INT32_MIN, INT32_MAX, &i64, st);
        c->check_expected_status = (int32_t)i64;
        return err;
    case CL_CPORT:
        err = rd_int(v, ctx, f, INT32_MIN, INT32_MAX, &i64, st);
        c->check_port = (int32_t)i64;
        return err;
    case CL_USEPORT: return rd_bool(v, ctx, f, &c->use_instance_port, st);
    case CL_META: return rd_metadata(v, ctx, f, &c->metadata, st);
    }
    return CAIRN_OK;
}

static cairn_err unpack_cluster(const msgpack_object *obj, cairn_cluster *c, cairn_status *st)
{
    cairn_cluster_init_default(c);
    uint64_t seen;
    cairn_err err = walk_map(obj, "cluster", cluster_names, COUNT(cluster_names), cluster_field,
                             c, &seen, st);
    if (err != CAIRN_OK)
        cairn_cluster_free(c);
    return err;
}

enum { SV_NS, SV_NAME, SV_PT, SV_META, SV_SEL, SV_CLUSTERS, SV_DEFINED, SV_REV, SV_MTIME,
       SV_DEP, SV_DSEQ, SV_DORG };
static const char *const service_names[] = {"ns",      "name", "pt",    "meta",
                                            "sel",     "clusters", "defined", "rev",
                                            "mtime",   "dep",  "dseq",  "dorg"};

static cairn_err service_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_service *svc = target;
    const char *ctx = "service", *f = service_names[idx];
    int64_t i64;
    uint64_t u64;
    double d;
    cairn_err err;
    switch (idx) {
    case SV_NS: return rd_str(v, ctx, f, &svc->namespace_id, st);
    case SV_NAME: return rd_str(v, ctx, f, &svc->name, st);
    case SV_PT:
        err = rd_double(v, ctx, f, &d, st);
        svc->protect_threshold = (float)d;
        return err;
    case SV_META: return rd_metadata(v, ctx, f, &svc->metadata, st);
    case SV_SEL: return rd_str(v, ctx, f, &svc->selector_json, st);
    case SV_CLUSTERS:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return wrong_type(ctx, f, st);
        if (v->via.array.size == 0)
            return CAIRN_OK;
        svc->clusters = calloc(v->via.array.size, sizeof *svc->clusters);
        if (!svc->clusters)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            err = unpack_cluster(&v->via.array.ptr[i], &svc->clusters[i], st);
            if (err != CAIRN_OK)
                return err;
            svc->cluster_count = i + 1;
        }
        return CAIRN_OK;
    case SV_DEFINED: return rd_bool(v, ctx, f, &svc->defined, st);
    case SV_REV:
        err = rd_uint(v, ctx, f, UINT64_MAX, &u64, st);
        svc->revision = u64;
        return err;
    case SV_MTIME:
        err = rd_int(v, ctx, f, INT64_MIN, INT64_MAX, &i64, st);
        svc->modified_ms = i64;
        return err;
    case SV_DEP: return rd_uint(v, ctx, f, UINT64_MAX, &svc->distro.epoch, st);
    case SV_DSEQ: return rd_uint(v, ctx, f, UINT64_MAX, &svc->distro.seq, st);
    case SV_DORG: return rd_str(v, ctx, f, &svc->distro.origin, st);
    }
    return CAIRN_OK;
}

cairn_err cairn_unpack_service(const msgpack_object *obj, cairn_service *svc, cairn_status *st)
{
    cairn_service_init(svc);
    uint64_t seen;
    cairn_err err = walk_map(obj, "service", service_names, COUNT(service_names), service_field,
                             svc, &seen, st);
    if (err != CAIRN_OK)
        cairn_service_free(svc);
    return err;
}

/* ---- snapshot -------------------------------------------------------------------------------- */

enum { SN_FOUND, SN_SVC, SN_INSTS };
static const char *const snapshot_names[] = {"found", "svc", "insts"};

static cairn_err snapshot_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_service_snapshot *snap = target;
    const char *ctx = "snapshot", *f = snapshot_names[idx];
    cairn_err err;
    switch (idx) {
    case SN_FOUND: return rd_bool(v, ctx, f, &snap->found, st);
    case SN_SVC:
        cairn_service_free(&snap->service);
        return cairn_unpack_service(v, &snap->service, st);
    case SN_INSTS:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return wrong_type(ctx, f, st);
        if (v->via.array.size == 0)
            return CAIRN_OK;
        snap->instances = calloc(v->via.array.size, sizeof *snap->instances);
        if (!snap->instances)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            err = cairn_unpack_instance(&v->via.array.ptr[i], &snap->instances[i], st);
            if (err != CAIRN_OK)
                return err;
            snap->instance_count = i + 1;
        }
        return CAIRN_OK;
    }
    return CAIRN_OK;
}

static cairn_err unpack_snapshot(const msgpack_object *obj, cairn_service_snapshot *snap,
                                 cairn_status *st)
{
    memset(snap, 0, sizeof *snap);
    cairn_service_init(&snap->service);
    uint64_t seen;
    cairn_err err = walk_map(obj, "snapshot", snapshot_names, COUNT(snapshot_names),
                             snapshot_field, snap, &seen, st);
    if (err == CAIRN_OK)
        err = check_required(seen, 1u << SN_FOUND, "snapshot", snapshot_names,
                             COUNT(snapshot_names), st);
    if (err != CAIRN_OK)
        cairn_service_snapshot_free(snap);
    return err;
}

/* ---- envelope -------------------------------------------------------------------------------- */

/* Finds and checks "t" and "v" of the message map obj. */
static cairn_err unpack_envelope(const msgpack_object *obj, cairn_msg_type *type, cairn_status *st)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return cairn_fail(st, CAIRN_E_DECODE, "message is not a map");
    const msgpack_object *t = NULL, *v = NULL;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *key = &obj->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size != 1)
            continue; /* walk_map reports bad keys */
        const msgpack_object **slot = key->via.str.ptr[0] == 't'   ? &t
                                      : key->via.str.ptr[0] == 'v' ? &v
                                                                   : NULL;
        if (!slot)
            continue;
        if (*slot)
            return cairn_fail(st, CAIRN_E_DECODE, "message: duplicate field '%c'",
                              key->via.str.ptr[0]);
        *slot = &obj->via.map.ptr[i].val;
    }
    if (!t)
        return cairn_fail(st, CAIRN_E_DECODE, "message: missing field 't'");
    if (!v)
        return cairn_fail(st, CAIRN_E_DECODE, "message: missing field 'v'");
    uint64_t tv, vv;
    cairn_err err = rd_uint(v, "message", "v", UINT64_MAX, &vv, st);
    if (err != CAIRN_OK)
        return err;
    if (vv != CAIRN_MSG_VERSION)
        return cairn_fail(st, CAIRN_E_DECODE,
                          "unsupported message version %llu (this peer speaks %d)",
                          (unsigned long long)vv, CAIRN_MSG_VERSION);
    err = rd_uint(t, "message", "t", UINT64_MAX, &tv, st);
    if (err != CAIRN_OK)
        return err;
    if (tv < CAIRN_MSG_REPLY || tv >= CAIRN_MSG__END)
        return cairn_fail(st, CAIRN_E_DECODE, "unknown message type %llu",
                          (unsigned long long)tv);
    *type = (cairn_msg_type)tv;
    return CAIRN_OK;
}

cairn_err cairn_msg_peek_type(const char *buf, size_t len, cairn_msg_type *type, cairn_status *st)
{
    msgpack_unpacked u;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = unpack_envelope(&u.data, type, st);
    msgpack_unpacked_destroy(&u);
    return err;
}

/* ---- replication states and records ---------------------------------------------------------- */

/* An array of count maps decoded by fn into a calloc'd array of `size`-byte items; *n counts the
 * items read so far, so that the caller's free covers them after an error. */
typedef cairn_err (*unpack_item_fn)(const msgpack_object *obj, void *item, cairn_status *st);

static cairn_err rd_items(const msgpack_object *v, const char *ctx, const char *field,
                          unpack_item_fn fn, size_t size, void **items, uint32_t *n,
                          cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type(ctx, field, st);
    if (v->via.array.size == 0)
        return CAIRN_OK;
    if (!(*items = calloc(v->via.array.size, size)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        cairn_err err = fn(&v->via.array.ptr[i], (char *)*items + i * size, st);
        if (err != CAIRN_OK)
            return err; /* fn freed its own item */
        *n = i + 1;
    }
    return CAIRN_OK;
}

static cairn_err unpack_instance_item(const msgpack_object *obj, void *item, cairn_status *st)
{
    return cairn_unpack_instance(obj, item, st);
}

enum { DS_NS, DS_SVC, DS_EP, DS_SEQ, DS_ORG, DS_DIG, DS_INSTS };
static const char *const state_names[] = {"ns", "svc", "ep", "seq", "org", "dig", "insts"};

static cairn_err state_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_distro_state *ds = target;
    const char *ctx = "state", *f = state_names[idx];
    switch (idx) {
    case DS_NS: return rd_str(v, ctx, f, &ds->namespace_id, st);
    case DS_SVC: return rd_str(v, ctx, f, &ds->service, st);
    case DS_EP: return rd_uint(v, ctx, f, UINT64_MAX, &ds->version.epoch, st);
    case DS_SEQ: return rd_uint(v, ctx, f, UINT64_MAX, &ds->version.seq, st);
    case DS_ORG: return rd_str(v, ctx, f, &ds->version.origin, st);
    case DS_DIG:
        if (v->type != MSGPACK_OBJECT_BIN)
            return wrong_type(ctx, f, st);
        if (v->via.bin.size != sizeof ds->digest)
            return out_of_range(ctx, f, st);
        memcpy(ds->digest, v->via.bin.ptr, sizeof ds->digest);
        ds->has_digest = true;
        return CAIRN_OK;
    case DS_INSTS:
        return rd_items(v, ctx, f, unpack_instance_item, sizeof *ds->instances,
                        (void **)&ds->instances, &ds->instance_count, st);
    }
    return CAIRN_OK;
}

static cairn_err unpack_state(const msgpack_object *obj, void *item, cairn_status *st)
{
    cairn_distro_state *ds = item;
    memset(ds, 0, sizeof *ds);
    uint64_t seen;
    cairn_err err = walk_map(obj, "state", state_names, COUNT(state_names), state_field, ds,
                             &seen, st);
    if (err == CAIRN_OK)
        err = check_required(seen, (1u << DS_NS) | (1u << DS_SVC), "state", state_names,
                             COUNT(state_names), st);
    if (err != CAIRN_OK)
        cairn_distro_state_free(ds);
    return err;
}

enum { PR_OP, PR_KIND, PR_NS, PR_SVC, PR_VAL };
static const char *const record_names[] = {"op", "kind", "ns", "svc", "val"};

/* The value is decoded after the walk, once the kind is known. */
typedef struct record_walk {
    cairn_persist_record *r;
    const msgpack_object *val;
} record_walk;

static cairn_err record_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    record_walk *w = target;
    const char *ctx = "record", *f = record_names[idx];
    uint64_t u64 = 0;
    cairn_err err;
    switch (idx) {
    case PR_OP:
        err = rd_uint(v, ctx, f, CAIRN_PERSIST_DEL, &u64, st);
        w->r->op = (cairn_persist_op)u64;
        return err;
    case PR_KIND:
        err = rd_uint(v, ctx, f, CAIRN_PERSIST_INSTANCE, &u64, st);
        w->r->kind = (cairn_persist_kind)u64;
        return err;
    case PR_NS: return rd_str(v, ctx, f, &w->r->namespace_id, st);
    case PR_SVC: return rd_str(v, ctx, f, &w->r->service, st);
    case PR_VAL: w->val = v; return CAIRN_OK;
    }
    return CAIRN_OK;
}

static cairn_err unpack_record(const msgpack_object *obj, void *item, cairn_status *st)
{
    cairn_persist_record *r = item;
    memset(r, 0, sizeof *r);
    cairn_service_init(&r->service_def);
    cairn_instance_init(&r->instance);
    record_walk w = {r, NULL};
    uint64_t seen;
    cairn_err err = walk_map(obj, "record", record_names, COUNT(record_names), record_field, &w,
                             &seen, st);
    if (err == CAIRN_OK)
        err = check_required(seen, (1u << PR_OP) | (1u << PR_KIND) | (1u << PR_NS) |
                                       (1u << PR_SVC),
                             "record", record_names, COUNT(record_names), st);
    bool needs_value = !(r->kind == CAIRN_PERSIST_SERVICE && r->op == CAIRN_PERSIST_DEL);
    if (err == CAIRN_OK && needs_value && !w.val)
        err = cairn_fail(st, CAIRN_E_DECODE, "record: missing field 'val'");
    if (err == CAIRN_OK && w.val) {
        if (r->kind == CAIRN_PERSIST_SERVICE) {
            cairn_service_free(&r->service_def);
            err = cairn_unpack_service(w.val, &r->service_def, st);
        } else {
            cairn_instance_free(&r->instance);
            err = cairn_unpack_instance(w.val, &r->instance, st);
        }
        r->has_value = err == CAIRN_OK;
    }
    if (err != CAIRN_OK)
        cairn_persist_record_free(r);
    return err;
}

/* A str array into *out (calloc'd; *n counts the strings read, for the caller's free). */
static cairn_err rd_strs(const msgpack_object *v, const char *ctx, const char *field, char ***out,
                         uint32_t *n, cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type(ctx, field, st);
    if (v->via.array.size == 0)
        return CAIRN_OK;
    if (!(*out = calloc(v->via.array.size, sizeof **out)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        *n = i + 1; /* the slot is NULL until read; freeing it is fine */
        cairn_err err = rd_str(&v->via.array.ptr[i], ctx, field, &(*out)[i], st);
        if (err != CAIRN_OK)
            return err;
    }
    return CAIRN_OK;
}

/* ---- requests -------------------------------------------------------------------------------- */

enum { RF_NS, RF_SVC, RF_INST, RF_SVCDEF, RF_MODE, RF_MASK, RF_BODY, RF_GROUP, RF_PAGE,
       RF_SIZE, RF_FILTER, RF_STATES, RF_LOAD, RF_OWNERS, RF_SELF, RF_BUCKET, RF_FIRST, RF_LAST,
       RF_RECS, RF_OWNER, RF_INSTS, RF_TO, RF_INNER, RF_DL, RF_CMD, RF_HELD };
static const char *const request_names[] = {"ns",    "svc",    "inst",  "svcdef", "mode",
                                            "mask",  "body",   "group", "page",   "size",
                                            "filter", "states", "load", "owners", "self",
                                            "bucket", "first", "last",  "recs",
                                            "owner", "insts", "to", "inner", "dl", "cmd",
                                            "held"};

/* The replication fields of a request. */
static cairn_err request_cluster_field(int idx, const msgpack_object *v, cairn_request *req,
                                       cairn_status *st)
{
    const char *ctx = "request", *f = request_names[idx];
    uint64_t u64;
    cairn_err err;
    switch (idx) {
    case RF_STATES:
        return rd_items(v, ctx, f, unpack_state, sizeof *req->states, (void **)&req->states,
                        &req->state_count, st);
    case RF_LOAD: return rd_uint(v, ctx, f, UINT64_MAX, &req->load_id, st);
    case RF_OWNERS: return rd_strs(v, ctx, f, &req->owners, &req->owner_count, st);
    case RF_SELF: return rd_str(v, ctx, f, &req->self, st);
    case RF_BUCKET:
        err = rd_uint(v, ctx, f, CAIRN_DISTRO_BUCKETS - 1, &u64, st);
        req->bucket = (uint32_t)u64;
        return err;
    case RF_FIRST: return rd_uint(v, ctx, f, UINT64_MAX, &req->first, st);
    case RF_LAST: return rd_uint(v, ctx, f, UINT64_MAX, &req->last, st);
    case RF_RECS:
        return rd_items(v, ctx, f, unpack_record, sizeof *req->records, (void **)&req->records,
                        &req->record_count, st);
    case RF_TO: return rd_str(v, ctx, f, &req->forward_to, st);
    case RF_INNER:
        if (v->type != MSGPACK_OBJECT_BIN)
            return wrong_type(ctx, f, st);
        free(req->inner);
        req->inner = malloc(v->via.bin.size ? v->via.bin.size : 1);
        if (!req->inner)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        memcpy(req->inner, v->via.bin.ptr, v->via.bin.size);
        req->inner_len = v->via.bin.size;
        return CAIRN_OK;
    case RF_DL: return rd_int(v, ctx, f, INT64_MIN, INT64_MAX, &req->deadline_ms, st);
    case RF_CMD:
        err = rd_uint(v, ctx, f, CAIRN_MSG__END - 1, &u64, st);
        req->cmd = (uint32_t)u64;
        return err;
    }
    return CAIRN_OK;
}

/* The "insts" array of a request: each element an instance map. */
static cairn_err request_instances(const msgpack_object *v, cairn_request *req, cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type("request", "insts", st);
    if (v->via.array.size == 0)
        return CAIRN_OK;
    req->instances = calloc(v->via.array.size, sizeof *req->instances);
    if (!req->instances)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        cairn_err err = cairn_unpack_instance(&v->via.array.ptr[i], &req->instances[i], st);
        if (err != CAIRN_OK)
            return err; /* the earlier ones are counted and freed with the request */
        req->instance_count = i + 1;
    }
    return CAIRN_OK;
}

static cairn_err request_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_request *req = target;
    const char *ctx = "request", *f = request_names[idx];
    uint64_t u64;
    cairn_err err;
    switch (idx) {
    case RF_NS: return rd_str(v, ctx, f, &req->namespace_id, st);
    case RF_SVC: return rd_str(v, ctx, f, &req->service, st);
    case RF_INST:
        err = cairn_unpack_instance(v, &req->instance, st);
        req->has_instance = err == CAIRN_OK;
        return err;
    case RF_SVCDEF:
        err = cairn_unpack_service(v, &req->service_def, st);
        req->has_service = err == CAIRN_OK;
        return err;
    case RF_MODE:
        err = rd_uint(v, ctx, f, request_mode_max(req->type), &u64, st); /* type is set */
        req->mode = (uint32_t)u64;
        return err;
    case RF_MASK:
        err = rd_uint(v, ctx, f, PATCH_KNOWN_BITS, &u64, st); /* no unknown bits */
        req->patch_mask = (uint32_t)u64;
        return err;
    case RF_BODY: return rd_bool(v, ctx, f, &req->has_body, st);
    case RF_HELD: return rd_bool(v, ctx, f, &req->held, st);
    case RF_GROUP: return rd_str(v, ctx, f, &req->group, st);
    case RF_PAGE:
        err = rd_uint(v, ctx, f, UINT32_MAX, &u64, st);
        req->page_no = (uint32_t)u64;
        return err;
    case RF_SIZE:
        err = rd_uint(v, ctx, f, UINT32_MAX, &u64, st);
        req->page_size = (uint32_t)u64;
        return err;
    case RF_FILTER: return rd_str(v, ctx, f, &req->filter, st);
    case RF_OWNER: return rd_str(v, ctx, f, &req->owner, st);
    case RF_INSTS: return request_instances(v, req, st);
    default: return request_cluster_field(idx, v, req, st);
    }
}

/* The RQ_* bits as a bit set over request_names. */
static uint64_t request_required_bits(cairn_msg_type type)
{
    uint32_t r = msg_types[type].required;
    uint64_t bits = 0;
    if (r & RQ_NS)
        bits |= 1u << RF_NS;
    if (r & RQ_SVC)
        bits |= 1u << RF_SVC;
    if (r & RQ_INST)
        bits |= 1u << RF_INST;
    if (r & RQ_SVCDEF)
        bits |= 1u << RF_SVCDEF;
    if (r & RQ_MASK)
        bits |= 1u << RF_MASK;
    if (r & RQ_SIZE)
        bits |= 1u << RF_SIZE;
    if (r & RQ_STATES)
        bits |= 1u << RF_STATES;
    if (r & RQ_LOAD)
        bits |= 1u << RF_LOAD;
    if (r & RQ_BUCKET)
        bits |= 1u << RF_BUCKET;
    if (r & RQ_FIRST)
        bits |= 1u << RF_FIRST;
    if (r & RQ_LAST)
        bits |= 1u << RF_LAST;
    if (r & RQ_OWNER)
        bits |= 1u << RF_OWNER;
    if (r & RQ_FWD)
        bits |= (1u << RF_TO) | (1u << RF_INNER) | (1u << RF_DL);
    if (r & RQ_CMD)
        bits |= (uint64_t)1 << RF_CMD;
    return bits;
}

cairn_err cairn_request_decode(const char *buf, size_t len, cairn_request *req, cairn_status *st)
{
    cairn_request_init(req, CAIRN_MSG_STATS);
    msgpack_unpacked u;
    cairn_msg_type type = CAIRN_MSG_STATS;
    uint64_t seen = 0;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = unpack_envelope(&u.data, &type, st);
    if (err == CAIRN_OK && !cairn_msg_is_request(type))
        err = cairn_fail(st, CAIRN_E_DECODE, "message type %d is not a request", (int)type);
    if (err == CAIRN_OK) {
        req->type = type;
        err = walk_map(&u.data, "request", request_names, COUNT(request_names), request_field,
                       req, &seen, st);
    }
    if (err == CAIRN_OK)
        err = check_required(seen, request_required_bits(type), "request", request_names,
                             COUNT(request_names), st);
    msgpack_unpacked_destroy(&u);
    if (err != CAIRN_OK)
        cairn_request_free(req);
    return err;
}

/* ---- replies --------------------------------------------------------------------------------- */

enum { RP_CODE, RP_MSG, RP_REV, RP_INST, RP_SNAP, RP_NAMES, RP_TOTAL, RP_BCODE, RP_BINT,
       RP_NSVC, RP_NINST, RP_SNAPS, RP_MORE, RP_SUBS, RP_SUMS, RP_EPOCH, RP_FRESH, RP_RWM,
       RP_SKIP, RP_OUTS, RP_BDIG, RP_BCNT, RP_STATES, RP_CNS, RP_CSVC, RP_MSHIP };
static const char *const reply_names[] = {"code",  "msg",   "rev",  "inst",   "snap",
                                          "names", "total", "bcode", "bint",  "nsvc",
                                          "ninst", "snaps", "more", "subs",   "sums",
                                          "epoch", "fresh", "rwm",  "skip",   "outs",
                                          "bdig",  "bcnt",  "states", "cns",  "csvc", "mship"};

static cairn_err need_digests(cairn_reply *rep, cairn_status *st)
{
    if (!rep->digests && !(rep->digests = calloc(1, sizeof *rep->digests)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    return CAIRN_OK;
}

/* "outs" and "bcnt": arrays of uint32. */
static cairn_err rd_uints(const msgpack_object *v, const char *ctx, const char *field,
                          uint32_t *out, uint32_t count, cairn_status *st)
{
    for (uint32_t i = 0; i < count; i++) {
        uint64_t u64;
        cairn_err err = rd_uint(&v->via.array.ptr[i], ctx, field, UINT32_MAX, &u64, st);
        if (err != CAIRN_OK)
            return err;
        out[i] = (uint32_t)u64;
    }
    return CAIRN_OK;
}

/* The replication fields of a reply. */
static cairn_err reply_cluster_field(int idx, const msgpack_object *v, cairn_reply *rep,
                                     cairn_status *st)
{
    const char *ctx = "reply", *f = reply_names[idx];
    switch (idx) {
    case RP_EPOCH: return rd_uint(v, ctx, f, UINT64_MAX, &rep->store_epoch, st);
    case RP_FRESH: return rd_bool(v, ctx, f, &rep->store_fresh, st);
    case RP_RWM: return rd_uint(v, ctx, f, UINT64_MAX, &rep->raft_applied, st);
    case RP_SKIP: return rd_bool(v, ctx, f, &rep->skipped, st);
    case RP_OUTS:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return wrong_type(ctx, f, st);
        if (v->via.array.size == 0)
            return CAIRN_OK;
        if (!(rep->outcomes = calloc(v->via.array.size, sizeof *rep->outcomes)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        rep->outcome_count = v->via.array.size;
        return rd_uints(v, ctx, f, rep->outcomes, rep->outcome_count, st);
    case RP_BDIG:
        if (v->type != MSGPACK_OBJECT_BIN)
            return wrong_type(ctx, f, st);
        if (v->via.bin.size != sizeof rep->digests->digest)
            return out_of_range(ctx, f, st);
        if (need_digests(rep, st))
            return st->code;
        memcpy(rep->digests->digest, v->via.bin.ptr, sizeof rep->digests->digest);
        return CAIRN_OK;
    case RP_BCNT:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return wrong_type(ctx, f, st);
        if (v->via.array.size != CAIRN_DISTRO_BUCKETS)
            return out_of_range(ctx, f, st);
        if (need_digests(rep, st))
            return st->code;
        return rd_uints(v, ctx, f, rep->digests->count, CAIRN_DISTRO_BUCKETS, st);
    case RP_STATES:
        return rd_items(v, ctx, f, unpack_state, sizeof *rep->states, (void **)&rep->states,
                        &rep->state_count, st);
    case RP_CNS: return rd_str(v, ctx, f, &rep->cursor_ns, st);
    case RP_CSVC: return rd_str(v, ctx, f, &rep->cursor_svc, st);
    }
    return CAIRN_OK;
}

static cairn_err unpack_subscription(const msgpack_object *obj, cairn_subscription *sub,
                                     cairn_status *st);

enum { SU_NAME, SU_PT, SU_CLUSTERS, SU_INSTS, SU_HEALTHY };
static const char *const summary_names[] = {"name", "pt", "clusters", "insts", "healthy"};

static cairn_err summary_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_service_summary *sum = target;
    const char *ctx = "summary", *f = summary_names[idx];
    uint64_t u64 = 0;
    double d;
    cairn_err err;
    switch (idx) {
    case SU_NAME: return rd_str(v, ctx, f, &sum->name, st);
    case SU_PT:
        err = rd_double(v, ctx, f, &d, st);
        sum->protect_threshold = (float)d;
        return err;
    default: break;
    }
    err = rd_uint(v, ctx, f, UINT32_MAX, &u64, st);
    uint32_t *counts[] = {[SU_CLUSTERS] = &sum->cluster_count, [SU_INSTS] = &sum->instance_count,
                          [SU_HEALTHY] = &sum->healthy_count};
    *counts[idx] = (uint32_t)u64;
    return err;
}

static cairn_err unpack_summary(const msgpack_object *obj, cairn_service_summary *sum,
                                cairn_status *st)
{
    memset(sum, 0, sizeof *sum);
    uint64_t seen;
    cairn_err err = walk_map(obj, "summary", summary_names, COUNT(summary_names), summary_field,
                             sum, &seen, st);
    if (err == CAIRN_OK)
        err = check_required(seen, 1u << SU_NAME, "summary", summary_names, COUNT(summary_names),
                             st);
    if (err != CAIRN_OK) {
        free(sum->name);
        sum->name = NULL;
    }
    return err;
}

/* The reply's summaries array (its earlier elements are counted as they are read, so that
 * cairn_reply_free frees them after an error). */
static cairn_err unpack_summaries(const msgpack_object *v, cairn_reply *rep, cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type("reply", "sums", st);
    if (v->via.array.size == 0)
        return CAIRN_OK;
    rep->summaries = calloc(v->via.array.size, sizeof *rep->summaries);
    if (!rep->summaries)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        cairn_err err = unpack_summary(&v->via.array.ptr[i], &rep->summaries[i], st);
        if (err != CAIRN_OK)
            return err;
        rep->summary_count = i + 1;
    }
    return CAIRN_OK;
}

static cairn_err reply_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_reply *rep = target;
    const char *ctx = "reply", *f = reply_names[idx];
    uint64_t u64;
    int64_t i64;
    cairn_err err;
    switch (idx) {
    case RP_CODE:
        err = rd_uint(v, ctx, f, CAIRN_E__COUNT - 1, &u64, st);
        rep->code = (cairn_err)u64;
        return err;
    case RP_MSG: return rd_str(v, ctx, f, &rep->message, st);
    case RP_REV: return rd_uint(v, ctx, f, UINT64_MAX, &rep->revision, st);
    case RP_INST:
        err = cairn_unpack_instance(v, &rep->instance, st);
        rep->has_instance = err == CAIRN_OK;
        return err;
    case RP_SNAP:
        err = unpack_snapshot(v, &rep->snapshot, st);
        rep->has_snapshot = err == CAIRN_OK;
        return err;
    case RP_NAMES:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return wrong_type(ctx, f, st);
        if (v->via.array.size == 0)
            return CAIRN_OK;
        rep->names = calloc(v->via.array.size, sizeof *rep->names);
        if (!rep->names)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            rep->name_count = i + 1; /* the slot is NULL until read; freeing it is fine */
            err = rd_str(&v->via.array.ptr[i], ctx, f, &rep->names[i], st);
            if (err != CAIRN_OK)
                return err;
        }
        return CAIRN_OK;
    case RP_TOTAL:
        err = rd_uint(v, ctx, f, UINT32_MAX, &u64, st);
        rep->total = (uint32_t)u64;
        return err;
    case RP_BCODE:
        err = rd_int(v, ctx, f, INT32_MIN, INT32_MAX, &i64, st);
        rep->beat_code = (int32_t)i64;
        return err;
    case RP_BINT: return rd_int(v, ctx, f, INT64_MIN, INT64_MAX, &rep->beat_interval_ms, st);
    case RP_NSVC: return rd_uint(v, ctx, f, UINT64_MAX, &rep->service_count, st);
    case RP_NINST: return rd_uint(v, ctx, f, UINT64_MAX, &rep->instance_count, st);
    case RP_SNAPS:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return wrong_type(ctx, f, st);
        if (v->via.array.size == 0)
            return CAIRN_OK;
        rep->snapshots = calloc(v->via.array.size, sizeof *rep->snapshots);
        if (!rep->snapshots)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            err = unpack_snapshot(&v->via.array.ptr[i], &rep->snapshots[i], st);
            if (err != CAIRN_OK)
                return err; /* unpack_snapshot freed its own; the earlier ones are counted */
            rep->snapshot_count = i + 1;
        }
        return CAIRN_OK;
    case RP_MORE: return rd_bool(v, ctx, f, &rep->more, st);
    case RP_SUBS:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return wrong_type(ctx, f, st);
        if (v->via.array.size == 0)
            return CAIRN_OK;
        rep->subscriptions = calloc(v->via.array.size, sizeof *rep->subscriptions);
        if (!rep->subscriptions)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            err = unpack_subscription(&v->via.array.ptr[i], &rep->subscriptions[i], st);
            if (err != CAIRN_OK)
                return err;
            rep->subscription_count = i + 1;
        }
        return CAIRN_OK;
    case RP_SUMS: return unpack_summaries(v, rep, st);
    case RP_MSHIP:
        if (v->type != MSGPACK_OBJECT_BIN)
            return wrong_type(ctx, f, st);
        free(rep->membership_msg);
        rep->membership_msg = malloc(v->via.bin.size ? v->via.bin.size : 1);
        if (!rep->membership_msg)
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        memcpy(rep->membership_msg, v->via.bin.ptr, v->via.bin.size);
        rep->membership_len = v->via.bin.size;
        return CAIRN_OK;
    default: return reply_cluster_field(idx, v, rep, st);
    }
}

cairn_err cairn_reply_decode(const char *buf, size_t len, cairn_reply *rep, cairn_status *st)
{
    cairn_reply_init(rep);
    msgpack_unpacked u;
    cairn_msg_type type = CAIRN_MSG_REPLY;
    uint64_t seen = 0;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = unpack_envelope(&u.data, &type, st);
    if (err == CAIRN_OK && type != CAIRN_MSG_REPLY)
        err = cairn_fail(st, CAIRN_E_DECODE, "message type %d is not a reply", (int)type);
    if (err == CAIRN_OK)
        err = walk_map(&u.data, "reply", reply_names, COUNT(reply_names), reply_field, rep, &seen,
                       st);
    if (err == CAIRN_OK)
        err = check_required(seen, 1u << RP_CODE, "reply", reply_names, COUNT(reply_names), st);
    /* The bucket digests and counts come together. */
    if (err == CAIRN_OK && ((seen >> RP_BDIG) & 1) != ((seen >> RP_BCNT) & 1))
        err = cairn_fail(st, CAIRN_E_DECODE, "reply: 'bdig' and 'bcnt' come together");
    msgpack_unpacked_destroy(&u);
    if (err != CAIRN_OK)
        cairn_reply_free(rep);
    return err;
}

/* ---- events ---------------------------------------------------------------------------------- */

enum { EV_NS, EV_SVC, EV_REV, EV_KIND, EV_AT, EV_PREV, EV_SNAP, EV_DELTA, EV_GONE };
static const char *const event_names[] = {"ns",   "svc",  "rev",   "kind", "at",
                                          "prev", "snap", "delta", "gone"};

/* The removed instances' keys of a delta: slices of the buffer being decoded. */
static cairn_err rd_gone(const msgpack_object *v, cairn_change_event *ev, cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type("event", "gone", st);
    uint32_t n = v->via.array.size;
    cairn_bytes *gone = n ? calloc(n, sizeof *gone) : NULL;
    if (n && !gone)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &v->via.array.ptr[i];
        if (k->type != MSGPACK_OBJECT_BIN || k->via.bin.size == 0 ||
            k->via.bin.size > CAIRN_LMDB_MAX_KEY) {
            free(gone);
            return cairn_fail(st, CAIRN_E_DECODE, "event: 'gone' holds a key that is not one");
        }
        gone[i] = (cairn_bytes){k->via.bin.ptr, k->via.bin.size};
    }
    free((void *)ev->gone); /* a repeated key: the last wins */
    ev->gone = gone;
    ev->gone_count = n;
    return CAIRN_OK;
}

static cairn_err event_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_change_event *ev = target;
    const char *ctx = "event", *f = event_names[idx];
    uint64_t u64;
    cairn_err err;
    switch (idx) {
    case EV_NS: return rd_str(v, ctx, f, &ev->namespace_id, st);
    case EV_SVC: return rd_str(v, ctx, f, &ev->service, st);
    case EV_REV: return rd_uint(v, ctx, f, UINT64_MAX, &ev->revision, st);
    case EV_KIND:
        err = rd_uint(v, ctx, f, CAIRN_CHANGE_TICK, &u64, st);
        ev->kind = (cairn_change_kind)u64;
        return err;
    case EV_AT: return rd_int(v, ctx, f, INT64_MIN, INT64_MAX, &ev->at_ms, st);
    case EV_PREV: return rd_uint(v, ctx, f, UINT64_MAX, &ev->prev_revision, st);
    case EV_SNAP:
        /* Borrowed: msgpack-c's bin points into the buffer being decoded (cairn_msg.h). */
        if (v->type != MSGPACK_OBJECT_BIN)
            return wrong_type(ctx, f, st);
        ev->snapshot = v->via.bin.ptr;
        ev->snapshot_len = v->via.bin.size;
        return CAIRN_OK;
    case EV_DELTA:
        if (v->type != MSGPACK_OBJECT_BIN)
            return wrong_type(ctx, f, st);
        ev->delta = v->via.bin.ptr;
        ev->delta_len = v->via.bin.size;
        return CAIRN_OK;
    case EV_GONE: return rd_gone(v, ev, st);
    }
    return CAIRN_OK;
}

cairn_err cairn_event_decode(const char *buf, size_t len, cairn_change_event *ev, cairn_status *st)
{
    memset(ev, 0, sizeof *ev);
    msgpack_unpacked u;
    cairn_msg_type type = CAIRN_MSG_CHANGE_EVENT;
    uint64_t seen = 0;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = unpack_envelope(&u.data, &type, st);
    if (err == CAIRN_OK && type != CAIRN_MSG_CHANGE_EVENT)
        err = cairn_fail(st, CAIRN_E_DECODE, "message type %d is not a change event", (int)type);
    if (err == CAIRN_OK)
        err = walk_map(&u.data, "event", event_names, COUNT(event_names), event_field, ev, &seen,
                       st);
    if (err == CAIRN_OK)
        err = check_required(seen, (1u << EV_NS) | (1u << EV_SVC) | (1u << EV_REV) |
                                       (1u << EV_KIND),
                             "event", event_names, COUNT(event_names), st);
    if (err == CAIRN_OK && ev->gone_count > 0 && !ev->delta)
        err = cairn_fail(st, CAIRN_E_DECODE, "event: 'gone' belongs to a 'delta'");
    msgpack_unpacked_destroy(&u);
    if (err != CAIRN_OK)
        cairn_event_free(ev);
    return err;
}

/* ---- subscriptions --------------------------------------------------------------------------- */

enum { SB_NS, SB_SVC, SB_CLUSTERS, SB_IP, SB_PORT, SB_AGENT, SB_AT, SB_SEQ };
static const char *const subscription_names[] = {"ns", "svc", "clusters", "ip",
                                                 "port", "agent", "at", "seq"};

static cairn_err subscription_field(int idx, const msgpack_object *v, void *target,
                                    cairn_status *st)
{
    cairn_subscription *sub = target;
    const char *ctx = "subscription", *f = subscription_names[idx];
    int64_t i64;
    cairn_err err;
    switch (idx) {
    case SB_NS: return rd_str(v, ctx, f, &sub->namespace_id, st);
    case SB_SVC: return rd_str(v, ctx, f, &sub->service, st);
    case SB_CLUSTERS: return rd_str(v, ctx, f, &sub->clusters, st);
    case SB_IP: return rd_str(v, ctx, f, &sub->ip, st);
    case SB_PORT:
        err = rd_int(v, ctx, f, INT32_MIN, INT32_MAX, &i64, st);
        sub->port = (int32_t)i64;
        return err;
    case SB_AGENT: return rd_str(v, ctx, f, &sub->agent, st);
    case SB_AT: return rd_int(v, ctx, f, INT64_MIN, INT64_MAX, &sub->at_ms, st);
    case SB_SEQ: return rd_uint(v, ctx, f, UINT64_MAX, &sub->seq, st);
    }
    return CAIRN_OK;
}

/* An absent optional string becomes "" so that consumers never see NULL. */
static cairn_err default_empty(char **s, cairn_status *st)
{
    if (!*s && !(*s = strdup("")))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    return CAIRN_OK;
}

/* The fields of one subscription map (a published message, or an entry of a snapshot reply). */
static cairn_err unpack_subscription(const msgpack_object *obj, cairn_subscription *sub,
                                     cairn_status *st)
{
    uint64_t seen = 0;
    cairn_err err = walk_map(obj, "subscription", subscription_names, COUNT(subscription_names),
                             subscription_field, sub, &seen, st);
    if (err == CAIRN_OK)
        err = check_required(seen, (1u << SB_NS) | (1u << SB_SVC) | (1u << SB_IP) |
                                       (1u << SB_PORT),
                             "subscription", subscription_names, COUNT(subscription_names), st);
    if (err == CAIRN_OK)
        err = default_empty(&sub->clusters, st);
    if (err == CAIRN_OK)
        err = default_empty(&sub->agent, st);
    if (err != CAIRN_OK)
        cairn_subscription_free(sub);
    return err;
}

cairn_err cairn_subscription_decode(const char *buf, size_t len, cairn_subscription *sub,
                                    cairn_status *st)
{
    memset(sub, 0, sizeof *sub);
    msgpack_unpacked u;
    cairn_msg_type type = CAIRN_MSG_SUBSCRIPTION;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = unpack_envelope(&u.data, &type, st);
    if (err == CAIRN_OK && type != CAIRN_MSG_SUBSCRIPTION)
        err = cairn_fail(st, CAIRN_E_DECODE, "message type %d is not a subscription", (int)type);
    if (err == CAIRN_OK)
        err = unpack_subscription(&u.data, sub, st);
    msgpack_unpacked_destroy(&u);
    if (err != CAIRN_OK)
        cairn_subscription_free(sub);
    return err;
}

/* ---- whole-buffer instance and service ------------------------------------------------------ */

cairn_err cairn_instance_decode(const char *buf, size_t len, cairn_instance *in, cairn_status *st)
{
    msgpack_unpacked u;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = cairn_unpack_instance(&u.data, in, st);
    else
        cairn_instance_init(in);
    msgpack_unpacked_destroy(&u);
    return err;
}

cairn_err cairn_service_decode(const char *buf, size_t len, cairn_service *svc, cairn_status *st)
{
    msgpack_unpacked u;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = cairn_unpack_service(&u.data, svc, st);
    else
        memset(svc, 0, sizeof *svc);
    msgpack_unpacked_destroy(&u);
    return err;
}

cairn_err cairn_snapshot_decode(const char *buf, size_t len, cairn_service_snapshot *snap,
                                cairn_status *st)
{
    msgpack_unpacked u;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK) {
        err = unpack_snapshot(&u.data, snap, st);
    } else {
        memset(snap, 0, sizeof *snap);
    }
    msgpack_unpacked_destroy(&u);
    return err;
}

/* ---- lifetimes ------------------------------------------------------------------------------- */

/* Nothing here allocates, so calling cairn_service_init on service_def afterwards is safe. */
void cairn_request_init(cairn_request *req, cairn_msg_type type)
{
    memset(req, 0, sizeof *req);
    req->type = type;
    cairn_instance_init(&req->instance);
}

void cairn_request_free(cairn_request *req)
{
    if (!req)
        return;
    cairn_msg_type type = req->type;
    free(req->namespace_id);
    free(req->service);
    free(req->group);
    free(req->filter);
    for (uint32_t i = 0; i < req->state_count; i++)
        cairn_distro_state_free(&req->states[i]);
    free(req->states);
    for (uint32_t i = 0; i < req->owner_count; i++)
        free(req->owners[i]);
    free(req->owners);
    free(req->self);
    for (uint32_t i = 0; i < req->record_count; i++)
        cairn_persist_record_free(&req->records[i]);
    free(req->records);
    free(req->owner);
    for (uint32_t i = 0; i < req->instance_count; i++)
        cairn_instance_free(&req->instances[i]);
    free(req->instances);
    free(req->forward_to);
    free(req->inner);
    cairn_instance_free(&req->instance);
    cairn_service_free(&req->service_def);
    cairn_request_init(req, type);
}

void cairn_reply_init(cairn_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    cairn_instance_init(&rep->instance);
}

void cairn_reply_free(cairn_reply *rep)
{
    if (!rep)
        return;
    free(rep->message);
    cairn_instance_free(&rep->instance);
    cairn_service_snapshot_free(&rep->snapshot);
    for (uint32_t i = 0; i < rep->name_count; i++)
        free(rep->names[i]);
    free(rep->names);
    for (uint32_t i = 0; i < rep->snapshot_count; i++)
        cairn_service_snapshot_free(&rep->snapshots[i]);
    free(rep->snapshots);
    for (uint32_t i = 0; i < rep->subscription_count; i++)
        cairn_subscription_free(&rep->subscriptions[i]);
    free(rep->subscriptions);
    for (uint32_t i = 0; i < rep->summary_count; i++)
        free(rep->summaries[i].name);
    free(rep->summaries);
    free(rep->outcomes);
    free(rep->digests);
    for (uint32_t i = 0; i < rep->state_count; i++)
        cairn_distro_state_free(&rep->states[i]);
    free(rep->states);
    free(rep->cursor_ns);
    free(rep->cursor_svc);
    free(rep->membership_msg);
    cairn_reply_init(rep);
}

void cairn_reply_set_status(cairn_reply *rep, const cairn_status *st)
{
    free(rep->message);
    rep->message = NULL;
    if (!st) {
        rep->code = CAIRN_OK;
        return;
    }
    rep->code = st->code;
    rep->message = strdup(st->message); /* NULL on failure: the code still tells the caller */
}

void cairn_reply_fail(cairn_reply *rep, const cairn_status *st)
{
    cairn_reply_free(rep);
    cairn_reply_set_status(rep, st);
}

cairn_bytes *cairn_bytes_copy_all(const cairn_bytes *src, uint32_t n)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += src[i].len;
    cairn_bytes *out = n ? malloc(n * sizeof *out + bytes) : NULL;
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(p, src[i].ptr, src[i].len);
        out[i] = (cairn_bytes){p, src[i].len};
        p += src[i].len;
    }
    return out;
}

void cairn_event_free(cairn_change_event *ev)
{
    if (!ev)
        return;
    free(ev->namespace_id);
    free(ev->service);
    free((void *)ev->gone);
    memset(ev, 0, sizeof *ev);
}

void cairn_subscription_free(cairn_subscription *sub)
{
    if (!sub)
        return;
    free(sub->namespace_id);
    free(sub->service);
    free(sub->clusters);
    free(sub->ip);
    free(sub->agent);
    memset(sub, 0, sizeof *sub);
}

void cairn_distro_state_free(cairn_distro_state *s)
{
    if (!s)
        return;
    free(s->namespace_id);
    free(s->service);
    cairn_distro_version_free(&s->version);
    for (uint32_t i = 0; i < s->instance_count; i++)
        cairn_instance_free(&s->instances[i]);
    free(s->instances);
    memset(s, 0, sizeof *s);
}

void cairn_persist_record_free(cairn_persist_record *r)
{
    if (!r)
        return;
    free(r->namespace_id);
    free(r->service);
    cairn_service_free(&r->service_def);
    cairn_instance_free(&r->instance);
    memset(r, 0, sizeof *r);
}

/* ---- the building blocks for the other codecs (cairn_msgpack_codec.h) ---------------------- */

int cairn_msgpack_pack_str(msgpack_packer *pk, const char *s)
{
    return pk_str(pk, s);
}

cairn_err cairn_msgpack_unpack_whole(const char *buf, size_t len, msgpack_unpacked *u,
                                     cairn_status *st)
{
    return unpack_whole(buf, len, u, st);
}

cairn_err cairn_msgpack_walk_map(const msgpack_object *obj, const char *ctx,
                                 const char *const *names, int name_count,
                                 cairn_msgpack_field_fn fn, void *target, uint64_t *seen,
                                 cairn_status *st)
{
    return walk_map(obj, ctx, names, name_count, fn, target, seen, st);
}

cairn_err cairn_msgpack_decode_map(const char *buf, size_t len, const char *ctx,
                                   const char *const *names, int name_count,
                                   cairn_msgpack_field_fn fn, void *target, uint64_t *seen,
                                   cairn_status *st)
{
    msgpack_unpacked u;
    *seen = 0;
    cairn_err err = unpack_whole(buf, len, &u, st);
    if (err == CAIRN_OK)
        err = walk_map(&u.data, ctx, names, name_count, fn, target, seen, st);
    msgpack_unpacked_destroy(&u);
    return err;
}

cairn_err cairn_msgpack_rd_str(const msgpack_object *o, const char *ctx, const char *field,
                               char **out, cairn_status *st)
{
    return rd_str(o, ctx, field, out, st);
}

cairn_err cairn_msgpack_rd_uint(const msgpack_object *o, const char *ctx, const char *field,
                                uint64_t max, uint64_t *out, cairn_status *st)
{
    return rd_uint(o, ctx, field, max, out, st);
}

cairn_err cairn_msgpack_rd_int(const msgpack_object *o, const char *ctx, const char *field,
                               int64_t min, int64_t max, int64_t *out, cairn_status *st)
{
    return rd_int(o, ctx, field, min, max, out, st);
}

cairn_err cairn_msgpack_rd_bool(const msgpack_object *o, const char *ctx, const char *field,
                                bool *out, cairn_status *st)
{
    return rd_bool(o, ctx, field, out, st);
}

cairn_err cairn_event_next(const char *buf, size_t len, size_t *event_len, cairn_status *st)
{
    if (!buf || len == 0 || !msgpack_bounded((const uint8_t *)buf, len, event_len))
        return cairn_fail(st, CAIRN_E_DECODE, "truncated or malformed change event");
    return CAIRN_OK;
}

cairn_err cairn_event_each(const char *buf, size_t len,
                           void (*one)(void *arg, const char *event, size_t event_len), void *arg,
                           cairn_status *st)
{
    for (size_t off = 0, n; off < len; off += n) {
        if (cairn_event_next(buf + off, len - off, &n, st) != CAIRN_OK)
            return st->code;
        one(arg, buf + off, n);
    }
    return CAIRN_OK;
}
