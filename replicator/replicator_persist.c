/* The raft FSM's batches to the registry (replicator_persist.h). */
#include "replicator_persist.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "cairn_requests.h"
#include "cairn_rpc.h"
#include "replicator.h"

#define PERSIST_TIMEOUT_MS 5000
#define PERSIST_RETRY_MS 500

/* Batches queued behind the one in flight are merged into one PERSIST_APPLY up to this size
 * (the records' values and names; the rpc limit is 16 MiB): the registry syncs once per
 * request, so under load one sync covers every entry committed during the previous one. */
#define PERSIST_MERGE_BYTES (4u << 20)

typedef struct queued {
    struct queued *next;
    cairn_request rq;
    size_t bytes; /* the records' values and names, for PERSIST_MERGE_BYTES */
} queued;

struct repl_persist {
    replicator *r;
    cairn_rpc_client *client;
    queued *head, *tail;
    bool in_flight;
    bool stopped;
    uv_timer_t retry;
    repl_persist_stats stats;
    uint64_t applied; /* the registry's watermark as its replies said it */
    repl_persist_applied_fn on_applied;
    void *on_applied_arg;
};

static cairn_err record_of(const cairn_raft_record *in, cairn_persist_record *out,
                           cairn_status *st)
{
    memset(out, 0, sizeof *out);
    cairn_service_init(&out->service_def);
    cairn_instance_init(&out->instance);
    out->op = in->op == CAIRN_RAFT_PUT ? CAIRN_PERSIST_PUT : CAIRN_PERSIST_DEL;
    out->kind = in->kind == CAIRN_RAFT_SERVICE ? CAIRN_PERSIST_SERVICE : CAIRN_PERSIST_INSTANCE;
    out->namespace_id = strdup(in->ns ? in->ns : "");
    out->service = strdup(in->service ? in->service : "");
    if (!out->namespace_id || !out->service)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (out->kind == CAIRN_PERSIST_SERVICE && out->op == CAIRN_PERSIST_DEL)
        return CAIRN_OK; /* no value */
    out->has_value = true;
    if (out->kind == CAIRN_PERSIST_SERVICE) {
        cairn_service_free(&out->service_def);
        return cairn_service_decode(in->value, in->value_len, &out->service_def, st);
    }
    cairn_instance_free(&out->instance);
    return cairn_instance_decode(in->value, in->value_len, &out->instance, st);
}

cairn_err repl_persist_request(const cairn_raft_batch *b, cairn_request *rq, cairn_status *st)
{
    cairn_persist_record *recs = b->count ? calloc(b->count, sizeof *recs) : NULL;
    cairn_err err = CAIRN_OK;
    if (b->count && !recs)
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    for (size_t i = 0; err == CAIRN_OK && i < b->count; i++)
        err = record_of(&b->records[i], &recs[i], st);
    if (err != CAIRN_OK) {
        for (size_t i = 0; recs && i < b->count; i++)
            cairn_persist_record_free(&recs[i]);
        free(recs);
        recs = NULL;
    }
    uint32_t n = recs ? (uint32_t)b->count : 0;
    cairn_status bst;
    cairn_err berr = b->replace ? cairn_request_persist_replace(rq, b->last, recs, n, &bst)
                                : cairn_request_persist_apply(rq, b->first, b->last, recs, n,
                                                              &bst);
    if (err == CAIRN_OK && berr != CAIRN_OK) {
        *st = bst;
        err = berr;
    }
    return err;
}

static void send_head(repl_persist *p);

typedef struct reply_note {
    repl_persist *p;
    cairn_err rc;
    uint64_t watermark; /* the reply's raft_applied */
    char message[256];
} reply_note;

/* The registry has applied up to w (its reply said so): waiters may go on. */
static void advance(repl_persist *p, uint64_t w)
{
    if (w <= p->applied)
        return;
    p->applied = w;
    if (p->on_applied)
        p->on_applied(p->on_applied_arg, w);
}

bool repl_persist_idle(const repl_persist *p)
{
    return !p->head && !p->in_flight;
}

static void pop_head(repl_persist *p)
{
    queued *q = p->head;
    p->head = q->next;
    if (!p->head)
        p->tail = NULL;
    cairn_request_free(&q->rq);
    free(q);
}

static void on_retry(uv_timer_t *t)
{
    send_head(t->data);
}

static void on_reply_loop(replicator *r, void *arg)
{
    reply_note *n = arg;
    repl_persist *p = n->p;
    if (r->closed || p->stopped) {
        free(n);
        return;
    }
    p->in_flight = false;
    if (n->rc == CAIRN_E_UNAVAILABLE) { /* not answered: the same request again, later */
        p->stats.resent++;
        uv_timer_start(&p->retry, on_retry, PERSIST_RETRY_MS, 0);
        free(n);
        return;
    }
    if (n->rc == CAIRN_OK) {
        p->stats.sent_ok++;
        /* a batch at or below the watermark is skipped: the reply's watermark is above it */
        advance(p, n->watermark > p->head->rq.last ? n->watermark : p->head->rq.last);
    } else {
        p->stats.dropped++;
        log_error("registry refused %s %llu..%llu: %s",
                  cairn_msg_type_name(p->head->rq.type), (unsigned long long)p->head->rq.first,
                  (unsigned long long)p->head->rq.last, n->message);
    }
    pop_head(p);
    free(n);
    send_head(p);
}

static void on_reply(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    repl_persist *p = arg;
    reply_note *n = calloc(1, sizeof *n);
    if (n) {
        n->p = p;
        n->rc = rc != CAIRN_OK ? rc : (cairn_err)rep->code;
        n->watermark = rc == CAIRN_OK ? rep->raft_applied : 0;
        snprintf(n->message, sizeof n->message, "%.200s",
                 rc != CAIRN_OK ? st->message : (rep->message ? rep->message : ""));
        replicator_post(p->r, on_reply_loop, n);
    }
    cairn_reply_free(rep);
}

static void send_head(repl_persist *p)
{
    if (p->in_flight || !p->head || p->stopped)
        return;
    p->in_flight = true;
    cairn_rpc_call_async(p->client, &p->head->rq, on_reply, p);
}

static size_t batch_bytes(const cairn_raft_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->count; i++) {
        const cairn_raft_record *r = &b->records[i];
        n += r->value_len + (r->ns ? strlen(r->ns) : 0) + (r->service ? strlen(r->service) : 0) +
             16;
    }
    return n;
}

bool repl_persist_merge(cairn_request *into, cairn_request *from)
{
    if (into->type != CAIRN_MSG_PERSIST_APPLY || from->type != CAIRN_MSG_PERSIST_APPLY ||
        from->first <= into->last)
        return false;
    uint32_t n = into->record_count, m = from->record_count;
    if (m) {
        cairn_persist_record *recs = realloc(into->records, (size_t)(n + m) * sizeof *recs);
        if (!recs)
            return false;
        memcpy(recs + n, from->records, (size_t)m * sizeof *recs);
        into->records = recs;
        into->record_count = n + m;
        from->record_count = 0; /* moved: from keeps only its (now empty) array */
    }
    into->last = from->last;
    return true;
}

/* q onto the tail, when the tail has never been sent (the head may have been: a resend must
 * carry the same range, so that a registry that applied it already skips it by its watermark)
 * and the merged request stays under PERSIST_MERGE_BYTES. true: q is merged. */
static bool merge_into_tail(repl_persist *p, queued *q)
{
    queued *t = p->tail;
    if (!t || t == p->head || t->bytes + q->bytes > PERSIST_MERGE_BYTES ||
        !repl_persist_merge(&t->rq, &q->rq))
        return false;
    t->bytes += q->bytes;
    p->stats.merged++;
    return true;
}

void repl_persist_emit(void *arg, cairn_raft_batch *batch)
{
    repl_persist *p = arg;
    queued *q = calloc(1, sizeof *q);
    cairn_status st;
    if (q)
        q->bytes = batch_bytes(batch);
    if (!q || repl_persist_request(batch, &q->rq, &st) != CAIRN_OK) {
        log_error("raft batch %llu..%llu not handed to the registry: %s",
                  (unsigned long long)batch->first, (unsigned long long)batch->last,
                  q ? st.message : "out of memory");
        if (q)
            cairn_request_free(&q->rq);
        free(q);
        return;
    }
    p->stats.queued++;
    if (merge_into_tail(p, q)) {
        cairn_request_free(&q->rq);
        free(q);
        return;
    }
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    send_head(p);
}

repl_persist *repl_persist_new(replicator *r, cairn_status *st)
{
    char url[256];
    if (cairn_endpoint_url(r->role->run_dir, CAIRN_EP_REGISTRY_COMMANDS, url, sizeof url) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   r->role->run_dir);
        return NULL;
    }
    repl_persist *p = calloc(1, sizeof *p);
    if (!p) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    p->r = r;
    if (!(p->client = cairn_rpc_client_open(url, "registry", PERSIST_TIMEOUT_MS, st))) {
        free(p);
        return NULL;
    }
    uv_timer_init(replicator_loop_uv(r), &p->retry);
    p->retry.data = p;
    return p;
}

repl_persist_stats repl_persist_stats_get(const repl_persist *p)
{
    return p->stats;
}

uint64_t repl_persist_applied(const repl_persist *p)
{
    return p ? p->applied : 0;
}

void repl_persist_on_applied(repl_persist *p, repl_persist_applied_fn fn, void *arg)
{
    p->on_applied = fn;
    p->on_applied_arg = arg;
}

void repl_persist_stop(repl_persist *p)
{
    if (!p || p->stopped)
        return;
    p->stopped = true;
    uv_close((uv_handle_t *)&p->retry, NULL);
}

void repl_persist_free(repl_persist *p)
{
    if (!p)
        return;
    cairn_rpc_client_close(p->client); /* waits for the callbacks; their posts only free */
    while (p->head)
        pop_head(p);
    free(p);
}
