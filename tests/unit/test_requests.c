/* The request builders (cairn_requests.h): their ownership contract. What each request carries on
 * the wire is covered by test_msg.c's round trip of every message type. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_requests.h"

Test(requests, strings_are_copied)
{
    char ns[] = "public", svc[] = "g@@s", ip[] = "127.0.0.1";
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_get(&rq, ns, svc, ip, 80, NULL, &st), CAIRN_OK);
    ns[0] = svc[0] = ip[0] = 'X';
    cr_expect_eq(rq.type, CAIRN_MSG_INSTANCE_GET);
    cr_expect_str_eq(rq.namespace_id, "public");
    cr_expect_str_eq(rq.service, "g@@s");
    cr_expect(rq.has_instance);
    cr_expect_str_eq(rq.instance.ip, "127.0.0.1");
    cr_expect_eq(rq.instance.port, 80);
    cr_expect_null(rq.instance.cluster, "an absent cluster stays absent");
    cairn_request_free(&rq);
}

Test(requests, an_instance_is_taken_over)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup("127.0.0.1");
    in.port = 8080;
    in.weight = 2;
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_beat(&rq, "public", "g@@s", &in, true, &st), CAIRN_OK);
    cr_expect_null(in.ip, "the argument is left empty");
    cr_expect_str_eq(rq.instance.ip, "127.0.0.1");
    cr_expect_eq(rq.instance.weight, 2);
    cr_expect(rq.has_body);
    cairn_instance_free(&in);
    cairn_request_free(&rq);
}

/* A caller that parsed into the request may pass the request's own fields. */
Test(requests, arguments_may_point_into_the_request)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_service_get(&rq, "public", "g@@s", &st), CAIRN_OK);
    char *ns = rq.namespace_id, *svc = rq.service;
    cr_assert_eq(cairn_request_snapshot_page(&rq, ns, svc, 10, &st), CAIRN_OK);
    free(ns);
    free(svc);
    cr_expect_str_eq(rq.namespace_id, "public");
    cr_expect_str_eq(rq.service, "g@@s");
    cairn_instance in = rq.instance; /* empty */
    cairn_request_init(&rq, CAIRN_MSG_STATS);
    rq.instance = in;
    rq.instance.ip = strdup("127.0.0.1");
    cr_assert_eq(cairn_request_instance_upsert(&rq, "public", "g@@s", &rq.instance,
                                               CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK);
    cr_expect_str_eq(rq.instance.ip, "127.0.0.1");
    cairn_request_free(&rq);
}

Test(requests, a_missing_required_argument_is_refused)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup("127.0.0.1");
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_upsert(&rq, "public", NULL, &in, CAIRN_UPSERT_REGISTER,
                                               &st),
                 CAIRN_E_INVALID);
    cr_expect_str_eq(st.message, "instance_upsert request without a service");
    cr_expect_null(in.ip, "taken over (and freed) on error too");
    cr_expect_null(rq.instance.ip, "the request is left empty");
    cairn_request_free(&rq);
    cr_assert_eq(cairn_request_instance_remove(&rq, "public", "g@@s", NULL, 80, NULL, true, &st),
                 CAIRN_E_INVALID);
    cairn_request_free(&rq);
    cr_assert_eq(cairn_request_service_put(&rq, "public", "g@@s", NULL, CAIRN_SERVICE_CREATE,
                                           &st),
                 CAIRN_E_INVALID);
    cairn_request_free(&rq);
}
