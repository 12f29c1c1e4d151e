/* The cluster part of a node's configuration, read once at start by every process that needs it
 * (the replicator, the gateway, `cairn run` and `cairn status`), so that all of them agree on the
 * members, on which one is this node, and on the derived listener addresses.
 *
 * Rules (docs/architecture.md, "Cluster: membership and the peer channel"):
 *  - cluster.members is a comma-separated list of host:port, each a member's Nacos HTTP address,
 *    which is also its identity: owner lists, operator/servers and logs use it as written.
 *    Whitespace around entries is ignored; an empty entry, a bad host:port, port 0 or a repeated
 *    entry is an error. Empty list: standalone (count 0), nothing else is read or checked.
 *  - Self is the entry equal to gateway.listen. With a wildcard gateway host (0.0.0.0, ::) it is
 *    the one entry with the same port whose host is a local address. No match, several, or a
 *    gateway port of 0 → error.
 *  - cluster.peer_listen defaults to <gateway host>:<HTTP port + 1001>, cluster.raft_listen to
 *    <gateway host>:<HTTP port - 1000>; a derived port outside 1..65535 is an error (set the key).
 *  - cluster.secret_file is required with more than one member: at least 32 bytes, one trailing
 *    newline ignored; missing, unreadable or short → error; readable by group or others → a
 *    warning in cfg->secret_warning.
 * Every error is CAIRN_E_INVALID with a message naming the key; a process exits
 * CAIRN_EXIT_CONFIG (78) on it. The loaded struct is plain data: any thread may read it. */
#ifndef CAIRN_CLUSTER_CONFIG_H
#define CAIRN_CLUSTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_config.h"
#include "cairn_error.h"

#define CAIRN_CLUSTER_MAX_MEMBERS 64
#define CAIRN_CLUSTER_ID_MAX 272 /* "host:port" as written, host up to 255 bytes */
#define CAIRN_CLUSTER_HOST_MAX 256
#define CAIRN_CLUSTER_SECRET_MIN 32
#define CAIRN_CLUSTER_SECRET_MAX 4096
#define CAIRN_CLUSTER_PEER_PORT_OFFSET 1001 /* 9849 for 8848: Nacos 2.x's cluster port */
#define CAIRN_CLUSTER_RAFT_PORT_OFFSET (-1000) /* 7848 for 8848, as Nacos */

typedef struct cairn_cluster_member {
    char id[CAIRN_CLUSTER_ID_MAX];     /* the entry as written (whitespace trimmed) */
    char host[CAIRN_CLUSTER_HOST_MAX]; /* without brackets */
    uint16_t port;                     /* the member's HTTP port */
} cairn_cluster_member;

typedef struct cairn_cluster_config {
    size_t count; /* 0: standalone */
    cairn_cluster_member members[CAIRN_CLUSTER_MAX_MEMBERS]; /* in the configured order */
    size_t self;                                             /* index into members */
    uint64_t members_hash; /* cairn_cluster_members_hash of the list */
    /* This node's listeners as configured or derived (port 0: any free port). */
    char peer_host[CAIRN_CLUSTER_HOST_MAX];
    uint16_t peer_port;
    char raft_host[CAIRN_CLUSTER_HOST_MAX];
    uint16_t raft_port;
    unsigned char secret[CAIRN_CLUSTER_SECRET_MAX];
    size_t secret_len; /* 0 when none was needed or given */
    char secret_warning[256]; /* "" or why the secret file is unsafe */
    int ping_interval_ms;
    int fail_count;
    int up_pings;
} cairn_cluster_config;

/* Reads every cluster key of cfg into *out (see the rules above). */
cairn_err cairn_cluster_config_load(const cairn_config *cfg, cairn_cluster_config *out,
                                    cairn_status *st);

/* ---- the rules one at a time (unit tests) ----------------------------------------------- */

/* Splits "host:port" or "[v6]:port" (port 0..65535). Returns false when malformed. */
bool cairn_cluster_split_address(const char *text, char *host, size_t host_len, uint16_t *port);

/* Parses the member list into members (capacity max). Returns the count (0 for an empty or
 * all-blank list) or -1 with *st set. */
int cairn_cluster_parse_members(const char *text, cairn_cluster_member *members, size_t max,
                                cairn_status *st);

/* Whether host names an address of this machine (it resolves, and a socket can bind to it). */
typedef bool (*cairn_local_host_fn)(const char *host);
bool cairn_cluster_host_is_local(const char *host);

/* The index of self among members for a gateway listening on gw_host:gw_port, or -1 with *st
 * set. is_local decides the wildcard case (cairn_cluster_host_is_local in production). */
int cairn_cluster_find_self(const cairn_cluster_member *members, size_t count, const char *gw_host,
                            uint16_t gw_port, cairn_local_host_fn is_local, cairn_status *st);

/* A listener address: `value` when set (key names it in errors), else gw_host with the gateway
 * port + offset, which must fall within 1..65535. */
cairn_err cairn_cluster_listen_address(const char *key, const char *value, const char *gw_host,
                                       uint16_t gw_port, int offset, char *host, size_t host_len,
                                       uint16_t *port, cairn_status *st);

/* Reads the secret file (see the rules above) into buf (capacity CAIRN_CLUSTER_SECRET_MAX). */
cairn_err cairn_cluster_read_secret(const char *path, unsigned char *buf, size_t *len,
                                    char *warning, size_t warning_len, cairn_status *st);

/* FNV-1a 64 over the sorted identities joined by ',': equal on nodes that list the same members
 * in any order. */
uint64_t cairn_cluster_members_hash(const cairn_cluster_member *members, size_t count);
/* The same over ids in the order given (an owner list, already sorted). */
uint64_t cairn_cluster_ids_hash(const char *const *ids, size_t count);

/* A member's peer and raft addresses as its own defaults derive them (its host, its HTTP port
 * + 1001 / - 1000; port 0 when out of range): what peers dial until they learn better. */
void cairn_cluster_default_addresses(const cairn_cluster_member *m, char *peer, char *raft,
                                     size_t len);

/* Writes "host:port" (brackets around an IPv6 host) into buf. */
void cairn_cluster_format_address(const char *host, uint16_t port, char *buf, size_t len);

/* Whether host is the IPv4 or IPv6 wildcard. */
bool cairn_cluster_host_is_wildcard(const char *host);

#endif
