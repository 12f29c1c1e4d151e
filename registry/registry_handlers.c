/* The checks and helpers every registry handler shares. */
#include "registry_handlers.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

cairn_err registry_need_service(registry_store *s, MDB_txn *txn, const char *ns, const char *name,
                                cairn_service *svc, cairn_status *st, cairn_err code,
                                const char *fmt, ...)
{
    bool found;
    if (registry_store_get_service(s, txn, ns, name, svc, &found, st))
        return st->code;
    if (found)
        return CAIRN_OK;
    va_list ap;
    va_start(ap, fmt);
    cairn_vfail(st, code, fmt, ap);
    va_end(ap);
    return code;
}

/* Stamps svc's ephemeral state with this store's version at revision rev (a local write), and
 * marks it as written during a snapshot load under way, so that the load's end keeps it. */
static cairn_err stamp_local(registry_write_ctx *c, cairn_service *svc, uint64_t rev,
                             cairn_status *st)
{
    cairn_distro_version_free(&svc->distro);
    svc->distro.epoch = c->store->epoch;
    svc->distro.seq = rev;
    uint64_t load;
    if (registry_store_load_active(c->store, c->txn, &load, st))
        return st->code;
    if (load != 0 &&
        registry_store_load_mark(c->store, c->txn, svc->namespace_id, svc->name, load, st))
        return st->code;
    return CAIRN_OK;
}

static cairn_err touch(registry_write_ctx *c, cairn_service *svc, cairn_change_kind kind,
                       bool durable, bool ephemeral_changed, cairn_status *st)
{
    uint64_t rev;
    if (registry_store_next_revision(c->store, c->txn, &rev, st))
        return st->code;
    svc->revision = rev;
    svc->modified_ms = c->now_ms;
    if ((ephemeral_changed && stamp_local(c, svc, rev, st)) ||
        registry_store_put_service(c->store, c->txn, svc, st) ||
        registry_store_clear_fresh(c->store, c->txn, st))
        return st->code;
    c->changed = true;
    c->durable = c->durable || durable;
    c->kind = kind;
    c->revision = rev;
    return CAIRN_OK;
}

cairn_err registry_touch_service(registry_write_ctx *c, cairn_service *svc,
                                 cairn_change_kind kind, bool durable, cairn_status *st)
{
    return touch(c, svc, kind, durable, false, st);
}

cairn_err registry_touch_instances(registry_write_ctx *c, cairn_service *svc,
                                   bool ephemeral_changed, bool persistent_changed,
                                   cairn_status *st)
{
    return touch(c, svc, CAIRN_CHANGE_INSTANCES, persistent_changed, ephemeral_changed, st);
}

cairn_err registry_touch_noted(registry_write_ctx *c, cairn_service *svc, cairn_change_kind kind,
                               cairn_status *st)
{
    uint64_t rev;
    if (registry_store_next_revision(c->store, c->txn, &rev, st))
        return st->code;
    svc->revision = rev;
    svc->modified_ms = c->now_ms;
    if (registry_store_put_service(c->store, c->txn, svc, st))
        return st->code;
    return registry_write_note_change(c, svc->namespace_id, svc->name, kind, rev, st);
}

cairn_err registry_drop_service(registry_write_ctx *c, const char *ns, const char *name,
                                bool durable, cairn_status *st)
{
    uint64_t rev;
    if (registry_store_delete_service(c->store, c->txn, ns, name, st) ||
        registry_store_next_revision(c->store, c->txn, &rev, st) ||
        registry_store_clear_fresh(c->store, c->txn, st))
        return st->code;
    c->changed = true;
    c->durable = c->durable || durable;
    c->kind = CAIRN_CHANGE_REMOVED;
    c->revision = rev;
    return CAIRN_OK;
}

void registry_names_page(registry_names *n, uint32_t page_no, uint32_t page_size)
{
    n->start = page_no > 0 ? ((uint64_t)page_no - 1) * page_size : 0;
    n->end = n->start + page_size;
}

void registry_names_add(registry_names *n, const char *name)
{
    if (n->nomem)
        return;
    if (n->count == n->cap) {
        uint32_t ncap = n->cap ? n->cap * 2 : 16;
        char **grown = realloc(n->names, ncap * sizeof *grown);
        if (!grown) {
            n->nomem = true;
            return;
        }
        n->names = grown;
        n->cap = ncap;
    }
    if (!(n->names[n->count] = strdup(name)))
        n->nomem = true;
    else
        n->count++;
}

void registry_names_offer(registry_names *n, const char *name)
{
    uint64_t idx = n->total++;
    if (idx >= n->start && idx < n->end)
        registry_names_add(n, name);
}

void registry_names_free(registry_names *n)
{
    for (uint32_t i = 0; i < n->count; i++)
        free(n->names[i]);
    free(n->names);
    n->names = NULL;
    n->count = n->cap = 0;
}

cairn_err registry_names_reply(registry_names *n, cairn_reply *rep, cairn_status *st)
{
    if (n->nomem) {
        registry_names_free(n);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    rep->names = n->names;
    rep->name_count = n->count;
    rep->total = n->total;
    n->names = NULL;
    n->count = n->cap = 0;
    return CAIRN_OK;
}

/* ---- shared by the replication writes -------------------------------------------------------- */

const char *registry_ns(const char *ns)
{
    return ns && *ns ? ns : CAIRN_DEFAULT_NAMESPACE;
}

cairn_err registry_prepare_instance(const cairn_instance *src, const char *svc, bool ephemeral,
                                    cairn_instance *in, cairn_status *st)
{
    if (cairn_instance_copy(in, src)) {
        cairn_instance_init(in);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    in->ephemeral = ephemeral;
    if ((!in->cluster || !*in->cluster) &&
        registry_replace_string(&in->cluster, CAIRN_DEFAULT_CLUSTER, st))
        return st->code;
    if (!in->ip || !*in->ip)
        return cairn_fail(st, CAIRN_E_INVALID, "an instance of %s has no ip", svc);
    if (cairn_check_length("ip", in->ip, CAIRN_MAX_IP_LEN, st) ||
        cairn_check_length("clusterName", in->cluster, CAIRN_MAX_CLUSTER_LEN, st) ||
        cairn_instance_validate(in, st))
        return st->code;
    if (!in->instance_id || !*in->instance_id) {
        free(in->instance_id);
        if (!(in->instance_id = cairn_instance_default_id(in->ip, in->port, in->cluster, svc)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    cairn_instance_normalize_weight(in);
    return CAIRN_OK;
}

typedef struct keys_walk {
    registry_keys *k;
    bool nomem;
} keys_walk;

static bool collect_key(void *arg, const char *ns, const char *svc)
{
    keys_walk *w = arg;
    registry_keys *k = w->k;
    if (k->count == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 64;
        char **a = realloc(k->ns, cap * sizeof *a);
        if (a)
            k->ns = a;
        char **b = realloc(k->svc, cap * sizeof *b);
        if (b)
            k->svc = b;
        if (!a || !b)
            return !(w->nomem = true);
        k->cap = cap;
    }
    char *x = strdup(ns), *y = strdup(svc);
    if (!x || !y) {
        free(x);
        free(y);
        return !(w->nomem = true);
    }
    k->ns[k->count] = x;
    k->svc[k->count++] = y;
    return true;
}

cairn_err registry_keys_all(registry_store *s, MDB_txn *txn, registry_keys *k, cairn_status *st)
{
    memset(k, 0, sizeof *k);
    keys_walk w = {k, false};
    if (registry_store_scan_services(s, txn, NULL, NULL, collect_key, &w, st))
        return st->code;
    return w.nomem ? cairn_fail(st, CAIRN_E_NOMEM, "out of memory") : CAIRN_OK;
}

void registry_keys_free(registry_keys *k)
{
    for (uint32_t i = 0; i < k->count; i++) {
        free(k->ns[i]);
        free(k->svc[i]);
    }
    free(k->ns);
    free(k->svc);
    memset(k, 0, sizeof *k);
}

cairn_err registry_nested(registry_write_ctx *c, registry_step_fn step, void *arg, bool *kept,
                          cairn_err *refused, cairn_status *why, cairn_status *st)
{
    *kept = false;
    *refused = CAIRN_OK;
    cairn_status_clear(why);
    MDB_txn *child;
    int rc = mdb_txn_begin(c->store->env, c->txn, 0, &child);
    if (rc)
        return registry_store_fail(rc, "begin nested write", st);
    registry_write_ctx sub = *c;
    sub.txn = child;
    size_t mark = registry_write_notes_mark(c);
    bool keep = true;
    cairn_err err = step(&sub, arg, &keep, why);
    if (err || !keep) {
        mdb_txn_abort(child);
        registry_write_notes_rewind(c, mark);
        if (err == CAIRN_E_STORAGE || err == CAIRN_E_NOMEM)
            return cairn_fail(st, err, "%s", why->message);
        *refused = err;
        return CAIRN_OK;
    }
    if ((rc = mdb_txn_commit(child)))
        return registry_store_fail(rc, "commit nested write", st);
    c->durable = c->durable || sub.durable;
    *kept = true;
    return CAIRN_OK;
}

cairn_err registry_replace_string(char **dst, const char *src, cairn_status *st)
{
    char *copy = src ? strdup(src) : NULL;
    if (src && !copy)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    free(*dst);
    *dst = copy;
    return CAIRN_OK;
}
