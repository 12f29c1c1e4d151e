/* Raft commands, RAFT_SUBMIT wrapping and the RAFT_FORWARD bodies (cairn_peer_raft.h). */
#include "cairn_peer_raft.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msgpack_codec.h"

static bool is_command_type(uint32_t type, bool instance, bool ephemeral)
{
    switch (type) {
    case CAIRN_MSG_INSTANCE_UPSERT:
    case CAIRN_MSG_INSTANCE_PATCH:
    case CAIRN_MSG_INSTANCE_REMOVE:
    case CAIRN_MSG_INSTANCE_HEALTH:
        return instance && !ephemeral;
    case CAIRN_MSG_SERVICE_PUT:
    case CAIRN_MSG_SERVICE_REMOVE:
        return true;
    default:
        return false;
    }
}

bool cairn_raft_is_command(const cairn_request *w)
{
    return w && is_command_type(w->type, w->has_instance, w->instance.ephemeral);
}

cairn_err cairn_raft_submit_wrap(cairn_request *rq, cairn_status *st)
{
    if (!cairn_raft_is_command(rq))
        return cairn_fail(st, CAIRN_E_INVALID, "a %s is not a raft command",
                          cairn_msg_type_name(rq->type));
    rq->cmd = (uint32_t)rq->type;
    rq->type = CAIRN_MSG_RAFT_SUBMIT;
    return CAIRN_OK;
}

cairn_err cairn_raft_submit_unwrap(cairn_request *rq, cairn_status *st)
{
    if (rq->type != CAIRN_MSG_RAFT_SUBMIT)
        return cairn_fail(st, CAIRN_E_INVALID, "a %s is not a RAFT_SUBMIT",
                          cairn_msg_type_name(rq->type));
    if (!is_command_type(rq->cmd, rq->has_instance, rq->instance.ephemeral))
        return cairn_fail(st, CAIRN_E_INVALID, "a raft submit of %s%s is not a raft command",
                          rq->has_instance && rq->instance.ephemeral ? "an ephemeral " : "",
                          cairn_msg_type_name((cairn_msg_type)rq->cmd));
    if (rq->cmd == CAIRN_MSG_SERVICE_PUT && !rq->has_service)
        return cairn_fail(st, CAIRN_E_INVALID, "a raft submit of service_put has no service");
    rq->type = (cairn_msg_type)rq->cmd;
    rq->cmd = 0;
    return CAIRN_OK;
}

/* ---- RAFT_FORWARD ------------------------------------------------------------------------- */

#define pk_s cairn_msgpack_pack_str

static cairn_err release(msgpack_sbuffer *sb, int rc, char **out, size_t *out_len)
{
    if (rc) {
        msgpack_sbuffer_destroy(sb);
        return CAIRN_E_NOMEM;
    }
    *out_len = sb->size;
    *out = msgpack_sbuffer_release(sb);
    return CAIRN_OK;
}

cairn_err cairn_peer_raft_forward_encode(const cairn_peer_raft_forward *f, char **out,
                                         size_t *out_len)
{
    if (f->count == 0 || f->count > CAIRN_RAFT_FORWARD_MAX)
        return CAIRN_E_INVALID;
    for (size_t i = 0; i < f->count; i++)
        if (!f->cmds[i] || f->lens[i] == 0 || f->lens[i] > CAIRN_RAFT_CMD_MAX ||
            f->budgets_ms[i] > CAIRN_RAFT_BUDGET_MAX)
            return CAIRN_E_INVALID;
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 2) || pk_s(&pk, "cmds") ||
             msgpack_pack_array(&pk, f->count);
    for (size_t i = 0; i < f->count && !rc; i++)
        rc = msgpack_pack_bin(&pk, f->lens[i]) || msgpack_pack_bin_body(&pk, f->cmds[i],
                                                                         f->lens[i]);
    rc = rc || pk_s(&pk, "budgets") || msgpack_pack_array(&pk, f->count);
    for (size_t i = 0; i < f->count && !rc; i++)
        rc = msgpack_pack_uint32(&pk, f->budgets_ms[i]);
    return release(&sb, rc, out, out_len);
}

enum { F_CMDS, F_BUDGETS, F__COUNT };
static const char *const forward_names[F__COUNT] = {"cmds", "budgets"};

/* A forward being decoded: the budgets may come before or after the commands, so their number
 * is checked once both are read. */
typedef struct forward_decoding {
    cairn_peer_raft_forward *f;
    size_t budgets;
} forward_decoding;

/* The arrays of both bodies (cmds, budgets, acks): 1..CAIRN_RAFT_FORWARD_MAX elements. */
static cairn_err check_array(const msgpack_object *v, const char *what, cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size == 0 ||
        v->via.array.size > CAIRN_RAFT_FORWARD_MAX)
        return cairn_fail(st, CAIRN_E_DECODE, "%s is not an array of 1..%d", what,
                          CAIRN_RAFT_FORWARD_MAX);
    return CAIRN_OK;
}

static cairn_err forward_cmds(const msgpack_object *v, cairn_peer_raft_forward *f,
                              cairn_status *st)
{
    if (check_array(v, "raft forward: cmds", st) != CAIRN_OK)
        return st->code;
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *c = &v->via.array.ptr[i];
        if (c->type != MSGPACK_OBJECT_BIN)
            return cairn_fail(st, CAIRN_E_DECODE, "raft forward: cmds[%u] is not a bin", i);
        uint32_t n = c->via.bin.size;
        if (n == 0 || n > CAIRN_RAFT_CMD_MAX)
            return cairn_fail(st, CAIRN_E_DECODE,
                              "raft forward: cmds[%u] of %u bytes (1..%d allowed)", i, n,
                              CAIRN_RAFT_CMD_MAX);
        if (!(f->cmds[i] = malloc(n)))
            return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        memcpy(f->cmds[i], c->via.bin.ptr, n);
        f->lens[i] = n;
        f->count = i + 1;
    }
    return CAIRN_OK;
}

static cairn_err forward_budgets(const msgpack_object *v, forward_decoding *d,
                                 cairn_status *st)
{
    if (check_array(v, "raft forward: budgets", st) != CAIRN_OK)
        return st->code;
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        uint64_t u = 0;
        if (cairn_msgpack_rd_uint(&v->via.array.ptr[i], "raft forward", "budgets",
                                  CAIRN_RAFT_BUDGET_MAX, &u, st) != CAIRN_OK)
            return st->code;
        d->f->budgets_ms[i] = (uint32_t)u;
    }
    d->budgets = v->via.array.size;
    return CAIRN_OK;
}

static cairn_err forward_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    forward_decoding *d = target;
    if (idx == F_CMDS)
        return forward_cmds(v, d->f, st);
    return forward_budgets(v, d, st);
}

cairn_err cairn_peer_raft_forward_decode(const char *buf, size_t len, cairn_peer_raft_forward *f,
                                         cairn_status *st)
{
    memset(f, 0, sizeof *f);
    uint64_t seen;
    forward_decoding d = {.f = f};
    cairn_err err = cairn_msgpack_decode_map(buf, len, "raft forward", forward_names, F__COUNT,
                                             forward_field, &d, &seen, st);
    if (err == CAIRN_OK && (seen & 3u) != 3u)
        err = cairn_fail(st, CAIRN_E_DECODE, "raft forward: cmds and budgets are required");
    if (err == CAIRN_OK && d.budgets != f->count)
        err = cairn_fail(st, CAIRN_E_DECODE, "raft forward: %zu budgets for %zu commands",
                         d.budgets, f->count);
    if (err != CAIRN_OK)
        cairn_peer_raft_forward_free(f);
    return err;
}

void cairn_peer_raft_forward_free(cairn_peer_raft_forward *f)
{
    for (size_t i = 0; i < f->count; i++)
        free(f->cmds[i]);
    memset(f, 0, sizeof *f);
}

/* ---- RAFT_FORWARD_ACK --------------------------------------------------------------------- */

static int pack_ack(msgpack_packer *pk, const cairn_peer_raft_ack *a)
{
    return msgpack_pack_map(pk, 5) || pk_s(pk, "status") ||
           msgpack_pack_uint32(pk, (uint32_t)a->status) || pk_s(pk, "code") ||
           msgpack_pack_uint32(pk, a->code) || pk_s(pk, "msg") || pk_s(pk, a->msg) ||
           pk_s(pk, "index") || msgpack_pack_uint64(pk, a->index) || pk_s(pk, "leader") ||
           pk_s(pk, a->leader);
}

cairn_err cairn_peer_raft_acks_encode(const cairn_peer_raft_acks *a, char **out, size_t *out_len)
{
    if (a->count == 0 || a->count > CAIRN_RAFT_FORWARD_MAX)
        return CAIRN_E_INVALID;
    for (size_t i = 0; i < a->count; i++)
        if ((unsigned)a->acks[i].status >= CAIRN_RAFT_FWD__COUNT ||
            a->acks[i].code >= CAIRN_E__COUNT)
            return CAIRN_E_INVALID;
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 1) || pk_s(&pk, "acks") || msgpack_pack_array(&pk, a->count);
    for (size_t i = 0; i < a->count && !rc; i++)
        rc = pack_ack(&pk, &a->acks[i]);
    return release(&sb, rc, out, out_len);
}

enum { A_STATUS, A_CODE, A_MSG, A_INDEX, A_LEADER, A__COUNT };
static const char *const ack_names[A__COUNT] = {"status", "code", "msg", "index", "leader"};

/* A string field copied into a fixed buffer; longer than the buffer is an error. */
static cairn_err rd_fixed(const msgpack_object *v, const char *field, char *dst, size_t cap,
                          cairn_status *st)
{
    char *s = NULL;
    if (cairn_msgpack_rd_str(v, "raft forward ack", field, &s, st) != CAIRN_OK)
        return st->code;
    size_t n = strlen(s);
    if (n >= cap) {
        free(s);
        return cairn_fail(st, CAIRN_E_DECODE, "raft forward ack: %s longer than %zu bytes", field,
                          cap - 1);
    }
    memcpy(dst, s, n + 1);
    free(s);
    return CAIRN_OK;
}

static cairn_err ack_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_peer_raft_ack *a = target;
    uint64_t u = 0;
    cairn_err err = CAIRN_OK;
    switch (idx) {
    case A_STATUS:
        err = cairn_msgpack_rd_uint(v, "raft forward ack", "status", CAIRN_RAFT_FWD__COUNT - 1,
                                    &u, st);
        a->status = (cairn_raft_fwd_status)u;
        return err;
    case A_CODE:
        err = cairn_msgpack_rd_uint(v, "raft forward ack", "code", CAIRN_E__COUNT - 1, &u, st);
        a->code = (uint32_t)u;
        return err;
    case A_MSG: return rd_fixed(v, "msg", a->msg, sizeof a->msg, st);
    case A_INDEX: return cairn_msgpack_rd_uint(v, "raft forward ack", "index", UINT64_MAX,
                                               &a->index, st);
    default: return rd_fixed(v, "leader", a->leader, sizeof a->leader, st);
    }
}

static cairn_err read_ack(const msgpack_object *o, cairn_peer_raft_ack *a, cairn_status *st)
{
    uint64_t seen = 0;
    cairn_err err = cairn_msgpack_walk_map(o, "raft forward ack", ack_names, A__COUNT, ack_field,
                                           a, &seen, st);
    if (err == CAIRN_OK && (seen & 1u) == 0)
        err = cairn_fail(st, CAIRN_E_DECODE, "raft forward ack: the status is missing");
    if (err == CAIRN_OK && a->status == CAIRN_RAFT_FWD_COMMITTED && a->index == 0)
        err = cairn_fail(st, CAIRN_E_DECODE, "raft forward ack: committed without an index");
    return err;
}

static const char *const acks_names[] = {"acks"};

static cairn_err acks_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    (void)idx;
    cairn_peer_raft_acks *a = target;
    if (check_array(v, "raft forward ack: acks", st) != CAIRN_OK)
        return st->code;
    for (uint32_t i = 0; i < v->via.array.size; i++)
        if (read_ack(&v->via.array.ptr[i], &a->acks[i], st) != CAIRN_OK)
            return st->code;
    a->count = v->via.array.size;
    return CAIRN_OK;
}

cairn_err cairn_peer_raft_acks_decode(const char *buf, size_t len, cairn_peer_raft_acks *a,
                                      cairn_status *st)
{
    memset(a, 0, sizeof *a);
    uint64_t seen;
    cairn_err err = cairn_msgpack_decode_map(buf, len, "raft forward ack", acks_names, 1,
                                             acks_field, a, &seen, st);
    if (err == CAIRN_OK && seen == 0)
        err = cairn_fail(st, CAIRN_E_DECODE, "raft forward ack: the acks are missing");
    if (err != CAIRN_OK)
        memset(a, 0, sizeof *a);
    return err;
}
