/* The next raft configuration change from cluster.members (replicator/raft_reconfigure.h), as
 * a decision table: nothing until every configured member agrees; adds, then promotions, then
 * removals, one at a time; a matching configuration needs nothing. */
#include <criterion/criterion.h>
#include <string.h>

#include "raft_ids.h"
#include "raft_reconfigure.h"

static const char *A = "127.0.0.1:8848", *B = "127.0.0.2:8848", *C = "127.0.0.3:8848",
                  *D = "127.0.0.4:8848";

static struct raft_configuration conf;

static void setup(void)
{
    raft_configuration_init(&conf);
}

static void teardown(void)
{
    raft_configuration_close(&conf);
}

TestSuite(raft_reconfigure, .init = setup, .fini = teardown);

static void server(const char *identity, int role)
{
    cr_assert_eq(raft_configuration_add(&conf, cairn_raft_id(identity), identity, role), 0);
}

static void expect(raft_reconf_change c, raft_reconf_kind kind, const char *identity)
{
    cr_expect_eq(c.kind, kind, "kind %s, expected %s", raft_reconf_kind_name(c.kind),
                 raft_reconf_kind_name(kind));
    if (kind == RAFT_RECONF_NONE)
        return;
    cr_expect_eq(c.id, cairn_raft_id(identity));
    cr_expect_str_eq(c.identity, identity);
}

Test(raft_reconfigure, a_matching_configuration_needs_nothing)
{
    server(A, RAFT_VOTER), server(B, RAFT_VOTER), server(C, RAFT_VOTER);
    raft_reconf_member m[] = {{A, true}, {B, true}, {C, true}};
    expect(raft_reconf_next(m, 3, &conf), RAFT_RECONF_NONE, NULL);
}

Test(raft_reconfigure, a_new_member_is_added_then_promoted)
{
    server(A, RAFT_VOTER), server(B, RAFT_VOTER), server(C, RAFT_VOTER);
    raft_reconf_member m[] = {{A, true}, {B, true}, {C, true}, {D, true}};
    expect(raft_reconf_next(m, 4, &conf), RAFT_RECONF_ADD, D);
    server(D, RAFT_SPARE); /* what raft_add leaves */
    expect(raft_reconf_next(m, 4, &conf), RAFT_RECONF_PROMOTE, D);
    conf.servers[3].role = RAFT_STANDBY; /* a standby is promoted too */
    expect(raft_reconf_next(m, 4, &conf), RAFT_RECONF_PROMOTE, D);
    conf.servers[3].role = RAFT_VOTER;
    expect(raft_reconf_next(m, 4, &conf), RAFT_RECONF_NONE, NULL);
}

Test(raft_reconfigure, nothing_changes_while_a_member_disagrees_or_is_silent)
{
    server(A, RAFT_VOTER), server(B, RAFT_VOTER), server(C, RAFT_VOTER);
    /* C still runs with the old list (or is down): neither the add nor a removal goes ahead */
    raft_reconf_member add[] = {{A, true}, {B, true}, {C, false}, {D, true}};
    expect(raft_reconf_next(add, 4, &conf), RAFT_RECONF_NONE, NULL);
    raft_reconf_member shrink[] = {{A, true}, {B, false}};
    expect(raft_reconf_next(shrink, 2, &conf), RAFT_RECONF_NONE, NULL);
}

Test(raft_reconfigure, a_member_no_list_names_is_removed_after_the_adds)
{
    /* C moved to D's address: D is added and promoted first, then C removed */
    server(A, RAFT_VOTER), server(B, RAFT_VOTER), server(C, RAFT_VOTER);
    raft_reconf_member m[] = {{A, true}, {B, true}, {D, true}};
    expect(raft_reconf_next(m, 3, &conf), RAFT_RECONF_ADD, D);
    server(D, RAFT_VOTER);
    expect(raft_reconf_next(m, 3, &conf), RAFT_RECONF_REMOVE, C);
    raft_configuration_close(&conf);
    raft_configuration_init(&conf);
    server(A, RAFT_VOTER), server(B, RAFT_VOTER), server(D, RAFT_VOTER);
    expect(raft_reconf_next(m, 3, &conf), RAFT_RECONF_NONE, NULL);
}

Test(raft_reconfigure, no_configuration_or_no_members_changes_nothing)
{
    raft_reconf_member m[] = {{A, true}};
    expect(raft_reconf_next(m, 1, &conf), RAFT_RECONF_NONE, NULL); /* joined, not caught up */
    server(A, RAFT_VOTER);
    expect(raft_reconf_next(m, 0, &conf), RAFT_RECONF_NONE, NULL);
}
