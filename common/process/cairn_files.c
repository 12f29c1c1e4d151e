#include "cairn_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cairn_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = n == 0 ? ENOENT : ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    /* Create each prefix in turn; EEXIST on a prefix is fine as long as it is a directory. */
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, mode) != 0) {
            int err = errno;
            struct stat sb;
            if (err != EEXIST || stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                errno = err == EEXIST ? ENOTDIR : err;
                return -1;
            }
        }
        *p = saved;
        if (saved == '\0')
            return 0;
    }
}

int cairn_private_dir(const char *path, char *why, size_t why_len)
{
    if (cairn_mkdir_p(path, 0700) != 0) {
        snprintf(why, why_len, "cannot create the run directory %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(why, why_len, "cannot read the run directory %s: %s", path, strerror(errno));
        return -1;
    }
    if (sb.st_uid != geteuid()) {
        snprintf(why, why_len,
                 "the run directory %s belongs to uid %u, not to this user (uid %u): another "
                 "user could replace its sockets; give it to this user or set node.run_dir",
                 path, (unsigned)sb.st_uid, (unsigned)geteuid());
        return -2;
    }
    if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(why, why_len,
                 "the run directory %s is writable by %s (mode %04o): another user could "
                 "replace its sockets; chmod go-w it or set node.run_dir",
                 path, (sb.st_mode & S_IWOTH) ? "others" : "its group",
                 (unsigned)(sb.st_mode & 07777));
        return -2;
    }
    return 0;
}

void cairn_umask_private(void)
{
    mode_t old = umask(077);
    umask(old | 027);
}

int cairn_write_file_atomic(const char *path, const char *data, size_t len)
{
    return cairn_write_file_atomic_mode(path, data, len, 0640);
}

int cairn_write_file_atomic_mode(const char *path, const char *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            close(fd);
            unlink(tmp);
            errno = err;
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

int cairn_absolute_path(const char *path, char *out, size_t out_len)
{
    if (path[0] == '/') {
        if (strlen(path) >= out_len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(out, path);
        return 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    /* "." alone means the current directory itself. */
    const char *rest = path;
    while (rest[0] == '.' && rest[1] == '/')
        rest += 2;
    int n = strcmp(rest, ".") == 0 || rest[0] == '\0'
                ? snprintf(out, out_len, "%s", cwd)
                : snprintf(out, out_len, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", rest);
    if (n < 0 || (size_t)n >= out_len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}
