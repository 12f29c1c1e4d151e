/* Forwarding to the owner through the local replicator (gateway_forward.h). */
#include "gateway_forward.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_cluster_config.h"
#include "cairn_endpoints.h"
#include "cairn_forward.h"
#include "gateway.h"

/* The replicator answers at the deadline; the gateway's own timeout only covers a replicator
 * that does not answer at all, a little later. */
#define LOCAL_SLACK_MS 250

struct gateway_forward {
    cairn_rpc_client *replicator;
    int timeout_ms; /* cluster.forward_timeout_ms */
    cairn_counter *sent, *failed;
};

typedef struct forward_call {
    gateway_forward *fw;
    cairn_rpc_done done;
    void *arg;
    char owner[CAIRN_CLUSTER_ID_MAX];
} forward_call;

gateway_forward *gateway_forward_open(const cairn_config *cfg, const char *run_dir,
                                      cairn_metrics *metrics, cairn_status *st)
{
    gateway_forward *fw = calloc(1, sizeof *fw);
    if (!fw) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    fw->timeout_ms = (int)cairn_config_int(cfg, "cluster.forward_timeout_ms");
    char url[PATH_MAX + 64];
    if (cairn_endpoint_url(run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url) != 0) {
        cairn_fail(st, CAIRN_E_INVALID, "node.run_dir is too long for an ipc socket path: %s",
                   run_dir);
        free(fw);
        return NULL;
    }
    fw->replicator =
        cairn_rpc_client_open(url, "replicator", fw->timeout_ms + LOCAL_SLACK_MS, st);
    if (!fw->replicator) {
        free(fw);
        return NULL;
    }
    fw->sent = cairn_metrics_counter(metrics, "forwards_total",
                                     "Writes and beats sent to their service's owner.", NULL);
    fw->failed = cairn_metrics_counter(metrics, "forward_failures_total",
                                       "Forwarded writes answered 503 (owner or replicator "
                                       "unavailable).",
                                       NULL);
    return fw;
}

void gateway_forward_close(gateway_forward *fw)
{
    if (!fw)
        return;
    cairn_rpc_client_close(fw->replicator);
    free(fw);
}

/* The replicator's answer: the owner's reply, or an unavailability that names the owner. */
static void on_done(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    forward_call *c = arg;
    /* a failure without a reply code: the local replicator did not answer (one with a code is
     * the owner's own answer, passed on as it is) */
    if (rc != CAIRN_OK && rep->code == CAIRN_OK) {
        char why[sizeof st->message];
        snprintf(why, sizeof why, "%s", st->message);
        rc = cairn_fail(st, CAIRN_E_UNAVAILABLE, "owner %s unavailable: %s", c->owner, why);
    }
    if (rc != CAIRN_OK || rep->code == CAIRN_E_UNAVAILABLE)
        cairn_counter_inc(c->fw->failed);
    c->done(c->arg, rc, rep, st);
    free(c);
}

void gateway_forward_call(gateway_forward *fw, const cairn_request *inner, const char *owner,
                          cairn_rpc_done done, void *arg)
{
    cairn_status st;
    cairn_request rq;
    forward_call *c = calloc(1, sizeof *c);
    if (!c || cairn_request_forward(&rq, inner, owner, gateway_now_ms() + fw->timeout_ms, &st) !=
                  CAIRN_OK) {
        free(c);
        cairn_fail(&st, CAIRN_E_NOMEM, "out of memory forwarding to %s", owner);
        cairn_reply rep;
        cairn_reply_init(&rep);
        done(arg, CAIRN_E_NOMEM, &rep, &st);
        cairn_reply_free(&rep);
        return;
    }
    c->fw = fw;
    c->done = done;
    c->arg = arg;
    snprintf(c->owner, sizeof c->owner, "%s", owner);
    cairn_counter_inc(fw->sent);
    cairn_rpc_call_async(fw->replicator, &rq, on_done, c);
    cairn_request_free(&rq);
}
