/* The start/load state machine in virtual time (replicator/distro_load.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "distro_load.h"

static const char *B = "127.0.0.2:8848", *C = "127.0.0.3:8848";

static distro_load *make(size_t n_peers, bool fresh)
{
    distro_load_config cfg;
    distro_load_config_defaults(&cfg);
    const char *peers[] = {C, B}; /* unsorted on purpose */
    distro_load *l = distro_load_new(&cfg, n_peers == 1 ? &peers[1] : peers, n_peers, fresh, 0);
    cr_assert_not_null(l);
    return l;
}

/* Steps until WAIT; returns the non-WAIT actions' kinds as letters (F fetch, C commit,
 * W warm start, R ready) and leaves the last action in *last. */
static const char *run(distro_load *l, int64_t now, distro_load_action *last)
{
    static char trace[32];
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        distro_load_step(l, now, last);
        if (last->kind == DISTRO_LOAD_WAIT)
            break;
        trace[k++] = "-FCWR"[last->kind];
        if (last->kind == DISTRO_LOAD_FETCH_PAGE)
            break; /* one page at a time: the caller answers it */
    }
    trace[k] = '\0';
    return trace;
}

Test(distro_load, defaults)
{
    distro_load_config c;
    distro_load_config_defaults(&c);
    cr_expect_eq(c.load_wait_ms, 5000);
    cr_expect_eq(c.raft_ready_timeout_ms, 10000);
}

Test(distro_load, single_member_ready_at_once)
{
    distro_load_action a;
    distro_load *fresh = make(0, true), *warm = make(0, false);
    distro_load_set_raft_caught_up(fresh, true);
    distro_load_set_raft_caught_up(warm, true);
    cr_expect_str_eq(run(fresh, 0, &a), "R");
    cr_expect_str_eq(distro_load_reason(fresh), "ready: single member");
    cr_expect_str_eq(run(warm, 0, &a), "WR");
    cr_expect(distro_load_ready(warm));
    cr_expect_eq(a.at_ms, INT64_MAX);
    distro_load_free(fresh);
    distro_load_free(warm);
}

Test(distro_load, ready_peer_is_paged_and_replaces)
{
    distro_load_action a;
    distro_load *l = make(2, false);
    distro_load_set_raft_caught_up(l, true);
    cr_expect_str_eq(run(l, 0, &a), "");
    cr_expect_eq(a.at_ms, 5000);
    distro_load_peer_report(l, C, DISTRO_REMOTE_STARTING, false, 10);
    distro_load_peer_report(l, B, DISTRO_REMOTE_READY, false, 10);
    cr_assert_str_eq(run(l, 10, &a), "F");
    cr_expect_str_eq(a.peer, B);
    cr_expect_str_eq(a.cursor, "");
    cr_expect(a.first_page);
    cr_expect_eq(distro_load_phase(l), DISTRO_PHASE_LOADING);
    cr_expect_str_eq(distro_load_reason(l), "loading from 127.0.0.2:8848 (page 1)");
    uint64_t r1 = a.request;
    cr_expect_str_eq(run(l, 11, &a), ""); /* one page in flight */
    distro_load_page_ok(l, r1, "cursor-2", false, 20);
    cr_assert_str_eq(run(l, 20, &a), "F");
    cr_expect_str_eq(a.cursor, "cursor-2");
    cr_expect_not(a.first_page);
    distro_load_page_ok(l, a.request, NULL, true, 30);
    cr_assert_str_eq(run(l, 30, &a), "CR");
    cr_expect_str_eq(distro_load_reason(l), "ready: loaded from 127.0.0.2:8848");
    distro_load_stats st;
    distro_load_get_stats(l, &st);
    cr_expect_eq(st.pages, 2);
    cr_expect_eq(st.load_ms, 30);
    cr_expect_not(st.warm_started);
    distro_load_free(l);
}

/* #15857: a full-cluster restart. Every peer is STARTING, some with data; nobody loads from a
 * STARTING peer's (incomplete) snapshot; each warm-starts from its own store after load_wait. */
Test(distro_load, full_cluster_restart_warm_starts_never_loads_from_a_starting_peer)
{
    distro_load_action a;
    distro_load *l = make(2, false);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_STARTING, false, 100);
    distro_load_peer_report(l, C, DISTRO_REMOTE_STARTING, false, 100);
    for (int64_t t = 0; t < 5000; t += 250) {
        cr_assert_str_eq(run(l, t, &a), "", "t=%lld", (long long)t);
        cr_expect_eq(a.at_ms, 5000);
    }
    cr_expect_str_eq(run(l, 5000, &a), "WR");
    cr_expect_str_eq(distro_load_reason(l),
                     "ready: warm start from the local store, no READY peer");
    distro_load_free(l);
}

Test(distro_load, warm_start_when_no_peer_answers)
{
    distro_load_action a;
    distro_load *l = make(2, false);
    distro_load_set_raft_caught_up(l, true);
    cr_expect_str_eq(run(l, 4999, &a), "");
    cr_expect_str_eq(run(l, 5000, &a), "WR");
    distro_load_free(l);
}

Test(distro_load, fresh_store_never_warm_starts_while_a_peer_reports_data)
{
    distro_load_action a;
    distro_load *l = make(2, true);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_STARTING, false, 0);
    distro_load_peer_report(l, C, DISTRO_REMOTE_STARTING, true, 0);
    cr_expect_str_eq(run(l, 60000, &a), "");
    cr_expect_eq(a.at_ms, INT64_MAX);
    cr_expect_str_eq(distro_load_reason(l),
                     "starting: fresh store, waiting for a peer that holds data to be READY");
    /* B warm-starts and turns READY: the fresh node loads from it */
    distro_load_peer_report(l, B, DISTRO_REMOTE_READY, false, 60001);
    cr_assert_str_eq(run(l, 60001, &a), "F");
    cr_expect_str_eq(a.peer, B);
    distro_load_free(l);
}

Test(distro_load, brand_new_cluster_ready_at_once)
{
    distro_load_action a;
    distro_load *l = make(2, true);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_STARTING, true, 5);
    cr_expect_str_eq(run(l, 5, &a), ""); /* C not heard yet */
    distro_load_peer_report(l, C, DISTRO_REMOTE_STARTING, true, 6);
    cr_expect_str_eq(run(l, 6, &a), "R");
    cr_expect_str_eq(distro_load_reason(l), "ready: new cluster");
    distro_load_free(l);
}

Test(distro_load, fresh_and_alone_waits_fresh_with_fresh_peers_goes_ready)
{
    distro_load_action a;
    distro_load *alone = make(2, true), *some = make(2, true);
    distro_load_set_raft_caught_up(alone, true);
    distro_load_set_raft_caught_up(some, true);
    cr_expect_str_eq(run(alone, 100000, &a), "");
    cr_expect_str_eq(distro_load_reason(alone), "starting: fresh store and no peer answers");
    distro_load_peer_report(some, C, DISTRO_REMOTE_STARTING, true, 0);
    cr_expect_str_eq(run(some, 4999, &a), "");
    cr_expect_str_eq(run(some, 5000, &a), "R");
    cr_expect_str_eq(distro_load_reason(some), "ready: empty, no peer holds data");
    distro_load_free(alone);
    distro_load_free(some);
}

Test(distro_load, fresh_and_alone_goes_ready_empty_after_the_alone_bound)
{
    distro_load_config cfg;
    distro_load_config_defaults(&cfg);
    cfg.alone_wait_ms = 8000;
    const char *peers[] = {B, C};
    distro_load *l = distro_load_new(&cfg, peers, 2, true, 0);
    distro_load_set_raft_caught_up(l, true);
    distro_load_action a;
    cr_expect_str_eq(run(l, 6000, &a), "");
    cr_expect_eq(a.at_ms, 8000);
    cr_expect_str_eq(run(l, 8000, &a), "R");
    cr_expect_str_eq(distro_load_reason(l), "ready: empty, no peer answered");
    distro_load_free(l);
}

Test(distro_load, a_node_with_data_never_loads_a_fresh_ready_peer)
{
    distro_load_action a;
    distro_load *l = make(2, false);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_READY, true, 0);
    cr_expect_str_eq(run(l, 100, &a), "");
    cr_expect_str_eq(run(l, 5000, &a), "WR"); /* warm start once load_wait_ms is over */
    distro_load_free(l);
    /* the same peer holding data is a source */
    l = make(2, false);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_READY, false, 0);
    cr_expect_str_eq(run(l, 100, &a), "F");
    cr_expect_str_eq(a.peer, B);
    distro_load_free(l);
}

Test(distro_load, failed_load_moves_to_another_peer)
{
    distro_load_action a;
    distro_load *l = make(2, true);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_READY, false, 0);
    distro_load_peer_report(l, C, DISTRO_REMOTE_READY, false, 0);
    cr_assert_str_eq(run(l, 0, &a), "F");
    cr_expect_str_eq(a.peer, B);
    uint64_t rb = a.request;
    distro_load_page_ok(l, rb, "b-2", false, 10);
    cr_assert_str_eq(run(l, 10, &a), "F");
    distro_load_page_failed(l, a.request, 20);
    cr_assert_str_eq(run(l, 20, &a), "F");
    cr_expect_str_eq(a.peer, C);
    cr_expect_str_eq(a.cursor, "");
    cr_expect(a.first_page); /* a new replace: B's partial pages are discarded */
    /* a late answer from the abandoned load changes nothing */
    distro_load_page_ok(l, rb, NULL, true, 21);
    cr_expect_eq(distro_load_phase(l), DISTRO_PHASE_LOADING);
    distro_load_page_ok(l, a.request, NULL, true, 30);
    cr_expect_str_eq(run(l, 30, &a), "CR");
    cr_expect_str_eq(distro_load_reason(l), "ready: loaded from 127.0.0.3:8848");
    distro_load_stats st;
    distro_load_get_stats(l, &st);
    cr_expect_eq(st.failed_loads, 1);
    cr_expect_eq(st.pages, 2);
    distro_load_free(l);
}

Test(distro_load, source_lost_mid_load)
{
    distro_load_action a;
    distro_load *l = make(2, false);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_READY, false, 0);
    distro_load_peer_report(l, C, DISTRO_REMOTE_READY, false, 0);
    cr_assert_str_eq(run(l, 0, &a), "F");
    distro_load_peer_lost(l, B, 5);
    cr_assert_str_eq(run(l, 5, &a), "F");
    cr_expect_str_eq(a.peer, C);
    distro_load_peer_report(l, C, DISTRO_REMOTE_STOPPING, false, 6);
    /* no READY peer left, B rests, none answers STARTING: wait for load_wait, then warm */
    cr_expect_str_eq(run(l, 6, &a), "");
    cr_expect_eq(a.at_ms, 5000);
    cr_expect_str_eq(run(l, 5000, &a), "WR");
    distro_load_free(l);
}

Test(distro_load, only_ready_peer_failing_is_retried_never_warm_started)
{
    distro_load_action a;
    distro_load *l = make(1, false);
    distro_load_set_raft_caught_up(l, true);
    distro_load_peer_report(l, B, DISTRO_REMOTE_READY, false, 0);
    int64_t now = 4900;
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq(run(l, now, &a), "F", "attempt %d", i);
        distro_load_page_failed(l, a.request, now);
        cr_expect_str_eq(run(l, now, &a), "");
        cr_expect_eq(a.at_ms, now + 1000);
        now += 1000;
    }
    cr_expect_eq(distro_load_phase(l), DISTRO_PHASE_STARTING);
    distro_load_free(l);
}

Test(distro_load, ready_waits_for_raft_then_says_raft_lagging)
{
    distro_load_action a;
    distro_load *l = make(0, false), *m = make(0, false);
    cr_expect_str_eq(run(l, 0, &a), "W");
    cr_expect_eq(distro_load_phase(l), DISTRO_PHASE_CATCHING_UP);
    cr_expect_eq(a.at_ms, 10000);
    cr_expect_str_eq(distro_load_reason(l),
                     "starting: waiting for raft catch-up (single member)");
    cr_expect_str_eq(run(l, 9999, &a), "");
    cr_expect_str_eq(run(l, 10000, &a), "R");
    cr_expect_str_eq(distro_load_reason(l), "ready: single member; raft lagging");
    distro_load_stats st;
    distro_load_get_stats(l, &st);
    cr_expect(st.raft_lagging);
    /* caught up before the timeout: READY then, without the lagging note */
    cr_expect_str_eq(run(m, 0, &a), "W");
    distro_load_set_raft_caught_up(m, true);
    cr_expect_str_eq(run(m, 700, &a), "R");
    cr_expect_str_eq(distro_load_reason(m), "ready: single member");
    distro_load_free(l);
    distro_load_free(m);
}

Test(distro_load, unknown_peers_and_stray_reports_are_ignored)
{
    distro_load_action a;
    distro_load *l = make(1, false);
    distro_load_peer_report(l, "127.0.0.9:8848", DISTRO_REMOTE_READY, false, 0);
    distro_load_page_ok(l, 1, NULL, true, 0);
    distro_load_page_failed(l, 1, 0);
    cr_expect_str_eq(run(l, 0, &a), "");
    cr_expect_eq(distro_load_phase(l), DISTRO_PHASE_STARTING);
    distro_load_free(l);
}

/* Random peer reports, page results and time (fixed seeds), with the safety rules checked on
 * every action: a load only from a peer reported READY; never a warm start while a peer that
 * holds data is READY; a fresh store never turns empty-READY while a peer reports data or is READY; READY
 * is never left. Then every peer turns READY and answers: the node must get READY. */
typedef struct world {
    distro_remote_phase phase[2];
    bool fresh[2];
} world;

static const char *const peer_ids[2] = {"127.0.0.2:8848", "127.0.0.3:8848"};

static bool any(const world *w, distro_remote_phase ph, bool need_data)
{
    for (int i = 0; i < 2; i++)
        if (w->phase[i] == ph && (!need_data || !w->fresh[i]))
            return true;
    return false;
}

static void check_action(distro_load *l, const world *w, bool self_fresh,
                         const distro_load_action *a, distro_phase before)
{
    if (a->kind == DISTRO_LOAD_FETCH_PAGE)
        cr_assert_eq(w->phase[strcmp(a->peer, peer_ids[0]) == 0 ? 0 : 1], DISTRO_REMOTE_READY);
    if (a->kind == DISTRO_LOAD_WARM_START) /* a READY peer with a fresh store is no source */
        cr_assert_not(any(w, DISTRO_REMOTE_READY, true));
    if (self_fresh && before == DISTRO_PHASE_STARTING &&
        distro_load_phase(l) >= DISTRO_PHASE_CATCHING_UP) /* empty start, not a load */
        cr_assert_not(any(w, DISTRO_REMOTE_READY, false) || any(w, DISTRO_REMOTE_STARTING, true));
}

static void random_load_run(uint32_t seed, bool self_fresh)
{
    distro_load_config cfg;
    distro_load_config_defaults(&cfg);
    distro_load *l = distro_load_new(&cfg, peer_ids, 2, self_fresh, 0);
    world w = {{DISTRO_REMOTE_SILENT, DISTRO_REMOTE_SILENT}, {true, true}};
    uint64_t inflight = 0;
    bool was_ready = false;
    for (int64_t t = 0; t < 40000; t += 50) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = (seed >> 16) % 100, p = (seed >> 8) & 1;
        if (r < 10) {
            w.phase[p] = (distro_remote_phase)((seed >> 4) % 4);
            w.fresh[p] = (seed >> 2) & 1;
            distro_load_peer_report(l, peer_ids[p], w.phase[p], w.fresh[p], t);
        } else if (r < 30 && inflight) {
            if (r < 22)
                distro_load_page_ok(l, inflight, "next", r < 14, t);
            else
                distro_load_page_failed(l, inflight, t);
            inflight = 0;
        } else if (r == 30) {
            distro_load_set_raft_caught_up(l, true);
        }
        distro_load_action a;
        for (int k = 0; k < 8; k++) {
            distro_phase before = distro_load_phase(l);
            distro_load_step(l, t, &a);
            check_action(l, &w, self_fresh, &a, before);
            if (a.kind == DISTRO_LOAD_FETCH_PAGE)
                inflight = a.request;
            if (a.kind == DISTRO_LOAD_WAIT || a.kind == DISTRO_LOAD_FETCH_PAGE)
                break;
        }
        cr_assert(!was_ready || distro_load_ready(l));
        was_ready = distro_load_ready(l);
    }
    for (int i = 0; i < 2; i++)
        distro_load_peer_report(l, peer_ids[i], DISTRO_REMOTE_READY, false, 40000);
    distro_load_set_raft_caught_up(l, true);
    for (int64_t t = 40000; t < 60000 && !distro_load_ready(l); t += 100) {
        distro_load_action a;
        distro_load_step(l, t, &a);
        if (a.kind == DISTRO_LOAD_FETCH_PAGE)
            distro_load_page_ok(l, a.request, NULL, true, t);
    }
    cr_expect(distro_load_ready(l), "seed %u", seed);
    distro_load_free(l);
}

Test(distro_load, random_inputs_keep_the_safety_rules)
{
    for (uint32_t seed = 1; seed <= 200; seed++) {
        random_load_run(seed, seed % 2 == 0);
    }
}
