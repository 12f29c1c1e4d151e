/* PUT /nacos/v1/ns/instance/beat (spec §2.7, §16.2 call 3, §17.9–11). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_harness.h"
#include "cairn_harness_health.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"

TestSuite(beat, .fini = it_teardown, .timeout = 120);

#define BEAT NS "/instance/beat"

/* A beat answer: asserts 200 + JSON with the three keys the gateway always sends. */
static json_t *beat_json(http_resp *r, const char *what)
{
    cr_assert_eq(r->status, 200, "%s: expected 200, got %ld \"%s\" %s", what, r->status, r->body,
                 r->error);
    json_t *j = json_parse_or_fail(r->body);
    cr_expect(json_is_integer(jget(j, "clientBeatInterval")), "%s: no clientBeatInterval: %s",
              what, r->body);
    cr_expect(json_is_integer(jget(j, "code")), "%s: no code: %s", what, r->body);
    cr_expect(json_is_boolean(jget(j, "lightBeatEnabled")), "%s: no lightBeatEnabled: %s", what,
              r->body);
    http_resp_free(r);
    return j;
}

IT_TEST(beat, body_beat_registers_unknown_instance_node_style)
{
    it_node *n = node_start(NULL);
    const char *beat = "{\"serviceName\":\"DEFAULT_GROUP@@bsvc\",\"ip\":\"127.1.1.1\",\"port\":7000,"
                       "\"cluster\":\"DEFAULT\",\"weight\":2,\"metadata\":{\"m\":\"1\"},"
                       "\"scheduled\":true}";
    http_resp r = nacos_call(n, "PUT", BEAT,
                             Q("namespaceId", "public", "serviceName", "DEFAULT_GROUP@@bsvc",
                               "beat", beat),
                             NULL, Q(JAVA_UA, "Client-Version: Nacos-Java-Client:v1.0.0"));
    json_t *j = beat_json(&r, "beat with body");
    cr_expect_eq(jint(j, "code"), 10200);
    cr_expect_eq(jint(j, "clientBeatInterval"), 5000);
    cr_expect(jbool(j, "lightBeatEnabled"));
    json_decref(j);

    json_t *l = nacos_list(n, Q("serviceName", "bsvc"));
    json_t *h = list_find_host(l, "127.1.1.1", 7000);
    cr_assert(h != NULL, "a beat with a body must re-register the instance");
    cr_expect_float_eq(jnum(h, "weight"), 2.0, 1e-9);
    cr_expect_str_eq(jstr(h, "metadata.m"), "1");
    cr_expect(jbool(h, "healthy"));
    cr_expect(jbool(h, "enabled"));
    cr_expect(jbool(h, "ephemeral"), "a beat without ephemeral key is ephemeral");
    cr_expect_str_eq(jstr(h, "clusterName"), "DEFAULT");
    json_decref(l);
}

IT_TEST(beat, body_beat_in_form_java_style)
{
    it_node *n = node_start(NULL);
    const char *beat = "{\"serviceName\":\"DEFAULT_GROUP@@jsvc\",\"ip\":\"127.1.1.5\",\"port\":7005,"
                       "\"cluster\":\"c9\",\"weight\":1.0,\"metadata\":{},\"scheduled\":false,"
                       "\"period\":5000,\"stopped\":false}";
    char *form = http_query(Q("beat", beat));
    http_resp r = nacos_call(n, "PUT", BEAT, Q("serviceName", "jsvc"), form, Q(JAVA_UA));
    free(form);
    json_t *j = beat_json(&r, "beat in form body");
    cr_expect_eq(jint(j, "code"), 10200);
    json_decref(j);
    json_t *l = nacos_list(n, Q("serviceName", "jsvc", "clusters", "c9"));
    json_t *h = list_find_host(l, "127.1.1.5", 7005);
    cr_expect(h != NULL, "form-body beat did not register into cluster c9");
    json_decref(l);
}

IT_TEST(beat, light_beat_for_unknown_instance_is_20404)
{
    it_node *n = node_start(NULL);
    http_resp r = nacos_call(n, "PUT", BEAT,
                             Q("serviceName", "bsvc", "ip", "127.1.1.2", "port", "7001"), NULL,
                             NULL);
    json_t *j = beat_json(&r, "light beat, unknown instance");
    cr_expect_eq(jint(j, "code"), 20404);
    cr_expect_eq(jint(j, "clientBeatInterval"), 5000);
    json_decref(j);
    json_t *l = nacos_list(n, Q("serviceName", "bsvc"));
    cr_expect_eq(list_host_count(l), 0, "a light beat must not register anything");
    json_decref(l);

    /* Known instance: 10200. The lookup is within one cluster (DEFAULT unless given). */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "bsvc", "ip", "127.1.1.2", "port", "7001", "clusterName", "c1"));
    r = nacos_call(n, "PUT", BEAT, Q("serviceName", "bsvc", "ip", "127.1.1.2", "port", "7001"),
                   NULL, NULL);
    j = beat_json(&r, "light beat, other cluster");
    cr_expect_eq(jint(j, "code"), 20404, "instance in c1 must not match a DEFAULT beat");
    json_decref(j);
    r = nacos_call(n, "PUT", BEAT,
                   Q("serviceName", "bsvc", "ip", "127.1.1.2", "port", "7001", "clusterName", "c1"),
                   NULL, NULL);
    j = beat_json(&r, "light beat, known instance");
    cr_expect_eq(jint(j, "code"), 10200);
    cr_expect(jbool(j, "lightBeatEnabled"));
    json_decref(j);

    nacos_expect_error(n, "PUT", BEAT, Q("ip", "127.1.1.2", "port", "7001"), NULL, 400,
                       "Param 'serviceName' is required.", false);
}

IT_TEST(beat, interval_from_metadata)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "iv", "ip", "127.1.1.3", "port", "1", "metadata",
                     "{\"preserved.heart.beat.interval\":\"2000\"}"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "iv", "ip", "127.1.1.4", "port", "1", "metadata",
                     "{\"preserved.heart.beat.interval\":\"2s\"}"));
    http_resp r = nacos_call(n, "PUT", BEAT, Q("serviceName", "iv", "ip", "127.1.1.3", "port", "1"),
                             NULL, NULL);
    json_t *j = beat_json(&r, "beat, interval 2000");
    cr_expect_eq(jint(j, "clientBeatInterval"), 2000);
    cr_expect_eq(jint(j, "code"), 10200);
    json_decref(j);
    r = nacos_call(n, "PUT", BEAT, Q("serviceName", "iv", "ip", "127.1.1.4", "port", "1"), NULL,
                   NULL);
    j = beat_json(&r, "beat, interval not digits");
    cr_expect_eq(jint(j, "clientBeatInterval"), 5000, "a non-digit interval must be ignored");
    json_decref(j);

    /* An unknown instance re-registered from the beat body takes its metadata's interval. */
    const char *beat = "{\"ip\":\"127.1.1.9\",\"port\":9,\"cluster\":\"DEFAULT\",\"metadata\":"
                       "{\"preserved.heart.beat.interval\":\"1500\"}}";
    r = nacos_call(n, "PUT", BEAT, Q("serviceName", "iv", "beat", beat), NULL, Q(JAVA_UA));
    j = beat_json(&r, "beat body with interval");
    cr_expect_eq(jint(j, "clientBeatInterval"), 1500);
    cr_expect_eq(jint(j, "code"), 10200);
    json_decref(j);
}

IT_TEST(beat, body_without_cluster_uses_cluster_name)
{
    it_node *n = node_start(NULL);
    /* RsInfo keys are optional: a blank beat.cluster is filled from clusterName (§2.7). */
    http_resp r = nacos_call(n, "PUT", BEAT,
                             Q("serviceName", "fb", "clusterName", "c7", "beat",
                               "{\"ip\":\"127.1.1.7\",\"port\":7}"),
                             NULL, Q(JAVA_UA));
    json_t *j = beat_json(&r, "beat body without cluster");
    cr_expect_eq(jint(j, "code"), 10200);
    json_decref(j);
    json_t *l = nacos_list(n, Q("serviceName", "fb"));
    json_t *h = list_find_host(l, "127.1.1.7", 7);
    cr_expect(h != NULL, "beat body without cluster did not register");
    if (h)
        cr_expect_str_eq(jstr(h, "clusterName"), "c7");
    json_decref(l);
}

IT_TEST(beat, body_without_ip_is_refused)
{
    it_node *n = node_start(NULL);
    /* Nacos takes ip and port from the beat body unconditionally (RsInfo), so a body without ip
     * cannot re-register anything, even when ip/port parameters are present. */
    http_resp r = nacos_call(n, "PUT", BEAT,
                             Q("serviceName", "fb", "ip", "127.1.1.8", "port", "8", "beat",
                               "{\"cluster\":\"DEFAULT\",\"weight\":3}"),
                             NULL, Q(JAVA_UA));
    cr_expect_eq(r.status, 400, "beat body without ip: %ld \"%s\"", r.status, r.body);
    http_resp_free(&r);
    json_t *l = nacos_list(n, Q("serviceName", "fb"));
    cr_expect_eq(list_host_count(l), 0, "a beat body without ip registered something");
    json_decref(l);
}

typedef struct health_probe {
    const it_node *n;
    const char *ip;
    int port;
} health_probe;

static bool listed_healthy(void *arg)
{
    health_probe *p = arg;
    json_t *l = nacos_list(p->n, Q("serviceName", "flip"));
    json_t *h = list_find_host(l, p->ip, p->port);
    bool ok = h && json_is_true(json_object_get(h, "healthy"));
    json_decref(l);
    return ok;
}

IT_TEST(beat, beat_makes_unhealthy_instance_healthy)
{
    it_node *n = node_start(NULL);
    /* A healthy neighbour keeps the protect threshold from masking the flag. */
    nacos_write_ok(n, "POST", NS "/instance", Q("serviceName", "flip", "ip", "127.2.0.1", "port", "1"));
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "flip", "ip", "127.2.0.2", "port", "2", "healthy", "false"));
    health_probe p = {n, "127.2.0.2", 2};
    cr_assert(!listed_healthy(&p), "registered with healthy=false but listed healthy");
    http_resp r = nacos_call(n, "PUT", BEAT, Q("serviceName", "flip", "ip", "127.2.0.2", "port", "2"),
                             NULL, NULL);
    json_t *j = beat_json(&r, "beat of an unhealthy instance");
    cr_expect_eq(jint(j, "code"), 10200);
    json_decref(j);
    cr_expect(wait_until(listed_healthy, &p, 5000), "a beat did not make the instance healthy");
}

/* ---- beats stay off the write path ------------------------------------------------------ */

#define WAIT_MS 15000

/* The registry's committed writes of one type (NULL: all), from its writes_total counters. */
static double registry_writes(const it_node *n, const char *type)
{
    char label[64];
    if (type)
        snprintf(label, sizeof label, "type=\"%s\"", type);
    double v = node_metric(n, "registry", "cairn_registry_writes_total", type ? label : NULL);
    cr_assert_geq(v, 0, "the registry's /metrics cannot be read");
    return v;
}

typedef struct fence {
    it_sub sub;
    int writes; /* fence registrations made so far */
} fence;

/* Registers a fresh instance of service "fence" and reads the change stream until its event,
 * each attempt waiting attempt_ms (the first fence also waits for the subscription to join).
 * Returns how many events of service watch (grouped, public) came before it: every write
 * committed before the fence's has been published by then, in commit order. */
static int fence_changes(const it_node *n, fence *f, const char *watch, int attempts,
                         int attempt_ms)
{
    int seen = 0;
    for (int a = 0; a < attempts; a++) {
        char port[16];
        snprintf(port, sizeof port, "%d", ++f->writes);
        nacos_write_ok(n, "POST", NS "/instance",
                       Q("serviceName", "fence", "ip", "127.3.9.9", "port", port));
        cairn_change_event ev;
        int64_t deadline = it_now_ms() + attempt_ms;
        while (it_now_ms() < deadline && events_next(&f->sub, &ev, 50)) {
            bool ours = ev.service && strcmp(ev.namespace_id, "public") == 0;
            bool fenced = ours && strcmp(ev.service, "DEFAULT_GROUP@@fence") == 0;
            if (ours && watch && strcmp(ev.service, watch) == 0)
                seen++;
            cairn_event_free(&ev);
            if (fenced)
                return seen;
        }
    }
    cr_assert_fail("the fence's change event never arrived on registry-events.sock");
    return seen;
}

static void fence_open(const it_node *n, fence *f)
{
    f->writes = 0;
    cr_assert(events_open(&f->sub, n));
    fence_changes(n, f, NULL, 50, 200); /* SUB joins asynchronously */
}

static void beat_ok(const it_node *n, const char *svc, const char *ip, int port, const char *what)
{
    long code = 0;
    long status = hc_beat(n, "public", svc, ip, port, &code, NULL);
    cr_assert_eq(status, 200, "%s: beat answered %ld", what, status);
    cr_assert_eq(code, 10200, "%s: beat code %ld", what, code);
}

IT_TEST(beat, light_beats_of_a_healthy_instance_write_nothing)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "steady", "ip", "127.3.0.1", "port", "1"));
    /* The healthcheck knows it (its change event arrived): the beats take the table's path. */
    cr_assert_geq(node_wait_metric(n, "healthcheck", "cairn_healthcheck_ephemeral_instances_tracked",
                                   NULL, 1, WAIT_MS),
                  1, "the healthcheck never tracked the instance");
    fence f;
    fence_open(n, &f);
    double writes0 = registry_writes(n, NULL);
    double beats0 = node_metric(n, "healthcheck", "cairn_healthcheck_beats_total", NULL);
    uint64_t rev0 = hc_service_revision(n, "public", "DEFAULT_GROUP@@steady");
    cr_assert_gt(rev0, 0);

    enum { BEATS = 50 };
    for (int i = 0; i < BEATS; i++)
        beat_ok(n, "steady", "127.3.0.1", 1, "healthy instance");
    int fences0 = f.writes;
    int changes = fence_changes(n, &f, "DEFAULT_GROUP@@steady", 3, WAIT_MS);

    cr_expect_eq(changes, 0, "%d beats of a healthy instance published %d change events", BEATS,
                 changes);
    cr_expect_eq(hc_service_revision(n, "public", "DEFAULT_GROUP@@steady"), rev0,
                 "beats of a healthy instance changed the service's revision");
    double writes = registry_writes(n, NULL) - writes0;
    cr_expect_eq(writes, f.writes - fences0,
                 "%d beats committed %g registry writes besides the %d fence registrations",
                 BEATS, writes - (f.writes - fences0), f.writes - fences0);
    /* Beats answered by the gateway reach the healthcheck behind their answers. */
    cr_expect_eq(node_wait_metric(n, "healthcheck", "cairn_healthcheck_beats_total", NULL,
                                  beats0 + BEATS, WAIT_MS) -
                     beats0,
                 BEATS, "the healthcheck did not answer every beat");
    events_close(&f.sub);
}

typedef struct stored {
    const it_node *n;
    bool healthy;
} stored;

static bool stored_health_is(void *arg)
{
    stored *s = arg;
    hc_state st = hc_instance_state(s->n, "public", "DEFAULT_GROUP@@lapsed", "127.3.0.2", 2, true);
    return st.found && st.healthy == s->healthy;
}

IT_TEST(beat, a_beat_after_the_sweep_marked_unhealthy_writes_health_once)
{
    /* Sweep every 100 ms; this instance is unhealthy after 2 s without a beat, never removed. */
    hc_node h;
    hc_node_start(&h, ARGS("health.check_interval_ms=100"));
    it_node *n = h.node;
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "lapsed", "ip", "127.3.0.2", "port", "2", "metadata",
                     "{\"preserved.heart.beat.timeout\":\"2000\","
                     "\"preserved.ip.delete.timeout\":\"600000\"}"));
    stored st = {n, false};
    cr_assert(wait_until(stored_health_is, &st, WAIT_MS), "the sweep never marked it unhealthy");
    /* The sweep counts its flip after the registry committed (and counted) the write. */
    cr_assert_geq(node_wait_metric(n, "healthcheck", "cairn_healthcheck_flips_total",
                                   "to=\"unhealthy\"", 1, WAIT_MS),
                  1);
    fence f;
    fence_open(n, &f);
    double writes0 = registry_writes(n, NULL);
    double health0 = registry_writes(n, "instance_health");
    double flips0 = hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"healthy\"");

    /* The first beat revives it; the next ones find it healthy. */
    beat_ok(n, "lapsed", "127.3.0.2", 2, "first beat after the sweep");
    st.healthy = true;
    cr_assert(wait_until(stored_health_is, &st, WAIT_MS), "a beat did not make it healthy");
    for (int i = 0; i < 10; i++)
        beat_ok(n, "lapsed", "127.3.0.2", 2, "beat of the revived instance");
    int fences0 = f.writes;
    int changes = fence_changes(n, &f, "DEFAULT_GROUP@@lapsed", 3, WAIT_MS);

    cr_expect_eq(changes, 1, "11 beats of an instance marked unhealthy published %d change events",
                 changes);
    cr_expect_eq(registry_writes(n, "instance_health") - health0, 1,
                 "11 beats made %g health writes", registry_writes(n, "instance_health") - health0);
    double others = registry_writes(n, NULL) - writes0 - (f.writes - fences0);
    cr_expect_eq(others, 1, "11 beats committed %g writes", others);
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"healthy\"") - flips0, 1);
    cr_expect(stored_health_is(&st), "not healthy after the beats");
    events_close(&f.sub);
}

/* ---- beats answered by the gateway (gateway_beat_cache.h) ------------------------------------ */

static double beat_hits(const it_node *n)
{
    double v = node_metric(n, "gateway", "cairn_gateway_beat_cache_hits_total", NULL);
    cr_assert_geq(v, 0, "the gateway's /metrics cannot be read");
    return v;
}

static long beat_code(const it_node *n, const char *svc, const char *ip, int port, long *status)
{
    long code = 0;
    *status = hc_beat(n, "public", svc, ip, port, &code, NULL);
    return code;
}

/* Beats of a registered instance until the gateway answers them from its cache (the first is
 * the healthcheck's; asserts that a later one was the gateway's). */
static void beat_until_cached(const it_node *n, const char *svc, const char *ip, int port)
{
    double hits0 = beat_hits(n);
    for (int i = 0; i < 3; i++)
        beat_ok(n, svc, ip, port, "registered instance");
    cr_assert_gt(beat_hits(n), hits0, "no beat of a known instance was answered by the gateway");
}

/* Known instances' beats are answered from the gateway's cache, yet every one of them reaches
 * the healthcheck: an instance that beats only that way never lapses. */
IT_TEST(beat, known_instances_are_answered_by_the_gateway_and_still_beat)
{
    hc_node h;
    hc_node_start(&h, ARGS("health.check_interval_ms=100"));
    it_node *n = h.node;
    /* Unhealthy after 1.5 s without a beat: the beats below come every 100 ms for 3 s. */
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "cached", "ip", "127.3.1.1", "port", "1", "metadata",
                     "{\"preserved.heart.beat.timeout\":\"1500\","
                     "\"preserved.heart.beat.interval\":\"700\"}"));
    double hits0 = beat_hits(n);
    double beats0 = hc_metric(&h, "cairn_healthcheck_beats_total", NULL);
    double flips0 = hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"unhealthy\"");
    enum { BEATS = 30 };
    for (int i = 0; i < BEATS; i++) {
        long interval = 0, code = 0;
        long status = hc_beat(n, "public", "cached", "127.3.1.1", 1, &code, &interval);
        cr_assert_eq(status, 200, "beat %d answered %ld", i, status);
        cr_assert_eq(code, 10200, "beat %d: code %ld", i, code);
        cr_assert_eq(interval, 700, "beat %d: clientBeatInterval %ld", i, interval);
        struct timespec period = {0, 100 * 1000 * 1000};
        nanosleep(&period, NULL); /* the beat period, not synchronisation */
    }
    double hits = beat_hits(n) - hits0;
    cr_expect_geq(hits, BEATS - 3, "only %g of %d beats of a known instance were answered by the "
                  "gateway", hits, BEATS);
    cr_expect_eq(node_wait_metric(n, "healthcheck", "cairn_healthcheck_beats_total", NULL,
                                  beats0 + BEATS, WAIT_MS) -
                     beats0,
                 BEATS, "not every beat answered by the gateway reached the healthcheck");
    cr_expect_eq(hc_metric(&h, "cairn_healthcheck_flips_total", "to=\"unhealthy\"") - flips0, 0,
                 "an instance beating every 100 ms was marked unhealthy");
    hc_state st = hc_instance_state(n, "public", "DEFAULT_GROUP@@cached", "127.3.1.1", 1, true);
    cr_expect(st.found && st.healthy, "the beating instance is %s",
              st.found ? "unhealthy" : "gone");
}

/* A deregistration through the gateway drops the instance's answer before the client hears
 * back: its next light beat is told 20404, never the kept 10200. */
IT_TEST(beat, a_deregistered_instance_is_told_it_is_unknown)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "leaving", "ip", "127.3.1.2", "port", "2"));
    beat_until_cached(n, "leaving", "127.3.1.2", 2);
    nacos_write_ok(n, "DELETE", NS "/instance",
                   Q("serviceName", "leaving", "ip", "127.3.1.2", "port", "2"));
    long status;
    cr_expect_eq(beat_code(n, "leaving", "127.3.1.2", 2, &status), 20404,
                 "the first beat after the deregistration");
    cr_expect_eq(status, 200);
}

typedef struct unknown_beat {
    const it_node *n;
    const char *svc, *ip;
    int port;
    long status, code;
} unknown_beat;

static bool beat_says_unknown(void *arg)
{
    unknown_beat *u = arg;
    u->code = beat_code(u->n, u->svc, u->ip, u->port, &u->status);
    return u->status == 200 && u->code == 20404;
}

static bool gone_from_registry(void *arg)
{
    unknown_beat *u = arg;
    char grouped[128];
    snprintf(grouped, sizeof grouped, "DEFAULT_GROUP@@%s", u->svc);
    return !hc_instance_state(u->n, "public", grouped, u->ip, u->port, true).found;
}

/* An instance the healthcheck removed (no write through the gateway: only the change event
 * tells it) is told 20404 at its next beats, so that the client registers it again. */
IT_TEST(beat, an_expired_instance_is_told_it_is_unknown)
{
    hc_node h;
    hc_node_start(&h, ARGS("health.check_interval_ms=100"));
    it_node *n = h.node;
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "lapsing", "ip", "127.3.1.3", "port", "3", "metadata",
                     "{\"preserved.heart.beat.timeout\":\"500\","
                     "\"preserved.ip.delete.timeout\":\"1000\"}"));
    beat_until_cached(n, "lapsing", "127.3.1.3", 3);
    unknown_beat u = {n, "lapsing", "127.3.1.3", 3, 0, 0};
    cr_assert(wait_until(gone_from_registry, &u, WAIT_MS), "the instance never expired");
    cr_expect(wait_until(beat_says_unknown, &u, 2000),
              "beats of the expired instance are still answered %ld code %ld 2 s after it went",
              u.status, u.code);
}

typedef struct beat_status {
    const it_node *n;
    long want, status;
} beat_status;

static bool beat_answers(void *arg)
{
    beat_status *b = arg;
    long code;
    b->status = hc_beat(b->n, "public", "frozen", "127.3.1.4", 4, &code, NULL);
    return b->status == b->want;
}

/* A healthcheck that stops answering is not hidden by the kept answers: beats get their 503
 * once the beats sent on behind answers time out, and 200 again when it is back. */
IT_TEST(beat, a_stopped_healthcheck_costs_beats_their_503)
{
    hc_node h;
    hc_node_start(&h, ARGS("gateway.healthcheck_timeout_ms=500"));
    it_node *n = h.node;
    nacos_write_ok(n, "POST", NS "/instance",
                   Q("serviceName", "frozen", "ip", "127.3.1.4", "port", "4"));
    /* The first beat may find the healthcheck still without the registration and ask the
     * registry; on a loaded machine that can outlast this test's short 500 ms timeout. */
    beat_status first = {n, 200, 0};
    cr_assert(wait_until(beat_answers, &first, WAIT_MS), "beats answered %ld, never 200",
              first.status);
    beat_until_cached(n, "frozen", "127.3.1.4", 4);
    pid_t hc = hc_pid(&h);
    cr_assert_gt(hc, 0);
    cr_assert_eq(kill(hc, SIGSTOP), 0);
    beat_status b = {n, 503, 0};
    bool got_503 = wait_until(beat_answers, &b, 10000);
    kill(hc, SIGCONT);
    cr_assert(got_503, "beats still answered %ld 10 s after the healthcheck stopped", b.status);
    b.want = 200;
    cr_expect(wait_until(beat_answers, &b, WAIT_MS),
              "beats answered %ld after the healthcheck resumed", b.status);
}
