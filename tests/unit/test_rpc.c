#include <criterion/criterion.h>
#include <limits.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cairn_batch.h"
#include "cairn_requests.h"
#include "cairn_rpc.h"

static char tmp_dir[] = "/tmp/cairn-rpc-test-XXXXXX";
static char url[256];
static char sock_path[108];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmp_dir));
    snprintf(sock_path, sizeof sock_path, "%s/rpc.sock", tmp_dir);
    snprintf(url, sizeof url, "ipc://%s", sock_path);
}

static void teardown(void)
{
    unlink(sock_path);
    rmdir(tmp_dir);
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 60);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define BIG_NAMES 1000 /* 500-byte names: a ~500 KB reply, more than a socket's buffers hold */

static void big_reply(cairn_reply *rep)
{
    rep->names = calloc(BIG_NAMES, sizeof *rep->names);
    for (int i = 0; i < BIG_NAMES; i++) {
        rep->names[i] = malloc(501);
        memset(rep->names[i], 'n', 500);
        rep->names[i][500] = '\0';
    }
    rep->name_count = rep->total = BIG_NAMES;
}

/* STATS → counts; SERVICE_LIST → names 500 KB of names for the group "big", else echoes the group back as the only name; SERVICE_GET of
 * "missing" → NOT_FOUND with a message. */
static void handler(void *arg, const cairn_request *req, cairn_reply *rep)
{
    (void)arg;
    switch (req->type) {
    case CAIRN_MSG_STATS:
        rep->service_count = 7;
        rep->instance_count = 11;
        break;
    case CAIRN_MSG_SERVICE_LIST:
        if (req->group && strcmp(req->group, "big") == 0) {
            big_reply(rep);
            break;
        }
        rep->names = calloc(1, sizeof *rep->names);
        rep->names[0] = strdup(req->group ? req->group : "");
        rep->name_count = 1;
        rep->total = 1;
        break;
    case CAIRN_MSG_SERVICE_GET: {
        cairn_status st;
        cairn_fail(&st, CAIRN_E_NOT_FOUND, "service %s not found", req->service);
        cairn_reply_set_status(rep, &st);
        break;
    }
    default:
        break;
    }
}

static cairn_rpc_server *start_server(cairn_metrics *m)
{
    cairn_status st;
    cairn_rpc_server *s = cairn_rpc_server_start(url, 2, handler, NULL, m, &st);
    cr_assert_not_null(s, "%s", st.message);
    return s;
}

static cairn_rpc_client *open_client(int timeout_ms)
{
    cairn_status st;
    cairn_rpc_client *c = cairn_rpc_client_open(url, "registry", timeout_ms, &st);
    cr_assert_not_null(c, "%s", st.message);
    return c;
}

static cairn_err call_list(cairn_rpc_client *c, const char *group, cairn_reply *rep,
                           cairn_status *st)
{
    cairn_request req;
    cairn_err err = cairn_request_service_list(&req, "public", group, 1, 10, st);
    if (err == CAIRN_OK)
        err = cairn_rpc_call(c, &req, rep, st);
    cairn_request_free(&req);
    return err;
}

Test(rpc, request_and_reply)
{
    cairn_metrics *m = cairn_metrics_new("test");
    cairn_rpc_server *s = start_server(m);
    cairn_rpc_client *c = open_client(5000);

    cairn_request req;
    cairn_reply rep;
    cairn_status st;
    cr_assert_eq(cairn_request_stats(&req, &st), CAIRN_OK);
    cr_assert_eq(cairn_rpc_call(c, &req, &rep, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(rep.code, CAIRN_OK);
    cr_assert_eq(rep.service_count, 7);
    cr_assert_eq(rep.instance_count, 11);
    cairn_reply_free(&rep);
    cairn_request_free(&req);

    cr_assert_eq(call_list(c, "echo-me", &rep, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(rep.name_count, 1);
    cr_assert_str_eq(rep.names[0], "echo-me");
    cairn_reply_free(&rep);

    /* The peer's error code and message are the call's result. */
    cr_assert_eq(cairn_request_service_get(&req, "public", "missing", &st), CAIRN_OK);
    cr_assert_eq(cairn_rpc_call(c, &req, &rep, &st), CAIRN_E_NOT_FOUND);
    cr_assert_eq(st.code, CAIRN_E_NOT_FOUND);
    cr_assert_str_eq(st.message, "service missing not found");
    cr_assert_eq(rep.code, CAIRN_E_NOT_FOUND);
    cr_assert_str_eq(rep.message, "service missing not found");
    cairn_reply_free(&rep);
    cairn_request_free(&req);

    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);

    char *text = cairn_metrics_render(m, NULL);
    cr_assert_not_null(strstr(text, "cairn_test_rpc_requests_total{type=\"stats\",code=\"ok\"} 1\n"),
                       "%s", text);
    cr_assert_not_null(
        strstr(text, "cairn_test_rpc_requests_total{type=\"service_get\",code=\"not_found\"} 1\n"),
        "%s", text);
    cr_assert_not_null(
        strstr(text, "cairn_test_rpc_handle_seconds_count{type=\"service_list\"} 1\n"), "%s",
        text);
    free(text);
    cairn_metrics_free(m);
}

/* A raw REQ exchange, as a peer speaking garbage would do it. */
static void raw_exchange(const void *data, size_t len, cairn_reply *rep)
{
    nng_socket sock;
    cr_assert_eq(nng_req0_open(&sock), 0);
    cr_assert_eq(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000), 0);
    cr_assert_eq(nng_dial(sock, url, NULL, 0), 0);
    cr_assert_eq(nng_send(sock, (void *)data, len, 0), 0);
    char *buf = NULL;
    size_t n = 0;
    cr_assert_eq(nng_recv(sock, &buf, &n, NNG_FLAG_ALLOC), 0);
    cairn_status st;
    cr_assert_eq(cairn_reply_decode(buf, n, rep, &st), CAIRN_OK, "%s", st.message);
    nng_free(buf, n);
    nng_close(sock);
}

Test(rpc, garbage_gets_a_decode_error_and_the_server_keeps_serving)
{
    cairn_metrics *m = cairn_metrics_new("test");
    cairn_rpc_server *s = start_server(m);

    const char *garbage[] = {"definitely not msgpack", "\xc1", "\x81\xa1t\x02", ""};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        cairn_reply rep;
        raw_exchange(garbage[i], strlen(garbage[i]), &rep);
        cr_assert_eq(rep.code, CAIRN_E_DECODE, "garbage %zu", i);
        cr_assert(rep.message && rep.message[0], "garbage %zu has no message", i);
        cairn_reply_free(&rep);
    }

    cairn_rpc_client *c = open_client(5000);
    cairn_reply rep;
    cairn_status st;
    cr_assert_eq(call_list(c, "still-here", &rep, &st), CAIRN_OK, "%s", st.message);
    cr_assert_str_eq(rep.names[0], "still-here");
    cairn_reply_free(&rep);
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);

    char *text = cairn_metrics_render(m, NULL);
    cr_assert_not_null(
        strstr(text, "cairn_test_rpc_requests_total{type=\"undecodable\",code=\"decode\"} 4\n"),
        "%s", text);
    free(text);
    cairn_metrics_free(m);
}

Test(rpc, no_server_times_out_as_unavailable)
{
    cairn_rpc_client *c = open_client(300);
    cairn_reply rep;
    cairn_status st;
    int64_t t0 = now_ms();
    cr_assert_eq(call_list(c, "x", &rep, &st), CAIRN_E_UNAVAILABLE);
    int64_t elapsed = now_ms() - t0;
    cr_assert_eq(st.code, CAIRN_E_UNAVAILABLE);
    cr_assert(strncmp(st.message, "registry unavailable: ", 22) == 0, "%s", st.message);
    cr_assert_geq(elapsed, 280, "gave up after %lld ms", (long long)elapsed);
    cr_assert_lt(elapsed, 3000, "took %lld ms", (long long)elapsed);
    cairn_reply_free(&rep); /* initialised even on failure */
    cairn_rpc_client_close(c);
}

Test(rpc, client_started_first_connects_when_the_server_comes_up)
{
    cairn_rpc_client *c = open_client(200);
    cairn_reply rep;
    cairn_status st;
    cr_assert_eq(call_list(c, "early", &rep, &st), CAIRN_E_UNAVAILABLE);
    cairn_reply_free(&rep);

    cairn_rpc_server *s = start_server(NULL);
    /* nng redials in the background; poll until a call gets through (bounded). */
    int64_t deadline = now_ms() + 10000;
    cairn_err err;
    while ((err = call_list(c, "late", &rep, &st)) == CAIRN_E_UNAVAILABLE &&
           now_ms() < deadline)
        cairn_reply_free(&rep);
    cr_assert_eq(err, CAIRN_OK, "%s", st.message);
    cr_assert_str_eq(rep.names[0], "late");
    cairn_reply_free(&rep);

    /* And again after the server restarts (a role restarting under a running client). */
    cairn_rpc_server_stop(s);
    s = start_server(NULL);
    deadline = now_ms() + 10000;
    while ((err = call_list(c, "again", &rep, &st)) == CAIRN_E_UNAVAILABLE &&
           now_ms() < deadline)
        cairn_reply_free(&rep);
    cr_assert_eq(err, CAIRN_OK, "%s", st.message);
    cairn_reply_free(&rep);

    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);
}

#define CALLERS 6
#define CALLS 50

static void *caller(void *arg)
{
    cairn_rpc_client *c = arg;
    long ok = 0;
    for (int i = 0; i < CALLS; i++) {
        char group[32];
        snprintf(group, sizeof group, "g%d", i);
        cairn_reply rep;
        cairn_status st;
        if (call_list(c, group, &rep, &st) == CAIRN_OK && rep.name_count == 1 &&
            strcmp(rep.names[0], group) == 0)
            ok++;
        cairn_reply_free(&rep);
    }
    return (void *)ok;
}

Test(rpc, concurrent_callers_share_one_client)
{
    cairn_rpc_server *s = start_server(NULL);
    cairn_rpc_client *c = open_client(5000);
    pthread_t t[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, caller, c), 0);
    long total = 0;
    for (int i = 0; i < CALLERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (long)r;
    }
    cr_assert_eq(total, CALLERS * CALLS);
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);
}

Test(rpc, stale_socket_file_is_replaced)
{
    /* What a crashed role leaves behind: a bound socket file nobody listens on. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    cr_assert_eq(access(sock_path, F_OK), 0);

    cairn_rpc_server *s = start_server(NULL);
    cairn_rpc_client *c = open_client(5000);
    cairn_reply rep;
    cairn_status st;
    cr_assert_eq(call_list(c, "fresh", &rep, &st), CAIRN_OK, "%s", st.message);
    cairn_reply_free(&rep);
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);
}

Test(rpc, bad_urls_are_errors)
{
    cairn_status st;
    cr_assert_null(cairn_rpc_server_start("bogus://x", 1, handler, NULL, NULL, &st));
    cr_assert_neq(st.code, CAIRN_OK);
    cr_assert(strstr(st.message, "bogus://x") != NULL, "%s", st.message);
    cr_assert_null(cairn_rpc_client_open("bogus://x", "registry", 100, &st));
    cr_assert_neq(st.code, CAIRN_OK);
}

/* ---- deferred replies ------------------------------------------------------------------------ */

#define DEFERRED 10

/* Takes every STATS request and holds it until all DEFERRED have arrived: possible only if the
 * one worker goes back to receiving while the earlier ones wait. */
typedef struct holder {
    pthread_mutex_t mu;
    pthread_cond_t all_in;
    cairn_rpc_pending *held[DEFERRED];
    int count;
} holder;

static bool hold(void *arg, cairn_rpc_pending *p)
{
    holder *h = arg;
    if (cairn_rpc_pending_request(p)->type != CAIRN_MSG_STATS)
        return false;
    pthread_mutex_lock(&h->mu);
    h->held[h->count++] = p;
    if (h->count == DEFERRED)
        pthread_cond_signal(&h->all_in);
    pthread_mutex_unlock(&h->mu);
    return true;
}

static void *call_stats(void *arg)
{
    cairn_rpc_client *c = arg;
    cairn_request rq;
    cairn_reply rep;
    cairn_status st;
    cairn_err err = cairn_request_stats(&rq, &st);
    if (err == CAIRN_OK)
        err = cairn_rpc_call(c, &rq, &rep, &st);
    intptr_t got = err == CAIRN_OK ? (intptr_t)rep.service_count : -1;
    cairn_reply_free(&rep);
    return (void *)got;
}

Test(rpc, deferred_requests_do_not_hold_a_worker)
{
    holder h = {.count = 0};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.all_in, NULL);
    cairn_status st;
    cairn_rpc_server *s = cairn_rpc_server_start_deferring(url, 1, handler, hold, &h, NULL, &st);
    cr_assert_not_null(s, "%s", st.message);
    cairn_rpc_client *c = cairn_rpc_client_open(url, "test", 10000, &st);
    cr_assert_not_null(c, "%s", st.message);
    pthread_t t[DEFERRED];
    for (int i = 0; i < DEFERRED; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, call_stats, c), 0);
    pthread_mutex_lock(&h.mu);
    while (h.count < DEFERRED)
        pthread_cond_wait(&h.all_in, &h.mu); /* the test's timeout bounds this */
    pthread_mutex_unlock(&h.mu);

    /* Meanwhile the same worker still answers what it does not defer. */
    cairn_request rq;
    cr_assert_eq(cairn_request_service_list(&rq, "public", "g", 0, 0, &st), CAIRN_OK);
    cairn_reply rep;
    cr_assert_eq(cairn_rpc_call(c, &rq, &rep, &st), CAIRN_OK, "%s", st.message);
    cairn_reply_free(&rep);
    cairn_request_free(&rq);

    for (int i = 0; i < DEFERRED; i++) {
        cairn_rpc_pending_reply(h.held[i])->service_count = 40 + (uint64_t)i;
        cairn_rpc_pending_finish(h.held[i]);
    }
    int answered = 0;
    for (int i = 0; i < DEFERRED; i++) {
        void *got;
        pthread_join(t[i], &got);
        answered += (intptr_t)got >= 40;
    }
    cr_expect_eq(answered, DEFERRED, "every deferred request gets its own reply");
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);
    pthread_cond_destroy(&h.all_in);
    pthread_mutex_destroy(&h.mu);
}

/* ---- asynchronous calls ----------------------------------------------------------------- */

#define ASYNC_CALLS 200

typedef struct outcomes {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    int done, ok, unavailable, not_found;
    uint64_t stats_sum;
} outcomes;

static void count_outcome(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    outcomes *o = arg;
    pthread_mutex_lock(&o->mu);
    o->done++;
    o->ok += rc == CAIRN_OK;
    o->unavailable += rc == CAIRN_E_UNAVAILABLE && st->code == CAIRN_E_UNAVAILABLE;
    o->not_found += rc == CAIRN_E_NOT_FOUND && strstr(st->message, "not found") != NULL;
    if (rc == CAIRN_OK)
        o->stats_sum += rep->service_count;
    pthread_cond_broadcast(&o->changed);
    pthread_mutex_unlock(&o->mu);
}

static void wait_done(outcomes *o, int n)
{
    pthread_mutex_lock(&o->mu);
    while (o->done < n)
        pthread_cond_wait(&o->changed, &o->mu); /* the test's timeout bounds this */
    pthread_mutex_unlock(&o->mu);
}

Test(rpc, async_calls_complete_once_each_with_the_reply_or_the_peer_error)
{
    cairn_rpc_server *s = start_server(NULL);
    cairn_rpc_client *c = open_client(5000);
    outcomes o = {.done = 0};
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.changed, NULL);
    cairn_request stats, missing;
    cairn_request_init(&stats, CAIRN_MSG_STATS);
    cairn_request_init(&missing, CAIRN_MSG_SERVICE_GET);
    missing.namespace_id = strdup("public");
    missing.service = strdup("missing");
    /* Many in flight at once on one client: each gets its own context from the pool. */
    for (int i = 0; i < ASYNC_CALLS; i++)
        cairn_rpc_call_async(c, i % 4 ? &stats : &missing, count_outcome, &o);
    wait_done(&o, ASYNC_CALLS);
    cr_expect_eq(o.ok, ASYNC_CALLS * 3 / 4);
    cr_expect_eq(o.not_found, ASYNC_CALLS / 4, "the peer's error is the call's result");
    cr_expect_eq(o.stats_sum, 7u * (ASYNC_CALLS * 3 / 4), "every reply went to its own call");
    cairn_request_free(&stats);
    cairn_request_free(&missing);
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);
    pthread_cond_destroy(&o.changed);
    pthread_mutex_destroy(&o.mu);
}

Test(rpc, async_calls_to_nobody_end_unavailable_at_the_timeout_and_close_waits_for_them)
{
    cairn_rpc_client *c = open_client(300);
    outcomes o = {.done = 0};
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.changed, NULL);
    cairn_request stats;
    cairn_request_init(&stats, CAIRN_MSG_STATS);
    int64_t t0 = now_ms();
    for (int i = 0; i < 10; i++)
        cairn_rpc_call_async(c, &stats, count_outcome, &o);
    wait_done(&o, 10);
    int64_t elapsed = now_ms() - t0;
    cr_expect_eq(o.unavailable, 10);
    cr_expect_geq(elapsed, 280, "gave up after %lld ms", (long long)elapsed);
    /* Calls still in flight when the client closes end too (unavailable), before close returns. */
    for (int i = 0; i < 10; i++)
        cairn_rpc_call_async(c, &stats, count_outcome, &o);
    cairn_rpc_client_close(c);
    cr_expect_eq(o.done, 20);
    cr_expect_eq(o.unavailable, 20);
    cairn_request_free(&stats);
    pthread_cond_destroy(&o.changed);
    pthread_mutex_destroy(&o.mu);
}

/* ---- a peer that stops reading --------------------------------------------------------------- */

#define FLOOD 40

Test(rpc, a_peer_that_stops_reading_holds_no_worker)
{
    cairn_metrics *m = cairn_metrics_new("test");
    cairn_status st;
    cairn_rpc_server *s = cairn_rpc_server_start(url, 4, handler, NULL, m, &st);
    cr_assert_not_null(s, "%s", st.message);
    /* nng's raw REQ mode keeps each reply in its receive queue until the application receives
     * it; nobody does, so the queue fills and the peer's pipe stops reading. */
    nng_socket peer;
    cr_assert_eq(nng_req0_open_raw(&peer), 0);
    cr_assert_eq(nng_socket_set_ms(peer, NNG_OPT_SENDTIMEO, 5000), 0);
    cr_assert_eq(nng_dial(peer, url, NULL, 0), 0);
    cairn_request big;
    cr_assert_eq(cairn_request_service_list(&big, "public", "big", 1, 10, &st), CAIRN_OK);
    char *enc;
    size_t enc_len;
    cr_assert_eq(cairn_request_encode(&big, &enc, &enc_len), CAIRN_OK);
    cairn_request_free(&big);
    for (uint32_t i = 0; i < FLOOD; i++) {
        nng_msg *msg;
        cr_assert_eq(nng_msg_alloc(&msg, 0), 0);
        cr_assert_eq(nng_msg_header_append_u32(msg, 0x80000000u | i), 0);
        cr_assert_eq(nng_msg_append(msg, enc, enc_len), 0);
        cr_assert_eq(nng_sendmsg(peer, msg, 0), 0, "request %u not sent", i);
    }
    free(enc);

    /* Everyone else is answered within their timeout all the while. */
    cairn_rpc_client *c = open_client(2000);
    for (int i = 0; i < 20; i++) {
        cairn_reply rep;
        cr_assert_eq(call_list(c, "small", &rep, &st), CAIRN_OK, "call %d: %s", i, st.message);
        cairn_reply_free(&rep);
    }
    cairn_rpc_client_close(c);
    /* And what the stalled peer could not take was dropped and counted. */
    char *text = cairn_metrics_render(m, NULL);
    cr_expect_not_null(strstr(text, "cairn_test_rpc_replies_dropped_total{reason=\"backlog\"}"),
                       "%s", text);
    free(text);
    int64_t t0 = now_ms();
    cairn_rpc_server_stop(s);
    cr_expect_lt(now_ms() - t0, 5000, "stopping took %lld ms", (long long)(now_ms() - t0));
    nng_close(peer);
    cairn_metrics_free(m);
}

/* ---- batching clients ------------------------------------------------------------------------ */

#define BATCHED_CALLS 300

/* One call of many: its own group name, to be echoed back to it and to no other call. */
typedef struct echo_call {
    outcomes *o;
    char group[32];
    bool matched;
} echo_call;

static void check_echo(void *arg, cairn_err rc, cairn_reply *rep, cairn_status *st)
{
    echo_call *e = arg;
    e->matched = rc == CAIRN_OK && rep->name_count == 1 && strcmp(rep->names[0], e->group) == 0;
    count_outcome(e->o, rc, rep, st);
}

Test(rpc, a_batching_client_gives_every_call_its_own_reply)
{
    cairn_metrics *m = cairn_metrics_new("test");
    cairn_rpc_server *s = start_server(m);
    cairn_rpc_client *c = open_client(5000);
    cairn_rpc_client_batch(c, 1, 32); /* one exchange: every call made while it is busy waits */
    outcomes o = {.done = 0};
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.changed, NULL);
    echo_call *calls = calloc(BATCHED_CALLS, sizeof *calls);
    cairn_request missing;
    cairn_request_init(&missing, CAIRN_MSG_SERVICE_GET);
    missing.namespace_id = strdup("public");
    missing.service = strdup("missing");
    for (int i = 0; i < BATCHED_CALLS; i++) {
        calls[i].o = &o;
        snprintf(calls[i].group, sizeof calls[i].group, "g%d", i);
        if (i % 10 == 9) { /* a peer error in the middle of a batch is that call's alone */
            cairn_rpc_call_async(c, &missing, count_outcome, &o);
            continue;
        }
        cairn_request req;
        cairn_status st;
        cr_assert_eq(cairn_request_service_list(&req, "public", calls[i].group, 1, 10, &st),
                     CAIRN_OK);
        cairn_rpc_call_async(c, &req, check_echo, &calls[i]);
        cairn_request_free(&req);
    }
    wait_done(&o, BATCHED_CALLS);
    cr_expect_eq(o.ok, BATCHED_CALLS * 9 / 10);
    cr_expect_eq(o.not_found, BATCHED_CALLS / 10);
    for (int i = 0; i < BATCHED_CALLS; i++)
        cr_expect(i % 10 == 9 || calls[i].matched, "call %d got another call's reply", i);
    cairn_request_free(&missing);
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);

    char *text = cairn_metrics_render(m, NULL);
    const char *b = strstr(text, "\ncairn_test_rpc_batches_total ");
    cr_assert_not_null(b, "%s", text);
    long batches = strtol(b + strlen("\ncairn_test_rpc_batches_total "), NULL, 10);
    /* 300 calls made at once behind one exchange: most of them went out in batches of 32. */
    cr_expect_geq(batches, BATCHED_CALLS / 32 / 2, "%ld batches", batches);
    cr_expect_lt(batches, BATCHED_CALLS / 2, "%ld batches", batches);
    free(text);
    cairn_metrics_free(m);
    free(calls);
    pthread_cond_destroy(&o.changed);
    pthread_mutex_destroy(&o.mu);
}

Test(rpc, waiting_calls_of_a_batching_client_end_unavailable_by_their_timeout_or_at_close)
{
    cairn_rpc_client *c = open_client(300);
    cairn_rpc_client_batch(c, 1, 8);
    outcomes o = {.done = 0};
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.changed, NULL);
    cairn_request stats;
    cairn_request_init(&stats, CAIRN_MSG_STATS);
    int64_t t0 = now_ms();
    for (int i = 0; i < 20; i++) /* one goes out, 19 wait behind it */
        cairn_rpc_call_async(c, &stats, count_outcome, &o);
    wait_done(&o, 20);
    int64_t elapsed = now_ms() - t0;
    cr_expect_eq(o.unavailable, 20);
    cr_expect_geq(elapsed, 280, "gave up after %lld ms", (long long)elapsed);
    for (int i = 0; i < 20; i++)
        cairn_rpc_call_async(c, &stats, count_outcome, &o);
    cairn_rpc_client_close(c); /* the one in flight and the 19 waiting all end before it returns */
    cr_expect_eq(o.done, 40);
    cr_expect_eq(o.unavailable, 40);
    cairn_request_free(&stats);
    pthread_cond_destroy(&o.changed);
    pthread_mutex_destroy(&o.mu);
}

Test(rpc, a_malformed_batch_gets_a_decode_error_and_the_server_keeps_serving)
{
    cairn_rpc_server *s = start_server(NULL);
    /* An array of a non-bin; an empty array; an array announcing more parts than it holds. */
    const char *bad[] = {"\x91\x01", "\x90", "\x93\xc4\x00"};
    size_t len[] = {2, 1, 3};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_reply rep;
        raw_exchange(bad[i], len[i], &rep);
        cr_expect_eq(rep.code, CAIRN_E_DECODE, "batch %zu", i);
        cairn_reply_free(&rep);
    }
    /* More parts than a batch may hold. */
    cairn_batch_part parts[CAIRN_BATCH_MAX_PARTS];
    for (size_t i = 0; i < CAIRN_BATCH_MAX_PARTS; i++)
        parts[i] = (cairn_batch_part){"", 0};
    char *buf;
    size_t n;
    cr_assert_eq(cairn_batch_encode(parts, CAIRN_BATCH_MAX_PARTS, &buf, &n), CAIRN_OK);
    buf[0] = '\xdc'; /* array 16: CAIRN_BATCH_MAX_PARTS + 1 elements ... */
    buf[1] = (char)((CAIRN_BATCH_MAX_PARTS + 1) >> 8);
    buf[2] = (char)((CAIRN_BATCH_MAX_PARTS + 1) & 0xff);
    char *more = malloc(n + 2);
    memcpy(more, buf, n);
    more[n] = '\xc4'; /* ... the last one an empty bin */
    more[n + 1] = '\x00';
    cairn_reply rep;
    raw_exchange(more, n + 2, &rep);
    cr_expect_eq(rep.code, CAIRN_E_DECODE);
    cairn_reply_free(&rep);
    free(more);
    free(buf);
    /* A well-formed batch whose parts are garbage: each part gets its own decode error. */
    cairn_batch_part junk[2] = {{"junk", 4}, {"", 0}};
    cr_assert_eq(cairn_batch_encode(junk, 2, &buf, &n), CAIRN_OK);
    nng_socket sock;
    cr_assert_eq(nng_req0_open(&sock), 0);
    cr_assert_eq(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000), 0);
    cr_assert_eq(nng_dial(sock, url, NULL, 0), 0);
    cr_assert_eq(nng_send(sock, buf, n, 0), 0);
    char *answer = NULL;
    size_t answer_len = 0;
    cr_assert_eq(nng_recv(sock, &answer, &answer_len, NNG_FLAG_ALLOC), 0);
    cairn_batch_part *got;
    size_t count;
    cairn_status st;
    cr_assert_eq(cairn_batch_decode(answer, answer_len, &got, &count, &st), CAIRN_OK, "%s",
                 st.message);
    cr_assert_eq(count, 2);
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq(cairn_reply_decode(got[i].data, got[i].len, &rep, &st), CAIRN_OK);
        cr_expect_eq(rep.code, CAIRN_E_DECODE, "part %zu", i);
        cairn_reply_free(&rep);
    }
    free(got);
    nng_free(answer, answer_len);
    nng_close(sock);
    free(buf);

    cairn_rpc_client *c = open_client(5000);
    cr_assert_eq(call_list(c, "still-here", &rep, &st), CAIRN_OK, "%s", st.message);
    cr_assert_str_eq(rep.names[0], "still-here");
    cairn_reply_free(&rep);
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);
}
