/* `cairn run`'s process table: starting the role binaries, noticing their exits and readiness,
 * restarting them with backoff, stopping them. The event loop that drives it is cli_run.c. */
#ifndef CLI_SUPERVISOR_H
#define CLI_SUPERVISOR_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn_config.h"
#include "cli_notify.h"
#include "cli_options.h"
#include "cairn_node_roles.h"

/* A role that stayed up this long is healthy again: its next restart uses the minimum delay. */
#define CLI_BACKOFF_RESET_MS 10000

typedef enum cli_child_state {
    CHILD_DOWN,     /* not running, no restart planned */
    CHILD_STARTING, /* running, READY=1 not yet received */
    CHILD_READY,    /* running and ready */
    CHILD_WAITING,  /* exited; restarts at restart_at_ms */
} cli_child_state;

typedef struct cli_child {
    const cairn_node_role *role;
    cairn_node_role_instance instance; /* name ("pusher-0") and index argument */
    char binary[PATH_MAX];
    cli_notify notify;
    cli_child_state state;
    pid_t pid; /* 0 when not running */
    int64_t started_ms;      /* monotonic */
    int64_t started_wall_ms; /* the same moment on the wall clock, for `cairn status` */
    int64_t next_backoff_ms;
    int64_t restart_at_ms;
    unsigned starts;
} cli_child;

typedef struct cli_supervisor {
    cli_child *children; /* one per role process, in start order */
    size_t count;
    const char **args; /* arguments every role gets after its binary: --config, --set... */
    size_t arg_count;
    int64_t backoff_min_ms, backoff_max_ms;
    bool stopping;
    bool changed; /* a child started, exited or became ready since the last cli_supervisor_save */
    char run_dir[PATH_MAX];
} cli_supervisor;

int64_t cli_now_ms(void);

/* Finds every role binary in bin_dir and opens its notify socket in run_dir. Returns 0, or -1
 * with a message in err. */
int cli_supervisor_init(cli_supervisor *sv, const char *bin_dir, const char *run_dir,
                        const cli_options *opts, const cairn_config *cfg, char *err,
                        size_t err_len);
void cli_supervisor_free(cli_supervisor *sv);

/* Starts a role process. Returns 0, or -1 (logged; the child is scheduled for a restart). */
int cli_supervisor_spawn(cli_supervisor *sv, cli_child *c, int64_t now);
/* Collects exited children; while not stopping, schedules their restarts. */
void cli_supervisor_reap(cli_supervisor *sv, int64_t now);
/* Reads the child's notify socket and updates its state. */
void cli_supervisor_notify(cli_supervisor *sv, cli_child *c);
/* Restarts the children whose backoff has passed. */
void cli_supervisor_run_timers(cli_supervisor *sv, int64_t now);
/* The earliest planned restart, or -1. */
int64_t cli_supervisor_next_timer(const cli_supervisor *sv);
/* Cancels restarts and sends sig to every running child. */
void cli_supervisor_stop(cli_supervisor *sv, int sig);

/* Writes the state file `cairn status` reads (cli_state.h) and clears sv->changed (also when
 * the write fails). Returns 0, or -1 with errno set. */
int cli_supervisor_save(cli_supervisor *sv);

size_t cli_supervisor_running(const cli_supervisor *sv);
bool cli_supervisor_all_ready(const cli_supervisor *sv);

#endif
