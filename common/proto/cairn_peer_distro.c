/* DISTRO_SYNC and DISTRO_SYNC_ACK bodies (cairn_peer_distro.h). */
#include "cairn_peer_distro.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msgpack_codec.h"

cairn_err cairn_peer_sync_encode(const cairn_distro_state *states, uint32_t n, char **out,
                                 size_t *out_len)
{
    if (n == 0 || n > CAIRN_DISTRO_MAX_STATES)
        return CAIRN_E_INVALID;
    cairn_request req;
    cairn_request_init(&req, CAIRN_MSG_DISTRO_APPLY);
    req.states = (cairn_distro_state *)states; /* borrowed: not freed here */
    req.state_count = n;
    req.mode = CAIRN_DISTRO_OWNER;
    return cairn_request_encode(&req, out, out_len);
}

cairn_err cairn_peer_sync_decode(const char *buf, size_t len, cairn_request *req,
                                 cairn_status *st)
{
    cairn_request_init(req, CAIRN_MSG_DISTRO_APPLY);
    if (cairn_request_decode(buf, len, req, st) != CAIRN_OK)
        return st->code;
    if (req->type != CAIRN_MSG_DISTRO_APPLY)
        return cairn_fail(st, CAIRN_E_DECODE, "distro sync: the body is a %s, not DISTRO_APPLY",
                          cairn_msg_type_name(req->type));
    if (req->state_count == 0 || req->state_count > CAIRN_DISTRO_MAX_STATES)
        return cairn_fail(st, CAIRN_E_DECODE, "distro sync: %u states (1..%d allowed)",
                          req->state_count, CAIRN_DISTRO_MAX_STATES);
    if (req->load_id != 0)
        return cairn_fail(st, CAIRN_E_DECODE, "distro sync: a load_id belongs to a load");
    for (uint32_t i = 0; i < req->state_count; i++)
        if (req->states[i].version.epoch == 0)
            return cairn_fail(st, CAIRN_E_DECODE, "distro sync: state %u has no version", i);
    return CAIRN_OK;
}

#define pk_s cairn_msgpack_pack_str

cairn_err cairn_peer_sync_ack_encode(const cairn_peer_sync_ack *a, char **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 4) || pk_s(&pk, "code") || msgpack_pack_uint32(&pk, a->code) ||
        pk_s(&pk, "applied") || msgpack_pack_uint32(&pk, a->applied) || pk_s(&pk, "stale") ||
        msgpack_pack_uint32(&pk, a->stale) || pk_s(&pk, "rejected") ||
        msgpack_pack_uint32(&pk, a->rejected)) {
        msgpack_sbuffer_destroy(&sb);
        return CAIRN_E_NOMEM;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return CAIRN_OK;
}

enum { A_CODE, A_APPLIED, A_STALE, A_REJECTED, A__COUNT };
static const char *const ack_names[A__COUNT] = {"code", "applied", "stale", "rejected"};

static cairn_err ack_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    cairn_peer_sync_ack *a = target;
    uint32_t *dst[A__COUNT] = {&a->code, &a->applied, &a->stale, &a->rejected};
    uint64_t u = 0;
    cairn_err err = cairn_msgpack_rd_uint(v, "distro sync ack", ack_names[idx],
                                          idx == A_CODE ? 255 : CAIRN_DISTRO_MAX_STATES, &u, st);
    *dst[idx] = (uint32_t)u;
    return err;
}

cairn_err cairn_peer_sync_ack_decode(const char *buf, size_t len, cairn_peer_sync_ack *a,
                                     cairn_status *st)
{
    memset(a, 0, sizeof *a);
    uint64_t seen;
    cairn_err err = cairn_msgpack_decode_map(buf, len, "distro sync ack", ack_names, A__COUNT,
                                             ack_field, a, &seen, st);
    if (err == CAIRN_OK && (seen & 1u) == 0)
        err = cairn_fail(st, CAIRN_E_DECODE, "distro sync ack: the code is missing");
    if (err != CAIRN_OK)
        memset(a, 0, sizeof *a);
    return err;
}
