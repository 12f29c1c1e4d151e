/* Nacos v1 naming API calls against a test node, and jansson helpers to read the answers.
 * Parameters are given as NULL-terminated key/value lists: Q("serviceName", "svc", "ip", "1.2.3.4").
 * The ..._ok helpers assert (with the body in the message) and so keep the tests short. */
#ifndef CAIRN_NACOS_H
#define CAIRN_NACOS_H

#include <jansson.h>
#include <stdbool.h>

#include "cairn_harness.h"
#include "cairn_http.h"

#define Q(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NS "/nacos/v1/ns"
#define JAVA_UA "User-Agent: Nacos-Java-Client:v1.0.0"
#define IT_HTTP_TIMEOUT_MS 10000

/* A call with the parameters in the query string (as the Node client does), an optional form
 * body (as the Java client does for some), and optional extra headers. */
http_resp nacos_call(const it_node *n, const char *method, const char *path,
                     const char *const *query, const char *form, const char *const *headers);
/* nacos_call against an explicit host:port (a gateway started alone). */
http_resp nacos_call_at(const char *hostport, const char *method, const char *path,
                        const char *const *query, const char *form, const char *const *headers);

/* Asserts status 200 and body "ok". */
void nacos_write_ok(const it_node *n, const char *method, const char *path,
                    const char *const *query);
/* Asserts HTTP status `status` and the exact body `body` (prefix when prefix_only). */
void nacos_expect_error(const it_node *n, const char *method, const char *path,
                        const char *const *query, const char *const *headers, long status,
                        const char *body, bool prefix_only);

/* GET path?query: the JSON body of a 200, else NULL; never asserts (for polling). The caller
 * json_decrefs it. */
json_t *nacos_get_json(const it_node *n, const char *path, const char *const *query);
/* GET /instance/list with query; asserts 200 and a JSON object; returns it (json_decref). */
json_t *nacos_list(const it_node *n, const char *const *query);
/* As nacos_list with the Java user agent. */
json_t *nacos_list_java(const it_node *n, const char *const *query);
/* Number of hosts in a list answer (-1 when hosts is not an array). */
int list_host_count(const json_t *list);
/* The host with ip:port in a list answer, or NULL. */
json_t *list_find_host(const json_t *list, const char *ip, int port);

/* Parses body as JSON; asserts it is valid (message shows the body). */
json_t *json_parse_or_fail(const char *body);
/* Object member lookup along a dotted path ("a.b.0.c"; numbers index arrays); NULL if absent. */
json_t *jget(const json_t *root, const char *path);
/* Typed getters that assert the member exists with that type. */
const char *jstr(const json_t *root, const char *path);
long long jint(const json_t *root, const char *path);
double jnum(const json_t *root, const char *path); /* integer or real */
bool jbool(const json_t *root, const char *path);

#endif
