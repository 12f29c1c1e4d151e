/* The listener's connection table (gateway_conns.h): admission and the read deadline, in
 * virtual time with a fake close and a fake "bytes since" probe. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "gateway_conns.h"

#define FDS 8

typedef struct fake {
    int closes[FDS];          /* ops.close calls per fd */
    int64_t last_byte_ms[FDS]; /* when fd last received bytes (-1: never) */
    int64_t now_ms;
} fake;

static void fake_close(void *arg, int fd)
{
    ((fake *)arg)->closes[fd]++;
}

static bool fake_receiving(void *arg, int fd, int64_t age_ms)
{
    fake *f = arg;
    return f->last_byte_ms[fd] >= 0 && f->now_ms - f->last_byte_ms[fd] < age_ms;
}

static gateway_conns *table(fake *f, size_t max, int64_t deadline_ms)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < FDS; i++)
        f->last_byte_ms[i] = -1;
    gateway_conns_ops ops = {.close = fake_close, .receiving = fake_receiving, .arg = f};
    gateway_conns *t = gateway_conns_new(max, deadline_ms, &ops);
    cr_assert_not_null(t);
    return t;
}

static size_t sweep_at(gateway_conns *t, fake *f, int64_t now_ms)
{
    f->now_ms = now_ms;
    return gateway_conns_sweep(t, now_ms);
}

Test(gateway_conns, admission_counts_open_connections)
{
    fake f;
    gateway_conns *t = table(&f, 2, 1000);
    cr_assert(gateway_conns_admit(t));
    gateway_conn *a = gateway_conns_add(t, 1, 0);
    gateway_conn *b = gateway_conns_add(t, 2, 0);
    cr_assert_eq(gateway_conns_count(t), 2);
    cr_assert_not(gateway_conns_admit(t));
    gateway_conns_remove(t, a);
    cr_assert(gateway_conns_admit(t));
    gateway_conns_remove(t, b);
    gateway_conns_remove(t, NULL);
    cr_assert_eq(gateway_conns_count(t), 0);
    gateway_conns_free(t);
}

/* Bytes that keep trickling in do not extend the deadline: it runs from the first one. */
Test(gateway_conns, trickle_is_cut_at_the_deadline)
{
    fake f;
    gateway_conns *t = table(&f, 8, 1000);
    gateway_conns_add(t, 1, 0);
    f.last_byte_ms[1] = 5; /* the request line, with the connection */
    for (int64_t now = 100; now < 1000; now += 100) {
        f.last_byte_ms[1] = now - 50; /* a header line every 100 ms */
        cr_assert_eq(sweep_at(t, &f, now), 0, "cut at %lld", (long long)now);
    }
    f.last_byte_ms[1] = 950;
    cr_assert_eq(sweep_at(t, &f, 1000), 1);
    cr_assert_eq(f.closes[1], 1);
    cr_assert_eq(sweep_at(t, &f, 2000), 0, "closed twice");
    gateway_conns_free(t);
}

/* An idle connection (nothing since it was armed) is left to the idle timeout, and its deadline
 * starts with its first byte, give or take one sweep. */
Test(gateway_conns, idle_connection_is_not_cut_and_its_time_starts_late)
{
    fake f;
    gateway_conns *t = table(&f, 8, 1000);
    gateway_conns_add(t, 1, 0);
    for (int64_t now = 100; now <= 5000; now += 100)
        cr_assert_eq(sweep_at(t, &f, now), 0);
    f.last_byte_ms[1] = 5050; /* the first byte of a request, after 5 s of silence */
    for (int64_t now = 5100; now < 6000; now += 100) {
        f.last_byte_ms[1] = now - 10;
        cr_assert_eq(sweep_at(t, &f, now), 0, "cut at %lld", (long long)now);
    }
    f.last_byte_ms[1] = 5990;
    cr_assert_eq(sweep_at(t, &f, 6000), 1);
    gateway_conns_free(t);
}

/* A request being handled (deferred on a role, or its response being sent) is never cut; the
 * next request's time starts when the connection is armed again. */
Test(gateway_conns, disarmed_connection_is_never_cut)
{
    fake f;
    gateway_conns *t = table(&f, 8, 1000);
    gateway_conn *c = gateway_conns_add(t, 3, 0);
    f.last_byte_ms[3] = 10;
    cr_assert_eq(sweep_at(t, &f, 100), 0);
    gateway_conn_disarm(c); /* the request is in */
    for (int64_t now = 200; now <= 10000; now += 100) {
        f.last_byte_ms[3] = now; /* whatever comes meanwhile */
        cr_assert_eq(sweep_at(t, &f, now), 0);
    }
    gateway_conn_arm(c, 10000); /* answered; a new request follows at once, and trickles */
    f.last_byte_ms[3] = 10500;
    cr_assert_eq(sweep_at(t, &f, 10500), 0);
    f.last_byte_ms[3] = 10999;
    cr_assert_eq(sweep_at(t, &f, 11000), 1);
    cr_assert_eq(f.closes[3], 1);
    gateway_conns_free(t); /* frees the entry left in it */
}
