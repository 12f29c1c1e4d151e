/* Catching up: the subscription snapshot from the gateway, the push-everything repair after lost
 * events, and the readiness they add up to (pusher.h). Loop thread, except the ready check. */
#include <stdio.h>
#include <stdlib.h>

#include "cairn_java_hash.h"
#include "cairn_log.h"
#include "cairn_requests.h"
#include "pusher.h"

bool pusher_follow_load_subscriptions(pusher *p, int64_t now)
{
    cairn_request rq;
    cairn_reply rep;
    cairn_reply_init(&rep);
    cairn_status st;
    cairn_err err = cairn_request_subscription_snapshot(&rq, p->cfg.index, p->cfg.count, &st);
    if (err == CAIRN_OK)
        err = cairn_rpc_call(p->gateway, &rq, &rep, &st);
    cairn_request_free(&rq);
    if (err != CAIRN_OK) {
        log_debug("subscription snapshot: %s", st.message);
        cairn_reply_free(&rep);
        return false;
    }
    /* Each entry keeps the age it has at the gateway, so it expires when it would have. */
    int64_t wall_now = pusher_wall_us() / 1000;
    size_t added = 0;
    for (uint32_t i = 0; i < rep.subscription_count; i++) {
        const cairn_subscription *sub = &rep.subscriptions[i];
        if (cairn_push_owner(sub->namespace_id, sub->service, p->cfg.count) != p->cfg.index)
            continue; /* the gateway's owner rule is ours; never trust a stray one */
        int64_t age = wall_now > sub->at_ms ? wall_now - sub->at_ms : 0;
        if (pusher_subs_upsert(&p->subs, &p->udp, sub, now - age) == PUSHER_SUB_ADDED)
            added++;
    }
    cairn_follow_synced(&p->sub_follow, rep.revision);
    cairn_counter_add(p->metrics.sub_added, added);
    cairn_gauge_set(p->metrics.subscribers, (double)p->subs.total);
    cairn_gauge_set(p->metrics.services, (double)cairn_hashmap_size(p->subs.services));
    log_info("loaded %u subscription(s) from the gateway (%zu new), sequence %llu",
             rep.subscription_count, added, (unsigned long long)rep.revision);
    cairn_reply_free(&rep);
    return true;
}

void pusher_follow_push_all(pusher *p, int64_t now)
{
    int64_t wall_ms = pusher_wall_us() / 1000;
    size_t n = 0;
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, p->subs.services);
    void *v;
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        pusher_service *svc = v;
        pusher_service_forget(svc); /* events after it may be lost: read it afresh */
        if (svc->count > 0) {
            pusher_push_schedule(p, svc, wall_ms, now);
            n++;
        }
    }
    cairn_counter_inc(p->metrics.event_gaps);
    if (n)
        log_info("change events may have been missed: pushing all %zu subscribed service(s)", n);
}

bool pusher_follow_ready(void *arg, char *detail, size_t detail_len)
{
    pusher *p = arg;
    if (!atomic_load(&p->gateway_up))
        snprintf(detail, detail_len, "not connected to the gateway's subscriptions");
    else if (!atomic_load(&p->registry_up))
        snprintf(detail, detail_len, "not connected to the registry's change events");
    else if (!atomic_load(&p->snapshot_loaded))
        snprintf(detail, detail_len, "loading the gateway's subscriptions");
    else if (!atomic_load(&p->events_synced))
        snprintf(detail, detail_len, "waiting for the registry's next change event or tick");
    else
        return true;
    return false;
}
