/* `cairn run`: validates the config, starts every role of the node, reports readiness once, then
 * supervises until SIGINT/SIGTERM. One poll loop over a signalfd (SIGCHLD, SIGINT, SIGTERM) and
 * the roles' notify sockets; timers are poll timeouts. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cairn_address.h"
#include "cairn_auth.h"
#include "cairn_cluster_config.h"
#include "cairn_endpoints.h"
#include "cairn_files.h"
#include "cairn_log.h"
#include "cli.h"
#include "cli_options.h"
#include "cli_state.h"
#include "cli_supervisor.h"

typedef enum run_phase { PHASE_STARTING, PHASE_RUNNING, PHASE_STOPPING } run_phase;

typedef struct run_state {
    const cairn_config *cfg;
    char run_dir[PATH_MAX];
    cli_supervisor sv;
    int sigfd;
    run_phase phase;
    int64_t ready_deadline;
    int64_t stop_deadline;
    bool killed;
    int exit_code;
    int64_t watchdog_interval; /* half of systemd's WatchdogSec for cairn run itself; 0: none */
    int64_t next_watchdog;
} run_state;

/* The directory of this executable, where the role binaries are installed beside it. */
static int own_dir(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    int w = snprintf(buf, len, "%s", dirname(exe));
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* One `cairn run` per run directory: a second one would take over the roles' sockets. The lock
 * lives until the process exits. */
static int lock_run_dir(const char *run_dir)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/cairn-run.lock", run_dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        log_error("another `cairn run` is using %s", run_dir);
        close(fd);
        return -1;
    }
    return fd;
}

/* Where a client on this host reaches the gateway: the address it wrote as bound (gateway.listen
 * may use port 0), else the configured one; a wildcard bind is dialled over loopback. */
static void gateway_address(const run_state *rs, char *buf, size_t len)
{
    char path[PATH_MAX], line[300] = "";
    if (cairn_gateway_http_address_path(rs->run_dir, path, sizeof path) == 0) {
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(line, sizeof line, f))
                line[0] = '\0';
            fclose(f);
            line[strcspn(line, " \t\r\n")] = '\0';
        }
    }
    if (!line[0]) {
        char host[256];
        uint16_t port;
        cairn_config_address(rs->cfg, "gateway.listen", host, sizeof host, &port);
        snprintf(line, sizeof line, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    }
    cairn_dial_address(line, buf, len);
}

static void begin_stop(run_state *rs, int exit_code)
{
    rs->phase = PHASE_STOPPING;
    rs->exit_code = exit_code;
    rs->stop_deadline = cli_now_ms() + cairn_config_int(rs->cfg, "run.stop_timeout_ms");
    sd_notify(0, "STOPPING=1");
    cli_supervisor_stop(&rs->sv, SIGTERM);
}

static void kill_all(run_state *rs, const char *why)
{
    if (cli_supervisor_running(&rs->sv) > 0)
        log_warn("%s: killing the remaining roles", why);
    cli_supervisor_stop(&rs->sv, SIGKILL);
    rs->killed = true;
}

static void handle_signals(run_state *rs)
{
    struct signalfd_siginfo si;
    while (read(rs->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            cli_supervisor_reap(&rs->sv, cli_now_ms());
        } else if (rs->phase != PHASE_STOPPING) {
            log_info("received SIG%s, stopping the node", sigabbrev_np((int)si.ssi_signo));
            begin_stop(rs, 0);
        } else if (!rs->killed) {
            kill_all(rs, "second stop signal"); /* an impatient operator */
        }
    }
}

/* The poll timeout until the next thing the loop must do by itself. */
static int next_timeout(const run_state *rs, int64_t now)
{
    int64_t next = cli_supervisor_next_timer(&rs->sv);
    int64_t deadline = rs->phase == PHASE_STARTING   ? rs->ready_deadline
                       : rs->phase == PHASE_STOPPING && !rs->killed ? rs->stop_deadline
                                                                     : -1;
    if (deadline >= 0 && (next < 0 || deadline < next))
        next = deadline;
    if (rs->watchdog_interval > 0 && (next < 0 || rs->next_watchdog < next))
        next = rs->next_watchdog;
    if (next < 0)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

static void announce_ready(run_state *rs)
{
    char gw[300];
    gateway_address(rs, gw, sizeof gw);
    printf("cairn: node ready, gateway http://%s, data %s\n", gw,
           cairn_config_string(rs->cfg, "node.data_dir"));
    fflush(stdout);
    sd_notifyf(0, "READY=1\nSTATUS=node ready, gateway http://%s", gw);
    rs->phase = PHASE_RUNNING;
}

static void report_not_ready(const run_state *rs)
{
    char names[256] = "";
    for (size_t i = 0; i < rs->sv.count; i++) {
        const cli_child *c = &rs->sv.children[i];
        if (c->state != CHILD_READY)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     names[0] ? ", " : "", c->instance.name);
    }
    log_error("not ready within run.ready_timeout_ms (%lld ms): %s",
              (long long)cairn_config_int(rs->cfg, "run.ready_timeout_ms"), names);
}

static void event_loop(run_state *rs)
{
    size_t nfds = rs->sv.count + 1;
    struct pollfd *pfds = calloc(nfds, sizeof *pfds);
    if (!pfds) {
        log_error("out of memory");
        begin_stop(rs, 1);
        kill_all(rs, "out of memory");
        return;
    }
    for (;;) {
        int64_t now = cli_now_ms();
        if (rs->phase == PHASE_STOPPING && cli_supervisor_running(&rs->sv) == 0)
            break;
        pfds[0] = (struct pollfd){.fd = rs->sigfd, .events = POLLIN};
        for (size_t i = 0; i < rs->sv.count; i++)
            pfds[i + 1] = (struct pollfd){.fd = rs->sv.children[i].notify.fd, .events = POLLIN};
        int rc = poll(pfds, nfds, next_timeout(rs, now));
        if (rc < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            if (rs->phase != PHASE_STOPPING)
                begin_stop(rs, 1);
            kill_all(rs, "event loop failure");
            break;
        }
        if (rc > 0 && pfds[0].revents)
            handle_signals(rs);
        for (size_t i = 0; rc > 0 && i < rs->sv.count; i++)
            if (pfds[i + 1].revents)
                cli_supervisor_notify(&rs->sv, &rs->sv.children[i]);

        now = cli_now_ms();
        if (rs->watchdog_interval > 0 && now >= rs->next_watchdog) {
            sd_notify(0, "WATCHDOG=1");
            rs->next_watchdog = now + rs->watchdog_interval;
        }
        cli_supervisor_run_timers(&rs->sv, now);
        if (rs->sv.changed && cli_supervisor_save(&rs->sv) != 0)
            log_warn("cannot write %s/%s: %s", rs->run_dir, CLI_STATE_FILE, strerror(errno));
        if (rs->phase == PHASE_STARTING) {
            if (cli_supervisor_all_ready(&rs->sv)) {
                announce_ready(rs);
            } else if (now >= rs->ready_deadline) {
                report_not_ready(rs);
                begin_stop(rs, 1);
            }
        } else if (rs->phase == PHASE_STOPPING && !rs->killed && now >= rs->stop_deadline) {
            kill_all(rs, "run.stop_timeout_ms passed");
        }
    }
    free(pfds);
    /* After SIGKILL the loop above waited for the exits, so no child outlives us. */
}

/* Blocks the signals the loop reads from a signalfd. Children get an empty mask back. */
static int open_signalfd(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, old) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill the supervisor */
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The cluster keys, checked before anything starts, as every role would check them. */
static int cli_run_cluster_check(const cairn_config *cfg)
{
    cairn_cluster_config *cc = malloc(sizeof *cc);
    cairn_status st;
    cairn_err err = cc ? cairn_cluster_config_load(cfg, cc, &st) : CAIRN_E_NOMEM;
    if (err != CAIRN_OK)
        fprintf(stderr, "cairn: %s\n", err == CAIRN_E_NOMEM ? "out of memory" : st.message);
    else if (cc->secret_warning[0])
        fprintf(stderr, "cairn: warning: %s\n", cc->secret_warning);
    if (cc)
        sodium_memzero(cc->secret, sizeof cc->secret);
    free(cc);
    return err == CAIRN_OK ? 0 : -1;
}

int cli_run_main(int argc, char **argv)
{
    cli_options opts;
    int rc = cli_options_parse(&opts, "run", argc, argv);
    if (rc != 0) {
        cli_options_free(&opts);
        return rc == CLI_OPTIONS_HELP ? 0 : rc;
    }
    cairn_umask_private(); /* the roles inherit it */
    run_state rs = {.sigfd = -1, .exit_code = 1};
    cairn_config *cfg = cli_options_load(&opts);
    if (!cfg) {
        cli_options_free(&opts);
        return CAIRN_EXIT_CONFIG;
    }
    cairn_status auth_st;
    if (cairn_auth_config_check(cfg, true, &auth_st) != CAIRN_OK) {
        fprintf(stderr, "cairn: %s\n", auth_st.message);
        cairn_config_free(cfg);
        cli_options_free(&opts);
        return CAIRN_EXIT_CONFIG;
    }
    if (cli_run_cluster_check(cfg) != 0) {
        cairn_config_free(cfg);
        cli_options_free(&opts);
        return CAIRN_EXIT_CONFIG;
    }
    rs.cfg = cfg;
    cairn_log_init("cairn", (cairn_log_level)cairn_config_int(cfg, "log.level"));
    cairn_config_run_dir(cfg, rs.run_dir, sizeof rs.run_dir);

    char bin_dir[PATH_MAX], err[PATH_MAX + 128];
    int lock_fd = -1;
    sigset_t old_mask;
    if (own_dir(bin_dir, sizeof bin_dir) != 0) {
        log_error("cannot find the directory of the cairn executable: %s", strerror(errno));
        goto out;
    }
    const char *data_dir = cairn_config_string(cfg, "node.data_dir");
    if (cairn_mkdir_p(data_dir, 0750) != 0) {
        log_error("cannot create directory %s: %s", data_dir, strerror(errno));
        goto out;
    }
    int dir_rc = cairn_private_dir(rs.run_dir, err, sizeof err);
    if (dir_rc != 0) {
        log_error("%s", err);
        if (dir_rc == -2)
            rs.exit_code = CAIRN_EXIT_CONFIG;
        goto out;
    }
    if ((lock_fd = lock_run_dir(rs.run_dir)) < 0)
        goto out;
    if (cli_supervisor_init(&rs.sv, bin_dir, rs.run_dir, &opts, cfg, err, sizeof err) != 0) {
        log_error("%s", err);
        goto out;
    }
    if ((rs.sigfd = open_signalfd(&old_mask)) < 0) {
        log_error("cannot set up signal handling: %s", strerror(errno));
        goto out;
    }

    int64_t now = cli_now_ms();
    uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec >= 2000) {
        rs.watchdog_interval = (int64_t)(watchdog_usec / 2000);
        rs.next_watchdog = now;
    }
    rs.phase = PHASE_STARTING;
    rs.ready_deadline = now + cairn_config_int(cfg, "run.ready_timeout_ms");
    for (size_t i = 0; i < rs.sv.count; i++)
        cli_supervisor_spawn(&rs.sv, &rs.sv.children[i], now);
    event_loop(&rs);
    cli_state_remove(rs.run_dir); /* no role of this node runs any more */
    log_info("node stopped");

out:
    cli_supervisor_free(&rs.sv);
    if (rs.sigfd >= 0) {
        close(rs.sigfd);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
    }
    if (lock_fd >= 0)
        close(lock_fd);
    cairn_config_free(cfg);
    cli_options_free(&opts);
    return rs.exit_code;
}
