/* Label expressions of service list selectors (cairn_label.h). */
#include "cairn_label.h"

#include <stdlib.h>
#include <string.h>

#define LABEL_FORMS "INSTANCE.metadata.<key> = '<value>' or SERVICE.metadata.<key> = '<value>'"

/* Java's Character.isWhitespace for the ASCII range (what StringUtils.deleteWhitespace drops). */
static bool java_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

cairn_err cairn_label_parse(const char *expression, cairn_label_scope *scope, char **label,
                            cairn_status *st)
{
    *scope = CAIRN_LABEL_NONE;
    *label = NULL;
    size_t n = expression ? strlen(expression) : 0;
    char *e = malloc(n + 1), *w = e;
    if (!e)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!java_space(expression[i]))
            *w++ = expression[i];
    *w = '\0';
    if (!*e) { /* blank: no filter */
        free(e);
        return CAIRN_OK;
    }
    /* the scope: the left side up to its first '.' */
    char *eq = strchr(e, '=');
    if (eq)
        *eq = '\0';
    size_t scope_len = strcspn(e, ".");
    cairn_label_scope sc = CAIRN_LABEL_NONE;
    if (scope_len == 8 && strncmp(e, "INSTANCE", 8) == 0)
        sc = CAIRN_LABEL_INSTANCE;
    else if (scope_len == 7 && strncmp(e, "SERVICE", 7) == 0)
        sc = CAIRN_LABEL_SERVICE;
    if (sc == CAIRN_LABEL_NONE) { /* Nacos' switch has no case for it: no filter */
        free(e);
        return CAIRN_OK;
    }
    /* Java's split("=") drops trailing empty parts: a value needs something but '=' after the
     * first '=', and ends at the next one */
    char *value = eq ? eq + 1 : NULL;
    if (!value || !value[strspn(value, "=")]) {
        free(e);
        return cairn_fail(st, CAIRN_E_INVALID, "label selector expression must be " LABEL_FORMS);
    }
    char *end = strchr(value, '=');
    if (end)
        *end = '\0';
    /* the key: after the last '.' (trailing empty parts dropped, as split does) */
    while (e[strlen(e) - 1] == '.')
        e[strlen(e) - 1] = '\0';
    const char *dot = strrchr(e, '.');
    const char *key = dot ? dot + 1 : e;
    size_t key_len = strlen(key), v = 0;
    char *out = malloc(key_len + 1 + strlen(value) + 1);
    if (!out) {
        free(e);
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    }
    memcpy(out, key, key_len);
    out[key_len] = '=';
    for (const char *c = value; *c; c++)
        if (*c != '\'')
            out[key_len + 1 + v++] = *c;
    out[key_len + 1 + v] = '\0';
    free(e);
    *scope = sc;
    *label = out;
    return CAIRN_OK;
}
