/* The receiving end of the sd_notify protocol, one datagram socket per role, so that roles
 * report READY=1 / STOPPING=1 / WATCHDOG=1 to `cairn run` exactly as they would to systemd. */
#ifndef CLI_NOTIFY_H
#define CLI_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

typedef struct cli_notify {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} cli_notify;

typedef struct cli_notify_msg {
    pid_t pid; /* sender, from the kernel's credentials; 0 if unknown */
    bool ready;
    bool stopping;
    bool watchdog;
    char status[128]; /* STATUS=..., "" if none */
} cli_notify_msg;

/* Binds <run_dir>/notify-<role>.sock (replacing a stale one). Returns 0, or -1 with a message
 * in err. */
int cli_notify_open(cli_notify *n, const char *run_dir, const char *role, char *err,
                    size_t err_len);
/* Closes the socket and removes its file. */
void cli_notify_close(cli_notify *n);

/* Receives one pending datagram. Returns 1 with *msg filled, 0 when none is pending, -1 on a
 * socket error. */
int cli_notify_recv(cli_notify *n, cli_notify_msg *msg);

/* Parses the newline-separated KEY=VALUE assignments of one datagram (pid left untouched). */
void cli_notify_parse(const char *buf, size_t len, cli_notify_msg *msg);

#endif
