/* The stateless checks a member runs before raft_apply (raft_cmd_check): each refusal has the
 * very code and message the FSM's apply gives the same write on an empty state, so a write
 * refused before the log is answered as the log would have answered it; a valid write passes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "raft_commands.h"

#define SVC "DEFAULT_GROUP@@orders"

static const raft_cmd_limits lim = {{64}, 3};

static void instance_req(cairn_request *r, cairn_msg_type type, const char *ip, bool ephemeral)
{
    cairn_request_init(r, type);
    r->namespace_id = strdup("public");
    r->service = strdup(SVC);
    r->has_instance = true;
    cairn_instance_init(&r->instance);
    r->instance.ip = ip ? strdup(ip) : NULL;
    r->instance.port = 8080;
    r->instance.ephemeral = ephemeral;
}

static void service_req(cairn_request *r, cairn_msg_type type, const char *svc, uint32_t mode)
{
    cairn_request_init(r, type);
    r->namespace_id = strdup("public");
    r->service = svc ? strdup(svc) : NULL;
    r->mode = mode;
    if (type == CAIRN_MSG_SERVICE_PUT) {
        r->has_service = true;
        cairn_service_init(&r->service_def);
    }
}

/* check refuses r exactly as apply on an empty state does; frees r. */
static void refused_alike(cairn_request *r, const char *what)
{
    raft_cp_state *s = raft_state_new();
    cairn_raft_batch out;
    cairn_raft_batch_init(&out);
    cairn_status a, b;
    cairn_status_clear(&a);
    cairn_status_clear(&b);
    cairn_err ca = raft_cmd_check(&lim, r, &a);
    cairn_err cb = raft_cmd_apply(s, &lim, r, &out, &b);
    cr_assert_neq(ca, CAIRN_OK, "%s: passed the check", what);
    cr_expect_eq(ca, cb, "%s: check %d, apply %d", what, ca, cb);
    cr_expect_str_eq(a.message, b.message, "%s", what);
    cr_expect_eq(out.count, 0, "%s: apply changed something", what);
    cairn_raft_batch_free(&out);
    raft_state_free(s);
    cairn_request_free(r);
}

Test(raft_cmd_check, refusals_match_the_fsm)
{
    cairn_request r;
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, "198.51.100.1", true);
    refused_alike(&r, "an ephemeral registration");
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, NULL, false);
    refused_alike(&r, "no ip");
    instance_req(&r, CAIRN_MSG_INSTANCE_REMOVE, "198.51.100.1", false);
    free(r.service);
    r.service = NULL;
    refused_alike(&r, "no service");
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, "198.51.100.1", false);
    cairn_metadata_set(&r.instance.metadata, "k", "a value far longer than sixty-four bytes, "
                                                 "which is this test's metadata limit");
    refused_alike(&r, "metadata over the limit");
    service_req(&r, CAIRN_MSG_SERVICE_PUT, "DEFAULT_GROUP@@bad name!", CAIRN_SERVICE_CREATE);
    refused_alike(&r, "a create with a bad name");
    service_req(&r, CAIRN_MSG_SERVICE_PUT, SVC, CAIRN_SERVICE_CLUSTERS);
    refused_alike(&r, "a cluster update without a cluster");
    cairn_request_init(&r, CAIRN_MSG_BEAT);
    r.namespace_id = strdup("public");
    r.service = strdup(SVC);
    refused_alike(&r, "a beat");
}

Test(raft_cmd_check, valid_writes_pass)
{
    cairn_request r;
    cairn_status st;
    instance_req(&r, CAIRN_MSG_INSTANCE_UPSERT, "198.51.100.1", false);
    cr_expect_eq(raft_cmd_check(&lim, &r, &st), CAIRN_OK, "%s", st.message);
    cairn_request_free(&r);
    service_req(&r, CAIRN_MSG_SERVICE_PUT, SVC, CAIRN_SERVICE_UPDATE);
    cr_expect_eq(raft_cmd_check(&lim, &r, &st), CAIRN_OK, "%s", st.message);
    cairn_request_free(&r);
    service_req(&r, CAIRN_MSG_SERVICE_REMOVE, SVC, 0);
    cr_expect_eq(raft_cmd_check(&lim, &r, &st), CAIRN_OK, "%s", st.message);
    cairn_request_free(&r);
}
