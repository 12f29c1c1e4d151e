/* Requests that become readable all at once on one HTTP thread are all answered at once
 * (docs/architecture.md, "HTTP event loop"). libmicrohttpd's epoll loop (0.9.75, and later
 * releases alike) takes events 128 at a time, and when a call returns exactly 128 it asks again
 * with its full timeout (the nearest connection timeout) before handling any of them: the 128
 * requests then sit unread until an unrelated event or that timeout wakes the thread. The test
 * makes the batch exactly 128 on a one-thread gateway: 128 idle keep-alive connections, the
 * gateway frozen while each gets a request, then thawed. Raw requests go to 127.0.0.1 only; every
 * wait is bounded. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(http_event_batch, .fini = it_teardown, .timeout = 180);

#define BATCH 128         /* libmicrohttpd's MAX_EVENTS */
#define ANSWER_MS 8000    /* far below the connection timeout the stall would last */
#define LIVENESS "GET /nacos/v1/console/health/liveness HTTP/1.1\r\nHost: x\r\n\r\n"

static int connect_to(const char *hostport)
{
    char host[64];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *s)
{
    size_t len = strlen(s);
    return write(fd, s, len) == (ssize_t)len;
}

/* Reads one whole response (headers and Content-Length body) from fd before deadline_ms;
 * returns its status, or 0 when it did not come whole in time. */
static int read_response(int fd, int64_t deadline_ms)
{
    char buf[4096];
    size_t got = 0;
    for (;;) {
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
            if (got >= (size_t)(end + 4 - buf) + body) {
                int status = 0;
                return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
            }
        }
        int left = (int)(deadline_ms - it_now_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || got >= sizeof buf - 1 || poll(&p, 1, left) != 1)
            return 0;
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
}

IT_TEST(http_event_batch, a_full_batch_of_readable_requests_is_answered_at_once)
{
    it_node *n = node_start(&(it_node_opts){
        .sets = ARGS("gateway.threads=1", "gateway.connection_timeout_s=120",
                     "gateway.request_read_timeout_ms=120000")});
    int fds[BATCH];
    /* Every connection served once first: accepted, registered, idle between requests. */
    for (int i = 0; i < BATCH; i++) {
        fds[i] = connect_to(n->gateway);
        cr_assert_geq(fds[i], 0, "connection %d to %s failed", i, n->gateway);
        cr_assert(send_all(fds[i], LIVENESS), "connection %d: write failed", i);
        int status = read_response(fds[i], it_now_ms() + 20000);
        cr_assert_eq(status, 200, "connection %d: first request got %d", i, status);
    }

    pid_t gw = node_freeze_role(n, "cairn-gateway");
    for (int i = 0; i < BATCH; i++)
        cr_assert(send_all(fds[i], LIVENESS), "connection %d: write failed", i);
    cr_assert_eq(kill(gw, SIGCONT), 0);

    int64_t deadline = it_now_ms() + ANSWER_MS;
    int answered = 0, first_missing = -1;
    for (int i = 0; i < BATCH; i++) {
        if (read_response(fds[i], deadline) == 200)
            answered++;
        else if (first_missing < 0)
            first_missing = i;
        close(fds[i]);
    }
    cr_expect_eq(answered, BATCH,
                 "%d of %d requests that became readable together were answered within %d ms "
                 "(first unanswered: connection %d)",
                 answered, BATCH, ANSWER_MS, first_missing);
    node_stop(n);
}
