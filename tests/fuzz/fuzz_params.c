/* Request parameters (gateway_params.h): the input is a query string or form body as libmicrohttpd
 * hands it over, already split and URL-decoded: `key=value` pairs separated by '&', a pair without
 * '=' being a key with no value. The pairs go through gateway_params_add (value bytes may hold a
 * NUL), then every helper a handler calls: check, copy, the groupName@@ rewrite, required,
 * optional, cluster, namespace, service (with and without the format check) and int. The stored
 * set is compared with a plain model of the Servlet semantics (first stored value of a key wins,
 * values trimmed; values holding a NUL, too long or not UTF-8 are not stored, and one with a NUL
 * makes the check a 400 `Param '<key>' contains a NUL byte` unless an earlier finding comes
 * first).
 * Each input runs twice: without a cap on the number of adds, and with a cap (gateway.max_params)
 * taken from its first byte, between 1 and one past its number of pairs, so that both sides of
 * the cap are reached. With a cap the check answers 400 exactly when there are more pairs than
 * the cap, and only the pairs within it are stored (never more than the cap). */
#include <jansson.h>
#include <string.h>

#include "cairn_model.h"
#include "fuzz_util.h"
#include "gateway_params.h"

#define MAX_PARAM_BYTES 256 /* gateway.max_param_bytes' minimum: long values are reachable */

static void add_pairs(gateway_params *p, const uint8_t *data, size_t size)
{
    size_t i = 0;
    while (i <= size) {
        size_t end = i;
        while (end < size && data[end] != '&')
            end++;
        const uint8_t *eq = memchr(data + i, '=', end - i);
        size_t key_len = eq ? (size_t)(eq - (data + i)) : end - i;
        char *key = strndup((const char *)data + i, key_len);
        if (key) {
            if (eq)
                gateway_params_add(p, key, (const char *)eq + 1, (size_t)(data + end - eq - 1));
            else
                gateway_params_add(p, key, NULL, 0);
            free(key);
        }
        i = end + 1;
    }
}

/* The model: pairs in input order; for each key the first value that is stored. */
typedef struct model_pair {
    char *key;
    char *value; /* trimmed */
} model_pair;

static size_t model_add(model_pair *m, size_t n, const char *key, const char *value, size_t len)
{
    if (memchr(value, '\0', len))
        return n;
    json_t *utf8 = json_stringn(value, len);
    bool stored = len <= MAX_PARAM_BYTES && utf8 != NULL;
    json_decref(utf8);
    if (!stored)
        return n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].key, key) == 0)
            return n;
    while (len > 0 && (unsigned char)*value <= ' ')
        value++, len--;
    while (len > 0 && (unsigned char)value[len - 1] <= ' ')
        len--;
    m[n].key = strdup(key);
    m[n].value = strndup(value, len);
    FUZZ_CHECK(m[n].key && m[n].value);
    return n + 1;
}

/* The pairs of the input: one more than its '&'s. */
static size_t count_pairs(const uint8_t *data, size_t size)
{
    size_t pairs = 1;
    for (size_t i = 0; i < size; i++)
        pairs += data[i] == '&';
    return pairs;
}

/* The same split as add_pairs, into the model, of the first max_params pairs (0: all); returns
 * the number of keys stored. */
static size_t model_build(model_pair *m, const uint8_t *data, size_t size, size_t max_params)
{
    size_t n = 0, i = 0;
    for (size_t pairs = 0; i <= size && (max_params == 0 || pairs < max_params); pairs++) {
        size_t end = i;
        while (end < size && data[end] != '&')
            end++;
        const uint8_t *eq = memchr(data + i, '=', end - i);
        size_t key_len = eq ? (size_t)(eq - (data + i)) : end - i;
        char *key = strndup((const char *)data + i, key_len);
        FUZZ_CHECK(key);
        if (eq)
            n = model_add(m, n, key, (const char *)eq + 1, (size_t)(data + end - eq - 1));
        else
            n = model_add(m, n, key, "", 0);
        free(key);
        i = end + 1;
    }
    return n;
}

static void compare_with_model(const gateway_params *p, const uint8_t *data, size_t size)
{
    model_pair *m = calloc(size + 1, sizeof *m); /* at most one pair per byte, plus one */
    FUZZ_CHECK(m);
    size_t n = model_build(m, data, size, p->max_params);
    FUZZ_CHECK(p->len == n);
    for (size_t i = 0; i < n; i++) {
        const char *got = gateway_params_get(p, m[i].key);
        if (m[i].value[0] == '\0')
            FUZZ_CHECK(got == NULL);
        else
            FUZZ_CHECK(got && strcmp(got, m[i].value) == 0);
        free(m[i].key);
        free(m[i].value);
    }
    free(m);
}

/* A value handed out is trimmed and never blank. */
static void check_value(const char *v)
{
    if (!v)
        return;
    size_t n = strlen(v);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK((unsigned char)v[0] > ' ' && (unsigned char)v[n - 1] > ' ');
}

static void read_like_a_handler(const gateway_params *p)
{
    static const char *const keys[] = {"serviceName", "groupName", "ip", "port", "clusterName",
                                       "namespaceId", "weight", "metadata", "beat", "selector"};
    cairn_status st;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        check_value(gateway_params_get(p, keys[i]));
        check_value(gateway_param_required(p, keys[i], &st));
        FUZZ_CHECK(gateway_param_optional(p, keys[i], "d") != NULL);
        int32_t n;
        if (gateway_param_int(p, keys[i], false, 7, &n, &st) == CAIRN_OK &&
            !gateway_params_get(p, keys[i]))
            FUZZ_CHECK(n == 7);
    }
    FUZZ_CHECK(gateway_param_cluster(p) != NULL);
    const char *ns, *svc;
    if (gateway_param_namespace(p, &ns, &st) == CAIRN_OK)
        FUZZ_CHECK(strlen(ns) <= CAIRN_MAX_NAMESPACE_LEN);
    for (int format = 0; format < 2; format++)
        if (gateway_param_service(p, format, "missing", &svc, &st) == CAIRN_OK)
            FUZZ_CHECK(strlen(svc) <= CAIRN_MAX_SERVICE_LEN);
}

/* One run of the input through a set capped at max_params adds (0: no cap). */
static void run(const uint8_t *data, size_t size, size_t max_params)
{
    gateway_params p;
    gateway_params_init(&p, MAX_PARAM_BYTES, max_params);
    add_pairs(&p, data, size);
    cairn_status st;
    cairn_err checked = gateway_params_check(&p, &st);
    if (!p.nomem)
        compare_with_model(&p, data, size);
    if (p.nul_key) /* refused, whatever else the check found first */
        FUZZ_CHECK(checked == CAIRN_E_INVALID || checked == CAIRN_E_NOMEM);
    if (max_params > 0) {
        bool beyond = count_pairs(data, size) > max_params;
        FUZZ_CHECK(p.too_many == beyond);
        FUZZ_CHECK(p.len <= max_params);
        if (beyond && !p.nomem) {
            char want[64];
            snprintf(want, sizeof want, "Too many parameters (max %zu)", max_params);
            FUZZ_CHECK(checked == CAIRN_E_INVALID && strcmp(st.message, want) == 0);
        }
    } else {
        FUZZ_CHECK(!p.too_many);
    }

    gateway_params copy;
    if (gateway_params_copy(&copy, &p)) {
        FUZZ_CHECK(copy.len == p.len);
        FUZZ_CHECK(gateway_params_check(&copy, &st) == checked);
        for (size_t i = 0; i < p.len; i++) {
            FUZZ_CHECK(strcmp(copy.items[i].key, p.items[i].key) == 0);
            FUZZ_CHECK(strcmp(copy.items[i].value, p.items[i].value) == 0);
        }
        if (gateway_params_apply_grouping(&copy) == CAIRN_OK &&
            gateway_params_get(&copy, "serviceName"))
            FUZZ_CHECK(strstr(gateway_params_get(&copy, "serviceName"), "@@") != NULL);
        read_like_a_handler(&copy);
        gateway_params_free(&copy);
    }
    read_like_a_handler(&p);
    gateway_params_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 0);
    size_t pairs = count_pairs(data, size);
    run(data, size, 1 + (size > 0 ? data[0] : 0) % (pairs + 1));
    return 0;
}
