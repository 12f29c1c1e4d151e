/* The HTTP listener's limits against hostile clients (gateway_http.h): a request of a great many
 * parameters is refused in linear time. Raw requests go to 127.0.0.1 only; every loop is
 * bounded in count and in time, and waits go through wait_until. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(http_limits, .fini = it_teardown, .timeout = 180);

#define INSTANCE NS "/instance"

/* "k0=&k1=&...": n empty parameters, malloc'd. */
static char *many_params(int n)
{
    size_t cap = (size_t)n * 12 + 1, len = 0;
    char *s = malloc(cap);
    cr_assert(s != NULL);
    s[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%sk%d=", i ? "&" : "", i);
    return s;
}

/* 80 000 form parameters (629 KB, under gateway.max_body_bytes) took 13 s or more of a gateway
 * thread while each was compared with every earlier one; now the request is refused at
 * gateway.max_params, well within the client's timeout, and the node serves on. */
IT_TEST(http_limits, too_many_parameters)
{
    it_node *n = node_start(&(it_node_opts){0});
    nacos_write_ok(n, "POST", INSTANCE, Q("serviceName", "keep", "ip", "127.0.0.1", "port", "1"));
    char *body = many_params(80000);
    http_resp r = nacos_call(n, "POST", INSTANCE, NULL, body, NULL);
    cr_expect_eq(r.status, 400, "80 000 form parameters: %ld \"%.200s\" %s", r.status, r.body,
                 r.error);
    cr_expect_str_eq(r.body, "Too many parameters (max 256)");
    http_resp_free(&r);
    free(body);

    /* Query and form count together: 203 + 54 is one too many. */
    char *query = many_params(200);
    char *full = NULL;
    cr_assert(asprintf(&full, "%s" INSTANCE "?serviceName=keep&ip=127.0.0.1&port=1&%s",
                       n->gateway_url, query) > 0);
    body = many_params(54);
    r = http_request("POST", full, body, strlen(body), NULL, NULL, IT_HTTP_TIMEOUT_MS);
    cr_expect_eq(r.status, 400, "257 parameters: %ld \"%.200s\" %s", r.status, r.body, r.error);
    cr_expect_str_eq(r.body, "Too many parameters (max 256)");
    http_resp_free(&r);
    free(body);
    /* ... and 256 are served. */
    body = many_params(53);
    r = http_request("POST", full, body, strlen(body), NULL, NULL, IT_HTTP_TIMEOUT_MS);
    cr_expect_eq(r.status, 200, "256 parameters: %ld \"%.200s\" %s", r.status, r.body, r.error);
    http_resp_free(&r);
    free(body);
    free(full);
    free(query);

    json_t *l = nacos_list(n, Q("serviceName", "keep"));
    cr_expect_eq(list_host_count(l), 1);
    json_decref(l);
}

/* Sends raw on a fresh keep-alive connection to the gateway and reads until the gateway closes
 * it or timeout_ms passes; the reply (malloc'd), *closed saying which. */
static char *raw_keepalive(const it_node *n, const char *raw, int timeout_ms, bool *closed)
{
    int fd = tcp_open(n->gateway);
    cr_assert(fd >= 0, "cannot connect to %s", n->gateway);
    cr_assert_eq(tcp_send_all(fd, raw, strlen(raw), timeout_ms), strlen(raw));
    char *reply = tcp_read_all(fd, timeout_ms, NULL, closed);
    close(fd);
    cr_assert(reply != NULL);
    return reply;
}

#define SMUGGLED "GET " NS "/instance/list?serviceName=keep HTTP/1.1\r\nHost: x\r\n\r\n"

/* A body framed two ways was answered and the connection kept, so a proxy that framed it the
 * other way could slip a request past its own checks. Now: 400, connection closed, and what
 * followed is never served. */
IT_TEST(http_limits, ambiguous_framing_is_refused)
{
    it_node *n = node_start(&(it_node_opts){0});
    nacos_write_ok(n, "POST", INSTANCE, Q("serviceName", "keep", "ip", "127.0.0.1", "port", "1"));
    static const struct {
        const char *what, *raw, *message;
    } cases[] = {
        {"Content-Length and chunked",
         "POST " INSTANCE " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
         "both Content-Length and Transfer-Encoding"},
        {"chunked and Content-Length",
         "POST " INSTANCE " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
         "Content-Length: 69\r\n\r\n0\r\n\r\n" SMUGGLED,
         "both Content-Length and Transfer-Encoding"},
        {"two Content-Lengths",
         "POST " INSTANCE " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
         "Content-Length: 64\r\n\r\n" SMUGGLED,
         "Content-Length headers that differ"},
        {"two Transfer-Encodings",
         "POST " INSTANCE " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
         "a Transfer-Encoding other than chunked"},
        {"gzip", "POST " INSTANCE " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" SMUGGLED,
         "a Transfer-Encoding other than chunked"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool closed = false;
        char *reply = raw_keepalive(n, cases[i].raw, 5000, &closed);
        cr_expect(strncmp(reply, "HTTP/1.1 400 ", 13) == 0, "%s: %.300s", cases[i].what, reply);
        char want[128];
        snprintf(want, sizeof want, "ambiguous request framing: %s", cases[i].message);
        cr_expect(strstr(reply, want) != NULL, "%s: %.300s", cases[i].what, reply);
        cr_expect(closed, "%s: the connection was kept open", cases[i].what);
        cr_expect(strstr(reply + 1, "HTTP/1.1") == NULL, "%s: a second answer: %.600s",
                  cases[i].what, reply);
        free(reply);
    }
    /* Two equal lengths are one length (RFC 9112 6.3): served. */
    bool closed = false;
    char *reply = raw_keepalive(n,
                                "GET " NS "/instance/list?serviceName=keep HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                                5000, &closed);
    cr_expect(strncmp(reply, "HTTP/1.1 200 ", 13) == 0, "equal lengths: %.300s", reply);
    free(reply);
}

/* ---- connections ----------------------------------------------------------------------- */

#define DEADLINE_MS 500
#define DEADLINE_SET "gateway.request_read_timeout_ms=500"

/* A keep-alive connection that has been served once (so the gateway has accepted and counted
 * it); its fd. */
static int served_connection(const it_node *n)
{
    int fd = tcp_open(n->gateway);
    cr_assert(fd >= 0, "cannot connect to %s", n->gateway);
    static const char req[] = "GET /nacos/v1/console/health/liveness HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(tcp_send_all(fd, req, sizeof req - 1, 5000), sizeof req - 1);
    char buf[1024] = "";
    size_t got = 0;
    int64_t until = it_now_ms() + 5000;
    while (!strstr(buf, "\r\n\r\n") && got < sizeof buf - 1 && it_now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        cr_assert_gt(r, 0, "the gateway closed a connection it had just served");
        got += (size_t)r;
        buf[got] = '\0';
    }
    cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "liveness: %.200s", buf);
    return fd;
}

/* Whether the gateway closes fd within timeout_ms, reading (and dropping) what it sends. */
static bool closed_within(int fd, int timeout_ms)
{
    bool closed = false;
    free(tcp_read_all(fd, timeout_ms, NULL, &closed));
    return closed;
}

/* A fresh connection over a limit is closed at once, unanswered; before, it was accepted by the
 * kernel and waited there, so clients hung until their own timeout. */
static void expect_refused(const it_node *n, const char *what)
{
    int fd = tcp_open(n->gateway);
    cr_assert(fd >= 0, "%s: cannot connect", what);
    int64_t t0 = it_now_ms();
    size_t len = 0;
    bool closed = false;
    char *reply = tcp_read_all(fd, 5000, &len, &closed);
    cr_expect(closed, "%s: the connection over the limit was neither refused nor served in 5 s",
              what);
    cr_expect_eq(len, 0, "%s: answered: %.200s", what, reply);
    cr_expect_lt(it_now_ms() - t0, 2000, "%s: refused only after %lld ms", what,
                 (long long)(it_now_ms() - t0));
    free(reply);
    close(fd);
}

static bool liveness_served(void *arg)
{
    http_resp r = nacos_call(arg, "GET", "/nacos/v1/console/health/liveness", NULL, NULL, NULL);
    bool ok = r.status == 200;
    http_resp_free(&r);
    return ok;
}

/* With set applied, limit connections from here are served, one more is refused at once, and
 * a slot that frees up is taken again. */
static void check_connection_limit(const char *set, int limit, const char *what)
{
    it_node *n = node_start(&(it_node_opts){.sets = ARGS(set)});
    int fds[16];
    cr_assert_leq(limit, 16);
    for (int i = 0; i < limit; i++)
        fds[i] = served_connection(n);
    expect_refused(n, what);
    close(fds[0]);
    cr_expect(wait_until(liveness_served, n, 5000), "%s: nothing was served after one of the %d "
              "connections closed", what, limit);
    for (int i = 1; i < limit; i++)
        close(fds[i]);
}

IT_TEST(http_limits, connections_over_the_limit_are_refused_at_once)
{
    check_connection_limit("gateway.max_connections=16", 16, "max_connections");
}

IT_TEST(http_limits, connections_from_one_address_are_limited)
{
    check_connection_limit("gateway.max_connections_per_ip=4", 4, "max_connections_per_ip");
}

/* A header line every 100 ms kept a connection open for ever (the idle timeout restarts at
 * every byte); now it is closed at the read deadline. Idle keep-alive connections are not. */
IT_TEST(http_limits, trickled_request_is_cut_at_the_deadline)
{
    it_node *n = node_start(&(it_node_opts){.sets = ARGS(DEADLINE_SET)});
    int idle = served_connection(n);
    int fd = tcp_open(n->gateway);
    cr_assert(fd >= 0);
    static const char line[] = "GET " NS "/instance/list?serviceName=x HTTP/1.1\r\n";
    cr_assert_eq(tcp_send_all(fd, line, sizeof line - 1, 1000), sizeof line - 1);
    int64_t t0 = it_now_ms();
    bool closed = false;
    /* At most 10 s of a header line every 100 ms. */
    for (int i = 0; i < 100 && !closed; i++) {
        char header[32];
        int len = snprintf(header, sizeof header, "X-Slow-%d: 1\r\n", i);
        if (tcp_send_all(fd, header, (size_t)len, 1000) < (size_t)len)
            closed = true;
        else
            closed = closed_within(fd, 100);
    }
    int64_t took = it_now_ms() - t0;
    close(fd);
    cr_expect(closed, "a trickled request still open after %lld ms (deadline %d ms)",
              (long long)took, DEADLINE_MS);
    cr_expect_lt(took, DEADLINE_MS * 4, "a trickled request was cut only after %lld ms",
                 (long long)took);
    /* The idle connection, served before the trickle began, outlived the deadline: still
     * served. */
    static const char req[] = "GET /nacos/v1/console/health/liveness HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";
    cr_expect_eq(tcp_send_all(idle, req, sizeof req - 1, 1000), sizeof req - 1);
    char *reply = tcp_read_all(idle, 5000, NULL, NULL);
    cr_expect(strncmp(reply, "HTTP/1.1 200 ", 13) == 0,
              "an idle keep-alive connection was cut by the read deadline: %.200s", reply);
    free(reply);
    close(idle);
}

/* A request deferred while it waits on a stopped registry is answered (503 at the registry
 * timeout), not cut at the read deadline. */
IT_TEST(http_limits, deferred_request_outlives_the_deadline)
{
    it_node *n = node_start(
        &(it_node_opts){.sets = ARGS(DEADLINE_SET, "gateway.registry_timeout_ms=2000")});
    pid_t registry = node_freeze_role(n, "cairn-registry");
    int fd = tcp_open(n->gateway);
    cr_expect(fd >= 0);
    static const char req[] = "GET " NS "/instance?serviceName=waits&ip=127.0.0.6&port=80 "
                              "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    cr_expect_eq(tcp_send_all(fd, req, sizeof req - 1, 1000), sizeof req - 1);
    char *reply = tcp_read_all(fd, 10000, NULL, NULL);
    cr_expect_eq(kill(registry, SIGCONT), 0);
    cr_expect(strncmp(reply, "HTTP/1.1 503 ", 13) == 0,
              "a request waiting on the registry: %.200s", reply);
    free(reply);
    close(fd);
}
