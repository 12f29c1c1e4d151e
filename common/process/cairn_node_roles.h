/* The roles of one node, in start order, and the key metrics shown of each (by `cairn status`
 * and the console's roles view). The table is constant: any thread may read it. */
#ifndef CAIRN_NODE_ROLES_H
#define CAIRN_NODE_ROLES_H

#include <stddef.h>

struct cairn_config;

#define CAIRN_NODE_ROLE_MAX_METRICS 4

typedef struct cairn_node_role_metric {
    const char *label;  /* column text, e.g. "writes" */
    const char *sample; /* Prometheus sample name, summed over all label sets */
} cairn_node_role_metric;

typedef struct cairn_node_role {
    const char *name;   /* "registry": config section, run-dir file names */
    const char *binary; /* found next to the cairn executable */
    /* Roles that run several processes side by side (pushers): the config key giving how many,
     * and the key each process gets its index in. Process i is named "<name>-<i>". NULL: one. */
    const char *count_key;
    const char *index_key;
    cairn_node_role_metric metrics[CAIRN_NODE_ROLE_MAX_METRICS];
    /* A string key the role depends on: it runs only when that key is not empty (the
     * replicator, with cluster.members). NULL: always. */
    const char *when_set;
} cairn_node_role;

extern const cairn_node_role cairn_node_roles[];
extern const size_t cairn_node_role_count;

/* One process of a role: its display / file name and, for counted roles, its index. */
typedef struct cairn_node_role_instance {
    const cairn_node_role *role;
    char name[64];       /* "gateway", "pusher-0" */
    char index_set[96];  /* "pusher.index=0", or "" */
} cairn_node_role_instance;

/* Expands the role table into processes for this config, in start order. Returns a malloc'd
 * array and its length in *count (NULL on out of memory). */
cairn_node_role_instance *cairn_node_role_instances(const struct cairn_config *cfg, size_t *count);

#endif
