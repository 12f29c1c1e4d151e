/* The role skeleton: command line, directories, admin listener, readiness over the sd_notify
 * protocol (received with cairn run's own notify code), stop. Criterion runs each test in its
 * own process, so the process-wide role state starts fresh each time. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn_role.h"
#include "cairn_http_get.h"
#include "cli_notify.h"

static char tmp_dir[] = "/tmp/cairn-role-test-XXXXXX";
static char data_set[PATH_MAX + 32];
static cli_notify notify;

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmp_dir));
    snprintf(data_set, sizeof data_set, "node.data_dir=%s/data", tmp_dir);
    char err[256];
    cr_assert_eq(cli_notify_open(&notify, tmp_dir, "test", err, sizeof err), 0, "%s", err);
    setenv("NOTIFY_SOCKET", notify.path, 1);
}

static void teardown(void)
{
    cli_notify_close(&notify);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(role, .init = setup, .fini = teardown, .timeout = 60);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (bounded) for a notify datagram. */
static cli_notify_msg next_notify(void)
{
    cli_notify_msg msg;
    int64_t deadline = now_ms() + 5000;
    for (;;) {
        int r = cli_notify_recv(&notify, &msg);
        cr_assert_geq(r, 0);
        if (r == 1)
            return msg;
        cr_assert_lt(now_ms(), deadline, "no notify message");
        struct pollfd p = {.fd = notify.fd, .events = POLLIN};
        poll(&p, 1, 100);
    }
}

static int get(const char *addr, const char *path, char *body, size_t body_len)
{
    cairn_http_response resp;
    char err[256];
    cr_assert_eq(cairn_http_get(addr, path, 5000, &resp, err, sizeof err), 0, "%s", err);
    snprintf(body, body_len, "%s", resp.body);
    int status = resp.status;
    cairn_http_response_free(&resp);
    return status;
}

/* The status code of a raw request (for methods cairn_http_get does not send). */
static int raw_status(uint16_t port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    char buf[256] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert_gt(n, 0);
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

static bool unhealthy(void *arg, char *detail, size_t len)
{
    snprintf(detail, len, "%s", (const char *)arg);
    return false;
}

Test(role, lifecycle)
{
    char *argv[] = {"cairn-registry", "--set", data_set, "--set=registry.admin_listen=127.0.0.1:0",
                    NULL};
    cairn_role role;
    cr_assert_eq(cairn_role_init(&role, "registry", 4, argv), 0);
    cr_assert_str_eq(role.name, "registry");

    char expected[PATH_MAX + 32];
    snprintf(expected, sizeof expected, "%s/data", tmp_dir);
    cr_assert_str_eq(role.data_dir, expected);
    snprintf(expected, sizeof expected, "%s/data/run", tmp_dir);
    cr_assert_str_eq(role.run_dir, expected);
    struct stat sb;
    cr_assert_eq(stat(role.run_dir, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
    cr_assert_eq(sb.st_mode & 0777 & ~0750, 0);

    /* The admin address file holds the bound port. */
    char path[PATH_MAX + 32], addr[64] = "";
    snprintf(path, sizeof path, "%s/registry.admin", role.run_dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(addr, sizeof addr, f));
    fclose(f);
    uint16_t port = cairn_admin_port(role.admin);
    cr_assert_neq(port, 0);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", port);
    cr_assert_str_eq(addr, want);

    char body[8192];
    cr_assert_eq(get(addr, "/ready", body, sizeof body), 503);
    cr_assert_eq(get(addr, "/health", body, sizeof body), 503);
    cr_assert_str_eq(body, "starting\n");
    cr_assert_eq(get(addr, "/metrics", body, sizeof body), 200);
    cr_assert_not_null(strstr(body, "# TYPE cairn_registry_ready gauge\ncairn_registry_ready 0\n"),
                       "%s", body);

    cairn_role_ready(&role);
    cli_notify_msg msg = next_notify();
    cr_assert(msg.ready);
    cr_assert_eq(msg.pid, getpid());
    cr_assert_str_eq(msg.status, "registry ready");

    cr_assert_eq(get(addr, "/ready", body, sizeof body), 200);
    cr_assert_eq(get(addr, "/health", body, sizeof body), 200);
    cr_assert_str_eq(body, "ok: ready\n");
    cr_assert_eq(get(addr, "/metrics", body, sizeof body), 200);
    cr_assert_not_null(strstr(body, "cairn_registry_ready 1\n"));
    cr_assert_eq(get(addr, "/nope", body, sizeof body), 404);
    cr_assert_eq(raw_status(port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"), 405);
    cr_assert_eq(raw_status(port, "DELETE /health HTTP/1.0\r\n\r\n"), 405);

    cairn_role_set_health(&role, unhealthy, "store closed");
    cr_assert_eq(get(addr, "/health", body, sizeof body), 503);
    cr_assert_str_eq(body, "store closed\n");
    cairn_role_set_health(&role, NULL, NULL);

    cr_assert(cairn_role_running());
    cr_assert_eq(raise(SIGTERM), 0); /* handled: sets the stop flag, does not kill */
    cr_assert(!cairn_role_running());
    cairn_role_wait_for_stop(&role); /* returns at once */
    cr_assert_eq(get(addr, "/ready", body, sizeof body), 503);
    cr_assert_eq(get(addr, "/health", body, sizeof body), 503);
    cr_assert_str_eq(body, "stopping\n");

    cr_assert_eq(cairn_role_finish(&role), 0);
    msg = next_notify();
    cr_assert(msg.stopping);
    cr_assert_neq(access(path, F_OK), 0, "admin address file left behind");
}

Test(role, bad_config_exits_78_and_starts_nothing)
{
    char *argv[] = {"cairn-gateway", "--set", data_set, "--set", "gateway.threads=abc", NULL};
    cairn_role role;
    cr_assert_eq(cairn_role_init(&role, "gateway", 5, argv), CAIRN_EXIT_CONFIG);
    char data[PATH_MAX + 8];
    snprintf(data, sizeof data, "%s/data", tmp_dir);
    cr_assert_neq(access(data, F_OK), 0, "data dir created despite bad config");

    char *argv2[] = {"cairn-gateway", "--config", "/nonexistent.conf", NULL};
    cr_assert_eq(cairn_role_init(&role, "gateway", 3, argv2), CAIRN_EXIT_CONFIG);
}

Test(role, usage_errors_exit_64)
{
    cairn_role role;
    char *unknown[] = {"cairn-gateway", "--bogus", NULL};
    cr_assert_eq(cairn_role_init(&role, "gateway", 2, unknown), 64);
    char *missing[] = {"cairn-gateway", "--set", NULL};
    cr_assert_eq(cairn_role_init(&role, "gateway", 2, missing), 64);
}

/* Outside the fixture: exit(0) skips the suite's teardown. */
Test(role_cli, help_exits_0, .exit_code = 0)
{
    cairn_role role;
    char *argv[] = {"cairn-gateway", "--help", NULL};
    cairn_role_init(&role, "gateway", 2, argv);
    cr_assert_fail("--help returned");
}

Test(role, role_without_admin_key_has_no_listener)
{
    char *argv[] = {"cairn-noadmin", "--set", data_set, NULL};
    cairn_role role;
    cr_assert_eq(cairn_role_init(&role, "noadmin", 3, argv), 0);
    cr_assert_null(role.admin);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/noadmin.admin", role.run_dir);
    cr_assert_neq(access(path, F_OK), 0);
    cr_assert_eq(cairn_role_finish(&role), 0);
}

static void *stop_after_watchdog(void *arg)
{
    bool *seen = arg;
    int64_t deadline = now_ms() + 5000;
    while (!*seen && now_ms() < deadline) {
        cli_notify_msg msg;
        int r = cli_notify_recv(&notify, &msg);
        if (r == 1 && msg.watchdog)
            *seen = true;
        else if (r == 0) {
            struct pollfd p = {.fd = notify.fd, .events = POLLIN};
            poll(&p, 1, 50);
        }
    }
    cairn_role_request_stop();
    return NULL;
}

Test(role, wait_for_stop_pings_the_watchdog)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    char *argv[] = {"cairn-noadmin", "--set", data_set, NULL};
    cairn_role role;
    cr_assert_eq(cairn_role_init(&role, "noadmin", 3, argv), 0);
    bool seen = false;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_after_watchdog, &seen), 0);
    cairn_role_wait_for_stop(&role); /* returns when the thread asks to stop */
    pthread_join(t, NULL);
    cr_assert(seen, "no WATCHDOG=1 within 5 s");
    cr_assert(!cairn_role_running());
    cairn_role_finish(&role);
}
