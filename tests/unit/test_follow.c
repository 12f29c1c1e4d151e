/* The chain rule of a follower: apply, skip what a snapshot covered, detect losses. */
#include <criterion/criterion.h>

#include "cairn_follow.h"

Test(follow, nothing_is_trusted_before_a_sync)
{
    cairn_follow f;
    cairn_follow_init(&f);
    cr_expect_eq(cairn_follow_next(&f, 0, 1), CAIRN_FOLLOW_GAP);
    cr_expect_eq(cairn_follow_next(&f, 1, 2), CAIRN_FOLLOW_GAP);
}

Test(follow, a_chain_applies_in_order)
{
    cairn_follow f;
    cairn_follow_init(&f);
    cairn_follow_synced(&f, 10);
    cr_expect_eq(cairn_follow_next(&f, 10, 12), CAIRN_FOLLOW_APPLY);
    cr_expect_eq(cairn_follow_next(&f, 12, 13), CAIRN_FOLLOW_APPLY);
    cr_expect_eq(f.last, 13);
    /* a tick at the newest position changes nothing */
    cr_expect_eq(cairn_follow_next(&f, 13, 13), CAIRN_FOLLOW_STALE);
    cr_expect(f.synced);
}

Test(follow, messages_a_snapshot_covered_are_skipped)
{
    cairn_follow f;
    cairn_follow_init(&f);
    cairn_follow_synced(&f, 20); /* buffered 15 and 20 arrive after the snapshot at 20 */
    cr_expect_eq(cairn_follow_next(&f, 12, 15), CAIRN_FOLLOW_STALE);
    cr_expect_eq(cairn_follow_next(&f, 15, 20), CAIRN_FOLLOW_STALE);
    cr_expect_eq(cairn_follow_next(&f, 20, 21), CAIRN_FOLLOW_APPLY);
}

Test(follow, a_lost_message_is_a_gap_until_repaired)
{
    cairn_follow f;
    cairn_follow_init(&f);
    cairn_follow_synced(&f, 5);
    cr_expect_eq(cairn_follow_next(&f, 6, 7), CAIRN_FOLLOW_GAP); /* 6 was lost */
    cr_expect_not(f.synced);
    cr_expect_eq(cairn_follow_next(&f, 7, 8), CAIRN_FOLLOW_GAP); /* still untrusted */
    cairn_follow_synced(&f, 8);
    cr_expect_eq(cairn_follow_next(&f, 8, 9), CAIRN_FOLLOW_APPLY);
}

Test(follow, a_tick_ahead_reveals_a_lost_last_message)
{
    cairn_follow f;
    cairn_follow_init(&f);
    cairn_follow_synced(&f, 30);
    cr_expect_eq(cairn_follow_next(&f, 31, 31), CAIRN_FOLLOW_GAP);
}

Test(follow, a_lost_connection_needs_a_repair)
{
    cairn_follow f;
    cairn_follow_init(&f);
    cairn_follow_synced(&f, 3);
    cairn_follow_lost(&f);
    cr_expect_eq(cairn_follow_next(&f, 3, 4), CAIRN_FOLLOW_GAP);
}

Test(follow, a_publisher_that_started_over_is_followed_after_the_repair)
{
    /* a restarted gateway numbers its subscriptions from 1 again: the reconnect repairs */
    cairn_follow f;
    cairn_follow_init(&f);
    cairn_follow_synced(&f, 100);
    cairn_follow_lost(&f);
    cairn_follow_synced(&f, 2);
    cr_expect_eq(cairn_follow_next(&f, 2, 3), CAIRN_FOLLOW_APPLY);
}
