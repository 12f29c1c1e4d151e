/* The HTTP ceiling of this machine for one response: a libmicrohttpd responder set up like the
 * gateway (internal epoll thread pool, same limits) that answers every request with the same
 * bytes, read once from a file. The benchmark fills that file with a response Cairn really sent,
 * so what is left between the two figures is Cairn's own work.
 *
 *   cairn-bench-http --body FILE [--listen 127.0.0.1:0] [--content-type TYPE] [--threads N]
 *                    [--address-file FILE]
 * Runs until SIGINT or SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct responder {
    char *body;
    size_t len;
    const char *content_type;
} responder;

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Like the gateway: a response object per request, headers added, queued once the upload (if
 * any) has been read; only the body is not computed. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    responder *r = cls;
    (void)url, (void)method, (void)version, (void)upload_data;
    if (!*con_cls) {
        *con_cls = r; /* any non-NULL marker: the headers are in */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* the body is read and dropped */
        return MHD_YES;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                 r->content_type);
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static int parse_listen(const char *text, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: cairn-bench-http --body FILE [--listen 127.0.0.1:0] "
                    "[--content-type TYPE] [--threads N] [--address-file FILE]\n");
}

int main(int argc, char **argv)
{
    const char *body_path = NULL, *listen = "127.0.0.1:0", *address_file = NULL;
    responder r = {.content_type = "application/json;charset=UTF-8"};
    long threads = 4;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            usage();
            return 2;
        }
        if (!strcmp(argv[i], "--body"))
            body_path = val;
        else if (!strcmp(argv[i], "--listen"))
            listen = val;
        else if (!strcmp(argv[i], "--content-type"))
            r.content_type = val;
        else if (!strcmp(argv[i], "--threads"))
            threads = strtol(val, NULL, 10);
        else if (!strcmp(argv[i], "--address-file"))
            address_file = val;
        else {
            usage();
            return 2;
        }
        i++;
    }
    struct sockaddr_in sa;
    if (!body_path || threads < 1 || threads > 256 || parse_listen(listen, &sa) != 0) {
        usage();
        return 2;
    }
    if (read_file(body_path, &r.body, &r.len) != 0) {
        fprintf(stderr, "cairn-bench-http: cannot read %s: %s\n", body_path, strerror(errno));
        return 1;
    }

    /* Block the stop signals before MHD starts its threads, so that only sigwait sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, &r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, 4096u,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cairn-bench-http: cannot listen on %s\n", listen);
        free(r.body);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    char address[INET_ADDRSTRLEN + 8];
    snprintf(address, sizeof address, "%s:%u", host,
             info ? info->port : (unsigned)ntohs(sa.sin_port));
    int rc = 0;
    if (address_file) {
        FILE *f = fopen(address_file, "w");
        int bad = !f || fprintf(f, "%s\n", address) < 0;
        if ((f && fclose(f) != 0) || bad) {
            fprintf(stderr, "cairn-bench-http: cannot write %s\n", address_file);
            rc = 1;
        }
    }
    if (rc == 0) {
        printf("cairn-bench-http: listening on %s, %zu bytes per response\n", address, r.len);
        fflush(stdout);
        int sig;
        sigwait(&stop, &sig);
    }
    MHD_stop_daemon(d);
    free(r.body);
    return rc;
}
