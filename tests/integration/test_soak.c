/* The kill -9 soak: a bounded write load (ephemeral and persistent registrations,
 * deregistrations, light beats, lists) runs while random roles of the node (gateway, registry,
 * healthcheck, pusher, grpc) are killed with SIGKILL, one at a time; then every acknowledged write
 * must be what the registry holds (cairn_soak_load.h says what "acknowledged" and "unknown"
 * mean and how an instance is judged). Ephemeral instances must survive role crashes as
 * persistent ones do: the store commits them before the reply (without fsync, which only a
 * machine crash needs); the beat and delete timeouts are a day so no instance expires.
 *
 * Each kill waits for the supervisor to bring the role back and the node ready again
 * (cairn_harness_kill.h), then for the load to get a random number of acknowledged writes
 * through the restarted node, before the next kill. The roles are killed in rounds, each round
 * every role once in a random order.
 *
 * `make test` runs a short version; `make soak` a long one. Parameters (environment):
 *   SOAK_KILLS        kills (default 10)
 *   SOAK_SECONDS      the most time the kills may take (default 120, sanitizer build 300);
 *                     a soak that cannot do its SOAK_KILLS kills within it fails, saying how
 *                     many it did: a run that stopped short proved less than it was asked to
 *   SOAK_CONNECTIONS  keep-alive connections of the load (default 16)
 *   SOAK_SEED         the seed of every random choice (default: from the clock), printed at
 *                     the start and the end; the same seed gives the same kill order and the
 *                     same choices per connection (timing, and so the answers, still vary).
 *   SOAK_HOLD_S       when a kill fails, keep the node running this many seconds (default 0,
 *                     at most 3600) after printing its role pids, so that its stuck process can
 *                     be examined (gdb -p) before the teardown kills it. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn_harness.h"
#include "cairn_harness_kill.h"
#include "cairn_harness_udp.h"
#include "cairn_soak_load.h"

/* The long soak's own bounds (SOAK_SECONDS at most an hour) keep it within this. */
TestSuite(soak, .fini = it_teardown, .timeout = 4000);

#define SERVICES 8
#define GAP_MIN 50 /* acknowledged writes between one kill's restart and the next kill */
#define GAP_MAX 400
#define KILL_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000)     /* kill to node ready again */
#define PROGRESS_TIMEOUT_MS (IT_SANITIZED ? 60000 : 30000) /* for the writes of a gap */
#define REQUEST_TIMEOUT_MS 15000 /* above gateway.registry_timeout_ms (5 s in tests) */

/* No instance expires during the soak; a role killed again soon is restarted within 1 s. */
#define SOAK_SETS                                                                             \
    "health.beat_timeout_ms=86400000", "health.delete_timeout_ms=86400000",                   \
        "run.restart_backoff_max_ms=1000"

typedef struct soak_params {
    unsigned long long seed;
    long kills, seconds, connections, hold_s;
} soak_params;

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

static soak_params params_from_env(void)
{
    soak_params p;
    p.kills = env_long("SOAK_KILLS", 10, 1, 100000);
    p.seconds = env_long("SOAK_SECONDS", IT_SANITIZED ? 300 : 120, 1, 3600);
    p.connections = env_long("SOAK_CONNECTIONS", 16, 1, SOAK_MAX_CONNECTIONS);
    p.hold_s = env_long("SOAK_HOLD_S", 0, 0, 3600);
    const char *seed = getenv("SOAK_SEED");
    if (seed && *seed) {
        char *end;
        errno = 0;
        p.seed = strtoull(seed, &end, 10);
        cr_assert(errno == 0 && *end == '\0', "SOAK_SEED=%s: expected a decimal number", seed);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        p.seed = ((unsigned long long)ts.tv_sec * 1000003ULL) ^ (unsigned long long)ts.tv_nsec ^
                 ((unsigned long long)getpid() << 32);
    }
    return p;
}

/* Instances per connection: a write with an unknown outcome retires its instance, and a kill
 * makes about one per connection, so longer soaks need more of them; short ones fewer, so that
 * each is written several times (re-registered, deregistered, registered again). */
static int slots_for(long kills)
{
    long s = 48 + 2 * kills;
    return (int)(s > SOAK_MAX_SLOTS ? SOAK_MAX_SLOTS : s);
}

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* What the kills did, and the first failure. */
typedef struct kill_log {
    long done;
    long per_role[8];
    int64_t ready_total_ms, ready_max_ms;
    char why[1400];
} kill_log;

typedef struct progress {
    const soak_load *load;
    long want;
} progress;

static bool enough_writes(void *arg)
{
    const progress *p = arg;
    return soak_load_acked_writes(p->load) >= p->want;
}

/* Waits until the load has `gap` more acknowledged writes; false with the reason in log->why. */
static bool wait_writes(const soak_load *l, long gap, const char *after, kill_log *log)
{
    progress p = {l, soak_load_acked_writes(l) + gap};
    if (wait_until(enough_writes, &p, PROGRESS_TIMEOUT_MS))
        return true;
    snprintf(log->why, sizeof log->why,
             "%s, the node acknowledged %ld of %ld writes within %d ms", after,
             soak_load_acked_writes(l) - (p.want - gap), gap, PROGRESS_TIMEOUT_MS);
    return false;
}

/* The role of kill k: every round of it_node_role_count kills is a fresh random order. */
static const it_role *role_of_kill(uint64_t *rng, long k, size_t *order)
{
    size_t n = it_node_role_count;
    if (k % (long)n == 0) {
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(rng_next(rng) % (i + 1));
            size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    return &it_node_roles[order[k % (long)n]];
}

/* The kills, each after a random number of acknowledged writes, until p->kills are done or the
 * time is up. False with the reason in log->why when a role did not come back or the node did
 * not take writes after a restart. */
static bool run_kills(it_node *n, const soak_load *l, const soak_params *p, kill_log *log)
{
    uint64_t rng = p->seed ^ 0x6b696c6c73ULL; /* the kills' stream, apart from the load's */
    size_t order[8];
    int64_t t0 = it_now_ms(), end = t0 + p->seconds * 1000;
    char after[160] = "before the first kill";
    for (long k = 0; k < p->kills; k++) {
        const it_role *role = role_of_kill(&rng, k, order);
        long gap = GAP_MIN + (long)(rng_next(&rng) % (GAP_MAX - GAP_MIN + 1));
        if (!wait_writes(l, gap, after, log))
            return false;
        if (it_now_ms() >= end) {
            snprintf(log->why, sizeof log->why,
                     "the time (%ld s) was up after %ld of %ld kills (%s)", p->seconds, k,
                     p->kills, after);
            return false;
        }
        it_kill_result kr;
        if (!node_kill9_role(n, role, KILL_TIMEOUT_MS, &kr)) {
            snprintf(log->why, sizeof log->why, "kill %ld at %lld ms: %s", k + 1,
                     (long long)(it_now_ms() - t0), kr.why);
            return false;
        }
        log->done++;
        log->per_role[role - it_node_roles]++;
        log->ready_total_ms += kr.ready_ms;
        if (kr.ready_ms > log->ready_max_ms)
            log->ready_max_ms = kr.ready_ms;
        snprintf(after, sizeof after, "after kill %ld (%s, pid %d -> %d, ready in %lld ms)",
                 k + 1, role->binary, (int)kr.old_pid, (int)kr.new_pid,
                 (long long)kr.ready_ms);
        cr_log_info("soak: kill %ld/%ld at %lld ms: %s pid %d, back as %d, node ready in %lld ms",
                    k + 1, p->kills, (long long)(it_now_ms() - t0), role->binary,
                    (int)kr.old_pid, (int)kr.new_pid, (long long)kr.ready_ms);
    }
    /* The last restart took writes too. */
    return wait_writes(l, GAP_MIN, after, log);
}

static void report(const soak_params *p, const kill_log *log, const soak_counts *c,
                   const soak_check *chk, int64_t took_ms)
{
    cr_log_info("soak: seed %llu, %ld connections, %lld s", p->seed, p->connections,
                (long long)(took_ms / 1000));
    cr_log_info("soak: kills %ld (gateway %ld, registry %ld, healthcheck %ld, pusher %ld, grpc "
                "%ld), node ready again in %lld ms on average, %lld at most",
                log->done, log->per_role[0], log->per_role[1], log->per_role[2],
                log->per_role[3], log->per_role[4], (long long)(log->done ? log->ready_total_ms / log->done : 0),
                (long long)log->ready_max_ms);
    cr_log_info("soak: requests %ld: acknowledged writes %ld (%ld registrations, %ld "
                "deregistrations), unknown writes %ld, beats %ld (not found %ld, unknown %ld), "
                "lists %ld (failed %ld), probes %ld (failed %ld), unexpected answers %ld",
                c->requests, c->registers + c->deregisters, c->registers, c->deregisters,
                c->unknown_writes, c->beats, c->beats_not_found, c->beats_unknown, c->lists,
                c->lists_failed, c->probes, c->probes_failed, c->unexpected);
    cr_log_info("soak: instances checked: %ld present, %ld absent as acknowledged, %ld after an "
                "unknown write; lost %ld, foreign %ld",
                chk->present, chk->absent, chk->undetermined, chk->lost, chk->foreign);
}

/* The first SOAK_REPORTED lines of a list, each on its own line. */
static void join_lines(char *buf, size_t len, const char (*lines)[SOAK_LINE], long count)
{
    buf[0] = '\0';
    for (long i = 0; i < count && i < SOAK_REPORTED; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "\n  %s", lines[i]);
}

/* Every beat of a registered instance found it, and every answer was 200 or 503. */
static void expect_answers(const soak_params *p, const soak_counts *c)
{
    char text[SOAK_REPORTED * (SOAK_LINE + 4)];
    join_lines(text, sizeof text, c->beat_not_found_text, c->beats_not_found);
    cr_expect_eq(c->beats_not_found, 0,
                 "seed %llu: %ld beats of registered instances answered 20404:%s", p->seed,
                 c->beats_not_found, text);
    join_lines(text, sizeof text, c->unexpected_text, c->unexpected);
    cr_expect_eq(c->unexpected, 0, "seed %llu: %ld answers neither 200 nor 503:%s", p->seed,
                 c->unexpected, text);
}

/* Reads the node back (once it is ready) and expects no instance lost or foreign; when says
 * at which point of the test. */
static void check_back(const soak_load *l, it_node *n, const soak_params *p, const char *when,
                       soak_check *chk)
{
    cr_assert(node_wait_ready(n, KILL_TIMEOUT_MS), "seed %llu: the node is not ready %s",
              p->seed, when);
    bool read = soak_load_check(l, n, chk) || !chk->error[0];
    cr_assert(read, "seed %llu: the node could not be read back %s: %s", p->seed, when,
              chk->error);
    char text[SOAK_REPORTED * 610] = "";
    for (int i = 0; i < chk->reported; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "\n  %s", chk->text[i]);
    cr_expect(chk->lost == 0 && chk->foreign == 0,
              "seed %llu, %s: %ld instances lost, %ld foreign:%s", p->seed, when, chk->lost,
              chk->foreign, text);
}

static soak_load *load_start(it_node *n, const soak_params *p, int udp_port)
{
    soak_load_opts lo = {
        .node = n,
        .seed = p->seed,
        .connections = (int)p->connections,
        .slots = slots_for(p->kills),
        .services = SERVICES,
        .udp_port = udp_port,
        .stop_at_ms = it_now_ms() + (p->seconds + 120) * 1000, /* besides soak_load_stop */
        .max_requests = 100000000,
        .request_timeout_ms = REQUEST_TIMEOUT_MS,
    };
    char why[256];
    soak_load *l = soak_load_start(&lo, why, sizeof why);
    cr_assert(l != NULL, "%s", why);
    return l;
}

/* SOAK_HOLD_S: the failed node stays up for a while, its processes named on stderr. */
static void hold_failed_node(const it_node *n, const soak_params *p, const char *why)
{
    if (p->hold_s <= 0)
        return;
    fprintf(stderr, "soak: %s\nsoak: holding the failed node for %ld s: dir %s, pids:", why,
            p->hold_s, n->dir);
    for (size_t i = 0; i < it_node_role_count; i++)
        fprintf(stderr, " %s %d", it_node_roles[i].admin,
                (int)node_role_pid(n, it_node_roles[i].binary));
    fprintf(stderr, "\n");
    struct timespec ts = {.tv_sec = p->hold_s};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* What a failed kill leaves to go on: what the load's requests were answered, the counts of the
 * node's calls to the registry, and the node's log without the probe verdicts that fill it. */
static void report_failure(const it_node *n, const soak_params *p, const kill_log *log,
                           const soak_counts *c)
{
    char *tail = it_log_tail_without(n->run->log_path, 5000, "unhealthy: active probes");
    cr_assert_fail(
        "seed %llu: %s.\nThe load: %ld requests, %ld writes acknowledged, %ld unknown, %ld "
        "unexpected answers, probes %ld (failed %ld), lists %ld (failed %ld), beats %ld (unknown "
        "%ld).\nThe gateway: registry unavailable %.0f, answers 503 %.0f; the registry: requests "
        "%.0f, writes %.0f, replies dropped %.0f.\nThe node's log ends (probe verdicts left "
        "out):\n%s",
        p->seed, log->why, c->requests, c->registers + c->deregisters, c->unknown_writes,
        c->unexpected, c->probes, c->probes_failed, c->lists, c->lists_failed, c->beats,
        c->beats_unknown,
        node_metric(n, "gateway", "cairn_gateway_registry_unavailable_total", NULL),
        node_metric(n, "gateway", "cairn_gateway_requests_total", "status=\"503\""),
        node_metric(n, "registry", "cairn_registry_rpc_requests_total", NULL),
        node_metric(n, "registry", "cairn_registry_writes_total", NULL),
        node_metric(n, "registry", "cairn_registry_rpc_replies_dropped_total", NULL), tail);
}

/* The kills under load, the check of the node after them, and the same check once the node is
 * stopped and started again on its data (what a clean stop keeps: everything). */
IT_TEST(soak, random_kill9_loses_no_acknowledged_write)
{
    soak_params p = params_from_env();
    cr_log_info("soak: seed %llu (replay with SOAK_SEED=%llu), %ld kills within %ld s, %ld "
                "connections",
                p.seed, p.seed, p.kills, p.seconds, p.connections);
    it_udp udp; /* never read: pushes fill its buffer and are dropped, as for a client gone */
    udp_open(&udp);
    it_node_opts o = {.sets = ARGS(SOAK_SETS)};
    it_node *n = node_start(&o);
    int64_t t0 = it_now_ms();
    soak_load *l = load_start(n, &p, udp.port);
    kill_log log = {0};
    bool ok = run_kills(n, l, &p, &log);
    soak_load_stop(l);
    if (!ok) {
        hold_failed_node(n, &p, log.why);
        report_failure(n, &p, &log, soak_load_counts(l));
    }

    soak_check chk;
    check_back(l, n, &p, "after the kills", &chk);
    report(&p, &log, soak_load_counts(l), &chk, it_now_ms() - t0);
    expect_answers(&p, soak_load_counts(l));
    node_stop(n);
    o.reuse_dir = n->dir;
    check_back(l, node_start(&o), &p, "after a restart of the node", &chk);
    cr_log_info("soak: after a restart of the node: %ld present, %ld absent, %ld after an "
                "unknown write; lost %ld, foreign %ld",
                chk.present, chk.absent, chk.undetermined, chk.lost, chk.foreign);
    soak_load_free(l);
    udp_close(&udp);
}
