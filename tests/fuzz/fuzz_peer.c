/* What arrives on the peer port and from the replicator's PUB: the peer envelope
 * (cairn_peer_unseal, under a fixed key), PING/PONG bodies (cairn_peer_ping_decode), MEMBERSHIP
 * (cairn_membership_decode), FORWARD bodies (cairn_peer_forward_decode) and the RAFT_FORWARD /
 * RAFT_FORWARD_ACK bodies (cairn_peer_raft.h). Every input is tried as each of them. An
 * accepted envelope seals again into one that opens to the same envelope and body; the bodies
 * round-trip to the same bytes (a FORWARD body: the same inner request). */
#include "cairn_forward.h"
#include "cairn_peer.h"
#include "cairn_peer_ping.h"
#include "cairn_peer_raft.h"
#include "fuzz_msg.h"

static const uint8_t KEY[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz!";

MSG_ROUND_TRIP(ping, cairn_peer_ping, cairn_peer_ping_encode, cairn_peer_ping_decode,
               (void))
MSG_ROUND_TRIP(membership, cairn_membership, cairn_membership_encode, cairn_membership_decode,
               cairn_membership_free)
MSG_ROUND_TRIP(raft_forward, cairn_peer_raft_forward, cairn_peer_raft_forward_encode,
               cairn_peer_raft_forward_decode, cairn_peer_raft_forward_free)
MSG_ROUND_TRIP(raft_ack, cairn_peer_raft_ack, cairn_peer_raft_ack_encode,
               cairn_peer_raft_ack_decode, (void))

static void envelope(const char *buf, size_t size)
{
    cairn_peer_envelope env, again;
    char *body = NULL, *body2 = NULL, *sealed = NULL;
    size_t body_len = 0, body2_len = 0, sealed_len = 0;
    cairn_status st;
    if (cairn_peer_unseal(KEY, sizeof KEY, buf, size, NULL, &env, &body, &body_len, &st) !=
        CAIRN_PEER_ACCEPTED) {
        FUZZ_CHECK(body == NULL);
        return;
    }
    FUZZ_CHECK(cairn_peer_seal(KEY, sizeof KEY, &env, NULL, body, body_len, &sealed,
                               &sealed_len) == CAIRN_OK);
    FUZZ_CHECK(cairn_peer_unseal(KEY, sizeof KEY, sealed, sealed_len, NULL, &again, &body2,
                                 &body2_len, &st) == CAIRN_PEER_ACCEPTED);
    FUZZ_CHECK(memcmp(&env, &again, sizeof env) == 0);
    FUZZ_CHECK(fuzz_same_bytes(body, body_len, body2, body2_len));
    free(body);
    free(body2);
    free(sealed);
}

/* An accepted FORWARD body holds a request that may travel, and encodes again into a body that
 * decodes to the same request bytes. */
static void forward_body(const char *buf, size_t size)
{
    cairn_request inner, again;
    uint32_t ms = 0, ms2 = 0;
    cairn_status st;
    if (cairn_peer_forward_decode(buf, size, &inner, &ms, &st) != CAIRN_OK) {
        FUZZ_CHECK(ms == 0 && !inner.service && !inner.has_instance);
        cairn_request_free(&inner);
        return;
    }
    FUZZ_CHECK(cairn_forward_wanted(&inner) && ms > 0 && ms <= CAIRN_FORWARD_MAX_MS);
    char *ib = NULL, *body = NULL, *ib2 = NULL;
    size_t il = 0, body_len = 0, il2 = 0;
    FUZZ_CHECK(cairn_request_encode(&inner, &ib, &il) == CAIRN_OK);
    FUZZ_CHECK(cairn_peer_forward_encode(ib, il, ms, &body, &body_len) == CAIRN_OK);
    FUZZ_CHECK(cairn_peer_forward_decode(body, body_len, &again, &ms2, &st) == CAIRN_OK);
    FUZZ_CHECK(ms2 == ms);
    FUZZ_CHECK(cairn_request_encode(&again, &ib2, &il2) == CAIRN_OK);
    FUZZ_CHECK(fuzz_same_bytes(ib, il, ib2, il2));
    free(ib);
    free(ib2);
    free(body);
    cairn_request_free(&inner);
    cairn_request_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    cairn_status st;
    envelope(buf, size);
    cairn_peer_ping ping;
    if (cairn_peer_ping_decode(buf, size, &ping, &st) == CAIRN_OK)
        round_trip_ping(&ping);
    cairn_membership m;
    if (cairn_membership_decode(buf, size, &m, &st) == CAIRN_OK)
        round_trip_membership(&m);
    cairn_membership_free(&m);
    forward_body(buf, size);
    cairn_peer_raft_forward f;
    if (cairn_peer_raft_forward_decode(buf, size, &f, &st) == CAIRN_OK)
        round_trip_raft_forward(&f);
    else
        FUZZ_CHECK(f.cmd == NULL);
    cairn_peer_raft_forward_free(&f);
    cairn_peer_raft_ack a;
    if (cairn_peer_raft_ack_decode(buf, size, &a, &st) == CAIRN_OK)
        round_trip_raft_ack(&a);
    return 0;
}
