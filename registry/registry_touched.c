/* The instance keys a write batch touched, and the deltas built from them. */
#include "registry_touched.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_keys.h"
#include "registry_store.h"

/* msgpack's bin16 header: every stored key is under 64 KiB (CAIRN_LMDB_MAX_KEY). */
#define GONE_KEY_OVERHEAD 3
#define GONE_ARRAY_OVERHEAD 5

void registry_touched_add(registry_touched *t, const void *key, size_t len)
{
    if (t->lost)
        return;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        cairn_bytes *grown = realloc(t->keys, cap * sizeof *grown);
        if (!grown) {
            t->lost = true;
            return;
        }
        t->keys = grown;
        t->cap = cap;
    }
    void *copy = malloc(len ? len : 1);
    if (!copy) {
        t->lost = true;
        return;
    }
    memcpy(copy, key, len);
    t->keys[t->count++] = (cairn_bytes){copy, len};
    t->sorted = false;
}

void registry_touched_clear(registry_touched *t)
{
    for (size_t i = 0; i < t->count; i++)
        free((void *)t->keys[i].ptr);
    t->count = 0;
    t->sorted = true;
    t->lost = false;
}

void registry_touched_free(registry_touched *t)
{
    registry_touched_clear(t);
    free(t->keys);
    memset(t, 0, sizeof *t);
}

static int compare_keys(const void *a, const void *b)
{
    const cairn_bytes *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->ptr, y->ptr, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

static void sort_unique(registry_touched *t)
{
    if (t->sorted || t->count == 0)
        return;
    qsort(t->keys, t->count, sizeof *t->keys, compare_keys);
    size_t kept = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (kept > 0 && compare_keys(&t->keys[kept - 1], &t->keys[i]) == 0)
            free((void *)t->keys[i].ptr);
        else
            t->keys[kept++] = t->keys[i];
    }
    t->count = kept;
    t->sorted = true;
}

size_t registry_touched_of_service(registry_touched *t, const char *ns, const char *svc,
                                   size_t *first)
{
    *first = 0;
    cairn_key prefix;
    if (cairn_key_instances_prefix(&prefix, ns, svc))
        return 0;
    sort_unique(t);
    /* The first key not below the prefix: the service's keys follow it, contiguously. */
    size_t lo = 0, hi = t->count;
    cairn_bytes p = {prefix.bytes, prefix.len};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare_keys(&t->keys[mid], &p) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < t->count && cairn_key_has_prefix(t->keys[end].ptr, t->keys[end].len, &prefix))
        end++;
    *first = lo;
    return end - lo;
}

cairn_err registry_touched_delta(registry_touched *t, registry_store *s, MDB_txn *txn,
                                 const char *ns, const char *svc, size_t max_bytes, char **out,
                                 size_t *out_len, cairn_bytes **gone, uint32_t *gone_count,
                                 cairn_status *st)
{
    *out = NULL;
    *out_len = 0;
    *gone = NULL;
    *gone_count = 0;
    if (t->lost)
        return CAIRN_OK;
    size_t first, n = registry_touched_of_service(t, ns, svc, &first);
    uint64_t count;
    /* n 0: no instance changed (a definition, or a Distro state equal to the store): the
     * delta is the record alone */
    if (registry_store_instance_count(s, txn, ns, svc, &count, st))
        return st->code;
    if (count <= 2 * (uint64_t)n)
        return CAIRN_OK;
    cairn_key k;
    if (cairn_key_service(&k, ns, svc))
        return CAIRN_OK;
    MDB_val key = {k.len, k.bytes}, sval;
    int rc = mdb_get(txn, s->services, &key, &sval);
    if (rc)
        return rc == MDB_NOTFOUND ? CAIRN_OK : registry_store_fail(rc, "read service", st);
    cairn_bytes *puts = malloc((n + 1) * sizeof *puts), *gones = malloc((n + 1) * sizeof *gones);
    if (!puts || !gones) {
        free(puts);
        free(gones);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory building a delta");
    }
    uint32_t np = 0, ng = 0;
    size_t gone_bytes = GONE_ARRAY_OVERHEAD, bytes = sval.mv_size + gone_bytes;
    cairn_err err = CAIRN_OK;
    for (size_t i = first; i < first + n && bytes <= max_bytes; i++) {
        MDB_val ikey = {t->keys[i].len, (void *)t->keys[i].ptr}, ival;
        rc = mdb_get(txn, s->instances, &ikey, &ival);
        if (rc == 0) {
            puts[np++] = (cairn_bytes){ival.mv_data, ival.mv_size};
            bytes += ival.mv_size;
        } else if (rc == MDB_NOTFOUND) {
            gones[ng++] = t->keys[i];
            gone_bytes += t->keys[i].len + GONE_KEY_OVERHEAD;
            bytes += t->keys[i].len + GONE_KEY_OVERHEAD;
        } else {
            err = registry_store_fail(rc, "read instance", st);
            break;
        }
    }
    if (!err && bytes <= max_bytes) {
        err = cairn_snapshot_assemble((cairn_bytes){sval.mv_data, sval.mv_size}, puts, np, out,
                                      out_len);
        if (err)
            cairn_fail(st, err, "cannot encode the delta of %s", svc);
        else if (*out_len + gone_bytes > max_bytes) { /* the headers tipped it */
            free(*out);
            *out = NULL;
            *out_len = 0;
        }
    }
    free(puts);
    if (*out && ng > 0) {
        *gone = gones;
        *gone_count = ng;
    } else {
        free(gones);
    }
    return err;
}
