/* The gateway's PUB socket of push subscriptions. */
#include "gateway_push.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdlib.h>

#include "cairn_log.h"
#include "cairn_msg.h"

struct gateway_push {
    nng_socket sock;
    bool trust_client_ip;
    cairn_counter *published;
    cairn_counter *failed;
};

gateway_push *gateway_push_open(const char *url, bool trust_client_ip, cairn_metrics *metrics,
                                cairn_status *st)
{
    gateway_push *p = calloc(1, sizeof *p);
    if (!p) {
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    p->trust_client_ip = trust_client_ip;
    if (metrics) {
        static const char help[] = "Push subscriptions published to the pushers, by result.";
        p->published = cairn_metrics_counter(metrics, "push_subscriptions_total", help,
                                             "result=\"published\"");
        p->failed = cairn_metrics_counter(metrics, "push_subscriptions_total", help,
                                          "result=\"failed\"");
    }
    int rc = nng_pub0_open(&p->sock);
    if (rc) {
        cairn_fail(st, CAIRN_E_INTERNAL, "open the push subscription socket: %s",
                   nng_strerror(rc));
        free(p);
        return NULL;
    }
    if ((rc = nng_listen(p->sock, url, NULL, 0))) {
        cairn_fail(st, CAIRN_E_UNAVAILABLE, "listen for pushers on %s: %s", url,
                   nng_strerror(rc));
        nng_close(p->sock);
        free(p);
        return NULL;
    }
    return p;
}

void gateway_push_close(gateway_push *p)
{
    if (!p)
        return;
    nng_close(p->sock);
    free(p);
}

static bool numeric_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

const char *gateway_push_destination(const gateway_push *p, const char *peer_ip,
                                     const char *client_ip)
{
    /* By default a push never goes to an address the requester did not prove it owns (the TCP
     * handshake does): a forged clientIP would otherwise turn pushes into a reflection attack. */
    if (p->trust_client_ip && numeric_ip(client_ip))
        return client_ip;
    return peer_ip && peer_ip[0] ? peer_ip : NULL;
}

static void count(cairn_counter *c)
{
    if (c)
        cairn_counter_inc(c);
}

bool gateway_push_subscribe(gateway_push *p, const char *ns, const char *service,
                            const char *clusters, const char *ip, int32_t udp_port,
                            const char *agent, int64_t at_ms)
{
    cairn_subscription sub = {
        .namespace_id = (char *)ns,
        .service = (char *)service,
        .clusters = (char *)(clusters ? clusters : ""),
        .ip = (char *)ip,
        .port = udp_port,
        .agent = (char *)(agent ? agent : ""),
        .at_ms = at_ms,
    };
    char *buf = NULL;
    size_t len = 0;
    if (cairn_subscription_encode(&sub, &buf, &len) != CAIRN_OK) {
        count(p->failed);
        return false;
    }
    /* PUB sends never block: with no pusher connected, or one that is behind, nng drops. */
    int rc = nng_send(p->sock, buf, len, NNG_FLAG_NONBLOCK);
    free(buf);
    if (rc) {
        count(p->failed);
        log_debug("publish the push subscription of %s: %s", service, nng_strerror(rc));
        return false;
    }
    count(p->published);
    return true;
}
