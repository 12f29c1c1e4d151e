/* Record batches for the registry (contract in raft_records.h). */
#include "raft_records.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "raft_state.h"

void cairn_raft_batch_init(cairn_raft_batch *b)
{
    memset(b, 0, sizeof *b);
}

void cairn_raft_batch_free(cairn_raft_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->records[i].ns);
        free(b->records[i].service);
        free(b->records[i].value);
    }
    free(b->records);
    cairn_raft_batch_init(b);
}

static cairn_raft_record *append(cairn_raft_batch *b, cairn_raft_op op, cairn_raft_kind kind,
                                 const char *ns, const char *service)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        cairn_raft_record *grown = realloc(b->records, cap * sizeof *grown);
        if (!grown)
            raft_state_oom();
        b->records = grown;
        b->cap = cap;
    }
    cairn_raft_record *r = &b->records[b->count++];
    memset(r, 0, sizeof *r);
    r->op = op;
    r->kind = kind;
    r->ns = raft_state_strdup(ns);
    r->service = raft_state_strdup(service);
    return r;
}

void cairn_raft_batch_service_put(cairn_raft_batch *b, const cairn_service *def)
{
    cairn_raft_record *r = append(b, CAIRN_RAFT_PUT, CAIRN_RAFT_SERVICE, def->namespace_id,
                                  def->name);
    if (cairn_service_encode(def, &r->value, &r->value_len) != CAIRN_OK)
        raft_state_oom();
}

void cairn_raft_batch_service_del(cairn_raft_batch *b, const char *ns, const char *service)
{
    append(b, CAIRN_RAFT_DEL, CAIRN_RAFT_SERVICE, ns, service);
}

void cairn_raft_batch_instance(cairn_raft_batch *b, cairn_raft_op op, const char *ns,
                               const char *service, const cairn_instance *in)
{
    cairn_raft_record *r = append(b, op, CAIRN_RAFT_INSTANCE, ns, service);
    if (cairn_instance_encode(in, &r->value, &r->value_len) != CAIRN_OK)
        raft_state_oom();
}
