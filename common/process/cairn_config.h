/* Node configuration: one file of `key = value` lines with `[section]` headers (a key `listen`
 * under `[gateway]` is `gateway.listen`), overridden by `--set key=value` on the command line.
 * Every key, its type, default, bounds and meaning live in one reference table
 * (cairn_config_reference in cairn_config.c); the README's config table is printed from it by
 * `cairn config-reference`. Unknown keys, unparsable values and out-of-range values are errors
 * naming the key; a role given bad config exits with CAIRN_EXIT_CONFIG and starts nothing. */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cairn_error.h"

#define CAIRN_EXIT_CONFIG 78 /* EX_CONFIG from sysexits.h */

typedef enum cairn_config_type {
    CAIRN_CFG_STRING,
    CAIRN_CFG_INT,      /* int64 within [min, max] */
    CAIRN_CFG_BOOL,     /* true/false/yes/no/on/off/1/0 */
    CAIRN_CFG_DOUBLE,   /* within [min, max] */
    CAIRN_CFG_ADDRESS,  /* host:port, port 0..65535 (0: any free port) */
    CAIRN_CFG_LOG_LEVEL /* debug|info|warn|error */
} cairn_config_type;

typedef struct cairn_config_key {
    const char *key;
    cairn_config_type type;
    const char *default_value; /* as text; "" allowed for strings */
    int64_t min;               /* INT, DOUBLE (as integer bounds) */
    int64_t max;
    const char *description;
} cairn_config_key;

/* The reference table, terminated by an entry with key == NULL. */
extern const cairn_config_key cairn_config_reference[];

typedef struct cairn_config cairn_config;

/* Loads defaults, then file (may be NULL), then overrides ("key=value" strings) in order.
 * Returns NULL with *st describing the first bad key. */
cairn_config *cairn_config_load(const char *file, const char *const *overrides,
                                size_t override_count, cairn_status *st);
void cairn_config_free(cairn_config *cfg);

/* Typed getters. Asking for a key that is not in the reference table, or with the wrong type,
 * is a programming error and aborts. */
const char *cairn_config_string(const cairn_config *cfg, const char *key);
int64_t cairn_config_int(const cairn_config *cfg, const char *key);
bool cairn_config_bool(const cairn_config *cfg, const char *key);
double cairn_config_double(const cairn_config *cfg, const char *key);
/* ADDRESS keys: host and port split out. */
void cairn_config_address(const cairn_config *cfg, const char *key, char *host, size_t host_len,
                          uint16_t *port);

/* Parses "host:port" or "[v6]:port" (port 0..65535) as ADDRESS keys are parsed: for string keys
 * that hold an address or a list of them (cluster.*). */
bool cairn_config_parse_address(const char *s, char *host, size_t host_len, uint16_t *port);

/* The run directory: node.run_dir, or <node.data_dir>/run when that is empty. */
/* A listener address in the form of CAIRN_CFG_ADDRESS keys (host:port, [ipv6]:port, port
 * 0..65535), for a key that may also be empty (grpc.listen). False when it is not one. */
bool cairn_parse_address(const char *text, char *host, size_t host_len, uint16_t *port);
void cairn_config_run_dir(const cairn_config *cfg, char *buf, size_t len);

/* Writes the reference table as a Markdown table (for the README). */
void cairn_config_print_reference(FILE *out);

#endif
