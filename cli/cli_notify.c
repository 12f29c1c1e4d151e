#include "cli_notify.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_notify_open(cli_notify *n, const char *run_dir, const char *role, char *err,
                    size_t err_len)
{
    n->fd = -1;
    int len = snprintf(n->path, sizeof n->path, "%s/notify-%s.sock", run_dir, role);
    if (len < 0 || (size_t)len >= sizeof n->path) {
        snprintf(err, err_len, "notify socket path for %s under %s is too long", role, run_dir);
        n->path[0] = '\0';
        return -1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, n->path, (size_t)len + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    /* A socket left by a supervisor that was killed is stale; the run lock says none runs. */
    unlink(n->path);
    /* Only the node's user may send readiness: the socket is 0600 whatever the umask (which
     * cairn_umask_private has already kept from letting anyone else in before the chmod). */
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        chmod(n->path, 0600) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
        snprintf(err, err_len, "cannot create notify socket %s: %s", n->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        n->path[0] = '\0';
        return -1;
    }
    n->fd = fd;
    return 0;
}

void cli_notify_close(cli_notify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    if (n->path[0])
        unlink(n->path);
    n->path[0] = '\0';
}

void cli_notify_parse(const char *buf, size_t len, cli_notify_msg *msg)
{
    const char *end = buf + len;
    while (buf < end) {
        const char *nl = memchr(buf, '\n', (size_t)(end - buf));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - buf);
        if (n == 7 && memcmp(buf, "READY=1", 7) == 0)
            msg->ready = true;
        else if (n == 10 && memcmp(buf, "STOPPING=1", 10) == 0)
            msg->stopping = true;
        else if (n == 10 && memcmp(buf, "WATCHDOG=1", 10) == 0)
            msg->watchdog = true;
        else if (n >= 7 && memcmp(buf, "STATUS=", 7) == 0)
            snprintf(msg->status, sizeof msg->status, "%.*s", (int)(n - 7), buf + 7);
        buf = line_end + 1;
    }
}

int cli_notify_recv(cli_notify *n, cli_notify_msg *msg)
{
    char buf[4096];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.space,
                        .msg_controllen = sizeof control.space};
    ssize_t r = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    memset(msg, 0, sizeof *msg);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            msg->pid = cred.pid;
        } else if (c->cmsg_type == SCM_RIGHTS) {
            /* sd_pid_notify_with_fds can pass descriptors; we keep none. */
            size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < nfd; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                close(fd);
            }
        }
    }
    size_t len = (size_t)r < sizeof buf - 1 ? (size_t)r : sizeof buf - 1;
    cli_notify_parse(buf, len, msg);
    return 1;
}
