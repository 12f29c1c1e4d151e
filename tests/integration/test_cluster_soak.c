/* The kill -9 soak in a three-node cluster: a bounded load of persistent registrations and
 * deregistrations (Raft) goes to the nodes that are up while whole nodes are killed with SIGKILL
 * (every role process and the supervisor: cluster_crash_node) one at a time, the leader as often
 * as a follower, and started again on their data. Between a kill and the restart the two
 * survivors must acknowledge writes; after the last restart every node must list every instance
 * whose last acknowledged write registered it and none whose last acknowledged write removed it.
 * A write that got no clear answer (503, a timeout, a node going down under it) may or may not
 * have been applied: its instance is not judged until a later write is acknowledged.
 *
 * Ephemeral instances are not part of it: a Distro owner acknowledges before it replicates, so
 * what a node acknowledged just before its kill is missing on the others until it is back
 * (test_cluster_faults checks what survivors acknowledged; test_soak the ephemeral writes
 * through role kills of one node).
 *
 * Parameters (environment; `make soak` sets them longer):
 *   CLUSTER_SOAK_KILLS  node kills (default 3; at most 16, the harness's node starts)
 *   SOAK_SEED           the seed of the kill order and the load's choices (default: clock) */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

TestSuite(cluster_soak, .fini = it_teardown, .timeout = 1800);

#define UP_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define PROGRESS_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000) /* for the writes of a gap */
#define CONVERGE_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)
#define REQUEST_TIMEOUT_MS 8000 /* above raft.submit_timeout_ms + raft.forward_wait_ms */
#define GAP_WRITES 40           /* acknowledged writes before a kill and while a node is down */
#define THREADS 2
#define SERVICES 4
#define SLOTS 96 /* instances per thread: 127.84.<thread>.<slot + 1>:<8000 + service> */

static const char *const sets[] = {
    "raft.election_timeout_ms=1000", "raft.heartbeat_ms=100", "raft.bootstrap_wait_ms=1000",
    "raft.submit_timeout_ms=3000", "raft.forward_wait_ms=2000", "run.restart_backoff_max_ms=1000",
    NULL};

typedef enum { ABSENT, PRESENT, UNKNOWN } slot_state;

typedef struct soak {
    char gateways[3][64]; /* the nodes' gateway addresses, the same across restarts */
    atomic_uint up;       /* nodes the load may use (bit i: node i) */
    atomic_bool stop;
    atomic_long acked, unclear, unexpected;
    char unexpected_text[512]; /* the first unexpected answer */
    pthread_mutex_t lock;      /* unexpected_text */
    struct {
        int id;
        uint64_t rng;
        slot_state state[SLOTS];
        int service[SLOTS];
    } threads[THREADS];
} soak;

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void slot_address(int thread, int slot, char *ip, size_t len)
{
    snprintf(ip, len, "127.84.%d.%d", thread, slot + 1);
}

/* One write of slot k through node i: register when it may be absent, else deregister. */
static void write_slot(soak *s, int t, int k, int i)
{
    bool reg = s->threads[t].state[k] != PRESENT;
    char ip[32], url[256];
    slot_address(t, k, ip, sizeof ip);
    snprintf(url, sizeof url,
             "http://%s" NS "/instance?serviceName=csoak-%d&ip=%s&port=%d&ephemeral=false",
             s->gateways[i], s->threads[t].service[k], ip, 8000 + s->threads[t].service[k]);
    http_resp r = http_request(reg ? "POST" : "DELETE", url, NULL, 0, NULL, NULL,
                               REQUEST_TIMEOUT_MS);
    if (r.status == 200 && strcmp(r.body, "ok") == 0) {
        s->threads[t].state[k] = reg ? PRESENT : ABSENT;
        atomic_fetch_add(&s->acked, 1);
    } else {
        /* 503 (no leader yet, a node going down), no answer: it may have been applied */
        s->threads[t].state[k] = UNKNOWN;
        atomic_fetch_add(&s->unclear, 1);
        if (r.status != 0 && r.status != 503) {
            pthread_mutex_lock(&s->lock);
            if (atomic_fetch_add(&s->unexpected, 1) == 0)
                snprintf(s->unexpected_text, sizeof s->unexpected_text, "%s %s: %ld %.120s",
                         reg ? "POST" : "DELETE", url, r.status, r.body);
            pthread_mutex_unlock(&s->lock);
        }
    }
    http_resp_free(&r);
}

typedef struct load_arg {
    soak *s;
    int t;
} load_arg;

static void *load_main(void *arg)
{
    load_arg *a = arg;
    soak *s = a->s;
    int t = a->t;
    /* bounded: at most this many writes per thread, whatever the kills take */
    for (long n = 0; n < 200000 && !atomic_load(&s->stop); n++) {
        uint64_t x = rng_next(&s->threads[t].rng);
        unsigned up = atomic_load(&s->up);
        int i = (int)(x % 3);
        while (!(up & (1u << i)))
            i = (i + 1) % 3;
        write_slot(s, t, (int)((x >> 8) % SLOTS), i);
    }
    return NULL;
}

typedef struct progress {
    soak *s;
    long target;
} progress;

static bool acked_reaches(void *arg)
{
    progress *p = arg;
    return atomic_load(&p->s->acked) >= p->target;
}

static bool wait_writes(soak *s, long n)
{
    progress p = {s, atomic_load(&s->acked) + n};
    return wait_until(acked_reaches, &p, PROGRESS_TIMEOUT_MS);
}

typedef struct check {
    soak *s;
    int lost, resurrected; /* on the last look, over every node */
    char first[160];
} check;

/* Whether every node lists exactly what the acknowledged writes say (unknown slots aside). */
static bool converged(void *arg)
{
    check *c = arg;
    soak *s = c->s;
    c->lost = c->resurrected = 0;
    c->first[0] = '\0';
    for (int i = 0; i < 3; i++) {
        for (int svc = 0; svc < SERVICES; svc++) {
            char name[32];
            snprintf(name, sizeof name, "csoak-%d", svc);
            char *url = NULL;
            cr_assert(asprintf(&url, "http://%s" NS "/instance/list?serviceName=%s",
                               s->gateways[i], name) > 0);
            http_resp r = http_request("GET", url, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS);
            free(url);
            json_t *l = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
            for (int t = 0; t < THREADS; t++) {
                for (int k = 0; k < SLOTS; k++) {
                    slot_state want = s->threads[t].state[k];
                    if (want == UNKNOWN || s->threads[t].service[k] != svc)
                        continue;
                    char ip[32];
                    slot_address(t, k, ip, sizeof ip);
                    bool listed = l && list_find_host(l, ip, 8000 + svc) != NULL;
                    bool wrong = want == PRESENT ? !listed : listed;
                    if (!wrong)
                        continue;
                    *(want == PRESENT ? &c->lost : &c->resurrected) += 1;
                    if (!c->first[0])
                        snprintf(c->first, sizeof c->first, "%s:%d of %s on node %d (%s)", ip,
                                 8000 + svc, name, i,
                                 l ? (want == PRESENT ? "not listed" : "listed")
                                   : "the list failed");
                }
            }
            json_decref(l);
            http_resp_free(&r);
        }
    }
    return c->lost == 0 && c->resurrected == 0;
}

static long env_long(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    cr_assert(errno == 0 && *end == '\0' && x >= min && x <= max, "%s=%s: expected %ld..%ld",
              name, v, min, max);
    return x;
}

IT_TEST(cluster_soak, node_kills_lose_no_acknowledged_persistent_write)
{
    long kills = env_long("CLUSTER_SOAK_KILLS", 3, 1, 16);
    const char *seed_text = getenv("SOAK_SEED");
    uint64_t seed = seed_text && *seed_text ? strtoull(seed_text, NULL, 10)
                                            : (uint64_t)time(NULL) ^ (uint64_t)it_now_ms();
    cr_log_info("cluster soak: seed %llu (replay with SOAK_SEED=%llu), %ld node kills",
                (unsigned long long)seed, (unsigned long long)seed, kills);
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_HOSTS, .wrong_secret_node = -1,
                         .sets = sets};
    it_cluster *c = cluster_start(&o);
    cr_assert(cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS), "not every node shows all 3 UP");

    static soak s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    for (int i = 0; i < 3; i++)
        snprintf(s.gateways[i], sizeof s.gateways[i], "%s", c->nodes[i]->gateway);
    atomic_store(&s.up, 0x7u);
    uint64_t rng = seed;
    for (int t = 0; t < THREADS; t++) {
        s.threads[t].rng = rng_next(&rng);
        for (int k = 0; k < SLOTS; k++)
            s.threads[t].service[k] = (int)(rng_next(&rng) % SERVICES);
    }
    pthread_t th[THREADS];
    load_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (load_arg){&s, t};
        cr_assert_eq(pthread_create(&th[t], NULL, load_main, &args[t]), 0);
    }

    int64_t t0 = it_now_ms();
    long by_node[3] = {0};
    const char *failed = NULL;
    for (long k = 0; k < kills && !failed; k++) {
        if (!wait_writes(&s, GAP_WRITES)) {
            failed = "no writes were acknowledged with every node up";
            break;
        }
        int victim = (int)(rng_next(&rng) % 3);
        atomic_fetch_and(&s.up, ~(1u << victim));
        cluster_crash_node(c, victim);
        by_node[victim]++;
        if (!wait_writes(&s, GAP_WRITES)) {
            failed = "the two survivors acknowledged no writes";
            break;
        }
        cluster_restart_node(c, victim);
        cr_assert_str_eq(c->nodes[victim]->gateway, s.gateways[victim]);
        if (!cluster_wait_all(c, 0, 0, "UP", UP_TIMEOUT_MS)) {
            failed = "the restarted node did not rejoin (not every node shows all 3 UP)";
            break;
        }
        atomic_fetch_or(&s.up, 1u << victim);
        cr_log_info("cluster soak: kill %ld/%ld: node %d, back and UP; %ld writes acknowledged "
                    "so far",
                    k + 1, kills, victim, atomic_load(&s.acked));
    }
    if (!failed && !wait_writes(&s, GAP_WRITES))
        failed = "no writes were acknowledged after the last restart";
    atomic_store(&s.stop, true);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    cr_assert(!failed, "seed %llu: %s", (unsigned long long)seed, failed);

    check chk = {.s = &s};
    bool ok = wait_until(converged, &chk, CONVERGE_TIMEOUT_MS);
    long present = 0, absent = 0, unknown = 0;
    for (int t = 0; t < THREADS; t++)
        for (int k = 0; k < SLOTS; k++)
            *(s.threads[t].state[k] == PRESENT  ? &present
              : s.threads[t].state[k] == ABSENT ? &absent
                                                : &unknown) += 1;
    cr_log_info("cluster soak: seed %llu, %lld s, kills %ld (node 0: %ld, 1: %ld, 2: %ld); "
                "acknowledged writes %ld, unclear %ld (unexpected %ld); instances judged on "
                "every node: %ld present, %ld absent, %ld unknown; lost %d, resurrected %d",
                (unsigned long long)seed, (long long)((it_now_ms() - t0) / 1000), kills,
                by_node[0], by_node[1], by_node[2], atomic_load(&s.acked),
                atomic_load(&s.unclear), atomic_load(&s.unexpected), present, absent, unknown,
                chk.lost, chk.resurrected);
    cr_expect_eq(atomic_load(&s.unexpected), 0, "an answer other than 200 or 503: %s",
                 s.unexpected_text);
    cr_assert(ok, "seed %llu: %d acknowledged registrations lost, %d acknowledged deletions "
              "undone; the first: %s",
              (unsigned long long)seed, chk.lost, chk.resurrected, chk.first);
    pthread_mutex_destroy(&s.lock);
}
