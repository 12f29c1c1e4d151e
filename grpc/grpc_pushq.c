/* A connection's pushes awaiting send or ack (grpc_pushq.h). */
#include "grpc_pushq.h"

#include <stdlib.h>
#include <string.h>

void grpc_pushq_init(grpc_pushq *q, size_t max)
{
    memset(q, 0, sizeof *q);
    q->max = max;
}

static void push_free(grpc_push *p)
{
    free(p->ns);
    free(p->svc);
    free(p->clusters);
    free(p->info);
}

void grpc_pushq_free(grpc_pushq *q)
{
    for (size_t i = 0; i < q->count; i++)
        push_free(&q->items[i]);
    free(q->items);
    memset(q, 0, sizeof *q);
}

static grpc_push *find(grpc_pushq *q, const char *ns, const char *svc, const char *clusters)
{
    for (size_t i = 0; i < q->count; i++) {
        grpc_push *p = &q->items[i];
        if (!strcmp(p->svc, svc) && !strcmp(p->ns, ns) && !strcmp(p->clusters, clusters))
            return p;
    }
    return NULL;
}

static void remove_at(grpc_pushq *q, size_t i)
{
    push_free(&q->items[i]);
    q->items[i] = q->items[--q->count];
}

static grpc_push *add(grpc_pushq *q, const char *ns, const char *svc, const char *clusters)
{
    if (q->count == q->alloc) {
        size_t n = q->alloc ? 2 * q->alloc : 8;
        grpc_push *grown = realloc(q->items, n * sizeof *grown);
        if (!grown)
            return NULL;
        q->items = grown;
        q->alloc = n;
    }
    grpc_push *p = &q->items[q->count];
    memset(p, 0, sizeof *p);
    p->ns = strdup(ns);
    p->svc = strdup(svc);
    p->clusters = strdup(clusters);
    if (!p->ns || !p->svc || !p->clusters) {
        push_free(p);
        return NULL;
    }
    q->count++;
    return p;
}

int grpc_pushq_offer(grpc_pushq *q, const char *ns, const char *svc, const char *clusters,
                     char *info, int64_t now)
{
    grpc_push *p = find(q, ns, svc, clusters);
    if (!p && q->count >= q->max) {
        free(info);
        return 1;
    }
    if (!p && !(p = add(q, ns, svc, clusters))) {
        free(info);
        return -1;
    }
    free(p->info);
    p->info = info;
    p->dirty = true;
    (void)now; /* newer data goes at once, even while an older push awaits its ack */
    p->not_before = 0;
    return 0;
}

grpc_push *grpc_pushq_next(grpc_pushq *q, int64_t now)
{
    for (size_t i = 0; i < q->count; i++)
        if (q->items[i].dirty && now >= q->items[i].not_before)
            return &q->items[i];
    return NULL;
}

void grpc_pushq_sent(grpc_push *p, uint64_t id, int64_t now, int64_t ack_timeout)
{
    p->dirty = false;
    p->sent_id = id;
    p->ack_deadline = now + ack_timeout;
}

bool grpc_pushq_ack(grpc_pushq *q, uint64_t id, bool ok, int64_t now, int64_t retry_delay)
{
    for (size_t i = 0; id && i < q->count; i++) {
        grpc_push *p = &q->items[i];
        if (p->sent_id != id)
            continue;
        p->sent_id = 0;
        if (ok && !p->dirty) {
            remove_at(q, i); /* delivered, and nothing newer waits */
        } else if (!ok) {
            p->dirty = true;
            p->not_before = now + retry_delay;
        }
        return true;
    }
    return false;
}

size_t grpc_pushq_expire(grpc_pushq *q, int64_t now, int64_t retry_delay)
{
    size_t n = 0;
    for (size_t i = 0; i < q->count; i++) {
        grpc_push *p = &q->items[i];
        if (p->sent_id && now >= p->ack_deadline) {
            p->sent_id = 0;
            if (!p->dirty) {
                p->dirty = true;
                p->not_before = now + retry_delay;
            }
            n++;
        }
    }
    return n;
}

void grpc_pushq_forget(grpc_pushq *q, const char *ns, const char *svc, const char *clusters)
{
    grpc_push *p = find(q, ns, svc, clusters);
    if (p)
        remove_at(q, (size_t)(p - q->items));
}

int64_t grpc_pushq_due(const grpc_pushq *q)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < q->count; i++) {
        const grpc_push *p = &q->items[i];
        int64_t t = p->sent_id ? p->ack_deadline : p->dirty ? p->not_before : INT64_MAX;
        if (p->dirty && p->sent_id && p->not_before < t)
            t = p->not_before;
        if (t < due)
            due = t;
    }
    return due;
}
