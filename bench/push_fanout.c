/* Push fan-out benchmark: COUNT UDP subscribers of one service, one change per round, and how
 * fast the change reaches them, against a trivial sender on the same sockets.
 *
 *   cairn-bench-push [--gateway HOST:PORT [--service S]] [--baseline DOCUMENT_FILE] [options]
 *     --gateway   Cairn's side: every listener subscribes through `GET instance/list` as a
 *                 push-capable agent; a round registers a new instance in S and waits for each
 *                 listener's push that lists it.
 *     --baseline  the baseline's side: a round sends that list document, wrapped as a push
 *                 (baseline_udp.c), to the same listeners.
 *   With both, rounds alternate (Cairn, baseline, Cairn, ...).
 * options: --subscribers N (1000) --rounds R (5, after one warm-up round per side)
 *          --round-timeout-ms T (3000)
 *          --sender-cpus LIST   run the baseline's sends there (the server's CPUs, e.g. 0 or 0-2)
 *          --freeze-pids LIST   processes stopped during baseline rounds (the node: supervisor
 *                               first), so that their background work is not in its figures
 *
 * Prints one line per side: BENCH side=cairn|baseline rps=… p50_us=… p99_us=… received=…
 * expected=… rounds=… busy_ns=… bytes=… gzip=… [ratio=…]. rps is deliveries per second from a
 * round's first arrival to its last (the fan-out rate; the median over rounds); latencies run
 * from the change (the register request, or the baseline's send) to each arrival; ratio is the
 * median over rounds of Cairn's rate divided by the baseline's in the round after. A Cairn
 * warm-up round that delivers nothing gives received=0 (nothing pushes) and no Cairn rounds. */
#include <curl/curl.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "baseline_udp.h"
#include "push_http.h"
#include "push_listeners.h"
#include "push_rounds.h"

#define MARKER_PORT_BASE 40000
#define MAX_PIDS 64

typedef struct options {
    const char *gateway;
    const char *document_file;
    const char *service;
    const char *sender_cpus;
    const char *freeze_pids;
    int subscribers;
    int rounds;
    int round_timeout_ms;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: cairn-bench-push [--gateway HOST:PORT [--service S]] [--baseline FILE]\n"
            "       [--subscribers N] [--rounds R] [--round-timeout-ms T]\n"
            "       [--sender-cpus LIST] [--freeze-pids PID,PID...]\n");
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.service = "bench-push", .subscribers = 1000, .rounds = 5,
                   .round_timeout_ms = 3000};
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v)
            return -1;
        if (!strcmp(k, "--gateway"))
            o->gateway = v;
        else if (!strcmp(k, "--baseline"))
            o->document_file = v;
        else if (!strcmp(k, "--service"))
            o->service = v;
        else if (!strcmp(k, "--sender-cpus"))
            o->sender_cpus = v;
        else if (!strcmp(k, "--freeze-pids"))
            o->freeze_pids = v;
        else if (!strcmp(k, "--subscribers"))
            bad = parse_int(v, 1, 60000, &o->subscribers);
        else if (!strcmp(k, "--rounds"))
            bad = parse_int(v, 1, 1000, &o->rounds);
        else if (!strcmp(k, "--round-timeout-ms"))
            bad = parse_int(v, 10, 60000, &o->round_timeout_ms);
        else
            bad = -1;
        if (bad)
            return -1;
    }
    return o->gateway || o->document_file ? 0 : -1;
}

/* One socket per subscriber: lift the soft open-files limit to the hard one. */
static int raise_fd_limit(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need + 64) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            return -1;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)need + 64 ? 0 : -1;
}

/* "0", "0,2", "1-3" -> a CPU set. */
static int parse_cpus(const char *list, cpu_set_t *set)
{
    CPU_ZERO(set);
    for (const char *p = list; *p;) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0 || lo >= CPU_SETSIZE)
            return -1;
        if (*end == '-') {
            p = end + 1;
            hi = strtol(p, &end, 10);
            if (end == p || hi < lo || hi >= CPU_SETSIZE)
                return -1;
        }
        for (long c = lo; c <= hi; c++)
            CPU_SET((int)c, set);
        if (*end && *end != ',')
            return -1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* "12,34" -> {12, 34, 0}. */
static int parse_pids(const char *list, int *pids, int max)
{
    int n = 0;
    for (const char *p = list; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p || pid <= 1 || pid > 0x7fffffff || n == max - 1 || (*end && *end != ','))
            return -1;
        pids[n++] = (int)pid;
        p = *end == ',' ? end + 1 : end;
    }
    pids[n] = 0;
    return 0;
}

static char *read_document(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && size < 16 * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf)
            len = fread(buf, 1, (size_t)size, f);
        if (buf && len != (size_t)size) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile_us(int64_t *v, int n, double q)
{
    if (n == 0)
        return 0;
    int idx = (int)(q * n + 0.999999) - 1;
    return (double)v[idx < 0 ? 0 : idx >= n ? n - 1 : idx] / 1e3;
}

/* Median of the positive values (sorts them in place); 0 when there are none. */
static double median_positive(double *v, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (v[i] > 0)
            v[m++] = v[i];
    if (m == 0)
        return 0;
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

static void report(const char *name, push_side *s, double ratio)
{
    qsort(s->latency_ns, (size_t)s->received, sizeof *s->latency_ns, cmp_i64);
    double *rates = malloc((size_t)(s->rounds > 0 ? s->rounds : 1) * sizeof *rates);
    double rps = 0;
    if (rates) {
        memcpy(rates, s->rates, (size_t)s->rounds * sizeof *rates);
        rps = median_positive(rates, s->rounds);
        free(rates);
    }
    printf("BENCH side=%s rps=%.0f p50_us=%.0f p99_us=%.0f received=%d expected=%d rounds=%d "
           "busy_ns=%lld bytes=%zu gzip=%d",
           name, rps, percentile_us(s->latency_ns, s->received, 0.50),
           percentile_us(s->latency_ns, s->received, 0.99), s->received, s->expected, s->rounds,
           (long long)s->busy_ns, s->bytes, s->gzip);
    if (ratio > 0)
        printf(" ratio=%.3f", ratio);
    printf("\n");
}

static int side_init(push_side *s, const options *o)
{
    *s = (push_side){0};
    s->latency_ns = calloc((size_t)o->subscribers * (size_t)o->rounds, sizeof *s->latency_ns);
    s->rates = calloc((size_t)o->rounds, sizeof *s->rates);
    return s->latency_ns && s->rates ? 0 : -1;
}

static void side_free(push_side *s)
{
    free(s->latency_ns);
    free(s->rates);
}

/* Warm-up round 0, then `rounds` alternating rounds. */
static int run(const options *o, push_listeners *pl, push_side *cairn_side, push_side *base_side)
{
    char err[512];
    int rc = 0;
    cpu_set_t cpus;
    int freeze[MAX_PIDS] = {0};
    if ((o->sender_cpus && parse_cpus(o->sender_cpus, &cpus) != 0) ||
        (o->freeze_pids && parse_pids(o->freeze_pids, freeze, MAX_PIDS) != 0)) {
        fprintf(stderr, "cairn-bench-push: bad --sender-cpus or --freeze-pids\n");
        return -1;
    }
    push_cairn c = {.service = o->service};
    if (o->gateway && !(c.http = push_http_open(o->gateway))) {
        fprintf(stderr, "cairn-bench-push: cannot set up libcurl\n");
        return -1;
    }
    baseline_udp *b = NULL;
    if (o->document_file) {
        char *doc = read_document(o->document_file);
        uint16_t *ports = malloc((size_t)o->subscribers * sizeof *ports);
        for (int i = 0; ports && i < o->subscribers; i++)
            ports[i] = push_listeners_port(pl, i);
        b = doc && ports ? baseline_udp_open(ports, o->subscribers, doc) : NULL;
        free(ports);
        free(doc);
        if (!b) {
            fprintf(stderr, "cairn-bench-push: cannot read %s or open the baseline sender\n",
                    o->document_file);
            push_http_close(c.http);
            return -1;
        }
    }
    bool pushes = c.http != NULL;
    for (int round = 0; round <= o->rounds && rc == 0; round++) {
        if (pushes) {
            int got = push_cairn_round(&c, pl, MARKER_PORT_BASE + round, o->round_timeout_ms,
                                       round > 0, cairn_side, err, sizeof err);
            if (got < 0) {
                fprintf(stderr, "cairn-bench-push: %s\n", err);
                rc = -1;
            } else if (round == 0 && got == 0) {
                pushes = false; /* nothing pushes: reported as received=0 */
            }
        }
        if (b && rc == 0 &&
            push_baseline_round(b, pl, round + 1, o->round_timeout_ms,
                                o->sender_cpus ? &cpus : NULL, freeze, round > 0, base_side) < 0)
            rc = -1;
    }
    baseline_udp_close(b);
    push_http_close(c.http);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    if (raise_fd_limit(o.subscribers) != 0) {
        fprintf(stderr, "cairn-bench-push: the open files limit is too low for %d sockets\n",
                o.subscribers);
        return 1;
    }
    /* libcurl's global state is set up before any thread exists. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "cairn-bench-push: cannot initialise libcurl\n");
        return 1;
    }
    int rc = -1;
    char err[256] = "out of memory";
    push_side cairn_side, base_side;
    push_listeners *pl = NULL;
    if (side_init(&cairn_side, &o) == 0 && side_init(&base_side, &o) == 0)
        pl = push_listeners_open(o.subscribers, err, sizeof err);
    if (!pl)
        fprintf(stderr, "cairn-bench-push: %s\n", err);
    else
        rc = run(&o, pl, &cairn_side, &base_side);
    push_listeners_close(pl);
    if (rc == 0) {
        double *ratios = malloc((size_t)o.rounds * sizeof *ratios);
        double ratio = 0;
        int n = 0;
        for (int i = 0; ratios && i < cairn_side.rounds && i < base_side.rounds; i++)
            if (cairn_side.rates[i] > 0 && base_side.rates[i] > 0)
                ratios[n++] = cairn_side.rates[i] / base_side.rates[i];
        if (ratios)
            ratio = median_positive(ratios, n);
        free(ratios);
        if (o.gateway)
            report("cairn", &cairn_side, ratio);
        if (o.document_file)
            report("baseline", &base_side, 0);
    }
    side_free(&cairn_side);
    side_free(&base_side);
    curl_global_cleanup();
    return rc == 0 ? 0 : 1;
}
