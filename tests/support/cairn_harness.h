/* Integration-test harness: starts real Cairn binaries on loopback, each test with its own temp
 * directory and port 0 everywhere, so that tests run in parallel without touching each other.
 *
 * Everything a test starts (nodes, single roles, temp dirs) is registered in this process and
 * cleaned up by it_teardown(), which every suite installs as its .fini: Criterion runs it after
 * a failed assertion too. Start things inside the test body, never in .init (an assertion in
 * .init cannot abort cleanly).
 *
 * Role output (stderr) goes to <dir>/<name>.log; when a process stops, its log is scanned for
 * sanitizer reports, which fail the test. CAIRN_IT_KEEP=1 in the environment keeps every temp
 * directory; CAIRN_IT_VERBOSE=1 prints every log at teardown. */
#ifndef CAIRN_HARNESS_H
#define CAIRN_HARNESS_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef CAIRN_BIN_DIR
#error "CAIRN_BIN_DIR must be defined by the build"
#endif

/* True in the sanitizer build (make test SANITIZE=1, CAIRN_IT_SANITIZED from the build), where
 * every role runs several times slower: load tests scale their request counts by it. */
#ifdef CAIRN_IT_SANITIZED
#define IT_SANITIZED true
#else
#define IT_SANITIZED false
#endif

#define IT_READY_TIMEOUT_MS 20000 /* start-up of a node or a role */
#define IT_STOP_TIMEOUT_MS 15000  /* SIGTERM to exit, before SIGKILL */

/* Sets every node of a test gets: loopback, free ports, active health probes confined to
 * loopback (tests register instances at made-up addresses; nothing may be sent to them), a
 * beat timeouts long enough that instances a test registers without beating never expire
 * mid-test (tests of expiry set their own, which come later and win), a
 * short stop timeout, a registry timeout that tolerates a loaded machine (sanitizer
 * builds, parallel tests; the default timeout is tested with roles started alone), and a short
 * event tick (a pusher is ready at the first tick after it loaded its subscriptions). */
#define IT_LOOPBACK_SETS                                                                      \
    "gateway.listen=127.0.0.1:0", "gateway.admin_listen=127.0.0.1:0",                          \
        "registry.admin_listen=127.0.0.1:0", "healthcheck.admin_listen=127.0.0.1:0",           \
        "pusher.admin_listen=127.0.0.1:0", "health.probe_networks=127.0.0.0/8",                \
        "health.beat_timeout_ms=600000", "health.delete_timeout_ms=1200000",                  \
        "run.stop_timeout_ms=5000", "registry.event_tick_ms=100",                             \
        "gateway.registry_timeout_ms=5000", "grpc.listen=127.0.0.1:0",                        \
        "grpc.admin_listen=127.0.0.1:0", "grpc.registry_timeout_ms=5000"

/* A NULL-terminated array literal of strings: ARGS("a", "b"). */
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- time and polling -------------------------------------------------------------------- */
int64_t it_now_ms(void);
/* Sorts ms[n] (n > 0) and prints "<what>: p50 .. ms, p90 .. ms, max .. ms" on stdout, for a
 * test that reports latencies it measured (nothing is asserted on them). */
void it_print_latencies(const char *what, long long *ms, int n);
/* Polls fn(arg) every few milliseconds until it returns true or timeout_ms passes. Returns the
 * last result. This is the only way tests wait for something. */
bool wait_until(bool (*fn)(void *arg), void *arg, int timeout_ms);

/* ---- files ------------------------------------------------------------------------------- */
/* Whole file as a malloc'd NUL-terminated string, or NULL. */
char *it_read_file(const char *path);
int it_write_file(const char *path, const char *text);
/* A fresh directory /tmp/cairn-it-XXXXXX, removed at teardown (unless kept). */
const char *it_tmpdir(void);
/* An address file ("host:port" as bound, optionally "http://", trailing whitespace) as the
 * "host:port" to connect to: a wildcard bind is dialled over loopback (cairn_dial_address).
 * Returns false when missing, unparsable or longer than len. */
bool it_read_addr_file(const char *path, char *hostport, size_t len);

/* Polls until the address file at path names an address that accepts TCP connections (a role
 * started alone is listening), at most timeout_ms; its dial address goes into hostport. */
bool it_wait_listening(const char *path, char *hostport, size_t len, int timeout_ms);

/* ---- processes --------------------------------------------------------------------------- */
typedef struct it_proc {
    pid_t pid;             /* 0 once reaped */
    int status;            /* waitpid status once reaped */
    bool reaped;
    bool stopped;          /* it_proc_stop ran (its log was checked) */
    int stdout_fd;         /* read end of a stdout pipe, or -1 */
    char name[64];         /* for messages */
    char log_path[PATH_MAX];
    char out_path[PATH_MAX]; /* stdout file when not piped ("" otherwise) */
} it_proc;

/* Spawns argv (argv[0] a path) with stderr to log_path; stdout to a pipe when pipe_stdout,
 * else to <log_path>.out. The child gets SIGTERM if this test process dies. Registered for
 * teardown. Asserts on failure. */
it_proc *it_spawn(const char *name, const char *const *argv, const char *log_path,
                  bool pipe_stdout);
/* True once the process has exited (reaps it). */
bool it_proc_exited(it_proc *p);
/* Waits for exit up to timeout_ms; true if it exited. */
bool it_proc_wait(it_proc *p, int timeout_ms);
/* SIGTERM, wait, SIGKILL fallback; expects a clean exit (status 0, no SIGKILL needed) when
 * expect_clean, and no sanitizer report in the log. Idempotent. */
void it_proc_stop(it_proc *p, bool expect_clean);
/* The same with another first signal; leaves a stdout pipe open. */
void it_proc_stop_with(it_proc *p, int sig, bool expect_clean);
/* Exit code of a reaped process, or -1 when it was killed by a signal. */
int it_proc_exit_code(const it_proc *p);
/* Runs argv to completion (bounded by timeout_ms), capturing stdout and stderr (malloc'd).
 * Returns the exit code, -1 on signal, -2 on timeout (the process is killed). */
int it_run(const char *const *argv, int timeout_ms, char **out, char **err);

/* The last `bytes` of a log file, malloc'd (for failure messages). */
char *it_log_tail(const char *path, size_t bytes);
/* The same without the lines that contain drop (the noise of a busy log). */
char *it_log_tail_without(const char *path, size_t bytes, const char *drop);
/* Number of sanitizer reports (ASan, LSan, UBSan) in a log file. */
int it_sanitizer_reports(const char *path);

/* ---- a node under `cairn run` ------------------------------------------------------------- */
typedef struct it_node_opts {
    const char *const *sets;   /* extra --set key=value (NULL-terminated), after the defaults */
    const char *config_file;   /* --config, or NULL */
    bool no_default_sets;      /* do not pass IT_LOOPBACK_SETS (the config file supplies them) */
    const char *reuse_dir;     /* the dir of a stopped node, to start it again on its data */
} it_node_opts;

typedef struct it_node {
    it_proc *run;                  /* the `cairn run` process */
    char dir[PATH_MAX];            /* temp dir holding data/ and the logs */
    char data_dir[PATH_MAX];
    char run_dir[PATH_MAX];
    char ready_line[512];
    char gateway[64];              /* host:port of the Nacos API, from the ready line */
    char gateway_url[96];          /* http://host:port */
    char gateway_admin[64];        /* host:port from run/gateway.admin */
    char registry_admin[64];       /* host:port from run/registry.admin */
    bool stopped;
} it_node;

/* Starts `cairn run --data-dir <tmp>/data --set ...`, waits for the ready line and reads the admin
 * address files. Asserts on failure (with the log tail). Registered for teardown. */
it_node *node_start(const it_node_opts *opts);
/* node_start in two steps: spawn `cairn run` (registered for teardown) without waiting, then
 * wait for its ready line and read the addresses (asserting as node_start does). Several nodes
 * spawned first can become ready together (a cluster whose members wait for each other). */
it_node *node_spawn(const it_node_opts *opts);
void node_await_ready(it_node *n);
/* SIGTERM to `cairn run`; expects a clean exit within IT_STOP_TIMEOUT_MS, nothing more on its
 * stdout than the one ready line, and no role process of this node left behind. Idempotent. */
void node_stop(it_node *n);
/* The same with another signal (SIGINT). */
void node_stop_with(it_node *n, int sig);
/* Re-reads run/<role>.admin and run/gateway.http (a restarted role may have a new port). Returns true
 * when every file was readable. */
bool node_refresh_addrs(it_node *n);
/* The pid of a role binary ("cairn-registry") belonging to this node, or 0: scans /proc for a
 * process whose argv[0] ends with the binary name and whose command line mentions the node's
 * data dir or whose parent is the node's `cairn run`. */
pid_t node_role_pid(const it_node *n, const char *binary);
/* The same for the copy of a role whose command line holds the argument arg exactly (the index
 * `cairn run` gives each copy: "pusher.index=1"); NULL: any copy. */
pid_t node_role_instance_pid(const it_node *n, const char *binary, const char *arg);
/* SIGSTOPs the node's role binary and waits (up to 5 s) until every one of its threads is
 * stopped, so a request sent afterwards cannot be served by it; asserts that it is the node's
 * only process of that binary. Returns its pid (for SIGCONT). */
pid_t node_freeze_role(const it_node *n, const char *binary);
/* Polls until a live pid of binary differs from old_pid (restart); returns it, or 0. */
pid_t node_wait_role_restart(const it_node *n, const char *binary, pid_t old_pid, int timeout_ms);
/* The same for the copy whose command line holds arg (see node_role_instance_pid). */
pid_t node_wait_role_instance_restart(const it_node *n, const char *binary, const char *arg,
                                      pid_t old_pid, int timeout_ms);
/* Polls GET http://<registry_admin>/ready (re-reading the admin file each time) until 200, then
 * refreshes the node's addresses. */
bool node_wait_registry_ready(it_node *n, int timeout_ms);

/* The admin listener of the node's role process name ("registry", "healthcheck", "pusher-0"):
 * host:port from run/<name>.admin; false (and "") when missing or unparsable. */
bool node_admin_addr(const it_node *n, const char *name, char *hostport, size_t len);
/* Polls GET /ready on that listener (re-reading the address file each time) until 200. */
bool node_wait_admin_ready(const it_node *n, const char *name, int timeout_ms);
/* The sum of the samples named exactly sample (with its cairn_<role>_ prefix) whose labels
 * contain label_part (NULL: any) on that listener's /metrics; -1 when the address or /metrics
 * cannot be read. Asserts that /metrics is well-formed Prometheus text. */
double node_metric(const it_node *n, const char *name, const char *sample, const char *label_part);
/* Polls node_metric until it is at least want or timeout_ms passes; returns the last value. */
double node_wait_metric(const it_node *n, const char *name, const char *sample,
                        const char *label_part, double want, int timeout_ms);

/* pid of any process running `binary` whose command line mentions dir (0 if none). */
pid_t it_find_pid(const char *binary, const char *dir, pid_t parent);

/* ---- a single role started alone ------------------------------------------------------------ */
/* Runs CAIRN_BIN_DIR/<binary> --set node.data_dir=<data_dir> --set <sets>... with its log in the
 * directory containing data_dir. Registered for teardown. */
it_proc *role_start_alone(const char *binary, const char *data_dir, const char *const *sets);

/* The gateway alone, without the roles it calls (what clients see while the registry is
 * away): cairn-gateway on loopback, port 0, in a fresh temp dir, started and accepting
 * connections. Its data directory goes into data_dir, its Nacos listener (host:port) into http.
 * Asserts, with the log tail, when it is not listening within IT_READY_TIMEOUT_MS. */
it_proc *gateway_start_alone(char *data_dir, size_t data_len, char *http, size_t http_len);

/* ---- teardown ---------------------------------------------------------------------------- */
/* Stops every node and process this test started, checks that they stopped cleanly (exit 0 on
 * SIGTERM, no crash, no sanitizer report, no role left behind) and removes temp dirs. */
void it_finish(void);
/* The same, as a suite's .fini: the clean-up after a failed assertion. Criterion ignores
 * assertions made in .fini, so the checks only count through it_finish() (see IT_TEST). */
void it_teardown(void);

/* A Criterion test that ends with it_finish(), so that a role that crashed or did not stop
 * cleanly fails the test. Use instead of Test(Suite, Name) with a suite whose .fini is
 * it_teardown. */
#define IT_TEST(Suite, Name)                                                                   \
    static void it_body_##Suite##_##Name(void);                                                \
    Test(Suite, Name)                                                                          \
    {                                                                                          \
        it_body_##Suite##_##Name();                                                            \
        it_finish();                                                                           \
    }                                                                                          \
    static void it_body_##Suite##_##Name(void)

#endif
