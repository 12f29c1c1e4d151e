#include "cairn_http_get.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (16u << 20)

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; returns 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        return rc < 0 ? -1 : rc > 0;
    }
}

static int split_address(const char *address, char *host, size_t host_len, char *port,
                         size_t port_len)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address)
        return -1;
    const char *h = address;
    size_t n = (size_t)(colon - address);
    if (h[0] == '[' && colon[-1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= host_len || strlen(colon + 1) >= port_len || !colon[1])
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int connect_to(const char *address, long long deadline, char *err, size_t err_len)
{
    char host[256], port[16];
    if (split_address(address, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, err_len, "bad address \"%s\"", address);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, err_len, "%s: %s", address, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (fd >= 0 && rc != 0 && errno == EINPROGRESS) {
        int so_err = 0;
        socklen_t sl = sizeof so_err;
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w == 0)
            errno = ETIMEDOUT;
        else if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &sl) == 0)
            errno = so_err;
        rc = (w > 0 && so_err == 0) ? 0 : -1;
    }
    if (fd < 0 || rc != 0) {
        snprintf(err, err_len, "%s: %s", address, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) <= 0)
                return -1;
            continue;
        }
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads until the server closes the connection (HTTP/1.0). */
static char *recv_all(int fd, long long deadline, size_t *len, char *err, size_t err_len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= MAX_RESPONSE) {
                snprintf(err, err_len, "response larger than %u bytes", MAX_RESPONSE);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r > 0) {
            n += (size_t)r;
            continue;
        }
        if (r == 0) {
            buf[n] = '\0';
            *len = n;
            return buf;
        }
        if (errno == EAGAIN || errno == EINTR) {
            int w = wait_fd(fd, POLLIN, deadline);
            if (w > 0)
                continue;
            snprintf(err, err_len, "%s", w == 0 ? "timed out" : strerror(errno));
        } else {
            snprintf(err, err_len, "%s", strerror(errno));
        }
        break;
    }
    if (!buf)
        snprintf(err, err_len, "out of memory");
    free(buf);
    return NULL;
}

int cairn_http_get(const char *address, const char *path, int timeout_ms, cairn_http_response *resp,
                 char *err, size_t err_len)
{
    memset(resp, 0, sizeof *resp);
    long long deadline = now_ms() + timeout_ms;
    int fd = connect_to(address, deadline, err, err_len);
    if (fd < 0)
        return -1;
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, address);
    if (n < 0 || (size_t)n >= sizeof req || send_all(fd, req, (size_t)n, deadline) != 0) {
        snprintf(err, err_len, "%s: cannot send the request: %s", address, strerror(errno));
        close(fd);
        return -1;
    }
    size_t len = 0;
    char *raw = recv_all(fd, deadline, &len, err, err_len);
    close(fd);
    if (!raw)
        return -1;
    int status = 0;
    char *body = strstr(raw, "\r\n\r\n");
    if (sscanf(raw, "HTTP/%*d.%*d %3d", &status) != 1 || status < 100 || !body) {
        snprintf(err, err_len, "%s: malformed HTTP response", address);
        free(raw);
        return -1;
    }
    body += 4;
    resp->status = status;
    resp->body_len = len - (size_t)(body - raw);
    memmove(raw, body, resp->body_len + 1);
    resp->body = raw;
    return 0;
}

void cairn_http_response_free(cairn_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}
