/* A SUB follower's view of its connection: the last pipe callback tells the current state,
 * whatever order nng reports a restarted publisher's new connection and the old one's loss. */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn_sub.h"

typedef struct seen {
    atomic_int calls;
    atomic_bool connected; /* what the last call said */
} seen;

static void on_pipe(void *arg, bool connected)
{
    seen *s = arg;
    atomic_store(&s->connected, connected);
    atomic_fetch_add(&s->calls, 1);
}

/* A SUB dialing an ipc path nobody listens on (yet): pipe events are driven by hand or by a
 * publisher the test starts. */
static void open_sub(cairn_sub *sub, seen *s, char *url, size_t len)
{
    snprintf(url, len, "ipc:///tmp/cairn-test-sub-%d-%ld.sock", (int)getpid(),
             (long)time(NULL));
    atomic_init(&s->calls, 0);
    atomic_init(&s->connected, false);
    cairn_status st;
    cr_assert_eq(cairn_sub_open(sub, url, 65536, 0, on_pipe, s, &st), CAIRN_OK, "%s",
                 st.message);
}

Test(sub, a_new_connection_reported_before_the_old_ones_loss_leaves_it_connected)
{
    cairn_sub sub;
    seen s;
    char url[128];
    open_sub(&sub, &s, url, sizeof url);
    cairn_sub_pipe_event(&sub, true);  /* the first publisher */
    cr_expect(atomic_load(&s.connected));
    cairn_sub_pipe_event(&sub, true);  /* the restarted publisher, reported first */
    cairn_sub_pipe_event(&sub, false); /* the old one's loss, reported late */
    cr_expect(atomic_load(&s.connected),
              "the follower believes it is disconnected while connected to the new publisher");
    cr_expect_eq(atomic_load(&s.calls), 3, "every event is still a call (a reason to repair)");
    cairn_sub_pipe_event(&sub, false); /* and the new one goes too */
    cr_expect(!atomic_load(&s.connected));
    cairn_sub_close(&sub);
}

Test(sub, the_usual_order_loss_then_new_connection)
{
    cairn_sub sub;
    seen s;
    char url[128];
    open_sub(&sub, &s, url, sizeof url);
    cairn_sub_pipe_event(&sub, true);
    cairn_sub_pipe_event(&sub, false);
    cr_expect(!atomic_load(&s.connected));
    cairn_sub_pipe_event(&sub, true);
    cr_expect(atomic_load(&s.connected));
    cairn_sub_close(&sub);
}

static bool wait_connected(seen *s, bool want, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        if (atomic_load(&s->connected) == want)
            return true;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL); /* poll interval */
    }
    return atomic_load(&s->connected) == want;
}

Test(sub, a_publisher_that_restarts_is_followed_again)
{
    cairn_sub sub;
    seen s;
    char url[128];
    open_sub(&sub, &s, url, sizeof url);
    for (int round = 0; round < 20; round++) {
        nng_socket pub;
        cr_assert_eq(nng_pub0_open(&pub), 0);
        cr_assert_eq(nng_listen(pub, url, NULL, 0), 0, "round %d: listen %s", round, url);
        cr_expect(wait_connected(&s, true, 5000), "round %d: not connected", round);
        nng_close(pub); /* the publisher dies; the next round restarts it at once */
    }
    cr_expect(wait_connected(&s, false, 5000), "still connected after the last publisher");
    cairn_sub_close(&sub);
    unlink(url + strlen("ipc://"));
}
