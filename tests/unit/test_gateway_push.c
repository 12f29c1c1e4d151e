/* The gateway's push subscription publisher (§12.1): the destination rule and the message on the
 * PUB socket, over nng inproc. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <string.h>

#include "cairn_metrics.h"
#include "cairn_msg.h"
#include "gateway_push.h"

static gateway_push *open_push(const char *url, bool trust, cairn_metrics *m)
{
    cairn_status st;
    gateway_push *p = gateway_push_open(url, trust, m, &st);
    cr_assert_not_null(p, "%s", st.message);
    return p;
}

Test(gateway_push, destination_is_the_peer_unless_client_ip_is_trusted)
{
    gateway_push *p = open_push("inproc://gw-push-dest", false, NULL);
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "127.0.2.1"), "127.0.0.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", NULL), "127.0.0.1");
    cr_assert_null(gateway_push_destination(p, "", "127.0.2.1"));
    cr_assert_null(gateway_push_destination(p, NULL, NULL));
    gateway_push_close(p);

    p = open_push("inproc://gw-push-trust", true, NULL);
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "127.0.2.1"), "127.0.2.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "2001:db8::1"), "2001:db8::1");
    /* Only a numeric address is trusted: never a name to resolve, never junk. */
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "example.org"), "127.0.0.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", "1.2.3"), "127.0.0.1");
    cr_assert_str_eq(gateway_push_destination(p, "127.0.0.1", NULL), "127.0.0.1");
    gateway_push_close(p);
}

Test(gateway_push, publishes_the_subscription_and_counts)
{
    cairn_metrics *m = cairn_metrics_new("gateway");
    gateway_push *p = open_push("inproc://gw-push-pub", false, m);
    nng_socket sub;
    cr_assert_eq(nng_sub0_open(&sub), 0);
    cr_assert_eq(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
    cr_assert_eq(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100), 0);
    cr_assert_eq(nng_dial(sub, "inproc://gw-push-pub", NULL, 0), 0);

    /* SUB joins asynchronously: publish until one arrives (bounded). */
    char *buf = NULL;
    size_t len = 0;
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        cr_assert(gateway_push_subscribe(p, "public", "DEFAULT_GROUP@@svc", "c1,c2", "127.0.0.1",
                                         4321, "Nacos-Java-Client:v1.0.0", 1700000000000));
        got = nng_recv(sub, &buf, &len, NNG_FLAG_ALLOC) == 0;
    }
    cr_assert(got, "no subscription arrived");
    cairn_subscription s;
    cairn_status st;
    cr_assert_eq(cairn_subscription_decode(buf, len, &s, &st), CAIRN_OK, "%s", st.message);
    nng_free(buf, len);
    cr_assert_str_eq(s.namespace_id, "public");
    cr_assert_str_eq(s.service, "DEFAULT_GROUP@@svc");
    cr_assert_str_eq(s.clusters, "c1,c2");
    cr_assert_str_eq(s.ip, "127.0.0.1");
    cr_assert_eq(s.port, 4321);
    cr_assert_str_eq(s.agent, "Nacos-Java-Client:v1.0.0");
    cr_assert_eq(s.at_ms, 1700000000000);
    cairn_subscription_free(&s);
    nng_close(sub);

    cairn_counter *ok = cairn_metrics_counter(m, "push_subscriptions_total", "",
                                              "result=\"published\"");
    cr_assert_geq(cairn_counter_value(ok), 1);
    gateway_push_close(p);
    cairn_metrics_free(m);
}
