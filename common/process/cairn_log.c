#include "cairn_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *name;
    int syslog_priority; /* LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
} levels[] = {
    [CAIRN_LOG_DEBUG] = {"debug", 7},
    [CAIRN_LOG_INFO] = {"info", 6},
    [CAIRN_LOG_WARN] = {"warn", 4},
    [CAIRN_LOG_ERROR] = {"error", 3},
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_role[64] = "cairn";
static atomic_int log_min_level = CAIRN_LOG_INFO;
static bool log_journal;

/* systemd sets JOURNAL_STREAM to "<dev>:<inode>" of the stream it connected to stderr; it only
 * counts when stderr is still that stream (not redirected by a parent in between). */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    if (!js || !*js)
        return false;
    unsigned long long dev, ino;
    struct stat sb;
    if (sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &sb) != 0)
        return false;
    return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void cairn_log_init(const char *role, cairn_log_level level)
{
    pthread_mutex_lock(&log_lock);
    snprintf(log_role, sizeof log_role, "%s", role ? role : "cairn");
    log_journal = stderr_is_journal();
    pthread_mutex_unlock(&log_lock);
    cairn_log_set_level(level);
}

int cairn_log_level_parse(const char *s, cairn_log_level *out)
{
    for (int i = CAIRN_LOG_DEBUG; i <= CAIRN_LOG_ERROR; i++) {
        if (strcmp(s, levels[i].name) == 0) {
            *out = (cairn_log_level)i;
            return 0;
        }
    }
    return -1;
}

void cairn_log_set_level(cairn_log_level level)
{
    if (level < CAIRN_LOG_DEBUG || level > CAIRN_LOG_ERROR)
        level = CAIRN_LOG_INFO;
    atomic_store(&log_min_level, (int)level);
}

void cairn_log(cairn_log_level level, const char *fmt, ...)
{
    if (level < CAIRN_LOG_DEBUG || level > CAIRN_LOG_ERROR)
        level = CAIRN_LOG_ERROR;
    if ((int)level < atomic_load(&log_min_level))
        return;

    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(msg, sizeof msg, "(unformattable log message)");
    else if ((size_t)n >= sizeof msg)
        memcpy(msg + sizeof msg - 4, "...", 4);
    /* One event, one line: fold embedded line breaks. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';

    pthread_mutex_lock(&log_lock);
    if (log_journal) {
        fprintf(stderr, "<%d>%s %s: %s\n", levels[level].syslog_priority, levels[level].name,
                log_role, msg);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: %s\n", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000000, levels[level].name, log_role, msg);
    }
    pthread_mutex_unlock(&log_lock);
}
