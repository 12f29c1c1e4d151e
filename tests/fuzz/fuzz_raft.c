/* The replicator's raft decoders of bytes from other members: the FSM snapshot
 * (raft_snapshot_decode; from a leader's InstallSnapshot or the raft dir), the entry framing
 * (cairn_raft_entry_command(s); every log entry) and the handshake's HELLO (raft_handshake.h; any
 * TCP peer of the raft port). A snapshot that decodes encodes to a canonical form that decodes to
 * the same bytes again; a framed command lies inside the entry. */
#include "fuzz_util.h"
#include "raft_fsm.h"
#include "raft_handshake.h"
#include "raft_snapshot.h"

static void snapshot_round_trip(const uint8_t *data, size_t size)
{
    raft_cp_state *s = raft_state_new();
    uint64_t index;
    cairn_status st;
    if (raft_snapshot_decode((const char *)data, size, s, &index, &st) == CAIRN_OK) {
        char *a, *b;
        size_t alen, blen;
        FUZZ_CHECK(raft_snapshot_encode(s, index, &a, &alen, &st) == CAIRN_OK);
        raft_cp_state *again = raft_state_new();
        uint64_t index2;
        FUZZ_CHECK(raft_snapshot_decode(a, alen, again, &index2, &st) == CAIRN_OK);
        FUZZ_CHECK(index2 == index && again->instance_count == s->instance_count);
        FUZZ_CHECK(raft_snapshot_encode(again, index2, &b, &blen, &st) == CAIRN_OK);
        FUZZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
        free(a);
        free(b);
        raft_state_free(again);
    } else {
        FUZZ_CHECK(s->instance_count == 0);
    }
    raft_state_free(s);
}

static void entry_and_hello(const uint8_t *data, size_t size)
{
    struct raft_buffer buf = {(void *)data, size};
    const char *cmd;
    size_t len;
    if (cairn_raft_entry_command(&buf, &cmd, &len))
        FUZZ_CHECK(cmd >= (const char *)data && cmd + len <= (const char *)data + size);
    const char *cmds[CAIRN_RAFT_BATCH_MAX];
    size_t lens[CAIRN_RAFT_BATCH_MAX], n;
    if (cairn_raft_entry_commands(&buf, cmds, lens, &n))
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(cmds[i] >= (const char *)data &&
                       cmds[i] + lens[i] <= (const char *)data + size);
    cairn_raft_hs hs;
    memset(&hs, 0, sizeof hs);
    size_t ident;
    if (size >= CAIRN_RAFT_HS_HELLO_FIXED && cairn_raft_hs_hello_fixed(&hs, data, &ident)) {
        FUZZ_CHECK(ident >= 1 && ident <= 255);
        size_t rest = size - CAIRN_RAFT_HS_HELLO_FIXED;
        if (cairn_raft_hs_hello_identity(&hs, data + CAIRN_RAFT_HS_HELLO_FIXED,
                                         ident < rest ? ident : rest))
            FUZZ_CHECK(strlen(hs.identity) <= 255);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    snapshot_round_trip(data, size);
    entry_and_hello(data, size);
    return 0;
}
