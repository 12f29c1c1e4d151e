/* The messages of forwarding to the owner (cairn_forward.h). */
#include "cairn_forward.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msgpack_codec.h"

bool cairn_forward_wanted(const cairn_request *rq)
{
    switch (rq->type) {
    case CAIRN_MSG_BEAT: return rq->service != NULL;
    case CAIRN_MSG_INSTANCE_UPSERT:
    case CAIRN_MSG_INSTANCE_PATCH:
    case CAIRN_MSG_INSTANCE_REMOVE:
        return rq->service != NULL && rq->has_instance && rq->instance.ephemeral;
    case CAIRN_MSG_INSTANCE_SET_OWNED: return rq->service != NULL && rq->owner != NULL;
    case CAIRN_MSG_OWNER_DROP: /* a restarted cairn-grpc's earlier incarnations, at a peer */
        return rq->owner != NULL && strncmp(rq->owner, "grpc/", 5) == 0;
    case CAIRN_MSG_INSTANCE_HEALTH: /* by hand, of the ephemeral instance only */
        return rq->service != NULL && rq->has_instance && rq->instance.ephemeral &&
               rq->mode == CAIRN_HEALTH_MANUAL_KIND;
    default: return false;
    }
}

cairn_err cairn_request_forward(cairn_request *fw, const cairn_request *inner, const char *owner,
                                int64_t deadline_ms, cairn_status *st)
{
    cairn_request_init(fw, CAIRN_MSG_FORWARD);
    fw->deadline_ms = deadline_ms;
    if (!(fw->forward_to = strdup(owner)) ||
        cairn_request_encode(inner, &fw->inner, &fw->inner_len) != CAIRN_OK) {
        cairn_request_free(fw);
        return cairn_fail(st, CAIRN_E_NOMEM, "cannot encode the forwarded request");
    }
    return CAIRN_OK;
}

cairn_err cairn_peer_forward_encode(const char *inner_buf, size_t inner_len, uint32_t budget_ms,
                                    char **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    cairn_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 2) || cairn_msgpack_pack_str(&pk, "req") ||
        msgpack_pack_bin(&pk, inner_len) || msgpack_pack_bin_body(&pk, inner_buf, inner_len) ||
        cairn_msgpack_pack_str(&pk, "ms") || msgpack_pack_uint32(&pk, budget_ms)) {
        msgpack_sbuffer_destroy(&sb);
        return CAIRN_E_NOMEM;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return CAIRN_OK;
}

enum { F_REQ, F_MS, F__COUNT };
static const char *const forward_names[F__COUNT] = {"req", "ms"};

typedef struct forward_fields {
    cairn_request *inner;
    uint32_t budget_ms;
} forward_fields;

static cairn_err forward_field(int idx, const msgpack_object *v, void *target, cairn_status *st)
{
    forward_fields *f = target;
    if (idx == F_MS) {
        uint64_t u = 0;
        cairn_err err = cairn_msgpack_rd_uint(v, "forward", "ms", CAIRN_FORWARD_MAX_MS, &u, st);
        f->budget_ms = (uint32_t)u;
        return err;
    }
    if (v->type != MSGPACK_OBJECT_BIN)
        return cairn_fail(st, CAIRN_E_DECODE, "forward: field 'req' has the wrong type");
    return cairn_request_decode(v->via.bin.ptr, v->via.bin.size, f->inner, st);
}

cairn_err cairn_peer_forward_decode(const char *buf, size_t len, cairn_request *inner,
                                    uint32_t *budget_ms, cairn_status *st)
{
    cairn_request_init(inner, CAIRN_MSG_STATS);
    *budget_ms = 0;
    forward_fields f = {inner, 0};
    uint64_t seen;
    cairn_err err = cairn_msgpack_decode_map(buf, len, "forward", forward_names, F__COUNT,
                                             forward_field, &f, &seen, st);
    if (err == CAIRN_OK && seen != 3u)
        err = cairn_fail(st, CAIRN_E_DECODE, "forward: field '%s' is missing",
                         (seen & 1u) ? "ms" : "req");
    if (err == CAIRN_OK && f.budget_ms == 0)
        err = cairn_fail(st, CAIRN_E_DECODE, "forward: no time left (ms 0)");
    if (err == CAIRN_OK && !cairn_forward_wanted(inner))
        err = cairn_fail(st, CAIRN_E_DECODE, "forward: a %s is not forwarded",
                         cairn_msg_type_name(inner->type));
    if (err != CAIRN_OK) {
        cairn_request_free(inner);
        return err;
    }
    *budget_ms = f.budget_ms;
    return CAIRN_OK;
}
