/* A bounded queue of copied requests and the threads that run their (blocking) handlers. */
#include "gateway_offload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_reply.h"

typedef struct offload_job {
    struct offload_job *next;
    gateway_handler_fn fn;
    gateway_deferred *deferred;
    char *method, *path, *user_agent, *peer_ip, *authorization;
    gateway_params params;
} offload_job;

struct gateway_offload {
    gateway *gw;
    pthread_mutex_t lock;
    pthread_cond_t work;
    offload_job *head, *tail;
    size_t queued;
    bool stopping;
    size_t started;
    pthread_t threads[GATEWAY_OFFLOAD_THREADS];
};

static void job_free(offload_job *j)
{
    free(j->method), free(j->path), free(j->user_agent), free(j->peer_ip);
    free(j->authorization);
    gateway_params_free(&j->params);
    free(j);
}

static offload_job *job_copy(gateway_handler_fn fn, const gateway_request *req)
{
    offload_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->fn = fn;
    j->method = strdup(req->method);
    j->path = strdup(req->path);
    j->user_agent = strdup(req->user_agent);
    j->peer_ip = strdup(req->peer_ip);
    j->authorization = strdup(req->authorization ? req->authorization : "");
    bool params = gateway_params_copy(&j->params, req->params);
    if (!params)
        gateway_params_init(&j->params, 0, 0);
    if (!params || !j->method || !j->path || !j->user_agent || !j->peer_ip ||
        !j->authorization) {
        job_free(j);
        return NULL;
    }
    return j;
}

static void run(gateway_offload *o, offload_job *j)
{
    gateway_request req = {
        .method = j->method,
        .path = j->path,
        .user_agent = j->user_agent,
        .peer_ip = j->peer_ip,
        .authorization = j->authorization,
        .params = &j->params,
        .state = j->deferred,
    };
    gateway_response resp = {0};
    j->fn(o->gw, &req, &resp);
    /* A handler that handed the request on as a job (gateway_job.h) left resp unset: the job
     * answers it. */
    if (resp.status != 0)
        gateway_deferred_answer(j->deferred, &resp);
    job_free(j);
}

static void *worker(void *arg)
{
    gateway_offload *o = arg;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        while (!o->head && !o->stopping)
            pthread_cond_wait(&o->work, &o->lock);
        offload_job *j = o->head;
        if (!j)
            break; /* stopping, and nothing left */
        o->head = j->next;
        if (!o->head)
            o->tail = NULL;
        o->queued--;
        pthread_mutex_unlock(&o->lock);
        run(o, j);
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

gateway_offload *gateway_offload_start(gateway *gw, cairn_status *st)
{
    gateway_offload *o = calloc(1, sizeof *o);
    if (!o) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    o->gw = gw;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->work, NULL);
    for (; o->started < GATEWAY_OFFLOAD_THREADS; o->started++)
        if (pthread_create(&o->threads[o->started], NULL, worker, o) != 0) {
            cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the gateway's offload threads");
            gateway_offload_stop(o);
            return NULL;
        }
    return o;
}

void gateway_offload_run(gateway_offload *o, gateway_handler_fn fn, gateway_request *req,
                         gateway_response *resp)
{
    pthread_mutex_lock(&o->lock);
    bool full = o->queued >= GATEWAY_OFFLOAD_QUEUE_MAX || o->stopping;
    pthread_mutex_unlock(&o->lock);
    offload_job *j = full ? NULL : job_copy(fn, req);
    if (!j) {
        gateway_reply_text(resp, 503, "server is busy: too many requests of this kind in "
                                      "progress; try again");
        return;
    }
    j->deferred = gateway_request_defer(req);
    pthread_mutex_lock(&o->lock);
    if (o->tail)
        o->tail->next = j;
    else
        o->head = j;
    o->tail = j;
    o->queued++;
    pthread_cond_signal(&o->work);
    pthread_mutex_unlock(&o->lock);
}

void gateway_offload_stop(gateway_offload *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_broadcast(&o->work);
    pthread_mutex_unlock(&o->lock);
    for (size_t i = 0; i < o->started; i++)
        pthread_join(o->threads[i], NULL);
    pthread_cond_destroy(&o->work);
    pthread_mutex_destroy(&o->lock);
    free(o);
}
