/* libcurl wrapper and raw TCP helper for the integration tests (see cairn_http.h). */
#include "cairn_http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_cleanup_at_exit(void)
{
    curl_global_cleanup();
}

static void curl_init_once(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
        atexit(curl_cleanup_at_exit);
}

size_t http_body_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    http_body *b = arg;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            return 0;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

void http_easy_setup(void *easy, const char *url, int timeout_ms, http_body *resp, void *priv)
{
    CURL *e = easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* loopback only: ignore proxy variables */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(e, CURLOPT_PRIVATE, priv);
    resp->len = 0;
    if (resp->data)
        resp->data[0] = '\0';
}

static long elapsed_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

http_resp http_request(const char *method, const char *url, const char *body, size_t body_len,
                       const char *content_type, const char *const *headers, int timeout_ms)
{
    pthread_once(&g_curl_once, curl_init_once);
    http_resp r = {0};
    http_body b = {calloc(1, 1), 0, 1};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    if (!c || !b.data) {
        snprintf(r.error, sizeof r.error, "curl_easy_init failed");
        curl_easy_cleanup(c);
        r.body = b.data ? b.data : strdup("");
        return r;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_PROXY, "");   /* loopback only: ignore proxy variables */
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    bool has_body = body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (has_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        char ct[256];
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 content_type ? content_type : "application/x-www-form-urlencoded");
        hl = curl_slist_append(hl, ct);
    }
    for (const char *const *h = headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CURLcode rc = curl_easy_perform(c);
    r.elapsed_ms = elapsed_since(&t0);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        char *ctype = NULL;
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
            r.content_type = strdup(ctype);
    } else {
        snprintf(r.error, sizeof r.error, "%s", curl_easy_strerror(rc));
    }
    r.body = b.data;
    r.body_len = b.len;
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r;
}

void http_resp_free(http_resp *r)
{
    free(r->body);
    free(r->content_type);
    r->body = NULL;
    r->content_type = NULL;
}

char *http_query(const char *const *kv)
{
    pthread_once(&g_curl_once, curl_init_once);
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
        char *k = curl_easy_escape(NULL, kv[i], 0);
        char *v = curl_easy_escape(NULL, kv[i + 1], 0);
        if (!k || !v) {
            curl_free(k);
            curl_free(v);
            free(out);
            return NULL;
        }
        size_t need = len + strlen(k) + strlen(v) + 3;
        if (need > cap) {
            cap = need * 2;
            char *no = realloc(out, cap);
            if (!no) {
                curl_free(k);
                curl_free(v);
                free(out);
                return NULL;
            }
            out = no;
        }
        len += (size_t)sprintf(out + len, "%s%s=%s", len ? "&" : "", k, v);
        curl_free(k);
        curl_free(v);
    }
    return out;
}

char *http_url(const char *base, const char *path, const char *const *kv)
{
    char *q = http_query(kv);
    if (!q)
        return NULL;
    size_t n = strlen(base) + strlen(path) + strlen(q) + 2;
    char *url = malloc(n);
    if (url)
        snprintf(url, n, "%s%s%s%s", base, path, *q ? "?" : "", q);
    free(q);
    return url;
}

http_resp http_get_addr(const char *hostport, const char *path, int timeout_ms)
{
    char url[512];
    snprintf(url, sizeof url, "http://%s%s", hostport, path);
    return http_request("GET", url, NULL, 0, NULL, NULL, timeout_ms);
}

int tcp_open(const char *hostport)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool tcp_can_connect(const char *hostport)
{
    int fd = tcp_open(hostport);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

char *tcp_exchange(const char *hostport, const void *data, size_t len, int timeout_ms,
                   size_t *out_len)
{
    int fd = tcp_open(hostport);
    if (fd < 0)
        return NULL;
    tcp_send_all(fd, data, len, timeout_ms); /* the server may close early on garbage */
    shutdown(fd, SHUT_WR);
    char *reply = tcp_read_all(fd, timeout_ms, out_len, NULL);
    close(fd);
    return reply;
}

size_t tcp_send_all(int fd, const void *data, size_t len, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, (const char *)data + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    return sent;
}

char *tcp_read_all(int fd, int timeout_ms, size_t *out_len, bool *closed)
{
    http_body b = {calloc(1, 1), 0, 1};
    bool eof = false;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (b.data) {
        long left = timeout_ms - elapsed_since(&t0);
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            break;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            eof = true; /* closed, or reset */
            break;
        }
        if (http_body_write(chunk, 1, (size_t)n, &b) != (size_t)n)
            break;
    }
    if (out_len)
        *out_len = b.len;
    if (closed)
        *closed = eof;
    return b.data;
}
