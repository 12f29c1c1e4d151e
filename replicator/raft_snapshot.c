/* FSM snapshot encoding (layout and rules in raft_snapshot.h). */
#include "raft_snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"

#define SNAP_MAGIC "CRNSNAP1"
#define SNAP_MAGIC_LEN 8

typedef struct wbuf {
    char *p;
    size_t len, cap;
    bool failed;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        char *grown = realloc(w->p, cap);
        if (!grown) {
            w->failed = true;
            return;
        }
        w->p = grown;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_u(wbuf *w, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put(w, b, (size_t)bytes);
}

/* A value encoded by enc, length-prefixed. */
static void put_value(wbuf *w, cairn_err enc, char *bytes, size_t len)
{
    if (enc != CAIRN_OK || len > UINT32_MAX) {
        w->failed = true;
    } else {
        put_u(w, len, 4);
        put(w, bytes, len);
    }
    free(bytes);
}

static void put_service(wbuf *w, const raft_cp_service *svc)
{
    char *b = NULL;
    size_t n = 0;
    cairn_err enc = cairn_service_encode(&svc->def, &b, &n); /* before b and n are read */
    put_value(w, enc, b, n);
    size_t count;
    cairn_instance **ins = raft_state_sorted_instances(svc, &count);
    put_u(w, count, 4);
    for (size_t i = 0; i < count; i++) {
        b = NULL;
        enc = cairn_instance_encode(ins[i], &b, &n);
        put_value(w, enc, b, n);
    }
    free(ins);
}

cairn_err raft_snapshot_encode(const raft_cp_state *s, uint64_t index, char **out,
                               size_t *out_len, cairn_status *st)
{
    wbuf w = {0};
    size_t n;
    raft_cp_service **svcs = raft_state_sorted_services(s, &n);
    put(&w, SNAP_MAGIC, SNAP_MAGIC_LEN);
    put_u(&w, index, 8);
    put_u(&w, n, 8);
    for (size_t i = 0; i < n; i++)
        put_service(&w, svcs[i]);
    free(svcs);
    if (w.failed) {
        free(w.p);
        return cairn_fail(st, CAIRN_E_NOMEM, "snapshot: out of memory");
    }
    *out = w.p;
    *out_len = w.len;
    return CAIRN_OK;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t left;
} rbuf;

static bool get_u(rbuf *r, int bytes, uint64_t *v)
{
    if (r->left < (size_t)bytes)
        return false;
    *v = 0;
    for (int i = 0; i < bytes; i++)
        *v = (*v << 8) | r->p[i];
    r->p += bytes;
    r->left -= (size_t)bytes;
    return true;
}

/* The next length-prefixed value: a slice of the buffer. */
static bool get_value(rbuf *r, const char **b, size_t *n)
{
    uint64_t len;
    if (!get_u(r, 4, &len) || len > r->left)
        return false;
    *b = (const char *)r->p;
    *n = (size_t)len;
    r->p += len;
    r->left -= (size_t)len;
    return true;
}

static cairn_err bad(cairn_status *st, const char *what)
{
    return cairn_fail(st, CAIRN_E_DECODE, "snapshot: %s", what);
}

static cairn_err get_instances(rbuf *r, raft_cp_state *into, raft_cp_service *svc,
                               cairn_status *st)
{
    uint64_t count;
    if (!get_u(r, 4, &count) || count > r->left / 4)
        return bad(st, "instance count beyond the buffer");
    for (uint64_t i = 0; i < count; i++) {
        const char *b;
        size_t n;
        cairn_instance in;
        if (!get_value(r, &b, &n))
            return bad(st, "instance beyond the buffer");
        if (cairn_instance_decode(b, n, &in, st))
            return st->code;
        if (!in.ip || !in.cluster || in.ephemeral ||
            raft_state_instance(svc, in.cluster, in.ip, in.port)) {
            cairn_instance_free(&in);
            return bad(st, "instance without key, ephemeral or listed twice");
        }
        raft_state_put_instance(into, svc, &in);
    }
    return CAIRN_OK;
}

static cairn_err get_service(rbuf *r, raft_cp_state *into, cairn_status *st)
{
    const char *b;
    size_t n;
    cairn_service def;
    if (!get_value(r, &b, &n))
        return bad(st, "service beyond the buffer");
    if (cairn_service_decode(b, n, &def, st))
        return st->code;
    if (!def.namespace_id || !def.name ||
        raft_state_service(into, def.namespace_id, def.name) ||
        cairn_check_length("serviceName", def.name, CAIRN_MAX_SERVICE_LEN, st) ||
        cairn_check_length("namespaceId", def.namespace_id, CAIRN_MAX_NAMESPACE_LEN, st)) {
        cairn_service_free(&def);
        return bad(st, "service without a valid name, or listed twice");
    }
    return get_instances(r, into, raft_state_put_service(into, &def), st);
}

cairn_err raft_snapshot_decode(const char *buf, size_t len, raft_cp_state *into,
                               uint64_t *index, cairn_status *st)
{
    rbuf r = {(const unsigned char *)buf, len};
    uint64_t count = 0;
    if (len < SNAP_MAGIC_LEN || memcmp(buf, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0) {
        raft_state_clear(into);
        return bad(st, "not a Cairn raft snapshot");
    }
    r.p += SNAP_MAGIC_LEN;
    r.left -= SNAP_MAGIC_LEN;
    cairn_err err = CAIRN_OK;
    if ((!get_u(&r, 8, index) || !get_u(&r, 8, &count) || count > r.left / 8))
        err = bad(st, "header beyond the buffer");
    for (uint64_t i = 0; !err && i < count; i++)
        err = get_service(&r, into, st);
    if (!err && r.left)
        err = bad(st, "trailing bytes");
    if (err)
        raft_state_clear(into);
    return err;
}
