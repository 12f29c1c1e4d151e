/* The process skeleton every role binary shares: command line, config, logging, signals,
 * metrics and health listener, readiness. A role's main() is:
 *
 *     cairn_role role;
 *     int rc = cairn_role_init(&role, "registry", argc, argv);
 *     if (rc != 0) return rc;               // bad config → 78, printed already
 *     ... open sockets, start threads ...
 *     cairn_role_ready(&role);              // sd_notify READY=1, log line, /health says ready
 *     cairn_role_wait_for_stop(&role);      // until SIGTERM/SIGINT; pings the systemd watchdog
 *     ... stop threads ...
 *     return cairn_role_finish(&role);
 *
 * Command line of every role: [--config FILE] [--set key=value]... [--help] [--version].
 */
#ifndef CAIRN_ROLE_H
#define CAIRN_ROLE_H

#include <limits.h>
#include <stdbool.h>

#include "cairn_config.h"
#include "cairn_log.h"
#include "cairn_metrics.h"

#define CAIRN_VERSION "0.1.0"

/* A role's view of its own health, asked by GET /health on the admin listener. Returns true when
 * healthy; writes a short reason into detail either way. */
typedef bool (*cairn_health_fn)(void *arg, char *detail, size_t detail_len);

typedef struct cairn_admin_server cairn_admin_server;

typedef struct cairn_role {
    const char *name; /* "gateway", "registry", ... */
    cairn_config *config;
    cairn_metrics *metrics;
    cairn_admin_server *admin;
    char data_dir[PATH_MAX];
    char run_dir[PATH_MAX];
    cairn_health_fn health;
    void *health_arg;
    cairn_health_fn ready_check; /* NULL: ready once cairn_role_ready was called */
    void *ready_arg;
} cairn_role;

/* Parses the command line, loads config, sets up logging, signal handling (SIGTERM/SIGINT stop,
 * SIGPIPE ignored), creates data and run directories, starts the admin listener
 * (<name>.admin_listen) and writes its bound address to <run_dir>/<name>.admin.
 * A role with a "<name>.index" config key (the pushers, which run side by side) becomes
 * "<name>-<index>" in role->name, log lines and the admin file, and listens on the admin port
 * + index (unless it is 0); config keys and metric names keep the plain name. With a
 * "<name>.count" key too, an index not below the count is a config error (78).
 * Returns 0, or the exit code the process should exit with (64 for a bad command line, 78 for
 * bad config); --help and --version print and exit(0) here, before anything is started. */
int cairn_role_init(cairn_role *role, const char *name, int argc, char **argv);

/* The role's health callback for /health (default: healthy once ready). */
void cairn_role_set_health(cairn_role *role, cairn_health_fn fn, void *arg);

/* Whether the role can serve right now, asked by GET /ready after cairn_role_ready (a role whose
 * inputs come and go, such as a pusher's connections, says so here); before it, /ready answers
 * 503 "starting: <what fn says>". Set it before cairn_role_ready; fn runs on the admin
 * listener's thread. */
void cairn_role_set_ready_check(cairn_role *role, cairn_health_fn fn, void *arg);

/* Declares the role ready: sd_notify("READY=1") when under systemd or `cairn run`, an info log
 * line, and /ready answers 200 from now on (while the ready check, if any, agrees). Any thread
 * may call it; calls after the first do nothing. */
void cairn_role_ready(cairn_role *role);

/* True until a stop signal arrives. */
bool cairn_role_running(void);
/* Asks the role to stop, as a signal would (for threads that hit a fatal condition). */
void cairn_role_request_stop(void);

/* Blocks until a stop signal, sending WATCHDOG=1 at half the systemd watchdog interval. */
void cairn_role_wait_for_stop(cairn_role *role);

/* sd_notify("STOPPING=1"), stops the admin listener, frees config and metrics. Returns 0. */
int cairn_role_finish(cairn_role *role);

/* ---- admin listener (used by cairn_role; exposed for tests) ------------------------------ */
/* Serves GET /metrics (Prometheus text), GET /health (200 "ok: <detail>" or 503 "<detail>") and
 * GET /ready on host:port (port 0 picks a free one). Returns NULL and logs on failure. */
cairn_admin_server *cairn_admin_start(const char *host, uint16_t port, cairn_role *role);
uint16_t cairn_admin_port(const cairn_admin_server *srv);
/* The address as bound, "host:port" (cairn_address.h); "" for NULL. Valid until cairn_admin_stop. */
const char *cairn_admin_address(const cairn_admin_server *srv);
void cairn_admin_stop(cairn_admin_server *srv);

#endif
