/* `cairn run`'s record of its role processes, <run_dir>/cairn-run.state, which `cairn status`
 * reads: the process running each role, since when, how often it was restarted.
 *
 * Only the supervisor writes it, whole and atomically (cairn_write_file_atomic), each time a
 * role process starts, exits or becomes ready; it removes it when it ends. The first line names
 * the supervisor's pid: a reader that finds that process gone (a `cairn run` killed with -9)
 * ignores the file. Under systemd there is no file; systemd keeps the same facts
 * (`systemctl show -p MainPID,NRestarts`).
 *
 *     cairn-run 4242
 *     registry 4243 1764662400123 0 ready
 *     pusher-0 0 1764662400456 2 restarting
 *
 * One line per role process, in start order: name, pid (0: not running), wall-clock start of
 * its current or last process in ms, restarts, state. No locking: a reader sees an old or a new
 * file, never a mix. */
#ifndef CLI_STATE_H
#define CLI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_STATE_FILE "cairn-run.state"

typedef struct cli_role_record {
    char name[64];      /* "registry", "pusher-0" */
    long pid;           /* 0: not running */
    int64_t started_ms; /* wall clock at the start of its current (or last) process; 0: never */
    unsigned restarts;  /* processes started after the first */
    char state[16];     /* "starting", "ready", "restarting", "down" */
} cli_role_record;

/* Replaces the file of run_dir with these records. Returns 0, or -1 with errno set. */
int cli_state_write(const char *run_dir, long supervisor, const cli_role_record *records,
                    size_t count);
/* Reads up to max records of run_dir's file and the supervisor's pid. Returns how many, or -1
 * when there is no file or it does not parse. */
int cli_state_read(const char *run_dir, long *supervisor, cli_role_record *out, size_t max);
/* Whether the file's supervisor is still running (a `cairn run` killed with -9 leaves it). */
bool cli_state_supervisor_alive(long supervisor);
void cli_state_remove(const char *run_dir);

/* A duration as people read it: "45s", "12m05s", "3h07m", "2d04h". */
void cli_format_duration(int64_t ms, char *buf, size_t len);

#endif
