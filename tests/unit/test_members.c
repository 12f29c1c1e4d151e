/* The membership state machine in virtual time: states, owner list order, up_pings, fail_count,
 * refused redials, STOPPING, view_version. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "replicator_members.h"

static cairn_cluster_config *cfg;
static repl_members *ms;

static void setup(void)
{
    cfg = calloc(1, sizeof *cfg);
    cairn_status st;
    int n = cairn_cluster_parse_members("127.0.0.2:8848,127.0.0.10:8848,127.0.0.3:8848",
                                        cfg->members, CAIRN_CLUSTER_MAX_MEMBERS, &st);
    cr_assert_eq(n, 3);
    cfg->count = 3;
    cfg->self = 0;
    cfg->fail_count = 3;
    cfg->up_pings = 2;
    cfg->members_hash = cairn_cluster_members_hash(cfg->members, 3);
    ms = malloc(sizeof *ms);
    repl_members_init(ms, cfg);
}

static void teardown(void)
{
    free(ms);
    free(cfg);
}

TestSuite(members, .init = setup, .fini = teardown);

static cairn_peer_ping pong(cairn_peer_phase phase)
{
    cairn_peer_ping p = {.phase = phase, .members_hash = cfg->members_hash};
    strcpy(p.peer_address, "127.0.0.10:19849");
    strcpy(p.raft_address, "127.0.0.10:17848");
    strcpy(p.raft.role, "none");
    return p;
}

static int64_t now = 1000;

static int answer(size_t idx, cairn_peer_phase phase)
{
    cairn_peer_ping p = pong(phase);
    now += 500;
    return repl_members_answer(ms, idx, &p, 42, 0.001, now, now);
}

static void expect_owners(const char *const *ids, size_t n)
{
    cr_assert_eq(ms->owner_count, n, "owners: %zu, want %zu", ms->owner_count, n);
    for (size_t k = 0; k < n; k++)
        cr_expect_str_eq(ms->m[ms->owners[k]].id, ids[k]);
}

Test(members, start_state)
{
    cr_expect_eq(ms->m[0].state, CAIRN_MEMBER_STARTING); /* self, not READY */
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_DOWN);
    cr_expect_eq(ms->owner_count, 0);
    cr_expect_eq(ms->view_version, 1);
    /* defaults until learned: member host, HTTP port + 1001 / - 1000 */
    cr_expect_str_eq(ms->m[1].peer_address, "127.0.0.10:9849");
    cr_expect_str_eq(ms->m[1].raft_address, "127.0.0.10:7848");
}

Test(members, self_joins_when_ready)
{
    int c = repl_members_set_self_phase(ms, CAIRN_PHASE_READY);
    cr_expect(c & REPL_CHANGED_OWNERS);
    cr_expect_eq(ms->view_version, 2);
    cr_expect_eq(ms->m[0].state, CAIRN_MEMBER_UP);
    expect_owners((const char *[]){"127.0.0.2:8848"}, 1);
    cr_expect_eq(repl_members_set_self_phase(ms, CAIRN_PHASE_READY), 0);
}

Test(members, up_after_up_pings_and_sorted_by_strcmp)
{
    repl_members_set_self_phase(ms, CAIRN_PHASE_READY);
    uint64_t v = ms->view_version;
    int c = answer(1, CAIRN_PHASE_READY);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_STARTING); /* one READY answer is not enough */
    cr_expect_not(c & REPL_CHANGED_OWNERS);
    cr_expect_eq(ms->view_version, v);
    c = answer(1, CAIRN_PHASE_READY);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_UP);
    cr_expect(c & REPL_CHANGED_OWNERS);
    cr_expect_eq(ms->view_version, v + 1);
    /* 127.0.0.10 sorts before 127.0.0.2 */
    expect_owners((const char *[]){"127.0.0.10:8848", "127.0.0.2:8848"}, 2);
    /* learned addresses */
    cr_expect_str_eq(ms->m[1].peer_address, "127.0.0.10:19849");
    cr_expect(ms->m[1].members_match);
}

Test(members, starting_peer_stays_out)
{
    for (int i = 0; i < 5; i++)
        answer(2, CAIRN_PHASE_STARTING);
    cr_expect_eq(ms->m[2].state, CAIRN_MEMBER_STARTING);
    cr_expect_eq(ms->owner_count, 0);
    /* a READY answer between STARTING ones restarts the count */
    answer(2, CAIRN_PHASE_READY);
    answer(2, CAIRN_PHASE_STARTING);
    answer(2, CAIRN_PHASE_READY);
    cr_expect_eq(ms->m[2].state, CAIRN_MEMBER_STARTING);
    answer(2, CAIRN_PHASE_READY);
    cr_expect_eq(ms->m[2].state, CAIRN_MEMBER_UP);
}

Test(members, misses_suspicious_then_down)
{
    answer(1, CAIRN_PHASE_READY);
    answer(1, CAIRN_PHASE_READY);
    uint64_t v = ms->view_version;
    int c = repl_members_miss(ms, 1, false, now += 500);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_SUSPICIOUS);
    cr_expect_eq(c, REPL_CHANGED_STATE); /* still an owner: same view */
    cr_expect_eq(ms->view_version, v);
    repl_members_miss(ms, 1, false, now += 500);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_SUSPICIOUS);
    cr_expect_eq(ms->owner_count, 1);
    c = repl_members_miss(ms, 1, false, now += 500);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_DOWN);
    cr_expect(c & REPL_CHANGED_OWNERS);
    cr_expect_eq(ms->owner_count, 0);
    cr_expect_eq(ms->view_version, v + 1);
    /* a SUSPICIOUS member that answers READY is UP again at once */
    answer(2, CAIRN_PHASE_READY);
    answer(2, CAIRN_PHASE_READY);
    repl_members_miss(ms, 2, false, now += 500);
    answer(2, CAIRN_PHASE_READY);
    cr_expect_eq(ms->m[2].state, CAIRN_MEMBER_UP);
    /* a DOWN member that comes back needs up_pings READY answers again */
    answer(1, CAIRN_PHASE_READY);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_STARTING);
    answer(1, CAIRN_PHASE_READY);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_UP);
}

Test(members, refused_redial_is_down_at_once)
{
    answer(1, CAIRN_PHASE_READY);
    answer(1, CAIRN_PHASE_READY);
    repl_members_miss(ms, 1, true, now += 500);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_DOWN);
    cr_expect_eq(ms->owner_count, 0);
}

Test(members, stopping_is_down_at_once)
{
    answer(1, CAIRN_PHASE_READY);
    answer(1, CAIRN_PHASE_READY);
    cairn_peer_ping p = pong(CAIRN_PHASE_STOPPING);
    int c = repl_members_heard_ping(ms, 1, &p, 42, now);
    cr_expect(c & REPL_CHANGED_OWNERS);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_DOWN);
    /* self stopping leaves the owner list too */
    repl_members_set_self_phase(ms, CAIRN_PHASE_READY);
    cr_expect_eq(ms->owner_count, 1);
    repl_members_set_self_phase(ms, CAIRN_PHASE_STOPPING);
    cr_expect_eq(ms->owner_count, 0);
}

Test(members, restarted_peer_pings_starting)
{
    answer(1, CAIRN_PHASE_READY);
    answer(1, CAIRN_PHASE_READY);
    cairn_peer_ping p = pong(CAIRN_PHASE_STARTING);
    repl_members_heard_ping(ms, 1, &p, 43, now);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_STARTING);
    cr_expect_eq(ms->owner_count, 0);
    /* a READY ping counts neither way: liveness comes from our own pings */
    p = pong(CAIRN_PHASE_READY);
    cr_expect_eq(repl_members_heard_ping(ms, 1, &p, 43, now), 0);
    cr_expect_eq(ms->m[1].state, CAIRN_MEMBER_STARTING);
}

Test(members, members_hash_mismatch_is_shown)
{
    cairn_peer_ping p = pong(CAIRN_PHASE_READY);
    p.members_hash ^= 1;
    repl_members_answer(ms, 1, &p, 42, 0.001, now, now);
    cr_expect_not(ms->m[1].members_match);
}

Test(members, view_for_membership)
{
    repl_members_set_self_phase(ms, CAIRN_PHASE_READY);
    answer(1, CAIRN_PHASE_READY);
    answer(1, CAIRN_PHASE_READY);
    cairn_membership v;
    repl_members_view(ms, 77, &v);
    cr_expect_str_eq(v.self, "127.0.0.2:8848");
    cr_expect(v.self_ready);
    cr_expect_eq(v.owner_count, 2);
    cr_expect_str_eq(v.owners[0], "127.0.0.10:8848");
    cr_expect_eq(v.member_count, 3);
    cr_expect_eq(v.members[0].last_refresh_ms, 77);
    cr_expect_eq(v.members[1].state, CAIRN_MEMBER_UP);
    cr_expect_eq(v.members[2].state, CAIRN_MEMBER_DOWN);
    char *buf;
    size_t len;
    cr_expect_eq(cairn_membership_encode(&v, &buf, &len), CAIRN_OK);
    free(buf);
    repl_members_view_release(&v);
}
