/* The per-peer sync scheduler in virtual time (replicator/distro_sync.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distro_sync.h"

static distro_key key(int i)
{
    static char names[4096][32];
    snprintf(names[i], sizeof names[i], "DEFAULT_GROUP@@svc-%d", i);
    return (distro_key){"public", names[i]};
}

static distro_sync *make(size_t batch_max, size_t max_bytes, distro_size_estimate_fn est)
{
    distro_sync_config cfg;
    distro_sync_config_defaults(&cfg);
    if (batch_max)
        cfg.batch_max_services = batch_max;
    if (max_bytes)
        cfg.batch_max_bytes = max_bytes;
    cfg.estimate = est;
    distro_sync *s = distro_sync_new(&cfg, "127.0.0.2:8848");
    cr_assert_not_null(s);
    distro_sync_set_peer_state(s, DISTRO_PEER_UP, 0);
    return s;
}

static void mark(distro_sync *s, int i, int64_t now)
{
    distro_key k = key(i);
    cr_assert_eq(distro_sync_mark_dirty(s, &k, now), 0);
}

static distro_sync_stats stats(distro_sync *s, int64_t now)
{
    distro_sync_stats st;
    distro_sync_get_stats(s, now, &st);
    return st;
}

Test(distro_sync, defaults_match_the_design)
{
    distro_sync_config c;
    distro_sync_config_defaults(&c);
    cr_expect_eq(c.sync_delay_ms, 50);
    cr_expect_eq(c.batch_max_services, 512);
    cr_expect_eq(c.batch_max_bytes, 1024 * 1024);
    cr_expect_eq(c.backoff_min_ms, 200);
    cr_expect_eq(c.backoff_max_ms, 5000);
}

Test(distro_sync, flush_50ms_after_the_first_change_not_a_debounce)
{
    distro_sync *s = make(0, 0, NULL);
    distro_sync_batch b;
    cr_expect_eq(distro_sync_next_due_ms(s, 0), INT64_MAX);
    mark(s, 1, 1000);
    mark(s, 2, 1030);
    mark(s, 1, 1040); /* a second change of the same service */
    mark(s, 3, 1049);
    cr_expect_eq(distro_sync_next_due_ms(s, 1049), 1050); /* still first + 50 */
    cr_expect_not(distro_sync_take_batch(s, 1049, &b));
    cr_assert(distro_sync_take_batch(s, 1050, &b));
    cr_assert_eq(b.n, 3); /* one entry per service, however many writes */
    cr_expect_str_eq(b.keys[0].service, "DEFAULT_GROUP@@svc-1");
    cr_expect_str_eq(b.keys[1].service, "DEFAULT_GROUP@@svc-2");
    cr_expect_str_eq(b.keys[2].service, "DEFAULT_GROUP@@svc-3");
    distro_sync_batch_done(s, b.id, 1051);
    distro_sync_stats st = stats(s, 1051);
    cr_expect_eq(st.dirty, 0);
    cr_expect_eq(st.syncs, 1);
    cr_expect_eq(st.services_synced, 3);
    cr_expect_eq(distro_sync_next_due_ms(s, 1051), INT64_MAX);
    distro_sync_free(s);
}

Test(distro_sync, full_batch_is_due_at_once)
{
    distro_sync *s = make(4, 0, NULL);
    for (int i = 0; i < 3; i++)
        mark(s, i, 100);
    cr_expect_eq(distro_sync_next_due_ms(s, 100), 150);
    mark(s, 3, 101);
    cr_expect_leq(distro_sync_next_due_ms(s, 101), 101);
    for (int i = 4; i < 10; i++)
        mark(s, i, 102);
    distro_sync_batch b;
    cr_assert(distro_sync_take_batch(s, 102, &b));
    cr_expect_eq(b.n, 4);
    /* one batch in flight: nothing more is due, however much is dirty */
    cr_expect_eq(distro_sync_next_due_ms(s, 500), INT64_MAX);
    cr_expect_not(distro_sync_take_batch(s, 500, &b));
    distro_sync_batch_done(s, b.id, 103);
    /* 6 left, more than a batch: due at once */
    cr_assert(distro_sync_take_batch(s, 103, &b));
    cr_expect_eq(b.n, 4);
    distro_sync_batch_done(s, b.id, 104);
    /* 2 left, first dirtied at 102: due at 152 */
    cr_expect_eq(distro_sync_next_due_ms(s, 104), 152);
    distro_sync_free(s);
}

/* A batch is one DISTRO_APPLY: a larger setting is cut to what the registry accepts. */
Test(distro_sync, batch_never_exceeds_what_one_apply_carries)
{
    distro_sync *s = make(CAIRN_DISTRO_MAX_STATES + 100, 0, NULL);
    for (int i = 0; i < CAIRN_DISTRO_MAX_STATES + 50; i++)
        mark(s, i, 100);
    distro_sync_batch b;
    cr_assert(distro_sync_take_batch(s, 100, &b));
    cr_expect_eq(b.n, CAIRN_DISTRO_MAX_STATES);
    distro_sync_batch_done(s, b.id, 101);
    cr_assert(distro_sync_take_batch(s, 150, &b));
    cr_expect_eq(b.n, 50);
    distro_sync_batch_done(s, b.id, 151);
    distro_sync_free(s);
}

Test(distro_sync, a_change_during_flight_is_kept_for_the_next_batch)
{
    distro_sync *s = make(0, 0, NULL);
    distro_sync_batch b;
    mark(s, 1, 0);
    mark(s, 2, 0);
    cr_assert(distro_sync_take_batch(s, 50, &b));
    mark(s, 2, 60); /* changed after the batch read its state */
    mark(s, 3, 70);
    distro_sync_batch_done(s, b.id, 80);
    distro_sync_stats st = stats(s, 80);
    cr_expect_eq(st.dirty, 2);
    cr_expect_eq(st.lag_ms, 20); /* svc-2's change at 60 is the oldest unconfirmed */
    cr_expect_eq(distro_sync_next_due_ms(s, 80), 110);
    cr_assert(distro_sync_take_batch(s, 110, &b));
    cr_assert_eq(b.n, 2);
    cr_expect_str_eq(b.keys[0].service, "DEFAULT_GROUP@@svc-2");
    cr_expect_str_eq(b.keys[1].service, "DEFAULT_GROUP@@svc-3");
    distro_sync_free(s);
}

Test(distro_sync, failure_keeps_the_set_and_backs_off_200ms_doubling_to_5s)
{
    distro_sync *s = make(0, 0, NULL);
    distro_sync_batch b;
    mark(s, 1, 0);
    int64_t now = 50;
    int64_t expect[] = {200, 400, 800, 1600, 3200, 5000, 5000};
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
        cr_assert(distro_sync_take_batch(s, now, &b), "attempt %zu", i);
        distro_sync_batch_failed(s, b.id, DISTRO_SYNC_FAIL_TIMEOUT, now);
        cr_expect_eq(stats(s, now).backoff_ms, expect[i]);
        cr_expect_eq(distro_sync_next_due_ms(s, now), now + expect[i]);
        cr_expect_not(distro_sync_take_batch(s, now + expect[i] - 1, &b));
        now += expect[i];
    }
    distro_sync_stats st = stats(s, now);
    cr_expect_eq(st.dirty, 1);
    cr_expect_eq(st.failures[DISTRO_SYNC_FAIL_TIMEOUT], 7);
    cr_expect_eq(st.lag_ms, now);
    cr_assert(distro_sync_take_batch(s, now, &b));
    distro_sync_batch_done(s, b.id, now);
    st = stats(s, now);
    cr_expect_eq(st.backoff_ms, 0);
    cr_expect_eq(st.dirty, 0);
    cr_expect_eq(st.lag_ms, 0);
    /* after a success the next change flushes on the ordinary schedule */
    mark(s, 2, now + 1);
    cr_expect_eq(distro_sync_next_due_ms(s, now + 1), now + 51);
    distro_sync_free(s);
}

Test(distro_sync, failures_counted_by_reason)
{
    distro_sync *s = make(0, 0, NULL);
    distro_sync_batch b;
    mark(s, 1, 0);
    distro_sync_failure reasons[] = {DISTRO_SYNC_FAIL_UNREACHABLE, DISTRO_SYNC_FAIL_REJECTED,
                                     DISTRO_SYNC_FAIL_REJECTED, DISTRO_SYNC_FAIL_REGISTRY};
    int64_t now = 50;
    for (size_t i = 0; i < 4; i++) {
        now = distro_sync_next_due_ms(s, now);
        cr_assert(distro_sync_take_batch(s, now, &b));
        distro_sync_batch_failed(s, b.id, reasons[i], now);
    }
    distro_sync_stats st = stats(s, now);
    cr_expect_eq(st.failures[DISTRO_SYNC_FAIL_UNREACHABLE], 1);
    cr_expect_eq(st.failures[DISTRO_SYNC_FAIL_REJECTED], 2);
    cr_expect_eq(st.failures[DISTRO_SYNC_FAIL_REGISTRY], 1);
    cr_expect_eq(st.failures[DISTRO_SYNC_FAIL_TIMEOUT], 0);
    cr_expect_str_eq(distro_sync_failure_name(DISTRO_SYNC_FAIL_TOO_LARGE), "too_large");
    distro_sync_free(s);
}

Test(distro_sync, stale_reports_are_ignored)
{
    distro_sync *s = make(0, 0, NULL);
    distro_sync_batch b;
    mark(s, 1, 0);
    cr_assert(distro_sync_take_batch(s, 50, &b));
    distro_sync_batch_done(s, b.id + 1, 51); /* not the batch in flight */
    distro_sync_batch_failed(s, 0, DISTRO_SYNC_FAIL_TIMEOUT, 51);
    cr_expect(stats(s, 51).in_flight);
    distro_sync_batch_done(s, b.id, 52);
    distro_sync_batch_done(s, b.id, 53); /* twice: no effect */
    cr_expect_eq(stats(s, 53).syncs, 1);
    distro_sync_free(s);
}

Test(distro_sync, suspicious_keeps_and_down_drops)
{
    distro_sync *s = make(0, 0, NULL);
    distro_sync_batch b;
    for (int i = 0; i < 5; i++)
        mark(s, i, 0);
    distro_sync_set_peer_state(s, DISTRO_PEER_SUSPICIOUS, 10);
    cr_expect_eq(stats(s, 10).dirty, 5);
    cr_assert(distro_sync_take_batch(s, 50, &b)); /* a SUSPICIOUS peer is still tried */
    mark(s, 7, 60);
    distro_sync_set_peer_state(s, DISTRO_PEER_DOWN, 70);
    distro_sync_stats st = stats(s, 70);
    cr_expect_eq(st.dirty, 0); /* the batch in flight counts as dropped too */
    cr_expect_eq(st.dropped, 6);
    cr_expect_eq(st.lag_ms, 0);
    cr_expect_str_eq(b.keys[4].service, "DEFAULT_GROUP@@svc-4"); /* still valid */
    mark(s, 8, 80); /* ignored while DOWN */
    cr_expect_eq(distro_sync_next_due_ms(s, 80), INT64_MAX);
    distro_sync_batch_failed(s, b.id, DISTRO_SYNC_FAIL_UNREACHABLE, 90);
    st = stats(s, 90);
    cr_expect_eq(st.dirty, 0);
    cr_expect_eq(st.dropped, 6);
    cr_expect_eq(st.backoff_ms, 0);
    /* it returns (and reloads): new changes flow at once on the ordinary schedule */
    distro_sync_set_peer_state(s, DISTRO_PEER_STARTING, 100);
    mark(s, 9, 100);
    cr_expect_eq(distro_sync_next_due_ms(s, 100), 150);
    distro_sync_free(s);
}

static size_t size_by_index(void *ctx, const distro_key *k)
{
    (void)ctx;
    int i = atoi(strrchr(k->service, '-') + 1);
    return i == 5 ? 3000 : 400; /* svc-5 is larger than a whole batch */
}

Test(distro_sync, batch_bounded_by_bytes_and_oversized_alone)
{
    distro_sync *s = make(0, 1000, size_by_index);
    distro_sync_batch b;
    for (int i = 1; i <= 7; i++)
        mark(s, i, i);
    cr_assert(distro_sync_take_batch(s, 51, &b));
    cr_expect_eq(b.n, 2); /* 400 + 400; a third would pass 1000 */
    cr_expect_eq(b.bytes, 800);
    distro_sync_batch_done(s, b.id, 52);
    cr_assert(distro_sync_take_batch(s, 53, &b));
    cr_expect_eq(b.n, 2); /* svc-3, svc-4; svc-5 would overflow */
    distro_sync_batch_done(s, b.id, 54);
    cr_assert(distro_sync_take_batch(s, 55, &b));
    cr_assert_eq(b.n, 1);
    cr_expect_str_eq(b.keys[0].service, "DEFAULT_GROUP@@svc-5");
    cr_expect(b.oversized);
    distro_sync_batch_done(s, b.id, 56);
    cr_assert(distro_sync_take_batch(s, 57, &b));
    cr_expect_eq(b.n, 2);
    cr_expect_not(b.oversized);
    cr_expect_eq(stats(s, 57).oversized, 1);
    distro_sync_free(s);
}

Test(distro_sync, backlog_bounded_by_services_not_writes)
{
    distro_sync *s = make(0, 0, NULL);
    for (int w = 0; w < 100000; w++)
        mark(s, w % 1000, w / 1000);
    cr_expect_eq(stats(s, 100).dirty, 1000);
    distro_sync_free(s);
}

Test(distro_sync, namespaces_are_distinct_services)
{
    distro_sync *s = make(0, 0, NULL);
    distro_key a = {"public", "DEFAULT_GROUP@@x"}, b = {"dev", "DEFAULT_GROUP@@x"};
    cr_assert_eq(distro_sync_mark_dirty(s, &a, 0), 0);
    cr_assert_eq(distro_sync_mark_dirty(s, &b, 0), 0);
    cr_expect_eq(stats(s, 0).dirty, 2);
    distro_sync_batch batch;
    cr_assert(distro_sync_take_batch(s, 50, &batch));
    cr_expect_str_eq(batch.keys[1].namespace_id, "dev");
    distro_sync_free(s);
}

/* #8099: one dead peer never stalls the others. Each peer has its own scheduler; peer 2 keeps
 * failing while peer 1 syncs every change on time. */
Test(distro_sync, one_dead_peer_does_not_stall_others)
{
    distro_sync *live = make(0, 0, NULL), *dead = make(0, 0, NULL);
    distro_sync_batch b;
    int64_t now = 0;
    uint64_t live_batches = 0;
    for (int i = 0; i < 150; i++, now += 100) {
        mark(live, i, now);
        mark(dead, i, now);
        for (int64_t t = now; t < now + 100; t++) {
            if (distro_sync_take_batch(live, t, &b)) {
                cr_expect_eq(t - now, 50);
                distro_sync_batch_done(live, b.id, t + 1);
                live_batches++;
            }
            if (distro_sync_take_batch(dead, t, &b))
                distro_sync_batch_failed(dead, b.id, DISTRO_SYNC_FAIL_TIMEOUT, t + 1);
        }
    }
    cr_expect_eq(live_batches, 150);
    cr_expect_eq(stats(live, now).dirty, 0);
    cr_expect_eq(stats(dead, now).dirty, 150);
    cr_expect_eq(stats(dead, now).backoff_ms, 5000);
    distro_sync_free(live);
    distro_sync_free(dead);
}

Test(distro_sync, change_after_return_survives_a_batch_dropped_by_down)
{
    distro_sync *s = make(0, 0, NULL);
    distro_sync_batch b;
    mark(s, 1, 0);
    mark(s, 2, 0);
    cr_assert(distro_sync_take_batch(s, 50, &b));
    distro_sync_set_peer_state(s, DISTRO_PEER_DOWN, 60);
    distro_sync_set_peer_state(s, DISTRO_PEER_STARTING, 70); /* back before the report */
    mark(s, 1, 80); /* a change after its return must reach it */
    cr_expect_eq(stats(s, 80).dirty, 1);
    distro_sync_set_peer_state(s, DISTRO_PEER_DOWN, 85);
    distro_sync_set_peer_state(s, DISTRO_PEER_UP, 86);
    mark(s, 1, 90);
    distro_sync_batch_done(s, b.id, 100); /* the old batch is confirmed late */
    distro_sync_stats st = stats(s, 100);
    cr_expect_eq(st.dirty, 1);
    cr_expect_eq(st.dropped, 3); /* svc-1 and svc-2 at 60, svc-1 again at 85 */
    cr_expect_eq(st.lag_ms, 10);
    cr_assert(distro_sync_take_batch(s, 140, &b));
    cr_assert_eq(b.n, 1);
    cr_expect_str_eq(b.keys[0].service, "DEFAULT_GROUP@@svc-1");
    distro_sync_free(s);
}

/* A model of the rules, checked against the scheduler over a long random run (fixed seed): a
 * service is unconfirmed from its first mark (while the peer is not DOWN) until a batch taken
 * after its latest mark is confirmed; a DOWN forgets everything. The scheduler's dirty count and
 * lag (age of the oldest unconfirmed change) must equal the model's at every step, and a final
 * run of successes must confirm everything. */
typedef struct model {
    int64_t last_mark[64];  /* sequence number of the latest mark, -1: clean */
    int64_t oldest[64];     /* time of the oldest unconfirmed change */
    int64_t marked_in_flight[64]; /* time of the first mark while in the batch, -1: none */
    int64_t batch_taken_at; /* sequence number of the take of the batch in flight */
    bool in_batch[64];
} model;

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static size_t model_dirty(const model *m)
{
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        n += m->last_mark[i] >= 0;
    return n;
}

static int64_t model_lag(const model *m, int64_t now)
{
    int64_t oldest = now;
    for (int i = 0; i < 64; i++)
        if (m->last_mark[i] >= 0 && m->oldest[i] < oldest)
            oldest = m->oldest[i];
    return now - oldest;
}

static void model_end_batch(model *m, bool confirmed)
{
    for (int i = 0; i < 64; i++) {
        if (confirmed && m->in_batch[i] && m->last_mark[i] >= 0) {
            if (m->last_mark[i] < m->batch_taken_at)
                m->last_mark[i] = -1;
            else
                m->oldest[i] = m->marked_in_flight[i];
        }
        m->marked_in_flight[i] = -1;
        m->in_batch[i] = false;
    }
}

static void model_mark(model *m, int i, int64_t seq, int64_t now)
{
    if (m->last_mark[i] < 0)
        m->oldest[i] = now;
    if (m->in_batch[i] && m->marked_in_flight[i] < 0)
        m->marked_in_flight[i] = now;
    m->last_mark[i] = seq;
}

/* Cumulative percentages of mark, take, done, fail, DOWN toggle. */
typedef struct profile {
    uint32_t mark, take, done, fail, toggle;
} profile;

static const profile profiles[] = {
    {60, 75, 85, 92, 94}, /* a healthy peer that sometimes fails */
    {70, 80, 81, 82, 92}, /* a slow peer whose batches hang while it flaps DOWN and back */
};

static void random_step(distro_sync *s, model *m, uint32_t *seed, int64_t seq, int64_t now,
                        uint64_t *inflight, bool *down)
{
    const profile *pr = &profiles[(seq / 1000) % 2];
    uint32_t r = lcg(seed) % 100;
    distro_sync_batch b;
    if (r < pr->mark) {
        int i = (int)(lcg(seed) % 64);
        mark(s, i, now);
        if (!*down)
            model_mark(m, i, seq, now);
    } else if (r < pr->take && !*inflight && distro_sync_take_batch(s, now, &b)) {
        *inflight = b.id;
        m->batch_taken_at = seq;
        for (size_t k = 0; k < b.n; k++)
            m->in_batch[atoi(strrchr(b.keys[k].service, '-') + 1)] = true;
    } else if (r >= pr->take && r < pr->done && *inflight) {
        distro_sync_batch_done(s, *inflight, now);
        model_end_batch(m, true);
        *inflight = 0;
    } else if (r >= pr->done && r < pr->fail && *inflight) {
        distro_sync_batch_failed(s, *inflight, DISTRO_SYNC_FAIL_TIMEOUT, now);
        model_end_batch(m, false);
        *inflight = 0;
    } else if (r >= pr->fail && r < pr->toggle) {
        *down = !*down;
        distro_sync_set_peer_state(s, *down ? DISTRO_PEER_DOWN : DISTRO_PEER_UP, now);
        if (*down)
            for (int i = 0; i < 64; i++)
                m->last_mark[i] = m->marked_in_flight[i] = -1;
    }
}

Test(distro_sync, random_run_matches_the_model)
{
    distro_sync *s = make(8, 0, NULL);
    model m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < 64; i++)
        m.last_mark[i] = m.marked_in_flight[i] = -1;
    uint32_t seed = 12345;
    uint64_t inflight = 0;
    bool down = false;
    int64_t now = 0;
    for (int64_t seq = 1; seq <= 200000; seq++) {
        now += lcg(&seed) % 3 == 0 ? 7 : 0;
        random_step(s, &m, &seed, seq, now, &inflight, &down);
        distro_sync_stats st = stats(s, now);
        cr_assert_eq(st.dirty, model_dirty(&m), "seq %lld", (long long)seq);
        cr_assert_eq(st.lag_ms, model_lag(&m, now), "seq %lld", (long long)seq);
    }
    if (inflight)
        distro_sync_batch_done(s, inflight, now);
    distro_sync_set_peer_state(s, DISTRO_PEER_UP, now);
    distro_sync_batch b;
    for (int i = 0; i < 100 && stats(s, now).dirty > 0; i++, now += 5000)
        if (distro_sync_take_batch(s, now, &b))
            distro_sync_batch_done(s, b.id, now);
    cr_expect_eq(stats(s, now).dirty, 0);
    distro_sync_free(s);
}

Test(distro_sync, only_an_owner_marks_and_it_marks_every_peer)
{
    /* sorted 127.0.0.1 < .2 < .3: "DEFAULT_GROUP@@svc-3" -> .1, "DEFAULT_GROUP@@svc-1" -> .3 */
    const char *m[] = {"127.0.0.1:8848", "127.0.0.2:8848", "127.0.0.3:8848"};
    distro_view *v = distro_view_new(m, 3, m[0]);
    cr_assert_not_null(v);
    distro_sync *peers[3] = {make(0, 0, NULL), NULL, make(0, 0, NULL)};
    distro_key owned = {"public", "DEFAULT_GROUP@@svc-3"}, other = {"public", "DEFAULT_GROUP@@svc-1"};
    cr_expect_eq(distro_sync_mark_owned(peers, 3, v, &owned, 5), 0);
    cr_expect_eq(distro_sync_mark_owned(peers, 3, v, &other, 5), 0);
    cr_expect_eq(stats(peers[0], 5).dirty, 1);
    cr_expect_eq(stats(peers[2], 5).dirty, 1);
    /* not READY (self out of its own list): owns nothing, marks nothing */
    distro_view *starting = distro_view_new(&m[1], 2, m[0]);
    distro_key k2 = {"public", "DEFAULT_GROUP@@demo"};
    cr_expect_eq(distro_sync_mark_owned(peers, 3, starting, &k2, 6), 0);
    cr_expect_eq(stats(peers[0], 6).dirty, 1);
    distro_sync_free(peers[0]);
    distro_sync_free(peers[2]);
    distro_view_free(v);
    distro_view_free(starting);
}
