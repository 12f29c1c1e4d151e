#include "cli_supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn_clock.h"
#include "cairn_log.h"
#include "cli_state.h"

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_supervisor_init(cli_supervisor *sv, const char *bin_dir, const char *run_dir,
                        const cli_options *opts, const cairn_config *cfg, char *err,
                        size_t err_len)
{
    memset(sv, 0, sizeof *sv);
    sv->backoff_min_ms = cairn_config_int(cfg, "run.restart_backoff_min_ms");
    sv->backoff_max_ms = cairn_config_int(cfg, "run.restart_backoff_max_ms");
    snprintf(sv->run_dir, sizeof sv->run_dir, "%s", run_dir);
    size_t process_count = 0;
    cairn_node_role_instance *instances = cairn_node_role_instances(cfg, &process_count);
    sv->children = calloc(process_count ? process_count : 1, sizeof *sv->children);
    sv->args = calloc(2 * opts->set_count + 2, sizeof *sv->args);
    if (!instances || !sv->children || !sv->args) {
        free(instances);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    /* Every role gets the same config as `cairn run` validated. */
    if (opts->config_file) {
        sv->args[sv->arg_count++] = "--config";
        sv->args[sv->arg_count++] = opts->config_file;
    }
    for (size_t i = 0; i < opts->set_count; i++) {
        sv->args[sv->arg_count++] = "--set";
        sv->args[sv->arg_count++] = opts->sets[i];
    }
    for (size_t i = 0; i < process_count; i++) {
        cli_child *c = &sv->children[i];
        c->instance = instances[i];
        c->role = instances[i].role;
        c->notify.fd = -1;
        c->next_backoff_ms = sv->backoff_min_ms;
        sv->count = i + 1;
        int n = snprintf(c->binary, sizeof c->binary, "%s/%s", bin_dir, c->role->binary);
        if (n < 0 || (size_t)n >= sizeof c->binary || access(c->binary, X_OK) != 0) {
            snprintf(err, err_len, "role binary %s/%s not found or not executable", bin_dir,
                     c->role->binary);
            free(instances);
            return -1;
        }
        if (cli_notify_open(&c->notify, run_dir, c->instance.name, err, err_len) != 0) {
            free(instances);
            return -1;
        }
    }
    free(instances);
    return 0;
}

void cli_supervisor_free(cli_supervisor *sv)
{
    for (size_t i = 0; i < sv->count; i++)
        cli_notify_close(&sv->children[i].notify);
    free(sv->children);
    free(sv->args);
    memset(sv, 0, sizeof *sv);
}

static void schedule_restart(cli_supervisor *sv, cli_child *c, int64_t now)
{
    sv->changed = true;
    c->state = CHILD_WAITING;
    c->restart_at_ms = now + c->next_backoff_ms;
    log_info("restarting %s in %lld ms", c->instance.name, (long long)c->next_backoff_ms);
    c->next_backoff_ms *= 2;
    if (c->next_backoff_ms > sv->backoff_max_ms)
        c->next_backoff_ms = sv->backoff_max_ms;
}

/* Runs in the forked child: only set up what exec keeps, then exec. */
static void exec_role(const cli_supervisor *sv, const cli_child *c, pid_t supervisor)
{
    /* Die with the supervisor, even if it is SIGKILLed; it may have died before prctl. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != supervisor)
        _exit(1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    /* The role reports to us; systemd's watchdog settings are ours, not the role's. */
    if (setenv("NOTIFY_SOCKET", c->notify.path, 1) != 0)
        _exit(1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    /* How often this role was restarted before (the parent counts this start after fork): the
     * role shows it as a metric. */
    char restarts[16];
    snprintf(restarts, sizeof restarts, "%u", c->starts);
    if (setenv("CAIRN_RESTARTS", restarts, 1) != 0)
        _exit(1);
    char **argv = calloc(sv->arg_count + 4, sizeof *argv);
    if (!argv)
        _exit(1);
    size_t n = 0;
    argv[n++] = (char *)c->binary;
    for (size_t i = 0; i < sv->arg_count; i++)
        argv[n++] = (char *)sv->args[i];
    if (c->instance.index_set[0]) { /* after the user's --set, so it wins */
        argv[n++] = "--set";
        argv[n++] = (char *)c->instance.index_set;
    }
    execv(c->binary, argv);
    dprintf(STDERR_FILENO, "cairn: cannot execute %s: %s\n", c->binary, strerror(errno));
    _exit(127);
}

int cli_supervisor_spawn(cli_supervisor *sv, cli_child *c, int64_t now)
{
    pid_t self = getpid();
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid == 0)
        exec_role(sv, c, self);
    if (pid < 0) {
        log_error("cannot start %s: %s", c->instance.name, strerror(errno));
        schedule_restart(sv, c, now);
        return -1;
    }
    c->pid = pid;
    c->state = CHILD_STARTING;
    c->started_ms = now;
    c->started_wall_ms = cairn_wall_ms();
    c->starts++;
    sv->changed = true;
    log_info("started %s (pid %ld)%s", c->instance.name, (long)pid,
             c->starts > 1 ? " again" : "");
    return 0;
}

static cli_child *child_by_pid(cli_supervisor *sv, pid_t pid)
{
    for (size_t i = 0; i < sv->count; i++)
        if (sv->children[i].pid == pid)
            return &sv->children[i];
    return NULL;
}

void cli_supervisor_reap(cli_supervisor *sv, int64_t now)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        cli_child *c = child_by_pid(sv, pid);
        if (!c)
            continue;
        char how[96];
        if (WIFEXITED(status))
            snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "was killed by signal %d (SIG%s)", WTERMSIG(status),
                     sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
        else
            snprintf(how, sizeof how, "ended (wait status %d)", status);
        c->pid = 0;
        sv->changed = true;
        if (sv->stopping) {
            log_info("%s (pid %ld) %s", c->instance.name, (long)pid, how);
            c->state = CHILD_DOWN;
            continue;
        }
        int64_t uptime = now - c->started_ms;
        log_error("%s (pid %ld) %s after %lld ms", c->instance.name, (long)pid, how,
                  (long long)uptime);
        if (uptime >= CLI_BACKOFF_RESET_MS)
            c->next_backoff_ms = sv->backoff_min_ms;
        schedule_restart(sv, c, now);
    }
}

void cli_supervisor_notify(cli_supervisor *sv, cli_child *c)
{
    cli_notify_msg msg;
    int r;
    while ((r = cli_notify_recv(&c->notify, &msg)) > 0) {
        /* Only the current process of the role counts; a message from an earlier (exiting)
         * one must not mark the new one ready. */
        if (c->pid == 0 || (msg.pid != 0 && msg.pid != c->pid))
            continue;
        if (msg.ready && c->state == CHILD_STARTING) {
            c->state = CHILD_READY;
            sv->changed = true;
            log_info("%s is ready%s", c->instance.name, c->starts > 1 ? " again" : "");
        }
        if (msg.stopping)
            log_info("%s is stopping", c->instance.name);
        if (msg.status[0])
            log_debug("%s status: %s", c->instance.name, msg.status);
    }
    if (r < 0)
        log_warn("notify socket of %s: %s", c->instance.name, strerror(errno));
}

void cli_supervisor_run_timers(cli_supervisor *sv, int64_t now)
{
    if (sv->stopping)
        return;
    for (size_t i = 0; i < sv->count; i++) {
        cli_child *c = &sv->children[i];
        if (c->state == CHILD_WAITING && now >= c->restart_at_ms)
            cli_supervisor_spawn(sv, c, now);
    }
}

int64_t cli_supervisor_next_timer(const cli_supervisor *sv)
{
    int64_t next = -1;
    if (sv->stopping)
        return -1;
    for (size_t i = 0; i < sv->count; i++) {
        const cli_child *c = &sv->children[i];
        if (c->state == CHILD_WAITING && (next < 0 || c->restart_at_ms < next))
            next = c->restart_at_ms;
    }
    return next;
}

void cli_supervisor_stop(cli_supervisor *sv, int sig)
{
    sv->stopping = true;
    /* Reverse start order: the roles that depend on others go first. */
    for (size_t i = sv->count; i-- > 0;) {
        cli_child *c = &sv->children[i];
        if (c->state == CHILD_WAITING) {
            c->state = CHILD_DOWN;
            sv->changed = true;
        }
        if (c->pid > 0 && kill(c->pid, sig) != 0 && errno != ESRCH)
            log_warn("cannot signal %s (pid %ld): %s", c->instance.name, (long)c->pid,
                     strerror(errno));
    }
}

static const char *const state_names[] = {
    [CHILD_DOWN] = "down",
    [CHILD_STARTING] = "starting",
    [CHILD_READY] = "ready",
    [CHILD_WAITING] = "restarting",
};

int cli_supervisor_save(cli_supervisor *sv)
{
    cli_role_record *records = calloc(sv->count ? sv->count : 1, sizeof *records);
    if (!records)
        return -1;
    for (size_t i = 0; i < sv->count; i++) {
        const cli_child *c = &sv->children[i];
        cli_role_record *r = &records[i];
        snprintf(r->name, sizeof r->name, "%s", c->instance.name);
        snprintf(r->state, sizeof r->state, "%s", state_names[c->state]);
        r->pid = (long)c->pid;
        r->started_ms = c->started_wall_ms;
        r->restarts = c->starts > 1 ? c->starts - 1 : 0;
    }
    sv->changed = false; /* a failed write is reported once, not at every turn of the loop */
    int rc = cli_state_write(sv->run_dir, (long)getpid(), records, sv->count);
    free(records);
    return rc;
}

size_t cli_supervisor_running(const cli_supervisor *sv)
{
    size_t n = 0;
    for (size_t i = 0; i < sv->count; i++)
        n += sv->children[i].pid > 0;
    return n;
}

bool cli_supervisor_all_ready(const cli_supervisor *sv)
{
    for (size_t i = 0; i < sv->count; i++)
        if (sv->children[i].state != CHILD_READY)
            return false;
    return true;
}
