/* Raw nng access to a node's registry sockets (see cairn_ipc.h). */
#include "cairn_ipc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cairn_endpoints.h"

char *registry_raw_request(const it_node *n, const void *data, size_t len, size_t *reply_len,
                           int timeout_ms, char *err, size_t err_len)
{
    char url[PATH_MAX + 16];
    if (cairn_endpoint_url(n->run_dir, CAIRN_EP_REGISTRY_COMMANDS, url, sizeof url) != 0) {
        snprintf(err, err_len, "run dir too long for an ipc url");
        return NULL;
    }
    nng_socket s;
    int rv = nng_req0_open(&s);
    if (rv != 0) {
        snprintf(err, err_len, "nng_req0_open: %s", nng_strerror(rv));
        return NULL;
    }
    char *out = NULL;
    nng_msg *msg = NULL;
    /* No resend: a resend would hide whether the first request got an answer. */
    if ((rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms)) != 0 ||
        (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms)) != 0 ||
        (rv = nng_dial(s, url, NULL, 0)) != 0 || (rv = nng_msg_alloc(&msg, 0)) != 0 ||
        (len > 0 && (rv = nng_msg_append(msg, data, len)) != 0) ||
        (rv = nng_sendmsg(s, msg, 0)) != 0) {
        snprintf(err, err_len, "sending to %s: %s", url, nng_strerror(rv));
        if (msg)
            nng_msg_free(msg);
        nng_close(s);
        return NULL;
    }
    msg = NULL;
    if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
        snprintf(err, err_len, "no reply from %s: %s", url, nng_strerror(rv));
        nng_close(s);
        return NULL;
    }
    size_t n_len = nng_msg_len(msg);
    out = malloc(n_len + 1);
    if (out) {
        memcpy(out, nng_msg_body(msg), n_len);
        out[n_len] = '\0';
        *reply_len = n_len;
    } else {
        snprintf(err, err_len, "out of memory");
    }
    nng_msg_free(msg);
    nng_close(s);
    return out;
}

cairn_err registry_request(const it_node *n, const cairn_request *req, cairn_reply *rep,
                           int timeout_ms)
{
    char *buf = NULL;
    size_t len = 0;
    cairn_err e = cairn_request_encode(req, &buf, &len);
    if (e != CAIRN_OK)
        return e;
    char err[256];
    size_t rlen = 0;
    char *raw = registry_raw_request(n, buf, len, &rlen, timeout_ms, err, sizeof err);
    free(buf);
    if (!raw) {
        cr_log_error("registry_request: %s", err);
        return CAIRN_E_UNAVAILABLE;
    }
    cairn_status st;
    e = cairn_reply_decode(raw, rlen, rep, &st);
    if (e != CAIRN_OK)
        cr_log_error("registry_request: reply does not decode: %s", st.message);
    free(raw);
    return e;
}

bool it_sub_open(it_sub *s, const it_node *n, cairn_endpoint ep)
{
    char url[PATH_MAX + 16];
    memset(s, 0, sizeof *s);
    if (cairn_endpoint_url(n->run_dir, ep, url, sizeof url) != 0) {
        cr_log_error("it_sub_open: the endpoint url of %s does not fit", n->run_dir);
        return false;
    }
    int rv = nng_sub0_open(&s->sock);
    if (rv != 0) {
        cr_log_error("it_sub_open: nng_sub0_open: %s", nng_strerror(rv));
        return false;
    }
    s->open = true;
    if ((rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
        (rv = nng_dial(s->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        cr_log_error("it_sub_open %s: %s", url, nng_strerror(rv));
        events_close(s);
        return false;
    }
    return true;
}

nng_msg *it_sub_next(it_sub *s, int timeout_ms)
{
    nng_msg *msg = NULL;
    if (nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO, timeout_ms) != 0 ||
        nng_recvmsg(s->sock, &msg, 0) != 0)
        return NULL;
    return msg;
}

bool events_open(it_sub *s, const it_node *n)
{
    return it_sub_open(s, n, CAIRN_EP_REGISTRY_EVENTS);
}

bool events_next(it_sub *s, cairn_change_event *ev, int timeout_ms)
{
    if (s->held && s->held_off >= nng_msg_len(s->held)) {
        nng_msg_free(s->held);
        s->held = NULL;
    }
    if (!s->held) {
        if (!(s->held = it_sub_next(s, timeout_ms)))
            return false;
        s->held_off = 0;
    }
    const char *buf = (const char *)nng_msg_body(s->held) + s->held_off;
    size_t left = nng_msg_len(s->held) - s->held_off, n = 0;
    cairn_status st;
    memset(ev, 0, sizeof *ev);
    cairn_err e = cairn_event_next(buf, left, &n, &st);
    if (e == CAIRN_OK)
        e = cairn_event_decode(buf, n, ev, &st);
    cr_assert(e == CAIRN_OK, "a %zu-byte event on registry-events.sock does not decode: %s", left,
              st.message);
    s->held_off += n;
    return true;
}

static void *close_main(void *arg)
{
    nng_socket *sock = arg;
    nng_close(*sock);
    free(sock);
    return NULL;
}

/* nng_close of a SUB socket, waited for at most 5 s. nng 1.5.2's close can deadlock on rare
 * occasions (an endpoint close that waits for a pipe for ever: nanomsg/nng#1543, fixed after
 * 1.5.2); it once held a test until its timeout with every assertion already passed. The socket
 * is then left to the test process's exit, which nng does not hook. */
static void close_bounded(nng_socket sock)
{
    nng_socket *arg = malloc(sizeof *arg);
    pthread_t t;
    if (!arg || (*arg = sock, pthread_create(&t, NULL, close_main, arg)) != 0) {
        free(arg);
        nng_close(sock);
        return;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    if (pthread_timedjoin_np(t, NULL, &deadline) != 0) {
        cr_log_warn("nng_close of a SUB socket did not return within 5 s; left to the exit");
        pthread_detach(t);
    }
}

void events_close(it_sub *s)
{
    if (s->held)
        nng_msg_free(s->held);
    s->held = NULL;
    if (s->open) {
        close_bounded(s->sock);
        s->open = false;
    }
}

/* ---- SP over ipc without nng --------------------------------------------------------------- */

void it_socket_path(const it_node *n, cairn_endpoint ep, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", n->run_dir, cairn_endpoint_file(ep));
}

/* Waits until fd is ready for events, at most until the deadline; false on timeout. */
static bool sp_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc > 0)
            return true;
        if (rc < 0 && errno != EINTR)
            return false;
    }
}

static bool sp_write_all(int fd, const void *data, size_t len, int64_t deadline)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        } else if (!sp_wait(fd, POLLOUT, deadline)) {
            return false;
        }
    }
    return true;
}

int it_sp_connect(const char *path, uint16_t proto, int timeout_ms)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        cr_log_error("it_sp_connect: path too long: %s", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        cr_log_error("it_sp_connect %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int64_t deadline = it_now_ms() + timeout_ms;
    const unsigned char mine[8] = {0, 'S', 'P', 0, (unsigned char)(proto >> 8),
                                   (unsigned char)proto, 0, 0};
    unsigned char theirs[8];
    size_t got = 0;
    bool ok = sp_write_all(fd, mine, sizeof mine, deadline);
    while (ok && got < sizeof theirs) {
        ssize_t r = recv(fd, theirs + got, sizeof theirs - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR) || !sp_wait(fd, POLLIN, deadline))
            ok = false;
    }
    if (!ok || memcmp(theirs, "\0SP\0", 4) != 0) {
        cr_log_error("it_sp_connect %s: no SP handshake", path);
        close(fd);
        return -1;
    }
    return fd;
}

bool it_sp_send(int fd, uint64_t announced, const void *body, size_t body_len, int timeout_ms)
{
    unsigned char head[9] = {1};
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)(announced >> (56 - 8 * i));
    int64_t deadline = it_now_ms() + timeout_ms;
    return sp_write_all(fd, head, sizeof head, deadline) &&
           (body_len == 0 || sp_write_all(fd, body, body_len, deadline));
}

bool it_sp_send_request(int fd, uint32_t id, const cairn_request *req, int timeout_ms)
{
    char *enc = NULL;
    size_t len = 0;
    if (cairn_request_encode(req, &enc, &len) != CAIRN_OK)
        return false;
    char *body = malloc(len + 4);
    bool ok = body != NULL;
    if (ok) {
        id |= 0x80000000u;
        for (int i = 0; i < 4; i++)
            body[i] = (char)(id >> (24 - 8 * i));
        memcpy(body + 4, enc, len);
        ok = it_sp_send(fd, len + 4, body, len + 4, timeout_ms);
    }
    free(body);
    free(enc);
    return ok;
}

bool it_sp_closed_within(int fd, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    char buf[4096];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return true; /* EOF, or a reset */
        if (r < 0 && !sp_wait(fd, POLLIN, deadline))
            return false;
    }
}
