/* The roles of one node, in start order, and what `cairn status` shows of each. */
#ifndef CLI_ROLES_H
#define CLI_ROLES_H

#include <stddef.h>

struct cairn_config;

#define CLI_ROLE_MAX_METRICS 4

typedef struct cli_role_metric {
    const char *label;  /* column text, e.g. "writes" */
    const char *sample; /* Prometheus sample name, summed over all label sets */
} cli_role_metric;

typedef struct cli_role {
    const char *name;   /* "registry": config section, run-dir file names */
    const char *binary; /* found next to the cairn executable */
    /* Roles that run several processes side by side (pushers): the config key giving how many,
     * and the key each process gets its index in. Process i is named "<name>-<i>". NULL: one. */
    const char *count_key;
    const char *index_key;
    cli_role_metric metrics[CLI_ROLE_MAX_METRICS];
} cli_role;

extern const cli_role cli_roles[];
extern const size_t cli_role_count;

/* One process of a role: its display / file name and, for counted roles, its index. */
typedef struct cli_role_instance {
    const cli_role *role;
    char name[64];       /* "gateway", "pusher-0" */
    char index_set[96];  /* "pusher.index=0", or "" */
} cli_role_instance;

/* Expands the role table into processes for this config, in start order. Returns a malloc'd
 * array and its length in *count (NULL on out of memory). */
cli_role_instance *cli_role_instances(const struct cairn_config *cfg, size_t *count);

#endif
