/* Process, directory and node management for the integration tests (see cairn_harness.h). */
#include "cairn_harness.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn_address.h"
#include "cairn_endpoints.h"
#include "cairn_http.h"
#include "cairn_prom_text.h"

/* ---- what this test started, for it_teardown ---------------------------------------------- */
#define MAX_TRACKED 128
static it_proc *g_procs[MAX_TRACKED];
static size_t g_proc_count;
static it_node *g_nodes[MAX_TRACKED];
static size_t g_node_count;
static char *g_dirs[MAX_TRACKED];
static size_t g_dir_count;
static bool g_keep_dirs; /* set when a sanitizer report was found: keep the evidence */

/* snprintf that refuses to truncate (paths). */
__attribute__((format(printf, 3, 4))) static void fmt_path(char *buf, size_t len,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < len, "path too long: %s", buf);
}

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* ---- time and polling -------------------------------------------------------------------- */
int64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

void it_print_latencies(const char *what, long long *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_ll);
    printf("%s: p50 %lld ms, p90 %lld ms, max %lld ms\n", what, ms[n / 2], ms[n * 9 / 10],
           ms[n - 1]);
    fflush(stdout);
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool wait_until(bool (*fn)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        if (fn(arg))
            return true;
        if (it_now_ms() >= deadline)
            return fn(arg);
        pause_ms(10); /* poll interval, not synchronisation */
    }
}

/* ---- files ------------------------------------------------------------------------------- */
char *it_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

int it_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t len = strlen(text);
    int rc = fwrite(text, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

const char *it_tmpdir(void)
{
    char tmpl[] = "/tmp/cairn-it-XXXXXX";
    cr_assert(mkdtemp(tmpl) != NULL, "mkdtemp: %s", strerror(errno));
    cr_assert(g_dir_count < MAX_TRACKED, "too many temp dirs in one test");
    char *copy = strdup(tmpl);
    cr_assert(copy != NULL);
    g_dirs[g_dir_count++] = copy;
    return copy;
}

bool it_read_addr_file(const char *path, char *hostport, size_t len)
{
    char *text = it_read_file(path);
    if (!text)
        return false;
    char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    if (strncmp(s, "http://", 7) == 0)
        s += 7;
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n]) && s[n] != '/')
        n++;
    char bound[256];
    bool ok = n > 0 && n < sizeof bound && memchr(s, ':', n) != NULL;
    if (ok) {
        memcpy(bound, s, n);
        bound[n] = '\0';
        const char *port = strrchr(bound, ':') + 1;
        ok = *port != '\0' && atoi(port) > 0;
    }
    char dial[sizeof bound + 8];
    if (ok) {
        cairn_dial_address(bound, dial, sizeof dial);
        ok = strlen(dial) < len;
    }
    if (ok)
        memcpy(hostport, dial, strlen(dial) + 1);
    free(text);
    return ok;
}

typedef struct listen_probe {
    const char *path;
    char *hostport;
    size_t len;
} listen_probe;

static bool listening(void *arg)
{
    listen_probe *p = arg;
    return it_read_addr_file(p->path, p->hostport, p->len) && tcp_can_connect(p->hostport);
}

bool it_wait_listening(const char *path, char *hostport, size_t len, int timeout_ms)
{
    listen_probe p = {.path = path, .hostport = hostport, .len = len};
    return wait_until(listening, &p, timeout_ms);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- processes --------------------------------------------------------------------------- */
static void track_proc(it_proc *p)
{
    cr_assert(g_proc_count < MAX_TRACKED, "too many processes in one test");
    g_procs[g_proc_count++] = p;
}

/* In the child between fork and exec: only async-signal-safe calls. */
static void child_exec(const char *const *argv, int out_fd, int err_fd, pid_t parent)
{
    /* Die with the test process (a Criterion timeout kills it with SIGKILL). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    /* Criterion's worker may block or ignore signals; exec keeps both, so reset them. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < 32; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, 0);
    if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    execv(argv[0], (char *const *)argv);
    static const char msg[] = "exec failed\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
}

it_proc *it_spawn(const char *name, const char *const *argv, const char *log_path,
                  bool pipe_stdout)
{
    it_proc *p = calloc(1, sizeof *p);
    cr_assert(p != NULL);
    p->stdout_fd = -1;
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->log_path, sizeof p->log_path, "%s", log_path);

    int err_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert(err_fd >= 0, "open %s: %s", log_path, strerror(errno));
    int out_pipe[2] = {-1, -1};
    int out_fd;
    if (pipe_stdout) {
        cr_assert(pipe2(out_pipe, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
        out_fd = out_pipe[1];
    } else {
        snprintf(p->out_path, sizeof p->out_path, "%s.out", log_path);
        out_fd = open(p->out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        cr_assert(out_fd >= 0, "open %s: %s", p->out_path, strerror(errno));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        child_exec(argv, out_fd, err_fd, parent);
    close(err_fd);
    close(out_fd);
    if (pipe_stdout)
        p->stdout_fd = out_pipe[0];
    p->pid = pid;
    track_proc(p);
    return p;
}

bool it_proc_exited(it_proc *p)
{
    if (p->reaped)
        return true;
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
        p->status = r == p->pid ? status : 0;
        p->reaped = true;
        return true;
    }
    return false;
}

bool it_proc_wait(it_proc *p, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    while (!it_proc_exited(p)) {
        if (it_now_ms() >= deadline)
            return false;
        pause_ms(5);
    }
    return true;
}

int it_proc_exit_code(const it_proc *p)
{
    if (!p->reaped || !WIFEXITED(p->status))
        return -1;
    return WEXITSTATUS(p->status);
}

char *it_log_tail(const char *path, size_t bytes)
{
    char *text = it_read_file(path);
    if (!text)
        return strdup("(no log)");
    size_t len = strlen(text);
    if (len > bytes) {
        memmove(text, text + len - bytes, bytes + 1);
    }
    return text;
}

char *it_log_tail_without(const char *path, size_t bytes, const char *drop)
{
    char *text = it_read_file(path);
    if (!text)
        return strdup("(no log)");
    size_t kept = 0; /* lines without drop, moved to the front in place */
    for (char *line = text, *next; *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : line + strlen(line);
        size_t len = (size_t)(next - line);
        char saved = *next;
        *next = '\0';
        bool keep = strstr(line, drop) == NULL;
        *next = saved;
        if (keep) {
            memmove(text + kept, line, len);
            kept += len;
        }
    }
    text[kept] = '\0';
    if (kept > bytes)
        memmove(text, text + kept - bytes, bytes + 1);
    return text;
}

int it_sanitizer_reports(const char *path)
{
    static const char *const needles[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
        "SUMMARY: UndefinedBehaviorSanitizer", "ERROR: ThreadSanitizer",
        "Sanitizer has encountered a fatal error", "Sanitizer:DEADLYSIGNAL",
    };
    char *text = it_read_file(path);
    if (!text)
        return 0;
    int count = 0;
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        for (const char *s = strstr(text, needles[i]); s; s = strstr(s + 1, needles[i]))
            count++;
    }
    free(text);
    return count;
}

static void check_sanitizer_log(const char *path)
{
    int reports = it_sanitizer_reports(path);
    if (reports > 0) {
        g_keep_dirs = true;
        char *tail = it_log_tail(path, 6000);
        cr_expect_fail("%d sanitizer report(s) in %s (kept):\n%s", reports, path, tail);
        free(tail);
    }
}

void it_proc_stop(it_proc *p, bool expect_clean)
{
    it_proc_stop_with(p, SIGTERM, expect_clean);
    if (p && p->stdout_fd >= 0) {
        close(p->stdout_fd);
        p->stdout_fd = -1;
    }
}

void it_proc_stop_with(it_proc *p, int sig, bool expect_clean)
{
    if (!p || p->stopped)
        return;
    p->stopped = true;
    bool killed = false;
    if (p->reaped && WIFSIGNALED(p->status) && WTERMSIG(p->status) != SIGKILL &&
        WTERMSIG(p->status) != SIGTERM) {
        char *tail = it_log_tail(p->log_path, 3000);
        cr_expect_fail("%s (pid %d) died of signal %d during the test; log tail:\n%s", p->name,
                       (int)p->pid, WTERMSIG(p->status), tail);
        free(tail);
    }
    if (!p->reaped) {
        kill(p->pid, sig);
        if (!it_proc_wait(p, IT_STOP_TIMEOUT_MS)) {
            kill(p->pid, SIGKILL);
            it_proc_wait(p, 5000);
            killed = true;
        }
        if (expect_clean) {
            char *tail = it_log_tail(p->log_path, 3000);
            cr_expect(!killed, "%s (pid %d) did not exit within %d ms of signal %d; log tail:\n%s",
                      p->name, (int)p->pid, IT_STOP_TIMEOUT_MS, sig, tail);
            cr_expect(killed || it_proc_exit_code(p) == 0,
                      "%s exited with %s %d after signal %d (expected exit code 0); log tail:\n%s",
                      p->name, WIFSIGNALED(p->status) ? "signal" : "code",
                      WIFSIGNALED(p->status) ? WTERMSIG(p->status) : WEXITSTATUS(p->status), sig,
                      tail);
            free(tail);
        }
    }
    check_sanitizer_log(p->log_path);
}

/* Appends what fd has now; returns true at EOF. */
static bool drain_fd(int fd, char **buf, size_t *len, size_t *cap)
{
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n == 0)
            return true;
        if (n < 0)
            return errno != EAGAIN && errno != EINTR;
        if (*len + (size_t)n + 1 > *cap) {
            size_t ncap = (*cap + (size_t)n + 1) * 2;
            char *nb = realloc(*buf, ncap);
            if (!nb)
                return true;
            *buf = nb;
            *cap = ncap;
        }
        memcpy(*buf + *len, chunk, (size_t)n);
        *len += (size_t)n;
        (*buf)[*len] = '\0';
    }
}

int it_run(const char *const *argv, int timeout_ms, char **out, char **err)
{
    int op[2], ep[2];
    cr_assert(pipe2(op, O_CLOEXEC) == 0 && pipe2(ep, O_CLOEXEC) == 0, "pipe2: %s",
              strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        child_exec(argv, op[1], ep[1], parent);
    close(op[1]);
    close(ep[1]);
    fcntl(op[0], F_SETFL, O_NONBLOCK);
    fcntl(ep[0], F_SETFL, O_NONBLOCK);
    char *bufs[2] = {calloc(1, 1), calloc(1, 1)};
    cr_assert(bufs[0] && bufs[1]);
    size_t lens[2] = {0, 0}, caps[2] = {1, 1};
    int fds[2] = {op[0], ep[0]};
    bool open_[2] = {true, true};
    int64_t deadline = it_now_ms() + timeout_ms;
    int status = 0;
    bool reaped = false, timed_out = false;
    while (open_[0] || open_[1] || !reaped) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd[2];
        int idx[2];
        nfds_t nfds = 0;
        for (int i = 0; i < 2; i++) {
            if (open_[i]) {
                pfd[nfds] = (struct pollfd){.fd = fds[i], .events = POLLIN};
                idx[nfds++] = i;
            }
        }
        if (nfds > 0)
            poll(pfd, nfds, (int)(left < 20 ? left : 20));
        else
            pause_ms(5);
        for (nfds_t k = 0; k < nfds; k++) {
            if (pfd[k].revents) {
                int i = idx[k];
                if (drain_fd(fds[i], &bufs[i], &lens[i], &caps[i]))
                    open_[i] = false;
            }
        }
        if (!reaped && waitpid(pid, &status, WNOHANG) == pid)
            reaped = true;
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    close(op[0]);
    close(ep[0]);
    if (out)
        *out = bufs[0];
    else
        free(bufs[0]);
    if (err)
        *err = bufs[1];
    else
        free(bufs[1]);
    if (timed_out)
        return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- finding role processes ---------------------------------------------------------------- */
/* Reads /proc/<pid>/cmdline into buf (args separated by NULs); returns its length or -1. */
static ssize_t read_cmdline(const char *pid, char *buf, size_t len)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* State letter and parent pid from /proc/<pid>/stat (comm may hold spaces: parse after ')'). */
static bool read_stat(const char *pid, char *state, pid_t *ppid)
{
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    int pp;
    if (!rp || sscanf(rp + 1, " %c %d", state, &pp) != 2)
        return false;
    *ppid = (pid_t)pp;
    return true;
}

/* Every process whose argv[0] basename equals binary (or starts with it when prefix), whose
 * command line mentions dir or whose parent is parent, and whose command line holds the argument
 * arg exactly (NULL: any). */
static size_t find_pids(const char *binary, bool prefix, const char *dir, pid_t parent,
                        const char *arg, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    size_t found = 0;
    struct dirent *e;
    static char cmd[65536];
    while (found < max && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        ssize_t n = read_cmdline(e->d_name, cmd, sizeof cmd);
        if (n <= 0)
            continue;
        const char *argv0 = cmd;
        const char *base = strrchr(argv0, '/');
        base = base ? base + 1 : argv0;
        if (prefix ? strncmp(base, binary, strlen(binary)) != 0 : strcmp(base, binary) != 0)
            continue;
        char state;
        pid_t ppid;
        if (!read_stat(e->d_name, &state, &ppid) || state == 'Z' || state == 'X')
            continue;
        bool mine = parent > 0 && ppid == parent;
        bool has_arg = arg == NULL;
        for (const char *a = cmd; a < cmd + n; a += strlen(a) + 1) {
            if (dir && *dir && strstr(a, dir))
                mine = true;
            if (arg && strcmp(a, arg) == 0)
                has_arg = true;
        }
        if (mine && has_arg)
            out[found++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

pid_t it_find_pid(const char *binary, const char *dir, pid_t parent)
{
    pid_t pid = 0;
    return find_pids(binary, false, dir, parent, NULL, &pid, 1) ? pid : 0;
}

static bool pid_alive(pid_t pid)
{
    char name[32];
    snprintf(name, sizeof name, "%d", (int)pid);
    char state;
    pid_t ppid;
    return read_stat(name, &state, &ppid) && state != 'Z' && state != 'X';
}

/* ---- nodes ------------------------------------------------------------------------------- */
bool node_admin_addr(const it_node *n, const char *name, char *hostport, size_t len)
{
    char path[PATH_MAX + 32];
    bool ok = cairn_admin_address_path(n->run_dir, name, path, sizeof path) == 0 &&
              it_read_addr_file(path, hostport, len);
    if (!ok && len > 0)
        hostport[0] = '\0';
    return ok;
}

bool node_refresh_addrs(it_node *n)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/gateway.http", n->run_dir);
    char hp[64];
    bool ok = true;
    if (it_read_addr_file(path, hp, sizeof hp)) {
        snprintf(n->gateway, sizeof n->gateway, "%s", hp);
        snprintf(n->gateway_url, sizeof n->gateway_url, "http://%s", hp);
    } else {
        ok = false;
    }
    node_admin_addr(n, "gateway", n->gateway_admin, sizeof n->gateway_admin);
    node_admin_addr(n, "registry", n->registry_admin, sizeof n->registry_admin);
    return ok && n->gateway_admin[0] && n->registry_admin[0];
}

/* Reads the ready line from the pipe; false on timeout or early exit. */
static bool read_ready_line(it_proc *p, char *line, size_t len, int timeout_ms, char *why,
                            size_t why_len, size_t *extra)
{
    size_t used = 0;
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        char *nl = used ? memchr(line, '\n', used) : NULL;
        if (nl) {
            *nl = '\0';
            *extra = used - (size_t)(nl + 1 - line); /* bytes after the first line */
            return true;
        }
        int64_t left = deadline - it_now_ms();
        if (left <= 0) {
            snprintf(why, why_len, "no ready line within %d ms (stdout so far: \"%.*s\")",
                     timeout_ms, (int)used, line);
            return false;
        }
        struct pollfd pfd = {.fd = p->stdout_fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left < 50 ? left : 50));
        if (r > 0) {
            ssize_t n = read(p->stdout_fd, line + used, len - 1 - used);
            if (n > 0) {
                used += (size_t)n;
                line[used] = '\0';
                if (used >= len - 1) {
                    snprintf(why, why_len, "stdout line too long: \"%.100s...\"", line);
                    return false;
                }
                continue;
            }
            if (n == 0) {
                it_proc_wait(p, 2000);
                snprintf(why, why_len, "stdout closed before a ready line (exit code %d)",
                         it_proc_exit_code(p));
                return false;
            }
        }
        if (it_proc_exited(p)) {
            snprintf(why, why_len, "`cairn run` exited (code %d) before printing a ready line",
                     it_proc_exit_code(p));
            return false;
        }
    }
}

static bool admin_files_present(void *arg)
{
    return node_refresh_addrs(arg);
}

it_node *node_spawn(const it_node_opts *opts)
{
    static const it_node_opts none = {0};
    if (!opts)
        opts = &none;
    it_node *n = calloc(1, sizeof *n);
    cr_assert(n != NULL);
    const char *dir = opts->reuse_dir ? opts->reuse_dir : it_tmpdir();
    fmt_path(n->dir, sizeof n->dir, "%s", dir);
    fmt_path(n->data_dir, sizeof n->data_dir, "%s/data", dir);
    fmt_path(n->run_dir, sizeof n->run_dir, "%s/run", n->data_dir);

    const char *argv[96];
    size_t argc = 0;
    static char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/cairn", CAIRN_BIN_DIR);
    cr_assert(access(bin, X_OK) == 0, "%s is not built yet", bin);
    argv[argc++] = bin;
    argv[argc++] = "run";
    argv[argc++] = "--data-dir";
    argv[argc++] = n->data_dir;
    if (opts->config_file) {
        argv[argc++] = "--config";
        argv[argc++] = opts->config_file;
    }
    static const char *const defaults[] = {IT_LOOPBACK_SETS, NULL};
    if (!opts->no_default_sets) {
        for (const char *const *s = defaults; *s; s++) {
            argv[argc++] = "--set";
            argv[argc++] = *s;
        }
    }
    for (const char *const *s = opts->sets; s && *s; s++) {
        cr_assert(argc + 3 < sizeof argv / sizeof argv[0], "too many --set");
        argv[argc++] = "--set";
        argv[argc++] = *s;
    }
    argv[argc] = NULL;

    char log_path[PATH_MAX + 16];
    snprintf(log_path, sizeof log_path, "%s/node.log", dir);
    cr_assert(g_node_count < MAX_TRACKED);
    n->run = it_spawn("cairn run", argv, log_path, true);
    g_nodes[g_node_count++] = n;
    return n;
}

it_node *node_start(const it_node_opts *opts)
{
    it_node *n = node_spawn(opts);
    node_await_ready(n);
    return n;
}

void node_await_ready(it_node *n)
{
    char log_path[PATH_MAX + 16];
    snprintf(log_path, sizeof log_path, "%s/node.log", n->dir);
    char why[512];
    size_t extra = 0;
    if (!read_ready_line(n->run, n->ready_line, sizeof n->ready_line, IT_READY_TIMEOUT_MS, why,
                         sizeof why, &extra)) {
        char *tail = it_log_tail(log_path, 4000);
        cr_log_error("node log tail (%s):\n%s", log_path, tail);
        free(tail);
        cr_assert_fail("cairn run did not become ready: %s", why);
    }

    cr_expect(extra == 0, "cairn run printed more than one line on stdout: \"%s\" + \"%s\"",
              n->ready_line, n->ready_line + strlen(n->ready_line) + 1);
    /* `cairn: node ready, gateway http://HOST:PORT, data DIR` */
    static const char prefix[] = "cairn: node ready, gateway http://";
    const char *line = n->ready_line;
    cr_assert(strncmp(line, prefix, sizeof prefix - 1) == 0, "unexpected ready line \"%s\"",
              line);
    const char *hp = line + sizeof prefix - 1;
    const char *sep = strstr(hp, ", data ");
    cr_assert(sep != NULL && sep > hp && (size_t)(sep - hp) < sizeof n->gateway,
              "unexpected ready line \"%s\"", line);
    snprintf(n->gateway, sizeof n->gateway, "%.*s", (int)(sep - hp), hp);
    snprintf(n->gateway_url, sizeof n->gateway_url, "http://%s", n->gateway);
    const char *data = sep + strlen(", data ");
    char real_a[PATH_MAX], real_b[PATH_MAX];
    cr_assert(realpath(n->data_dir, real_a) != NULL, "data dir %s missing after ready",
              n->data_dir);
    cr_assert(realpath(data, real_b) != NULL && strcmp(real_a, real_b) == 0,
              "ready line names data dir \"%s\", expected %s", data, n->data_dir);

    /* The admin files exist once every role is ready. */
    cr_assert(wait_until(admin_files_present, n, 2000),
              "address files missing in %s after the ready line (gateway.admin \"%s\", "
              "registry.admin \"%s\")",
              n->run_dir, n->gateway_admin, n->registry_admin);
    /* The ready line's gateway address is the one the gateway wrote. */
    char from_file[64];
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/gateway.http", n->run_dir);
    cr_assert(it_read_addr_file(path, from_file, sizeof from_file));
    cr_assert(strcmp(from_file, n->gateway) == 0,
              "ready line says gateway %s but run/gateway.http says %s", n->gateway, from_file);
}

void node_stop(it_node *n)
{
    node_stop_with(n, SIGTERM);
}

void node_stop_with(it_node *n, int sig)
{
    if (!n || n->stopped)
        return;
    n->stopped = true;
    /* Every role of this node (cairn-*), whatever roles `cairn run` starts. */
    pid_t roles[32];
    size_t role_count = find_pids("cairn-", true, n->data_dir, n->run->pid, NULL, roles, 32);
    bool was_running = !it_proc_exited(n->run);
    it_proc_stop_with(n->run, sig, was_running);
    /* `cairn run` prints exactly one line: nothing may follow the ready line. */
    if (n->run->stdout_fd >= 0) {
        char extra[512];
        fcntl(n->run->stdout_fd, F_SETFL, O_NONBLOCK);
        ssize_t got = read(n->run->stdout_fd, extra, sizeof extra - 1);
        if (got > 0) {
            extra[got] = '\0';
            cr_expect_fail("cairn run printed more than the ready line on stdout: \"%s\"", extra);
        }
        close(n->run->stdout_fd);
        n->run->stdout_fd = -1;
    }
    for (size_t i = 0; i < role_count; i++) {
        if (roles[i] > 0 && pid_alive(roles[i])) {
            /* Give orphans a moment to finish exiting before calling it a leak. */
            int64_t deadline = it_now_ms() + 2000;
            while (pid_alive(roles[i]) && it_now_ms() < deadline)
                pause_ms(10);
            if (pid_alive(roles[i])) {
                cr_expect_fail("role pid %d of node %s still runs after `cairn run` exited",
                               (int)roles[i], n->data_dir);
                kill(roles[i], SIGKILL);
            }
        }
    }
}

pid_t node_role_pid(const it_node *n, const char *binary)
{
    return node_role_instance_pid(n, binary, NULL);
}

pid_t node_role_instance_pid(const it_node *n, const char *binary, const char *arg)
{
    pid_t pid = 0;
    return find_pids(binary, false, n->data_dir, n->run ? n->run->pid : 0, arg, &pid, 1) ? pid
                                                                                           : 0;
}

/* True when every thread of pid is stopped ('T', or 't' under a tracer). */
static bool all_threads_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool stopped = true, any = false;
    struct dirent *e;
    while (stopped && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char task[300], state;
        pid_t ppid;
        snprintf(task, sizeof task, "%d/task/%s", (int)pid, e->d_name);
        any = true;
        stopped = read_stat(task, &state, &ppid) && (state == 'T' || state == 't');
    }
    closedir(d);
    return any && stopped;
}

pid_t node_freeze_role(const it_node *n, const char *binary)
{
    pid_t pids[2] = {0, 0};
    size_t found = find_pids(binary, false, n->data_dir, n->run ? n->run->pid : 0, NULL, pids, 2);
    cr_assert_eq(found, 1, "expected one %s of the node, found %zu", binary, found);
    cr_assert_eq(kill(pids[0], SIGSTOP), 0, "SIGSTOP %s: %s", binary, strerror(errno));
    int64_t deadline = it_now_ms() + 5000;
    while (!all_threads_stopped(pids[0])) {
        cr_assert(it_now_ms() < deadline, "%s (pid %d) did not stop within 5 s", binary,
                  (int)pids[0]);
        pause_ms(1);
    }
    return pids[0];
}

pid_t node_wait_role_restart(const it_node *n, const char *binary, pid_t old_pid, int timeout_ms)
{
    return node_wait_role_instance_restart(n, binary, NULL, old_pid, timeout_ms);
}

pid_t node_wait_role_instance_restart(const it_node *n, const char *binary, const char *arg,
                                      pid_t old_pid, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        pid_t pid = node_role_instance_pid(n, binary, arg);
        if (pid > 0 && pid != old_pid)
            return pid;
        if (it_now_ms() >= deadline)
            return 0;
        pause_ms(10);
    }
}

typedef struct admin_arg {
    const it_node *n;
    const char *name;
} admin_arg;

static bool admin_ready(void *arg)
{
    const admin_arg *a = arg;
    char addr[64];
    if (!node_admin_addr(a->n, a->name, addr, sizeof addr))
        return false;
    http_resp r = http_get_addr(addr, "/ready", 1000);
    bool ok = r.status == 200;
    http_resp_free(&r);
    return ok;
}

bool node_wait_admin_ready(const it_node *n, const char *name, int timeout_ms)
{
    admin_arg a = {n, name};
    return wait_until(admin_ready, &a, timeout_ms);
}

bool node_wait_registry_ready(it_node *n, int timeout_ms)
{
    bool ok = node_wait_admin_ready(n, "registry", timeout_ms);
    node_refresh_addrs(n);
    return ok;
}

double node_metric(const it_node *n, const char *name, const char *sample, const char *label_part)
{
    char addr[64];
    if (!node_admin_addr(n, name, addr, sizeof addr))
        return -1;
    http_resp r = http_get_addr(addr, "/metrics", 2000);
    if (r.status != 200) {
        http_resp_free(&r);
        return -1;
    }
    cairn_prom_text t;
    char err[256];
    bool ok = cairn_prom_parse(r.body, r.body_len, &t, err, sizeof err);
    http_resp_free(&r);
    cr_assert(ok, "%s /metrics does not parse: %s", name, err);
    double sum = cairn_prom_sum_named(&t, sample, label_part, NULL);
    cairn_prom_free(&t);
    return sum;
}

double node_wait_metric(const it_node *n, const char *name, const char *sample,
                        const char *label_part, double want, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    for (;;) {
        double v = node_metric(n, name, sample, label_part);
        if (v >= want || it_now_ms() >= deadline)
            return v;
        pause_ms(10); /* poll interval, not synchronisation */
    }
}

/* ---- single roles -------------------------------------------------------------------------- */
it_proc *role_start_alone(const char *binary, const char *data_dir, const char *const *sets)
{
    static char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/%s", CAIRN_BIN_DIR, binary);
    cr_assert(access(bin, X_OK) == 0, "%s is not built yet", bin);
    char set_dir[PATH_MAX + 32];
    snprintf(set_dir, sizeof set_dir, "node.data_dir=%s", data_dir);
    const char *argv[64];
    size_t argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "--set";
    argv[argc++] = set_dir;
    for (const char *const *s = sets; s && *s; s++) {
        cr_assert(argc + 3 < sizeof argv / sizeof argv[0], "too many --set");
        argv[argc++] = "--set";
        argv[argc++] = *s;
    }
    argv[argc] = NULL;
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", data_dir);
    char log_path[PATH_MAX + 64];
    snprintf(log_path, sizeof log_path, "%s/%s.log", dirname(parent), binary);
    return it_spawn(binary, argv, log_path, false);
}

it_proc *gateway_start_alone(char *data_dir, size_t data_len, char *http, size_t http_len)
{
    snprintf(data_dir, data_len, "%s/data", it_tmpdir());
    it_proc *gw = role_start_alone("cairn-gateway", data_dir,
                                   ARGS("gateway.listen=127.0.0.1:0",
                                        "gateway.admin_listen=127.0.0.1:0"));
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/run/gateway.http", data_dir);
    if (!it_wait_listening(path, http, http_len, IT_READY_TIMEOUT_MS)) {
        char *tail = it_log_tail(gw->log_path, 3000);
        cr_assert_fail("gateway alone did not write %s and accept connections within %d ms; "
                       "exited: %d; log:\n%s",
                       path, IT_READY_TIMEOUT_MS, it_proc_exited(gw), tail);
    }
    return gw;
}

/* ---- teardown ---------------------------------------------------------------------------- */
static void print_log(const char *path)
{
    char *text = it_read_file(path);
    if (text) {
        fprintf(stderr, "==== %s ====\n%s\n", path, text);
        free(text);
    }
}

void it_teardown(void)
{
    it_finish();
}

void it_finish(void)
{
    bool verbose = env_flag("CAIRN_IT_VERBOSE");
    for (size_t i = 0; i < g_node_count; i++) {
        node_stop(g_nodes[i]);
    }
    for (size_t i = 0; i < g_proc_count; i++) {
        it_proc *p = g_procs[i];
        bool running = !it_proc_exited(p);
        it_proc_stop(p, running);
        if (verbose)
            print_log(p->log_path);
    }
    bool keep = env_flag("CAIRN_IT_KEEP") || g_keep_dirs;
    for (size_t i = 0; i < g_dir_count; i++) {
        if (keep)
            cr_log_info("kept %s", g_dirs[i]);
        else
            rm_rf(g_dirs[i]);
        free(g_dirs[i]);
    }
    for (size_t i = 0; i < g_node_count; i++)
        free(g_nodes[i]);
    for (size_t i = 0; i < g_proc_count; i++)
        free(g_procs[i]);
    g_dir_count = g_node_count = g_proc_count = 0;
}
