/* The Distro reads (cluster-design §1.4, §2.6, §2.8 step 3): the ephemeral states with their
 * versions, by key (DISTRO_FETCH), a page at a time (DISTRO_SNAPSHOT), as bucket digests
 * (DISTRO_DIGESTS) and as the keys of one bucket (DISTRO_KEYS). Each runs in the calling rpc
 * worker on a read-only transaction: a consistent cut, computed here and never on the
 * replicator's loop. A service "holds" ephemeral state when it has a Distro version or an
 * ephemeral instance; a tombstone (a version, no instances) is a state like any other. */
#include "registry_handlers.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_distro_digest.h"
#include "cairn_distro_rules.h"
#include "registry_digest_cache.h"

#define KEYS_PAGE_DEFAULT 1024
#define KEYS_PAGE_MAX 8192
/* Services looked at per snapshot page at most, so that a store with few ephemeral states is
 * still read in bounded steps (the cursor then names the last service looked at). */
#define SNAPSHOT_SCAN_MAX 65536

static cairn_err nomem(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
}

/* The Distro version (moved into *version, zeroed when there is no service) and revision of
 * the service (ns, svc). */
static cairn_err read_version(registry_store *s, MDB_txn *txn, const char *ns, const char *svc,
                              cairn_distro_version *version, uint64_t *rev, bool *found,
                              cairn_status *st)
{
    cairn_service rec;
    memset(version, 0, sizeof *version);
    *rev = 0;
    if (registry_store_get_service(s, txn, ns, svc, &rec, found, st))
        return st->code;
    if (!*found)
        return CAIRN_OK;
    *rev = rec.revision;
    *version = rec.distro; /* moved */
    memset(&rec.distro, 0, sizeof rec.distro);
    cairn_service_free(&rec);
    return CAIRN_OK;
}

cairn_err registry_distro_read_state(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, cairn_distro_state *out, bool *held,
                                     cairn_status *st)
{
    memset(out, 0, sizeof *out);
    *held = false;
    if (!(out->namespace_id = strdup(ns)) || !(out->service = strdup(svc)))
        return nomem(st);
    bool found;
    uint64_t rev;
    if (read_version(s, txn, ns, svc, &out->version, &rev, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK;
    if (registry_store_list_kind(s, txn, ns, svc, true, &out->instances, &out->instance_count,
                                 st))
        return st->code;
    *held = out->version.epoch != 0 || out->instance_count > 0;
    return CAIRN_OK;
}

/* A bound on the encoded size of a state (msgpack: every string costs at most 5 bytes of
 * header, every number 9, field names are short). */
static size_t state_bound(const cairn_distro_state *ds)
{
    size_t n = 96 + strlen(ds->namespace_id) + strlen(ds->service) +
               (ds->version.origin ? strlen(ds->version.origin) : 0);
    for (uint32_t i = 0; i < ds->instance_count; i++) {
        const cairn_instance *in = &ds->instances[i];
        n += 160 + (in->ip ? strlen(in->ip) : 0) + (in->cluster ? strlen(in->cluster) : 0) +
             (in->instance_id ? strlen(in->instance_id) : 0) + (in->app ? strlen(in->app) : 0);
        for (uint32_t k = 0; k < in->metadata.len; k++)
            n += 10 + strlen(in->metadata.items[k].key) + strlen(in->metadata.items[k].value);
    }
    return n;
}

/* The states a reply collects: a growable array moved into the reply at the end. */
typedef struct state_list {
    cairn_distro_state *items;
    uint32_t count, cap;
} state_list;

static cairn_err list_push(state_list *l, cairn_distro_state *ds, cairn_status *st)
{
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 32;
        cairn_distro_state *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return nomem(st);
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->count++] = *ds;
    memset(ds, 0, sizeof *ds);
    return CAIRN_OK;
}

static void list_free(state_list *l)
{
    for (uint32_t i = 0; i < l->count; i++)
        cairn_distro_state_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void list_reply(state_list *l, cairn_reply *rep)
{
    rep->states = l->items;
    rep->state_count = l->count;
    memset(l, 0, sizeof *l);
}

/* Moves the list into rep when err is CAIRN_OK, else frees it; returns err. */
static cairn_err list_finish(state_list *l, cairn_err err, cairn_reply *rep)
{
    if (err)
        list_free(l);
    else
        list_reply(l, rep);
    return err;
}

static cairn_err set_cursor(cairn_reply *rep, const char *ns, const char *svc, cairn_status *st)
{
    free(rep->cursor_ns);
    free(rep->cursor_svc);
    rep->cursor_ns = strdup(ns);
    rep->cursor_svc = strdup(svc);
    return rep->cursor_ns && rep->cursor_svc ? CAIRN_OK : nomem(st);
}

/* ---- DISTRO_FETCH ---------------------------------------------------------------------------- */

cairn_err registry_distro_fetch(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st)
{
    if (req->state_count > CAIRN_DISTRO_MAX_STATES)
        return cairn_fail(st, CAIRN_E_LIMIT, "too many services in one fetch (%u, limit %d)",
                          req->state_count, CAIRN_DISTRO_MAX_STATES);
    state_list l = {0};
    size_t bytes = 0;
    cairn_err err = CAIRN_OK;
    for (uint32_t i = 0; !err && i < req->state_count; i++) {
        const cairn_distro_state *key = &req->states[i];
        if (!key->namespace_id || !key->service) {
            err = cairn_fail(st, CAIRN_E_INVALID, "a fetched key has no name");
            break;
        }
        cairn_distro_state ds;
        bool held;
        err = registry_distro_read_state(s, txn, key->namespace_id, key->service, &ds, &held, st);
        size_t b = err ? 0 : state_bound(&ds);
        /* The page bound: the keys left out are fetched again (more). */
        if (!err && l.count > 0 && bytes + b > CAIRN_DISTRO_PAGE_MAX_BYTES) {
            rep->more = true;
            cairn_distro_state_free(&ds);
            break;
        }
        bytes += b;
        if (!err)
            err = list_push(&l, &ds, st);
        cairn_distro_state_free(&ds);
    }
    return list_finish(&l, err, rep);
}

/* ---- DISTRO_SNAPSHOT ------------------------------------------------------------------------- */

typedef struct snapshot_walk {
    registry_store *s;
    MDB_txn *txn;
    size_t max_bytes, bytes;
    uint32_t scanned;
    state_list l;
    cairn_reply *rep;
    cairn_err err;
    cairn_status *st;
} snapshot_walk;

static bool snapshot_one(void *arg, const char *ns, const char *svc)
{
    snapshot_walk *w = arg;
    if (w->scanned++ >= SNAPSHOT_SCAN_MAX) {
        w->rep->more = true; /* the cursor names the last service looked at */
        return false;
    }
    cairn_distro_state ds;
    bool held;
    if ((w->err = registry_distro_read_state(w->s, w->txn, ns, svc, &ds, &held, w->st)) ||
        !held) {
        cairn_distro_state_free(&ds);
        if (!w->err)
            w->err = set_cursor(w->rep, ns, svc, w->st);
        return !w->err;
    }
    size_t b = state_bound(&ds);
    if (w->l.count > 0 && w->bytes + b > w->max_bytes) {
        w->rep->more = true; /* this one starts the next page */
        cairn_distro_state_free(&ds);
        return false;
    }
    w->bytes += b;
    if (!(w->err = list_push(&w->l, &ds, w->st)))
        w->err = set_cursor(w->rep, ns, svc, w->st);
    cairn_distro_state_free(&ds);
    return !w->err;
}

cairn_err registry_distro_snapshot(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st)
{
    /* The bound leaves room for the reply's own fields. */
    size_t page = req->page_size == 0 || req->page_size > CAIRN_DISTRO_PAGE_MAX_BYTES
                      ? CAIRN_DISTRO_PAGE_MAX_BYTES
                      : req->page_size;
    snapshot_walk w = {.s = s, .txn = txn, .max_bytes = page > 4096 ? page - 1024 : page,
                       .rep = rep, .st = st};
    cairn_err err = registry_store_scan_services(s, txn, req->namespace_id, req->service,
                                                 snapshot_one, &w, st);
    return list_finish(&w.l, err ? err : w.err, rep);
}

/* ---- DISTRO_DIGESTS and DISTRO_KEYS ---------------------------------------------------------- */

typedef struct digest_walk {
    registry_store *s;
    MDB_txn *txn;
    const cairn_request *req;
    bool one_bucket;        /* KEYS: only req->bucket, into l */
    uint32_t max_keys;
    cairn_distro_digests *d; /* DIGESTS */
    uint32_t counted;
    state_list l;
    cairn_reply *rep;
    cairn_err err;
    cairn_status *st;
} digest_walk;

/* The version and content digest of (ns, svc)'s ephemeral state into *version (moved; the
 * caller frees it) and content; *held false when it holds none. The content digest comes from
 * the cache when the service's revision is the one it was computed at. */
static cairn_err digest_of(registry_store *s, MDB_txn *txn, const char *ns, const char *svc,
                           cairn_distro_version *version,
                           uint8_t content[CAIRN_DISTRO_DIGEST_LEN], bool *held,
                           cairn_status *st)
{
    memset(version, 0, sizeof *version);
    *held = false;
    bool found;
    uint64_t rev;
    if (read_version(s, txn, ns, svc, version, &rev, &found, st))
        return st->code;
    if (!found)
        return CAIRN_OK;
    if (registry_digest_cache_get(s->digests, ns, svc, rev, content, held))
        return CAIRN_OK;
    cairn_instance *in;
    uint32_t n;
    if (registry_store_list_kind(s, txn, ns, svc, true, &in, &n, st))
        return st->code;
    cairn_err err = cairn_distro_content_digest(in, n, content) ? nomem(st) : CAIRN_OK;
    for (uint32_t i = 0; i < n; i++)
        cairn_instance_free(&in[i]);
    free(in);
    *held = version->epoch != 0 || n > 0;
    if (!err)
        registry_digest_cache_put(s->digests, ns, svc, rev, content, *held);
    return err;
}

/* A DISTRO_KEYS entry: the key, version and content digest. */
static cairn_err push_key(digest_walk *w, const char *ns, const char *svc,
                          cairn_distro_version *version, const uint8_t *content)
{
    cairn_distro_state ds;
    memset(&ds, 0, sizeof ds);
    ds.version = *version;
    memset(version, 0, sizeof *version);
    ds.has_digest = true;
    memcpy(ds.digest, content, sizeof ds.digest);
    cairn_err err = (ds.namespace_id = strdup(ns)) && (ds.service = strdup(svc))
                        ? list_push(&w->l, &ds, w->st)
                        : nomem(w->st);
    cairn_distro_state_free(&ds);
    return err ? err : set_cursor(w->rep, ns, svc, w->st);
}

static bool digest_one(void *arg, const char *ns, const char *svc)
{
    digest_walk *w = arg;
    const cairn_request *req = w->req;
    uint32_t bucket = cairn_distro_bucket(ns, svc);
    if ((w->one_bucket && bucket != req->bucket) ||
        !cairn_distro_selected(svc, (const char *const *)req->owners, req->owner_count,
                               req->self))
        return true;
    if (w->one_bucket && w->l.count >= w->max_keys) {
        w->rep->more = true; /* the cursor names the last key listed */
        return false;
    }
    cairn_distro_version version;
    bool held;
    uint8_t content[CAIRN_DISTRO_DIGEST_LEN], entry[CAIRN_DISTRO_DIGEST_LEN];
    w->err = digest_of(w->s, w->txn, ns, svc, &version, content, &held, w->st);
    if (!w->err && held && !w->one_bucket) {
        cairn_distro_entry_digest(ns, svc, &version, content, entry);
        cairn_distro_digests_add(w->d, bucket, entry);
        w->counted++;
    } else if (!w->err && held) {
        w->err = push_key(w, ns, svc, &version, content);
    }
    cairn_distro_version_free(&version);
    return !w->err;
}

cairn_err registry_distro_digests(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st)
{
    digest_walk w = {.s = s, .txn = txn, .req = req, .rep = rep, .st = st};
    if (!(w.d = calloc(1, sizeof *w.d)))
        return nomem(st);
    cairn_err err = registry_store_scan_services(s, txn, NULL, NULL, digest_one, &w, st);
    if (!err)
        err = w.err;
    if (err) {
        free(w.d);
        return err;
    }
    free(rep->digests);
    rep->digests = w.d;
    rep->total = w.counted;
    rep->store_epoch = s->epoch;
    return CAIRN_OK;
}

cairn_err registry_distro_keys(registry_store *s, MDB_txn *txn, const cairn_request *req,
                               cairn_reply *rep, cairn_status *st)
{
    if (req->bucket >= CAIRN_DISTRO_BUCKETS)
        return cairn_fail(st, CAIRN_E_INVALID, "no bucket %u", req->bucket);
    digest_walk w = {.s = s, .txn = txn, .req = req, .one_bucket = true, .rep = rep, .st = st};
    w.max_keys = req->page_size == 0          ? KEYS_PAGE_DEFAULT
                 : req->page_size > KEYS_PAGE_MAX ? KEYS_PAGE_MAX
                                                  : req->page_size;
    cairn_err err = registry_store_scan_services(s, txn, req->namespace_id, req->service,
                                                 digest_one, &w, st);
    rep->store_epoch = s->epoch;
    return list_finish(&w.l, err ? err : w.err, rep);
}
