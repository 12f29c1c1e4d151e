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
 *                  mode  uint    mode              (INSTANCE_UPSERT, SERVICE_PUT, INSTANCE_HEALTH)
 *                  mask  uint    patch_mask        (INSTANCE_PATCH)
 *                  body  bool    has_body          (BEAT)
 *                  group str -   group             (SERVICE_LIST, SERVICE_CATALOG)
 *                  filter str -  filter            (SERVICE_CATALOG)
 *                  page  uint    page_no           (SERVICE_LIST, SERVICE_CATALOG)
 *                  size  uint    page_size         (SERVICE_LIST, SNAPSHOT_PAGE, SERVICE_CATALOG)
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
 *  event           ns    str     namespace_id
 *                  svc   str     service
 *                  rev   uint    revision
 *                  kind  uint    kind (cairn_change_kind)
 *                  at    int     at_ms             (optional when decoding)
 *                  prev  uint -  prev_revision     (written when non-zero)
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
 */
#include "cairn_msg.h"

#include <stdlib.h>
#include <string.h>

static const char *const msg_type_names[CAIRN_MSG__END] = {
    [CAIRN_MSG_REPLY] = "reply",
    [CAIRN_MSG_INSTANCE_UPSERT] = "instance_upsert",
    [CAIRN_MSG_INSTANCE_PATCH] = "instance_patch",
    [CAIRN_MSG_INSTANCE_REMOVE] = "instance_remove",
    [CAIRN_MSG_INSTANCE_GET] = "instance_get",
    [CAIRN_MSG_SERVICE_GET] = "service_get",
    [CAIRN_MSG_SERVICE_PUT] = "service_put",
    [CAIRN_MSG_SERVICE_REMOVE] = "service_remove",
    [CAIRN_MSG_SERVICE_LIST] = "service_list",
    [CAIRN_MSG_BEAT] = "beat",
    [CAIRN_MSG_STATS] = "stats",
    [CAIRN_MSG_CHANGE_EVENT] = "change_event",
    [CAIRN_MSG_SNAPSHOT_PAGE] = "snapshot_page",
    [CAIRN_MSG_INSTANCE_HEALTH] = "instance_health",
    [CAIRN_MSG_SUBSCRIPTION] = "subscription",
    [CAIRN_MSG_SUBSCRIPTION_SNAPSHOT] = "subscription_snapshot",
    [CAIRN_MSG_SERVICE_CATALOG] = "service_catalog",
    [CAIRN_MSG_NAMESPACE_LIST] = "namespace_list",
};

const char *cairn_msg_type_name(cairn_msg_type type)
{
    if ((unsigned)type >= CAIRN_MSG__END || !msg_type_names[type])
        return "unknown";
    return msg_type_names[type];
}

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

static int pk_kv_str(msgpack_packer *pk, const char *key, const char *s)
{
    TRY(pk_str(pk, key));
    return pk_str(pk, s);
}

static int pk_kv_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
    TRY(pk_str(pk, key));
    return msgpack_pack_uint64(pk, v);
}

static int pk_kv_int(msgpack_packer *pk, const char *key, int64_t v)
{
    TRY(pk_str(pk, key));
    return msgpack_pack_int64(pk, v);
}

static int pk_kv_bool(msgpack_packer *pk, const char *key, bool v)
{
    TRY(pk_str(pk, key));
    return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

static int pk_metadata(msgpack_packer *pk, const char *key, const cairn_metadata *md)
{
    TRY(pk_str(pk, key));
    if (md->len > 0 && !md->items)
        return PACK_INVALID;
    TRY(msgpack_pack_map(pk, md->len));
    for (uint32_t i = 0; i < md->len; i++)
        TRY(pk_kv_str(pk, md->items[i].key, md->items[i].value));
    return 0;
}

int cairn_pack_instance(msgpack_packer *pk, const cairn_instance *in)
{
    if (!in->ip)
        return PACK_INVALID;
    uint32_t n = 9 + (in->cluster != NULL) + (in->instance_id != NULL) + (in->app != NULL);
    TRY(msgpack_pack_map(pk, n));
    TRY(pk_kv_str(pk, "ip", in->ip));
    TRY(pk_kv_int(pk, "port", in->port));
    if (in->cluster)
        TRY(pk_kv_str(pk, "cluster", in->cluster));
    if (in->instance_id)
        TRY(pk_kv_str(pk, "id", in->instance_id));
    if (in->app)
        TRY(pk_kv_str(pk, "app", in->app));
    TRY(pk_str(pk, "weight"));
    TRY(msgpack_pack_double(pk, in->weight));
    TRY(pk_kv_bool(pk, "healthy", in->healthy));
    TRY(pk_kv_bool(pk, "enabled", in->enabled));
    TRY(pk_kv_bool(pk, "ephemeral", in->ephemeral));
    TRY(pk_kv_bool(pk, "marked", in->marked));
    TRY(pk_metadata(pk, "meta", &in->metadata));
    TRY(pk_kv_int(pk, "mtime", in->modified_ms));
    return 0;
}

static int pack_cluster(msgpack_packer *pk, const cairn_cluster *c)
{
    uint32_t n = 5 + (c->name != NULL) + (c->check_path != NULL);
    TRY(msgpack_pack_map(pk, n));
    if (c->name)
        TRY(pk_kv_str(pk, "name", c->name));
    TRY(pk_kv_uint(pk, "check", (uint32_t)c->check_type));
    if (c->check_path)
        TRY(pk_kv_str(pk, "path", c->check_path));
    TRY(pk_kv_int(pk, "status", c->check_expected_status));
    TRY(pk_kv_int(pk, "cport", c->check_port));
    TRY(pk_kv_bool(pk, "useport", c->use_instance_port));
    TRY(pk_metadata(pk, "meta", &c->metadata));
    return 0;
}

int cairn_pack_service(msgpack_packer *pk, const cairn_service *svc)
{
    if (svc->cluster_count > 0 && !svc->clusters)
        return PACK_INVALID;
    uint32_t n = 6 + (svc->namespace_id != NULL) + (svc->name != NULL) +
                 (svc->selector_json != NULL);
    TRY(msgpack_pack_map(pk, n));
    if (svc->namespace_id)
        TRY(pk_kv_str(pk, "ns", svc->namespace_id));
    if (svc->name)
        TRY(pk_kv_str(pk, "name", svc->name));
    TRY(pk_str(pk, "pt"));
    TRY(msgpack_pack_float(pk, svc->protect_threshold));
    TRY(pk_metadata(pk, "meta", &svc->metadata));
    if (svc->selector_json)
        TRY(pk_kv_str(pk, "sel", svc->selector_json));
    TRY(pk_str(pk, "clusters"));
    TRY(msgpack_pack_array(pk, svc->cluster_count));
    for (uint32_t i = 0; i < svc->cluster_count; i++)
        TRY(pack_cluster(pk, &svc->clusters[i]));
    TRY(pk_kv_bool(pk, "defined", svc->defined));
    TRY(pk_kv_uint(pk, "rev", svc->revision));
    TRY(pk_kv_int(pk, "mtime", svc->modified_ms));
    return 0;
}

static int pack_snapshot(msgpack_packer *pk, const cairn_service_snapshot *snap)
{
    if (snap->instance_count > 0 && !snap->instances)
        return PACK_INVALID;
    TRY(msgpack_pack_map(pk, 3));
    TRY(pk_kv_bool(pk, "found", snap->found));
    TRY(pk_str(pk, "svc"));
    TRY(cairn_pack_service(pk, &snap->service));
    TRY(pk_str(pk, "insts"));
    TRY(msgpack_pack_array(pk, snap->instance_count));
    for (uint32_t i = 0; i < snap->instance_count; i++)
        TRY(cairn_pack_instance(pk, &snap->instances[i]));
    return 0;
}

static int pack_envelope(msgpack_packer *pk, uint32_t fields, cairn_msg_type type)
{
    TRY(msgpack_pack_map(pk, 2 + fields));
    TRY(pk_kv_uint(pk, "t", (uint32_t)type));
    TRY(pk_kv_uint(pk, "v", CAIRN_MSG_VERSION));
    return 0;
}

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
};

/* The request types: a type is a request exactly when it has an entry here. */
static const struct {
    bool request;
    uint32_t fields;   /* encoded */
    uint32_t required; /* must be present when decoding */
} request_fields[CAIRN_MSG__END] = {
    [CAIRN_MSG_INSTANCE_UPSERT] = {true, RQ_NS | RQ_SVC | RQ_INST | RQ_MODE,
                                   RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_INSTANCE_PATCH] = {true, RQ_NS | RQ_SVC | RQ_INST | RQ_MASK,
                                  RQ_NS | RQ_SVC | RQ_INST | RQ_MASK},
    [CAIRN_MSG_INSTANCE_REMOVE] = {true, RQ_NS | RQ_SVC | RQ_INST, RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_INSTANCE_GET] = {true, RQ_NS | RQ_SVC | RQ_INST, RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_SERVICE_GET] = {true, RQ_NS | RQ_SVC, RQ_NS | RQ_SVC},
    [CAIRN_MSG_SERVICE_PUT] = {true, RQ_NS | RQ_SVC | RQ_SVCDEF | RQ_MODE,
                               RQ_NS | RQ_SVC | RQ_SVCDEF},
    [CAIRN_MSG_SERVICE_REMOVE] = {true, RQ_NS | RQ_SVC, RQ_NS | RQ_SVC},
    [CAIRN_MSG_SERVICE_LIST] = {true, RQ_NS | RQ_LIST | RQ_SIZE, RQ_NS},
    [CAIRN_MSG_BEAT] = {true, RQ_NS | RQ_SVC | RQ_INST | RQ_BODY, RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_STATS] = {true, 0, 0},
    /* ns and svc are the cursor: omitted when NULL (the first page) */
    [CAIRN_MSG_SNAPSHOT_PAGE] = {true, RQ_NS | RQ_SVC | RQ_SIZE, RQ_SIZE},
    [CAIRN_MSG_INSTANCE_HEALTH] = {true, RQ_NS | RQ_SVC | RQ_INST | RQ_MODE,
                                   RQ_NS | RQ_SVC | RQ_INST},
    [CAIRN_MSG_SERVICE_CATALOG] = {true, RQ_NS | RQ_LIST | RQ_FILTER | RQ_SIZE, RQ_NS},
    [CAIRN_MSG_NAMESPACE_LIST] = {true, 0, 0},
    /* page = the pusher's index, size = pusher.count */
    [CAIRN_MSG_SUBSCRIPTION_SNAPSHOT] = {true, RQ_LIST | RQ_SIZE, RQ_LIST | RQ_SIZE},
};

static bool is_request_type(uint64_t t)
{
    return t < CAIRN_MSG__END && request_fields[t].request;
}

/* The largest mode value a request type takes. Types without a mode keep the old bound of 1 so
 * that a stray "mode" field decodes as it always did. */
static uint32_t request_mode_max(cairn_msg_type type)
{
    switch (type) {
    case CAIRN_MSG_SERVICE_PUT: return CAIRN_SERVICE_CLUSTERS;
    case CAIRN_MSG_INSTANCE_HEALTH: return CAIRN_HEALTH_MANUAL;
    default: return CAIRN_UPSERT_MUST_EXIST;
    }
}

#define PATCH_KNOWN_BITS                                                                   \
    (CAIRN_PATCH_METADATA | CAIRN_PATCH_APP | CAIRN_PATCH_WEIGHT | CAIRN_PATCH_HEALTHY |   \
     CAIRN_PATCH_ENABLED)

static int pack_request(msgpack_packer *pk, const cairn_request *req)
{
    uint32_t f = request_fields[req->type].fields, r = request_fields[req->type].required;
    if (((r & RQ_NS) && !req->namespace_id) || ((r & RQ_SVC) && !req->service) ||
        ((r & RQ_INST) && !req->has_instance) || ((r & RQ_SVCDEF) && !req->has_service))
        return PACK_INVALID;
    /* Optional parts are written when present (every part of the older types is required, so
     * their encodings are unchanged). */
    bool ns = (f & RQ_NS) && req->namespace_id, svc = (f & RQ_SVC) && req->service;
    bool inst = (f & RQ_INST) && req->has_instance, svcdef = (f & RQ_SVCDEF) && req->has_service;
    bool group = (f & RQ_LIST) && req->group, filter = (f & RQ_FILTER) && req->filter;
    uint32_t n = ns + svc + inst + svcdef + !!(f & RQ_MODE) + !!(f & RQ_MASK) + !!(f & RQ_BODY) +
                 group + filter + !!(f & RQ_LIST) + !!(f & RQ_SIZE);
    TRY(pack_envelope(pk, n, req->type));
    if (ns)
        TRY(pk_kv_str(pk, "ns", req->namespace_id));
    if (svc)
        TRY(pk_kv_str(pk, "svc", req->service));
    if (inst) {
        TRY(pk_str(pk, "inst"));
        TRY(cairn_pack_instance(pk, &req->instance));
    }
    if (svcdef) {
        TRY(pk_str(pk, "svcdef"));
        TRY(cairn_pack_service(pk, &req->service_def));
    }
    if (f & RQ_MODE)
        TRY(pk_kv_uint(pk, "mode", req->mode));
    if (f & RQ_MASK)
        TRY(pk_kv_uint(pk, "mask", req->patch_mask));
    if (f & RQ_BODY)
        TRY(pk_kv_bool(pk, "body", req->has_body));
    if (group)
        TRY(pk_kv_str(pk, "group", req->group));
    if (filter)
        TRY(pk_kv_str(pk, "filter", req->filter));
    if (f & RQ_LIST)
        TRY(pk_kv_uint(pk, "page", req->page_no));
    if (f & RQ_SIZE)
        TRY(pk_kv_uint(pk, "size", req->page_size));
    return 0;
}

/* A subscription's fields; the published message puts t and v before them, a snapshot reply
 * lists them bare. */
static uint32_t subscription_fields(const cairn_subscription *sub)
{
    return 7 + (sub->seq != 0);
}

static int pack_subscription_fields(msgpack_packer *pk, const cairn_subscription *sub)
{
    if (!sub->namespace_id || !sub->service || !sub->ip)
        return PACK_INVALID;
    TRY(pk_kv_str(pk, "ns", sub->namespace_id));
    TRY(pk_kv_str(pk, "svc", sub->service));
    TRY(pk_kv_str(pk, "clusters", sub->clusters ? sub->clusters : ""));
    TRY(pk_kv_str(pk, "ip", sub->ip));
    TRY(pk_kv_int(pk, "port", sub->port));
    TRY(pk_kv_str(pk, "agent", sub->agent ? sub->agent : ""));
    TRY(pk_kv_int(pk, "at", sub->at_ms));
    if (sub->seq != 0)
        TRY(pk_kv_uint(pk, "seq", sub->seq));
    return 0;
}

static int pack_subscription(msgpack_packer *pk, const cairn_subscription *sub)
{
    TRY(pack_envelope(pk, subscription_fields(sub), CAIRN_MSG_SUBSCRIPTION));
    return pack_subscription_fields(pk, sub);
}

static int pack_summary(msgpack_packer *pk, const cairn_service_summary *sum)
{
    TRY(msgpack_pack_map(pk, 5));
    TRY(pk_kv_str(pk, "name", sum->name));
    TRY(pk_str(pk, "pt"));
    TRY(msgpack_pack_float(pk, sum->protect_threshold));
    TRY(pk_kv_uint(pk, "clusters", sum->cluster_count));
    TRY(pk_kv_uint(pk, "insts", sum->instance_count));
    TRY(pk_kv_uint(pk, "healthy", sum->healthy_count));
    return 0;
}

static int pack_reply(msgpack_packer *pk, const cairn_reply *rep)
{
    if ((rep->name_count > 0 && !rep->names) || (rep->snapshot_count > 0 && !rep->snapshots) ||
        (rep->subscription_count > 0 && !rep->subscriptions) ||
        (rep->summary_count > 0 && !rep->summaries))
        return PACK_INVALID;
    uint32_t n = 1 + (rep->message != NULL) + (rep->revision != 0) + rep->has_instance +
                 rep->has_snapshot + (rep->name_count > 0) + (rep->total != 0) +
                 (rep->beat_code != 0) + (rep->beat_interval_ms != 0) +
                 (rep->service_count != 0) + (rep->instance_count != 0) +
                 (rep->snapshot_count > 0) + (rep->subscription_count > 0) + rep->more +
                 (rep->summary_count > 0);
    TRY(pack_envelope(pk, n, CAIRN_MSG_REPLY));
    TRY(pk_kv_uint(pk, "code", (uint32_t)rep->code));
    if (rep->message)
        TRY(pk_kv_str(pk, "msg", rep->message));
    if (rep->revision != 0)
        TRY(pk_kv_uint(pk, "rev", rep->revision));
    if (rep->has_instance) {
        TRY(pk_str(pk, "inst"));
        TRY(cairn_pack_instance(pk, &rep->instance));
    }
    if (rep->has_snapshot) {
        TRY(pk_str(pk, "snap"));
        TRY(pack_snapshot(pk, &rep->snapshot));
    }
    if (rep->name_count > 0) {
        TRY(pk_str(pk, "names"));
        TRY(msgpack_pack_array(pk, rep->name_count));
        for (uint32_t i = 0; i < rep->name_count; i++)
            TRY(pk_str(pk, rep->names[i]));
    }
    if (rep->total != 0)
        TRY(pk_kv_uint(pk, "total", rep->total));
    if (rep->beat_code != 0)
        TRY(pk_kv_int(pk, "bcode", rep->beat_code));
    if (rep->beat_interval_ms != 0)
        TRY(pk_kv_int(pk, "bint", rep->beat_interval_ms));
    if (rep->service_count != 0)
        TRY(pk_kv_uint(pk, "nsvc", rep->service_count));
    if (rep->instance_count != 0)
        TRY(pk_kv_uint(pk, "ninst", rep->instance_count));
    if (rep->snapshot_count > 0) {
        TRY(pk_str(pk, "snaps"));
        TRY(msgpack_pack_array(pk, rep->snapshot_count));
        for (uint32_t i = 0; i < rep->snapshot_count; i++)
            TRY(pack_snapshot(pk, &rep->snapshots[i]));
    }
    if (rep->subscription_count > 0) {
        TRY(pk_str(pk, "subs"));
        TRY(msgpack_pack_array(pk, rep->subscription_count));
        for (uint32_t i = 0; i < rep->subscription_count; i++) {
            TRY(msgpack_pack_map(pk, subscription_fields(&rep->subscriptions[i])));
            TRY(pack_subscription_fields(pk, &rep->subscriptions[i]));
        }
    }
    if (rep->more)
        TRY(pk_kv_bool(pk, "more", true));
    if (rep->summary_count > 0) {
        TRY(pk_str(pk, "sums"));
        TRY(msgpack_pack_array(pk, rep->summary_count));
        for (uint32_t i = 0; i < rep->summary_count; i++)
            TRY(pack_summary(pk, &rep->summaries[i]));
    }
    return 0;
}

static int pack_event(msgpack_packer *pk, const cairn_change_event *ev)
{
    TRY(pack_envelope(pk, 5 + (ev->prev_revision != 0), CAIRN_MSG_CHANGE_EVENT));
    TRY(pk_kv_str(pk, "ns", ev->namespace_id));
    TRY(pk_kv_str(pk, "svc", ev->service));
    TRY(pk_kv_uint(pk, "rev", ev->revision));
    TRY(pk_kv_uint(pk, "kind", (uint32_t)ev->kind));
    TRY(pk_kv_int(pk, "at", ev->at_ms));
    if (ev->prev_revision != 0)
        TRY(pk_kv_uint(pk, "prev", ev->prev_revision));
    return 0;
}

/* Runs one packing function into a fresh buffer and hands the buffer to the caller. */
typedef int (*pack_fn)(msgpack_packer *pk, const void *obj);

static cairn_err encode_with(pack_fn fn, const void *obj, char **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
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
static int pack_reply_v(msgpack_packer *pk, const void *o) { return pack_reply(pk, o); }
static int pack_event_v(msgpack_packer *pk, const void *o) { return pack_event(pk, o); }
static int pack_subscription_v(msgpack_packer *pk, const void *o)
{
    return pack_subscription(pk, o);
}
static int pack_instance_v(msgpack_packer *pk, const void *o) { return cairn_pack_instance(pk, o); }
static int pack_service_v(msgpack_packer *pk, const void *o) { return cairn_pack_service(pk, o); }

cairn_err cairn_request_encode(const cairn_request *req, char **out, size_t *out_len)
{
    if (!req || !is_request_type(req->type))
        return CAIRN_E_INVALID;
    /* a mode the peer's decoder would refuse */
    if ((request_fields[req->type].fields & RQ_MODE) && req->mode > request_mode_max(req->type))
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
    if (!ev || !ev->namespace_id || !ev->service || (unsigned)ev->kind > CAIRN_CHANGE_TICK)
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

/* A map of str → str into md (md is empty on entry; freed by the caller's cleanup). */
static cairn_err rd_metadata(const msgpack_object *o, const char *ctx, const char *field,
                             cairn_metadata *md, cairn_status *st)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return wrong_type(ctx, field, st);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        char *k = NULL, *v = NULL;
        cairn_err err = rd_str(&kv->key, ctx, field, &k, st);
        if (err == CAIRN_OK)
            err = rd_str(&kv->val, ctx, field, &v, st);
        if (err == CAIRN_OK && cairn_metadata_set(md, k, v) != CAIRN_OK)
            err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
        free(k);
        free(v);
        if (err != CAIRN_OK)
            return err;
    }
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
       IN_EPHEMERAL, IN_MARKED, IN_META, IN_MTIME };
static const char *const instance_names[] = {"ip", "port", "cluster", "id", "app", "weight",
                                             "healthy", "enabled", "ephemeral", "marked",
                                             "meta", "mtime"};

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

enum { SV_NS, SV_NAME, SV_PT, SV_META, SV_SEL, SV_CLUSTERS, SV_DEFINED, SV_REV, SV_MTIME };
static const char *const service_names[] = {"ns", "name", "pt", "meta", "sel", "clusters",
                                            "defined", "rev", "mtime"};

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

/* ---- requests -------------------------------------------------------------------------------- */

enum { RF_NS, RF_SVC, RF_INST, RF_SVCDEF, RF_MODE, RF_MASK, RF_BODY, RF_GROUP, RF_PAGE,
       RF_SIZE, RF_FILTER };
static const char *const request_names[] = {"ns",   "svc",  "inst",  "svcdef", "mode",  "mask",
                                            "body", "group", "page", "size",   "filter"};

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
    }
    return CAIRN_OK;
}

/* The RQ_* bits as a bit set over request_names. */
static uint64_t request_required_bits(cairn_msg_type type)
{
    uint32_t r = request_fields[type].required;
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
    if (err == CAIRN_OK && !is_request_type(type))
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
       RP_NSVC, RP_NINST, RP_SNAPS, RP_MORE, RP_SUBS, RP_SUMS };
static const char *const reply_names[] = {"code", "msg", "rev", "inst", "snap", "names",
                                          "total", "bcode", "bint", "nsvc", "ninst", "snaps",
                                          "more", "subs", "sums"};

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
    }
    return CAIRN_OK;
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
    msgpack_unpacked_destroy(&u);
    if (err != CAIRN_OK)
        cairn_reply_free(rep);
    return err;
}

/* ---- events ---------------------------------------------------------------------------------- */

enum { EV_NS, EV_SVC, EV_REV, EV_KIND, EV_AT, EV_PREV };
static const char *const event_names[] = {"ns", "svc", "rev", "kind", "at", "prev"};

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

void cairn_event_free(cairn_change_event *ev)
{
    if (!ev)
        return;
    free(ev->namespace_id);
    free(ev->service);
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
