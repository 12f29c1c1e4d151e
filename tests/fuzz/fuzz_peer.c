/* What arrives on the peer port and from the replicator's PUB: the peer envelope
 * (cairn_peer_unseal, under a fixed key), PING/PONG bodies (cairn_peer_ping_decode), MEMBERSHIP
 * (cairn_membership_decode), FORWARD bodies (cairn_peer_forward_decode), the RAFT_FORWARD /
 * RAFT_FORWARD_ACK bodies (cairn_peer_raft.h), the DISTRO_SYNC / DISTRO_SYNC_ACK bodies
 * (cairn_peer_distro.h) and DISTRO_READ bodies (cairn_peer_read.h). Every input is tried as each
 * of them. An accepted envelope seals again into one that opens to the same envelope and body;
 * the bodies round-trip to the same bytes (a FORWARD body: the same inner request; a DISTRO_SYNC
 * body: the same states). */
#include "cairn_forward.h"
#include "cairn_peer.h"
#include "cairn_peer_distro.h"
#include "cairn_peer_ping.h"
#include "cairn_peer_raft.h"
#include "cairn_peer_read.h"
#include "fuzz_msg.h"

static const uint8_t KEY[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz!";

MSG_ROUND_TRIP(ping, cairn_peer_ping, cairn_peer_ping_encode, cairn_peer_ping_decode,
               (void))
MSG_ROUND_TRIP(membership, cairn_membership, cairn_membership_encode, cairn_membership_decode,
               cairn_membership_free)
MSG_ROUND_TRIP(raft_forward, cairn_peer_raft_forward, cairn_peer_raft_forward_encode,
               cairn_peer_raft_forward_decode, cairn_peer_raft_forward_free)
MSG_ROUND_TRIP(raft_acks, cairn_peer_raft_acks, cairn_peer_raft_acks_encode,
               cairn_peer_raft_acks_decode, (void))
MSG_ROUND_TRIP(sync_ack, cairn_peer_sync_ack, cairn_peer_sync_ack_encode,
               cairn_peer_sync_ack_decode, (void))

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

/* An accepted DISTRO_SYNC body is a DISTRO_APPLY of 1..CAIRN_DISTRO_MAX_STATES versioned states
 * without a load_id. Its states encode again (cairn_peer_sync_encode, as an owner sends them)
 * into a body that is accepted and encodes to the same bytes; the sender's mode and any other
 * field are not part of that (the receiver ignores them). */
static void sync_body(const char *buf, size_t size)
{
    cairn_request req, again;
    cairn_status st;
    if (cairn_peer_sync_decode(buf, size, &req, &st) != CAIRN_OK) {
        cairn_request_free(&req);
        return;
    }
    FUZZ_CHECK(req.type == CAIRN_MSG_DISTRO_APPLY && req.load_id == 0);
    FUZZ_CHECK(req.state_count >= 1 && req.state_count <= CAIRN_DISTRO_MAX_STATES);
    for (uint32_t i = 0; i < req.state_count; i++)
        FUZZ_CHECK(req.states[i].version.epoch != 0);
    char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    FUZZ_CHECK(cairn_peer_sync_encode(req.states, req.state_count, &a, &a_len) == CAIRN_OK);
    FUZZ_CHECK(cairn_peer_sync_decode(a, a_len, &again, &st) == CAIRN_OK);
    FUZZ_CHECK(again.state_count == req.state_count);
    FUZZ_CHECK(cairn_peer_sync_encode(again.states, again.state_count, &b, &b_len) == CAIRN_OK);
    FUZZ_CHECK(fuzz_same_bytes(a, a_len, b, b_len));
    free(a);
    free(b);
    cairn_request_free(&req);
    cairn_request_free(&again);
}

/* A DISTRO_READ body is accepted exactly when it is a request of a type a peer may read with; an
 * accepted one encodes into a body that is accepted again and encodes to the same bytes. */
static void read_body(const char *buf, size_t size)
{
    cairn_request req, plain, again;
    cairn_status st;
    cairn_err err = cairn_peer_read_decode(buf, size, &req, &st);
    bool readable = cairn_request_decode(buf, size, &plain, &st) == CAIRN_OK &&
                    cairn_peer_read_allowed(plain.type);
    cairn_request_free(&plain);
    FUZZ_CHECK((err == CAIRN_OK) == readable);
    if (err != CAIRN_OK) {
        cairn_request_free(&req);
        return;
    }
    char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    FUZZ_CHECK(cairn_request_encode(&req, &a, &a_len) == CAIRN_OK);
    FUZZ_CHECK(cairn_peer_read_decode(a, a_len, &again, &st) == CAIRN_OK);
    FUZZ_CHECK(again.type == req.type);
    FUZZ_CHECK(cairn_request_encode(&again, &b, &b_len) == CAIRN_OK);
    FUZZ_CHECK(fuzz_same_bytes(a, a_len, b, b_len));
    free(a);
    free(b);
    cairn_request_free(&req);
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
        FUZZ_CHECK(f.count == 0 && f.cmds[0] == NULL);
    cairn_peer_raft_forward_free(&f);
    cairn_peer_raft_acks a;
    if (cairn_peer_raft_acks_decode(buf, size, &a, &st) == CAIRN_OK) {
        FUZZ_CHECK(a.count >= 1 && a.count <= CAIRN_RAFT_FORWARD_MAX);
        round_trip_raft_acks(&a);
    }
    sync_body(buf, size);
    cairn_peer_sync_ack sa;
    if (cairn_peer_sync_ack_decode(buf, size, &sa, &st) == CAIRN_OK) {
        FUZZ_CHECK(sa.code <= 255 && sa.applied <= CAIRN_DISTRO_MAX_STATES &&
                   sa.stale <= CAIRN_DISTRO_MAX_STATES && sa.rejected <= CAIRN_DISTRO_MAX_STATES);
        round_trip_sync_ack(&sa);
    } else {
        FUZZ_CHECK(sa.code == 0 && sa.applied == 0 && sa.stale == 0 && sa.rejected == 0);
    }
    read_body(buf, size);
    return 0;
}
