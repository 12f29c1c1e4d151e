/* The operator console's web files (gateway/console/), embedded in the binary at build time
 * (cmake/embed_files.cmake writes gateway_console_files.c) and served under /nacos/.
 *
 * The files are constant data: any thread may read them, for the life of the process. They are
 * served with Cache-Control: no-cache (a browser revalidates each time, so a new binary's files
 * are picked up at the next load) and a Content-Security-Policy that lets the page load nothing
 * from another origin. */
#ifndef GATEWAY_CONSOLE_H
#define GATEWAY_CONSOLE_H

#include <stddef.h>

#include "gateway_http.h"

typedef struct gateway_console_file {
    const char *name;          /* file name in gateway/console/ ("index.html") */
    const unsigned char *data; /* len bytes, then a NUL */
    size_t len;
} gateway_console_file;

/* In name order (generated). */
extern const gateway_console_file gateway_console_files[];
extern const size_t gateway_console_file_count;

/* The label every console file is counted under in the request metrics. */
#define GATEWAY_CONSOLE_ENDPOINT "/nacos/"

/* The file a GET of path serves: "/nacos/" and "/nacos/index.html" the page, "/nacos/<name>"
 * the file of that name; NULL for any other path. */
const gateway_console_file *gateway_console_find(const char *path);

/* The Content-Type of a file by its extension (text types in UTF-8). */
const char *gateway_console_content_type(const char *name);

/* Fills resp with the file (200, its type, the caching and security headers). */
void gateway_console_reply(gateway_response *resp, const gateway_console_file *file);

/* 302 to /nacos/ (the path /nacos, as Nacos' console answers it). */
void gateway_console_redirect(gateway_response *resp);

#endif
