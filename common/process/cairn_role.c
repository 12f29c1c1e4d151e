/* The process skeleton of every role binary: command line, config, logging, signals, directories,
 * admin listener and readiness (sd_notify, which is also how `cairn run` learns a role is up). */
#include "cairn_role.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "cairn_auth.h"
#include "cairn_endpoints.h"
#include "cairn_files.h"
#include "cairn_role_private.h"

#define EXIT_USAGE 64    /* EX_USAGE */
#define EXIT_OSERR 71    /* EX_OSERR */
#define EXIT_CANTCREAT 73 /* EX_CANTCREAT */
#define EXIT_START 1

/* One role per process: the stop flag and the wake-up pipe are process-wide, because a signal
 * handler can reach nothing else. The pipe lets a signal or cairn_role_request_stop wake
 * cairn_role_wait_for_stop at once; it lives as long as the process so that a late signal never
 * writes to a closed (and maybe reused) descriptor. */
static atomic_int stop_signal; /* 0 running, else the signal number (-1: requested by code) */
static atomic_bool ready_flag;
static int wake_pipe[2] = {-1, -1};
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;

static void make_wake_pipe(void)
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        wake_pipe[0] = wake_pipe[1] = -1;
}

static void wake(void)
{
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "x", 1);
        (void)w; /* a full pipe already wakes the waiter */
    }
}

static void on_stop_signal(int sig)
{
    int saved = errno;
    int expected = 0;
    atomic_compare_exchange_strong(&stop_signal, &expected, sig);
    wake();
    errno = saved;
}

static int install_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    struct sigaction ign = {0};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGPIPE, &ign, NULL) != 0)
        return -1;
    return 0;
}

static void usage(FILE *out, const char *name)
{
    fprintf(out,
            "usage: cairn-%s [--config FILE] [--set key=value]... [--help] [--version]\n"
            "  --config FILE      node configuration file (key = value, [section] headers)\n"
            "  --set key=value    override one key; repeatable; later ones win\n"
            "Keys and defaults: `cairn config-reference`.\n",
            name);
}

static bool has_key(const char *key)
{
    for (const cairn_config_key *k = cairn_config_reference; k->key; k++)
        if (strcmp(k->key, key) == 0)
            return true;
    return false;
}

/* Undoes a partial init. */
static void release(cairn_role *role)
{
    cairn_admin_stop(role->admin);
    role->admin = NULL;
    cairn_metrics_free(role->metrics);
    role->metrics = NULL;
    cairn_config_free(role->config);
    role->config = NULL;
}

/* A role that runs as several processes (the pushers) has an "<name>.index" key: process i is
 * named "<name>-<i>" in its log lines, its admin address file (<run_dir>/<name>-<i>.admin) and
 * sd_notify status, and listens on <name>.admin_listen's port + i (unless that port is 0). Its
 * config keys and metric names keep the plain name. One role per process, so the indexed name
 * is process-wide storage like the rest of this file's state. */
static char indexed_name[64];
static const char *config_name; /* the plain name: config keys */
static int64_t role_index = -1; /* -1: not an indexed role */

static int apply_index(cairn_role *role)
{
    char key[128], count_key[128];
    config_name = role->name;
    role_index = -1;
    snprintf(key, sizeof key, "%s.index", role->name);
    if (!has_key(key))
        return 0;
    role_index = cairn_config_int(role->config, key);
    /* With a "<name>.count" key the index must be below it: checked before anything starts. */
    snprintf(count_key, sizeof count_key, "%s.count", role->name);
    if (has_key(count_key) && role_index >= cairn_config_int(role->config, count_key)) {
        fprintf(stderr, "cairn-%s: %s %lld must be below %s %lld\n", role->name, key,
                (long long)role_index, count_key,
                (long long)cairn_config_int(role->config, count_key));
        return CAIRN_EXIT_CONFIG;
    }
    snprintf(indexed_name, sizeof indexed_name, "%s-%lld", role->name, (long long)role_index);
    role->name = indexed_name;
    return 0;
}

static int start_admin(cairn_role *role)
{
    char key[128];
    snprintf(key, sizeof key, "%s.admin_listen", config_name);
    if (!has_key(key))
        return 0; /* this role has no admin listener */
    char host[256], path[PATH_MAX];
    uint16_t port;
    cairn_config_address(role->config, key, host, sizeof host, &port);
    if (port != 0 && role_index > 0) {
        if ((int64_t)port + role_index > 65535) {
            log_error("%s: port %u + index %lld is beyond 65535", key, port,
                      (long long)role_index);
            return -1;
        }
        port = (uint16_t)(port + role_index);
    }
    role->admin = cairn_admin_start(host, port, role);
    if (!role->admin)
        return -1; /* logged */
    /* As bound: a wildcard stays 0.0.0.0 or [::]; readers dial it over loopback. */
    const char *text = cairn_admin_address(role->admin);
    if (cairn_admin_address_path(role->run_dir, role->name, path, sizeof path) != 0 ||
        cairn_write_file_atomic(path, text, strlen(text)) != 0) {
        log_error("cannot write the admin address file %s: %s", path, strerror(errno));
        return -1;
    }
    log_info("admin listener on %s", text);
    return 0;
}

int cairn_role_init(cairn_role *role, const char *name, int argc, char **argv)
{
    memset(role, 0, sizeof *role);
    role->name = name;
    cairn_umask_private();
    atomic_store(&stop_signal, 0);
    atomic_store(&ready_flag, false);

    const char *config_file = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t nsets = 0;
    if (!sets) {
        fprintf(stderr, "cairn-%s: out of memory\n", name);
        return EXIT_OSERR;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            config_file = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            config_file = a + 9;
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            sets[nsets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            sets[nsets++] = a + 6;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            /* The contract's "0 means go on" leaves no code for "done": exit here, before
             * anything is started. */
            free(sets);
            usage(stdout, name);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            free(sets);
            printf("cairn-%s %s\n", name, CAIRN_VERSION);
            exit(0);
        } else {
            fprintf(stderr, "cairn-%s: %s \"%s\"\n", name,
                    strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0 ? "missing value after"
                                                                           : "unknown argument",
                    a);
            usage(stderr, name);
            free(sets);
            return EXIT_USAGE;
        }
    }

    cairn_status st;
    role->config = cairn_config_load(config_file, sets, nsets, &st);
    free(sets);
    if (!role->config) {
        fprintf(stderr, "cairn-%s: %s\n", name, st.message);
        return CAIRN_EXIT_CONFIG;
    }
    if (apply_index(role) != 0) {
        release(role);
        return CAIRN_EXIT_CONFIG;
    }
    /* With auth on, no role serves its admin listener beyond loopback; the gateway, which signs
     * tokens, needs the secret. */
    if (cairn_auth_config_check(role->config, strcmp(name, "gateway") == 0, &st) != CAIRN_OK) {
        fprintf(stderr, "cairn-%s: %s\n", name, st.message);
        release(role);
        return CAIRN_EXIT_CONFIG;
    }
    cairn_log_init(role->name, (cairn_log_level)cairn_config_int(role->config, "log.level"));

    snprintf(role->data_dir, sizeof role->data_dir, "%s",
             cairn_config_string(role->config, "node.data_dir"));
    cairn_config_run_dir(role->config, role->run_dir, sizeof role->run_dir);
    if (cairn_mkdir_p(role->data_dir, 0750) != 0) {
        log_error("cannot create directory %s: %s", role->data_dir, strerror(errno));
        release(role);
        return EXIT_CANTCREAT;
    }
    char why[PATH_MAX + 256];
    int dir_rc = cairn_private_dir(role->run_dir, why, sizeof why);
    if (dir_rc != 0) {
        log_error("%s", why);
        release(role);
        return dir_rc == -2 ? CAIRN_EXIT_CONFIG : EXIT_CANTCREAT;
    }

    pthread_once(&wake_once, make_wake_pipe);
    if (wake_pipe[0] < 0 || install_signals() != 0) {
        log_error("cannot set up signal handling: %s", strerror(errno));
        release(role);
        return EXIT_OSERR;
    }
    char drain[64];
    while (read(wake_pipe[0], drain, sizeof drain) > 0) {
    }

    role->metrics = cairn_metrics_new(name);
    if (!role->metrics) {
        log_error("out of memory");
        release(role);
        return EXIT_OSERR;
    }
    cairn_gauge_set(cairn_metrics_gauge(role->metrics, "start_time_seconds",
                                        "Start time of the process, seconds since the epoch.", NULL),
                    (double)time(NULL));
    cairn_gauge_set(cairn_metrics_gauge(role->metrics, "ready", "1 once the role is ready.", NULL),
                    0);
    /* `cairn run` says how often it restarted this role before; systemd keeps its own count. */
    const char *restarts = getenv("CAIRN_RESTARTS");
    if (restarts && *restarts)
        cairn_gauge_set(cairn_metrics_gauge(role->metrics, "restarts",
                                            "Times `cairn run` restarted this role before this "
                                            "process started (absent under systemd).",
                                            NULL),
                        strtod(restarts, NULL));

    log_info("starting %s (data %s, run %s)", CAIRN_VERSION, role->data_dir, role->run_dir);
    if (start_admin(role) != 0) {
        release(role);
        return EXIT_START;
    }
    return 0;
}

void cairn_role_set_health(cairn_role *role, cairn_health_fn fn, void *arg)
{
    pthread_mutex_lock(&health_lock);
    role->health = fn;
    role->health_arg = arg;
    pthread_mutex_unlock(&health_lock);
}

void cairn_role_set_ready_check(cairn_role *role, cairn_health_fn fn, void *arg)
{
    pthread_mutex_lock(&health_lock);
    role->ready_check = fn;
    role->ready_arg = arg;
    pthread_mutex_unlock(&health_lock);
}

/* Asks a role callback (fn/arg read under health_lock) once the role is started and not
 * stopping; with no callback the answer is yes, "ready". A role not started yet says what its
 * callback says, after "starting: " (the gateway is started only once the whole node was ready
 * once, and "starting" alone would hide which role it waits for). */
static bool ask_role(cairn_health_fn *fn_slot, void **arg_slot, char *detail, size_t detail_len)
{
    if (atomic_load(&stop_signal) != 0) {
        snprintf(detail, detail_len, "stopping");
        return false;
    }
    pthread_mutex_lock(&health_lock);
    cairn_health_fn fn = *fn_slot;
    void *arg = *arg_slot;
    pthread_mutex_unlock(&health_lock);
    if (!atomic_load(&ready_flag)) {
        char why[256] = "";
        if (fn)
            fn(arg, why, sizeof why);
        snprintf(detail, detail_len, "starting%s%.200s", why[0] ? ": " : "", why);
        return false;
    }
    snprintf(detail, detail_len, "ready");
    return !fn || fn(arg, detail, detail_len);
}

bool cairn_role_is_ready(cairn_role *role, char *detail, size_t detail_len)
{
    return ask_role(&role->ready_check, &role->ready_arg, detail, detail_len);
}

bool cairn_role_check_health(cairn_role *role, char *detail, size_t detail_len)
{
    return ask_role(&role->health, &role->health_arg, detail, detail_len);
}

void cairn_role_ready(cairn_role *role)
{
    if (atomic_exchange(&ready_flag, true))
        return;
    cairn_gauge_set(cairn_metrics_gauge(role->metrics, "ready", "1 once the role is ready.", NULL),
                    1);
    int rc = sd_notifyf(0, "READY=1\nSTATUS=%s ready", role->name);
    if (rc < 0)
        log_warn("sd_notify READY=1 failed: %s", strerror(-rc));
    log_info("ready");
}

bool cairn_role_running(void)
{
    return atomic_load(&stop_signal) == 0;
}

void cairn_role_request_stop(void)
{
    int expected = 0;
    atomic_compare_exchange_strong(&stop_signal, &expected, -1);
    wake();
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cairn_role_wait_for_stop(cairn_role *role)
{
    uint64_t usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &usec) > 0 && usec > 0;
    /* Ping at half the interval, as systemd recommends. */
    int64_t interval = watchdog ? (int64_t)(usec / 2000) : -1;
    if (watchdog && interval < 1)
        interval = 1;
    int64_t next_ping = watchdog ? now_ms() : 0;

    while (cairn_role_running()) {
        int timeout = -1;
        if (watchdog) {
            int64_t now = now_ms();
            if (now >= next_ping) {
                sd_notify(0, "WATCHDOG=1");
                next_ping = now + interval;
            }
            timeout = (int)(next_ping - now);
        }
        struct pollfd pfd = {.fd = wake_pipe[0], .events = POLLIN};
        int rc = poll(&pfd, wake_pipe[0] >= 0 ? 1 : 0, wake_pipe[0] >= 0 ? timeout : 100);
        if (rc > 0) {
            char drain[64];
            while (read(wake_pipe[0], drain, sizeof drain) > 0) {
            }
        }
    }
    int sig = atomic_load(&stop_signal);
    if (sig > 0)
        log_info("received SIG%s, stopping", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    else
        log_info("stop requested, stopping");
    (void)role;
}

int cairn_role_finish(cairn_role *role)
{
    atomic_store(&ready_flag, false);
    sd_notify(0, "STOPPING=1");
    if (role->admin) {
        char path[PATH_MAX];
        cairn_admin_stop(role->admin);
        role->admin = NULL;
        if (cairn_admin_address_path(role->run_dir, role->name, path, sizeof path) == 0)
            unlink(path);
    }
    release(role);
    log_info("stopped");
    return 0;
}
