/* Config loading: defaults from the reference table, then the file, then --set overrides.
 * Every value is parsed and range-checked when it is set, so a loaded cairn_config holds only
 * valid values and the getters cannot fail. */
#include "cairn_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn_endpoints.h"
#include "cairn_files.h"
#include "cairn_log.h"

#define HOST_MAX 256

typedef struct cfg_value {
    char *text; /* the value as given (quotes removed) */
    int64_t i;
    bool b;
    double d;
    char host[HOST_MAX];
    uint16_t port;
} cfg_value;

struct cairn_config {
    size_t count;
    cfg_value *values; /* parallel to cairn_config_reference */
};

/* ---- lookup ---------------------------------------------------------------------------- */

static long key_index(const char *key)
{
    for (long i = 0; cairn_config_reference[i].key; i++)
        if (strcmp(cairn_config_reference[i].key, key) == 0)
            return i;
    return -1;
}

/* Getter misuse is a programming error: fail loudly at the first test run. */
static const cfg_value *typed_value(const cairn_config *cfg, const char *key,
                                    cairn_config_type type)
{
    long i = key_index(key);
    if (i < 0 || cairn_config_reference[i].type != type) {
        fprintf(stderr, "cairn_config: %s \"%s\" requested with type %d\n",
                i < 0 ? "unknown key" : "wrong type for key", key, (int)type);
        abort();
    }
    return &cfg->values[i];
}

/* ---- value parsing --------------------------------------------------------------------- */

static bool parse_int(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* host:port or [ipv6]:port; the host is a name or address (resolved by whoever binds it). */
static bool parse_address(const char *s, char *host, size_t host_len, uint16_t *port,
                          bool *port_range)
{
    *port_range = false;
    const char *h = s, *h_end, *colon;
    if (*s == '[') {
        h = s + 1;
        h_end = strchr(h, ']');
        if (!h_end || h_end[1] != ':')
            return false;
        colon = h_end + 1;
        for (const char *p = h; p < h_end; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.' && *p != '%')
                return false;
    } else {
        colon = strchr(s, ':');
        if (!colon || strchr(colon + 1, ':'))
            return false;
        h_end = colon;
        for (const char *p = h; p < h_end; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
                return false;
    }
    size_t n = (size_t)(h_end - h);
    if (n == 0 || n >= host_len)
        return false;
    const char *ps = colon + 1;
    size_t digits = strspn(ps, "0123456789");
    if (digits == 0 || ps[digits] != '\0')
        return false;
    if (digits > 5 || atol(ps) > 65535) {
        *port_range = true;
        return false;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (uint16_t)atol(ps);
    return true;
}

bool cairn_config_parse_address(const char *s, char *host, size_t host_len, uint16_t *port)
{
    bool port_range;
    return parse_address(s, host, host_len, port, &port_range);
}

/* Parses text for key k into out. where prefixes messages ("config: f:3: " or "--set "). */
static cairn_err parse_value(const cairn_config_key *k, const char *text, cfg_value *out,
                             const char *where, cairn_status *st)
{
    bool limited = k->min != 0 || k->max != 0;
    switch (k->type) {
    case CAIRN_CFG_STRING:
        break;
    case CAIRN_CFG_INT:
        if (!parse_int(text, &out->i))
            return cairn_fail(st, CAIRN_E_INVALID, "%s%s: \"%.100s\" is not an integer", where,
                              k->key, text);
        if (limited && out->i < k->min)
            return cairn_fail(st, CAIRN_E_INVALID, "%s%s: %" PRId64 " is below the minimum %" PRId64,
                              where, k->key, out->i, k->min);
        if (limited && out->i > k->max)
            return cairn_fail(st, CAIRN_E_INVALID, "%s%s: %" PRId64 " is above the maximum %" PRId64,
                              where, k->key, out->i, k->max);
        break;
    case CAIRN_CFG_DOUBLE:
        if (!parse_double(text, &out->d))
            return cairn_fail(st, CAIRN_E_INVALID, "%s%s: \"%.100s\" is not a number", where,
                              k->key, text);
        if (limited && out->d < (double)k->min)
            return cairn_fail(st, CAIRN_E_INVALID, "%s%s: %g is below the minimum %" PRId64, where,
                              k->key, out->d, k->min);
        if (limited && out->d > (double)k->max)
            return cairn_fail(st, CAIRN_E_INVALID, "%s%s: %g is above the maximum %" PRId64, where,
                              k->key, out->d, k->max);
        break;
    case CAIRN_CFG_BOOL:
        if (!parse_bool(text, &out->b))
            return cairn_fail(st, CAIRN_E_INVALID,
                              "%s%s: \"%.100s\" is not a boolean (true/false, yes/no, on/off, 1/0)",
                              where, k->key, text);
        break;
    case CAIRN_CFG_ADDRESS: {
        bool port_range;
        if (!parse_address(text, out->host, sizeof out->host, &out->port, &port_range))
            return cairn_fail(st, CAIRN_E_INVALID, "%s%s: \"%.100s\" is not host:port%s", where,
                              k->key, text, port_range ? " (port must be 0..65535)" : "");
        break;
    }
    case CAIRN_CFG_LOG_LEVEL: {
        cairn_log_level lvl;
        if (cairn_log_level_parse(text, &lvl) != 0)
            return cairn_fail(st, CAIRN_E_INVALID,
                              "%s%s: \"%.100s\" is not a log level (debug, info, warn, error)",
                              where, k->key, text);
        out->i = lvl;
        break;
    }
    }
    return CAIRN_OK;
}

/* Sets key to text after validating it; the previous value (default or earlier line) is
 * replaced, so the last occurrence wins. */
static cairn_err set_value(cairn_config *cfg, const char *key, const char *text, const char *where,
                           cairn_status *st)
{
    long i = key_index(key);
    if (i < 0)
        return cairn_fail(st, CAIRN_E_INVALID, "%sunknown key \"%.100s\"", where, key);
    cfg_value v = {0};
    cairn_err err = parse_value(&cairn_config_reference[i], text, &v, where, st);
    if (err != CAIRN_OK)
        return err;
    v.text = strdup(text);
    if (!v.text)
        return cairn_fail(st, CAIRN_E_NOMEM, "%sout of memory", where);
    free(cfg->values[i].text);
    cfg->values[i] = v;
    return CAIRN_OK;
}

/* ---- file syntax ----------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static bool valid_section(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

/* Removes surrounding quotes in place ("..." with \" and \\ escapes); after the closing quote
 * only whitespace or a # comment may follow. Returns NULL with *why set on a syntax error. */
static char *unquote(char *v, const char **why)
{
    if (*v != '"')
        return v;
    char *out = v, *p = v + 1;
    for (;; p++) {
        if (*p == '\0') {
            *why = "unterminated quoted value";
            return NULL;
        }
        if (*p == '"')
            break;
        if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
            p++;
        *out++ = *p;
    }
    char *rest = p + 1;
    *out = '\0';
    rest += strspn(rest, " \t");
    if (*rest != '\0' && *rest != '#') {
        *why = "unexpected text after the closing quote";
        return NULL;
    }
    return v;
}

static cairn_err load_file(cairn_config *cfg, const char *file, cairn_status *st)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return cairn_fail(st, CAIRN_E_INVALID, "config: cannot read \"%s\": %s", file,
                          strerror(errno));
    char section[128] = "";
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    cairn_err err = CAIRN_OK;
    char where[PATH_MAX + 64];
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        snprintf(where, sizeof where, "config: %s:%u: ", file, lineno);
        if ((size_t)n != strlen(line)) {
            err = cairn_fail(st, CAIRN_E_INVALID, "%scontains a NUL byte", where);
            break;
        }
        char *s = line;
        if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte order mark */
            s += 3;
        s = trim(s);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            size_t len = strlen(s);
            if (s[len - 1] != ']') {
                err = cairn_fail(st, CAIRN_E_INVALID, "%smalformed section header \"%.100s\"",
                                 where, s);
                break;
            }
            s[len - 1] = '\0';
            char *name = trim(s + 1);
            if (!valid_section(name) || strlen(name) >= sizeof section) {
                err = cairn_fail(st, CAIRN_E_INVALID, "%sinvalid section name \"[%.100s]\"",
                                 where, name);
                break;
            }
            strcpy(section, name);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            err = cairn_fail(st, CAIRN_E_INVALID, "%sexpected \"key = value\", got \"%.100s\"",
                             where, s);
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        if (*key == '\0') {
            err = cairn_fail(st, CAIRN_E_INVALID, "%smissing key before \"=\"", where);
            break;
        }
        char full[256];
        int fn = section[0] ? snprintf(full, sizeof full, "%s.%s", section, key)
                            : snprintf(full, sizeof full, "%s", key);
        if (fn < 0 || (size_t)fn >= sizeof full) {
            err = cairn_fail(st, CAIRN_E_INVALID, "%sunknown key \"%.100s\"", where, key);
            break;
        }
        const char *why = NULL;
        char *value = unquote(trim(eq + 1), &why);
        if (!value) {
            err = cairn_fail(st, CAIRN_E_INVALID, "%s%s: %s", where, full, why);
            break;
        }
        if ((err = set_value(cfg, full, value, where, st)) != CAIRN_OK)
            break;
    }
    if (err == CAIRN_OK && ferror(f))
        err = cairn_fail(st, CAIRN_E_INVALID, "config: error reading \"%s\"", file);
    free(line);
    fclose(f);
    return err;
}

static cairn_err apply_override(cairn_config *cfg, const char *override, cairn_status *st)
{
    char *copy = strdup(override);
    if (!copy)
        return cairn_fail(st, CAIRN_E_NOMEM, "--set: out of memory");
    cairn_err err;
    char *eq = strchr(copy, '=');
    if (!eq) {
        err = cairn_fail(st, CAIRN_E_INVALID, "--set: expected key=value, got \"%.100s\"",
                         override);
    } else {
        *eq = '\0';
        char *key = trim(copy);
        if (key_index(key) < 0)
            err = cairn_fail(st, CAIRN_E_INVALID, "--set: unknown key \"%.100s\"", key);
        else
            err = set_value(cfg, key, trim(eq + 1), "--set ", st);
    }
    free(copy);
    return err;
}

/* ---- checks across keys, path normalisation -------------------------------------------- */

static cairn_err make_absolute(cairn_config *cfg, const char *key, cairn_status *st)
{
    cfg_value *v = &cfg->values[key_index(key)];
    if (v->text[0] == '\0' || v->text[0] == '/')
        return CAIRN_OK;
    char abs[PATH_MAX];
    if (cairn_absolute_path(v->text, abs, sizeof abs) != 0)
        return cairn_fail(st, CAIRN_E_INVALID, "config: %s: cannot make \"%.100s\" absolute: %s",
                          key, v->text, strerror(errno));
    char *dup = strdup(abs);
    if (!dup)
        return cairn_fail(st, CAIRN_E_NOMEM, "config: out of memory");
    free(v->text);
    v->text = dup;
    return CAIRN_OK;
}

static cairn_err check_whole(cairn_config *cfg, cairn_status *st)
{
    if (cairn_config_string(cfg, "node.data_dir")[0] == '\0')
        return cairn_fail(st, CAIRN_E_INVALID, "config: node.data_dir: must not be empty");
    cairn_err err = make_absolute(cfg, "node.data_dir", st);
    if (err == CAIRN_OK)
        err = make_absolute(cfg, "node.run_dir", st);
    if (err != CAIRN_OK)
        return err;

    /* The kernel limits a unix socket path to ~107 bytes; say so now rather than when a role
     * fails to listen. */
    char run_dir[PATH_MAX * 2], url[256];
    cairn_config_run_dir(cfg, run_dir, sizeof run_dir);
    for (int ep = 0; ep < CAIRN_EP__COUNT; ep++)
        if (cairn_endpoint_url(run_dir, (cairn_endpoint)ep, url, sizeof url) != 0)
            return cairn_fail(st, CAIRN_E_INVALID,
                              "config: node.run_dir: the run directory \"%.200s\" is too long for "
                              "ipc socket paths; set node.run_dir to a shorter path",
                              run_dir);

    int64_t lo = cairn_config_int(cfg, "run.restart_backoff_min_ms");
    int64_t hi = cairn_config_int(cfg, "run.restart_backoff_max_ms");
    if (hi < lo)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "config: run.restart_backoff_max_ms: %" PRId64
                          " is below run.restart_backoff_min_ms (%" PRId64 ")",
                          hi, lo);
    return CAIRN_OK;
}

/* ---- public ---------------------------------------------------------------------------- */

cairn_config *cairn_config_load(const char *file, const char *const *overrides,
                                size_t override_count, cairn_status *st)
{
    cairn_status_clear(st);
    cairn_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        cairn_fail(st, CAIRN_E_NOMEM, "config: out of memory");
        return NULL;
    }
    while (cairn_config_reference[cfg->count].key)
        cfg->count++;
    cfg->values = calloc(cfg->count, sizeof *cfg->values);
    if (!cfg->values) {
        free(cfg);
        cairn_fail(st, CAIRN_E_NOMEM, "config: out of memory");
        return NULL;
    }
    cairn_err err = CAIRN_OK;
    for (size_t i = 0; i < cfg->count && err == CAIRN_OK; i++) {
        const cairn_config_key *k = &cairn_config_reference[i];
        err = set_value(cfg, k->key, k->default_value, "default of ", st);
    }
    if (err == CAIRN_E_INVALID) {
        /* A default that does not parse is a bug in the reference table. */
        fprintf(stderr, "cairn_config: bad reference table: %s\n", st ? st->message : "");
        abort();
    }
    if (err == CAIRN_OK && file)
        err = load_file(cfg, file, st);
    for (size_t i = 0; i < override_count && err == CAIRN_OK; i++)
        err = apply_override(cfg, overrides[i], st);
    if (err == CAIRN_OK)
        err = check_whole(cfg, st);
    if (err != CAIRN_OK) {
        cairn_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void cairn_config_free(cairn_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->count; i++)
        free(cfg->values[i].text);
    free(cfg->values);
    free(cfg);
}

const char *cairn_config_string(const cairn_config *cfg, const char *key)
{
    return typed_value(cfg, key, CAIRN_CFG_STRING)->text;
}

int64_t cairn_config_int(const cairn_config *cfg, const char *key)
{
    long i = key_index(key);
    /* Log levels are stored as their enum value and may be read as an int. */
    if (i >= 0 && cairn_config_reference[i].type == CAIRN_CFG_LOG_LEVEL)
        return cfg->values[i].i;
    return typed_value(cfg, key, CAIRN_CFG_INT)->i;
}

bool cairn_config_bool(const cairn_config *cfg, const char *key)
{
    return typed_value(cfg, key, CAIRN_CFG_BOOL)->b;
}

double cairn_config_double(const cairn_config *cfg, const char *key)
{
    return typed_value(cfg, key, CAIRN_CFG_DOUBLE)->d;
}

void cairn_config_address(const cairn_config *cfg, const char *key, char *host, size_t host_len,
                          uint16_t *port)
{
    const cfg_value *v = typed_value(cfg, key, CAIRN_CFG_ADDRESS);
    if (host && host_len > 0)
        snprintf(host, host_len, "%s", v->host);
    if (port)
        *port = v->port;
}

void cairn_config_run_dir(const cairn_config *cfg, char *buf, size_t len)
{
    const char *run = cairn_config_string(cfg, "node.run_dir");
    if (run[0])
        snprintf(buf, len, "%s", run);
    else
        snprintf(buf, len, "%s/run", cairn_config_string(cfg, "node.data_dir"));
}

/* Markdown cells: a '|' would end the cell. */
static void print_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void cairn_config_print_reference(FILE *out)
{
    fputs("| key | default | meaning |\n|---|---|---|\n", out);
    for (const cairn_config_key *k = cairn_config_reference; k->key; k++) {
        fprintf(out, "| `%s` | ", k->key);
        if (k->default_value[0]) {
            fputc('`', out);
            print_cell(out, k->default_value);
            fputc('`', out);
        } else {
            fputs("(empty)", out);
        }
        fputs(" | ", out);
        print_cell(out, k->description);
        if ((k->type == CAIRN_CFG_INT || k->type == CAIRN_CFG_DOUBLE) && (k->min || k->max))
            fprintf(out, " Range %" PRId64 "..%" PRId64 ".", k->min, k->max);
        fputs(" |\n", out);
    }
}

bool cairn_parse_address(const char *text, char *host, size_t host_len, uint16_t *port)
{
    bool port_range;
    return text && parse_address(text, host, host_len, port, &port_range);
}
