/* The Distro engines together, in virtual time, on the failures of the design's "where Cairn
 * differs from Nacos" table: #1873 (stale lastBeat after a handover), #15857 (full-cluster
 * restart), #8099 (one dead peer). Each node is modelled by the engines the replicator's loop
 * will drive, with messages delivered by the test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "distro_grace.h"
#include "distro_load.h"
#include "distro_sync.h"

/* Sorted A < B < C; with all three "svc-1" -> C; with A and B "svc-1" -> B. */
static const char *A = "127.0.0.1:8848", *B = "127.0.0.2:8848", *C = "127.0.0.3:8848";

#define EXPIRE_MS 15000 /* an instance is unhealthy after 15 s without a beat (Nacos) */

/* One instance of svc-1 as B's healthcheck holds it: C owned it and beat-checked it; B holds a
 * copy whose lastBeat is the one C's last sync carried. The client beats every 5 s to C until C
 * dies at 100 s; it reaches B from 104 s on. B's sweep runs every second from the handover on.
 * Returns when the instance expired on B, or -1 if it never did before 130 s. */
static int64_t handover(bool grace)
{
    const char *three[] = {A, B, C}, *two[] = {A, B};
    distro_view *before = distro_view_new(three, 3, B), *after = distro_view_new(two, 2, B);
    cr_assert(before && after);
    cr_assert_not(distro_view_self_owns(before, "DEFAULT_GROUP@@svc-1"));
    int64_t last_beat = 86000; /* the last sync from C carried a 14 s old beat */
    int64_t expired_at = -1;
    for (int64_t t = 101000; t <= 130000 && expired_at < 0; t += 1000) {
        if (t == 101000 && grace && distro_grace_newly_owned(before, after, "DEFAULT_GROUP@@svc-1"))
            last_beat = t; /* the view change (C DOWN) reaches B's healthcheck */
        if (t >= 104000 && (t - 104000) % 5000 == 0)
            last_beat = t; /* the client found B */
        if (distro_grace_may_expire(true, after, "DEFAULT_GROUP@@svc-1") &&
            t - last_beat >= EXPIRE_MS)
            expired_at = t;
    }
    distro_view_free(before);
    distro_view_free(after);
    return expired_at;
}

Test(distro_scenarios, handover_gives_a_full_grace_period_1873)
{
    cr_expect_eq(handover(false), 101000); /* Nacos: expired at the first sweep */
    cr_expect_eq(handover(true), -1);      /* Cairn: the beating instance lives */
}

/* #15857: all three nodes restart with data; B's store misses the newest registrations (an
 * incomplete snapshot, were anyone to load it). Nobody loads from a STARTING node, so nobody
 * replaces its data with B's: each warm-starts from its own store. A node that starts later
 * (C, 3 s late) finds READY peers then and loads from one. */
Test(distro_scenarios, full_cluster_restart_15857)
{
    const char *ids[] = {A, B, C};
    int64_t starts[] = {0, 200, 3000};
    distro_load_config cfg;
    distro_load_config_defaults(&cfg);
    distro_load *node[3] = {NULL};
    char trace[3][16] = {{0}};
    const char *source[3] = {NULL};
    for (int64_t t = 0; t <= 12000; t += 100) {
        for (int i = 0; i < 3; i++) {
            if (t == starts[i]) {
                const char *peers[2] = {ids[(i + 1) % 3], ids[(i + 2) % 3]};
                node[i] = distro_load_new(&cfg, peers, 2, false, t);
                distro_load_set_raft_caught_up(node[i], true);
            }
        }
        if (t % 500 == 0) /* PING every 500 ms between live nodes */
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    if (i != j && node[i] && node[j])
                        distro_load_peer_report(node[i], ids[j],
                                                distro_load_ready(node[j]) ? DISTRO_REMOTE_READY
                                                                           : DISTRO_REMOTE_STARTING,
                                                false, t);
        for (int i = 0; i < 3; i++) {
            distro_load_action a;
            for (int k = 0; node[i] && k < 8; k++) {
                distro_load_step(node[i], t, &a);
                if (a.kind == DISTRO_LOAD_WAIT)
                    break;
                strncat(trace[i], &"-FCWR"[a.kind], 1);
                if (a.kind == DISTRO_LOAD_FETCH_PAGE) {
                    source[i] = a.peer;
                    cr_assert(distro_load_ready(node[strcmp(a.peer, A) == 0   ? 0
                                                      : strcmp(a.peer, B) == 0 ? 1
                                                                               : 2]),
                              "a load from a peer that is not READY");
                    distro_load_page_ok(node[i], a.request, NULL, true, t);
                }
            }
        }
    }
    cr_expect_str_eq(trace[0], "WR"); /* A and B: warm start after load_wait */
    cr_expect_str_eq(trace[1], "WR");
    cr_expect_str_eq(trace[2], "FCR"); /* C: loaded from a READY peer */
    cr_expect_str_eq(source[2], A);
    for (int i = 0; i < 3; i++) {
        cr_expect(distro_load_ready(node[i]));
        distro_load_free(node[i]);
    }
}

/* #8099: the owner A syncs to B and C; C is killed at 1 s (SUSPICIOUS at 1.5 s, DOWN at 2.5 s).
 * Writes every 10 ms to 20 services. B's lag never exceeds the flush delay plus a round trip;
 * C's set is kept while SUSPICIOUS and dropped once DOWN, and costs B nothing. */
Test(distro_scenarios, one_dead_peer_stalls_nobody_8099)
{
    distro_sync_config cfg;
    distro_sync_config_defaults(&cfg);
    distro_sync *to_b = distro_sync_new(&cfg, B), *to_c = distro_sync_new(&cfg, C);
    distro_sync_set_peer_state(to_b, DISTRO_PEER_UP, 0);
    distro_sync_set_peer_state(to_c, DISTRO_PEER_UP, 0);
    char names[20][32];
    int64_t worst_b_lag = 0;
    uint64_t b_pending = 0, c_pending = 0;
    int64_t b_reply_at = -1;
    for (int64_t t = 0; t < 4000; t++) {
        if (t % 10 == 0) {
            int i = (int)(t / 10) % 20;
            snprintf(names[i], sizeof names[i], "DEFAULT_GROUP@@s%d", i);
            distro_key k = {"public", names[i]};
            cr_assert_eq(distro_sync_mark_dirty(to_b, &k, t), 0);
            cr_assert_eq(distro_sync_mark_dirty(to_c, &k, t), 0);
        }
        if (t == 1500)
            distro_sync_set_peer_state(to_c, DISTRO_PEER_SUSPICIOUS, t);
        if (t == 2500)
            distro_sync_set_peer_state(to_c, DISTRO_PEER_DOWN, t);
        distro_sync_batch b;
        if (b_pending && t == b_reply_at) {
            distro_sync_batch_done(to_b, b_pending, t);
            b_pending = 0;
        }
        if (!b_pending && distro_sync_take_batch(to_b, t, &b)) {
            b_pending = b.id;
            b_reply_at = t + 1; /* 1 ms round trip */
        }
        if (c_pending && t >= 1000 && t % 2000 == 0) { /* C is dead: requests time out */
            distro_sync_batch_failed(to_c, c_pending, DISTRO_SYNC_FAIL_TIMEOUT, t);
            c_pending = 0;
        }
        if (!c_pending && distro_sync_take_batch(to_c, t, &b)) {
            if (t < 1000)
                distro_sync_batch_done(to_c, b.id, t);
            else
                c_pending = b.id;
        }
        distro_sync_stats st;
        distro_sync_get_stats(to_b, t, &st);
        if (st.lag_ms > worst_b_lag)
            worst_b_lag = st.lag_ms;
        if (t == 2400) {
            distro_sync_get_stats(to_c, t, &st);
            cr_expect_eq(st.dirty, 20); /* SUSPICIOUS: kept */
        }
    }
    cr_expect_leq(worst_b_lag, 51);
    distro_sync_stats st;
    distro_sync_get_stats(to_c, 4000, &st);
    cr_expect_eq(st.dirty, 0); /* DOWN: dropped */
    cr_expect_gt(st.dropped, 0);
    distro_sync_free(to_b);
    distro_sync_free(to_c);
}
