/* The raft FSM of the CP data (contract in raft_fsm.h). */
#include "raft_fsm.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "raft_snapshot.h"

struct cairn_raft_fsm {
    struct raft_fsm fsm; /* first: raft hands back &fsm */
    struct raft *raft;
    cairn_raft_fsm_options opt;
    raft_cp_state *state;
    uint64_t applied;
    cairn_raft_batch pending; /* PERSIST_APPLY being filled; first == 0 while empty */
    cairn_raft_result result;
    cairn_status statuses[CAIRN_RAFT_BATCH_MAX];
    cairn_raft_fsm_stats stats;
};

static void emit(cairn_raft_fsm *f, cairn_raft_batch *b)
{
    if (f->opt.emit)
        f->opt.emit(f->opt.emit_arg, b); /* takes ownership: moves the contents out */
    cairn_raft_batch_free(b);            /* what the callback left, if anything */
}

void cairn_raft_fsm_flush(cairn_raft_fsm *f)
{
    if (f->pending.first)
        emit(f, &f->pending);
}

/* One command: decoded and run on the state; its verdict in *st. */
static void apply_command(cairn_raft_fsm *f, const char *cmd, size_t len, cairn_status *st)
{
    cairn_request req;
    cairn_status_clear(st);
    if (cairn_request_decode(cmd, len, &req, st) == CAIRN_OK) {
        raft_cmd_apply(f->state, &f->opt.limits, &req, &f->pending, st); /* a rejection
                                                                           appends nothing */
        cairn_request_free(&req);
    }
    if (st->code != CAIRN_OK)
        f->stats.rejected++;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    cairn_raft_fsm *f = (cairn_raft_fsm *)fsm;
    uint64_t index = f->raft ? raft_last_applied(f->raft) + 1 : f->applied + 1;
    f->result.index = index;
    cairn_status_clear(&f->result.status);
    const char *cmds[CAIRN_RAFT_BATCH_MAX];
    size_t lens[CAIRN_RAFT_BATCH_MAX], n = 0;
    if (!cairn_raft_entry_commands(buf, cmds, lens, &n)) {
        n = 0;
        cairn_fail(&f->result.status, CAIRN_E_DECODE, "not a framed raft entry");
        f->stats.rejected++;
    }
    for (size_t i = 0; i < n; i++)
        apply_command(f, cmds[i], lens[i], &f->statuses[i]);
    if (n)
        f->result.status = f->statuses[0];
    f->result.count = n;
    f->result.statuses = f->statuses;
    if (!f->pending.first)
        f->pending.first = index;
    f->pending.last = index;
    f->applied = index;
    f->stats.applied++;
    *result = &f->result;
    return 0; /* always: see raft_fsm.h */
}

#define ENTRY_HEADER 8

int cairn_raft_entry_encode(const void *cmd, size_t len, struct raft_buffer *out)
{
    if (len > UINT32_MAX - 16)
        return RAFT_TOOBIG;
    size_t total = (ENTRY_HEADER + len + 7) / 8 * 8;
    unsigned char *p = raft_calloc(1, total);
    if (!p)
        return RAFT_NOMEM;
    p[0] = (unsigned char)(len >> 24), p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8), p[3] = (unsigned char)len;
    memcpy(p + ENTRY_HEADER, cmd, len);
    out->base = p;
    out->len = total;
    return 0;
}

bool cairn_raft_entry_command(const struct raft_buffer *buf, const char **cmd, size_t *len)
{
    const unsigned char *p = buf->base;
    if (buf->len < ENTRY_HEADER || buf->len % 8 != 0 || p[4] || p[5] || p[6] || p[7])
        return false;
    size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n > buf->len - ENTRY_HEADER || buf->len - ENTRY_HEADER - n >= 8)
        return false;
    for (size_t i = ENTRY_HEADER + n; i < buf->len; i++)
        if (p[i])
            return false;
    *cmd = (const char *)p + ENTRY_HEADER;
    *len = n;
    return true;
}

/* A framed command at p (avail bytes): its command and the frame's length; false when p
 * holds none. */
static bool frame_at(const unsigned char *p, size_t avail, const char **cmd, size_t *len,
                     size_t *frame)
{
    if (avail < ENTRY_HEADER || p[4] || p[5] || p[6] || p[7])
        return false;
    size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n > avail - ENTRY_HEADER)
        return false;
    size_t total = (ENTRY_HEADER + n + 7) / 8 * 8;
    if (total > avail)
        return false;
    for (size_t i = ENTRY_HEADER + n; i < total; i++)
        if (p[i])
            return false;
    *cmd = (const char *)p + ENTRY_HEADER;
    *len = n;
    *frame = total;
    return true;
}

int cairn_raft_entry_encode_batch(const void *const *cmds, const size_t *lens, size_t n,
                                  struct raft_buffer *out)
{
    if (n == 0 || n > CAIRN_RAFT_BATCH_MAX)
        return RAFT_INVALID;
    size_t total = ENTRY_HEADER;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > UINT32_MAX - 16 || total > UINT32_MAX)
            return RAFT_TOOBIG;
        total += (ENTRY_HEADER + lens[i] + 7) / 8 * 8;
    }
    unsigned char *p = raft_calloc(1, total);
    if (!p)
        return RAFT_NOMEM;
    p[3] = (unsigned char)n; /* n <= 64: the count's other bytes stay 0 */
    p[4] = 1;
    size_t at = ENTRY_HEADER;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens[i];
        p[at] = (unsigned char)(len >> 24), p[at + 1] = (unsigned char)(len >> 16);
        p[at + 2] = (unsigned char)(len >> 8), p[at + 3] = (unsigned char)len;
        memcpy(p + at + ENTRY_HEADER, cmds[i], len);
        at += (ENTRY_HEADER + len + 7) / 8 * 8;
    }
    out->base = p;
    out->len = total;
    return 0;
}

bool cairn_raft_entry_commands(const struct raft_buffer *buf, const char **cmds, size_t *lens,
                               size_t *n)
{
    const unsigned char *p = buf->base;
    *n = 0;
    if (cairn_raft_entry_command(buf, &cmds[0], &lens[0])) {
        *n = 1;
        return true;
    }
    if (buf->len < ENTRY_HEADER || buf->len % 8 != 0 || p[4] != 1 || p[5] || p[6] || p[7])
        return false;
    size_t count = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (count == 0 || count > CAIRN_RAFT_BATCH_MAX)
        return false;
    size_t at = ENTRY_HEADER, frame;
    for (size_t i = 0; i < count; i++) {
        if (!frame_at(p + at, buf->len - at, &cmds[i], &lens[i], &frame))
            return false;
        at += frame;
    }
    if (at != buf->len)
        return false;
    *n = count;
    return true;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    cairn_raft_fsm *f = (cairn_raft_fsm *)fsm;
    cairn_status st;
    char *out;
    size_t len;
    if (raft_snapshot_encode(f->state, f->applied, &out, &len, &st))
        return RAFT_NOMEM;
    struct raft_buffer *b = malloc(sizeof *b);
    if (!b) {
        free(out);
        return RAFT_NOMEM;
    }
    b->base = out;
    b->len = len;
    *bufs = b;
    *n_bufs = 1;
    f->stats.snapshots++;
    f->stats.snapshot_bytes = len;
    return 0;
}

/* Version 2: raft owns nothing we handed it; release it here. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                                 unsigned *n_bufs)
{
    for (unsigned i = 0; i < *n_bufs; i++)
        free((*bufs)[i].base);
    free(*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

/* The whole state as puts, for PERSIST_REPLACE. */
static void replacement(const raft_cp_state *s, uint64_t index, cairn_raft_batch *b)
{
    cairn_raft_batch_init(b);
    b->replace = true;
    b->last = index;
    size_t n, m;
    raft_cp_service **svcs = raft_state_sorted_services(s, &n);
    for (size_t i = 0; i < n; i++) {
        cairn_raft_batch_service_put(b, &svcs[i]->def);
        cairn_instance **ins = raft_state_sorted_instances(svcs[i], &m);
        for (size_t j = 0; j < m; j++)
            cairn_raft_batch_instance(b, CAIRN_RAFT_PUT, svcs[i]->def.namespace_id,
                                      svcs[i]->def.name, ins[j]);
        free(ins);
    }
    free(svcs);
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    cairn_raft_fsm *f = (cairn_raft_fsm *)fsm;
    raft_cp_state *fresh = raft_state_new();
    uint64_t index;
    cairn_status st;
    if (raft_snapshot_decode(buf->base, buf->len, fresh, &index, &st)) {
        raft_state_free(fresh);
        return RAFT_CORRUPT; /* raft keeps the buffer and reports the error */
    }
    raft_free(buf->base); /* on success the buffer is ours (libraft's restore contract) */
    cairn_raft_fsm_flush(f);
    raft_state_free(f->state);
    f->state = fresh;
    f->applied = index;
    f->stats.restores++;
    cairn_raft_batch b;
    replacement(f->state, index, &b);
    emit(f, &b);
    return 0;
}

cairn_raft_fsm *cairn_raft_fsm_new(const cairn_raft_fsm_options *o)
{
    cairn_raft_fsm *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->opt = *o;
    f->state = raft_state_new();
    cairn_raft_batch_init(&f->pending);
    f->fsm.version = 2;
    f->fsm.data = f;
    f->fsm.apply = fsm_apply;
    f->fsm.snapshot = fsm_snapshot;
    f->fsm.restore = fsm_restore;
    f->fsm.snapshot_finalize = fsm_snapshot_finalize;
    return f;
}

void cairn_raft_fsm_free(cairn_raft_fsm *f)
{
    if (!f)
        return;
    cairn_raft_batch_free(&f->pending);
    raft_state_free(f->state);
    free(f);
}

struct raft_fsm *cairn_raft_fsm_raft(cairn_raft_fsm *f)
{
    return &f->fsm;
}

void cairn_raft_fsm_bind(cairn_raft_fsm *f, struct raft *r)
{
    f->raft = r;
}

const raft_cp_state *cairn_raft_fsm_state(const cairn_raft_fsm *f)
{
    return f->state;
}

uint64_t cairn_raft_fsm_applied(const cairn_raft_fsm *f)
{
    return f->applied;
}

cairn_raft_fsm_stats cairn_raft_fsm_stats_get(const cairn_raft_fsm *f)
{
    return f->stats;
}
