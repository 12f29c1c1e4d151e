/* Verify rounds (owner side) in virtual time (replicator/distro_verify.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "distro_verify.h"

/* Sorted A < B < C; with all three "demo" -> B, "svc-1" -> C, "svc-3" -> A. */
static const char *A = "127.0.0.1:8848", *B = "127.0.0.2:8848", *C = "127.0.0.3:8848";

static distro_verify *make(void)
{
    distro_verify_config cfg;
    distro_verify_config_defaults(&cfg);
    distro_verify *v = distro_verify_new(&cfg, (const char *[]){B, C}, 2);
    cr_assert_not_null(v);
    return v;
}

static distro_verify_stats stats(distro_verify *v, const char *peer)
{
    distro_verify_stats st;
    cr_assert(distro_verify_get_stats(v, peer, &st));
    return st;
}

/* Starts every due round; returns how many, the last in *r. */
static int start_all(distro_verify *v, int64_t now, distro_verify_round *r)
{
    int n = 0;
    distro_verify_round tmp;
    while (distro_verify_start_round(v, now, &tmp) && n < 10) {
        *r = tmp;
        n++;
    }
    return n;
}

Test(distro_verify, defaults)
{
    distro_verify_config c;
    distro_verify_config_defaults(&c);
    cr_expect_eq(c.interval_ms, 5000);
}

Test(distro_verify, only_ready_to_ready_one_interval_after)
{
    distro_verify *v = make();
    distro_verify_round r = {0};
    distro_verify_set_peer_ready(v, B, true, 0);
    cr_expect_eq(distro_verify_next_due_ms(v, 0), INT64_MAX); /* self not READY */
    cr_expect_eq(start_all(v, 100000, &r), 0);
    distro_verify_set_self_ready(v, true, 1000);
    cr_expect_eq(distro_verify_next_due_ms(v, 1000), 6000);
    cr_expect_eq(start_all(v, 5999, &r), 0);
    cr_expect_eq(start_all(v, 6000, &r), 1);
    cr_expect_str_eq(r.peer, B); /* C is not READY: no round to it */
    cr_expect(stats(v, B).in_flight);
    cr_expect_not(stats(v, C).in_flight);
    distro_verify_free(v);
}

Test(distro_verify, clean_round_sets_last_clean_verify)
{
    distro_verify *v = make();
    distro_verify_round r = {0};
    distro_verify_set_self_ready(v, true, 0);
    distro_verify_set_peer_ready(v, B, true, 0);
    cr_expect_eq(stats(v, B).last_clean_ms, -1);
    cr_assert_eq(start_all(v, 5000, &r), 1);
    distro_verify_on_buckets(v, B, r.id, 0, 5003);
    distro_verify_stats st = stats(v, B);
    cr_expect_eq(st.last_clean_ms, 5003);
    cr_expect_eq(st.rounds[DISTRO_ROUND_CLEAN], 1);
    cr_expect_not(st.in_flight);
    cr_expect_eq(distro_verify_next_due_ms(v, 5003), 10000);
    distro_verify_free(v);
}

typedef struct repairs {
    char text[512];
} repairs;

static void collect(void *ctx, distro_repair_kind kind, const char *peer, const distro_key *k)
{
    repairs *out = ctx;
    char line[128];
    snprintf(line, sizeof line, "%s %s %s;", kind == DISTRO_REPAIR_SEND ? "send" : "fetch",
             strchr(k->service, '@') + 2, peer);
    strcat(out->text, line);
}

Test(distro_verify, answers_become_repairs_skipping_what_is_not_ours)
{
    distro_view *va = distro_view_new((const char *[]){A, B, C}, 3, A);
    distro_verify *v = make();
    distro_verify_round r = {0};
    distro_verify_set_self_ready(v, true, 0);
    distro_verify_set_peer_ready(v, B, true, 0);
    cr_assert_eq(start_all(v, 5000, &r), 1);
    distro_verify_on_buckets(v, B, r.id, 2, 5001);
    /* svc-3 is A's; demo is B's (ownership moved during the round): skipped, not aborted */
    distro_key want1[] = {{"public", "DEFAULT_GROUP@@demo"}, {"public", "DEFAULT_GROUP@@svc-3"}};
    distro_key offer1[] = {{"dev", "DEFAULT_GROUP@@svc-3"}};
    distro_verify_answer a1 = {want1, 2, offer1, 1};
    repairs out = {{0}};
    distro_verify_on_keys(v, B, r.id, &a1, va, collect, &out, 5002);
    cr_expect_str_eq(out.text, "send svc-3 127.0.0.2:8848;fetch svc-3 127.0.0.2:8848;");
    cr_expect(stats(v, B).in_flight); /* one bucket left */
    /* the second bucket: an offer of a service B owns now is not fetched either */
    distro_key moved = {"public", "DEFAULT_GROUP@@demo"};
    distro_verify_answer a2 = {NULL, 0, &moved, 1};
    memset(&out, 0, sizeof out);
    distro_verify_on_keys(v, B, r.id, &a2, va, collect, &out, 5003);
    cr_expect_str_eq(out.text, "");
    distro_verify_stats st = stats(v, B);
    cr_expect_not(st.in_flight);
    cr_expect_eq(st.rounds[DISTRO_ROUND_REPAIRED], 1);
    cr_expect_eq(st.last_clean_ms, -1); /* a round with mismatches is not clean */
    cr_expect_eq(st.sent, 1);
    cr_expect_eq(st.fetched, 1);
    cr_expect_eq(st.skipped_not_owner, 2);
    distro_verify_free(v);
    distro_view_free(va);
}

Test(distro_verify, never_two_rounds_to_one_peer)
{
    distro_verify_config cfg = {5000, 20000};
    distro_verify *v = distro_verify_new(&cfg, (const char *[]){B}, 1);
    distro_verify_round r = {0};
    distro_verify_set_self_ready(v, true, 0);
    distro_verify_set_peer_ready(v, B, true, 0);
    cr_assert_eq(start_all(v, 5000, &r), 1);
    uint64_t first = r.id;
    distro_verify_on_buckets(v, B, first, 3, 5001);
    /* the next interval comes while the round still runs: no second round */
    cr_expect_eq(start_all(v, 10000, &r), 0);
    cr_expect_eq(start_all(v, 12000, &r), 0);
    distro_key none[1];
    distro_verify_answer empty = {none, 0, none, 0};
    for (int i = 0; i < 3; i++)
        distro_verify_on_keys(v, B, first, &empty, NULL, NULL, NULL, 12001);
    /* ended late: the next starts at once */
    cr_expect_eq(distro_verify_next_due_ms(v, 12001), 10000);
    cr_assert_eq(start_all(v, 12001, &r), 1);
    cr_expect_neq(r.id, first);
    distro_verify_free(v);
}

Test(distro_verify, timeout_failure_and_stale_answers)
{
    distro_verify *v = make();
    distro_verify_round r = {0};
    distro_verify_set_self_ready(v, true, 0);
    distro_verify_set_peer_ready(v, B, true, 0);
    cr_assert_eq(start_all(v, 5000, &r), 1);
    cr_expect_eq(distro_verify_next_due_ms(v, 5000), 10000); /* timeout == next interval */
    uint64_t lost = r.id;
    cr_assert_eq(start_all(v, 10000, &r), 1); /* times the first out, starts the next */
    cr_expect_eq(stats(v, B).rounds[DISTRO_ROUND_TIMEOUT], 1);
    distro_verify_on_buckets(v, B, lost, 0, 10001); /* late: ignored */
    cr_expect_eq(stats(v, B).last_clean_ms, -1);
    distro_verify_round_failed(v, B, r.id, 10002);
    cr_expect_eq(stats(v, B).rounds[DISTRO_ROUND_FAILED], 1);
    cr_expect_not(stats(v, B).in_flight);
    cr_expect_str_eq(distro_round_result_name(DISTRO_ROUND_TIMEOUT), "timeout");
    distro_verify_free(v);
}

Test(distro_verify, peer_leaving_ready_abandons_its_round)
{
    distro_verify *v = make();
    distro_verify_round r = {0};
    distro_verify_set_self_ready(v, true, 0);
    distro_verify_set_peer_ready(v, B, true, 0);
    cr_assert_eq(start_all(v, 5000, &r), 1);
    distro_verify_set_peer_ready(v, B, false, 5100);
    distro_verify_stats st = stats(v, B);
    cr_expect_not(st.in_flight);
    cr_expect_eq(st.rounds[DISTRO_ROUND_ABANDONED], 1);
    distro_verify_on_buckets(v, B, r.id, 0, 5200); /* ignored */
    cr_expect_eq(stats(v, B).rounds[DISTRO_ROUND_CLEAN], 0);
    cr_expect_eq(distro_verify_next_due_ms(v, 5200), INT64_MAX);
    /* it returns: one interval later */
    distro_verify_set_peer_ready(v, B, true, 6000);
    cr_expect_eq(distro_verify_next_due_ms(v, 6000), 11000);
    distro_verify_free(v);
}

/* One dead peer stalls nobody: C never answers; B's rounds run clean every interval. */
Test(distro_verify, dead_peer_does_not_stall_rounds_to_others)
{
    distro_verify *v = make();
    distro_verify_set_self_ready(v, true, 0);
    distro_verify_set_peer_ready(v, B, true, 0);
    distro_verify_set_peer_ready(v, C, true, 0);
    for (int64_t t = 5000; t <= 50000; t += 5000) {
        distro_verify_round r = {0};
        int started = 0;
        while (distro_verify_start_round(v, t, &r) && started < 4) {
            started++;
            if (strcmp(r.peer, B) == 0)
                distro_verify_on_buckets(v, B, r.id, 0, t + 2);
        }
        cr_expect_eq(started, 2, "t=%lld", (long long)t);
    }
    cr_expect_eq(stats(v, B).rounds[DISTRO_ROUND_CLEAN], 10);
    cr_expect_eq(stats(v, B).last_clean_ms, 50002);
    cr_expect_eq(stats(v, C).rounds[DISTRO_ROUND_TIMEOUT], 9);
    cr_expect_eq(stats(v, C).last_clean_ms, -1);
    distro_verify_free(v);
}

/* Random readiness changes, answers, failures and silence (fixed seed), with the rules checked
 * on every round started: both ends READY, no round open to that peer (answered, failed,
 * abandoned, or silent for the timeout), at least an interval since the last one; and every
 * round started ends with exactly one result. */
typedef struct open_round {
    uint64_t id;
    int64_t started, last_activity;
    size_t buckets; /* 0: waiting for the buckets answer */
    bool open;
} open_round;

static void random_verify_event(distro_verify *v, uint32_t *seed, open_round *o, bool *ready,
                                bool *self_ready, int64_t now)
{
    static const char *const ps[2] = {"127.0.0.2:8848", "127.0.0.3:8848"};
    *seed = *seed * 1103515245u + 12345u;
    uint32_t r = (*seed >> 16) % 1000;
    int p = (int)((*seed >> 8) & 1);
    if (r < 2) {
        *self_ready = !*self_ready;
        distro_verify_set_self_ready(v, *self_ready, now);
        if (!*self_ready)
            o[0].open = o[1].open = false;
    } else if (r < 7) {
        ready[p] = !ready[p];
        distro_verify_set_peer_ready(v, ps[p], ready[p], now);
        if (!ready[p])
            o[p].open = false;
    } else if (p == 1 && r >= 7 && (*seed >> 3) % 8 != 0) {
        return; /* C answers slowly: its rounds run into the next interval */
    } else if (r < 300 && o[p].open && o[p].buckets == 0) {
        size_t n = (*seed >> 4) % 3;
        distro_verify_on_buckets(v, ps[p], o[p].id, n, now);
        o[p].buckets = n;
        o[p].open = n > 0;
        o[p].last_activity = now;
    } else if (r < 500 && o[p].open && o[p].buckets > 0) {
        distro_verify_answer a = {NULL, 0, NULL, 0};
        distro_verify_on_keys(v, ps[p], o[p].id, &a, NULL, NULL, NULL, now);
        o[p].open = --o[p].buckets > 0;
        o[p].last_activity = now;
    } else if (r < 530 && o[p].open) {
        distro_verify_round_failed(v, ps[p], o[p].id, now);
        o[p].open = false;
    }
}

Test(distro_verify, random_events_keep_the_round_rules)
{
    distro_verify_config cfg = {1000, 900};
    distro_verify *v = distro_verify_new(&cfg, (const char *[]){B, C}, 2);
    open_round o[2] = {{0}};
    int64_t last_start[2] = {-100000, -100000};
    bool ready[2] = {false, false}, self_ready = false;
    uint64_t started = 0;
    uint32_t seed = 99;
    for (int64_t now = 0; now < 300000; now += 37) {
        random_verify_event(v, &seed, o, ready, &self_ready, now);
        for (int p = 0; p < 2; p++) /* silence ends a round at its timeout */
            if (o[p].open && now >= o[p].last_activity + cfg.round_timeout_ms)
                o[p].open = false;
        distro_verify_round r;
        while (distro_verify_start_round(v, now, &r)) {
            int p = strcmp(r.peer, B) == 0 ? 0 : 1;
            cr_assert(self_ready && ready[p], "t=%lld", (long long)now);
            cr_assert_not(o[p].open, "t=%lld: two rounds to one peer", (long long)now);
            cr_assert_geq(now - last_start[p], cfg.interval_ms);
            last_start[p] = now;
            o[p] = (open_round){r.id, now, now, 0, true};
            started++;
        }
    }
    uint64_t ended = 0;
    for (int p = 0; p < 2; p++) {
        distro_verify_stats st = stats(v, p == 0 ? B : C);
        for (int k = 0; k < DISTRO_ROUND_RESULT_COUNT; k++)
            ended += st.rounds[k];
        ended += st.in_flight;
        cr_expect_eq(st.in_flight, o[p].open);
    }
    cr_expect_eq(ended, started);
    cr_expect_gt(started, 100, "started %llu", (unsigned long long)started);
    distro_verify_free(v);
}
