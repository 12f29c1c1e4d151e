#include "cairn_error.h"


static const struct {
    const char *name;
    int http_status;
} err_table[CAIRN_E__COUNT] = {
    [CAIRN_OK] = {"ok", 200},
    [CAIRN_E_INVALID] = {"invalid", 400},
    [CAIRN_E_NOT_FOUND] = {"not_found", 404},
    [CAIRN_E_CONFLICT] = {"conflict", 400},
    [CAIRN_E_LIMIT] = {"limit", 400},
    [CAIRN_E_UNAVAILABLE] = {"unavailable", 503},
    [CAIRN_E_DECODE] = {"decode", 400},
    [CAIRN_E_STORAGE] = {"storage", 500},
    [CAIRN_E_NOMEM] = {"nomem", 500},
    [CAIRN_E_INTERNAL] = {"internal", 500},
};

const char *cairn_err_name(cairn_err err)
{
    if ((unsigned)err >= CAIRN_E__COUNT)
        return "unknown";
    return err_table[err].name;
}

int cairn_err_http_status(cairn_err err)
{
    if ((unsigned)err >= CAIRN_E__COUNT)
        return 500;
    return err_table[err].http_status;
}

#include <stdarg.h>
#include <stdio.h>

cairn_err cairn_fail(cairn_status *st, cairn_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cairn_vfail(st, code, fmt, ap);
    va_end(ap);
    return code;
}

cairn_err cairn_vfail(cairn_status *st, cairn_err code, const char *fmt, va_list ap)
{
    if (st) {
        st->code = code;
        vsnprintf(st->message, sizeof st->message, fmt, ap);
    }
    return code;
}

void cairn_status_clear(cairn_status *st)
{
    if (st) {
        st->code = CAIRN_OK;
        st->message[0] = '\0';
    }
}
