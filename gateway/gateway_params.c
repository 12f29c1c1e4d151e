/* Merged request parameters (§1.2) and the serviceName rewrite (§1.3). */
#include "gateway_params.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_hashmap.h"
#include "cairn_model.h"

/* Up to this many parameters a lookup scans them (no allocation for the usual request of a
 * dozen); past it they are indexed by key. */
#define SCAN_MAX 16

void gateway_params_init(gateway_params *p, size_t max_value_bytes, size_t max_params)
{
    memset(p, 0, sizeof *p);
    p->max_value_bytes = max_value_bytes;
    p->max_params = max_params;
}

void gateway_params_free(gateway_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->len; i++) {
        free(p->items[i].key);
        free(p->items[i].value);
    }
    free(p->items);
    cairn_hashmap_free(p->index);
    free(p->too_long_key);
    free(p->bad_utf8_key);
    free(p->nul_key);
    memset(p, 0, sizeof *p);
}

static gateway_param *find(const gateway_params *p, const char *key)
{
    if (p->index) {
        uintptr_t pos = (uintptr_t)cairn_hashmap_get(p->index, key, strlen(key));
        return pos ? &p->items[pos - 1] : NULL;
    }
    for (size_t i = 0; i < p->len; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return &p->items[i];
    return NULL;
}

static bool put_index(gateway_params *p, size_t i)
{
    const char *key = p->items[i].key;
    return cairn_hashmap_put(p->index, key, strlen(key), (void *)(uintptr_t)(i + 1), NULL) == 0;
}

/* Indexes items[i], the newest item (keys are unique in items), building the index once the scan
 * would get long. False when out of memory: the index then still matches items[0 .. i-1]. */
static bool index_item(gateway_params *p, size_t i)
{
    if (!p->index) {
        if (p->len <= SCAN_MAX)
            return true;
        if (!(p->index = cairn_hashmap_new(p->len * 2)))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (!put_index(p, j)) {
                cairn_hashmap_free(p->index);
                p->index = NULL;
                return false;
            }
        }
    }
    return put_index(p, i);
}

/* Java's String.trim: every char <= ' ' at both ends. */
static void trim_range(const char **s, size_t *len)
{
    const char *b = *s;
    size_t n = *len;
    while (n > 0 && (unsigned char)*b <= ' ')
        b++, n--;
    while (n > 0 && (unsigned char)b[n - 1] <= ' ')
        n--;
    *s = b;
    *len = n;
}

/* Values end up in JSON replies, which must be UTF-8; jansson's check is the one used. */
static bool is_utf8(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    json_decref(j);
    return j != NULL;
}

static bool append(gateway_params *p, const char *key, const char *value, size_t len)
{
    if (p->len == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        gateway_param *items = realloc(p->items, cap * sizeof *items);
        if (!items)
            return false;
        p->items = items;
        p->cap = cap;
    }
    char *k = strdup(key);
    char *v = strndup(value, len);
    if (!k || !v) {
        free(k);
        free(v);
        return false;
    }
    p->items[p->len].key = k;
    p->items[p->len].value = v;
    p->len++;
    if (index_item(p, p->len - 1))
        return true;
    /* Not indexed: taken back, so that the items and the index agree. */
    p->len--;
    free(k);
    free(v);
    return false;
}

bool gateway_params_copy(gateway_params *dst, const gateway_params *src)
{
    gateway_params_init(dst, src->max_value_bytes, src->max_params);
    dst->added = src->added;
    dst->too_many = src->too_many;
    dst->nomem = src->nomem;
    for (size_t i = 0; i < src->len; i++)
        if (!append(dst, src->items[i].key, src->items[i].value, strlen(src->items[i].value)))
            goto fail;
    if ((src->too_long_key && !(dst->too_long_key = strdup(src->too_long_key))) ||
        (src->bad_utf8_key && !(dst->bad_utf8_key = strdup(src->bad_utf8_key))) ||
        (src->nul_key && !(dst->nul_key = strdup(src->nul_key))))
        goto fail;
    return true;
fail:
    gateway_params_free(dst);
    return false;
}

void gateway_params_add(gateway_params *p, const char *key, const char *value, size_t value_len)
{
    if (!key)
        return;
    if (p->max_params > 0 && ++p->added > p->max_params) {
        p->too_many = true;
        return;
    }
    if (!value) {
        value = "";
        value_len = 0;
    }
    if (memchr(value, '\0', value_len)) {
        if (!p->nul_key && !(p->nul_key = strdup(key)))
            p->nomem = true;
        return;
    }
    if (p->max_value_bytes > 0 && value_len > p->max_value_bytes) {
        if (!p->too_long_key && !(p->too_long_key = strdup(key)))
            p->nomem = true;
        return;
    }
    if (!is_utf8(value, value_len)) {
        if (!p->bad_utf8_key && !(p->bad_utf8_key = strdup(key)))
            p->nomem = true;
        return;
    }
    if (find(p, key))
        return; /* the first value wins, even a blank one (it then reads as absent) */
    trim_range(&value, &value_len);
    if (!append(p, key, value, value_len))
        p->nomem = true;
}

void gateway_params_refuse_nul_key(gateway_params *p, const char *key)
{
    if (!p->nul_key && !(p->nul_key = strdup(key ? key : "")))
        p->nomem = true;
}

cairn_err gateway_params_set(gateway_params *p, const char *key, const char *value)
{
    gateway_param *it = find(p, key);
    if (!it)
        return append(p, key, value, strlen(value)) ? CAIRN_OK : CAIRN_E_NOMEM;
    char *v = strdup(value);
    if (!v)
        return CAIRN_E_NOMEM;
    free(it->value);
    it->value = v;
    return CAIRN_OK;
}

cairn_err gateway_params_check(const gateway_params *p, cairn_status *st)
{
    if (p->nomem)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory reading the request parameters");
    if (p->too_many)
        return cairn_fail(st, CAIRN_E_INVALID, "Too many parameters (max %zu)", p->max_params);
    if (p->too_long_key)
        return cairn_fail(st, CAIRN_E_INVALID, "Param '%s' is too long (max %zu bytes)",
                          p->too_long_key, p->max_value_bytes);
    if (p->bad_utf8_key)
        return cairn_fail(st, CAIRN_E_INVALID, "Param '%s' is not valid UTF-8", p->bad_utf8_key);
    if (p->nul_key)
        return cairn_fail(st, CAIRN_E_INVALID, "Param '%s' contains a NUL byte", p->nul_key);
    return CAIRN_OK;
}

const char *gateway_params_get(const gateway_params *p, const char *key)
{
    const gateway_param *it = find(p, key);
    return (it && it->value[0]) ? it->value : NULL; /* values are trimmed: empty == blank */
}

cairn_err gateway_params_apply_grouping(gateway_params *p)
{
    const char *name = gateway_params_get(p, "serviceName");
    if (!name)
        name = gateway_params_get(p, "dom");
    if (!name)
        return CAIRN_OK;
    char *grouped = cairn_grouped_name(name, gateway_params_get(p, "groupName"));
    if (!grouped)
        return CAIRN_E_NOMEM;
    cairn_err err = gateway_params_set(p, "serviceName", grouped);
    free(grouped);
    return err;
}

const char *gateway_param_required(const gateway_params *p, const char *key, cairn_status *st)
{
    const char *v = gateway_params_get(p, key);
    if (!v)
        cairn_fail(st, CAIRN_E_INVALID, "Param '%s' is required.", key);
    return v;
}

const char *gateway_param_optional(const gateway_params *p, const char *key, const char *dflt)
{
    const char *v = gateway_params_get(p, key);
    return v ? v : dflt;
}

const char *gateway_param_cluster(const gateway_params *p)
{
    const char *c = gateway_params_get(p, "clusterName");
    if (!c)
        c = gateway_params_get(p, "cluster");
    return c ? c : CAIRN_DEFAULT_CLUSTER;
}

cairn_err gateway_param_namespace(const gateway_params *p, const char **out, cairn_status *st)
{
    *out = gateway_param_optional(p, "namespaceId", CAIRN_DEFAULT_NAMESPACE);
    return cairn_check_length("namespaceId", *out, CAIRN_MAX_NAMESPACE_LEN, st);
}

cairn_err gateway_param_service(const gateway_params *p, bool check_format, const char *missing_msg,
                                const char **out, cairn_status *st)
{
    *out = gateway_params_get(p, "serviceName");
    if (!*out)
        return cairn_fail(st, CAIRN_E_INVALID, "%s", missing_msg);
    cairn_err err = cairn_check_length("serviceName", *out, CAIRN_MAX_SERVICE_LEN, st);
    if (err == CAIRN_OK && check_format)
        err = cairn_check_grouped_format(*out, st);
    return err;
}

cairn_err gateway_param_int(const gateway_params *p, const char *key, bool required, int32_t dflt,
                            int32_t *out, cairn_status *st)
{
    const char *v = gateway_params_get(p, key);
    if (!v) {
        if (required)
            return cairn_fail(st, CAIRN_E_INVALID, "Param '%s' is required.", key);
        *out = dflt;
        return CAIRN_OK;
    }
    return cairn_parse_java_int(v, out, st);
}
