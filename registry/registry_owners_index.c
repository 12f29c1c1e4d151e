/* The owners index of the registry's store (registry_store.h): owner 00 ns 00 grouped. */
#include <stdlib.h>
#include <string.h>

#include "cairn_keys.h"
#include "registry_store.h"

/* owner 00 ns 00 svc into k; -1 when it does not fit an LMDB key. */
static int owner_key(cairn_key *k, const char *owner, const char *ns, const char *svc)
{
    size_t a = strlen(owner), b = strlen(ns), c = strlen(svc);
    if (a + b + c + 2 > CAIRN_LMDB_MAX_KEY)
        return -1;
    memcpy(k->bytes, owner, a);
    k->bytes[a] = 0;
    memcpy(k->bytes + a + 1, ns, b);
    k->bytes[a + 1 + b] = 0;
    memcpy(k->bytes + a + 2 + b, svc, c);
    k->len = a + b + c + 2;
    return 0;
}

static cairn_err too_long(cairn_status *st)
{
    return cairn_fail(st, CAIRN_E_INVALID, "owner and service too long for a store key");
}

cairn_err registry_owners_put(registry_store *s, MDB_txn *txn, const char *owner, const char *ns,
                              const char *svc, const cairn_key *keys, size_t key_count,
                              cairn_status *st)
{
    cairn_key k;
    if (owner_key(&k, owner, ns, svc))
        return too_long(st);
    size_t len = 0;
    for (size_t i = 0; i < key_count; i++)
        len += 2 + keys[i].len; /* keys fit CAIRN_LMDB_MAX_KEY: the length fits 2 bytes */
    uint8_t *list = malloc(len ? len : 1);
    if (!list)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    uint8_t *p = list;
    for (size_t i = 0; i < key_count; i++) {
        *p++ = (uint8_t)(keys[i].len >> 8);
        *p++ = (uint8_t)keys[i].len;
        memcpy(p, keys[i].bytes, keys[i].len);
        p += keys[i].len;
    }
    MDB_val key = {k.len, k.bytes}, val = {len, list};
    int rc = mdb_put(txn, s->owners, &key, &val, 0);
    free(list);
    return rc ? registry_store_fail(rc, "put owner", st) : CAIRN_OK;
}

cairn_err registry_owners_get(registry_store *s, MDB_txn *txn, const char *owner, const char *ns,
                              const char *svc, bool *found, cairn_bytes **keys,
                              size_t *key_count, cairn_status *st)
{
    *found = false;
    *keys = NULL;
    *key_count = 0;
    cairn_key k;
    if (owner_key(&k, owner, ns, svc))
        return too_long(st);
    MDB_val key = {k.len, k.bytes}, val;
    int rc = mdb_get(txn, s->owners, &key, &val);
    if (rc == MDB_NOTFOUND)
        return CAIRN_OK;
    if (rc)
        return registry_store_fail(rc, "read owner", st);
    *found = true;
    const uint8_t *p = val.mv_data, *end = p + val.mv_size;
    size_t n = 0;
    for (const uint8_t *q = p; q + 2 <= end && q + 2 + ((size_t)q[0] << 8 | q[1]) <= end;
         q += 2 + ((size_t)q[0] << 8 | q[1]))
        n++;
    if (n == 0)
        return CAIRN_OK;
    cairn_bytes *out = malloc(n * sizeof *out);
    if (!out)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)p[0] << 8 | p[1];
        out[i] = (cairn_bytes){p + 2, len};
        p += 2 + len;
    }
    *keys = out;
    *key_count = n;
    return CAIRN_OK;
}

cairn_err registry_owners_del(registry_store *s, MDB_txn *txn, const char *owner, const char *ns,
                              const char *svc, cairn_status *st)
{
    cairn_key k;
    if (owner_key(&k, owner, ns, svc))
        return too_long(st);
    MDB_val key = {k.len, k.bytes};
    int rc = mdb_del(txn, s->owners, &key, NULL);
    return rc && rc != MDB_NOTFOUND ? registry_store_fail(rc, "delete owner", st) : CAIRN_OK;
}

void registry_owned_refs_free(registry_owned_refs *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->owner[i]);
        free(r->ns[i]);
        free(r->svc[i]);
    }
    free(r->owner);
    free(r->ns);
    free(r->svc);
    memset(r, 0, sizeof *r);
}

/* Appends the entry key (owner 00 ns 00 svc); false when out of memory or malformed. */
static bool add_ref(registry_owned_refs *r, size_t *cap, const char *k, size_t len)
{
    const char *z1 = memchr(k, 0, len);
    const char *z2 = z1 ? memchr(z1 + 1, 0, len - (size_t)(z1 + 1 - k)) : NULL;
    if (!z2)
        return true; /* not an index key: skip it */
    if (r->count == *cap) {
        size_t n = *cap ? 2 * *cap : 16;
        char **a = realloc(r->owner, n * sizeof *a);
        if (a)
            r->owner = a;
        char **b = realloc(r->ns, n * sizeof *b);
        if (b)
            r->ns = b;
        char **c = realloc(r->svc, n * sizeof *c);
        if (c)
            r->svc = c;
        if (!a || !b || !c)
            return false;
        *cap = n;
    }
    char *o = strndup(k, (size_t)(z1 - k));
    char *ns = strndup(z1 + 1, (size_t)(z2 - z1 - 1));
    char *svc = strndup(z2 + 1, len - (size_t)(z2 + 1 - k));
    if (!o || !ns || !svc) {
        free(o);
        free(ns);
        free(svc);
        return false;
    }
    r->owner[r->count] = o;
    r->ns[r->count] = ns;
    r->svc[r->count] = svc;
    r->count++;
    return true;
}

cairn_err registry_owners_find(registry_store *s, MDB_txn *txn, const char *owner, bool prefix,
                               registry_owned_refs *out, cairn_status *st)
{
    memset(out, 0, sizeof *out);
    size_t plen = strlen(owner) + (prefix ? 0 : 1); /* exact: the owner and its separator */
    if (plen > CAIRN_LMDB_MAX_KEY)
        return too_long(st);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->owners, &cur);
    if (rc)
        return registry_store_fail(rc, "open cursor", st);
    size_t cap = 0;
    MDB_val key = {plen, (void *)owner}, val;
    cairn_err err = CAIRN_OK;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size < plen || memcmp(key.mv_data, owner, plen) != 0)
            break;
        if (!add_ref(out, &cap, key.mv_data, key.mv_size)) {
            err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
            break;
        }
    }
    mdb_cursor_close(cur);
    if (err == CAIRN_OK && rc && rc != MDB_NOTFOUND)
        err = registry_store_fail(rc, "read owners", st);
    if (err != CAIRN_OK)
        registry_owned_refs_free(out);
    return err;
}
