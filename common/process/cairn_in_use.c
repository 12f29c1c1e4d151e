/* Reports of services in use (cairn_in_use.h). */
#include "cairn_in_use.h"

#include "cairn_log.h"
#include "cairn_requests.h"
#include "cairn_write_rules.h"

int64_t cairn_in_use_period_ms(const cairn_config *cfg)
{
    int64_t p = cairn_config_int(cfg, "registry.empty_service_clean_after_ms") / 3;
    return p > 0 ? p : 1;
}

void cairn_in_use_metrics_init(cairn_in_use_metrics *im, cairn_metrics *m)
{
    static const char help[] =
        "Reports to the registry of the services that have subscribers here (SERVICES_IN_USE, "
        "which keep them from the empty-service sweep), by result; failed: not answered or "
        "refused.";
    im->ok = m ? cairn_metrics_counter(m, "in_use_reports_total", help, "result=\"ok\"") : NULL;
    im->failed =
        m ? cairn_metrics_counter(m, "in_use_reports_total", help, "result=\"failed\"") : NULL;
}

/* nng thread (or the caller's, when the call fails at once): count the outcome. */
static void on_reply(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    cairn_in_use_metrics *im = arg;
    bool ok = rc == CAIRN_OK && rep->code == CAIRN_OK;
    if (!ok)
        log_debug("a report of services in use failed: %s",
                  rc != CAIRN_OK ? st->message : rep->message ? rep->message : "?");
    if (im)
        cairn_counter_inc(ok ? im->ok : im->failed);
}

/* One request of the n services. */
static void send_one(cairn_rpc_client *registry, const char *const *ns, const char *const *svc,
                     uint32_t n, cairn_in_use_metrics *im)
{
    cairn_request rq;
    cairn_status st;
    if (cairn_request_services_in_use(&rq, ns, svc, n, &st) == CAIRN_OK)
        cairn_rpc_call_async(registry, &rq, on_reply, im); /* encoded before it returns */
    else if (im)
        cairn_counter_inc(im->failed);
    cairn_request_free(&rq);
}

void cairn_in_use_send(cairn_rpc_client *registry, const char *const *ns, const char *const *svc,
                       size_t count, cairn_in_use_metrics *im)
{
    const char *part_ns[CAIRN_IN_USE_MAX_SERVICES], *part_svc[CAIRN_IN_USE_MAX_SERVICES];
    uint32_t n = 0;
    for (size_t i = 0; i < count; i++) {
        /* The registry refuses a report with a name it could never hold as a service (a list of
         * "@@x" subscribes too): such a name needs no keeping, and would cost the others. */
        cairn_status st;
        if (cairn_check_service_name(ns[i], svc[i], &st) != CAIRN_OK)
            continue;
        part_ns[n] = ns[i];
        part_svc[n++] = svc[i];
        if (n == CAIRN_IN_USE_MAX_SERVICES) {
            send_one(registry, part_ns, part_svc, n, im);
            n = 0;
        }
    }
    if (n > 0)
        send_one(registry, part_ns, part_svc, n, im);
}
