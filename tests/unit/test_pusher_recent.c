/* The ring of recent changes nobody was subscribed to (pusher_recent.h), in virtual time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "pusher_recent.h"

Test(pusher_recent, a_change_is_remembered_for_the_window_only)
{
    pusher_recent *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    pusher_recent_init(r);
    cr_expect(!pusher_recent_changed(r, "public", "g@@a", 1000), "empty ring");
    pusher_recent_note(r, "public", "g@@a", 1000);
    cr_expect(pusher_recent_changed(r, "public", "g@@a", 1000));
    cr_expect(pusher_recent_changed(r, "public", "g@@a", 1000 + PUSHER_RECENT_WINDOW_MS));
    cr_expect(!pusher_recent_changed(r, "public", "g@@a", 1001 + PUSHER_RECENT_WINDOW_MS));
    cr_expect(!pusher_recent_changed(r, "public", "g@@b", 1000), "another service");
    cr_expect(!pusher_recent_changed(r, "other", "g@@a", 1000), "another namespace");
    cr_expect(!pusher_recent_changed(r, "publicg", "@@a", 1000), "the parts are kept apart");
    free(r);
}

Test(pusher_recent, a_full_ring_forgets_the_oldest)
{
    pusher_recent *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    pusher_recent_init(r);
    pusher_recent_note(r, "public", "first", 10);
    char name[32];
    for (int i = 0; i < PUSHER_RECENT_SLOTS - 1; i++) {
        snprintf(name, sizeof name, "s-%d", i);
        pusher_recent_note(r, "public", name, 20);
    }
    cr_expect(pusher_recent_changed(r, "public", "first", 20), "still in the ring");
    pusher_recent_note(r, "public", "one-more", 20);
    cr_expect(!pusher_recent_changed(r, "public", "first", 20), "overwritten");
    cr_expect(pusher_recent_changed(r, "public", "s-0", 20));
    free(r);
}
