/* The registry's LMDB store: environment set-up and the record operations on it. */
#include "registry_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cairn_keys.h"
#include "cairn_log.h"
#include "cairn_msg.h"
#include "registry_digest_cache.h"
#include "registry_touched.h"

#include <sodium.h>

static const char META_SCHEMA[] = "schema_version";
static const char META_REVISION[] = "revision";
/* Per-service instance counters live in "meta" under COUNT_TAG + the service key; the tag keeps
 * them apart from the named entries above. */
#define COUNT_TAG '#'

cairn_err registry_store_fail(int rc, const char *what, cairn_status *st)
{
    if (rc == MDB_MAP_FULL)
        return cairn_fail(st, CAIRN_E_STORAGE,
                          "%s: registry store is full (raise registry.map_size_mb)", what);
    return cairn_fail(st, CAIRN_E_STORAGE, "%s: %s", what, mdb_strerror(rc));
}

static cairn_err key_too_long(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_INVALID, "name too long for a store key (limit %d bytes)",
                      CAIRN_LMDB_MAX_KEY);
}

/* Fixed-width big-endian integers for meta values, so the bytes mean the same on any host. */
static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The value at key k of dbi into *val (valid until the transaction ends); *found false, and no
 * error, when there is none. what names the read in an error. */
static cairn_err get_record(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
                            const char *what, MDB_val *val, bool *found, cairn_status *st)
{
    MDB_val key = {klen, (void *)k};
    int rc = mdb_get(txn, dbi, &key, val);
    *found = rc == 0;
    if (rc && rc != MDB_NOTFOUND)
        return registry_store_fail(rc, what, st);
    return CAIRN_OK;
}

static cairn_err meta_get_u64(registry_store *s, MDB_txn *txn, const void *k, size_t klen,
                              uint64_t *v, bool *found, cairn_status *st)
{
    MDB_val val;
    *v = 0;
    if (get_record(txn, s->meta, k, klen, "read meta", &val, found, st))
        return st->code;
    if (!*found)
        return CAIRN_OK;
    if (val.mv_size != 8)
        return cairn_fail(st, CAIRN_E_STORAGE, "corrupt meta record (size %zu)", val.mv_size);
    *v = get_be64(val.mv_data);
    return CAIRN_OK;
}

static cairn_err meta_put_u64(registry_store *s, MDB_txn *txn, const void *k, size_t klen,
                              uint64_t v, cairn_status *st)
{
    uint8_t buf[8];
    put_be64(buf, v);
    MDB_val key = {klen, (void *)k}, val = {sizeof buf, buf};
    int rc = mdb_put(txn, s->meta, &key, &val, 0);
    return rc ? registry_store_fail(rc, "write meta", st) : CAIRN_OK;
}

/* ---- open / close ----------------------------------------------------------------------------- */

static const char META_EPOCH[] = "store_epoch";
static const char META_FRESH[] = "store_fresh";
static const char META_RAFT_APPLIED[] = "raft_applied";
static const char META_LOAD_ACTIVE[] = "load_active";
/* Snapshot-load marks live in "meta" under LOAD_TAG + the service key (see COUNT_TAG). */
#define LOAD_TAG '@'
/* Services whose content digest is remembered (about 100 bytes each). */
#define DIGEST_CACHE_MAX (1u << 20)

/* The store's Distro epoch: read, or made (random, non-zero) with a new store, which is then
 * fresh until it holds data (registry_store_clear_fresh). */
static cairn_err open_epoch(registry_store *s, MDB_txn *txn, cairn_status *st)
{
    bool found;
    if (meta_get_u64(s, txn, META_EPOCH, strlen(META_EPOCH), &s->epoch, &found, st))
        return st->code;
    if (found && s->epoch != 0)
        return CAIRN_OK;
    if (sodium_init() < 0)
        return cairn_fail(st, CAIRN_E_INTERNAL, "libsodium cannot start");
    do
        randombytes_buf(&s->epoch, sizeof s->epoch);
    while (s->epoch == 0);
    /* A store made before epochs existed gets one now, and is fresh only if it is empty. */
    MDB_stat ms;
    int rc = mdb_stat(txn, s->services, &ms);
    if (rc)
        return registry_store_fail(rc, "stat services", st);
    if (meta_put_u64(s, txn, META_EPOCH, strlen(META_EPOCH), s->epoch, st) ||
        (ms.ms_entries == 0 && meta_put_u64(s, txn, META_FRESH, strlen(META_FRESH), 1, st)))
        return st->code;
    log_info("new store: Distro epoch %016llx", (unsigned long long)s->epoch);
    return CAIRN_OK;
}

static cairn_err open_databases(registry_store *s, cairn_status *st)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return registry_store_fail(rc, "begin store set-up", st);
    if ((rc = mdb_dbi_open(txn, "services", MDB_CREATE, &s->services)) ||
        (rc = mdb_dbi_open(txn, "instances", MDB_CREATE, &s->instances)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
        (rc = mdb_dbi_open(txn, "owners", MDB_CREATE, &s->owners))) {
        mdb_txn_abort(txn);
        return registry_store_fail(rc, "open databases", st);
    }
    uint64_t version;
    bool found;
    if (meta_get_u64(s, txn, META_SCHEMA, strlen(META_SCHEMA), &version, &found, st)) {
        mdb_txn_abort(txn);
        return st->code;
    }
    if (found && version != REGISTRY_SCHEMA_VERSION) {
        mdb_txn_abort(txn);
        return cairn_fail(st, CAIRN_E_STORAGE,
                          "store has schema version %llu, this registry reads version %d",
                          (unsigned long long)version, REGISTRY_SCHEMA_VERSION);
    }
    if (!found && meta_put_u64(s, txn, META_SCHEMA, strlen(META_SCHEMA), REGISTRY_SCHEMA_VERSION,
                               st)) {
        mdb_txn_abort(txn);
        return st->code;
    }
    if (open_epoch(s, txn, st)) {
        mdb_txn_abort(txn);
        return st->code;
    }
    if ((rc = mdb_txn_commit(txn)))
        return registry_store_fail(rc, "commit store set-up", st);
    /* A new store's schema record is a durable write like any other. */
    if ((rc = mdb_env_sync(s->env, 1)))
        return registry_store_fail(rc, "sync store", st);
    return CAIRN_OK;
}

cairn_err registry_store_open(registry_store *s, const char *dir, int64_t map_size_mb,
                              cairn_status *st)
{
    memset(s, 0, sizeof *s);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return cairn_fail(st, CAIRN_E_STORAGE, "cannot create store directory %s: %s", dir,
                          strerror(errno));
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc)
        return registry_store_fail(rc, "create store environment", st);
    /* Readers are the query workers plus metric collection; 1024 slots leave room for any
     * registry.workers value. */
    if ((rc = mdb_env_set_maxdbs(env, 4)) || (rc = mdb_env_set_maxreaders(env, 1024)) ||
        (rc = mdb_env_set_mapsize(env, (size_t)map_size_mb * 1024 * 1024))) {
        mdb_env_close(env);
        return registry_store_fail(rc, "configure store environment", st);
    }
    /* NOSYNC: a commit reaches the OS page cache, which outlives a crash of this process; the
     * writer syncs explicitly after batches with durable writes. NOTLS: read transactions are
     * not tied to a thread (the rpc workers). */
    if ((rc = mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOTLS, 0640))) {
        mdb_env_close(env);
        return cairn_fail(st, CAIRN_E_STORAGE, "open store %s: %s", dir, mdb_strerror(rc));
    }
    /* A registry killed with kill -9 leaves its reader slots taken; reclaim them. */
    int dead = 0;
    if ((rc = mdb_reader_check(env, &dead))) {
        mdb_env_close(env);
        return registry_store_fail(rc, "check store readers", st);
    }
    if (dead > 0)
        log_warn("cleared %d stale reader slot(s) of a process that died", dead);
    s->env = env;
    if (open_databases(s, st) != CAIRN_OK) {
        mdb_env_close(env);
        s->env = NULL;
        return st->code;
    }
    s->digests = registry_digest_cache_new(DIGEST_CACHE_MAX);
    return CAIRN_OK;
}

void registry_store_close(registry_store *s)
{
    if (!s->env)
        return;
    /* Catch any ephemeral commits not yet on disk; a clean stop loses nothing. */
    int rc = mdb_env_sync(s->env, 1);
    if (rc)
        log_error("sync store at close: %s", mdb_strerror(rc));
    mdb_env_close(s->env);
    s->env = NULL;
    registry_digest_cache_free(s->digests);
    s->digests = NULL;
}

cairn_err registry_store_read_begin(registry_store *s, MDB_txn **txn, cairn_status *st)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    return rc ? registry_store_fail(rc, "begin read", st) : CAIRN_OK;
}

/* ---- services ------------------------------------------------------------------------------ */

cairn_err registry_store_get_service(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, cairn_service *out, bool *found,
                                     cairn_status *st)
{
    *found = false;
    cairn_key k;
    if (cairn_key_service(&k, ns, svc))
        return key_too_long(st);
    MDB_val val;
    bool have;
    if (get_record(txn, s->services, k.bytes, k.len, "read service", &val, &have, st))
        return st->code;
    if (!have)
        return CAIRN_OK;
    cairn_status dst;
    if (cairn_service_decode(val.mv_data, val.mv_size, out, &dst) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_STORAGE, "corrupt record of service %s: %s", svc,
                          dst.message);
    *found = true;
    return CAIRN_OK;
}

cairn_err registry_store_put_service(registry_store *s, MDB_txn *txn, const cairn_service *svc,
                                     cairn_status *st)
{
    cairn_key k;
    if (cairn_key_service(&k, svc->namespace_id, svc->name))
        return key_too_long(st);
    char *buf;
    size_t len;
    if (cairn_service_encode(svc, &buf, &len) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot encode service %s", svc->name);
    MDB_val key = {k.len, k.bytes}, val = {len, buf};
    int rc = mdb_put(txn, s->services, &key, &val, 0);
    free(buf);
    return rc ? registry_store_fail(rc, "write service", st) : CAIRN_OK;
}

static int count_key(cairn_key *k, const char *ns, const char *svc)
{
    cairn_key sk;
    if (cairn_key_service(&sk, ns, svc) || sk.len + 1 > CAIRN_LMDB_MAX_KEY)
        return -1;
    k->bytes[0] = COUNT_TAG;
    memcpy(k->bytes + 1, sk.bytes, sk.len);
    k->len = sk.len + 1;
    return 0;
}

static cairn_err count_add(registry_store *s, MDB_txn *txn, const char *ns, const char *svc,
                           int delta, cairn_status *st)
{
    cairn_key k;
    if (count_key(&k, ns, svc))
        return key_too_long(st);
    uint64_t n;
    bool found;
    if (meta_get_u64(s, txn, k.bytes, k.len, &n, &found, st))
        return st->code;
    if (delta < 0 && n < (uint64_t)-delta)
        return cairn_fail(st, CAIRN_E_STORAGE, "instance count of service %s is inconsistent",
                          svc);
    return meta_put_u64(s, txn, k.bytes, k.len, n + (uint64_t)(int64_t)delta, st);
}

cairn_err registry_store_instance_count(registry_store *s, MDB_txn *txn, const char *ns,
                                        const char *svc, uint64_t *count, cairn_status *st)
{
    cairn_key k;
    if (count_key(&k, ns, svc))
        return key_too_long(st);
    bool found;
    return meta_get_u64(s, txn, k.bytes, k.len, count, &found, st);
}

/* Deletes every key of dbi that starts with prefix; *deleted (may be NULL) counts them. */
static cairn_err delete_prefix_counted(MDB_txn *txn, MDB_dbi dbi, const cairn_key *prefix,
                                       uint64_t *deleted, registry_touched *touched,
                                       cairn_status *st)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return registry_store_fail(rc, "open cursor", st);
    for (;;) {
        MDB_val key = {prefix->len, (void *)prefix->bytes}, val;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && !cairn_key_has_prefix(key.mv_data, key.mv_size,
                                                                     prefix))) {
            rc = 0;
            break;
        }
        if (!rc && touched)
            registry_touched_add(touched, key.mv_data, key.mv_size);
        if (rc || (rc = mdb_cursor_del(cur, 0)))
            break;
        if (deleted)
            (*deleted)++;
    }
    mdb_cursor_close(cur);
    return rc ? registry_store_fail(rc, "delete instances", st) : CAIRN_OK;
}

static cairn_err delete_prefix(MDB_txn *txn, MDB_dbi dbi, const cairn_key *prefix,
                               registry_touched *touched, cairn_status *st)
{
    return delete_prefix_counted(txn, dbi, prefix, NULL, touched, st);
}

static int load_mark_key(cairn_key *k, const char *ns, const char *svc);

cairn_err registry_store_delete_service(registry_store *s, MDB_txn *txn, const char *ns,
                                        const char *svc, cairn_status *st)
{
    cairn_key k, prefix, ck;
    if (cairn_key_service(&k, ns, svc) || cairn_key_instances_prefix(&prefix, ns, svc) ||
        count_key(&ck, ns, svc))
        return key_too_long(st);
    MDB_val key = {k.len, k.bytes};
    int rc = mdb_del(txn, s->services, &key, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return registry_store_fail(rc, "delete service", st);
    if (delete_prefix(txn, s->instances, &prefix, s->touched, st))
        return st->code;
    MDB_val ckey = {ck.len, ck.bytes};
    rc = mdb_del(txn, s->meta, &ckey, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return registry_store_fail(rc, "delete instance count", st);
    if (load_mark_key(&ck, ns, svc))
        return key_too_long(st);
    ckey = (MDB_val){ck.len, ck.bytes};
    rc = mdb_del(txn, s->meta, &ckey, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return registry_store_fail(rc, "delete load mark", st);
    return CAIRN_OK;
}

/* ---- instances ----------------------------------------------------------------------------- */

cairn_err registry_store_get_instance(registry_store *s, MDB_txn *txn, const char *ns,
                                      const char *svc, bool ephemeral, const char *cluster,
                                      const char *ip, int32_t port, cairn_instance *out,
                                      bool *found, cairn_status *st)
{
    *found = false;
    cairn_key k;
    if (cairn_key_instance(&k, ns, svc, ephemeral, cluster, ip, port))
        return key_too_long(st);
    MDB_val val;
    bool have;
    if (get_record(txn, s->instances, k.bytes, k.len, "read instance", &val, &have, st))
        return st->code;
    if (!have)
        return CAIRN_OK;
    cairn_status dst;
    if (cairn_instance_decode(val.mv_data, val.mv_size, out, &dst) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_STORAGE, "corrupt record of instance %s:%d in %s: %s", ip,
                          (int)port, svc, dst.message);
    *found = true;
    return CAIRN_OK;
}

cairn_err registry_store_get_instance_at(registry_store *s, MDB_txn *txn, const void *key,
                                         size_t key_len, cairn_instance *out, bool *found,
                                         cairn_status *st)
{
    *found = false;
    MDB_val val;
    bool have;
    if (get_record(txn, s->instances, key, key_len, "read instance", &val, &have, st))
        return st->code;
    if (!have)
        return CAIRN_OK;
    cairn_status dst;
    if (cairn_instance_decode(val.mv_data, val.mv_size, out, &dst) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_STORAGE, "corrupt instance record: %s", dst.message);
    *found = true;
    return CAIRN_OK;
}

/* Writes in's record under key; with keep_same, not when the same bytes are stored there (then
 * *put is false and the key is not recorded as touched). *added: the key was new. */
static cairn_err put_record(registry_store *s, MDB_txn *txn, const cairn_bytes *key,
                            const cairn_instance *in, bool keep_same, bool *put, bool *added,
                            cairn_status *st)
{
    *put = *added = false;
    char *buf;
    size_t len;
    if (cairn_instance_encode(in, &buf, &len) != CAIRN_OK)
        return cairn_fail(st, CAIRN_E_INTERNAL, "cannot encode instance %s:%d", in->ip,
                          (int)in->port);
    MDB_val k = {key->len, (void *)key->ptr}, val = {len, buf};
    int rc = mdb_put(txn, s->instances, &k, &val, MDB_NOOVERWRITE);
    *added = rc == 0;
    *put = rc == 0;
    if (rc == MDB_KEYEXIST && keep_same && val.mv_size == len && !memcmp(val.mv_data, buf, len)) {
        rc = 0; /* the same record */
    } else if (rc == MDB_KEYEXIST) {
        val = (MDB_val){len, buf}; /* NOOVERWRITE pointed val at the stored record */
        rc = mdb_put(txn, s->instances, &k, &val, 0);
        *put = rc == 0;
    }
    free(buf);
    if (rc)
        return registry_store_fail(rc, "write instance", st);
    if (*put && s->touched)
        registry_touched_add(s->touched, key->ptr, key->len);
    return CAIRN_OK;
}

cairn_err registry_store_put_instance(registry_store *s, MDB_txn *txn, const char *ns,
                                      const char *svc, const cairn_instance *in,
                                      cairn_status *st)
{
    cairn_key k;
    if (cairn_key_instance(&k, ns, svc, in->ephemeral, in->cluster, in->ip, in->port))
        return key_too_long(st);
    bool put, added;
    if (put_record(s, txn, &(cairn_bytes){k.bytes, k.len}, in, false, &put, &added, st))
        return st->code;
    return added ? count_add(s, txn, ns, svc, 1, st) : CAIRN_OK;
}

cairn_err registry_store_delete_instance(registry_store *s, MDB_txn *txn, const char *ns,
                                         const char *svc, bool ephemeral, const char *cluster,
                                         const char *ip, int32_t port, bool *deleted,
                                         cairn_status *st)
{
    *deleted = false;
    cairn_key k;
    if (cairn_key_instance(&k, ns, svc, ephemeral, cluster, ip, port))
        return key_too_long(st);
    MDB_val key = {k.len, k.bytes};
    int rc = mdb_del(txn, s->instances, &key, NULL);
    if (rc == MDB_NOTFOUND)
        return CAIRN_OK;
    if (rc)
        return registry_store_fail(rc, "delete instance", st);
    if (s->touched)
        registry_touched_add(s->touched, k.bytes, k.len);
    *deleted = true;
    return count_add(s, txn, ns, svc, -1, st);
}

/* Calls fn with each stored instance record of the service, in key order, until it returns
 * false. The record is borrowed from txn. */
typedef bool (*instance_record_fn)(void *arg, const MDB_val *val);

static cairn_err each_instance_record(registry_store *s, MDB_txn *txn, const cairn_key *under,
                                      instance_record_fn fn, void *arg, cairn_status *st)
{
    cairn_key prefix = *under; /* MDB_val wants a mutable pointer */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->instances, &cur);
    if (rc)
        return registry_store_fail(rc, "open cursor", st);
    MDB_val key = {prefix.len, prefix.bytes}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0 && cairn_key_has_prefix(key.mv_data, key.mv_size, &prefix) && fn(arg, &val);
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return registry_store_fail(rc, "list instances", st);
    return CAIRN_OK;
}

/* Grows *items (of *cap elements, each `size` bytes) to hold one more than n. */
static bool grow(void **items, uint32_t n, uint32_t *cap, size_t size)
{
    if (n < *cap)
        return true;
    uint32_t ncap = *cap ? *cap * 2 : 16;
    void *grown = realloc(*items, ncap * size);
    if (!grown)
        return false;
    *items = grown;
    *cap = ncap;
    return true;
}

/* The decoded instances of registry_store_list_instances. */
typedef struct decoded_instances {
    const char *svc;
    cairn_instance *items;
    uint32_t count, cap;
    cairn_err err;
    cairn_status *st;
} decoded_instances;

static bool decode_record(void *arg, const MDB_val *val)
{
    decoded_instances *d = arg;
    if (!grow((void **)&d->items, d->count, &d->cap, sizeof *d->items)) {
        d->err = cairn_fail(d->st, CAIRN_E_NOMEM, "out of memory listing instances");
        return false;
    }
    cairn_status dst;
    if (cairn_instance_decode(val->mv_data, val->mv_size, &d->items[d->count], &dst) !=
        CAIRN_OK) {
        d->err = cairn_fail(d->st, CAIRN_E_STORAGE, "corrupt instance record in service %s: %s",
                            d->svc, dst.message);
        return false;
    }
    d->count++;
    return true;
}

/* The decoded instances whose keys start with prefix (a service's, or one kind of them). */
static cairn_err list_under(registry_store *s, MDB_txn *txn, const cairn_key *prefix,
                            const char *svc, cairn_instance **out, uint32_t *count,
                            cairn_status *st)
{
    *out = NULL;
    *count = 0;
    decoded_instances d = {.svc = svc, .st = st};
    cairn_err err = each_instance_record(s, txn, prefix, decode_record, &d, st);
    if (!err)
        err = d.err;
    if (err) {
        for (uint32_t i = 0; i < d.count; i++)
            cairn_instance_free(&d.items[i]);
        free(d.items);
        return err;
    }
    *out = d.items;
    *count = d.count;
    return CAIRN_OK;
}

cairn_err registry_store_list_instances(registry_store *s, MDB_txn *txn, const char *ns,
                                        const char *svc, cairn_instance **out, uint32_t *count,
                                        cairn_status *st)
{
    cairn_key prefix;
    if (cairn_key_instances_prefix(&prefix, ns, svc)) {
        *out = NULL;
        *count = 0;
        return key_too_long(st);
    }
    return list_under(s, txn, &prefix, svc, out, count, st);
}

/* The records of one service's instances, borrowed from txn (valid until it ends), while they
 * fit max_bytes. */
typedef struct raw_instances {
    cairn_bytes *items;
    uint32_t count, cap;
    size_t bytes, max_bytes;
    bool too_big, nomem;
} raw_instances;

static bool collect_record(void *arg, const MDB_val *val)
{
    raw_instances *r = arg;
    r->bytes += val->mv_size;
    if (r->bytes > r->max_bytes) {
        r->too_big = true; /* stop reading: the snapshot will not be sent */
        return false;
    }
    if (!grow((void **)&r->items, r->count, &r->cap, sizeof *r->items)) {
        r->nomem = true;
        return false;
    }
    r->items[r->count++] = (cairn_bytes){val->mv_data, val->mv_size};
    return true;
}

cairn_err registry_store_encode_snapshot(registry_store *s, MDB_txn *txn, const char *ns,
                                         const char *svc, size_t max_bytes, char **out,
                                         size_t *out_len, cairn_status *st)
{
    *out = NULL;
    *out_len = 0;
    cairn_key k;
    if (cairn_key_service(&k, ns, svc))
        return key_too_long(st);
    MDB_val sval;
    bool have;
    if (get_record(txn, s->services, k.bytes, k.len, "read service", &sval, &have, st))
        return st->code;
    if (!have || sval.mv_size > max_bytes)
        return CAIRN_OK;
    raw_instances r = {.bytes = sval.mv_size, .max_bytes = max_bytes};
    cairn_key prefix;
    if (cairn_key_instances_prefix(&prefix, ns, svc))
        return key_too_long(st);
    cairn_err err = each_instance_record(s, txn, &prefix, collect_record, &r, st);
    if (!err && r.nomem)
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory reading a snapshot");
    if (!err && !r.too_big) {
        err = cairn_snapshot_assemble((cairn_bytes){sval.mv_data, sval.mv_size}, r.items,
                                      r.count, out, out_len);
        if (err)
            cairn_fail(st, err, "cannot encode the snapshot of %s", svc);
        else if (*out_len > max_bytes) { /* the map and array headers tipped it over */
            free(*out);
            *out = NULL;
            *out_len = 0;
        }
    }
    free(r.items);
    return err;
}

/* ---- namespace listing, revisions, statistics ---------------------------------------------- */

cairn_err registry_store_each_service(registry_store *s, MDB_txn *txn, const char *ns,
                                      registry_service_name_fn fn, void *arg, cairn_status *st)
{
    cairn_key prefix;
    if (cairn_key_namespace_prefix(&prefix, ns))
        return key_too_long(st);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->services, &cur);
    if (rc)
        return registry_store_fail(rc, "open cursor", st);
    char kns[CAIRN_KEY_MAX], grouped[CAIRN_KEY_MAX];
    cairn_err err = CAIRN_OK;
    MDB_val key = {prefix.len, prefix.bytes}, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
         rc == 0 && cairn_key_has_prefix(key.mv_data, key.mv_size, &prefix);
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (cairn_key_parse_service(key.mv_data, key.mv_size, kns, sizeof kns, grouped,
                                    sizeof grouped)) {
            err = cairn_fail(st, CAIRN_E_STORAGE, "corrupt service key in namespace %s", ns);
            break;
        }
        fn(arg, grouped);
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = registry_store_fail(rc, "list services", st);
    return err;
}

cairn_err registry_store_each_namespace(registry_store *s, MDB_txn *txn,
                                        registry_service_name_fn fn, void *arg, cairn_status *st)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->services, &cur);
    if (rc)
        return registry_store_fail(rc, "open cursor", st);
    char ns[CAIRN_KEY_MAX], grouped[CAIRN_KEY_MAX];
    cairn_err err = CAIRN_OK;
    MDB_val key, val;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)) {
        if (cairn_key_parse_service(key.mv_data, key.mv_size, ns, sizeof ns, grouped,
                                    sizeof grouped)) {
            err = cairn_fail(st, CAIRN_E_STORAGE, "corrupt service key");
            break;
        }
        fn(arg, ns);
        /* The next namespace's keys start after "<ns> 01": every key of ns is "<ns> 00 ...". */
        size_t n = strlen(ns);
        ns[n] = '\x01';
        key = (MDB_val){n + 1, ns};
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = registry_store_fail(rc, "list namespaces", st);
    return err;
}

cairn_err registry_store_scan_services(registry_store *s, MDB_txn *txn, const char *after_ns,
                                       const char *after_svc, registry_service_key_fn fn,
                                       void *arg, cairn_status *st)
{
    cairn_key start;
    start.len = 0;
    bool resume = after_ns && *after_ns;
    if (resume && cairn_key_service(&start, after_ns, after_svc ? after_svc : ""))
        return key_too_long(st);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->services, &cur);
    if (rc)
        return registry_store_fail(rc, "open cursor", st);
    char kns[CAIRN_KEY_MAX], grouped[CAIRN_KEY_MAX];
    cairn_err err = CAIRN_OK;
    MDB_val key = {start.len, start.bytes}, val;
    rc = mdb_cursor_get(cur, &key, &val, resume ? MDB_SET_RANGE : MDB_FIRST);
    /* The cursor names the last service already delivered: skip it when it still exists. */
    if (rc == 0 && resume && key.mv_size == start.len &&
        memcmp(key.mv_data, start.bytes, start.len) == 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (cairn_key_parse_service(key.mv_data, key.mv_size, kns, sizeof kns, grouped,
                                    sizeof grouped)) {
            err = cairn_fail(st, CAIRN_E_STORAGE, "corrupt service key");
            break;
        }
        if (!fn(arg, kns, grouped))
            break;
    }
    mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = registry_store_fail(rc, "scan services", st);
    return err;
}

cairn_err registry_store_revision(registry_store *s, MDB_txn *txn, uint64_t *rev,
                                  cairn_status *st)
{
    bool found;
    *rev = 0;
    if (meta_get_u64(s, txn, META_REVISION, strlen(META_REVISION), rev, &found, st))
        return st->code;
    if (!found)
        *rev = 0;
    return CAIRN_OK;
}

cairn_err registry_store_next_revision(registry_store *s, MDB_txn *txn, uint64_t *rev,
                                       cairn_status *st)
{
    uint64_t cur;
    bool found;
    if (meta_get_u64(s, txn, META_REVISION, strlen(META_REVISION), &cur, &found, st))
        return st->code;
    if (meta_put_u64(s, txn, META_REVISION, strlen(META_REVISION), cur + 1, st))
        return st->code;
    *rev = cur + 1;
    return CAIRN_OK;
}

cairn_err registry_store_counts(registry_store *s, MDB_txn *txn, uint64_t *services,
                                uint64_t *instances, cairn_status *st)
{
    MDB_stat ms;
    int rc = mdb_stat(txn, s->services, &ms);
    if (rc)
        return registry_store_fail(rc, "stat services", st);
    *services = ms.ms_entries;
    if ((rc = mdb_stat(txn, s->instances, &ms)))
        return registry_store_fail(rc, "stat instances", st);
    *instances = ms.ms_entries;
    return CAIRN_OK;
}

cairn_err registry_store_usage(registry_store *s, uint64_t *used_bytes, uint64_t *map_bytes,
                               cairn_status *st)
{
    MDB_envinfo info;
    MDB_stat ms;
    int rc = mdb_env_info(s->env, &info);
    if (!rc)
        rc = mdb_env_stat(s->env, &ms);
    if (rc)
        return registry_store_fail(rc, "store info", st);
    *used_bytes = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    *map_bytes = info.me_mapsize;
    return CAIRN_OK;
}

/* ---- cluster replication --------------------------------------------------------------------- */

cairn_err registry_store_fresh(registry_store *s, MDB_txn *txn, bool *fresh, cairn_status *st)
{
    uint64_t v;
    if (meta_get_u64(s, txn, META_FRESH, strlen(META_FRESH), &v, fresh, st))
        return st->code;
    *fresh = *fresh && v != 0;
    return CAIRN_OK;
}

cairn_err registry_store_clear_fresh(registry_store *s, MDB_txn *txn, cairn_status *st)
{
    MDB_val key = {strlen(META_FRESH), (void *)META_FRESH};
    int rc = mdb_del(txn, s->meta, &key, NULL);
    return rc && rc != MDB_NOTFOUND ? registry_store_fail(rc, "clear fresh", st) : CAIRN_OK;
}

cairn_err registry_store_raft_applied(registry_store *s, MDB_txn *txn, uint64_t *index,
                                      cairn_status *st)
{
    bool found;
    return meta_get_u64(s, txn, META_RAFT_APPLIED, strlen(META_RAFT_APPLIED), index, &found, st);
}

cairn_err registry_store_set_raft_applied(registry_store *s, MDB_txn *txn, uint64_t index,
                                          cairn_status *st)
{
    return meta_put_u64(s, txn, META_RAFT_APPLIED, strlen(META_RAFT_APPLIED), index, st);
}

/* The prefix of one kind of a service's instances ('e' or 'p'). */
static int kind_prefix(cairn_key *k, const char *ns, const char *svc, bool ephemeral)
{
    if (cairn_key_instances_prefix(k, ns, svc) || k->len + 1 > sizeof k->bytes)
        return -1;
    k->bytes[k->len++] = ephemeral ? 'e' : 'p';
    return 0;
}

cairn_err registry_store_delete_kind(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, bool ephemeral, uint64_t *deleted,
                                     cairn_status *st)
{
    *deleted = 0;
    cairn_key prefix;
    if (kind_prefix(&prefix, ns, svc, ephemeral))
        return key_too_long(st);
    if (delete_prefix_counted(txn, s->instances, &prefix, deleted, s->touched, st))
        return st->code;
    return *deleted ? count_add(s, txn, ns, svc, -(int64_t)*deleted, st) : CAIRN_OK;
}

cairn_err registry_store_list_kind(registry_store *s, MDB_txn *txn, const char *ns,
                                   const char *svc, bool ephemeral, cairn_instance **out,
                                   uint32_t *count, cairn_status *st)
{
    /* Only the kind's keys are read: a service's ephemeral state is not decoded with all its
     * persistent instances (nor the reverse). */
    cairn_key prefix;
    if (kind_prefix(&prefix, ns, svc, ephemeral)) {
        *out = NULL;
        *count = 0;
        return key_too_long(st);
    }
    return list_under(s, txn, &prefix, svc, out, count, st);
}

static int by_bytes(const void *a, const void *b)
{
    const cairn_bytes *x = a, *y = b;
    int c = memcmp(x->ptr, y->ptr, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Keys appended into one growing buffer; key_list_get's slices stay valid until the next add. */
typedef struct key_list {
    uint8_t *buf;
    size_t used, cap;
    size_t *at; /* offset of each key */
    uint32_t n, at_cap;
} key_list;

static bool key_list_add(key_list *l, const void *key, size_t len)
{
    if (!grow((void **)&l->at, l->n, &l->at_cap, sizeof *l->at))
        return false;
    if (l->used + len > l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4096;
        while (ncap < l->used + len)
            ncap *= 2;
        uint8_t *grown = realloc(l->buf, ncap);
        if (!grown)
            return false;
        l->buf = grown;
        l->cap = ncap;
    }
    memcpy(l->buf + l->used, key, len);
    l->at[l->n++] = l->used;
    l->used += len;
    return true;
}

static cairn_bytes key_list_get(const key_list *l, uint32_t i)
{
    size_t end = i + 1 < l->n ? l->at[i + 1] : l->used;
    return (cairn_bytes){l->buf + l->at[i], end - l->at[i]};
}

static void key_list_free(key_list *l)
{
    free(l->buf);
    free(l->at);
}

cairn_err registry_store_replace_kind(registry_store *s, MDB_txn *txn, const char *ns,
                                      const char *svc, bool ephemeral, const cairn_instance *ins,
                                      uint32_t n, cairn_status *st)
{
    cairn_key prefix, k;
    if (kind_prefix(&prefix, ns, svc, ephemeral))
        return key_too_long(st);
    key_list wanted = {0};
    cairn_bytes *keys = n ? calloc(n, sizeof *keys) : NULL; /* wanted's, sorted for lookups */
    cairn_err err = n && !keys ? cairn_fail(st, CAIRN_E_NOMEM, "out of memory") : CAIRN_OK;
    for (uint32_t i = 0; !err && i < n; i++) {
        if (cairn_key_instance(&k, ns, svc, ephemeral, ins[i].cluster, ins[i].ip, ins[i].port))
            err = key_too_long(st);
        else if (!key_list_add(&wanted, k.bytes, k.len))
            err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    int64_t count_delta = 0;
    for (uint32_t i = 0; !err && i < n; i++) {
        keys[i] = key_list_get(&wanted, i);
        bool put, added;
        if (!(err = put_record(s, txn, &keys[i], &ins[i], true, &put, &added, st)))
            count_delta += added;
    }
    if (!err && n > 1)
        qsort(keys, n, sizeof *keys, by_bytes);
    /* the stored keys not wanted go, each deleted under the cursor, which then seeks on from a
     * copy of that key (as delete_prefix_counted does) */
    MDB_cursor *cur = NULL;
    int rc = err ? 0 : mdb_cursor_open(txn, s->instances, &cur);
    if (rc)
        err = registry_store_fail(rc, "open cursor", st);
    MDB_val key = {prefix.len, prefix.bytes}, val;
    rc = err ? MDB_NOTFOUND : mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (!err && rc == 0 && cairn_key_has_prefix(key.mv_data, key.mv_size, &prefix)) {
        cairn_bytes probe = {key.mv_data, key.mv_size};
        if (n && bsearch(&probe, keys, n, sizeof *keys, by_bytes)) {
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
            continue;
        }
        if (key.mv_size > sizeof k.bytes) { /* never: the store writes cairn_keys only */
            err = cairn_fail(st, CAIRN_E_STORAGE, "an instance key of %zu bytes", key.mv_size);
            break;
        }
        memcpy(k.bytes, key.mv_data, key.mv_size);
        k.len = key.mv_size;
        if (s->touched)
            registry_touched_add(s->touched, k.bytes, k.len);
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        count_delta--;
        key = (MDB_val){k.len, k.bytes};
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    }
    if (cur)
        mdb_cursor_close(cur);
    if (!err && rc && rc != MDB_NOTFOUND)
        err = registry_store_fail(rc, "delete instances", st);
    key_list_free(&wanted);
    free(keys);
    if (!err && count_delta)
        err = count_add(s, txn, ns, svc, (int)count_delta, st);
    return err;
}

static int load_mark_key(cairn_key *k, const char *ns, const char *svc)
{
    if (cairn_key_service(k, ns, svc) || k->len + 1 > sizeof k->bytes)
        return -1;
    memmove(k->bytes + 1, k->bytes, k->len);
    k->bytes[0] = LOAD_TAG;
    k->len++;
    return 0;
}

cairn_err registry_store_load_active(registry_store *s, MDB_txn *txn, uint64_t *load_id,
                                     cairn_status *st)
{
    bool found;
    return meta_get_u64(s, txn, META_LOAD_ACTIVE, strlen(META_LOAD_ACTIVE), load_id, &found,
                        st);
}

cairn_err registry_store_set_load_active(registry_store *s, MDB_txn *txn, uint64_t load_id,
                                         cairn_status *st)
{
    if (load_id != 0)
        return meta_put_u64(s, txn, META_LOAD_ACTIVE, strlen(META_LOAD_ACTIVE), load_id, st);
    MDB_val key = {strlen(META_LOAD_ACTIVE), (void *)META_LOAD_ACTIVE};
    int rc = mdb_del(txn, s->meta, &key, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return registry_store_fail(rc, "end load", st);
    cairn_key prefix = {.bytes = {LOAD_TAG}, .len = 1};
    return delete_prefix(txn, s->meta, &prefix, NULL, st);
}

cairn_err registry_store_load_mark(registry_store *s, MDB_txn *txn, const char *ns,
                                   const char *svc, uint64_t load_id, cairn_status *st)
{
    cairn_key k;
    if (load_mark_key(&k, ns, svc))
        return key_too_long(st);
    return meta_put_u64(s, txn, k.bytes, k.len, load_id, st);
}

cairn_err registry_store_load_marked(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, uint64_t load_id, bool *marked,
                                     cairn_status *st)
{
    cairn_key k;
    if (load_mark_key(&k, ns, svc))
        return key_too_long(st);
    uint64_t v;
    bool found;
    if (meta_get_u64(s, txn, k.bytes, k.len, &v, &found, st))
        return st->code;
    *marked = found && v == load_id;
    return CAIRN_OK;
}
