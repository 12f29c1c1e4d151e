/* The dial watch (cairn_dial.h): its decision in virtual time, and a REQ client and a SUB
 * follower whose peer dies in the middle of handshakes (nng 1.5.2 then ends a dialer's redial
 * loop for good, docs/architecture.md "A dialer that stops redialing") and that still connect
 * to the peer once it is really back.
 *
 * The dying peer is a plain unix listener that closes itself as soon as a connection waits in
 * its backlog: the connection is reset, and when that happens before nng wrote its protocol
 * header the write fails with EPIPE, which nng 1.5.2 reports as NNG_ECLOSED and takes for "the
 * dialer was closed". It repeats that for every connect until the dialer stops trying. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/supplemental/util/platform.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cairn_dial.h"
#include "cairn_requests.h"
#include "cairn_rpc.h"
#include "cairn_sub.h"

#define STOPPED_AFTER_MS 2000 /* no connect for this long: the dialer stopped (retries ≤ 1 s) */
#define RESETS_MAX 300        /* handshakes the dying peer breaks at most */
#define DYING_MS 15000        /* and for at most this long */
#define BACK_MS 10000         /* the real peer must be reached within this */

/* As every role does: nng's write to a peer that died must not end the process. */
static void ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

TestSuite(dial, .init = ignore_sigpipe, .timeout = 90);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the decision ------------------------------------------------------------------------ */

Test(dial, a_dialer_that_keeps_trying_is_left_alone)
{
    cairn_dial_seen s = {.id = 1, .since_ms = 0};
    for (int64_t t = 0; t <= 60000; t += 900) { /* a refused connect counted every 900 ms */
        cairn_dial_seen_update(&s, (uint64_t)(t / 900), 0, t);
        cr_expect(!cairn_dial_should_add(0, &s, 1, t), "replaced at %lld ms while trying",
                  (long long)t);
    }
}

Test(dial, a_dialer_that_stopped_is_replaced_after_the_frozen_time_only_without_a_connection)
{
    cairn_dial_seen s = {.id = 1, .since_ms = 0};
    cairn_dial_seen_update(&s, 5, 0, 1000); /* its last outcome, then nothing */
    cr_expect(!cairn_dial_should_add(0, &s, 1, 1000 + CAIRN_DIAL_FROZEN_MS - 1));
    cr_expect(cairn_dial_should_add(0, &s, 1, 1000 + CAIRN_DIAL_FROZEN_MS));
    cr_expect(!cairn_dial_should_add(1, &s, 1, 1000 + CAIRN_DIAL_FROZEN_MS),
              "the socket has a connection (another dialer's)");
    cr_expect(!cairn_dial_should_add(0, &s, CAIRN_DIAL_MAX, 1000 + CAIRN_DIAL_FROZEN_MS),
              "no room for another dialer");
    cairn_dial_seen_update(&s, 5, 1, 9000); /* connected: never frozen while it has a pipe */
    cr_expect(!cairn_dial_should_add(0, &s, 1, 90000));
}

Test(dial, only_a_dialer_still_for_longer_than_a_handshake_can_last_is_closed)
{
    cairn_dial_seen s = {.id = 1, .since_ms = 0};
    cairn_dial_seen_update(&s, 3, 0, 500);
    cr_expect(!cairn_dial_may_reclaim(&s, 500 + 10000), "a handshake may last 10 s");
    cr_expect(!cairn_dial_may_reclaim(&s, 500 + CAIRN_DIAL_RECLAIM_MS - 1));
    cr_expect(cairn_dial_may_reclaim(&s, 500 + CAIRN_DIAL_RECLAIM_MS));
    cairn_dial_seen_update(&s, 3, 1, 40000);
    cr_expect(!cairn_dial_may_reclaim(&s, 400000), "a dialer with a connection is kept");
}

/* ---- a peer dying in the middle of handshakes ---------------------------------------------- */

typedef struct dying_peer {
    char path[108];
    pthread_t thread;
    int resets;
    bool stopped; /* the dialers stopped connecting for STOPPED_AFTER_MS */
} dying_peer;

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    unlink(path);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 8) == 0,
              "listen on %s", path);
    return fd;
}

/* Closes its listener as soon as a connection waits, until nobody connects any more. */
static void *dying_peer_main(void *arg)
{
    dying_peer *p = arg;
    int64_t end = now_ms() + DYING_MS;
    while (p->resets < RESETS_MAX && now_ms() < end) {
        int fd = listen_unix(p->path);
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int rc = poll(&pf, 1, STOPPED_AFTER_MS);
        close(fd); /* resets the connection in the backlog */
        if (rc == 0) {
            p->stopped = true;
            break;
        }
        p->resets++;
    }
    unlink(p->path);
    return NULL;
}

static void dying_peer_start(dying_peer *p, const char *name)
{
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "/tmp/cairn-test-dial-%s-%d.sock", name, (int)getpid());
    unlink(p->path);
    cr_assert_eq(pthread_create(&p->thread, NULL, dying_peer_main, p), 0);
}

static void dying_peer_wait(dying_peer *p)
{
    pthread_join(p->thread, NULL);
    cr_log_info("the dying peer reset %d handshakes; the dialer %s", p->resets,
                p->stopped ? "stopped connecting (the nng 1.5.2 failure happened)"
                           : "kept connecting");
}

static void echo_handler(void *arg, const cairn_request *req, cairn_reply *rep)
{
    (void)arg, (void)req;
    rep->service_count = 7;
}

static bool call_ok(cairn_rpc_client *c)
{
    cairn_request rq;
    cairn_reply rep;
    cairn_status st;
    cairn_request_init(&rq, CAIRN_MSG_STATS);
    bool ok = cairn_rpc_call(c, &rq, &rep, &st) == CAIRN_OK && rep.service_count == 7;
    cairn_reply_free(&rep);
    cairn_request_free(&rq);
    return ok;
}

Test(dial, a_req_client_reaches_its_peer_after_the_peer_died_in_handshakes)
{
    dying_peer p;
    dying_peer_start(&p, "req");
    char url[128];
    snprintf(url, sizeof url, "ipc://%s", p.path);
    cairn_status st;
    cairn_rpc_client *c = cairn_rpc_client_open(url, "peer", 300, &st);
    cr_assert_not_null(c, "%s", st.message);
    dying_peer_wait(&p);

    cairn_rpc_server *s = cairn_rpc_server_start(url, 1, echo_handler, NULL, NULL, &st);
    cr_assert_not_null(s, "%s", st.message);
    int64_t t0 = now_ms();
    bool ok = false;
    while (!ok && now_ms() - t0 < BACK_MS)
        ok = call_ok(c); /* each call ends within its 300 ms timeout */
    cr_expect(ok, "the client did not reach its peer within %d ms of its start (%d handshakes "
                  "reset, dialer %s)", BACK_MS, p.resets, p.stopped ? "stopped" : "trying");
    cr_log_info("REQ client answered %lld ms after the peer started", (long long)(now_ms() - t0));
    cairn_rpc_client_close(c);
    cairn_rpc_server_stop(s);
}

typedef struct follower {
    atomic_bool connected;
} follower;

static void on_sub_pipe(void *arg, bool connected)
{
    atomic_store(&((follower *)arg)->connected, connected);
}

Test(dial, a_sub_follower_reaches_its_publisher_after_the_publisher_died_in_handshakes)
{
    dying_peer p;
    dying_peer_start(&p, "sub");
    char url[128];
    snprintf(url, sizeof url, "ipc://%s", p.path);
    follower f;
    atomic_init(&f.connected, false);
    cairn_sub sub;
    cairn_status st;
    cr_assert_eq(cairn_sub_open(&sub, url, 65536, 0, on_sub_pipe, &f, &st), CAIRN_OK, "%s",
                 st.message);
    dying_peer_wait(&p);

    nng_socket pub;
    cr_assert_eq(nng_pub0_open(&pub), 0);
    cr_assert_eq(nng_listen(pub, url, NULL, 0), 0);
    int64_t t0 = now_ms();
    while (!atomic_load(&f.connected) && now_ms() - t0 < BACK_MS)
        nng_msleep(20);
    cr_expect(atomic_load(&f.connected),
              "the follower did not reach its publisher within %d ms of its start (%d "
              "handshakes reset, dialer %s)",
              BACK_MS, p.resets, p.stopped ? "stopped" : "trying");
    cr_log_info("SUB follower connected %lld ms after the publisher started",
                (long long)(now_ms() - t0));
    cairn_sub_close(&sub);
    nng_close(pub);
}
