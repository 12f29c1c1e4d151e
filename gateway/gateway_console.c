/* Serving the console's embedded web files. */
#include "gateway_console.h"

#include <stdlib.h>
#include <string.h>

#include "gateway_reply.h"

#define CONSOLE_PREFIX "/nacos/"
#define CONSOLE_PAGE "index.html"
/* Everything from this origin, nothing from any other; no inline script or style. */
#define CONSOLE_CSP                                                                        \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "       \
    "frame-ancestors 'none'"

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

const char *gateway_console_content_type(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
        size_t e = strlen(content_types[i].ext);
        if (n >= e && strcmp(name + n - e, content_types[i].ext) == 0)
            return content_types[i].type;
    }
    return "application/octet-stream";
}

const gateway_console_file *gateway_console_find(const char *path)
{
    if (strncmp(path, CONSOLE_PREFIX, strlen(CONSOLE_PREFIX)) != 0)
        return NULL;
    const char *name = path + strlen(CONSOLE_PREFIX);
    if (!*name)
        name = CONSOLE_PAGE;
    for (size_t i = 0; i < gateway_console_file_count; i++)
        if (strcmp(gateway_console_files[i].name, name) == 0)
            return &gateway_console_files[i];
    return NULL;
}

void gateway_console_reply(gateway_response *resp, const gateway_console_file *file)
{
    char *body = malloc(file->len ? file->len : 1);
    if (!body) {
        gateway_reply_text(resp, 500, "caused: out of memory;");
        return;
    }
    memcpy(body, file->data, file->len);
    free(resp->body);
    resp->status = 200;
    resp->content_type = gateway_console_content_type(file->name);
    resp->body = body;
    resp->len = file->len;
    gateway_response_add_header(resp, "Cache-Control", "no-cache");
    gateway_response_add_header(resp, "Content-Security-Policy", CONSOLE_CSP);
    gateway_response_add_header(resp, "X-Content-Type-Options", "nosniff");
}

void gateway_console_redirect(gateway_response *resp)
{
    gateway_reply_text(resp, 302, "see " CONSOLE_PREFIX);
    gateway_response_add_header(resp, "Location", CONSOLE_PREFIX);
}
