/* The pusher's pure parts: push datagrams (§12.3), ack parsing (§12.4), the timer heap, the
 * per-destination rate, and the subscriber table (§12.1). The loop, sockets and retransmits
 * are covered by tests/integration/test_push.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cairn_java_hash.h"
#include "pusher_ack.h"
#include "pusher_payload.h"
#include "pusher_rate.h"
#include "pusher_subs.h"
#include "pusher_timer.h"
#include "pusher_udp.h"

/* ---- datagrams ------------------------------------------------------------------------------ */
static char *gunzip(const unsigned char *in, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = 1 << 20;
    char *out = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)(cap - 1);
    cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - 1 - zs.avail_out;
    out[*out_len] = '\0';
    inflateEnd(&zs);
    return out;
}

Test(pusher_payload, wraps_the_document_as_a_json_string)
{
    const char *doc = "{\"name\":\"DEFAULT_GROUP@@a\",\"hosts\":[]}";
    pusher_datagram *d;
    size_t raw;
    cr_assert_eq(pusher_datagram_build(doc, 1700000000000001ULL, 1024, 65000, &d, &raw), CAIRN_OK);
    cr_assert_not(d->gzip);
    cr_assert_eq(d->len, raw);
    cr_assert_eq(d->raw_len, raw);
    json_t *j = json_loadb((const char *)d->bytes, d->len, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "type")), "dom");
    /* data is a string holding the document, not an object (the Node client JSON-parses it). */
    cr_assert_str_eq(json_string_value(json_object_get(j, "data")), doc);
    cr_assert_eq(json_integer_value(json_object_get(j, "lastRefTime")), 1700000000000001LL);
    json_decref(j);
    cr_assert_eq(d->refs, 1);
    pusher_datagram_ref(d);
    pusher_datagram_unref(d);
    pusher_datagram_unref(d);
}

static char *document(size_t approx)
{
    char *doc = malloc(approx + 64);
    size_t n = (size_t)sprintf(doc, "{\"pad\":\"");
    while (n < approx)
        doc[n++] = 'x';
    strcpy(doc + n, "\"}");
    return doc;
}

Test(pusher_payload, gzip_from_the_threshold_on)
{
    /* The datagram is the document plus the wrapper: find the sizes around the threshold. */
    pusher_datagram *d;
    size_t raw;
    char *doc = document(1000);
    cr_assert_eq(pusher_datagram_build(doc, 7, 100000, 65000, &d, &raw), CAIRN_OK);
    size_t plain = raw;
    pusher_datagram_unref(d);

    cr_assert_eq(pusher_datagram_build(doc, 7, plain + 1, 65000, &d, &raw), CAIRN_OK);
    cr_assert_not(d->gzip, "a %zu-byte datagram gzipped with threshold %zu", raw, plain + 1);
    pusher_datagram_unref(d);

    cr_assert_eq(pusher_datagram_build(doc, 7, plain, 65000, &d, &raw), CAIRN_OK);
    cr_assert(d->gzip, "a %zu-byte datagram not gzipped with threshold %zu", raw, plain);
    cr_assert_eq(d->bytes[0], 0x1f);
    cr_assert_eq(d->bytes[1], 0x8b);
    cr_assert_lt(d->len, raw);
    size_t out_len;
    char *text = gunzip(d->bytes, d->len, &out_len);
    cr_assert_eq(out_len, raw);
    json_t *j = json_loads(text, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "data")), doc);
    json_decref(j);
    free(text);
    pusher_datagram_unref(d);
    free(doc);
}

Test(pusher_payload, too_large_even_gzipped_is_a_limit)
{
    /* Incompressible content of 3000 bytes cannot fit 1024. */
    char *doc = malloc(3100);
    size_t n = (size_t)sprintf(doc, "{\"noise\":\"");
    uint32_t x = 88172645u;
    for (int i = 0; i < 3000; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        doc[n++] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[x % 62];
    }
    strcpy(doc + n, "\"}");
    pusher_datagram *d = (pusher_datagram *)1;
    size_t raw;
    cr_assert_eq(pusher_datagram_build(doc, 1, 1024, 1024, &d, &raw), CAIRN_E_LIMIT);
    cr_assert_null(d);
    cr_assert_gt(raw, 3000);
    free(doc);

    /* Compressible content over the limit is gzipped below the threshold rather than lost. */
    doc = document(3000);
    cr_assert_eq(pusher_datagram_build(doc, 1, 60000, 1024, &d, &raw), CAIRN_OK);
    cr_assert(d->gzip);
    cr_assert_leq(d->len, 1024);
    pusher_datagram_unref(d);
    free(doc);
}

Test(pusher_payload, ref_times_increase_and_stay_below_2_pow_53)
{
    uint64_t last = 0;
    uint64_t a = pusher_next_ref_time(&last);
    uint64_t b = pusher_next_ref_time(&last);
    cr_assert_gt(b, a);
    cr_assert_lt(b, 1ULL << 53);
    cr_assert_gt(a, 1600000000000000ULL, "wall-clock microseconds expected, got %llu",
                 (unsigned long long)a);
    /* A clock behind the last number still gives a larger one. */
    last = (1ULL << 52);
    cr_assert_eq(pusher_next_ref_time(&last), (1ULL << 52) + 1);
}

/* ---- acks --------------------------------------------------------------------------------- */
static bool ack(const char *s, uint64_t *v)
{
    return pusher_ack_parse(s, strlen(s), v);
}

Test(pusher_ack, number_or_string_and_every_ack_type)
{
    uint64_t v = 0;
    cr_assert(ack("{\"type\":\"push-ack\",\"lastRefTime\":1700000000000123,\"data\":\"\"}", &v));
    cr_assert_eq(v, 1700000000000123ULL);
    cr_assert(ack("{\"type\":\"push-ack\",\"lastRefTime\":\"1700000000000124\",\"data\":\"\"}", &v));
    cr_assert_eq(v, 1700000000000124ULL);
    cr_assert(ack("{\"type\":\"unknown-ack\",\"lastRefTime\":5}", &v));
    cr_assert_eq(v, 5);
    cr_assert(ack("{\"lastRefTime\":6,\"type\":\"dump-ack\",\"data\":\"{}\"}", &v));
    cr_assert_eq(v, 6);
    /* A JavaScript double printed with an exponent. */
    cr_assert(ack("{\"type\":\"push-ack\",\"lastRefTime\":1.7e15}", &v));
    cr_assert_eq(v, 1700000000000000ULL);
}

Test(pusher_ack, garbage_is_rejected)
{
    uint64_t v = 99;
    static const char *const bad[] = {
        "",
        "hello",
        "[]",
        "{}",
        "null",
        "{\"type\":\"push-ack\"}",
        "{\"type\":\"dom\",\"lastRefTime\":1}",
        "{\"type\":5,\"lastRefTime\":1}",
        "{\"type\":\"push-ack\",\"lastRefTime\":-1}",
        "{\"type\":\"push-ack\",\"lastRefTime\":1.5}",
        "{\"type\":\"push-ack\",\"lastRefTime\":\"\"}",
        "{\"type\":\"push-ack\",\"lastRefTime\":\"12x\"}",
        "{\"type\":\"push-ack\",\"lastRefTime\":\"-3\"}",
        "{\"type\":\"push-ack\",\"lastRefTime\":\" 3\"}",
        "{\"type\":\"push-ack\",\"lastRefTime\":\"99999999999999999999999\"}",
        "{\"type\":\"push-ack\",\"lastRefTime\":true}",
        "{\"type\":\"push-ack\",\"lastRefTime\":{}}",
        "{\"type\":\"push-ack\",\"lastRefTime\":1", /* truncated */
        "{\"type\":\"push-ack\",\"type\":\"push-ack\",\"lastRefTime\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(ack(bad[i], &v), "accepted %s", bad[i]);
    cr_assert_eq(v, 99, "a rejected ack changed the output");
    /* Oversized input is rejected unread. */
    cr_assert_not(pusher_ack_parse("x", PUSHER_ACK_MAX_BYTES + 1, &v));
    /* NUL bytes inside. */
    cr_assert_not(pusher_ack_parse("{\"type\":\"push-ack\"\0,\"lastRefTime\":1}", 34, &v));
}

/* ---- timers ------------------------------------------------------------------------------- */
Test(pusher_timer, pops_in_due_order_with_moves_and_disarms)
{
    pusher_timers ts;
    pusher_timers_init(&ts);
    enum { N = 200 };
    pusher_timer t[N];
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        pusher_timer_init(&t[i], i);
        x = x * 1103515245u + 12345u;
        cr_assert_eq(pusher_timers_arm(&ts, &t[i], (int64_t)(x % 1000)), 0);
    }
    /* Move some, disarm some. */
    for (int i = 0; i < N; i += 7)
        pusher_timers_arm(&ts, &t[i], (int64_t)(i * 3 % 1000));
    for (int i = 3; i < N; i += 11)
        pusher_timers_disarm(&ts, &t[i]);
    cr_assert_not(pusher_timer_armed(&t[3]));
    int64_t last = -1;
    size_t popped = 0;
    pusher_timer *p;
    cr_assert_null(pusher_timers_pop_due(&ts, -1));
    while ((p = pusher_timers_pop_due(&ts, 2000)) != NULL) {
        cr_assert_geq(p->due, last);
        cr_assert_not(pusher_timer_armed(p));
        last = p->due;
        popped++;
    }
    size_t disarmed = 0;
    for (int i = 3; i < N; i += 11)
        disarmed++;
    cr_assert_eq(popped, N - disarmed);
    cr_assert_eq(pusher_timers_next(&ts), INT64_MAX);
    pusher_timers_free(&ts);
}

Test(pusher_timer, only_due_timers_pop)
{
    pusher_timers ts;
    pusher_timers_init(&ts);
    pusher_timer a, b;
    pusher_timer_init(&a, 1);
    pusher_timer_init(&b, 2);
    pusher_timers_arm(&ts, &a, 100);
    pusher_timers_arm(&ts, &b, 50);
    cr_assert_eq(pusher_timers_next(&ts), 50);
    cr_assert_null(pusher_timers_pop_due(&ts, 49));
    cr_assert_eq(pusher_timers_pop_due(&ts, 60), &b);
    cr_assert_null(pusher_timers_pop_due(&ts, 60));
    cr_assert_eq(pusher_timers_pop_due(&ts, 100), &a);
    pusher_timers_free(&ts);
}

/* ---- rate --------------------------------------------------------------------------------- */
static pusher_udp v4_socket(void)
{
    return (pusher_udp){.fd = -1, .family = AF_INET6, .port = 0};
}

Test(pusher_rate, a_seconds_burst_then_the_rate)
{
    pusher_udp u = v4_socket();
    pusher_addr a, b;
    cr_assert(pusher_addr_parse(&u, "127.0.0.1", 5000, &a));
    cr_assert(pusher_addr_parse(&u, "127.0.0.1", 5001, &b));
    pusher_rate *r = pusher_rate_new(4);
    int64_t retry = 0;
    for (int i = 0; i < 4; i++)
        cr_assert(pusher_rate_take(r, &a, 1000, &retry), "burst send %d refused", i);
    cr_assert_not(pusher_rate_take(r, &a, 1000, &retry));
    cr_assert(retry > 1000 && retry <= 1251, "retry at %lld", (long long)retry);
    /* Another destination has its own bucket. */
    cr_assert(pusher_rate_take(r, &b, 1000, &retry));
    /* One token per 250 ms. */
    cr_assert(pusher_rate_take(r, &a, 1251, &retry));
    cr_assert_not(pusher_rate_take(r, &a, 1300, &retry));
    cr_assert_eq(pusher_rate_size(r), 2);
    pusher_rate_sweep(r, 1400); /* b is full again, a is not */
    cr_assert_eq(pusher_rate_size(r), 1);
    pusher_rate_sweep(r, 5000);
    cr_assert_eq(pusher_rate_size(r), 0);
    pusher_rate_free(r);
}

Test(pusher_udp, address_keys_match_between_subscriptions_and_ack_sources)
{
    pusher_udp u6 = v4_socket(), u4 = {.fd = -1, .family = AF_INET};
    pusher_addr a, b, c;
    cr_assert(pusher_addr_parse(&u6, "127.0.0.1", 8080, &a));
    cr_assert(pusher_addr_parse(&u4, "127.0.0.1", 8080, &b));
    cr_assert_eq(memcmp(a.key, b.key, PUSHER_ADDR_KEY_LEN), 0);
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(8080),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    pusher_addr_from_sockaddr((struct sockaddr *)&s4, sizeof s4, &c);
    cr_assert_eq(memcmp(a.key, c.key, PUSHER_ADDR_KEY_LEN), 0);
    char text[80];
    pusher_addr_text(&a, text, sizeof text);
    cr_assert_str_eq(text, "127.0.0.1:8080");
    cr_assert(pusher_addr_parse(&u6, "::1", 9, &a));
    pusher_addr_text(&a, text, sizeof text);
    cr_assert_str_eq(text, "[::1]:9");
    /* Never names, never out-of-range ports, no IPv6 on an IPv4 socket. */
    cr_assert_not(pusher_addr_parse(&u6, "localhost", 80, &a));
    cr_assert_not(pusher_addr_parse(&u6, "127.0.0.1", 0, &a));
    cr_assert_not(pusher_addr_parse(&u6, "127.0.0.1", 65536, &a));
    cr_assert_not(pusher_addr_parse(&u4, "::1", 80, &a));
    cr_assert_not(pusher_addr_parse(&u6, "", 80, &a));
    cr_assert_not(pusher_addr_parse(&u6, NULL, 80, &a));
}

/* A send batch goes out in order in one call; one destination's error fails only that one, and
 * a full batch refuses more. Real sockets on 127.0.0.1. */
typedef struct outcome {
    const char *tags[PUSHER_SEND_BATCH];
    int errs[PUSHER_SEND_BATCH];
    int n;
} outcome;

static void record_outcome(void *arg, void *tag, int err)
{
    outcome *o = arg;
    o->tags[o->n] = tag;
    o->errs[o->n++] = err;
}

static int receiver(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
              getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

Test(pusher_udp, a_send_batch_goes_in_order_and_fails_per_destination)
{
    pusher_udp u;
    cairn_status st;
    cr_assert_eq(pusher_udp_open(&u, &st), 0, "%s", st.message);
    uint16_t pa, pb;
    int ra = receiver(&pa), rb = receiver(&pb);
    pusher_addr a, b, bad;
    cr_assert(pusher_addr_parse(&u, "127.0.0.1", pa, &a));
    cr_assert(pusher_addr_parse(&u, "127.0.0.1", pb, &b));
    bad = a;
    bad.len = 0; /* no destination: EDESTADDRREQ for this one alone */
    pusher_send_batch batch = {0};
    cr_assert(pusher_send_batch_add(&batch, &a, "one", 3, "a"));
    cr_assert(pusher_send_batch_add(&batch, &bad, "two", 3, "bad"));
    cr_assert(pusher_send_batch_add(&batch, &b, "three", 5, "b"));
    outcome o = {0};
    pusher_send_batch_flush(&u, &batch, record_outcome, &o);
    cr_assert_eq(o.n, 3);
    cr_expect_str_eq(o.tags[0], "a");
    cr_expect_eq(o.errs[0], 0);
    cr_expect_str_eq(o.tags[1], "bad");
    cr_expect_neq(o.errs[1], 0, "a datagram without a destination is not sent");
    cr_expect_str_eq(o.tags[2], "b");
    cr_expect_eq(o.errs[2], 0, "a failed destination does not hold back the next");
    char buf[16];
    cr_expect_eq(recv(ra, buf, sizeof buf, 0), 3);
    cr_expect_eq(memcmp(buf, "one", 3), 0);
    cr_expect_eq(recv(rb, buf, sizeof buf, 0), 5);
    cr_expect_eq(memcmp(buf, "three", 5), 0);
    cr_expect_eq(batch.count, 0, "the batch is empty after a flush");
    /* a datagram taken out never goes; the others keep their order and buffers */
    cr_assert(pusher_send_batch_add(&batch, &a, "four", 4, "a"));
    cr_assert(pusher_send_batch_add(&batch, &b, "five", 4, "dropped"));
    cr_assert(pusher_send_batch_add(&batch, &b, "six", 3, "b"));
    cr_assert(pusher_send_batch_drop(&batch, "dropped"));
    cr_expect_not(pusher_send_batch_drop(&batch, "dropped"), "it is gone");
    o = (outcome){0};
    pusher_send_batch_flush(&u, &batch, record_outcome, &o);
    cr_assert_eq(o.n, 2);
    cr_expect_str_eq(o.tags[0], "a");
    cr_expect_str_eq(o.tags[1], "b");
    cr_expect_eq(recv(ra, buf, sizeof buf, 0), 4);
    cr_expect_eq(memcmp(buf, "four", 4), 0);
    cr_expect_eq(recv(rb, buf, sizeof buf, 0), 3);
    cr_expect_eq(memcmp(buf, "six", 3), 0, "the dropped datagram was not sent");
    for (int i = 0; i < PUSHER_SEND_BATCH; i++)
        cr_assert(pusher_send_batch_add(&batch, &a, "x", 1, NULL));
    cr_expect_not(pusher_send_batch_add(&batch, &a, "x", 1, NULL), "a full batch takes no more");
    close(ra);
    close(rb);
    pusher_udp_close(&u);
}

/* ---- subscribers -------------------------------------------------------------------------- */
static int drops;
static void count_drop(void *arg, pusher_sub *s)
{
    (void)arg, (void)s;
    drops++;
}

static cairn_subscription sub(const char *svc, const char *clusters, const char *ip, int port,
                              const char *agent)
{
    return (cairn_subscription){.namespace_id = "public", .service = (char *)svc,
                                .clusters = (char *)clusters, .ip = (char *)ip, .port = port,
                                .agent = (char *)agent};
}

Test(pusher_subs, identity_refresh_limits_and_zombies)
{
    pusher_udp u = v4_socket();
    pusher_subs t;
    drops = 0;
    cr_assert_eq(pusher_subs_init(&t, 2, 3, count_drop, NULL), 0);
    cairn_subscription a = sub("G@@a", "", "127.0.0.1", 5000, "Nacos-Java-Client:v1.0.0");
    cr_assert_eq(pusher_subs_upsert(&t, &u, &a, 0), PUSHER_SUB_ADDED);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &a, 100), PUSHER_SUB_REFRESHED);
    /* Clusters, address and agent are part of the identity (§12.1). */
    cairn_subscription a2 = sub("G@@a", "DEFAULT", "127.0.0.1", 5000, "Nacos-Java-Client:v1.0.0");
    cr_assert_eq(pusher_subs_upsert(&t, &u, &a2, 100), PUSHER_SUB_ADDED);
    cairn_subscription a3 = sub("G@@a", "", "127.0.0.1", 5001, "Nacos-Go-Client:v1.0.0");
    cr_assert_eq(pusher_subs_upsert(&t, &u, &a3, 100), PUSHER_SUB_LIMIT_SERVICE);
    cairn_subscription b = sub("G@@b", "", "127.0.0.1", 5000, NULL);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &b, 200), PUSHER_SUB_ADDED);
    cairn_subscription c = sub("G@@c", "", "127.0.0.1", 5000, NULL);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &c, 200), PUSHER_SUB_LIMIT_TOTAL);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &a, 300), PUSHER_SUB_REFRESHED, "refreshes pass");
    cr_assert_eq(t.total, 3);

    pusher_service *svc = pusher_subs_service(&t, "public", "G@@a");
    cr_assert_not_null(svc);
    cr_assert_eq(svc->count, 2);
    cr_assert_str_eq(svc->key, "public##G@@a");
    bool grouped = false;
    for (pusher_sub *s = svc->subs; s; s = s->next)
        grouped = grouped || s->grouped_names;
    cr_assert(grouped, "a Java 1.x agent gets grouped names");

    /* Invalid subscriptions. */
    cairn_subscription bad = sub("G@@a", "", "not-an-ip", 5000, NULL);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &bad, 0), PUSHER_SUB_INVALID);
    bad = sub("G@@a", "", "127.0.0.1", 0, NULL);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &bad, 0), PUSHER_SUB_INVALID);
    bad = sub("", "", "127.0.0.1", 1, NULL);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &bad, 0), PUSHER_SUB_INVALID);

    /* TTL 150 at t=400: a2 (refreshed at 100) and b (200) are zombies, a (300) is not. */
    cr_assert_eq(pusher_subs_expire(&t, 400, 150), 2);
    cr_assert_eq(drops, 2);
    cr_assert_eq(t.total, 1);
    cr_assert_null(pusher_subs_service(&t, "public", "G@@b"), "an empty service is freed");
    svc = pusher_subs_service(&t, "public", "G@@a");
    cr_assert_not_null(svc);
    /* A service with a push scheduled stays, even empty. */
    pusher_timers ts;
    pusher_timers_init(&ts);
    pusher_timers_arm(&ts, &svc->timer, 1000);
    cr_assert_eq(pusher_subs_expire_service(&t, svc, 10000, 250), 1);
    cr_assert_not(pusher_subs_release_service(&t, svc));
    pusher_timers_disarm(&ts, &svc->timer);
    cr_assert(pusher_subs_release_service(&t, svc));
    cr_assert_null(pusher_subs_service(&t, "public", "G@@a"));
    pusher_timers_free(&ts);
    pusher_subs_destroy(&t);
    cr_assert_eq(drops, 3);
}

/* A service keeps what the newest change event said it is, for its next push. */
Test(pusher_subs, the_newest_event_snapshot_is_kept_until_forgotten)
{
    pusher_udp u = v4_socket();
    pusher_subs t;
    cr_assert_eq(pusher_subs_init(&t, 10, 10, NULL, NULL), 0);
    cairn_subscription a = sub("G@@a", "", "127.0.0.1", 5000, NULL);
    cr_assert_eq(pusher_subs_upsert(&t, &u, &a, 0), PUSHER_SUB_ADDED);
    pusher_service *svc = pusher_subs_service(&t, "public", "G@@a");
    cr_assert_not_null(svc);
    cr_assert_null(svc->snapshot);

    char older[] = "older", newer[] = "newer!";
    cairn_change_event ev = {.namespace_id = "public", .service = "G@@a", .revision = 5,
                             .kind = CAIRN_CHANGE_INSTANCES, .snapshot = older,
                             .snapshot_len = 5};
    pusher_service_note_change(svc, &ev);
    ev.revision = 6;
    ev.snapshot = newer;
    ev.snapshot_len = 6;
    pusher_service_note_change(svc, &ev);
    newer[0] = 'X'; /* a copy is kept, not the event's buffer */
    cr_assert_eq(svc->snapshot_len, 6);
    cr_assert_eq(memcmp(svc->snapshot, "newer!", 6), 0);
    cr_assert_not(svc->removed);

    ev.kind = CAIRN_CHANGE_REMOVED; /* a removal carries nothing and means "empty" */
    ev.snapshot = NULL;
    ev.snapshot_len = 0;
    pusher_service_note_change(svc, &ev);
    cr_assert(svc->removed);
    cr_assert_null(svc->snapshot);

    ev.kind = CAIRN_CHANGE_INSTANCES; /* one too large to carry: the push reads the service */
    pusher_service_note_change(svc, &ev);
    cr_assert_not(svc->removed);
    cr_assert_null(svc->snapshot);

    ev.snapshot = older;
    ev.snapshot_len = 5;
    pusher_service_note_change(svc, &ev);
    pusher_service_forget(svc);
    cr_assert_null(svc->snapshot);
    pusher_service_note_change(svc, &ev);
    pusher_subs_destroy(&t); /* frees what is held */
}

Test(pusher_subs, ownership_is_the_java_hash_of_the_service_key)
{
    /* One pusher owns everything. */
    cr_assert_eq(cairn_push_owner("public", "DEFAULT_GROUP@@a", 1), 0);
    /* Spread over two, stable, and the namespace takes part. */
    int owners[2] = {0, 0};
    bool ns_matters = false;
    for (int i = 0; i < 64; i++) {
        char name[32];
        snprintf(name, sizeof name, "DEFAULT_GROUP@@s%d", i);
        uint32_t o = cairn_push_owner("public", name, 2);
        cr_assert_lt(o, 2);
        cr_assert_eq(o, cairn_push_owner("public", name, 2));
        owners[o]++;
        ns_matters = ns_matters || cairn_push_owner("public", name, 3) !=
                                       cairn_push_owner("dev", name, 3);
    }
    cr_assert(owners[0] > 0 && owners[1] > 0);
    cr_assert(ns_matters);
}
