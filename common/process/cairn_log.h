/* Logging: one line per event on stderr, `<level> <role>: <message>`. Under journald
 * (JOURNAL_STREAM set) each line is prefixed with its syslog priority `<N>` so that journalctl
 * shows levels; otherwise lines start with an ISO-8601 UTC timestamp. Thread-safe. */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

typedef enum cairn_log_level {
    CAIRN_LOG_DEBUG = 0,
    CAIRN_LOG_INFO,
    CAIRN_LOG_WARN,
    CAIRN_LOG_ERROR,
} cairn_log_level;

void cairn_log_init(const char *role, cairn_log_level level);
/* Parses debug|info|warn|error; returns -1 for anything else. */
int cairn_log_level_parse(const char *s, cairn_log_level *out);
void cairn_log_set_level(cairn_log_level level);

void cairn_log(cairn_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) cairn_log(CAIRN_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) cairn_log(CAIRN_LOG_INFO, __VA_ARGS__)
#define log_warn(...) cairn_log(CAIRN_LOG_WARN, __VA_ARGS__)
#define log_error(...) cairn_log(CAIRN_LOG_ERROR, __VA_ARGS__)

#endif
