/* GET /nacos/prometheus[/namespaceId/{ns}[/service/{service}]]: Prometheus HTTP service
 * discovery (gateway_prometheus.h). */
#include "gateway_prometheus.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_requests.h"
#include "cairn_snapshot_pages.h"
#include "gateway_handlers.h"
#include "gateway_reply.h"

#define SD_PAGE_SERVICES 256 /* services per SNAPSHOT_PAGE (the registry also caps instances) */
#define SD_PAGE_NAMES 1000   /* names per SERVICE_LIST page */

/* ---- labels and target groups ------------------------------------------------------------- */

static bool label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

char *gateway_prometheus_label_name(const char *key, bool *sanitized)
{
    *sanitized = false;
    if (!key || !*key)
        return NULL;
    size_t prefix = strlen(GATEWAY_PROMETHEUS_METADATA_PREFIX);
    char *name = malloc(prefix + strlen(key) + 1);
    if (!name)
        return NULL;
    memcpy(name, GATEWAY_PROMETHEUS_METADATA_PREFIX, prefix);
    char *out = name + prefix;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (label_char(*p)) {
            *out++ = (char)*p;
            continue;
        }
        *sanitized = true;
        if ((*p & 0xC0) != 0x80) /* a UTF-8 continuation byte belongs to the '_' before it */
            *out++ = '_';
    }
    *out = '\0';
    return name;
}

/* Adds the metadata labels whose keys needed no replacement (sanitized false) or those that
 * did (true), never replacing a label already set. */
static int add_metadata(json_t *labels, const cairn_metadata *md, bool sanitized)
{
    for (uint32_t i = 0; i < md->len; i++) {
        bool replaced;
        char *name = gateway_prometheus_label_name(md->items[i].key, &replaced);
        if (!name) {
            if (md->items[i].key && *md->items[i].key)
                return -1; /* out of memory */
            continue;      /* an empty key names no label */
        }
        int rc = 0;
        if (replaced == sanitized && !json_object_get(labels, name))
            rc = json_object_set_new(labels, name, json_string(md->items[i].value));
        free(name);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* "ip:port", an IPv6 address in brackets. */
static json_t *target_address(const cairn_instance *in)
{
    bool v6 = strchr(in->ip, ':') != NULL;
    json_t *t = NULL;
    char *text;
    if (asprintf(&text, v6 ? "[%s]:%d" : "%s:%d", in->ip, (int)in->port) >= 0) {
        t = json_string(text);
        free(text);
    }
    return t;
}

json_t *gateway_prometheus_target(const char *ns, const char *grouped, const cairn_instance *in)
{
    char group[CAIRN_MAX_SERVICE_LEN + 1], name[CAIRN_MAX_SERVICE_LEN + 1];
    cairn_split_grouped(grouped, group, sizeof group, name, sizeof name);
    json_t *labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "__meta_clusterName", in->cluster,
                               "namespace", ns, "group", group, "service", name, "cluster",
                               in->cluster);
    if (!labels || add_metadata(labels, &in->metadata, false) != 0 ||
        add_metadata(labels, &in->metadata, true) != 0) {
        json_decref(labels);
        return NULL;
    }
    return json_pack("{s:[o], s:o}", "targets", target_address(in), "labels", labels);
}

/* ---- the body, bounded ---------------------------------------------------------------------- */

typedef struct sd_body {
    char *buf; /* "[" group, group, ... (the "]" is added at the end) */
    size_t len, cap;
    size_t max; /* gateway.prometheus_max_bytes, the closing bracket included */
} sd_body;

/* Appends n bytes, keeping room for the closing "]" within max and for it and a NUL in buf. */
static cairn_err body_append(sd_body *b, const char *text, size_t n, cairn_status *st)
{
    if (b->len + n + 1 > b->max)
        return cairn_fail(st, CAIRN_E_LIMIT,
                          "the target list is larger than gateway.prometheus_max_bytes (%zu "
                          "bytes): ask for one namespace or service, or raise the limit",
                          b->max);
    if (b->len + n + 2 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 2)
            cap *= 2;
        char *grown = realloc(b->buf, cap);
        if (!grown)
            return cairn_fail(st, CAIRN_E_NOMEM, "caused: out of memory;");
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, text, n);
    b->len += n;
    return CAIRN_OK;
}

/* One target group per instance of the snapshot of service grouped in namespace ns. */
static cairn_err body_add_service(sd_body *b, const char *ns, const char *grouped,
                                  const cairn_service_snapshot *snap, cairn_status *st)
{
    cairn_err err = CAIRN_OK;
    for (uint32_t i = 0; err == CAIRN_OK && i < snap->instance_count; i++) {
        json_t *group = gateway_prometheus_target(ns, grouped, &snap->instances[i]);
        char *text = group ? json_dumps(group, GATEWAY_JSON_FLAGS) : NULL;
        json_decref(group);
        if (!text)
            return cairn_fail(st, CAIRN_E_NOMEM, "caused: out of memory;");
        if (b->len > 1)
            err = body_append(b, ",", 1, st);
        if (err == CAIRN_OK)
            err = body_append(b, text, strlen(text), st);
        free(text);
    }
    return err;
}

/* ---- reading the registry ------------------------------------------------------------------- */

typedef struct page_walk {
    sd_body *body;
    const char *only_ns; /* NULL: every namespace */
} page_walk;

static cairn_err call_registry(void *arg, const cairn_request *req, cairn_reply *rep,
                               cairn_status *st)
{
    return gateway_call_registry(arg, req, rep, st);
}

static cairn_err visit_snapshot(void *arg, const cairn_service_snapshot *snap, bool *stop,
                                cairn_status *st)
{
    page_walk *w = arg;
    const char *ns = snap->service.namespace_id;
    if (w->only_ns && strcmp(ns, w->only_ns) != 0) {
        *stop = true; /* past the namespace */
        return CAIRN_OK;
    }
    return body_add_service(w->body, ns, snap->service.name, snap, st);
}

/* Every service of namespace only_ns (NULL: of every namespace), a SNAPSHOT_PAGE at a time. */
static cairn_err add_pages(gateway *gw, const char *only_ns, sd_body *b, cairn_status *st)
{
    page_walk w = {.body = b, .only_ns = only_ns};
    return cairn_snapshot_pages(only_ns, SD_PAGE_SERVICES, call_registry, gw, visit_snapshot, &w,
                                st);
}

/* One service; a missing one adds nothing. */
static cairn_err add_service(gateway *gw, const char *ns, const char *grouped, sd_body *b,
                             cairn_status *st)
{
    cairn_request rq;
    cairn_reply rep;
    cairn_reply_init(&rep);
    cairn_err err = cairn_request_service_get(&rq, ns, grouped, st);
    if (err == CAIRN_OK)
        err = gateway_call_registry(gw, &rq, &rep, st);
    cairn_request_free(&rq);
    if (err == CAIRN_E_NOT_FOUND)
        err = CAIRN_OK;
    else if (err == CAIRN_OK && rep.has_snapshot && rep.snapshot.found)
        err = body_add_service(b, ns, grouped, &rep.snapshot, st);
    cairn_reply_free(&rep);
    return err;
}

/* The services named name (without a group) in every group of the namespace: the grouped names
 * a SERVICE_LIST page at a time, then each match. */
static cairn_err add_every_group(gateway *gw, const char *ns, const char *name, sd_body *b,
                                 cairn_status *st)
{
    cairn_err err = CAIRN_OK;
    for (uint32_t page = 1, seen = 0, total = 1; err == CAIRN_OK && seen < total; page++) {
        cairn_request rq;
        cairn_reply rep;
        cairn_reply_init(&rep);
        err = cairn_request_service_list(&rq, ns, "*", page, SD_PAGE_NAMES, st);
        if (err == CAIRN_OK)
            err = gateway_call_registry(gw, &rq, &rep, st);
        cairn_request_free(&rq);
        total = rep.total;
        seen = rep.name_count > 0 ? seen + rep.name_count : total; /* an empty page ends it */
        for (uint32_t i = 0; err == CAIRN_OK && i < rep.name_count; i++) {
            char group[CAIRN_MAX_SERVICE_LEN + 1], bare[CAIRN_MAX_SERVICE_LEN + 1];
            cairn_split_grouped(rep.names[i], group, sizeof group, bare, sizeof bare);
            if (strcmp(bare, name) == 0)
                err = add_service(gw, ns, rep.names[i], b, st);
        }
        cairn_reply_free(&rep);
    }
    return err;
}

/* ---- the request ------------------------------------------------------------------------------ */

typedef struct sd_scope {
    const char *pattern;   /* the route, as the metrics label */
    const char *namespace; /* NULL: every namespace */
    const char *service;   /* NULL: every service */
} sd_scope;

/* Splits rest, the path below GATEWAY_PROMETHEUS_ROOT (modified: the scope points into it), into
 * one of the three shapes; false for any other. */
static bool parse_scope(char *rest, sd_scope *sc)
{
    size_t n = strlen(rest);
    if (n > 0 && rest[n - 1] == '/')
        rest[--n] = '\0'; /* one trailing slash, which Spring matches too */
    char *seg[4];
    size_t count = 0;
    for (char *p = rest; *p; p += strcspn(p, "/")) {
        if (*p != '/' || count == 4)
            return false;
        *p++ = '\0'; /* ends the segment before */
        if (*p == '\0' || *p == '/')
            return false; /* an empty segment */
        seg[count++] = p;
    }
    *sc = (sd_scope){.pattern = GATEWAY_PROMETHEUS_ROOT};
    if (count == 0)
        return true;
    if (strcmp(seg[0], "namespaceId") != 0)
        return false;
    if (count == 2) {
        sc->pattern = GATEWAY_PROMETHEUS_ROOT "/namespaceId/{namespaceId}";
        sc->namespace = seg[1];
        return true;
    }
    if (count != 4 || strcmp(seg[2], "service") != 0)
        return false;
    sc->pattern = GATEWAY_PROMETHEUS_ROOT "/namespaceId/{namespaceId}/service/{service}";
    sc->namespace = seg[1];
    sc->service = seg[3];
    return true;
}

static cairn_err check_scope(const sd_scope *sc, cairn_status *st)
{
    cairn_err err = cairn_check_length("namespaceId", sc->namespace, CAIRN_MAX_NAMESPACE_LEN, st);
    if (err == CAIRN_OK)
        err = cairn_check_length("serviceName", sc->service, CAIRN_MAX_SERVICE_LEN, st);
    if (err == CAIRN_OK && sc->service && strstr(sc->service, CAIRN_GROUP_SEPARATOR))
        err = cairn_check_grouped_format(sc->service, st);
    return err;
}

static cairn_err add_scope(gateway *gw, const sd_scope *sc, sd_body *b, cairn_status *st)
{
    if (!sc->service)
        return add_pages(gw, sc->namespace, b, st);
    if (strstr(sc->service, CAIRN_GROUP_SEPARATOR))
        return add_service(gw, sc->namespace, sc->service, b, st);
    return add_every_group(gw, sc->namespace, sc->service, b, st);
}

/* The document for a parsed scope, or the error. */
static void answer(gateway *gw, const sd_scope *sc, gateway_response *resp)
{
    cairn_status st;
    cairn_status_clear(&st);
    sd_body b = {.max = gw->prometheus_max_bytes};
    cairn_err err = check_scope(sc, &st);
    if (err == CAIRN_OK)
        err = body_append(&b, "[", 1, &st);
    if (err == CAIRN_OK)
        err = add_scope(gw, sc, &b, &st);
    if (err != CAIRN_OK) {
        free(b.buf);
        gateway_reply_error(resp, &st);
        return;
    }
    b.buf[b.len++] = ']'; /* room kept by body_append */
    b.buf[b.len] = '\0';
    gateway_reply_json_text(resp, b.buf, b.len);
}

void gateway_prometheus_sd(gateway *gw, gateway_request *req, gateway_response *resp)
{
    char *rest = strdup(req->path + strlen(GATEWAY_PROMETHEUS_ROOT));
    sd_scope sc;
    if (!rest) {
        gateway_reply_text(resp, 500, "caused: out of memory;");
    } else if (!parse_scope(rest, &sc)) {
        resp->endpoint = NULL; /* no route, as for any unknown path */
        gateway_reply_text(resp, 404, "no such path: %s", req->path);
    } else {
        resp->endpoint = sc.pattern;
        answer(gw, &sc, resp);
    }
    free(rest);
}
