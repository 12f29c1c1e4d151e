/* DISTRO_READ bodies (common/proto/cairn_peer_read.h): the registry's read requests travel as
 * they are, anything that could write is refused, and bad bytes change nothing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_peer.h"
#include "cairn_peer_read.h"
#include "cairn_requests.h"

/* Encodes rq (freed), decodes it as a DISTRO_READ body; returns the decoder's code. */
static cairn_err through(cairn_request *rq, cairn_msg_type *type)
{
    char *buf = NULL;
    size_t len = 0;
    cr_assert_eq(cairn_request_encode(rq, &buf, &len), CAIRN_OK);
    cairn_request_free(rq);
    cairn_request out;
    cairn_status st;
    cairn_err rc = cairn_peer_read_decode(buf, len, &out, &st);
    if (type)
        *type = out.type;
    cairn_request_free(&out);
    free(buf);
    return rc;
}

Test(peer_read, the_reads_of_load_and_verify_travel)
{
    cairn_request rq;
    cairn_status st;
    cairn_msg_type t;
    cr_assert_eq(cairn_request_distro_snapshot(&rq, "public", "DEFAULT_GROUP@@a", 0, &st),
                 CAIRN_OK);
    cr_expect_eq(through(&rq, &t), CAIRN_OK);
    cr_expect_eq(t, CAIRN_MSG_DISTRO_SNAPSHOT);
    const char *owners[] = {"127.0.0.1:8848", "127.0.0.2:8848"};
    cr_assert_eq(cairn_request_distro_digests(&rq, owners, 2, owners[1], &st), CAIRN_OK);
    cr_expect_eq(through(&rq, &t), CAIRN_OK);
    cr_expect_eq(t, CAIRN_MSG_DISTRO_DIGESTS);
    cr_assert_eq(cairn_request_distro_keys(&rq, 7, owners, 2, owners[0], NULL, NULL, 0, &st),
                 CAIRN_OK);
    cr_expect_eq(through(&rq, &t), CAIRN_OK);
    const char *ns[] = {"public"}, *svc[] = {"DEFAULT_GROUP@@a"};
    cr_assert_eq(cairn_request_distro_fetch(&rq, ns, svc, 1, &st), CAIRN_OK);
    cr_expect_eq(through(&rq, &t), CAIRN_OK);
    cr_assert_eq(cairn_request_stats(&rq, &st), CAIRN_OK);
    cr_expect_eq(through(&rq, &t), CAIRN_OK);
}

Test(peer_read, writes_are_refused)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_apply(&rq, NULL, 0, CAIRN_DISTRO_FORCE, 0, &st), CAIRN_OK);
    cr_expect_eq(through(&rq, NULL), CAIRN_E_DECODE);
    cr_assert_eq(cairn_request_distro_load_end(&rq, 42, &st), CAIRN_OK);
    cr_expect_eq(through(&rq, NULL), CAIRN_E_DECODE);
    cr_expect_not(cairn_peer_read_allowed(CAIRN_MSG_PERSIST_APPLY));
    cr_expect_not(cairn_peer_read_allowed(CAIRN_MSG_INSTANCE_UPSERT));
}

Test(peer_read, garbage_and_truncations_are_refused)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_snapshot(&rq, "public", "DEFAULT_GROUP@@a", 0, &st),
                 CAIRN_OK);
    char *buf = NULL;
    size_t len = 0;
    cr_assert_eq(cairn_request_encode(&rq, &buf, &len), CAIRN_OK);
    cairn_request_free(&rq);
    for (size_t cut = 0; cut < len; cut++) {
        cairn_request out;
        cr_expect_neq(cairn_peer_read_decode(buf, cut, &out, &st), CAIRN_OK, "cut at %zu", cut);
        cairn_request_free(&out);
    }
    free(buf);
    cr_expect_str_eq(cairn_peer_type_name(CAIRN_PEER_DISTRO_READ), "distro_read");
    cr_expect_str_eq(cairn_peer_type_name(CAIRN_PEER_DISTRO_READ_REPLY), "distro_read_reply");
}
