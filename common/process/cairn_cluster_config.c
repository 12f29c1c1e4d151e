/* The cluster keys: member list, self, derived listeners, secret (rules in the header). */
#include "cairn_cluster_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn_fnv.h"

bool cairn_cluster_split_address(const char *text, char *host, size_t host_len, uint16_t *port)
{
    return cairn_config_parse_address(text, host, host_len, port);
}

void cairn_cluster_format_address(const char *host, uint16_t port, char *buf, size_t len)
{
    if (strchr(host, ':'))
        snprintf(buf, len, "[%s]:%u", host, (unsigned)port);
    else
        snprintf(buf, len, "%s:%u", host, (unsigned)port);
}

bool cairn_cluster_host_is_wildcard(const char *host)
{
    return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "") == 0;
}

/* One entry, trimmed, into m; false with *st set when malformed. */
static bool parse_member(const char *start, size_t n, cairn_cluster_member *m, cairn_status *st)
{
    while (n > 0 && isspace((unsigned char)*start))
        start++, n--;
    while (n > 0 && isspace((unsigned char)start[n - 1]))
        n--;
    if (n == 0) {
        cairn_fail(st, CAIRN_E_INVALID, "cluster.members: an entry is empty");
        return false;
    }
    if (n >= sizeof m->id) {
        cairn_fail(st, CAIRN_E_INVALID, "cluster.members: an entry is too long");
        return false;
    }
    memcpy(m->id, start, n);
    m->id[n] = '\0';
    if (!cairn_cluster_split_address(m->id, m->host, sizeof m->host, &m->port) || m->port == 0) {
        cairn_fail(st, CAIRN_E_INVALID,
                   "cluster.members: '%s' is not host:port with a port of 1..65535", m->id);
        return false;
    }
    if (cairn_cluster_host_is_wildcard(m->host)) {
        cairn_fail(st, CAIRN_E_INVALID,
                   "cluster.members: '%s' is a wildcard; list the address peers reach", m->id);
        return false;
    }
    return true;
}

int cairn_cluster_parse_members(const char *text, cairn_cluster_member *members, size_t max,
                                cairn_status *st)
{
    if (strspn(text, " \t\r\n") == strlen(text))
        return 0;
    size_t count = 0;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (count == max) {
            cairn_fail(st, CAIRN_E_INVALID, "cluster.members: more than %zu members", max);
            return -1;
        }
        if (!parse_member(p, n, &members[count], st))
            return -1;
        for (size_t i = 0; i < count; i++)
            if (strcmp(members[i].id, members[count].id) == 0) {
                cairn_fail(st, CAIRN_E_INVALID, "cluster.members: '%s' is listed twice",
                           members[i].id);
                return -1;
            }
        count++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return (int)count;
}

bool cairn_cluster_host_is_local(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return false;
    bool local = false;
    for (struct addrinfo *a = res; a && !local; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        /* port 0 in the resolved address: binding only asks whether the address is ours */
        local = bind(fd, a->ai_addr, a->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(res);
    return local;
}

int cairn_cluster_find_self(const cairn_cluster_member *members, size_t count, const char *gw_host,
                            uint16_t gw_port, cairn_local_host_fn is_local, cairn_status *st)
{
    if (gw_port == 0) {
        cairn_fail(st, CAIRN_E_INVALID,
                   "gateway.listen: port 0 cannot identify this node in cluster.members");
        return -1;
    }
    bool wildcard = cairn_cluster_host_is_wildcard(gw_host);
    int found = -1, matches = 0;
    for (size_t i = 0; i < count; i++) {
        if (members[i].port != gw_port)
            continue;
        bool match = wildcard ? is_local(members[i].host) : strcmp(members[i].host, gw_host) == 0;
        if (match) {
            found = (int)i;
            matches++;
        }
    }
    if (matches == 1)
        return found;
    char gw[CAIRN_CLUSTER_ID_MAX];
    cairn_cluster_format_address(gw_host, gw_port, gw, sizeof gw);
    if (matches == 0)
        cairn_fail(st, CAIRN_E_INVALID,
                   "cluster.members: no entry is this node (gateway.listen %s)", gw);
    else
        cairn_fail(st, CAIRN_E_INVALID,
                   "cluster.members: %d entries are local with port %u (gateway.listen %s); set "
                   "gateway.listen to this node's own address",
                   matches, (unsigned)gw_port, gw);
    return -1;
}

cairn_err cairn_cluster_listen_address(const char *key, const char *value, const char *gw_host,
                                       uint16_t gw_port, int offset, char *host, size_t host_len,
                                       uint16_t *port, cairn_status *st)
{
    if (value && *value) {
        if (!cairn_cluster_split_address(value, host, host_len, port))
            return cairn_fail(st, CAIRN_E_INVALID, "%s: '%s' is not host:port", key, value);
        return CAIRN_OK;
    }
    long derived = (long)gw_port + offset;
    if (derived < 1 || derived > 65535)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "%s: the default port (gateway port %u %+d = %ld) is outside 1..65535; "
                          "set %s",
                          key, (unsigned)gw_port, offset, derived, key);
    if (strlen(gw_host) >= host_len)
        return cairn_fail(st, CAIRN_E_INVALID, "%s: gateway host too long", key);
    strcpy(host, gw_host);
    *port = (uint16_t)derived;
    return CAIRN_OK;
}

/* Reads at most CAIRN_CLUSTER_SECRET_MAX + 1 bytes of fd into buf. */
static ssize_t read_bounded(int fd, unsigned char *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

cairn_err cairn_cluster_read_secret(const char *path, unsigned char *buf, size_t *len,
                                    char *warning, size_t warning_len, cairn_status *st)
{
    warning[0] = '\0';
    if (!path || !*path)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "cluster.secret_file: required when cluster.members has more than one "
                          "entry");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cairn_fail(st, CAIRN_E_INVALID, "cluster.secret_file: cannot open %s: %s", path,
                          strerror(errno));
    struct stat sb;
    unsigned char tmp[CAIRN_CLUSTER_SECRET_MAX + 1];
    ssize_t n = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)
                    ? read_bounded(fd, tmp, sizeof tmp)
                    : -1;
    int saved = errno;
    close(fd);
    if (n < 0)
        return cairn_fail(st, CAIRN_E_INVALID, "cluster.secret_file: cannot read %s: %s", path,
                          S_ISREG(sb.st_mode) ? strerror(saved) : "not a regular file");
    if (n > 0 && tmp[n - 1] == '\n')
        n--;
    if ((size_t)n > CAIRN_CLUSTER_SECRET_MAX)
        return cairn_fail(st, CAIRN_E_INVALID, "cluster.secret_file: %s is over %d bytes", path,
                          CAIRN_CLUSTER_SECRET_MAX);
    if (n < CAIRN_CLUSTER_SECRET_MIN)
        return cairn_fail(st, CAIRN_E_INVALID,
                          "cluster.secret_file: %s holds %zd bytes; at least %d are needed", path,
                          n, CAIRN_CLUSTER_SECRET_MIN);
    memcpy(buf, tmp, (size_t)n);
    *len = (size_t)n;
    memset(tmp, 0, sizeof tmp);
    if (sb.st_mode & (S_IRWXG | S_IRWXO))
        snprintf(warning, warning_len,
                 "cluster.secret_file: %s is readable by other users (mode %03o); chmod 600 it",
                 path, (unsigned)(sb.st_mode & 0777));
    return CAIRN_OK;
}

static int id_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint64_t cairn_cluster_ids_hash(const char *const *ids, size_t count)
{
    uint64_t h = CAIRN_FNV64_OFFSET;
    for (size_t i = 0; i < count; i++)
        h = cairn_fnv1a_str(h, ids[i], ',');
    return h;
}

uint64_t cairn_cluster_members_hash(const cairn_cluster_member *members, size_t count)
{
    const char *ids[CAIRN_CLUSTER_MAX_MEMBERS];
    if (count > CAIRN_CLUSTER_MAX_MEMBERS)
        count = CAIRN_CLUSTER_MAX_MEMBERS;
    for (size_t i = 0; i < count; i++)
        ids[i] = members[i].id;
    qsort(ids, count, sizeof ids[0], id_order);
    return cairn_cluster_ids_hash(ids, count);
}

void cairn_cluster_default_addresses(const cairn_cluster_member *m, char *peer, char *raft,
                                     size_t len)
{
    long pp = (long)m->port + CAIRN_CLUSTER_PEER_PORT_OFFSET;
    long rp = (long)m->port + CAIRN_CLUSTER_RAFT_PORT_OFFSET;
    cairn_cluster_format_address(m->host, (uint16_t)(pp >= 1 && pp <= 65535 ? pp : 0), peer, len);
    cairn_cluster_format_address(m->host, (uint16_t)(rp >= 1 && rp <= 65535 ? rp : 0), raft, len);
}

cairn_err cairn_cluster_config_load(const cairn_config *cfg, cairn_cluster_config *out,
                                    cairn_status *st)
{
    memset(out, 0, sizeof *out);
    out->ping_interval_ms = (int)cairn_config_int(cfg, "cluster.ping_interval_ms");
    out->fail_count = (int)cairn_config_int(cfg, "cluster.fail_count");
    out->up_pings = (int)cairn_config_int(cfg, "cluster.up_pings");
    int n = cairn_cluster_parse_members(cairn_config_string(cfg, "cluster.members"), out->members,
                                        CAIRN_CLUSTER_MAX_MEMBERS, st);
    if (n <= 0)
        return n < 0 ? st->code : CAIRN_OK;
    out->count = (size_t)n;
    out->members_hash = cairn_cluster_members_hash(out->members, out->count);
    char gw_host[CAIRN_CLUSTER_HOST_MAX];
    uint16_t gw_port;
    cairn_config_address(cfg, "gateway.listen", gw_host, sizeof gw_host, &gw_port);
    int self = cairn_cluster_find_self(out->members, out->count, gw_host, gw_port,
                                       cairn_cluster_host_is_local, st);
    if (self < 0)
        return st->code;
    out->self = (size_t)self;
    /* A wildcard gateway listens on every address; the derived listeners do the same. */
    if (cairn_cluster_listen_address("cluster.peer_listen",
                                     cairn_config_string(cfg, "cluster.peer_listen"), gw_host,
                                     gw_port, CAIRN_CLUSTER_PEER_PORT_OFFSET, out->peer_host,
                                     sizeof out->peer_host, &out->peer_port, st) != CAIRN_OK ||
        cairn_cluster_listen_address("cluster.raft_listen",
                                     cairn_config_string(cfg, "cluster.raft_listen"), gw_host,
                                     gw_port, CAIRN_CLUSTER_RAFT_PORT_OFFSET, out->raft_host,
                                     sizeof out->raft_host, &out->raft_port, st) != CAIRN_OK)
        return st->code;
    if (out->count == 1)
        return CAIRN_OK; /* one member: nobody to authenticate */
    return cairn_cluster_read_secret(cairn_config_string(cfg, "cluster.secret_file"), out->secret,
                                     &out->secret_len, out->secret_warning,
                                     sizeof out->secret_warning, st);
}
