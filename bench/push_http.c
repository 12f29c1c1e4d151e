/* libcurl calls of the push benchmark: one easy handle, so one keep-alive connection. */
#include "push_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (1024 * 1024)

struct push_http {
    CURL *curl;
    char base[300];
    char *body;
    size_t len;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
    push_http *h = arg;
    size_t n = size * nmemb;
    if (h->len + n > BODY_MAX)
        return 0; /* makes curl fail the transfer: no reply of ours is that large */
    char *grown = realloc(h->body, h->len + n + 1);
    if (!grown)
        return 0;
    h->body = grown;
    memcpy(h->body + h->len, data, n);
    h->len += n;
    h->body[h->len] = '\0';
    return n;
}

push_http *push_http_open(const char *gateway)
{
    push_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->curl = curl_easy_init();
    int n = snprintf(h->base, sizeof h->base, "http://%s/nacos/v1/ns/instance", gateway);
    if (!h->curl || n < 0 || (size_t)n >= sizeof h->base) {
        push_http_close(h);
        return NULL;
    }
    /* A push-capable agent (§12.1); the Java 1.x client's user agent. */
    if (curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "Nacos-Java-Client:v1.0.0") != CURLE_OK ||
        curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, collect) != CURLE_OK ||
        curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h) != CURLE_OK ||
        curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, 10000L) != CURLE_OK ||
        curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK) {
        push_http_close(h);
        return NULL;
    }
    return h;
}

void push_http_close(push_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->body);
    free(h);
}

/* One request; returns the HTTP status, or -1 with a message when the transfer failed. */
static long perform(push_http *h, const char *url, int post, char *err, size_t err_len)
{
    h->len = 0;
    if (h->body)
        h->body[0] = '\0';
    CURLcode rc = curl_easy_setopt(h->curl, CURLOPT_URL, url);
    if (rc == CURLE_OK && post)
        rc = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, "");
    if (rc == CURLE_OK && !post)
        rc = curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h->curl);
    long status = 0;
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s: %s", url, curl_easy_strerror(rc));
        return -1;
    }
    return status;
}

int push_http_subscribe(push_http *h, const char *service, uint16_t udp_port, char *err,
                        size_t err_len)
{
    char *svc = curl_easy_escape(h->curl, service, 0);
    if (!svc) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    char url[1024];
    snprintf(url, sizeof url, "%s/list?serviceName=%s&udpPort=%u&clientIP=127.0.0.1", h->base,
             svc, udp_port);
    curl_free(svc);
    long status = perform(h, url, 0, err, err_len);
    if (status == 200)
        return 0;
    if (status > 0)
        snprintf(err, err_len, "subscribe: HTTP %ld %.200s", status, h->body ? h->body : "");
    return -1;
}

int push_http_register(push_http *h, const char *service, const char *ip, int port, char *err,
                       size_t err_len)
{
    char *svc = curl_easy_escape(h->curl, service, 0);
    char *addr = curl_easy_escape(h->curl, ip, 0);
    if (!svc || !addr) {
        curl_free(svc);
        curl_free(addr);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    char url[1024];
    snprintf(url, sizeof url, "%s?serviceName=%s&ip=%s&port=%d&ephemeral=true", h->base, svc,
             addr, port);
    curl_free(svc);
    curl_free(addr);
    long status = perform(h, url, 1, err, err_len);
    if (status == 200 && h->body && !strcmp(h->body, "ok"))
        return 0;
    if (status > 0)
        snprintf(err, err_len, "register: HTTP %ld %.200s", status, h->body ? h->body : "");
    return -1;
}
