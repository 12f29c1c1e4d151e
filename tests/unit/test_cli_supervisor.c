/* `cairn run`'s process table against fake roles: this test binary itself, exec'd under the role
 * binaries' names (symlinks in a temp dir). When started as a role (CAIRN_TEST_FAKE_ROLES and
 * NOTIFY_SOCKET set) it behaves as CAIRN_TEST_FAKE_ROLES says for its name and never reaches
 * Criterion's main:
 *   ready  sd_notify READY=1 then wait for a signal
 *   never  wait for a signal without becoming ready
 *   exit   exit with status 3 at once                                                       */
#include <criterion/criterion.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cairn_clock.h"
#include "cli_state.h"
#include "cli_supervisor.h"

__attribute__((constructor)) static void fake_role(void)
{
    const char *modes = getenv("CAIRN_TEST_FAKE_ROLES");
    if (!modes || !getenv("NOTIFY_SOCKET"))
        return;
    char exe[PATH_MAX];
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (!f || !fgets(exe, sizeof exe, f)) /* argv[0] up to its NUL */
        _exit(100);
    fclose(f);
    char key[PATH_MAX + 2];
    snprintf(key, sizeof key, "%s=", basename(exe));
    const char *m = strstr(modes, key);
    const char *mode = m ? m + strlen(key) : "ready";
    if (strncmp(mode, "exit", 4) == 0)
        _exit(3);
    if (strncmp(mode, "ready", 5) == 0)
        sd_notify(0, "READY=1\nSTATUS=fake");
    for (;;)
        pause();
}

static char tmp_dir[] = "/tmp/cairn-sup-test-XXXXXX";
static char bin_dir[PATH_MAX], run_dir[PATH_MAX];
static cairn_config *cfg;
static cli_options opts;
static cli_supervisor sv;

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmp_dir));
    snprintf(bin_dir, sizeof bin_dir, "%s/bin", tmp_dir);
    snprintf(run_dir, sizeof run_dir, "%s/run", tmp_dir);
    cr_assert_eq(mkdir(bin_dir, 0750), 0);
    cr_assert_eq(mkdir(run_dir, 0750), 0);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = '\0';
    for (size_t i = 0; i < cairn_node_role_count; i++) {
        char link[PATH_MAX + 64];
        snprintf(link, sizeof link, "%s/%s", bin_dir, cairn_node_roles[i].binary);
        cr_assert_eq(symlink(self, link), 0);
    }
    static char *argv[] = {"run", "--set", "run.restart_backoff_min_ms=50", "--set",
                           "run.restart_backoff_max_ms=150", NULL};
    cr_assert_eq(cli_options_parse(&opts, "run", 5, argv), 0);
    cairn_status st;
    cfg = cairn_config_load(NULL, opts.sets, opts.set_count, &st);
    cr_assert_not_null(cfg, "%s", st.message);
}

static void teardown(void)
{
    cli_supervisor_stop(&sv, SIGKILL);
    while (cli_supervisor_running(&sv) > 0) {
        cli_supervisor_reap(&sv, cli_now_ms());
        poll(NULL, 0, 10);
    }
    cli_supervisor_free(&sv);
    cairn_config_free(cfg);
    cli_options_free(&opts);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(supervisor, .init = setup, .fini = teardown, .timeout = 60);

static void start(const char *modes)
{
    setenv("CAIRN_TEST_FAKE_ROLES", modes, 1);
    char err[512];
    cr_assert_eq(cli_supervisor_init(&sv, bin_dir, run_dir, &opts, cfg, err, sizeof err), 0, "%s",
                 err);
    int64_t now = cli_now_ms();
    for (size_t i = 0; i < sv.count; i++)
        cr_assert_eq(cli_supervisor_spawn(&sv, &sv.children[i], now), 0);
}

/* One turn of cairn run's loop without the signalfd: wait briefly for notify messages, then
 * reap and run due restarts. */
static void turn(void)
{
    struct pollfd pfds[8];
    for (size_t i = 0; i < sv.count; i++)
        pfds[i] = (struct pollfd){.fd = sv.children[i].notify.fd, .events = POLLIN};
    poll(pfds, sv.count, 10);
    for (size_t i = 0; i < sv.count; i++)
        cli_supervisor_notify(&sv, &sv.children[i]);
    cli_supervisor_reap(&sv, cli_now_ms());
    cli_supervisor_run_timers(&sv, cli_now_ms());
}

#define UNTIL(cond, what)                                                                    \
    do {                                                                                     \
        int64_t deadline_ = cli_now_ms() + 10000;                                            \
        while (!(cond)) {                                                                    \
            cr_assert_lt(cli_now_ms(), deadline_, "timed out waiting for %s", what);         \
            turn();                                                                          \
        }                                                                                    \
    } while (0)

Test(supervisor, roles_become_ready_and_are_restarted_with_backoff)
{
    start("");
    UNTIL(cli_supervisor_all_ready(&sv), "all ready");
    cr_assert_eq(cli_supervisor_running(&sv), sv.count);

    cli_child *reg = &sv.children[0];
    cr_assert_str_eq(reg->role->name, "registry");
    pid_t first = reg->pid;
    cr_assert_eq(kill(first, SIGKILL), 0);
    UNTIL(reg->state == CHILD_WAITING, "registry exit noticed");
    cr_assert_eq(reg->pid, 0);
    cr_assert_eq(reg->next_backoff_ms, 100, "backoff doubles after a quick failure");
    cr_assert(!cli_supervisor_all_ready(&sv));
    int64_t next = cli_supervisor_next_timer(&sv);
    cr_assert_geq(next, cli_now_ms() - 5);

    UNTIL(reg->state == CHILD_READY, "registry ready again");
    cr_assert_neq(reg->pid, first);
    cr_assert_eq(reg->starts, 2);
    cr_assert(cli_supervisor_all_ready(&sv));

    /* Quick failures again: the delay doubles up to the maximum. */
    kill(reg->pid, SIGKILL);
    UNTIL(reg->state == CHILD_WAITING, "second exit");
    cr_assert_eq(reg->next_backoff_ms, 150);
    UNTIL(reg->state == CHILD_READY, "ready a third time");

    /* A stop cancels restarts and ends every role. */
    cli_supervisor_stop(&sv, SIGTERM);
    UNTIL(cli_supervisor_running(&sv) == 0, "all exited");
    for (size_t i = 0; i < sv.count; i++)
        cr_assert_eq(sv.children[i].state, CHILD_DOWN);
    cr_assert_eq(cli_supervisor_next_timer(&sv), -1);
}

Test(supervisor, a_role_that_never_gets_ready)
{
    start("cairn-gateway=never");
    UNTIL(sv.children[0].state == CHILD_READY, "registry ready");
    /* Bounded wait: the gateway stays STARTING. */
    int64_t until = cli_now_ms() + 300;
    while (cli_now_ms() < until)
        turn();
    const cli_child *gateway = NULL;
    for (size_t i = 0; i < sv.count; i++)
        if (strcmp(sv.children[i].instance.name, "gateway") == 0)
            gateway = &sv.children[i];
    cr_assert_not_null(gateway);
    cr_assert_eq(gateway->state, CHILD_STARTING);
    cr_assert(!cli_supervisor_all_ready(&sv));
}

Test(supervisor, a_crashing_role_keeps_being_restarted)
{
    start("cairn-registry=exit");
    UNTIL(sv.children[0].starts >= 3, "three starts");
    cr_assert_eq(sv.children[0].next_backoff_ms, 150);
    cr_assert_neq(sv.children[0].state, CHILD_READY);
}

Test(supervisor, children_get_the_config_arguments)
{
    cr_assert_eq(opts.set_count, 2);
    char err[512];
    cr_assert_eq(cli_supervisor_init(&sv, bin_dir, run_dir, &opts, cfg, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(sv.arg_count, 4);
    cr_assert_str_eq(sv.args[0], "--set");
    cr_assert_str_eq(sv.args[1], "run.restart_backoff_min_ms=50");
    cr_assert_str_eq(sv.args[3], "run.restart_backoff_max_ms=150");
}

Test(supervisor, missing_role_binary_is_an_error)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", bin_dir, cairn_node_roles[1].binary);
    cr_assert_eq(unlink(path), 0);
    char err[512];
    cr_assert_eq(cli_supervisor_init(&sv, bin_dir, run_dir, &opts, cfg, err, sizeof err), -1);
    cr_assert(strstr(err, cairn_node_roles[1].binary) && strstr(err, "not found"), "%s", err);
}

/* The record `cairn status` reads, as of the last save. */
static const cli_role_record *saved(const char *name, cli_role_record *records, size_t max)
{
    cr_assert_eq(cli_supervisor_save(&sv), 0, "%s", strerror(errno));
    cr_assert_not(sv.changed);
    long supervisor = 0;
    int n = cli_state_read(run_dir, &supervisor, records, max);
    cr_assert_eq(n, (int)sv.count);
    cr_assert_eq(supervisor, (long)getpid());
    for (int i = 0; i < n; i++)
        if (strcmp(records[i].name, name) == 0)
            return &records[i];
    cr_assert_fail("no record of %s", name);
    return NULL;
}

Test(supervisor, the_state_file_says_pid_start_and_restarts)
{
    start("");
    UNTIL(cli_supervisor_all_ready(&sv), "all ready");
    cr_assert(sv.changed);
    cli_role_record records[8];
    const cli_role_record *r = saved("registry", records, 8);
    cli_child *reg = &sv.children[0];
    pid_t first = reg->pid;
    cr_assert_eq(r->pid, (long)first);
    cr_assert_eq(r->restarts, 0);
    cr_assert_str_eq(r->state, "ready");
    int64_t wall = cairn_wall_ms();
    cr_assert(r->started_ms > wall - 60000 && r->started_ms <= wall, "started %lld, now %lld",
              (long long)r->started_ms, (long long)wall);

    cr_assert_eq(kill(first, SIGKILL), 0);
    UNTIL(reg->state == CHILD_WAITING, "registry exit noticed");
    r = saved("registry", records, 8);
    cr_assert_eq(r->pid, 0);
    cr_assert_str_eq(r->state, "restarting");
    UNTIL(reg->state == CHILD_READY, "registry ready again");
    r = saved("registry", records, 8);
    cr_assert_eq(r->pid, (long)reg->pid);
    cr_assert_neq(r->pid, (long)first);
    cr_assert_eq(r->restarts, 1);
    cr_assert_str_eq(r->state, "ready");
    cr_assert_eq(saved("gateway", records, 8)->restarts, 0, "only the registry restarted");
}
