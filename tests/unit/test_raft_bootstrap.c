/* Raft ids and configuration from member identities, the bootstrap decision of
 * cluster-design §2.8 step 2 as a decision table in virtual time, and the handshake's MACs. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "raft_bootstrap.h"
#include "raft_handshake.h"
#include "raft_ids.h"

Test(raft_ids, fnv1a_of_the_identity_never_zero)
{
    /* FNV-1a 64 reference values */
    cr_assert_eq(cairn_raft_id("a"), 0xaf63dc4c8601ec8cull);
    cr_assert_eq(cairn_raft_id("foobar"), 0x85944171f73967e8ull);
    cr_assert_eq(cairn_raft_id(""), 0xcbf29ce484222325ull);
    cr_assert_neq(cairn_raft_id("127.0.0.1:8848"), cairn_raft_id("127.0.0.2:8848"));
}

Test(raft_ids, member_list_checks_and_sorted_configuration)
{
    cairn_status st;
    const char *dup[] = {"127.0.0.1:8848", "127.0.0.1:8848"};
    cr_assert_eq(cairn_raft_check_members(dup, 2, &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "twice"));
    const char *empty[] = {"127.0.0.1:8848", ""};
    cr_assert_eq(cairn_raft_check_members(empty, 2, &st), CAIRN_E_INVALID);

    const char *a[] = {"127.0.0.3:8848", "127.0.0.10:8848", "127.0.0.2:8848"};
    const char *b[] = {"127.0.0.2:8848", "127.0.0.3:8848", "127.0.0.10:8848"};
    struct raft_configuration ca, cb;
    cr_assert_eq(cairn_raft_configuration(a, 3, &ca, &st), CAIRN_OK);
    cr_assert_eq(cairn_raft_configuration(b, 3, &cb, &st), CAIRN_OK);
    cr_assert_eq(ca.n, 3);
    for (unsigned i = 0; i < 3; i++) {
        /* the same bootstrap entry whatever the order, the identity as the address */
        cr_assert_eq(ca.servers[i].id, cb.servers[i].id);
        cr_assert_str_eq(ca.servers[i].address, cb.servers[i].address);
        cr_assert_eq(ca.servers[i].id, cairn_raft_id(ca.servers[i].address));
        cr_assert_eq(ca.servers[i].role, RAFT_VOTER);
    }
    cr_assert_str_eq(ca.servers[0].address, "127.0.0.10:8848");
    raft_configuration_close(&ca);
    raft_configuration_close(&cb);
    cr_assert_str_eq(cairn_raft_identity_of(a, 3, cairn_raft_id("127.0.0.2:8848")),
                     "127.0.0.2:8848");
    cr_assert_null(cairn_raft_identity_of(a, 3, 7));
}

/* One row: own dir, the two peers (R reachable, P pristine, I ever initialized), time waited. */
typedef struct row {
    bool self_pristine;
    const char *peers; /* per peer: "-" unreachable, "P" reachable pristine, "D" reachable with
                          data, "I" has reported initialized at some point (any reachability) */
    int64_t waited_ms;
    cairn_raft_start want;
} row;

static cairn_raft_start decide(const row *r)
{
    cairn_raft_peer_view peers[8];
    size_t n = strlen(r->peers);
    for (size_t i = 0; i < n; i++) {
        char c = r->peers[i];
        peers[i] = (cairn_raft_peer_view){.reachable = c != '-', .pristine = c == 'P',
                                          .ever_initialized = c == 'I' || c == 'D'};
    }
    cairn_raft_start_input in = {.self_pristine = r->self_pristine, .waiting_since_ms = 1000,
                                 .now_ms = 1000 + r->waited_ms, .bootstrap_wait_ms = 3000,
                                 .peers = peers, .peer_count = n};
    return cairn_raft_start_decide(&in);
}

Test(raft_bootstrap, decision_table)
{
    const row rows[] = {
        {false, "--", 0, CAIRN_RAFT_START_RESUME},     /* own state: just start */
        {false, "II", 9000, CAIRN_RAFT_START_RESUME},
        {true, "PP", 2999, CAIRN_RAFT_START_WAIT},     /* brand-new cluster, wait not over */
        {true, "PP", 3000, CAIRN_RAFT_START_BOOTSTRAP},
        {true, "P-", 3000, CAIRN_RAFT_START_BOOTSTRAP}, /* a majority (2 of 3), all pristine */
        {true, "--", 60000, CAIRN_RAFT_START_WAIT},     /* alone among 3: never */
        {true, "I-", 0, CAIRN_RAFT_START_JOIN},         /* wiped node, a peer has data */
        {true, "PI", 60000, CAIRN_RAFT_START_JOIN},     /* any initialized report wins */
        {true, "D-", 3000, CAIRN_RAFT_START_JOIN},
        {true, "PPPP", 3000, CAIRN_RAFT_START_BOOTSTRAP}, /* 5 members, all reachable */
        {true, "PP--", 3000, CAIRN_RAFT_START_BOOTSTRAP}, /* 3 of 5 */
        {true, "P---", 3000, CAIRN_RAFT_START_WAIT},      /* 2 of 5 */
        {true, "", 0, CAIRN_RAFT_START_BOOTSTRAP},        /* one member: at once */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_assert_eq(decide(&rows[i]), rows[i].want, "row %zu: got %s, want %s", i,
                     cairn_raft_start_name(decide(&rows[i])), cairn_raft_start_name(rows[i].want));
}

static const unsigned char secret_a[] = "0123456789abcdef0123456789abcdef";
static const unsigned char secret_b[] = "0123456789abcdef0123456789abcdeX";

Test(raft_handshake, challenge_and_proof_verify_only_with_the_secret)
{
    cr_assert_geq(sodium_init(), 0);
    cairn_raft_hs_secret a = {secret_a, 32}, b = {secret_b, 32};
    cairn_raft_hs dialer = {0}, listener = {0};
    snprintf(dialer.identity, sizeof dialer.identity, "127.0.0.1:8848");
    dialer.dialer_id = cairn_raft_id(dialer.identity);
    randombytes_buf(dialer.dialer_nonce, sizeof dialer.dialer_nonce);
    unsigned char hello[CAIRN_RAFT_HS_HELLO_MAX];
    size_t n = cairn_raft_hs_hello(&dialer, hello), ident;
    cr_assert_eq(n, CAIRN_RAFT_HS_HELLO_FIXED + strlen(dialer.identity));
    cr_assert(cairn_raft_hs_hello_fixed(&listener, hello, &ident));
    cr_assert(cairn_raft_hs_hello_identity(&listener, hello + CAIRN_RAFT_HS_HELLO_FIXED, ident));
    listener.listener_id = cairn_raft_id("127.0.0.2:8848");
    randombytes_buf(listener.listener_nonce, sizeof listener.listener_nonce);
    unsigned char challenge[CAIRN_RAFT_HS_CHALLENGE], proof[CAIRN_RAFT_HS_PROOF];
    cairn_raft_hs_challenge(&listener, &a, challenge);
    cairn_raft_hs copy = dialer;
    cr_assert_not(cairn_raft_hs_check_challenge(&copy, &b, challenge)); /* wrong secret */
    cr_assert(cairn_raft_hs_check_challenge(&dialer, &a, challenge));
    cr_assert_eq(dialer.listener_id, listener.listener_id);
    cairn_raft_hs_mac(&dialer, &a, 'D', proof);
    cr_assert(cairn_raft_hs_check_proof(&listener, &a, proof));
    cr_assert_not(cairn_raft_hs_check_proof(&listener, &b, proof));
    /* the listener's MAC is no proof: the roles are in the MAC */
    cr_assert_not(cairn_raft_hs_check_proof(&listener, &a, challenge + 8 + CAIRN_RAFT_HS_NONCE));
    /* a HELLO whose identity does not hash to its id, or that is not a HELLO */
    hello[CAIRN_RAFT_HS_HELLO_FIXED] ^= 1;
    const unsigned char *ident_bytes = hello + CAIRN_RAFT_HS_HELLO_FIXED;
    cr_assert_not(cairn_raft_hs_hello_identity(&listener, ident_bytes, ident));
    memcpy(hello, "GET / HT", 8);
    cr_assert_not(cairn_raft_hs_hello_fixed(&listener, hello, &ident));
}

Test(raft_catchup, ready_once_the_leaders_commit_at_join_is_applied_and_in_the_registry)
{
    cairn_raft_catchup c = {0};
    cairn_raft_catchup_input in = {.started = false, .leader_reported = true,
                                   .leader_commit = 40, .applied = 100, .registry_idle = true};
    cr_expect_not(cairn_raft_catchup_step(&c, &in), "raft not started yet");
    in.started = true;
    in.leader_reported = false;
    cr_expect_not(cairn_raft_catchup_step(&c, &in), "no leader known: no target");
    in.leader_reported = true;
    in.applied = 10;
    cr_expect_not(cairn_raft_catchup_step(&c, &in), "applied 10 of 40");
    cr_expect_eq(c.target, 40);
    in.leader_commit = 90; /* the target is the commit first seen, not a moving one */
    in.applied = 40;
    in.registry_idle = false;
    cr_expect_not(cairn_raft_catchup_step(&c, &in), "the registry has not answered yet");
    in.registry_idle = true;
    cr_expect(cairn_raft_catchup_step(&c, &in));
    in.applied = 0;
    in.started = false;
    cr_expect(cairn_raft_catchup_step(&c, &in), "once caught up, always");
}

Test(raft_catchup, bootstrapped_here_or_leading)
{
    cairn_raft_catchup c = {0};
    cairn_raft_catchup_input in = {.started = false, .brand_new = true};
    cr_expect(cairn_raft_catchup_step(&c, &in), "a brand-new cluster has nothing to catch up");
    cairn_raft_catchup d = {0};
    cairn_raft_catchup_input l = {.started = true, .self_leader = true, .self_commit = 7,
                                  .applied = 6, .registry_idle = true};
    cr_expect_not(cairn_raft_catchup_step(&d, &l), "a new leader applies its commit first");
    l.applied = 7;
    cr_expect(cairn_raft_catchup_step(&d, &l));
}
