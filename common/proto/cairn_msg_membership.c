/* MEMBERSHIP and MEMBERS_GET (cairn_msg.h, types 40-49). Fields are written in the order listed
 * there, so an encoding is deterministic (golden bytes in tests/unit/test_msg_membership.c). */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "cairn_msgpack_codec.h"

const char *cairn_member_state_name(cairn_member_state s)
{
    switch (s) {
    case CAIRN_MEMBER_DOWN: return "DOWN";
    case CAIRN_MEMBER_STARTING: return "STARTING";
    case CAIRN_MEMBER_SUSPICIOUS: return "SUSPICIOUS";
    case CAIRN_MEMBER_UP: return "UP";
    }
    return "UNKNOWN";
}

void cairn_request_members_get(cairn_request *req)
{
    cairn_request_init(req, CAIRN_MSG_MEMBERS_GET);
}

/* ---- encoding ---------------------------------------------------------------------------- */

#define pk_s cairn_msgpack_pack_str

static int pk_b(msgpack_packer *pk, bool b)
{
    return b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

static int pack_member(msgpack_packer *pk, const cairn_member_info *m)
{
    return msgpack_pack_map(pk, 15) || pk_s(pk, "id") || pk_s(pk, m->id) || pk_s(pk, "state") ||
           msgpack_pack_uint32(pk, (uint32_t)m->state) || pk_s(pk, "self") || pk_b(pk, m->self) ||
           pk_s(pk, "ready") || pk_b(pk, m->ready) || pk_s(pk, "match") ||
           pk_b(pk, m->members_match) || pk_s(pk, "fails") ||
           msgpack_pack_uint32(pk, m->fail_count) || pk_s(pk, "peer") ||
           pk_s(pk, m->peer_address) || pk_s(pk, "raft") || pk_s(pk, m->raft_address) ||
           pk_s(pk, "refresh") || msgpack_pack_int64(pk, m->last_refresh_ms) ||
           pk_s(pk, "rrole") || pk_s(pk, m->raft_role) || pk_s(pk, "rterm") ||
           msgpack_pack_uint64(pk, m->raft_term) || pk_s(pk, "rlead") ||
           pk_s(pk, m->raft_leader) || pk_s(pk, "rapplied") ||
           msgpack_pack_uint64(pk, m->raft_applied) || pk_s(pk, "rid") ||
           msgpack_pack_uint64(pk, m->raft_id) || pk_s(pk, "vhash") ||
           msgpack_pack_uint64(pk, m->view_hash);
}

static int pack_membership(msgpack_packer *pk, const cairn_membership *m)
{
    if (msgpack_pack_map(pk, 7) || pk_s(pk, "t") ||
        msgpack_pack_uint32(pk, CAIRN_MSG_MEMBERSHIP) || pk_s(pk, "v") ||
        msgpack_pack_uint32(pk, CAIRN_MSG_VERSION) || pk_s(pk, "view") ||
        msgpack_pack_uint64(pk, m->view_version) || pk_s(pk, "self") || pk_s(pk, m->self) ||
        pk_s(pk, "ready") || pk_b(pk, m->self_ready) || pk_s(pk, "owners") ||
        msgpack_pack_array(pk, m->owner_count))
        return -1;
    for (uint32_t i = 0; i < m->owner_count; i++)
        if (pk_s(pk, m->owners[i]))
            return -1;
    if (pk_s(pk, "members") || msgpack_pack_array(pk, m->member_count))
        return -1;
    for (uint32_t i = 0; i < m->member_count; i++)
        if (pack_member(pk, &m->members[i]))
            return -1;
    return 0;
}

static bool member_valid(const cairn_member_info *m)
{
    return m->id && m->peer_address && m->raft_address && m->raft_role && m->raft_leader &&
           (unsigned)m->state <= CAIRN_MEMBER_UP;
}

cairn_err cairn_membership_encode(const cairn_membership *m, char **out, size_t *out_len)
{
    if (!m->self || (m->owner_count && !m->owners) || (m->member_count && !m->members))
        return CAIRN_E_INVALID;
    for (uint32_t i = 0; i < m->owner_count; i++)
        if (!m->owners[i])
            return CAIRN_E_INVALID;
    for (uint32_t i = 0; i < m->member_count; i++)
        if (!member_valid(&m->members[i]))
            return CAIRN_E_INVALID;
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (pack_membership(&pk, m) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return CAIRN_E_NOMEM;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return CAIRN_OK;
}

/* ---- decoding ---------------------------------------------------------------------------- */

enum { M_ID, M_STATE, M_SELF, M_READY, M_MATCH, M_FAILS, M_PEER, M_RAFT, M_REFRESH, M_RROLE,
       M_RTERM, M_RLEAD, M_RAPPLIED, M_RID, M_VHASH, M__COUNT };
static const char *const member_names[M__COUNT] = {
    "id", "state", "self", "ready", "match", "fails", "peer", "raft", "refresh", "rrole",
    "rterm", "rlead", "rapplied", "rid", "vhash"};
/* Every field but vhash must be there. */
#define MEMBER_REQUIRED (((1u << M__COUNT) - 1) & ~(1u << M_VHASH))

static cairn_err member_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_member_info *m = target;
    const char *ctx = "member", *f = member_names[idx];
    uint64_t u = 0;
    cairn_err err;
    switch (idx) {
    case M_ID: return cairn_msgpack_rd_str(v, ctx, f, &m->id, st);
    case M_STATE:
        err = cairn_msgpack_rd_uint(v, ctx, f, CAIRN_MEMBER_UP, &u, st);
        m->state = (cairn_member_state)u;
        return err;
    case M_SELF: return cairn_msgpack_rd_bool(v, ctx, f, &m->self, st);
    case M_READY: return cairn_msgpack_rd_bool(v, ctx, f, &m->ready, st);
    case M_MATCH: return cairn_msgpack_rd_bool(v, ctx, f, &m->members_match, st);
    case M_FAILS:
        err = cairn_msgpack_rd_uint(v, ctx, f, UINT32_MAX, &u, st);
        m->fail_count = (uint32_t)u;
        return err;
    case M_PEER: return cairn_msgpack_rd_str(v, ctx, f, &m->peer_address, st);
    case M_RAFT: return cairn_msgpack_rd_str(v, ctx, f, &m->raft_address, st);
    case M_REFRESH:
        return cairn_msgpack_rd_int(v, ctx, f, INT64_MIN, INT64_MAX, &m->last_refresh_ms, st);
    case M_RROLE: return cairn_msgpack_rd_str(v, ctx, f, &m->raft_role, st);
    case M_RTERM: return cairn_msgpack_rd_uint(v, ctx, f, UINT64_MAX, &m->raft_term, st);
    case M_RLEAD: return cairn_msgpack_rd_str(v, ctx, f, &m->raft_leader, st);
    case M_RAPPLIED: return cairn_msgpack_rd_uint(v, ctx, f, UINT64_MAX, &m->raft_applied, st);
    case M_RID: return cairn_msgpack_rd_uint(v, ctx, f, UINT64_MAX, &m->raft_id, st);
    case M_VHASH: return cairn_msgpack_rd_uint(v, ctx, f, UINT64_MAX, &m->view_hash, st);
    }
    return CAIRN_OK;
}

static cairn_err unpack_members(const msgpack_object *v, cairn_membership *m, cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return cairn_fail(st, CAIRN_E_DECODE, "membership: field 'members' has the wrong type");
    if (v->via.array.size == 0)
        return CAIRN_OK;
    if (!(m->members = calloc(v->via.array.size, sizeof *m->members)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        m->member_count = i + 1; /* freed by the caller's cleanup even when half read */
        uint64_t seen;
        cairn_err err = cairn_msgpack_walk_map(&v->via.array.ptr[i], "member", member_names,
                                               M__COUNT, member_field, &m->members[i], &seen, st);
        if (err != CAIRN_OK)
            return err;
        if ((seen & MEMBER_REQUIRED) != MEMBER_REQUIRED)
            return cairn_fail(st, CAIRN_E_DECODE, "member: a field is missing");
    }
    return CAIRN_OK;
}

static cairn_err unpack_owners(const msgpack_object *v, cairn_membership *m, cairn_status *st)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return cairn_fail(st, CAIRN_E_DECODE, "membership: field 'owners' has the wrong type");
    if (v->via.array.size == 0)
        return CAIRN_OK;
    if (!(m->owners = calloc(v->via.array.size, sizeof *m->owners)))
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory decoding a message");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        m->owner_count = i + 1;
        cairn_err err =
            cairn_msgpack_rd_str(&v->via.array.ptr[i], "membership", "owners", &m->owners[i], st);
        if (err != CAIRN_OK)
            return err;
    }
    return CAIRN_OK;
}

enum { S_T, S_V, S_VIEW, S_SELF, S_READY, S_OWNERS, S_MEMBERS, S__COUNT };
static const char *const names[S__COUNT] = {"t", "v", "view", "self", "ready", "owners",
                                            "members"};

static cairn_err membership_field(int idx, const msgpack_object *v, void *target,
                                  cairn_status *st)
{
    cairn_membership *m = target;
    uint64_t u = 0;
    cairn_err err;
    switch (idx) {
    case S_T:
        err = cairn_msgpack_rd_uint(v, "membership", "t", UINT32_MAX, &u, st);
        if (err == CAIRN_OK && u != CAIRN_MSG_MEMBERSHIP)
            err = cairn_fail(st, CAIRN_E_DECODE, "message type %llu is not membership",
                             (unsigned long long)u);
        return err;
    case S_V:
        err = cairn_msgpack_rd_uint(v, "membership", "v", UINT32_MAX, &u, st);
        if (err == CAIRN_OK && u != CAIRN_MSG_VERSION)
            err = cairn_fail(st, CAIRN_E_DECODE, "unsupported message version %llu",
                             (unsigned long long)u);
        return err;
    case S_VIEW:
        return cairn_msgpack_rd_uint(v, "membership", "view", UINT64_MAX, &m->view_version, st);
    case S_SELF: return cairn_msgpack_rd_str(v, "membership", "self", &m->self, st);
    case S_READY: return cairn_msgpack_rd_bool(v, "membership", "ready", &m->self_ready, st);
    case S_OWNERS: return unpack_owners(v, m, st);
    case S_MEMBERS: return unpack_members(v, m, st);
    }
    return CAIRN_OK;
}

cairn_err cairn_membership_decode(const char *buf, size_t len, cairn_membership *m,
                                  cairn_status *st)
{
    memset(m, 0, sizeof *m);
    uint64_t seen;
    cairn_err err = cairn_msgpack_decode_map(buf, len, "membership", names, S__COUNT,
                                             membership_field, m, &seen, st);
    if (err == CAIRN_OK && seen != (1u << S__COUNT) - 1)
        err = cairn_fail(st, CAIRN_E_DECODE, "membership: a field is missing");
    if (err != CAIRN_OK)
        cairn_membership_free(m);
    return err;
}

void cairn_membership_free(cairn_membership *m)
{
    if (!m)
        return;
    free(m->self);
    for (uint32_t i = 0; i < m->owner_count; i++)
        free(m->owners[i]);
    free(m->owners);
    for (uint32_t i = 0; i < m->member_count; i++) {
        cairn_member_info *x = &m->members[i];
        free(x->id);
        free(x->peer_address);
        free(x->raft_address);
        free(x->raft_role);
        free(x->raft_leader);
    }
    free(m->members);
    memset(m, 0, sizeof *m);
}
