/* Measurements of a running three-node cluster for bench/cluster.sh, over the Nacos HTTP API of
 * each node (127.0.0.x only):
 *   cairn-bench-cluster visibility --members A,B,C --count N [--timeout-ms T]
 *       registers N new ephemeral instances, each on its service's owner (the Distro index over
 *       the sorted member list, as every replicator computes it), and times how long until both
 *       other nodes list it; prints "BENCH count= p50_us= p99_us= max_us= timeouts="
 *   cairn-bench-cluster failover --members A,B,C --data-dirs D1,D2,D3 --kills K [--timeout-ms T]
 *       K times: waits until the three agree on one raft leader, kill -9 of the leader's
 *       cairn-replicator (found by its node.data_dir), and times until both survivors name the
 *       same other leader in operator/servers; prints "BENCH kills= p50_us= max_us= min_us="
 *   cairn-bench-cluster persist-check --members A,B,C
 *       exit 0 when a persistent registration on the first node is listed by the second within
 *       5 s (persistent writes go through raft), 3 when not.
 * Members are the cluster.members entries, which are the gateways' host:port. Every loop is
 * bounded by its count and its timeout. */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn_java_hash.h"

#define NODES 3
#define MAX_COUNT 100000

static char g_members[NODES][64];
static CURL *g_curl[NODES];

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    buf *b = arg;
    char *grown = realloc(b->data, b->len + size * n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, p, size * n);
    b->data = grown;
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* One request to node i (keep-alive per node); the HTTP status (0: failed), the body in *out
 * (malloc'd, may be NULL). */
static long call(int i, const char *method, const char *path_query, char **out)
{
    char url[1024];
    snprintf(url, sizeof url, "http://%s%s", g_members[i], path_query);
    buf b = {0};
    CURL *h = g_curl[i];
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, strcmp(method, "POST") == 0 ? "" : NULL);
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Nacos-Java-Client:v1.4.1");
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (out)
        *out = b.data;
    else
        free(b.data);
    return status;
}

/* Hosts node i lists for service name (-1: the list failed). */
static int hosts_on(int i, const char *name)
{
    char path[256], *body = NULL;
    snprintf(path, sizeof path, "/nacos/v1/ns/instance/list?serviceName=%s", name);
    long status = call(i, "GET", path, &body);
    int n = status == 404 ? 0 : -1;
    json_t *root = status == 200 && body ? json_loads(body, 0, NULL) : NULL;
    json_t *hosts = json_object_get(root, "hosts");
    if (json_is_array(hosts))
        n = (int)json_array_size(hosts);
    json_decref(root);
    free(body);
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The node owning DEFAULT_GROUP@@name among all three members. */
static int owner_of(const char *name)
{
    const char *sorted[NODES];
    for (int i = 0; i < NODES; i++)
        sorted[i] = g_members[i];
    qsort(sorted, NODES, sizeof sorted[0], cmp_str);
    char grouped[256];
    snprintf(grouped, sizeof grouped, "DEFAULT_GROUP@@%s", name);
    const char *id = sorted[cairn_distro_index(grouped, strlen(grouped), NODES)];
    for (int i = 0; i < NODES; i++)
        if (strcmp(g_members[i], id) == 0)
            return i;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v and prints the BENCH line's percentiles. */
static void print_percentiles(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_i64);
    if (n == 0) {
        printf(" p50_us= p99_us= max_us= min_us=");
        return;
    }
    int p99 = (int)((n * 99 + 99) / 100) - 1; /* nearest rank */
    printf(" p50_us=%lld p99_us=%lld max_us=%lld min_us=%lld", (long long)v[(n - 1) / 2],
           (long long)v[p99 < 0 ? 0 : p99], (long long)v[n - 1], (long long)v[0]);
}

/* One registration on the owner, then polls both other nodes until they list it. The time in
 * microseconds, -1 when it was refused, -2 past timeout_ms. */
static int64_t one_visibility(int k, int timeout_ms, const char *run_tag)
{
    char name[96], path[512];
    snprintf(name, sizeof name, "bench-vis-%s-%d", run_tag, k);
    int owner = owner_of(name);
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance?serviceName=%s&ip=127.2.%d.%d&port=8080&ephemeral=true",
             name, k / 250 % 250, k % 250 + 1);
    int64_t t0 = now_us(), end = t0 + (int64_t)timeout_ms * 1000;
    if (call(owner, "POST", path, NULL) != 200)
        return -1;
    bool seen[NODES] = {false};
    seen[owner] = true;
    while (now_us() < end) {
        bool all = true;
        for (int i = 0; i < NODES; i++) {
            if (!seen[i])
                seen[i] = hosts_on(i, name) == 1;
            all = all && seen[i];
        }
        if (all)
            return now_us() - t0;
        usleep(500);
    }
    return -2;
}

static int visibility(int count, int timeout_ms)
{
    int64_t *lat = calloc((size_t)count, sizeof *lat);
    if (!lat)
        return 1;
    char tag[32];
    snprintf(tag, sizeof tag, "%lx", (unsigned long)time(NULL));
    int n = 0, timeouts = 0, refused = 0;
    for (int k = 0; k < count; k++) {
        int64_t us = one_visibility(k, timeout_ms, tag);
        if (us >= 0)
            lat[n++] = us;
        else if (us == -1)
            refused++;
        else
            timeouts++;
    }
    printf("BENCH count=%d listed=%d", count, n);
    print_percentiles(lat, n);
    printf(" timeouts=%d refused=%d\n", timeouts, refused);
    free(lat);
    return n > 0 ? 0 : 1;
}

/* The raft leader node i names for itself in its operator/servers entry, as a member index (-1:
 * none, or the request failed). settled: only once node i has applied a raft entry, so a member
 * that joined holds the configuration and can vote when the leader is killed. */
static int leader_named_by(int i, bool settled)
{
    char *body = NULL;
    long status = call(i, "GET", "/nacos/v1/ns/operator/servers", &body);
    json_t *root = status == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    int leader = -1;
    size_t k;
    json_t *s;
    json_array_foreach(json_object_get(root, "servers"), k, s) {
        const char *address = json_string_value(json_object_get(s, "address"));
        json_t *ext = json_object_get(s, "extendInfo");
        const char *named = json_string_value(json_object_get(ext, "raftLeader"));
        if (!address || !named || strcmp(address, g_members[i]) != 0)
            continue;
        if (settled && json_integer_value(json_object_get(ext, "raftApplied")) < 1)
            continue;
        for (int m = 0; m < NODES; m++)
            if (strcmp(named, g_members[m]) == 0)
                leader = m;
    }
    json_decref(root);
    return leader;
}

/* The leader every node in mask names, when they all name the same one (-1 otherwise). */
static int agreed_leader(unsigned mask, bool settled)
{
    int leader = -1;
    for (int i = 0; i < NODES; i++) {
        if (!(mask & (1u << i)))
            continue;
        int l = leader_named_by(i, settled);
        if (l < 0 || (leader >= 0 && l != leader))
            return -1;
        leader = l;
    }
    return leader;
}

/* The live cairn-replicator whose command line holds node.data_dir=<dir>; 0 when none. */
static pid_t replicator_of(const char *dir)
{
    char want[1200];
    snprintf(want, sizeof want, "node.data_dir=%s", dir);
    DIR *d = opendir("/proc");
    pid_t found = 0;
    struct dirent *e;
    while (d && !found && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], cmd[8192];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
        if (f)
            fclose(f);
        cmd[n] = '\0';
        const char *base = strrchr(cmd, '/');
        if (n == 0 || strcmp(base ? base + 1 : cmd, "cairn-replicator") != 0)
            continue;
        for (const char *a = cmd; a < cmd + n && !found; a += strlen(a) + 1)
            if (strcmp(a, want) == 0)
                found = (pid_t)atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

/* The parent of pid (its `cairn run` supervisor); 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
    if (f)
        fclose(f);
    stat[n] = '\0';
    const char *end = strrchr(stat, ')'); /* "pid (comm) state ppid ..." */
    int ppid = 0;
    if (!end || sscanf(end + 1, " %*c %d", &ppid) != 1)
        return 0;
    return (pid_t)ppid;
}

/* Polls agreed_leader(mask) until it names a leader other than `not` (-1: any), at most until
 * end_us; the leader or -1. */
static int wait_leader(unsigned mask, int not, int64_t end_us, bool settled)
{
    while (now_us() < end_us) {
        int l = agreed_leader(mask, settled);
        if (l >= 0 && l != not)
            return l;
        usleep(2000);
    }
    return -1;
}

static int failover(int kills, char *const dirs[NODES], int timeout_ms)
{
    int64_t lat[64];
    int n = 0;
    for (int k = 0; k < kills && k < 64; k++) {
        int leader = wait_leader(0x7, -1, now_us() + (int64_t)timeout_ms * 1000, true);
        pid_t pid = leader >= 0 ? replicator_of(dirs[leader]) : 0;
        if (pid <= 0) {
            fprintf(stderr, "failover: no agreed leader or no replicator process (kill %d)\n", k);
            break;
        }
        /* the supervisor is held while the survivors elect: restarted within 200 ms, the killed
         * member could otherwise win the election again and no other leader would be named */
        pid_t supervisor = parent_of(pid);
        if (supervisor > 1)
            kill(supervisor, SIGSTOP);
        int64_t t0 = now_us();
        if (kill(pid, SIGKILL) != 0)
            break;
        unsigned survivors = 0x7 & ~(1u << leader);
        int next = wait_leader(survivors, leader, t0 + (int64_t)timeout_ms * 1000, false);
        if (supervisor > 1)
            kill(supervisor, SIGCONT);
        if (next < 0) {
            fprintf(stderr, "failover: no new leader within %d ms (kill %d)\n", timeout_ms, k);
            break;
        }
        lat[n++] = now_us() - t0;
        fprintf(stderr, "failover %d: node %d killed, node %d leads after %lld ms\n", k, leader,
                next, (long long)(lat[n - 1] / 1000));
        /* the supervisor restarts the killed replicator; the next kill waits for all three */
    }
    printf("BENCH kills=%d", n);
    print_percentiles(lat, n);
    printf("\n");
    return n == kills ? 0 : 1;
}

/* A persistent registration on node 0 listed by node 1 within 5 s: raft carries it. The
 * registration itself is retried for up to 30 s: a cluster just formed answers 503 until raft
 * has elected its first leader (raft.bootstrap_wait_ms and an election, slow on a loaded box). */
static int persist_check(void)
{
    char path[256];
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance?serviceName=bench-persist-check-%lx&ip=127.3.0.1&port=8080"
             "&ephemeral=false",
             (unsigned long)time(NULL));
    int64_t accept_by = now_us() + 30000000;
    long status;
    while ((status = call(0, "POST", path, NULL)) != 200 && now_us() < accept_by)
        usleep(200000);
    if (status != 200)
        return 3;
    const char *name = strstr(path, "bench-persist-check-");
    char svc[64];
    snprintf(svc, sizeof svc, "%.*s", (int)strcspn(name, "&"), name);
    int64_t end = now_us() + 5000000;
    while (now_us() < end) {
        if (hosts_on(1, svc) == 1)
            return 0;
        usleep(20000);
    }
    return 3;
}

/* Splits "a,b,c" into exactly NODES parts of out (each at most cap bytes); false otherwise. */
static bool split3(const char *list, char *out, size_t cap)
{
    int n = 0;
    for (const char *p = list; p && n < NODES; n++) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= cap)
            return false;
        memcpy(out + (size_t)n * cap, p, len);
        out[(size_t)n * cap + len] = '\0';
        p = p[len] ? p + len + 1 : NULL;
        if (!p && n < NODES - 1)
            return false;
    }
    return n == NODES;
}

static int usage(void)
{
    fprintf(stderr, "usage: cairn-bench-cluster visibility|failover|persist-check --members A,B,C "
                    "[--count N] [--kills K] [--data-dirs D1,D2,D3] [--timeout-ms T]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *members = NULL, *dirs_arg = NULL;
    long count = 100, kills = 3, timeout_ms = 10000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--members") == 0)
            members = argv[i + 1];
        else if (strcmp(argv[i], "--data-dirs") == 0)
            dirs_arg = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0)
            count = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--kills") == 0)
            kills = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--timeout-ms") == 0)
            timeout_ms = strtol(argv[i + 1], NULL, 10);
        else
            return usage();
    }
    if (!members || !split3(members, &g_members[0][0], sizeof g_members[0]) || count < 1 ||
        count > MAX_COUNT || kills < 1 || kills > 64 || timeout_ms < 100 || timeout_ms > 600000)
        return usage();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < NODES; i++)
        if (!(g_curl[i] = curl_easy_init()))
            return 1;
    if (strcmp(argv[1], "visibility") == 0)
        return visibility((int)count, (int)timeout_ms);
    if (strcmp(argv[1], "persist-check") == 0)
        return persist_check();
    static char dirs[NODES][1024];
    char *dp[NODES] = {dirs[0], dirs[1], dirs[2]};
    if (strcmp(argv[1], "failover") == 0 && dirs_arg && split3(dirs_arg, &dirs[0][0], sizeof dirs[0]))
        return failover((int)kills, dp, (int)timeout_ms);
    return usage();
}
