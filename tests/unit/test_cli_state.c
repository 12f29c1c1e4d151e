/* `cairn run`'s state file (cli_state.h): written and read back, a file that does not parse,
 * a supervisor that is gone, and durations as `cairn status` prints them. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_state.h"

static char dir[] = "/tmp/cairn-state-test-XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    cli_state_remove(dir);
    rmdir(dir);
}

TestSuite(cli_state, .init = setup, .fini = teardown);

Test(cli_state, written_and_read_back)
{
    cli_role_record in[2] = {
        {"registry", 4243, 1764662400123, 0, "ready"},
        {"pusher-0", 0, 1764662400456, 2, "restarting"},
    };
    cr_assert_eq(cli_state_write(dir, 4242, in, 2), 0);
    cli_role_record out[4];
    long supervisor = 0;
    cr_assert_eq(cli_state_read(dir, &supervisor, out, 4), 2);
    cr_assert_eq(supervisor, 4242);
    for (int i = 0; i < 2; i++) {
        cr_assert_str_eq(out[i].name, in[i].name);
        cr_assert_eq(out[i].pid, in[i].pid);
        cr_assert_eq(out[i].started_ms, in[i].started_ms);
        cr_assert_eq(out[i].restarts, in[i].restarts);
        cr_assert_str_eq(out[i].state, in[i].state);
    }
    cr_assert_eq(cli_state_read(dir, &supervisor, out, 1), 1, "at most max records");
    cli_state_remove(dir);
    cr_assert_eq(cli_state_read(dir, &supervisor, out, 4), -1, "no file");
}

Test(cli_state, a_file_that_does_not_parse_is_ignored)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, CLI_STATE_FILE);
    const char *bad[] = {"", "something else\n", "cairn-run 1\nregistry 12 x 0 ready\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(bad[i], f);
        fclose(f);
        cli_role_record out[4];
        long supervisor;
        cr_assert_eq(cli_state_read(dir, &supervisor, out, 4), -1, "\"%s\"", bad[i]);
    }
}

Test(cli_state, a_supervisor_that_is_gone)
{
    cr_assert(cli_state_supervisor_alive((long)getpid()));
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        _exit(0);
    cr_assert_eq(waitpid(child, NULL, 0), child);
    cr_assert_not(cli_state_supervisor_alive((long)child));
    cr_assert_not(cli_state_supervisor_alive(0));
}

Test(cli_state, durations)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {-5, "0s"},          {999, "0s"},          {45000, "45s"},
        {725000, "12m05s"},  {3600000, "1h00m"},   {11220000, "3h07m"},
        {187200000, "2d04h"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[24];
        cli_format_duration(cases[i].ms, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].text, "%lld ms", (long long)cases[i].ms);
    }
}
