/* The supervisor's state file (cli_state.h). */
#include "cli_state.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn_files.h"

static int state_path(const char *run_dir, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", run_dir, CLI_STATE_FILE);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int cli_state_write(const char *run_dir, long supervisor, const cli_role_record *records,
                    size_t count)
{
    char path[PATH_MAX];
    if (state_path(run_dir, path, sizeof path) != 0)
        return -1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return -1;
    fprintf(f, "cairn-run %ld\n", supervisor);
    for (size_t i = 0; i < count; i++) {
        const cli_role_record *r = &records[i];
        fprintf(f, "%s %ld %" PRId64 " %u %s\n", r->name, r->pid, r->started_ms, r->restarts,
                r->state);
    }
    if (fclose(f) != 0) {
        free(text);
        return -1;
    }
    int rc = cairn_write_file_atomic(path, text, len);
    free(text);
    return rc;
}

int cli_state_read(const char *run_dir, long *supervisor, cli_role_record *out, size_t max)
{
    char path[PATH_MAX];
    if (state_path(run_dir, path, sizeof path) != 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    int n = -1;
    if (fgets(line, sizeof line, f) && sscanf(line, "cairn-run %ld", supervisor) == 1)
        n = 0;
    while (n >= 0 && (size_t)n < max && fgets(line, sizeof line, f)) {
        cli_role_record *r = &out[n];
        if (sscanf(line, "%63s %ld %" SCNd64 " %u %15s", r->name, &r->pid, &r->started_ms,
                   &r->restarts, r->state) != 5) {
            n = -1;
            break;
        }
        n++;
    }
    fclose(f);
    return n;
}

bool cli_state_supervisor_alive(long supervisor)
{
    return supervisor > 0 && (kill((pid_t)supervisor, 0) == 0 || errno == EPERM);
}

void cli_state_remove(const char *run_dir)
{
    char path[PATH_MAX];
    if (state_path(run_dir, path, sizeof path) == 0)
        unlink(path);
}

void cli_format_duration(int64_t ms, char *buf, size_t len)
{
    long long s = ms > 0 ? (long long)(ms / 1000) : 0;
    if (s < 60)
        snprintf(buf, len, "%llds", s);
    else if (s < 3600)
        snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}
