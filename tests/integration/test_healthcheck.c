/* The healthcheck role (design §4, spec §2.7, §5, §6, §13) with shrunk timings: beats keep an
 * instance healthy, silence makes it unhealthy then removes it, metadata overrides the timeouts,
 * beats for unknown instances, revival, self-preservation, TCP and HTTP probes, the NONE checker
 * with health set by hand, and a kill -9 of the healthcheck under steady beats. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_harness.h"
#include "cairn_harness_health.h"
#include "cairn_ip.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"

TestSuite(healthcheck, .fini = it_teardown, .timeout = 180);

/* Sweep every 200 ms, unhealthy after 1 s and removed after 2 s without a beat; probes every
 * 200 ms. */
#define FAST_SWEEP                                                                            \
    "health.check_interval_ms=200", "health.beat_timeout_ms=1000",                            \
        "health.delete_timeout_ms=2000"
#define FAST_PROBES "health.probe_interval_ms=200", "health.probe_timeout_ms=300"

#define WAIT_MS 15000

static void reg(const it_node *n, const char *ns, const char *svc, const char *ip, int port,
                const char *ephemeral, const char *healthy, const char *metadata)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("namespaceId", ns, "serviceName", svc, "ip", ip, "port", p, "ephemeral",
                     ephemeral, "healthy", healthy, "metadata", metadata ? metadata : "{}"));
}

static const char *grouped(const char *svc, char *buf, size_t len)
{
    snprintf(buf, len, "DEFAULT_GROUP@@%s", svc);
    return buf;
}

/* ---- a beater thread ------------------------------------------------------------------------ */

#define BEATER_MAX 32

typedef struct beater {
    const it_node *n;
    char ns[64], svc[64];
    char ips[BEATER_MAX][32];
    int ports[BEATER_MAX];
    int count;
    int period_ms;
    pthread_t thread;
    atomic_bool stop;
    atomic_long ok;           /* 200 with code 10200 */
    atomic_long unavailable;  /* 503 "healthcheck unavailable..." */
    atomic_long other;        /* anything else */
    atomic_long max_503_ms;   /* slowest 503 */
    atomic_long bad_503_body; /* 503s whose body is not the healthcheck's message */
    atomic_bool reregister;   /* on 20404, register again as a Nacos client does */
    atomic_long reregistered;
} beater;

static void *beater_main(void *arg)
{
    beater *b = arg;
    while (!atomic_load(&b->stop)) {
        int64_t round = it_now_ms();
        for (int i = 0; i < b->count && !atomic_load(&b->stop); i++) {
            char p[16];
            snprintf(p, sizeof p, "%d", b->ports[i]);
            int64_t t0 = it_now_ms();
            /* No assertions in this thread: only counts. */
            http_resp r = nacos_call(b->n, "PUT", NS "/instance/beat",
                                     Q("namespaceId", b->ns, "serviceName", b->svc, "ip",
                                       b->ips[i], "port", p),
                                     NULL, NULL);
            long took = (long)(it_now_ms() - t0);
            if (r.status == 200 && strstr(r.body, "\"code\":10200")) {
                atomic_fetch_add(&b->ok, 1);
            } else if (atomic_load(&b->reregister) && r.status == 200 &&
                       strstr(r.body, "\"code\":20404")) {
                /* As Nacos clients do: an instance the server no longer has is registered
                 * again (one whose deletion raced its first beat back, on a slow machine). */
                http_resp rr = nacos_call(b->n, "POST", NS "/instance",
                                          Q("namespaceId", b->ns, "serviceName", b->svc, "ip",
                                            b->ips[i], "port", p),
                                          NULL, NULL);
                http_resp_free(&rr);
                atomic_fetch_add(&b->reregistered, 1);
            } else if (r.status == 503) {
                atomic_fetch_add(&b->unavailable, 1);
                if (strncmp(r.body, "healthcheck unavailable", 23) != 0)
                    atomic_fetch_add(&b->bad_503_body, 1);
                if (took > atomic_load(&b->max_503_ms))
                    atomic_store(&b->max_503_ms, took);
            } else {
                atomic_fetch_add(&b->other, 1);
            }
            http_resp_free(&r);
        }
        int64_t left = round + b->period_ms - it_now_ms();
        if (left > 0) {
            struct timespec ts = {0, (long)left * 1000000L};
            nanosleep(&ts, NULL); /* the beat period, not synchronisation */
        }
    }
    return NULL;
}

/* Beats ip_prefix<first> .. ip_prefix<first+count-1> every 200 ms. */
static void beater_start(beater *b, const it_node *n, const char *ns, const char *svc,
                         const char *ip_prefix, int first, int count, int port)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    snprintf(b->ns, sizeof b->ns, "%s", ns);
    snprintf(b->svc, sizeof b->svc, "%s", svc);
    cr_assert(count <= BEATER_MAX);
    for (int i = 0; i < count; i++) {
        snprintf(b->ips[i], sizeof b->ips[i], "%s%d", ip_prefix, first + i);
        b->ports[i] = port;
    }
    b->count = count;
    b->period_ms = 200;
    cr_assert_eq(pthread_create(&b->thread, NULL, beater_main, b), 0);
}

static void beater_stop(beater *b)
{
    atomic_store(&b->stop, true);
    pthread_join(b->thread, NULL);
}

/* ---- conditions ----------------------------------------------------------------------------- */

typedef struct inst_cond {
    const it_node *n;
    const char *ns;
    char svc[128];
    const char *ip;
    int port;
    bool ephemeral;
    bool want_found, want_healthy;
} inst_cond;

static bool inst_is(void *arg)
{
    inst_cond *c = arg;
    hc_state s = hc_instance_state(c->n, c->ns, c->svc, c->ip, c->port, c->ephemeral);
    if (!c->want_found)
        return !s.found;
    return s.found && s.healthy == c->want_healthy;
}

/* Waits until the instance is in the wanted state; returns the time it was seen. */
static int64_t wait_state(const it_node *n, const char *ns, const char *svc, const char *ip,
                          int port, bool ephemeral, bool found, bool healthy, const char *what)
{
    inst_cond c = {n, ns, "", ip, port, ephemeral, found, healthy};
    grouped(svc, c.svc, sizeof c.svc);
    cr_assert(wait_until(inst_is, &c, WAIT_MS), "%s: %s %s:%d never became %s", what, svc, ip,
              port, !found ? "absent" : healthy ? "healthy" : "unhealthy");
    return it_now_ms();
}

static void expect_state(const it_node *n, const char *ns, const char *svc, const char *ip,
                         int port, bool ephemeral, bool found, bool healthy, const char *what)
{
    char g[128];
    hc_state s = hc_instance_state(n, ns, grouped(svc, g, sizeof g), ip, port, ephemeral);
    cr_expect(s.found == found && (!found || s.healthy == healthy),
              "%s: %s %s:%d is %s, expected %s", what, svc, ip, port,
              !s.found ? "absent" : s.healthy ? "healthy" : "unhealthy",
              !found ? "absent" : healthy ? "healthy" : "unhealthy");
}

typedef struct metric_cond {
    const hc_node *h;
    const char *name;
    const char *labels;
    double at_least;
} metric_cond;

static bool metric_reaches(void *arg)
{
    metric_cond *c = arg;
    return hc_metric(c->h, c->name, c->labels) >= c->at_least;
}

static void wait_metric(const hc_node *h, const char *name, const char *labels, double at_least)
{
    metric_cond c = {h, name, labels, at_least};
    cr_assert(wait_until(metric_reaches, &c, WAIT_MS), "%s{%s} never reached %g (is %g)", name,
              labels ? labels : "", at_least, hc_metric(h, name, labels));
}

static bool metric_equals(void *arg)
{
    metric_cond *c = arg;
    return hc_metric(c->h, c->name, c->labels) == c->at_least;
}

static void wait_metric_is(const hc_node *h, const char *name, const char *labels, double value)
{
    metric_cond c = {h, name, labels, value};
    cr_assert(wait_until(metric_equals, &c, WAIT_MS), "%s{%s} never became %g (is %g)", name,
              labels ? labels : "", value, hc_metric(h, name, labels));
}

/* The healthcheck's log: the node's (`cairn run` passes its roles' stderr through). */
static char *hc_log(const hc_node *h)
{
    return it_read_file(h->node->run->log_path);
}

/* ---- tests ---------------------------------------------------------------------------------- */

IT_TEST(healthcheck, beats_keep_healthy_and_silence_expires)
{
    hc_node h;
    hc_node_start(&h, ARGS(FAST_SWEEP));
    const it_node *n = h.node;
    int64_t t_reg = it_now_ms();
    reg(n, "public", "exp", "127.3.0.1", 80, "true", "true", NULL);
    reg(n, "public", "exp", "127.3.0.2", 80, "true", "true", NULL);
    beater b;
    beater_start(&b, n, "public", "exp", "127.3.0.", 1, 1, 80);

    int64_t t_unhealthy = wait_state(n, "public", "exp", "127.3.0.2", 80, true, true, false,
                                     "the silent instance");
    cr_expect_geq(t_unhealthy - t_reg, 1000, "unhealthy %lld ms after registration, before the "
                                             "1000 ms beat timeout",
                  (long long)(t_unhealthy - t_reg));
    expect_state(n, "public", "exp", "127.3.0.1", 80, true, true, true, "the beating instance");
    int64_t t_gone = wait_state(n, "public", "exp", "127.3.0.2", 80, true, false, false,
                                "the silent instance");
    cr_expect_geq(t_gone - t_reg, 2000, "removed %lld ms after registration, before the 2000 ms "
                                        "delete timeout",
                  (long long)(t_gone - t_reg));
    expect_state(n, "public", "exp", "127.3.0.1", 80, true, true, true, "the beating instance");
    beater_stop(&b);
    cr_expect_eq(atomic_load(&b.other) + atomic_load(&b.unavailable), 0, "failed beats");
    cr_expect_geq(atomic_load(&b.ok), 5);

    /* Counted once the registry answered the write, a moment after the state shows it. */
    wait_metric(&h, "cairn_healthcheck_deletions_total", NULL, 1);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"unhealthy\""), 1);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_deletions_total", NULL), 1);
    cr_expect_geq(hc_metric(&h, "cairn_healthcheck_beats_total", NULL), 5);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_instances_tracked", NULL), 1);
    /* The list agrees: only the beating instance, healthy. */
    json_t *l = nacos_list(n, Q("serviceName", "exp"));
    cr_expect_eq(list_host_count(l), 1);
    json_t *host = list_find_host(l, "127.3.0.1", 80);
    cr_expect(host && jbool(host, "healthy"));
    json_decref(l);
}

IT_TEST(healthcheck, metadata_overrides_timeouts_and_interval)
{
    hc_node h;
    hc_node_start(&h, ARGS(FAST_SWEEP));
    const it_node *n = h.node;
    int64_t t_reg = it_now_ms();
    reg(n, "public", "md", "127.4.0.1", 80, "true", "true", NULL); /* beats: a healthy anchor */
    reg(n, "public", "md", "127.4.0.2", 80, "true", "true", NULL); /* defaults: 1 s / 2 s */
    reg(n, "public", "md", "127.4.0.3", 80, "true", "true",
        "{\"preserved.heart.beat.timeout\":\"4000\",\"preserved.ip.delete.timeout\":\"6000\"}");
    reg(n, "public", "md", "127.4.0.4", 80, "true", "true",
        "{\"preserved.heart.beat.interval\":\"1234\",\"preserved.heart.beat.timeout\":\"60000\","
        "\"preserved.ip.delete.timeout\":\"60000\"}");
    beater b;
    beater_start(&b, n, "public", "md", "127.4.0.", 1, 1, 80);

    /* The beat reply carries the instance's interval. */
    long code = 0, interval = 0;
    cr_assert_eq(hc_beat(n, "public", "md", "127.4.0.4", 80, &code, &interval), 200);
    cr_expect_eq(code, 10200);
    cr_expect_eq(interval, 1234);
    cr_assert_eq(hc_beat(n, "public", "md", "127.4.0.1", 80, &code, &interval), 200);
    cr_expect_eq(interval, 5000);

    wait_state(n, "public", "md", "127.4.0.2", 80, true, false, false, "default timeouts");
    /* Gone after 2 s; the one with a 4 s beat timeout is still healthy. */
    expect_state(n, "public", "md", "127.4.0.3", 80, true, true, true, "4 s beat timeout");
    int64_t t3 = wait_state(n, "public", "md", "127.4.0.3", 80, true, true, false,
                            "4 s beat timeout");
    cr_expect_geq(t3 - t_reg, 4000, "unhealthy after %lld ms despite a 4000 ms override",
                  (long long)(t3 - t_reg));
    int64_t t3_gone = wait_state(n, "public", "md", "127.4.0.3", 80, true, false, false,
                                 "6 s delete timeout");
    cr_expect_geq(t3_gone - t_reg, 6000, "removed after %lld ms despite a 6000 ms override",
                  (long long)(t3_gone - t_reg));
    expect_state(n, "public", "md", "127.4.0.4", 80, true, true, true, "60 s timeouts");
    expect_state(n, "public", "md", "127.4.0.1", 80, true, true, true, "the beating anchor");
    beater_stop(&b);
}

IT_TEST(healthcheck, unknown_beats_and_fresh_registrations)
{
    hc_node h;
    hc_node_start(&h, ARGS(FAST_SWEEP));
    const it_node *n = h.node;

    /* With a body: registered from it (ip, port, weight, metadata, cluster). */
    const char *body = "{\"ip\":\"127.5.0.1\",\"port\":81,\"cluster\":\"c1\",\"weight\":3,"
                       "\"metadata\":{\"k\":\"v\"}}";
    http_resp r = nacos_call(n, "PUT", NS "/instance/beat", Q("serviceName", "unk", "beat", body),
                             NULL, Q(JAVA_UA));
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = json_parse_or_fail(r.body);
    cr_expect_eq(jint(j, "code"), 10200);
    cr_expect_eq(jint(j, "clientBeatInterval"), 5000);
    cr_expect(jbool(j, "lightBeatEnabled"));
    json_decref(j);
    http_resp_free(&r);
    json_t *l = nacos_list(n, Q("serviceName", "unk", "clusters", "c1"));
    json_t *host = list_find_host(l, "127.5.0.1", 81);
    cr_assert(host, "a beat with a body did not register its instance");
    cr_expect(jbool(host, "healthy") && jbool(host, "ephemeral"));
    cr_expect_float_eq(jnum(host, "weight"), 3.0, 1e-9);
    cr_expect_str_eq(jstr(host, "metadata.k"), "v");
    json_decref(l);

    /* Without a body: 20404, nothing registered. */
    long code = 0;
    cr_assert_eq(hc_beat(n, "public", "unk", "127.5.0.2", 82, &code, NULL), 200);
    cr_expect_eq(code, 20404);
    expect_state(n, "public", "unk", "127.5.0.2", 82, true, false, false, "light beat");

    /* A registration is never answered 20404, however soon the beat follows it: the healthcheck
     * asks the registry before it believes an instance unknown. */
    for (int i = 0; i < 30; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.5.1.%d", i + 1);
        reg(n, "public", "fresh", ip, 80, i % 3 ? "true" : "false", "true", NULL);
        cr_assert_eq(hc_beat(n, "public", "fresh", ip, 80, &code, NULL), 200);
        cr_expect_eq(code, 10200, "beat right after registering %s: code %ld", ip, code);
    }
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_unknown_beats_total", NULL), 2,
                 "only the two beats for instances the registry lacks are unknown");
}

IT_TEST(healthcheck, a_beat_revives_an_unhealthy_instance)
{
    hc_node h;
    hc_node_start(&h, ARGS("health.check_interval_ms=200", "health.beat_timeout_ms=1000",
                           "health.delete_timeout_ms=30000"));
    const it_node *n = h.node;
    reg(n, "public", "rev", "127.6.0.1", 80, "true", "true", NULL);
    wait_state(n, "public", "rev", "127.6.0.1", 80, true, true, false, "no beats");
    long code = 0;
    cr_assert_eq(hc_beat(n, "public", "rev", "127.6.0.1", 80, &code, NULL), 200);
    cr_expect_eq(code, 10200);
    wait_state(n, "public", "rev", "127.6.0.1", 80, true, true, true, "after a beat");
    wait_metric(&h, "cairn_healthcheck_flips_total", "to=\"healthy\"", 1);
    /* An instance registered unhealthy is revived by its first beat too (§2.7 step 6). */
    reg(n, "public", "rev", "127.6.0.2", 80, "true", "false", NULL);
    cr_assert_eq(hc_beat(n, "public", "rev", "127.6.0.2", 80, &code, NULL), 200);
    wait_state(n, "public", "rev", "127.6.0.2", 80, true, true, true, "registered unhealthy");
}

IT_TEST(healthcheck, self_preservation_holds_mass_expiry)
{
    hc_node h;
    /* 1.5 s / 3 s rather than 1 s / 2 s: ten instances beat every 200 ms through one thread,
     * which a loaded machine (sanitizers, parallel tests) must keep well inside the timeout. */
    hc_node_start(&h, ARGS("health.check_interval_ms=200", "health.beat_timeout_ms=1500",
                           "health.delete_timeout_ms=3000", "health.preservation_ratio=0.5",
                           "health.preservation_min_instances=10"));
    const it_node *n = h.node;
    /* Namespace "pres": 20 instances that go silent together, in two halves at least a sweep
     * apart — as clients losing the registry do, within a beat interval of each other — so that
     * no single sweep removes more than half of them: held all the same. */
    for (int i = 1; i <= 20; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.7.0.%d", i);
        reg(n, "pres", "all", ip, 80, "true", "true", NULL);
        if (i == 10)
            wait_metric(&h, "cairn_healthcheck_sweeps_total", NULL,
                        hc_metric(&h, "cairn_healthcheck_sweeps_total", NULL) + 2);
    }
    /* Namespace "mixed": 12 instances, 10 beating, 2 silent (2/12 is below the ratio). */
    for (int i = 1; i <= 12; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.8.0.%d", i);
        reg(n, "mixed", "some", ip, 80, "true", "true", NULL);
    }
    beater b;
    beater_start(&b, n, "mixed", "some", "127.8.0.", 1, 10, 80);

    wait_state(n, "mixed", "some", "127.8.0.11", 80, true, false, false, "below the ratio");
    wait_state(n, "mixed", "some", "127.8.0.12", 80, true, false, false, "below the ratio");
    /* Three sweeps' worth of held removals (20 each), and still every instance is there,
     * unhealthy. */
    wait_metric(&h, "cairn_healthcheck_held_deletions_total", NULL, 60);
    for (int i = 1; i <= 20; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.7.0.%d", i);
        expect_state(n, "pres", "all", ip, 80, true, true, false, "held by self-preservation");
    }
    for (int i = 1; i <= 10; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.8.0.%d", i);
        expect_state(n, "mixed", "some", ip, 80, true, true, true, "beating");
    }
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_deletions_total", NULL), 2);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_preservation_active", "namespace=\"pres\""), 1);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_preservation_active", "namespace=\"mixed\""),
                 0);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"unhealthy\""), 20 + 2);
    char *log = hc_log(&h);
    cr_expect(log && strstr(log, "self-preservation on in namespace pres"),
              "no self-preservation warning in the log");
    free(log);
    /* The list shows them (unhealthy; with none healthy, protection lists them all). */
    json_t *l = nacos_list(n, Q("namespaceId", "pres", "serviceName", "all"));
    cr_expect_eq(list_host_count(l), 20);
    json_decref(l);

    /* They come back: beats revive them and the episode ends. */
    /* Beats revive them one at a time: once half are back the namespace is below the ratio and
     * the held deletions of the rest go ahead, so on a slow machine some are deleted before
     * their first beat back arrives; those are registered again, as a Nacos client does on
     * 20404. */
    beater back;
    beater_start(&back, n, "pres", "all", "127.7.0.", 1, 20, 80);
    atomic_store(&back.reregister, true);
    for (int i = 1; i <= 20; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.7.0.%d", i);
        wait_state(n, "pres", "all", ip, 80, true, true, true, "beating again");
    }
    wait_metric_is(&h, "cairn_healthcheck_preservation_active", "namespace=\"pres\"", 0);
    log = hc_log(&h);
    cr_expect(log && strstr(log, "self-preservation off in namespace pres"),
              "no end of self-preservation in the log");
    free(log);
    beater_stop(&back);
    beater_stop(&b);
}

/* ---- probes --------------------------------------------------------------------------------- */

/* A listening TCP socket on 127.0.0.1 (connections wait in its backlog); returns the fd. */
static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 512), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static double tcp_failures(const hc_node *h)
{
    return hc_metric(h, "cairn_healthcheck_probes_total", "type=\"tcp\",result=\"failure\"") +
           hc_metric(h, "cairn_healthcheck_probes_total", "type=\"tcp\",result=\"timeout\"");
}

IT_TEST(healthcheck, tcp_probe_flips_after_consecutive_failures)
{
    hc_node h;
    hc_node_start(&h, ARGS(FAST_SWEEP, FAST_PROBES, "health.probe_healthy_threshold=3",
                           "health.probe_unhealthy_threshold=3"));
    const it_node *n = h.node;
    int port;
    int fd = listen_loopback(&port);
    /* Registered unhealthy: successful probes make it healthy. */
    reg(n, "public", "tcp", "127.0.0.1", port, "false", "false", NULL);
    wait_state(n, "public", "tcp", "127.0.0.1", port, false, true, true, "listener open");
    cr_expect_geq(hc_metric(&h, "cairn_healthcheck_probes_total",
                            "type=\"tcp\",result=\"success\""),
                  3, "healthy before 3 successful probes");
    cr_expect_eq(tcp_failures(&h), 0);

    close(fd);
    wait_state(n, "public", "tcp", "127.0.0.1", port, false, true, false, "listener closed");
    cr_expect_geq(tcp_failures(&h), 3, "unhealthy after fewer than 3 failed probes");
    wait_metric(&h, "cairn_healthcheck_flips_total", "to=\"unhealthy\"", 1);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"unhealthy\""), 1);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"healthy\""), 1);
    cr_expect_geq(hc_metric(&h, "cairn_healthcheck_probe_seconds_count", "type=\"tcp\""), 6);
}

/* A tiny HTTP responder (libmicrohttpd) answering every request with `status`, after `delay_ms`;
 * it records the last path and User-Agent, the most requests it served at once, every
 * connection, and how many requests came for each Host (the instance address a probe was for). */
#define RESPONDER_HOSTS 16

typedef struct responder {
    struct MHD_Daemon *d;
    int port;
    atomic_int status;
    atomic_int delay_ms;
    atomic_int active, max_active, served, connections;
    pthread_mutex_t mu;
    char path[256], agent[256];
    char hosts[RESPONDER_HOSTS][64];
    int host_requests[RESPONDER_HOSTS];
} responder;

/* With r->mu held: counts a request for host. */
static void tally_host(responder *r, const char *host)
{
    for (int i = 0; i < RESPONDER_HOSTS; i++) {
        if (!r->hosts[i][0])
            snprintf(r->hosts[i], sizeof r->hosts[i], "%s", host);
        if (strcmp(r->hosts[i], host) == 0) {
            r->host_requests[i]++;
            return;
        }
    }
}

/* Requests that came for host. */
static int host_requests(responder *r, const char *host)
{
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < RESPONDER_HOSTS; i++)
        if (strcmp(r->hosts[i], host) == 0)
            n = r->host_requests[i];
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)c, (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&((responder *)cls)->connections, 1);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)method, (void)version, (void)data, (void)size, (void)state;
    responder *r = cls;
    int now = atomic_fetch_add(&r->active, 1) + 1;
    for (int m = atomic_load(&r->max_active); now > m;) {
        if (atomic_compare_exchange_weak(&r->max_active, &m, now))
            break;
    }
    const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    pthread_mutex_lock(&r->mu);
    snprintf(r->path, sizeof r->path, "%s", url);
    snprintf(r->agent, sizeof r->agent, "%s", ua ? ua : "");
    tally_host(r, host ? host : "");
    pthread_mutex_unlock(&r->mu);
    int delay = atomic_load(&r->delay_ms);
    if (delay > 0) {
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* a slow health endpoint */
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)atomic_load(&r->status), resp);
    MHD_destroy_response(resp);
    atomic_fetch_add(&r->served, 1);
    atomic_fetch_sub(&r->active, 1);
    return ret;
}

static void responder_start(responder *r, int status)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    atomic_store(&r->status, status);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, answer, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, r, MHD_OPTION_END);
    cr_assert(r->d, "cannot start the HTTP responder");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    cr_assert(info && info->port > 0);
    r->port = info->port;
}

static void responder_stop(responder *r)
{
    MHD_stop_daemon(r->d);
    pthread_mutex_destroy(&r->mu);
}

static void put_checker(const it_node *n, const char *svc, const char *checker, const char *port,
                        const char *use_instance_port)
{
    nacos_write_ok(n, "PUT", NS "/cluster",
                   Q("serviceName", svc, "clusterName", "DEFAULT", "healthChecker", checker,
                     "checkPort", port, "useInstancePort4Check", use_instance_port));
}

IT_TEST(healthcheck, http_probe_compares_the_status)
{
    hc_node h;
    hc_node_start(&h, ARGS(FAST_SWEEP, FAST_PROBES));
    const it_node *n = h.node;
    responder r;
    responder_start(&r, 500);
    reg(n, "public", "web", "127.0.0.1", r.port, "false", "true", NULL);
    /* TCP alone would keep it healthy (the port accepts); the HTTP checker sees the 500. */
    put_checker(n, "web", "{\"type\":\"HTTP\",\"path\":\"/health\",\"expectedResponseCode\":200}",
                "80", "true");
    wait_state(n, "public", "web", "127.0.0.1", r.port, false, true, false, "answers 500");
    pthread_mutex_lock(&r.mu);
    cr_expect_str_eq(r.path, "/health");
    cr_expect_str_eq(r.agent, "Cairn-Health-Checker");
    pthread_mutex_unlock(&r.mu);
    atomic_store(&r.status, 200);
    wait_state(n, "public", "web", "127.0.0.1", r.port, false, true, true, "answers 200");
    cr_expect_geq(hc_metric(&h, "cairn_healthcheck_probes_total",
                            "type=\"http\",result=\"success\""),
                  3);
    cr_expect_geq(hc_metric(&h, "cairn_healthcheck_probes_total",
                            "type=\"http\",result=\"failure\""),
                  3);

    /* Another expected status: 204 is now the healthy answer, 200 is not. */
    put_checker(n, "web", "{\"type\":\"HTTP\",\"path\":\"/ping\",\"expectedResponseCode\":204}",
                "80", "true");
    wait_state(n, "public", "web", "127.0.0.1", r.port, false, true, false, "expects 204");
    atomic_store(&r.status, 204);
    wait_state(n, "public", "web", "127.0.0.1", r.port, false, true, true, "answers 204");
    responder_stop(&r);
}

IT_TEST(healthcheck, probes_in_flight_are_capped)
{
    hc_node h;
    hc_node_start(&h, ARGS(FAST_SWEEP, "health.probe_interval_ms=200",
                           "health.probe_timeout_ms=2000", "health.max_probes_in_flight=2"));
    const it_node *n = h.node;
    responder r;
    responder_start(&r, 200);
    atomic_store(&r.delay_ms, 150);
    /* Eight instances whose probes all go to the responder's port (useInstancePort4Check off). */
    for (int i = 1; i <= 8; i++)
        reg(n, "public", "cap", "127.0.0.1", i, "false", "true", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", r.port);
    put_checker(n, "cap", "{\"type\":\"HTTP\",\"path\":\"/\"}", port, "false");
    metric_cond served = {&h, "cairn_healthcheck_probes_total", "type=\"http\",result=\"success\"",
                          24};
    cr_assert(wait_until(metric_reaches, &served, WAIT_MS), "the probes did not run");
    cr_expect_leq(atomic_load(&r.max_active), 2, "%d probes at once, more than the cap of 2",
                  atomic_load(&r.max_active));
    for (int i = 1; i <= 8; i++)
        expect_state(n, "public", "cap", "127.0.0.1", i, false, true, true, "probed healthy");
    responder_stop(&r);
}

IT_TEST(healthcheck, none_checker_and_health_by_hand)
{
    hc_node h;
    hc_node_start(&h, ARGS(FAST_SWEEP, FAST_PROBES));
    const it_node *n = h.node;
    /* Nothing listens on port 1: the default TCP checker would mark it unhealthy. */
    reg(n, "public", "man", "127.0.0.1", 1, "false", "true", NULL);
    nacos_expect_error(n, "PUT", NS "/health/instance",
                       Q("serviceName", "man", "ip", "127.0.0.1", "port", "1", "healthy", "true"),
                       NULL, 400, "health check is still working, service: DEFAULT_GROUP@@man",
                       false);
    nacos_expect_error(n, "PUT", NS "/health/instance",
                       Q("serviceName", "man", "ip", "127.0.0.1", "port", "1"), NULL, 400,
                       "Param 'healthy' is required.", false);
    nacos_expect_error(n, "PUT", NS "/cluster",
                       Q("serviceName", "man", "clusterName", "DEFAULT", "healthChecker",
                         "{\"type\":\"FOO\"}"),
                       NULL, 400, "Unknown health checker type: FOO", false);
    nacos_expect_error(n, "PUT", NS "/cluster",
                       Q("serviceName", "nosuch", "clusterName", "DEFAULT", "healthChecker",
                         "{\"type\":\"NONE\"}"),
                       NULL, 400, "service not found:DEFAULT_GROUP@@nosuch", false);
    nacos_expect_error(n, "PUT", NS "/cluster",
                       Q("serviceName", "man", "healthChecker", "{\"type\":\"NONE\"}"), NULL, 400,
                       "Param 'clusterName' is required.", false);

    put_checker(n, "man", "{\"type\":\"NONE\"}", "80", "true");
    http_resp sr = nacos_call(n, "GET", NS "/service", Q("serviceName", "man"), NULL, NULL);
    json_t *d = json_parse_or_fail(sr.body);
    http_resp_free(&sr);
    cr_expect_str_eq(jstr(d, "clusters.0.healthChecker.type"), "NONE");
    json_decref(d);
    /* No probes for a NONE cluster: nothing but the hand decides its health from now on. */
    wait_metric_is(&h, "cairn_healthcheck_probed_instances", NULL, 0);
    nacos_write_ok(n, "PUT", NS "/health/instance",
                   Q("serviceName", "man", "ip", "127.0.0.1", "port", "1", "healthy", "true"));
    wait_state(n, "public", "man", "127.0.0.1", 1, false, true, true, "healthy=true by hand");
    /* The legacy `valid`, and PUT /health as an alias. */
    nacos_write_ok(n, "PUT", NS "/health",
                   Q("serviceName", "man", "ip", "127.0.0.1", "port", "1", "valid", "false"));
    expect_state(n, "public", "man", "127.0.0.1", 1, false, true, false, "valid=false by hand");
    nacos_write_ok(n, "PUT", NS "/health/instance",
                   Q("serviceName", "man", "ip", "127.0.0.1", "port", "1", "healthy", "yes"));
    expect_state(n, "public", "man", "127.0.0.1", 1, false, true, true, "healthy=yes (lenient)");
    /* Unknown ip:port: ok, nothing happens. */
    nacos_write_ok(n, "PUT", NS "/health/instance",
                   Q("serviceName", "man", "ip", "127.0.0.9", "port", "9", "healthy", "false"));

    http_resp r = nacos_call(n, "GET", NS "/health/checkers", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *c = json_parse_or_fail(r.body);
    cr_expect_str_eq(jstr(c, "TCP.type"), "TCP");
    cr_expect_str_eq(jstr(c, "HTTP.type"), "HTTP");
    cr_expect_eq(jint(c, "HTTP.expectedResponseCode"), 200);
    cr_expect_str_eq(jstr(c, "NONE.type"), "NONE");
    cr_expect_str_eq(jstr(c, "MYSQL.type"), "MYSQL");
    json_decref(c);
    http_resp_free(&r);
}

/* ---- where probes may go ---------------------------------------------------------------- */

/* Every probe a test below could cause goes to the responder on 127.0.0.1 or nowhere: the
 * instances at addresses that lead back to this host (0.0.0.0 and :: connect to it, and so does
 * its own interface address) are checked on the responder's port, and those elsewhere
 * (link-local, multicast, ...) on port 0, which no probe ever connects to. So even a healthcheck
 * that probed them would send nothing off this host. */

static const char *const far_ips[] = {"169.254.169.254", "fe80::1",   "224.0.0.1",
                                      "ff02::1",         "255.255.255.255", "240.0.0.1",
                                      "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"};
#define FAR_COUNT (sizeof far_ips / sizeof far_ips[0])

/* Addresses that lead back to this host: the given ones, an ordinary (not loopback, not
 * link-local) address of this host when it has one, and last "localhost". */
typedef struct near_set {
    const char *ips[12];
    size_t count;
    char own[CAIRN_IP_TEXT_MAX];
} near_set;

static void near_set_init(near_set *s, const char *const *fixed)
{
    memset(s, 0, sizeof *s);
    for (; *fixed; fixed++)
        s->ips[s->count++] = *fixed;
    cairn_ip *own;
    size_t n;
    cr_assert_eq(cairn_ip_local_addresses(&own, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (own[i].family == AF_INET && cairn_ip_classify(&own[i]) == CAIRN_IP_ORDINARY) {
            cairn_ip_format(&own[i], s->own, sizeof s->own);
            s->ips[s->count++] = s->own;
            break;
        }
    }
    free(own);
    s->ips[s->count++] = "localhost";
}

/* Registers service svc's instances at ips (ports 1, 2, ...) with an HTTP checker on port. */
static void reg_probed(const it_node *n, const char *svc, const char *const *ips, size_t count,
                       const char *healthy, int port)
{
    for (size_t i = 0; i < count; i++)
        reg(n, "public", svc, ips[i], (int)i + 1, "false", healthy, NULL);
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    put_checker(n, svc, "{\"type\":\"HTTP\",\"path\":\"/latest/meta-data/\"}", p, "false");
}

static double probes_made(const hc_node *h)
{
    return hc_metric(h, "cairn_healthcheck_probes_total", "result=\"success\"") +
           hc_metric(h, "cairn_healthcheck_probes_total", "result=\"failure\"") +
           hc_metric(h, "cairn_healthcheck_probes_total", "result=\"timeout\"");
}

/* A node whose probes may go to `networks` (a --set), a responder, and two services registered
 * with `healthy`: "near" at the addresses near_set_init makes of `fixed`, checked on the
 * responder's port, and "far" at far_ips, checked on port 0. */
static void start_probe_targets(hc_node *h, responder *r, near_set *near, const char *networks,
                                const char *const *fixed, const char *healthy)
{
    hc_node_start(h, ARGS(FAST_SWEEP, FAST_PROBES, networks));
    responder_start(r, 200);
    near_set_init(near, fixed);
    reg_probed(h->node, "near", near->ips, near->count, healthy, r->port);
    reg_probed(h->node, "far", far_ips, FAR_COUNT, healthy, 0);
}

IT_TEST(healthcheck, default_probe_networks_keep_probes_off_this_host_and_special_addresses)
{
    hc_node h;
    responder r;
    near_set near;
    /* The default: health.probe_networks empty (the base sets allow loopback; this undoes it).
     * The barrier is "localhost": a hostname is resolved, then refused for the loopback address
     * it resolves to, once per interval. Three of those mean three rounds of probes. */
    start_probe_targets(&h, &r, &near, "health.probe_networks=",
                        ARGS("127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1", "0.0.0.0", "::", "::1"),
                        "true");
    const it_node *n = h.node;

    metric_cond rounds = {&h, "cairn_healthcheck_probes_total",
                          "type=\"http\",result=\"denied\"", 3};
    cr_assert(wait_until(metric_reaches, &rounds, WAIT_MS),
              "localhost was not refused 3 times; the responder on 127.0.0.1 saw %d probes",
              atomic_load(&r.connections));
    cr_expect_eq(atomic_load(&r.connections), 0, "a probe reached the responder on 127.0.0.1");
    cr_expect_eq(probes_made(&h), 0, "a probe was made");
    wait_metric_is(&h, "cairn_healthcheck_probe_denied_instances", NULL,
                   (double)(near.count - 1 + FAR_COUNT));
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_probed_instances", NULL), 1,
                 "only the hostname is scheduled (and refused once resolved)");
    /* Not probed, so left as registered: nothing a client could read off a port. */
    for (size_t i = 0; i < near.count; i++)
        expect_state(n, "public", "near", near.ips[i], (int)i + 1, false, true, true,
                     "not probed");
    for (size_t i = 0; i < FAR_COUNT; i++)
        expect_state(n, "public", "far", far_ips[i], (int)i + 1, false, true, true, "not probed");
    char *log = hc_log(&h);
    cr_expect(strstr(log, "169.254.169.254:1 is not probed: a link-local address"), "%s", log);
    cr_expect(strstr(log, "127.0.0.1:1 is not probed: a loopback address"));
    char line[64];
    snprintf(line, sizeof line, "localhost:%zu is not probed: it resolves to", near.count);
    cr_expect(strstr(log, line), "the refused hostname is not logged");
    free(log);
    responder_stop(&r);
}

IT_TEST(healthcheck, loopback_is_probed_only_when_probe_networks_lists_it)
{
    hc_node h;
    responder r;
    near_set near;
    /* Registered unhealthy: the two listed ones turn healthy by their probes. */
    start_probe_targets(&h, &r, &near, "health.probe_networks=127.0.0.0/8",
                        ARGS("127.0.0.1", "::ffff:127.0.0.1", "0.0.0.0", "::"), "false");
    const it_node *n = h.node;
    wait_state(n, "public", "near", "127.0.0.1", 1, false, true, true, "loopback listed");
    wait_state(n, "public", "near", "::ffff:127.0.0.1", 2, false, true, true, "mapped loopback");
    /* Both probed three times (the healthy threshold): every instance had as many rounds. */
    cr_expect_geq(host_requests(&r, "127.0.0.1"), 3);
    cr_expect_geq(host_requests(&r, "[::ffff:127.0.0.1]"), 3);
    cr_expect_eq(host_requests(&r, "0.0.0.0"), 0, "0.0.0.0 is never probed");
    cr_expect_eq(host_requests(&r, "[::]"), 0, ":: is never probed");
    cr_expect_eq(host_requests(&r, "localhost"), 0, "no hostnames under a list");
    wait_metric_is(&h, "cairn_healthcheck_probe_denied_instances", NULL,
                   (double)(near.count - 2 + FAR_COUNT));
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_probed_instances", NULL), 2);
    for (size_t i = 2; i < near.count; i++)
        expect_state(n, "public", "near", near.ips[i], (int)i + 1, false, true, false,
                     "not probed");
    responder_stop(&r);
}

/* ---- restart ------------------------------------------------------------------------------- */

typedef struct beater_ok {
    beater *b;
    long at_least;
} beater_ok;

static bool beater_has_ok(void *arg)
{
    beater_ok *c = arg;
    return atomic_load(&c->b->ok) >= c->at_least;
}

static bool beater_has_503(void *arg)
{
    return atomic_load(&((beater *)arg)->unavailable) > 0;
}

IT_TEST(healthcheck, kill_9_under_steady_beats_changes_nothing)
{
    /* Beat timeout 3 s: after the restart the gateway needs up to a second to redial the new
     * healthcheck, and the beats must resume well inside the timeout for the test to show that
     * the restart itself (not a slow redial) flips nothing. The supervisor waits 1.5 s before the
     * restart so that beats clearly fall into the gap; the gateway gives up on a beat after
     * 300 ms. */
    hc_node h;
    hc_node_start(&h, ARGS("health.check_interval_ms=200", "health.beat_timeout_ms=3000",
                           "health.delete_timeout_ms=6000", "gateway.healthcheck_timeout_ms=300",
                           "run.restart_backoff_min_ms=1500"));
    it_node *n = h.node;
    for (int i = 1; i <= 5; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.9.0.%d", i);
        reg(n, "public", "rs", ip, 80, "true", "true", NULL);
    }
    beater b;
    beater_start(&b, n, "public", "rs", "127.9.0.", 1, 5, 80);
    beater_ok warm = {&b, 25};
    cr_assert(wait_until(beater_has_ok, &warm, WAIT_MS), "beats do not succeed");

    it_sub ev;
    cr_assert(events_open(&ev, n));
    uint64_t rev0 = hc_service_revision(n, "public", "DEFAULT_GROUP@@rs");
    cr_assert_gt(rev0, 0);

    pid_t old = hc_pid(&h);
    cr_assert_gt(old, 0);
    cr_assert_eq(kill(old, SIGKILL), 0);
    cr_assert(wait_until(beater_has_503, &b, WAIT_MS), "no beat was refused while the "
                                                        "healthcheck was down");
    cr_assert_gt(node_wait_role_restart(n, "cairn-healthcheck", old, WAIT_MS), 0,
                 "cairn run did not restart the healthcheck");
    cr_assert(hc_wait_ready(&h, WAIT_MS), "the restarted healthcheck is not ready");
    beater_ok again = {&b, atomic_load(&b.ok) + 10};
    cr_assert(wait_until(beater_has_ok, &again, WAIT_MS), "beats do not succeed after the "
                                                          "restart");
    /* Long enough for a wrong expiry to show: more sweeps of the new process than its beat
     * timeout spans. */
    wait_metric(&h, "cairn_healthcheck_sweeps_total", NULL, 3000 / 200 + 10);
    beater_stop(&b);

    for (int i = 1; i <= 5; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.9.0.%d", i);
        expect_state(n, "public", "rs", ip, 80, true, true, true, "after the restart");
    }
    cr_expect_eq(hc_service_revision(n, "public", "DEFAULT_GROUP@@rs"), rev0,
                 "the service changed across the restart");
    cairn_change_event e;
    int changes = 0;
    while (events_next(&ev, &e, 0)) {
        if (strcmp(e.service, "DEFAULT_GROUP@@rs") == 0)
            changes++;
        cairn_event_free(&e);
    }
    cr_expect_eq(changes, 0, "%d change events for the beating service", changes);
    events_close(&ev);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_flips_total", NULL), 0);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_deletions_total", NULL), 0);
    cr_expect_eq(atomic_load(&b.other), 0, "beats answered neither 200 nor 503");
    cr_expect_eq(atomic_load(&b.bad_503_body), 0, "a 503 without the healthcheck message");
    cr_expect_leq(atomic_load(&b.max_503_ms), 2000, "a refused beat took %ld ms",
                  atomic_load(&b.max_503_ms));
}
