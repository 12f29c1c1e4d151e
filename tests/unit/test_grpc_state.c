/* The pure rules of a gRPC connection in virtual time: unary admission (§2.3), liveness probing
 * (ClientDetectionRequest after the idle time, close after the timeout) and a connection's push
 * queue (send, ack, retry with the newest data, the cap). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_pushq.h"
#include "grpc_state.h"

Test(grpc_state, admission_in_nacos_order)
{
    /* ServerCheck at any time, known or not, set up or not */
    cr_expect_eq(grpc_admit(true, true, false), GRPC_ADMIT);
    cr_expect_eq(grpc_admit(true, true, true), GRPC_ADMIT);
    /* an unknown type is 302 before the setup rule */
    cr_expect_eq(grpc_admit(false, false, false), GRPC_REFUSE_NO_HANDLER);
    cr_expect_eq(grpc_admit(false, false, true), GRPC_REFUSE_NO_HANDLER);
    /* a known type before the setup: 301; after: the handler */
    cr_expect_eq(grpc_admit(true, false, false), GRPC_REFUSE_UNREGISTERED);
    cr_expect_eq(grpc_admit(true, false, true), GRPC_ADMIT);
}

Test(grpc_state, liveness_probes_then_closes)
{
    grpc_liveness l;
    grpc_liveness_init(&l, 1000);
    cr_expect_eq(grpc_liveness_due(&l, 20000, 5000), 21000);
    cr_expect_eq(grpc_liveness_check(&l, 20999, 20000, 5000), GRPC_LIVE_OK);
    cr_expect_eq(grpc_liveness_check(&l, 21000, 20000, 5000), GRPC_LIVE_PROBE);
    cr_expect_eq(grpc_liveness_check(&l, 21001, 20000, 5000), GRPC_LIVE_OK, "one probe");
    cr_expect_eq(grpc_liveness_due(&l, 20000, 5000), 26000);
    cr_expect_eq(grpc_liveness_check(&l, 26000, 20000, 5000), GRPC_LIVE_DEAD);
    /* an answer (any frame) in time keeps it */
    grpc_liveness_init(&l, 0);
    cr_expect_eq(grpc_liveness_check(&l, 20000, 20000, 5000), GRPC_LIVE_PROBE);
    grpc_liveness_touch(&l, 24000);
    cr_expect_eq(grpc_liveness_check(&l, 26000, 20000, 5000), GRPC_LIVE_OK);
    cr_expect_eq(grpc_liveness_due(&l, 20000, 5000), 44000);
    /* activity keeps pushing the probe back */
    grpc_liveness_touch(&l, 43000);
    cr_expect_eq(grpc_liveness_check(&l, 44000, 20000, 5000), GRPC_LIVE_OK);
}

static char *info(const char *s)
{
    return strdup(s);
}

Test(grpc_pushq, send_ack_and_retry_with_newest)
{
    grpc_pushq q;
    grpc_pushq_init(&q, 8);
    cr_assert_eq(grpc_pushq_offer(&q, "public", "g@@a", "", info("v1"), 0), 0);
    grpc_push *p = grpc_pushq_next(&q, 0);
    cr_assert(p);
    cr_expect_str_eq(p->info, "v1");
    grpc_pushq_sent(p, 7, 0, 5000);
    cr_expect_null(grpc_pushq_next(&q, 0), "waiting for the ack");
    cr_expect_eq(grpc_pushq_due(&q), 5000);
    /* no ack in time: due again after the retry delay */
    cr_expect_eq(grpc_pushq_expire(&q, 4999, 1000), 0);
    cr_expect_eq(grpc_pushq_expire(&q, 5000, 1000), 1);
    cr_expect_null(grpc_pushq_next(&q, 5999));
    cr_expect_eq(grpc_pushq_due(&q), 6000);
    /* meanwhile newer data: it goes at once, and the retry carries it */
    cr_assert_eq(grpc_pushq_offer(&q, "public", "g@@a", "", info("v2"), 5500), 0);
    p = grpc_pushq_next(&q, 5500);
    cr_assert(p);
    cr_expect_str_eq(p->info, "v2");
    grpc_pushq_sent(p, 8, 5500, 5000);
    /* the late ack of 7 matches nothing; 8's ack ends it */
    cr_expect_not(grpc_pushq_ack(&q, 7, true, 5600, 1000));
    cr_expect_eq(q.count, 1);
    cr_expect(grpc_pushq_ack(&q, 8, true, 5600, 1000));
    cr_expect_eq(q.count, 0);
    cr_expect_eq(grpc_pushq_due(&q), INT64_MAX);
    grpc_pushq_free(&q);
}

Test(grpc_pushq, newer_data_while_unacked_is_sent_and_older_ack_is_ignored)
{
    grpc_pushq q;
    grpc_pushq_init(&q, 8);
    grpc_pushq_offer(&q, "public", "g@@a", "", info("v1"), 0);
    grpc_pushq_sent(grpc_pushq_next(&q, 0), 1, 0, 5000);
    grpc_pushq_offer(&q, "public", "g@@a", "", info("v2"), 10);
    /* the ack of v1 arrives: v2 is still to be sent, the entry stays */
    cr_expect(grpc_pushq_ack(&q, 1, true, 20, 1000));
    grpc_push *p = grpc_pushq_next(&q, 20);
    cr_assert(p);
    cr_expect_str_eq(p->info, "v2");
    grpc_pushq_sent(p, 2, 20, 5000);
    /* a failure ack: retried after the delay with the same (newest) data */
    cr_expect(grpc_pushq_ack(&q, 2, false, 30, 1000));
    cr_expect_null(grpc_pushq_next(&q, 1029));
    p = grpc_pushq_next(&q, 1030);
    cr_assert(p);
    cr_expect_str_eq(p->info, "v2");
    grpc_pushq_free(&q);
}

Test(grpc_pushq, one_entry_per_subscription_and_a_cap)
{
    grpc_pushq q;
    grpc_pushq_init(&q, 2);
    cr_expect_eq(grpc_pushq_offer(&q, "public", "g@@a", "", info("a1"), 0), 0);
    cr_expect_eq(grpc_pushq_offer(&q, "public", "g@@a", "", info("a2"), 0), 0);
    cr_expect_eq(grpc_pushq_offer(&q, "public", "g@@a", "c1", info("a-c1"), 0), 0);
    cr_expect_eq(q.count, 2, "the newest per subscription");
    cr_expect_eq(grpc_pushq_offer(&q, "public", "g@@b", "", info("b"), 0), 1, "over the cap");
    cr_expect_eq(q.count, 2);
    grpc_pushq_forget(&q, "public", "g@@a", "");
    cr_expect_eq(q.count, 1);
    cr_expect_str_eq(grpc_pushq_next(&q, 0)->info, "a-c1");
    grpc_pushq_free(&q);
}
