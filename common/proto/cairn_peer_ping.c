/* PING / PONG bodies (cairn_peer_ping.h). */
#include "cairn_peer_ping.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msgpack_codec.h"

const char *cairn_peer_phase_name(cairn_peer_phase p)
{
    switch (p) {
    case CAIRN_PHASE_STARTING: return "STARTING";
    case CAIRN_PHASE_READY: return "READY";
    case CAIRN_PHASE_STOPPING: return "STOPPING";
    }
    return "UNKNOWN";
}

#define pk_s cairn_msgpack_pack_str

static int pack_ping(msgpack_packer *pk, const cairn_peer_ping *p)
{
    bool lead = p->raft.leader[0] != '\0';
    return msgpack_pack_map(pk, lead ? 13 : 12) || pk_s(pk, "phase") ||
           msgpack_pack_uint32(pk, (uint32_t)p->phase) || pk_s(pk, "mhash") ||
           msgpack_pack_uint64(pk, p->members_hash) || pk_s(pk, "view") ||
           msgpack_pack_uint64(pk, p->view_version) || pk_s(pk, "vhash") ||
           msgpack_pack_uint64(pk, p->view_hash) || pk_s(pk, "peer") ||
           pk_s(pk, p->peer_address) || pk_s(pk, "raft") || pk_s(pk, p->raft_address) ||
           pk_s(pk, "fresh") ||
           (p->store_fresh ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
           pk_s(pk, "rinit") ||
           (p->raft.initialized ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
           pk_s(pk, "rrole") || pk_s(pk, p->raft.role) || pk_s(pk, "rterm") ||
           msgpack_pack_uint64(pk, p->raft.term) ||
           (lead && (pk_s(pk, "rlead") || pk_s(pk, p->raft.leader))) || pk_s(pk, "rcommit") ||
           msgpack_pack_uint64(pk, p->raft.commit) || pk_s(pk, "rapplied") ||
           msgpack_pack_uint64(pk, p->raft.applied);
}

cairn_err cairn_peer_ping_encode(const cairn_peer_ping *p, char **out, size_t *out_len)
{
    if ((unsigned)p->phase > CAIRN_PHASE_STOPPING)
        return CAIRN_E_INVALID;
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (pack_ping(&pk, p) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return CAIRN_E_NOMEM;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return CAIRN_OK;
}

enum { P_PHASE, P_MHASH, P_VIEW, P_VHASH, P_PEER, P_RAFT, P_FRESH, P_RINIT, P_RROLE, P_RTERM,
       P_RLEAD, P_RCOMMIT, P_RAPPLIED, P__COUNT };
static const char *const names[P__COUNT] = {"phase", "mhash", "view",  "vhash", "peer",
                                            "raft",  "fresh", "rinit", "rrole", "rterm",
                                            "rlead", "rcommit", "rapplied"};
#define CTX "ping"

/* A str into a fixed buffer. */
static cairn_err rd_fixed(const msgpack_object *v, const char *field, char *out, size_t cap,
                          cairn_status *st)
{
    char *s = NULL;
    cairn_err err = cairn_msgpack_rd_str(v, CTX, field, &s, st);
    if (err == CAIRN_OK && strlen(s) >= cap)
        err = cairn_fail(st, CAIRN_E_DECODE, CTX ": field '%s' is too long", field);
    if (err == CAIRN_OK)
        strcpy(out, s);
    free(s);
    return err;
}

static cairn_err ping_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_peer_ping *p = target;
    uint64_t u = 0;
    cairn_err err;
    switch (idx) {
    case P_PHASE:
        err = cairn_msgpack_rd_uint(v, CTX, names[idx], CAIRN_PHASE_STOPPING, &u, st);
        p->phase = (cairn_peer_phase)u;
        return err;
    case P_MHASH:
        return cairn_msgpack_rd_uint(v, CTX, names[idx], UINT64_MAX, &p->members_hash, st);
    case P_VIEW: return cairn_msgpack_rd_uint(v, CTX, names[idx], UINT64_MAX, &p->view_version, st);
    case P_VHASH: return cairn_msgpack_rd_uint(v, CTX, names[idx], UINT64_MAX, &p->view_hash, st);
    case P_PEER: return rd_fixed(v, names[idx], p->peer_address, sizeof p->peer_address, st);
    case P_RAFT: return rd_fixed(v, names[idx], p->raft_address, sizeof p->raft_address, st);
    case P_FRESH: return cairn_msgpack_rd_bool(v, CTX, names[idx], &p->store_fresh, st);
    case P_RINIT: return cairn_msgpack_rd_bool(v, CTX, names[idx], &p->raft.initialized, st);
    case P_RROLE: return rd_fixed(v, names[idx], p->raft.role, sizeof p->raft.role, st);
    case P_RTERM: return cairn_msgpack_rd_uint(v, CTX, names[idx], UINT64_MAX, &p->raft.term, st);
    case P_RLEAD: return rd_fixed(v, names[idx], p->raft.leader, sizeof p->raft.leader, st);
    case P_RCOMMIT:
        return cairn_msgpack_rd_uint(v, CTX, names[idx], UINT64_MAX, &p->raft.commit, st);
    case P_RAPPLIED:
        return cairn_msgpack_rd_uint(v, CTX, names[idx], UINT64_MAX, &p->raft.applied, st);
    }
    return CAIRN_OK;
}

cairn_err cairn_peer_ping_decode(const char *buf, size_t len, cairn_peer_ping *p,
                                 cairn_status *st)
{
    memset(p, 0, sizeof *p);
    uint64_t seen;
    cairn_err err = cairn_msgpack_decode_map(buf, len, CTX, names, P__COUNT, ping_field, p, &seen,
                                             st);
    uint64_t required = (1u << P_PHASE) | (1u << P_MHASH) | (1u << P_PEER) | (1u << P_RAFT);
    if (err == CAIRN_OK && (seen & required) != required)
        err = cairn_fail(st, CAIRN_E_DECODE, CTX ": a required field is missing");
    if (err == CAIRN_OK && !p->raft.role[0])
        strcpy(p->raft.role, "none");
    if (err != CAIRN_OK)
        memset(p, 0, sizeof *p);
    return err;
}
