/* Following the replicator's MEMBERSHIP (cairn_members_follow.h). */
#include "cairn_members_follow.h"

#include <limits.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "cairn_rpc.h"
#include "cairn_sub.h"

#define MEMBERS_GET_TIMEOUT_MS 1000
#define RECV_TIMEOUT_MS 200 /* how often the thread looks at its stop flag */

struct cairn_members_follower {
    cairn_sub sub;
    bool sub_open;
    cairn_rpc_client *replicator;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool ask; /* the PUB connection came up: ask MEMBERS_GET */
    cairn_members_fn fn;
    void *arg;
};

static void deliver(cairn_members_follower *f, const char *buf, size_t len)
{
    cairn_membership m;
    cairn_status st;
    if (cairn_membership_decode(buf, len, &m, &st) != CAIRN_OK) {
        log_warn("membership from the replicator refused: %s", st.message);
        return;
    }
    f->fn(f->arg, &m, buf, len);
    cairn_membership_free(&m);
}

static void ask(cairn_members_follower *f)
{
    cairn_request rq;
    cairn_request_members_get(&rq);
    cairn_reply rep;
    cairn_status st;
    cairn_err rc = cairn_rpc_call(f->replicator, &rq, &rep, &st);
    if (rc == CAIRN_OK && rep.code == CAIRN_OK && rep.membership_msg)
        deliver(f, rep.membership_msg, rep.membership_len);
    else
        atomic_store(&f->ask, true); /* again on the next turn */
    cairn_reply_free(&rep);
}

static void *follow(void *arg)
{
    cairn_members_follower *f = arg;
    while (!atomic_load(&f->stop)) {
        if (atomic_exchange(&f->ask, false))
            ask(f);
        void *buf = NULL;
        size_t len = 0;
        int rv = nng_recv(f->sub.sock, &buf, &len, NNG_FLAG_ALLOC);
        if (rv == NNG_ECLOSED)
            break;
        if (rv == 0) {
            deliver(f, buf, len);
            nng_free(buf, len);
        }
    }
    return NULL;
}

static void on_pipe(void *arg, bool connected)
{
    if (connected)
        atomic_store(&((cairn_members_follower *)arg)->ask, true);
}

cairn_members_follower *cairn_members_follow_start(const char *run_dir, cairn_members_fn fn,
                                                   void *arg, cairn_status *st)
{
    cairn_status_clear(st);
    cairn_members_follower *f = calloc(1, sizeof *f);
    if (!f) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    f->fn = fn;
    f->arg = arg;
    char url[PATH_MAX + 64];
    if (cairn_endpoint_url(run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   run_dir);
        goto fail;
    }
    if (!(f->replicator = cairn_rpc_client_open(url, "replicator", MEMBERS_GET_TIMEOUT_MS, st)))
        goto fail;
    if (cairn_endpoint_url(run_dir, CAIRN_EP_REPLICATOR_EVENTS, url, sizeof url) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   run_dir);
        goto fail;
    }
    if (cairn_sub_open(&f->sub, url, CAIRN_MEMBERSHIP_MAX_BYTES, RECV_TIMEOUT_MS, on_pipe, f,
                       st) != CAIRN_OK)
        goto fail;
    f->sub_open = true;
    atomic_store(&f->ask, true);
    if (pthread_create(&f->thread, NULL, follow, f) != 0) {
        cairn_fail(st, CAIRN_E_INTERNAL, "cannot start the membership thread");
        goto fail;
    }
    f->thread_started = true;
    return f;
fail:
    cairn_members_follow_stop(f);
    return NULL;
}

void cairn_members_follow_stop(cairn_members_follower *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, true);
    if (f->sub_open)
        cairn_sub_close(&f->sub);
    if (f->thread_started)
        pthread_join(f->thread, NULL);
    if (f->replicator)
        cairn_rpc_client_close(f->replicator);
    free(f);
}
