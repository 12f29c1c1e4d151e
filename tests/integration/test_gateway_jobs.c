/* Gateway requests are jobs, not waiting threads: while the registry does not answer, requests
 * that need it wait (and get their 503 at gateway.registry_timeout_ms), and everything else on
 * the same few HTTP threads (list cache hits, liveness) is answered at once. */
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

TestSuite(gateway_jobs, .fini = it_teardown, .timeout = 120);

#define HTTP_THREADS "2"
#define TIMEOUT_MS 3000
#define WAITING 24 /* requests held by the stopped registry: many more than HTTP threads */
#define PROMPT 40  /* cache hits and liveness reads while they wait */

/* A connection to host:port with one request written to it, or -1. */
static int send_raw(const char *hostport, const char *request)
{
    char host[64];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    size_t len = strlen(request);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, request, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The status code of the response on fd, read within timeout_ms (0: none came). */
static int read_status(int fd, int timeout_ms)
{
    char buf[512];
    size_t got = 0;
    int64_t deadline = it_now_ms() + timeout_ms;
    while (got < sizeof buf - 1) {
        int left = (int)(deadline - it_now_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) != 1)
            break;
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n"))
            break;
    }
    buf[got] = '\0';
    int status = 0;
    return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

Test(gateway_jobs, a_stopped_registry_holds_only_the_requests_that_need_it)
{
    char timeout[64];
    snprintf(timeout, sizeof timeout, "gateway.registry_timeout_ms=%d", TIMEOUT_MS);
    it_node *n = node_start(&(it_node_opts){
        .sets = ARGS("gateway.threads=" HTTP_THREADS, timeout,
                     "gateway.list_cache_max_age_ms=600000")});
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "jobs-cached", "ip", "127.0.0.5", "port", "8080"));
    json_t *l = nacos_list(n, Q("serviceName", "jobs-cached")); /* fills the cache */
    json_decref(l);

    pid_t registry = node_freeze_role(n, "cairn-registry");

    int fds[WAITING];
    int64_t sent_at = it_now_ms();
    for (int i = 0; i < WAITING; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "GET " NS "/instance?serviceName=jobs-uncached-%d&ip=127.0.0.6&port=80 "
                 "HTTP/1.1\r\nHost: x\r\n\r\n",
                 i);
        fds[i] = send_raw(n->gateway, req);
        cr_assert_geq(fds[i], 0, "cannot connect to %s", n->gateway);
    }

    /* With the uncached requests all waiting, cache hits and liveness still come at once. */
    long slowest = 0;
    for (int i = 0; i < PROMPT; i++) {
        http_resp r = i % 2 ? nacos_call(n, "GET", "/nacos/v1/console/health/liveness", NULL,
                                         NULL, NULL)
                            : nacos_call(n, "GET", NS "/instance/list",
                                         Q("serviceName", "jobs-cached"), NULL, NULL);
        cr_assert_eq(r.status, 200, "request %d: %ld %s %s", i, r.status, r.body, r.error);
        if (r.elapsed_ms > slowest)
            slowest = r.elapsed_ms;
        http_resp_free(&r);
    }
    int64_t prompt_done = it_now_ms() - sent_at;
    cr_expect_lt(prompt_done, TIMEOUT_MS / 2,
                 "%d cache hits and liveness reads took %lld ms (slowest %ld ms) while the "
                 "registry was stopped: they waited behind the registry's requests",
                 PROMPT, (long long)prompt_done, slowest);

    /* The uncached requests get their 503, at the timeout, not before. */
    for (int i = 0; i < WAITING; i++) {
        int status = read_status(fds[i], TIMEOUT_MS * 3);
        int64_t at = it_now_ms() - sent_at;
        cr_expect_eq(status, 503, "uncached request %d: status %d", i, status);
        cr_expect_geq(at, TIMEOUT_MS - 200, "request %d answered after %lld ms", i,
                      (long long)at);
        close(fds[i]);
    }
    cr_assert_eq(kill(registry, SIGCONT), 0);

    /* And the registry's requests are served again. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "jobs-after", "ip", "127.0.0.7", "port", "8080"));
    l = nacos_list(n, Q("serviceName", "jobs-after"));
    cr_expect_not_null(list_find_host(l, "127.0.0.7", 8080));
    json_decref(l);
    node_stop(n);
}
