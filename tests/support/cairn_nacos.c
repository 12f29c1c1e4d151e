/* Nacos API calls and JSON helpers for the integration tests (see cairn_nacos.h). */
#include "cairn_nacos.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

http_resp nacos_call_at(const char *hostport, const char *method, const char *path,
                        const char *const *query, const char *form, const char *const *headers)
{
    char base[96];
    snprintf(base, sizeof base, "http://%s", hostport);
    char *url = http_url(base, path, query);
    cr_assert(url != NULL, "could not build url");
    http_resp r = http_request(method, url, form, form ? strlen(form) : 0, NULL, headers,
                               IT_HTTP_TIMEOUT_MS);
    free(url);
    return r;
}

http_resp nacos_call(const it_node *n, const char *method, const char *path,
                     const char *const *query, const char *form, const char *const *headers)
{
    return nacos_call_at(n->gateway, method, path, query, form, headers);
}

void nacos_write_ok(const it_node *n, const char *method, const char *path,
                    const char *const *query)
{
    http_resp r = nacos_call(n, method, path, query, NULL, NULL);
    char *q = http_query(query);
    cr_assert(r.status == 200 && strcmp(r.body, "ok") == 0,
              "%s %s?%s: expected 200 \"ok\", got %ld \"%s\" %s", method, path, q, r.status,
              r.body, r.error);
    free(q);
    http_resp_free(&r);
}

void nacos_expect_error(const it_node *n, const char *method, const char *path,
                        const char *const *query, const char *const *headers, long status,
                        const char *body, bool prefix_only)
{
    http_resp r = nacos_call(n, method, path, query, NULL, headers);
    char *q = http_query(query);
    bool body_ok = prefix_only ? strncmp(r.body, body, strlen(body)) == 0
                               : strcmp(r.body, body) == 0;
    cr_expect(r.status == status && body_ok, "%s %s?%s: expected %ld \"%s%s\", got %ld \"%s\" %s",
              method, path, q, status, body, prefix_only ? "..." : "", r.status, r.body,
              r.error);
    /* §1.6: error bodies are plain text, never JSON. */
    cr_expect(r.status != status || (r.content_type && strncmp(r.content_type, "text/plain", 10) == 0),
              "%s %s?%s: error with content type \"%s\" (want text/plain)", method, path, q,
              r.content_type ? r.content_type : "");
    free(q);
    http_resp_free(&r);
}

static json_t *list_with(const it_node *n, const char *const *query, const char *const *headers)
{
    http_resp r = nacos_call(n, "GET", NS "/instance/list", query, NULL, headers);
    char *q = http_query(query);
    cr_assert(r.status == 200, "GET /instance/list?%s: expected 200, got %ld \"%s\" %s", q,
              r.status, r.body, r.error);
    json_error_t err;
    json_t *j = json_loads(r.body, 0, &err);
    cr_assert(j != NULL && json_is_object(j),
              "GET /instance/list?%s: body is not a JSON object (%s): \"%s\"", q, err.text,
              r.body);
    cr_expect(r.content_type && strncmp(r.content_type, "application/json", 16) == 0,
              "GET /instance/list?%s: content type \"%s\"", q,
              r.content_type ? r.content_type : "");
    free(q);
    http_resp_free(&r);
    return j;
}

json_t *nacos_get_json(const it_node *n, const char *path, const char *const *query)
{
    http_resp r = nacos_call(n, "GET", path, query, NULL, NULL);
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    http_resp_free(&r);
    return j;
}

json_t *nacos_list(const it_node *n, const char *const *query)
{
    return list_with(n, query, NULL);
}

json_t *nacos_list_java(const it_node *n, const char *const *query)
{
    return list_with(n, query, Q(JAVA_UA));
}

int list_host_count(const json_t *list)
{
    json_t *hosts = json_object_get(list, "hosts");
    return json_is_array(hosts) ? (int)json_array_size(hosts) : -1;
}

json_t *list_find_host(const json_t *list, const char *ip, int port)
{
    json_t *hosts = json_object_get(list, "hosts");
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        json_t *hip = json_object_get(h, "ip");
        json_t *hport = json_object_get(h, "port");
        if (json_is_string(hip) && strcmp(json_string_value(hip), ip) == 0 &&
            json_is_integer(hport) && json_integer_value(hport) == port)
            return h;
    }
    return NULL;
}

json_t *json_parse_or_fail(const char *body)
{
    json_error_t err;
    json_t *j = json_loads(body, 0, &err);
    cr_assert(j != NULL, "not JSON (%s): \"%s\"", err.text, body);
    return j;
}

json_t *jget(const json_t *root, const char *path)
{
    char part[256];
    const json_t *cur = root;
    const char *p = path;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof part)
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        p += n;
        if (*p == '.')
            p++;
        if (json_is_array(cur)) {
            char *end;
            long idx = strtol(part, &end, 10);
            if (*end || idx < 0)
                return NULL;
            cur = json_array_get(cur, (size_t)idx);
        } else {
            cur = json_object_get(cur, part);
        }
    }
    return (json_t *)cur;
}

static char *dump(const json_t *root)
{
    char *s = json_dumps(root, JSON_COMPACT);
    return s ? s : strdup("(unprintable)");
}

const char *jstr(const json_t *root, const char *path)
{
    json_t *v = jget(root, path);
    if (!json_is_string(v)) {
        char *s = dump(root);
        cr_assert_fail("\"%s\" is not a string in %s", path, s);
    }
    return json_string_value(v);
}

long long jint(const json_t *root, const char *path)
{
    json_t *v = jget(root, path);
    if (!json_is_integer(v)) {
        char *s = dump(root);
        cr_assert_fail("\"%s\" is not an integer in %s", path, s);
    }
    return json_integer_value(v);
}

double jnum(const json_t *root, const char *path)
{
    json_t *v = jget(root, path);
    if (!json_is_number(v)) {
        char *s = dump(root);
        cr_assert_fail("\"%s\" is not a number in %s", path, s);
    }
    return json_number_value(v);
}

bool jbool(const json_t *root, const char *path)
{
    json_t *v = jget(root, path);
    if (!json_is_boolean(v)) {
        char *s = dump(root);
        cr_assert_fail("\"%s\" is not a boolean in %s", path, s);
    }
    return json_is_true(v);
}
