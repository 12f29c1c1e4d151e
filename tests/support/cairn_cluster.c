/* Multi-node clusters for the integration tests (cairn_cluster.h). */
#include "cairn_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn_cluster_config.h"
#include "cairn_http.h"
#include "cairn_java_hash.h"
#include "cairn_nacos.h"

#define SETS_PER_NODE 12
#define PORT_TRIES 200

/* Whether TCP port is free on host (a listener could bind it right now). */
static bool port_free(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* Claims port for this test process across every test process of the machine: a file named by
 * the port under PORT_CLAIM_DIR, created exclusively, holding the claimer's pid. A free port is
 * not enough: Criterion runs two tests at once and a cluster that restarts its nodes leaves its
 * ports free for a moment, so another test could pick them then. A claim whose process is gone
 * is taken over. Claims last as long as the test process. */
#define PORT_CLAIM_DIR "/tmp/cairn-it-ports"
static bool claim_port(int port)
{
    mkdir(PORT_CLAIM_DIR, 0777); /* shared by every user's test runs; the claims are files */
    char path[64], pid[24];
    snprintf(path, sizeof path, PORT_CLAIM_DIR "/%d", port);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            int len = snprintf(pid, sizeof pid, "%d", (int)getpid());
            bool ok = write(fd, pid, (size_t)len) == len;
            close(fd);
            return ok;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* released meanwhile */
        ssize_t n = read(fd, pid, sizeof pid - 1);
        close(fd);
        pid[n > 0 ? n : 0] = '\0';
        int holder = atoi(pid);
        if (holder == (int)getpid())
            return false; /* this process's own cluster holds it */
        if (n > 0 && holder > 0 && (kill(holder, 0) == 0 || errno != ESRCH))
            return false;
        unlink(path); /* a claim left by a process that has exited */
    }
    return false;
}

/* Claims the gateway port and, for a cluster on several hosts, the derived peer and Raft ports
 * (cairn_cluster_config.h); false after releasing nothing (a partial claim is harmless: its
 * ports are skipped until this process exits). */
static bool claim_ports(int port, bool derived_too)
{
    if (!claim_port(port))
        return false;
    return !derived_too || (claim_port(port + CAIRN_CLUSTER_PEER_PORT_OFFSET) &&
                            claim_port(port + CAIRN_CLUSTER_RAFT_PORT_OFFSET));
}

/* A port in 21000..28999 (below the kernel's ephemeral range, so port-0 listeners never take
 * it) free on every host given and claimed for this process, with the derived peer and Raft
 * ports free and claimed too when `derived_too`. */
static int pick_port(const char *const *hosts, int host_count, bool derived_too)
{
    static unsigned seed;
    if (!seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 16) ^ (unsigned)ts.tv_sec;
    }
    for (int t = 0; t < PORT_TRIES; t++) {
        int port = 21000 + (int)(rand_r(&seed) % 8000);
        bool ok = true;
        for (int h = 0; h < host_count && ok; h++)
            ok = port_free(hosts[h], port) &&
                 (!derived_too || (port_free(hosts[h], port + CAIRN_CLUSTER_PEER_PORT_OFFSET) &&
                                   port_free(hosts[h], port + CAIRN_CLUSTER_RAFT_PORT_OFFSET)));
        if (ok && claim_ports(port, derived_too))
            return port;
    }
    cr_assert_fail("no free port found in %d tries", PORT_TRIES);
    return 0;
}

static void write_secret(const char *path, const char *fill)
{
    char secret[64];
    snprintf(secret, sizeof secret, "%s-%08x-0123456789abcdef0123456789abcdef", fill,
             (unsigned)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "cannot write %s", path);
    cr_assert(write(fd, secret, strlen(secret)) == (ssize_t)strlen(secret));
    close(fd);
}

/* opts.auth: the token secret, a users file holding IT_CLUSTER_ADMIN, and that admin's token. */
static void write_auth(it_cluster *c, const char *dir)
{
    snprintf(c->token_secret_file, sizeof c->token_secret_file, "%s/token-secret", dir);
    write_secret(c->token_secret_file, "tokens");
    snprintf(c->users_file, sizeof c->users_file, "%s/users", dir);
    cairn_status st;
    char hash[CAIRN_AUTH_HASH_MAX];
    cairn_auth_users users = {0};
    cr_assert_eq(cairn_auth_hash_password("it-admin-password", hash, &st), CAIRN_OK);
    cr_assert_eq(cairn_auth_users_put(&users, IT_CLUSTER_ADMIN, hash, "admin", &st), CAIRN_OK);
    cr_assert_eq(cairn_auth_users_save(c->users_file, &users, &st), CAIRN_OK, "%s", st.message);
    cairn_auth_users_free(&users);
    cairn_auth_secret secret;
    cr_assert_eq(cairn_auth_secret_load(c->token_secret_file, &secret, &st), CAIRN_OK, "%s",
                 st.message);
    cr_assert(cairn_auth_token_create(&secret, IT_CLUSTER_ADMIN, (int64_t)time(NULL) + 3600,
                                      c->access_token, sizeof c->access_token));
    cairn_auth_secret_free(&secret);
}

/* Per-node --set strings, kept for the life of the test process. */
static char g_sets[IT_CLUSTER_MAX * 4][SETS_PER_NODE + 8][PATH_MAX + 96];
static int g_set_nodes;
/* Clusters live as long as the test process (their nodes are the harness's to stop). */
static it_cluster g_clusters[4];
static it_cluster_opts g_cluster_opts[4]; /* what each was started with, for restarts */
static int g_cluster_count;

/* Starts member i of c with its own --set lines (kept in g_sets for the process's life). */
static it_node *start_member(const it_cluster *c, const it_cluster_opts *opts, int i,
                             const char *secret_file, const char *reuse_dir,
                             const char *const *extra)
{
    char(*s)[PATH_MAX + 96] = g_sets[g_set_nodes++];
    const char *argv[SETS_PER_NODE + 16];
    int n = 0;
    char listed[sizeof c->members] = "";
    for (int j = 0; j < c->count; j++)
        if (!c->listed_mask || (c->listed_mask & (1u << j))) {
            strcat(listed, listed[0] ? "," : "");
            strcat(listed, c->ids[j]);
        }
    snprintf(s[n], sizeof s[n], "gateway.listen=%s", c->ids[i]), argv[n] = s[n], n++;
    snprintf(s[n], sizeof s[n], "cluster.members=%s%s", listed,
             (opts->extra_member_mask & (1u << i)) ? "," IT_CLUSTER_ABSENT_MEMBER : "");
    argv[n] = s[n], n++;
    snprintf(s[n], sizeof s[n], "cluster.secret_file=%s", secret_file), argv[n] = s[n], n++;
    snprintf(s[n], sizeof s[n], "cluster.ping_interval_ms=%d", IT_CLUSTER_PING_MS);
    argv[n] = s[n], n++;
    snprintf(s[n], sizeof s[n], "replicator.admin_listen=127.0.0.1:0"), argv[n] = s[n], n++;
    if (opts->layout == IT_LAYOUT_PORTS) {
        snprintf(s[n], sizeof s[n], "cluster.peer_listen=127.0.0.1:0"), argv[n] = s[n], n++;
        snprintf(s[n], sizeof s[n], "cluster.raft_listen=127.0.0.1:0"), argv[n] = s[n], n++;
    }
    /* every member of a new cluster starts within this bound of the others: no wait for a
     * member that is absent on purpose (IT_CLUSTER_ABSENT_MEMBER) beyond it */
    snprintf(s[n], sizeof s[n], "distro.load_wait_ms=2000"), argv[n] = s[n], n++;
    if (opts->auth) {
        snprintf(s[n], sizeof s[n], "auth.enabled=true"), argv[n] = s[n], n++;
        snprintf(s[n], sizeof s[n], "auth.token_secret_file=%s", c->token_secret_file);
        argv[n] = s[n], n++;
        snprintf(s[n], sizeof s[n], "auth.users_file=%s", c->users_file), argv[n] = s[n], n++;
    }
    /* a member that hears no peer (the wrong secret) comes up alone, empty, after this */
    if (i == opts->wrong_secret_node)
        snprintf(s[n], sizeof s[n], "distro.load_alone_ms=1000"), argv[n] = s[n], n++;
    for (const char *const *x = opts->sets; x && *x && n < SETS_PER_NODE + 7; x++)
        argv[n++] = *x;
    for (const char *const *x = extra; x && *x && n < SETS_PER_NODE + 7; x++)
        argv[n++] = *x;
    argv[n] = NULL;
    it_node_opts no = {.sets = argv, .reuse_dir = reuse_dir};
    return node_spawn(&no);
}

it_node *cluster_start_member(it_cluster *c, const it_cluster_opts *opts, int i,
                              const char *reuse_dir, const char *const *extra_sets, bool wait)
{
    cr_assert(i >= 0 && i < c->count);
    cr_assert(g_set_nodes < IT_CLUSTER_MAX * 4, "too many cluster nodes");
    c->nodes[i] = start_member(c, opts, i, c->secret_file, reuse_dir, extra_sets);
    if (wait)
        node_await_ready(c->nodes[i]);
    return c->nodes[i];
}

it_cluster *cluster_start(const it_cluster_opts *opts)
{
    cr_assert(opts->nodes >= 1 && opts->nodes <= IT_CLUSTER_MAX);
    cr_assert(g_set_nodes + opts->nodes <= IT_CLUSTER_MAX * 4, "too many cluster nodes");
    cr_assert(g_cluster_count < (int)(sizeof g_clusters / sizeof g_clusters[0]),
              "too many clusters");
    g_cluster_opts[g_cluster_count] = *opts;
    it_cluster *c = &g_clusters[g_cluster_count++];
    memset(c, 0, sizeof *c);
    c->count = opts->nodes;
    c->listed_mask = opts->listed_mask;
    const char *dir = it_tmpdir();
    snprintf(c->secret_file, sizeof c->secret_file, "%s/secret", dir);
    write_secret(c->secret_file, "cluster");
    char wrong_secret[PATH_MAX];
    snprintf(wrong_secret, sizeof wrong_secret, "%s/wrong-secret", dir);
    write_secret(wrong_secret, "another");
    if (opts->auth)
        write_auth(c, dir);

    char hosts[IT_CLUSTER_MAX][24];
    int ports[IT_CLUSTER_MAX];
    if (opts->layout == IT_LAYOUT_HOSTS) {
        const char *hs[IT_CLUSTER_MAX];
        for (int i = 0; i < c->count; i++) {
            snprintf(hosts[i], sizeof hosts[i], "127.0.0.%d", i + 1);
            hs[i] = hosts[i];
        }
        int port = pick_port(hs, c->count, true);
        for (int i = 0; i < c->count; i++)
            ports[i] = port;
    } else {
        const char *lo[] = {"127.0.0.1"};
        for (int i = 0; i < c->count; i++) {
            snprintf(hosts[i], sizeof hosts[i], "127.0.0.1");
            bool taken;
            do {
                ports[i] = pick_port(lo, 1, false);
                taken = false;
                for (int k = 0; k < i; k++)
                    taken = taken || ports[k] == ports[i];
            } while (taken);
        }
    }
    for (int i = 0; i < c->count; i++) {
        snprintf(c->ids[i], sizeof c->ids[i], "%.23s:%d", hosts[i], ports[i]);
        strcat(c->members, i ? "," : "");
        strcat(c->members, c->ids[i]);
    }
    /* all spawned first, then awaited: a member becomes ready once it has heard its peers */
    for (int i = 0; i < c->count; i++)
        if (!(opts->late_mask & (1u << i)))
            c->nodes[i] = start_member(c, opts, i,
                                       i == opts->wrong_secret_node ? wrong_secret
                                                                    : c->secret_file,
                                       NULL, NULL);
    for (int i = 0; i < c->count; i++)
        if (c->nodes[i])
            node_await_ready(c->nodes[i]);
    return c;
}

/* A string of member `member`'s own entry in node `viewer`'s operator/servers: the top-level
 * `key`, or extendInfo's when `in_ext`. false when the request fails or there is none. */
static bool servers_field(const it_cluster *c, int viewer, int member, bool in_ext,
                          const char *key, char *out, size_t len)
{
    out[0] = '\0';
    char path[64 + CAIRN_AUTH_TOKEN_MAX] = "/nacos/v1/ns/operator/servers";
    if (c->access_token[0])
        snprintf(path, sizeof path, "/nacos/v1/ns/operator/servers?accessToken=%s",
                 c->access_token);
    http_resp r = http_get_addr(c->nodes[viewer]->gateway, path, 2000);
    bool found = false;
    json_t *root = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(root, "servers"), i, s) {
        const char *address = json_string_value(json_object_get(s, "address"));
        json_t *holder = in_ext ? json_object_get(s, "extendInfo") : s;
        const char *value = json_string_value(json_object_get(holder, key));
        if (address && value && strcmp(address, c->ids[member]) == 0) {
            snprintf(out, len, "%s", value);
            found = true;
        }
    }
    json_decref(root);
    http_resp_free(&r);
    return found;
}

bool cluster_member_state(const it_cluster *c, int viewer, int member, char *state, size_t len)
{
    return servers_field(c, viewer, member, false, "state", state, len);
}

bool cluster_raft_leader_seen_by(const it_cluster *c, int i, char *leader, size_t len)
{
    return servers_field(c, i, i, true, "raftLeader", leader, len) &&
           strcmp(leader, "none") != 0;
}

typedef struct leader_arg {
    const it_cluster *c;
    unsigned nodes;
    int leader; /* index, once agreed */
} leader_arg;

static bool leader_agreed(void *arg)
{
    leader_arg *a = arg;
    char first[64] = "", l[64];
    for (int i = 0; i < a->c->count; i++) {
        if (!(a->nodes & (1u << i)))
            continue;
        if (!cluster_raft_leader_seen_by(a->c, i, l, sizeof l))
            return false;
        if (!first[0])
            snprintf(first, sizeof first, "%s", l);
        else if (strcmp(first, l) != 0)
            return false;
    }
    for (int i = 0; i < a->c->count; i++)
        if (strcmp(a->c->ids[i], first) == 0)
            a->leader = i;
    return a->leader >= 0;
}

int cluster_wait_raft_leader(const it_cluster *c, unsigned nodes, int timeout_ms)
{
    leader_arg a = {.c = c, .nodes = nodes ? nodes : (1u << c->count) - 1, .leader = -1};
    cr_assert(wait_until(leader_agreed, &a, timeout_ms), "the members agree on no raft leader");
    return a.leader;
}

typedef struct wait_arg {
    const it_cluster *c;
    unsigned viewers, members;
    const char *state;
} wait_arg;

static bool all_in_state(void *arg)
{
    wait_arg *w = arg;
    for (int v = 0; v < w->c->count; v++) {
        if (!(w->viewers & (1u << v)))
            continue;
        for (int m = 0; m < w->c->count; m++) {
            char st[32];
            if ((w->members & (1u << m)) &&
                (!cluster_member_state(w->c, v, m, st, sizeof st) || strcmp(st, w->state) != 0))
                return false;
        }
    }
    return true;
}

bool cluster_wait_all(const it_cluster *c, unsigned viewers, unsigned members, const char *state,
                      int timeout_ms)
{
    unsigned all = (1u << c->count) - 1;
    wait_arg w = {c, viewers ? viewers : all, members ? members : all, state};
    return wait_until(all_in_state, &w, timeout_ms);
}

bool cluster_wait_state(const it_cluster *c, int viewer, int member, const char *state,
                        int timeout_ms)
{
    return cluster_wait_all(c, 1u << viewer, 1u << member, state, timeout_ms);
}

bool cluster_peer_address(const it_cluster *c, int i, char *hostport, size_t len)
{
    return servers_field(c, i, i, true, "peerAddress", hostport, len);
}

void cluster_restart_node(it_cluster *c, int i)
{
    int k = (int)(c - g_clusters);
    cr_assert(k >= 0 && k < g_cluster_count && i >= 0 && i < c->count, "no such member");
    cr_assert(c->nodes[i]->stopped, "member %d still runs", i);
    cr_assert(g_set_nodes < IT_CLUSTER_MAX * 4, "too many cluster node starts");
    const it_cluster_opts *opts = &g_cluster_opts[k];
    char secret[PATH_MAX];
    snprintf(secret, sizeof secret, "%s", c->secret_file);
    if (i == opts->wrong_secret_node) {
        char *slash = strrchr(secret, '/');
        snprintf(slash + 1, sizeof secret - (size_t)(slash + 1 - secret), "wrong-secret");
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", c->nodes[i]->dir);
    c->nodes[i] = start_member(c, opts, i, secret, dir, NULL);
    node_await_ready(c->nodes[i]);
}

static const char *const ROLE_BINARIES[] = {"cairn-gateway", "cairn-registry", "cairn-healthcheck",
                                            "cairn-pusher", "cairn-replicator", "cairn-grpc"};

void cluster_crash_node(it_cluster *c, int i)
{
    it_node *n = c->nodes[i];
    cr_assert(!n->stopped && !it_proc_exited(n->run), "member %d is not running", i);
    cr_assert_eq(kill(n->run->pid, SIGSTOP), 0);
    int64_t deadline = it_now_ms() + IT_STOP_TIMEOUT_MS;
    bool left = true;
    while (left && it_now_ms() < deadline) {
        left = false;
        for (size_t b = 0; b < sizeof ROLE_BINARIES / sizeof ROLE_BINARIES[0]; b++) {
            pid_t pid = node_role_pid(n, ROLE_BINARIES[b]);
            if (pid > 0 && kill(pid, SIGKILL) == 0)
                left = true; /* look again: a copy (pushers) or a zombie not yet reaped */
        }
        if (left)
            usleep(20 * 1000);
    }
    kill(n->run->pid, SIGKILL);
    kill(n->run->pid, SIGCONT);
    cr_assert(it_proc_wait(n->run, IT_STOP_TIMEOUT_MS), "member %d's supervisor did not die", i);
    cr_assert(!left, "member %d still has role processes", i);
    node_stop(n); /* already gone: marks it stopped and checks nothing is left */
}

/* ---- reading a cluster the way its tests do (cairn_cluster.h) -------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cluster_owner_among(const it_cluster *c, unsigned mask, const char *service)
{
    const char *sorted[IT_CLUSTER_MAX];
    uint32_t n = 0;
    for (int i = 0; i < c->count; i++)
        if (mask & (1u << i))
            sorted[n++] = c->ids[i];
    cr_assert_gt(n, 0, "no member in mask 0x%x", mask);
    qsort(sorted, n, sizeof sorted[0], cmp_str);
    char grouped[256];
    snprintf(grouped, sizeof grouped, "DEFAULT_GROUP@@%s", service);
    const char *id = sorted[cairn_distro_index(grouped, strlen(grouped), n)];
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->ids[i], id) == 0)
            return i;
    cr_assert_fail("no owner for %s", service);
    return -1;
}

int cluster_hosts_at(const char *hostport, const char *service, int *status)
{
    http_resp r = nacos_call_at(hostport, "GET", NS "/instance/list", Q("serviceName", service),
                                NULL, NULL);
    int n = -1;
    if (status)
        *status = (int)r.status;
    if (r.status == 200) {
        json_t *l = json_parse_or_fail(r.body);
        n = list_host_count(l);
        json_decref(l);
    } else if (r.status == 404 || (r.body && strstr(r.body, "not found"))) {
        n = 0;
    }
    http_resp_free(&r);
    return n;
}

int cluster_host_health_at(const char *hostport, const char *service, const char *ip)
{
    /* the instance's own record: a list shows every host healthy once the protect threshold
     * is reached (a lone unhealthy instance reaches the default threshold 0) */
    http_resp r = nacos_call_at(hostport, "GET", NS "/instance",
                                Q("serviceName", service, "ip", ip, "port", "8080"), NULL, NULL);
    int state = -1;
    if (r.status == 200) {
        json_t *h = json_parse_or_fail(r.body);
        state = jbool(h, "healthy") ? 1 : 0;
        json_decref(h);
    }
    http_resp_free(&r);
    return state;
}

void cluster_beat_at(const char *hostport, const char *service, const char *ip)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"serviceName\":\"DEFAULT_GROUP@@%s\",\"ip\":\"%s\",\"port\":8080,"
             "\"cluster\":\"DEFAULT\",\"scheduled\":true}", service, ip);
    http_resp r = nacos_call_at(hostport, "PUT", NS "/instance/beat",
                                Q("serviceName", service, "ip", ip, "port", "8080", "beat", body),
                                NULL, NULL);
    cr_expect_eq(r.status, 200, "beat: %ld %s", r.status, r.body);
    http_resp_free(&r);
}

/* ---- partitions ----------------------------------------------------------------------------- */

/* Runs a shell command; true when it exits 0. */
static bool sh(const char *cmd)
{
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

void cluster_netns_enter(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): the test makes its own "
                     "network namespace (unshare) and cuts a node off with `ip rule`");
    if (!sh("command -v ip >/dev/null 2>&1"))
        cr_skip_test("needs `ip` (iproute2) to cut a node off with routing rules");
    if (unshare(CLONE_NEWNET) != 0)
        cr_skip_test("unshare(CLONE_NEWNET) failed (%s): needs CAP_SYS_ADMIN, e.g. a container "
                     "run with --cap-add SYS_ADMIN --cap-add NET_ADMIN", strerror(errno));
    cr_assert(sh("ip link set lo up && ip rule add pref 100 lookup local && ip rule del pref 0"),
              "could not set up loopback and the rule order in the new namespace");
}

void cluster_cut_host(int i, bool on)
{
    char cmd[256];
    if (on)
        snprintf(cmd, sizeof cmd,
                 "ip rule add pref %d to 127.0.0.%d prohibit && "
                 "ip rule add pref %d from 127.0.0.%d prohibit",
                 10 + 2 * i, i + 1, 11 + 2 * i, i + 1);
    else
        snprintf(cmd, sizeof cmd, "ip rule del pref %d && ip rule del pref %d", 10 + 2 * i,
                 11 + 2 * i);
    cr_assert(sh(cmd), "could not %s the rules cutting off 127.0.0.%d", on ? "add" : "remove",
              i + 1);
}
