/* Cairn's data model: lifetimes of the model structs, name rules (§1.3), Java-compatible
 * parameter parsing (§1.2, §2.1) and instance rules. Messages are kept word for word as Nacos
 * writes them, because clients and operators match on them. */
#include "cairn_model.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- metadata map -------------------------------------------------------------------------- */

void cairn_metadata_free(cairn_metadata *md)
{
    if (!md)
        return;
    for (uint32_t i = 0; i < md->len; i++) {
        free(md->items[i].key);
        free(md->items[i].value);
    }
    free(md->items);
    md->items = NULL;
    md->len = 0;
}

/* dst is treated as uninitialised; on failure it is left empty. */
cairn_err cairn_metadata_copy(cairn_metadata *dst, const cairn_metadata *src)
{
    dst->items = NULL;
    dst->len = 0;
    if (!src || src->len == 0)
        return CAIRN_OK;
    dst->items = calloc(src->len, sizeof *dst->items);
    if (!dst->items)
        return CAIRN_E_NOMEM;
    for (uint32_t i = 0; i < src->len; i++) {
        dst->items[i].key = strdup(src->items[i].key);
        dst->items[i].value = strdup(src->items[i].value);
        dst->len = i + 1; /* so that a failure below frees this pair too */
        if (!dst->items[i].key || !dst->items[i].value) {
            cairn_metadata_free(dst);
            return CAIRN_E_NOMEM;
        }
    }
    return CAIRN_OK;
}

/* Index of key, or of the place it would be inserted (*found tells which). */
static uint32_t metadata_search(const cairn_metadata *md, const char *key, bool *found)
{
    uint32_t lo = 0, hi = md->len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(md->items[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

cairn_err cairn_metadata_set(cairn_metadata *md, const char *key, const char *value)
{
    if (!md || !key || !value)
        return CAIRN_E_INVALID;
    bool found;
    uint32_t at = metadata_search(md, key, &found);
    char *v = strdup(value);
    if (!v)
        return CAIRN_E_NOMEM;
    if (found) {
        free(md->items[at].value);
        md->items[at].value = v;
        return CAIRN_OK;
    }
    if (md->len == UINT32_MAX) {
        free(v);
        return CAIRN_E_LIMIT;
    }
    char *k = strdup(key);
    cairn_kv *items = k ? realloc(md->items, ((size_t)md->len + 1) * sizeof *items) : NULL;
    if (!items) {
        free(k);
        free(v);
        return CAIRN_E_NOMEM;
    }
    memmove(&items[at + 1], &items[at], (md->len - at) * sizeof *items);
    items[at].key = k;
    items[at].value = v;
    md->items = items;
    md->len++;
    return CAIRN_OK;
}

bool cairn_metadata_remove(cairn_metadata *md, const char *key)
{
    if (!md || !key)
        return false;
    bool found;
    uint32_t at = metadata_search(md, key, &found);
    if (!found)
        return false;
    free(md->items[at].key);
    free(md->items[at].value);
    memmove(&md->items[at], &md->items[at + 1], (md->len - at - 1) * sizeof *md->items);
    md->len--;
    if (md->len == 0) {
        free(md->items);
        md->items = NULL;
    }
    return true;
}

const char *cairn_metadata_get(const cairn_metadata *md, const char *key)
{
    if (!md || !key)
        return NULL;
    bool found;
    uint32_t at = metadata_search(md, key, &found);
    return found ? md->items[at].value : NULL;
}

/* Nacos uses the value only when NumberUtils.isDigits holds (non-empty, ASCII digits only); a
 * value too large for a long would make Long.parseLong throw, so that falls back too. */
int64_t cairn_metadata_millis(const cairn_metadata *md, const char *key, int64_t dflt)
{
    const char *v = cairn_metadata_get(md, key);
    if (!v || !*v)
        return dflt;
    int64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return dflt;
        int d = *p - '0';
        if (n > (INT64_MAX - d) / 10)
            return dflt;
        n = n * 10 + d;
    }
    return n;
}

/* ---- clusters, instances, services ---------------------------------------------------------- */

/* strdup that keeps NULL as NULL; *ok turns false when a copy fails. */
static char *dup_opt(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

void cairn_cluster_free(cairn_cluster *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->check_path);
    cairn_metadata_free(&c->metadata);
    memset(c, 0, sizeof *c);
}

/* Nacos' cluster defaults: TCP checker, check port 80, but probe the instance's own port. */
void cairn_cluster_init_default(cairn_cluster *c)
{
    memset(c, 0, sizeof *c);
    c->check_type = CAIRN_CHECK_TCP;
    c->check_expected_status = 200;
    c->check_port = 80;
    c->use_instance_port = true;
}

/* Whether a cluster holds only what a registration gives one (cairn_cluster_init_default). */
static bool cluster_is_plain(const cairn_cluster *cl)
{
    return cl->check_type == CAIRN_CHECK_TCP && (!cl->check_path || !*cl->check_path) &&
           cl->check_expected_status == 200 && cl->check_port == 80 && cl->use_instance_port &&
           cl->metadata.len == 0;
}

bool cairn_service_is_implicit(const cairn_service *svc)
{
    if (svc->defined)
        return false;
    for (uint32_t i = 0; i < svc->cluster_count; i++)
        if (!cluster_is_plain(&svc->clusters[i]))
            return false;
    return true;
}

cairn_err cairn_cluster_copy(cairn_cluster *dst, const cairn_cluster *src)
{
    bool ok = true;
    *dst = *src;
    dst->name = dup_opt(src->name, &ok);
    dst->check_path = dup_opt(src->check_path, &ok);
    if (cairn_metadata_copy(&dst->metadata, &src->metadata) != CAIRN_OK)
        ok = false;
    if (!ok) {
        cairn_cluster_free(dst);
        return CAIRN_E_NOMEM;
    }
    return CAIRN_OK;
}

void cairn_instance_init(cairn_instance *in)
{
    memset(in, 0, sizeof *in);
    in->weight = 1.0;
    in->healthy = true;
    in->enabled = true;
    in->ephemeral = true;
}

void cairn_instance_free(cairn_instance *in)
{
    if (!in)
        return;
    free(in->ip);
    free(in->cluster);
    free(in->instance_id);
    free(in->app);
    free(in->owner);
    cairn_metadata_free(&in->metadata);
    memset(in, 0, sizeof *in);
}

cairn_err cairn_instance_copy(cairn_instance *dst, const cairn_instance *src)
{
    bool ok = true;
    *dst = *src;
    dst->ip = dup_opt(src->ip, &ok);
    dst->cluster = dup_opt(src->cluster, &ok);
    dst->instance_id = dup_opt(src->instance_id, &ok);
    dst->app = dup_opt(src->app, &ok);
    dst->owner = dup_opt(src->owner, &ok);
    if (cairn_metadata_copy(&dst->metadata, &src->metadata) != CAIRN_OK)
        ok = false;
    if (!ok) {
        cairn_instance_free(dst);
        return CAIRN_E_NOMEM;
    }
    return CAIRN_OK;
}

/* The selector is stored as its JSON text; NULL (only if this strdup failed) also means none. */
void cairn_service_init(cairn_service *svc)
{
    memset(svc, 0, sizeof *svc);
    svc->selector_json = strdup("{\"type\":\"none\"}");
}

void cairn_service_free(cairn_service *svc)
{
    if (!svc)
        return;
    free(svc->namespace_id);
    free(svc->name);
    free(svc->selector_json);
    cairn_metadata_free(&svc->metadata);
    for (uint32_t i = 0; i < svc->cluster_count; i++)
        cairn_cluster_free(&svc->clusters[i]);
    free(svc->clusters);
    cairn_distro_version_free(&svc->distro);
    memset(svc, 0, sizeof *svc);
}

cairn_err cairn_service_copy(cairn_service *dst, const cairn_service *src)
{
    bool ok = true;
    *dst = *src;
    dst->namespace_id = dup_opt(src->namespace_id, &ok);
    dst->name = dup_opt(src->name, &ok);
    dst->selector_json = dup_opt(src->selector_json, &ok);
    dst->distro.origin = dup_opt(src->distro.origin, &ok);
    dst->clusters = NULL;
    dst->cluster_count = 0;
    if (cairn_metadata_copy(&dst->metadata, &src->metadata) != CAIRN_OK)
        ok = false;
    if (ok && src->cluster_count > 0) {
        dst->clusters = calloc(src->cluster_count, sizeof *dst->clusters);
        if (!dst->clusters)
            ok = false;
        for (uint32_t i = 0; ok && i < src->cluster_count; i++) {
            if (cairn_cluster_copy(&dst->clusters[i], &src->clusters[i]) != CAIRN_OK)
                ok = false;
            else
                dst->cluster_count = i + 1;
        }
    }
    if (!ok) {
        cairn_service_free(dst);
        return CAIRN_E_NOMEM;
    }
    return CAIRN_OK;
}

const cairn_cluster *cairn_service_find_cluster(const cairn_service *svc, const char *name)
{
    if (!svc || !name)
        return NULL;
    for (uint32_t i = 0; i < svc->cluster_count; i++)
        if (svc->clusters[i].name && strcmp(svc->clusters[i].name, name) == 0)
            return &svc->clusters[i];
    return NULL;
}

void cairn_distro_version_free(cairn_distro_version *v)
{
    if (!v)
        return;
    free(v->origin);
    memset(v, 0, sizeof *v);
}

cairn_err cairn_distro_version_copy(cairn_distro_version *dst, const cairn_distro_version *src)
{
    bool ok = true;
    *dst = *src;
    dst->origin = dup_opt(src->origin, &ok);
    return ok ? CAIRN_OK : CAIRN_E_NOMEM;
}

void cairn_service_snapshot_free(cairn_service_snapshot *snap)
{
    if (!snap)
        return;
    cairn_service_free(&snap->service);
    for (uint32_t i = 0; i < snap->instance_count; i++)
        cairn_instance_free(&snap->instances[i]);
    free(snap->instances);
    memset(snap, 0, sizeof *snap);
}

/* ---- names (§1.3) ---------------------------------------------------------------------------- */

/* Java's String.trim removes every char <= ' ' at both ends; isBlank means nothing else remains. */
static bool is_java_space(char c)
{
    return (unsigned char)c <= ' ';
}

static bool is_blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

char *cairn_grouped_name(const char *service_name, const char *group_name)
{
    if (is_blank(service_name))
        return NULL;
    /* DistroFilter trims serviceName (not groupName) before the rewrite. */
    const char *start = service_name;
    while (*start && is_java_space(*start))
        start++;
    size_t len = strlen(start);
    while (len > 0 && is_java_space(start[len - 1]))
        len--;
    if (len == 0)
        return NULL;

    char *out;
    if (memmem(start, len, CAIRN_GROUP_SEPARATOR, 2)) {
        out = strndup(start, len);
    } else {
        const char *group = is_blank(group_name) ? CAIRN_DEFAULT_GROUP : group_name;
        if (asprintf(&out, "%s" CAIRN_GROUP_SEPARATOR "%.*s", group, (int)len, start) < 0)
            out = NULL;
    }
    return out;
}

cairn_err cairn_check_length(const char *param, const char *value, size_t max, cairn_status *st)
{
    if (value && strlen(value) > max)
        return cairn_fail(st, CAIRN_E_INVALID, "Param '%s' is too long (max %zu bytes)", param, max);
    return CAIRN_OK;
}

/* Java's s.split("@@"): the parts between non-overlapping separators, trailing empty parts
 * dropped. Returns the number of parts and the length of the first one. */
static size_t java_split_grouped(const char *s, size_t *first_len)
{
    size_t parts = 0, nonempty_end = 0; /* parts up to the last non-empty one */
    const char *p = s;
    *first_len = 0;
    for (;;) {
        const char *sep = strstr(p, CAIRN_GROUP_SEPARATOR);
        size_t plen = sep ? (size_t)(sep - p) : strlen(p);
        if (parts == 0)
            *first_len = plen;
        parts++;
        if (plen > 0)
            nonempty_end = parts;
        if (!sep)
            break;
        p = sep + 2;
    }
    return nonempty_end;
}

cairn_err cairn_check_grouped_format(const char *grouped, cairn_status *st)
{
    size_t first_len;
    size_t parts = java_split_grouped(grouped ? grouped : "", &first_len);
    if (parts <= 1)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "Param 'serviceName' is illegal, it should be format as "
                          "'groupName@@serviceName'");
    if (first_len == 0)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "Param 'serviceName' is illegal, groupName can't be empty");
    return CAIRN_OK;
}

/* Non-empty and every byte in the allowed set: the regex `[set]+` matched against the whole. */
static bool only_chars(const char *s, const char *extra)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(c < 0x80 && isalnum(c)) && !strchr(extra, c))
            return false;
    }
    return true;
}

cairn_err cairn_check_service_chars(const char *grouped, cairn_status *st)
{
    if (!only_chars(grouped, "@.:_-"))
        return cairn_fail(st, CAIRN_E_INVALID,
                          "dom name can only have these characters: 0-9a-zA-Z-._:, current: %s",
                          grouped ? grouped : "");
    return CAIRN_OK;
}

cairn_err cairn_check_cluster_chars(const char *cluster, cairn_status *st)
{
    if (!only_chars(cluster, "-"))
        return cairn_fail(st, CAIRN_E_INVALID,
                          "cluster name can only have these characters: 0-9a-zA-Z-, current: %s",
                          cluster ? cluster : "");
    return CAIRN_OK;
}

static void copy_part(char *dst, size_t dst_len, const char *src, size_t src_len)
{
    if (!dst || dst_len == 0)
        return;
    if (src_len >= dst_len)
        src_len = dst_len - 1;
    memcpy(dst, src, src_len);
    dst[src_len] = '\0';
}

/* NamingUtils.getGroupName / getServiceName: split("@@")[0] and [1]; blank input gives "" for
 * both, no separator gives DEFAULT_GROUP and the whole name. A missing second part is "". */
void cairn_split_grouped(const char *grouped, char *group, size_t group_len, char *name,
                         size_t name_len)
{
    if (is_blank(grouped)) {
        copy_part(group, group_len, "", 0);
        copy_part(name, name_len, "", 0);
        return;
    }
    const char *sep = strstr(grouped, CAIRN_GROUP_SEPARATOR);
    if (!sep) {
        copy_part(group, group_len, CAIRN_DEFAULT_GROUP, strlen(CAIRN_DEFAULT_GROUP));
        copy_part(name, name_len, grouped, strlen(grouped));
        return;
    }
    copy_part(group, group_len, grouped, (size_t)(sep - grouped));
    const char *rest = sep + 2;
    const char *next = strstr(rest, CAIRN_GROUP_SEPARATOR);
    copy_part(name, name_len, rest, next ? (size_t)(next - rest) : strlen(rest));
}

/* ---- parsing with Java semantics ------------------------------------------------------------ */

static cairn_err number_format(cairn_status *st, const char *s)
{
    return cairn_fail(st, CAIRN_E_INVALID, "For input string: \"%s\"", s ? s : "null");
}

/* Integer.parseInt(s, 10) on ASCII digits: no whitespace, a lone sign is an error. */
cairn_err cairn_parse_java_int(const char *s, int32_t *out, cairn_status *st)
{
    if (!s || !*s)
        return number_format(st, s);
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (!*p)
        return number_format(st, s);
    int64_t limit = neg ? -(int64_t)INT32_MIN : INT32_MAX;
    int64_t n = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return number_format(st, s);
        n = n * 10 + (*p - '0');
        if (n > limit)
            return number_format(st, s);
    }
    *out = (int32_t)(neg ? -n : n);
    return CAIRN_OK;
}

/* Double.parseDouble for finite values: Java trims chars <= ' ', then accepts
 * [+-] (digits [. digits?] | . digits) [(e|E) [+-] digits] [fFdD]. NaN, Infinity, hex floats
 * and values that overflow to infinity are rejected: no weight or threshold can use them. */
cairn_err cairn_parse_java_double(const char *s, double *out, cairn_status *st)
{
    if (!s)
        return number_format(st, s);
    const char *b = s, *e = s + strlen(s);
    while (b < e && is_java_space(*b))
        b++;
    while (e > b && is_java_space(e[-1]))
        e--;
    const char *p = b;
    if (p < e && (*p == '+' || *p == '-'))
        p++;
    size_t digits = 0;
    while (p < e && *p >= '0' && *p <= '9')
        p++, digits++;
    if (p < e && *p == '.') {
        p++;
        while (p < e && *p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (digits == 0)
        return number_format(st, s);
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        size_t exp_digits = 0;
        while (p < e && *p >= '0' && *p <= '9')
            p++, exp_digits++;
        if (exp_digits == 0)
            return number_format(st, s);
    }
    const char *num_end = p;
    if (p < e && strchr("fFdD", *p))
        p++;
    if (p != e)
        return number_format(st, s);

    /* strtod needs a NUL-terminated copy without Java's type suffix. */
    char stackbuf[128];
    size_t n = (size_t)(num_end - b);
    char *copy = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!copy)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    memcpy(copy, b, n);
    copy[n] = '\0';
    double v = strtod(copy, NULL); /* underflow gives 0 or a subnormal, as in Java */
    if (copy != stackbuf)
        free(copy);
    if (!isfinite(v))
        return number_format(st, s);
    *out = v;
    return CAIRN_OK;
}

bool cairn_parse_bool_lenient(const char *s)
{
    static const char *const yes[] = {"true", "on", "yes", "y", "t"};
    if (!s)
        return false;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(s, yes[i]) == 0)
            return true;
    return false;
}

bool cairn_parse_bool_strict(const char *s)
{
    return s && strcasecmp(s, "true") == 0;
}

/* ---- metadata parsing (§2.1) ---------------------------------------------------------------- */

/* The shortest text that reads back as the same double (Jackson prints the JSON text itself;
 * jansson keeps only the value, so "1.50" becomes "1.5"). */
static void format_real(double v, char *buf, size_t len)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A JSON object of scalars into md. Returns false when a value is an object or array, which
 * Jackson cannot read as a String either. null values are skipped (a Cairn map holds strings). */
static cairn_err metadata_from_json(json_t *obj, cairn_metadata *md, bool *shape_ok)
{
    const char *key;
    json_t *val;
    *shape_ok = true;
    json_object_foreach(obj, key, val) {
        char buf[64];
        const char *text;
        switch (json_typeof(val)) {
        case JSON_STRING:
            text = json_string_value(val);
            break;
        case JSON_INTEGER:
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
            text = buf;
            break;
        case JSON_REAL:
            format_real(json_real_value(val), buf, sizeof buf);
            text = buf;
            break;
        case JSON_TRUE:
            text = "true";
            break;
        case JSON_FALSE:
            text = "false";
            break;
        case JSON_NULL:
            continue;
        default:
            *shape_ok = false;
            return CAIRN_OK;
        }
        cairn_err err = cairn_metadata_set(md, key, text);
        if (err != CAIRN_OK)
            return err;
    }
    return CAIRN_OK;
}

/* Java's s.split(sep) for a one-char separator: [start, end) ranges with trailing empties
 * removed. Calls fn for each; returns the number of parts visited (stops when fn fails). */
typedef cairn_err (*split_fn)(const char *part, size_t len, void *ctx);

static cairn_err java_split_each(const char *s, size_t len, char sep, split_fn fn, void *ctx)
{
    /* Trailing empty parts are dropped: cut the string after its last non-separator byte. */
    size_t end = len;
    while (end > 0 && s[end - 1] == sep)
        end--;
    if (end == 0 && len > 0)
        return CAIRN_OK; /* only separators: Java gives no parts at all */
    size_t start = 0;
    for (size_t i = 0; i <= end; i++) {
        if (i == end || s[i] == sep) {
            cairn_err err = fn(s + start, i - start, ctx);
            if (err != CAIRN_OK)
                return err;
            start = i + 1;
        }
    }
    return CAIRN_OK;
}

struct kv_ctx {
    cairn_metadata *md;
    const char *key; /* first part of the current item */
    size_t key_len;
    int parts;
};

static cairn_err kv_part(const char *part, size_t len, void *vctx)
{
    struct kv_ctx *c = vctx;
    if (++c->parts == 1) {
        c->key = part;
        c->key_len = len;
    }
    return CAIRN_OK;
}

static cairn_err kv_item(const char *item, size_t len, void *vctx)
{
    struct kv_ctx *c = vctx;
    c->parts = 0;
    /* item.split("=") must give exactly [key, value]. */
    java_split_each(item, len, '=', kv_part, c);
    if (c->parts != 2)
        return CAIRN_E_INVALID;
    const char *value = c->key + c->key_len + 1;
    size_t vlen = len - c->key_len - 1;
    /* With exactly two parts, a trailing "=" may follow the value ("a=b=" is [a, b]). */
    while (vlen > 0 && value[vlen - 1] == '=')
        vlen--;
    char *k = strndup(c->key, c->key_len);
    char *v = strndup(value, vlen);
    cairn_err err = (k && v) ? cairn_metadata_set(c->md, k, v) : CAIRN_E_NOMEM;
    free(k);
    free(v);
    return err;
}

/* out must be a valid (possibly empty) map; it is replaced only on success. */
cairn_err cairn_parse_metadata(const char *raw, size_t max_bytes, cairn_metadata *out,
                               cairn_status *st)
{
    if (raw && max_bytes > 0 && strlen(raw) > max_bytes)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'metadata' is too long (max %zu bytes)",
                          max_bytes);
    cairn_metadata md = {0};
    if (is_blank(raw)) {
        cairn_metadata_free(out);
        *out = md;
        return CAIRN_OK;
    }

    cairn_err err = CAIRN_OK;
    bool done = false;
    json_t *json = json_loads(raw, 0, NULL);
    if (json && json_is_object(json)) {
        bool shape_ok;
        err = metadata_from_json(json, &md, &shape_ok);
        done = err != CAIRN_OK || shape_ok;
        if (!shape_ok)
            cairn_metadata_free(&md); /* fall back to k=v, which then fails like in Nacos */
    }
    json_decref(json);

    if (!done) {
        struct kv_ctx ctx = {.md = &md};
        err = java_split_each(raw, strlen(raw), ',', kv_item, &ctx);
    }
    if (err != CAIRN_OK) {
        cairn_metadata_free(&md);
        if (err == CAIRN_E_NOMEM)
            return cairn_fail(st, err, "out of memory");
        return cairn_fail(st, CAIRN_E_INVALID, "metadata format incorrect:%s", raw);
    }
    cairn_metadata_free(out);
    *out = md;
    return CAIRN_OK;
}

/* ---- limits --------------------------------------------------------------------------------- */

size_t cairn_metadata_bytes(const cairn_metadata *md)
{
    size_t n = 0;
    for (uint32_t i = 0; i < md->len; i++)
        n += strlen(md->items[i].key) + strlen(md->items[i].value);
    return n;
}

static cairn_err check_metadata(const cairn_metadata *md, size_t max, cairn_status *st)
{
    if (max > 0 && cairn_metadata_bytes(md) > max)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'metadata' is too long (max %zu bytes)",
                          max);
    return CAIRN_OK;
}

static cairn_err check_text(const char *param, const char *value, size_t max, cairn_status *st)
{
    return max > 0 && value ? cairn_check_length(param, value, max, st) : CAIRN_OK;
}

cairn_err cairn_instance_check_limits(const cairn_instance *in, const cairn_limits *l,
                                      cairn_status *st)
{
    size_t max = l->max_metadata_bytes;
    if (check_metadata(&in->metadata, max, st) || check_text("app", in->app, max, st))
        return st->code;
    return CAIRN_OK;
}

cairn_err cairn_service_check_limits(const cairn_service *svc, const cairn_limits *l,
                                     cairn_status *st)
{
    size_t max = l->max_metadata_bytes;
    if (check_metadata(&svc->metadata, max, st) ||
        check_text("selector", svc->selector_json, max, st))
        return st->code;
    for (uint32_t i = 0; i < svc->cluster_count; i++) {
        const cairn_cluster *c = &svc->clusters[i];
        if (!c->name || !*c->name)
            return cairn_fail(st, CAIRN_E_INVALID, "Param 'clusterName' is required.");
        if (cairn_check_length("clusterName", c->name, CAIRN_MAX_CLUSTER_LEN, st) ||
            cairn_check_cluster_chars(c->name, st) || check_metadata(&c->metadata, max, st) ||
            check_text("healthChecker", c->check_path, max, st))
            return st->code;
    }
    return CAIRN_OK;
}

/* ---- instance rules ------------------------------------------------------------------------- */

cairn_err cairn_instance_validate(const cairn_instance *in, cairn_status *st)
{
    if (!in->ip || !*in->ip)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'ip' is required.");
    cairn_err err = cairn_check_length("ip", in->ip, CAIRN_MAX_IP_LEN, st);
    if (err != CAIRN_OK)
        return err;
    if (!in->cluster || !*in->cluster)
        return cairn_fail(st, CAIRN_E_INVALID, "Param 'clusterName' is required.");
    err = cairn_check_length("clusterName", in->cluster, CAIRN_MAX_CLUSTER_LEN, st);
    if (err != CAIRN_OK)
        return err;
    err = cairn_check_cluster_chars(in->cluster, st);
    if (err != CAIRN_OK)
        return err;
    /* Written so that NaN fails too. */
    if (!(in->weight >= CAIRN_WEIGHT_MIN && in->weight <= CAIRN_WEIGHT_MAX))
        return cairn_fail(st, CAIRN_E_INVALID,
                          "instance format invalid: The weights range from 0.0 to 10000.0");
    return CAIRN_OK;
}

void cairn_instance_normalize_weight(cairn_instance *in)
{
    if (in->weight > CAIRN_WEIGHT_MAX)
        in->weight = CAIRN_WEIGHT_MAX;
    else if (in->weight > 0.0 && in->weight < CAIRN_WEIGHT_FLOOR)
        in->weight = CAIRN_WEIGHT_FLOOR;
}

char *cairn_instance_default_id(const char *ip, int32_t port, const char *cluster,
                                const char *grouped)
{
    char *out;
    if (asprintf(&out, "%s#%" PRId32 "#%s#%s", ip ? ip : "", port, cluster ? cluster : "",
                 grouped ? grouped : "") < 0)
        return NULL;
    return out;
}
