/* Roles crash and come back (design §1, §3): the supervisor restarts a killed role, the gateway
 * answers 503 while the registry is away and recovers by itself, and acknowledged writes survive
 * a kill -9 of the registry. */
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(resilience, .fini = it_teardown, .timeout = 180);

#define SERVICES 5
#define PER_KIND 10 /* per service and kind: 50 ephemeral + 50 persistent */

static void register_many(const it_node *n, int services, int per_kind)
{
    for (int s = 0; s < services; s++) {
        char svc[32];
        snprintf(svc, sizeof svc, "res-%d", s);
        for (int i = 0; i < per_kind; i++) {
            for (int kind = 0; kind < 2; kind++) {
                char ip[32], port[16];
                snprintf(ip, sizeof ip, "127.%d.%d.%d", kind, s, i + 1);
                snprintf(port, sizeof port, "%d", 8000 + i);
                nacos_write_ok(n, "POST", NS "/instance",
                               Q("serviceName", svc, "ip", ip, "port", port, "ephemeral",
                                 kind ? "false" : "true"));
            }
        }
    }
}

/* Number of the expected instances of one kind that are listed, over all services. */
static int count_listed(const it_node *n, int services, int per_kind, int kind, char *missing,
                        size_t missing_len)
{
    int found = 0;
    if (missing)
        missing[0] = '\0';
    for (int s = 0; s < services; s++) {
        char svc[32];
        snprintf(svc, sizeof svc, "res-%d", s);
        json_t *l = nacos_list(n, Q("serviceName", svc));
        for (int i = 0; i < per_kind; i++) {
            char ip[32];
            snprintf(ip, sizeof ip, "127.%d.%d.%d", kind, s, i + 1);
            json_t *h = list_find_host(l, ip, 8000 + i);
            if (h && json_is_boolean(json_object_get(h, "ephemeral")) &&
                json_is_true(json_object_get(h, "ephemeral")) == (kind == 0)) {
                found++;
            } else if (missing && strlen(missing) + 40 < missing_len) {
                size_t u = strlen(missing);
                snprintf(missing + u, missing_len - u, "%s %s:%d", svc, ip, 8000 + i);
            }
        }
        json_decref(l);
    }
    return found;
}

typedef struct list_probe {
    it_node *n;
    int services, per_kind;
    long last_status; /* of the last try, for the failure message */
    char last_body[200];
} list_probe;

/* True once a list call succeeds (the gateway reaches the registry again). */
static bool list_answers(void *arg)
{
    list_probe *p = arg;
    node_refresh_addrs(p->n);
    http_resp r = nacos_call(p->n, "GET", NS "/instance/list", Q("serviceName", "res-0"), NULL,
                             NULL);
    bool ok = r.status == 200;
    p->last_status = r.status;
    snprintf(p->last_body, sizeof p->last_body, "%.150s", r.status ? r.body : r.error);
    http_resp_free(&r);
    return ok;
}

/* instance/list answers 200 again within 20 s of a registry restart; the failure message says
 * what it answered last and how the node's log ends. */
static void expect_list_answers(it_node *n)
{
    list_probe p = {.n = n};
    if (wait_until(list_answers, &p, 20000))
        return;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.log", n->dir);
    char *tail = it_log_tail(path, 3000);
    cr_assert(false,
              "instance/list does not answer 200 within 20 s of the restart (last: %ld \"%s\"); "
              "node log ends:\n%s",
              p.last_status, p.last_body, tail ? tail : "(none)");
    free(tail);
}

static void expect_all_listed(it_node *n, int services, int per_kind)
{
    expect_list_answers(n);
    char missing[2048];
    int eph = count_listed(n, services, per_kind, 0, missing, sizeof missing);
    cr_expect_eq(eph, services * per_kind, "ephemeral instances lost: %d of %d listed; missing:%s",
                 eph, services * per_kind, missing);
    int per = count_listed(n, services, per_kind, 1, missing, sizeof missing);
    cr_expect_eq(per, services * per_kind,
                 "persistent instances lost: %d of %d listed; missing:%s", per,
                 services * per_kind, missing);
}

IT_TEST(resilience, registry_kill9_is_restarted_and_keeps_data)
{
    it_node *n = node_start(NULL);
    register_many(n, SERVICES, PER_KIND);
    cr_assert_eq(count_listed(n, SERVICES, PER_KIND, 0, NULL, 0), SERVICES * PER_KIND);
    cr_assert_eq(count_listed(n, SERVICES, PER_KIND, 1, NULL, 0), SERVICES * PER_KIND);

    pid_t reg = node_role_pid(n, "cairn-registry");
    pid_t gw = node_role_pid(n, "cairn-gateway");
    cr_assert(reg > 0, "no cairn-registry process found for %s", n->data_dir);
    cr_assert(gw > 0, "no cairn-gateway process found for %s", n->data_dir);
    cr_assert_eq(kill(reg, SIGKILL), 0);

    pid_t reg2 = node_wait_role_restart(n, "cairn-registry", reg, 15000);
    cr_assert(reg2 > 0, "cairn run did not restart cairn-registry within 15 s");
    cr_assert(node_wait_registry_ready(n, 15000),
              "restarted registry's /ready (address from run/registry.admin \"%s\") not 200",
              n->registry_admin);
    expect_all_listed(n, SERVICES, PER_KIND);
    cr_expect_eq(node_role_pid(n, "cairn-gateway"), gw,
                 "the gateway was restarted although only the registry died");
    cr_expect(!it_proc_exited(n->run), "cairn run exited after a role died");
}

IT_TEST(resilience, gateway_kill9_is_restarted)
{
    it_node *n = node_start(NULL);
    register_many(n, 1, 5);
    pid_t gw = node_role_pid(n, "cairn-gateway");
    pid_t reg = node_role_pid(n, "cairn-registry");
    cr_assert(gw > 0 && reg > 0);
    cr_assert_eq(kill(gw, SIGKILL), 0);
    pid_t gw2 = node_wait_role_restart(n, "cairn-gateway", gw, 15000);
    cr_assert(gw2 > 0, "cairn run did not restart cairn-gateway within 15 s");
    /* The new gateway may listen on a new port: expect_all_listed re-reads run/gateway.http. */
    expect_all_listed(n, 1, 5);
    cr_expect_eq(node_role_pid(n, "cairn-registry"), reg,
                 "the registry was restarted although only the gateway died");
}

typedef struct alone_probe {
    const char *gateway; /* host:port */
    long last_status;
    char last_body[256];
} alone_probe;

static bool register_succeeds(void *arg)
{
    alone_probe *p = arg;
    http_resp r = nacos_call_at(p->gateway, "POST", NS "/instance",
                                Q("serviceName", "late", "ip", "127.0.0.1", "port", "1"), NULL,
                                NULL);
    p->last_status = r.status;
    snprintf(p->last_body, sizeof p->last_body, "%s", r.body);
    bool ok = r.status == 200 && strcmp(r.body, "ok") == 0;
    http_resp_free(&r);
    return ok;
}

typedef struct file_probe {
    char path[PATH_MAX + 32];
    char addr[64];
} file_probe;

static bool http_ready(void *arg)
{
    file_probe *f = arg;
    if (!it_read_addr_file(f->path, f->addr, sizeof f->addr))
        return false;
    http_resp r = http_get_addr(f->addr, "/ready", 1000);
    bool ok = r.status == 200;
    http_resp_free(&r);
    return ok;
}

IT_TEST(resilience, gateway_without_registry_503_then_recovers)
{
    char data_dir[PATH_MAX];
    char gw_http[64];
    it_proc *gw = gateway_start_alone(data_dir, sizeof data_dir, gw_http, sizeof gw_http);

    /* Every API call that needs the registry: 503, a message, and quickly. */
    struct {
        const char *method, *path;
        const char *const *q;
    } calls[] = {
        {"POST", NS "/instance", Q("serviceName", "late", "ip", "127.0.0.1", "port", "1")},
        {"GET", NS "/instance/list", Q("serviceName", "late")},
        {"GET", NS "/instance", Q("serviceName", "late", "ip", "127.0.0.1", "port", "1")},
        {"DELETE", NS "/instance", Q("serviceName", "late", "ip", "127.0.0.1", "port", "1")},
        {"PUT", NS "/instance/beat", Q("serviceName", "late", "ip", "127.0.0.1", "port", "1")},
        {"GET", NS "/service/list", Q("pageNo", "1", "pageSize", "10")},
        {"POST", NS "/service", Q("serviceName", "late2")},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        http_resp r = nacos_call_at(gw_http, calls[i].method, calls[i].path, calls[i].q, NULL,
                                    NULL);
        cr_expect_eq(r.status, 503, "%s %s without registry: expected 503, got %ld \"%s\" %s",
                     calls[i].method, calls[i].path, r.status, r.body, r.error);
        cr_expect(r.body_len > 0, "%s %s: 503 without a message", calls[i].method,
                  calls[i].path);
        cr_expect(r.content_type && strncmp(r.content_type, "text/plain", 10) == 0,
                  "%s %s: 503 content type \"%s\"", calls[i].method, calls[i].path,
                  r.content_type ? r.content_type : "");
        cr_expect_lt(r.elapsed_ms, 2000, "%s %s: 503 took %ld ms", calls[i].method,
                     calls[i].path, r.elapsed_ms);
        http_resp_free(&r);
    }

    /* The registry arrives late with the same data dir: the gateway recovers by itself. */
    it_proc *reg = role_start_alone("cairn-registry", data_dir,
                                    ARGS("registry.admin_listen=127.0.0.1:0"));
    file_probe rf;
    snprintf(rf.path, sizeof rf.path, "%s/run/registry.admin", data_dir);
    if (!wait_until(http_ready, &rf, IT_READY_TIMEOUT_MS)) {
        char *tail = it_log_tail(reg->log_path, 3000);
        cr_assert_fail("registry alone: /ready not 200 within %d ms; log:\n%s",
                       IT_READY_TIMEOUT_MS, tail);
    }
    alone_probe p = {.gateway = gw_http};
    cr_assert(wait_until(register_succeeds, &p, 5000),
              "gateway did not recover within 5 s of the registry's start: last %ld \"%s\"",
              p.last_status, p.last_body);
    cr_expect(!it_proc_exited(gw), "the gateway exited");
    http_resp r = nacos_call_at(gw_http, "GET", NS "/instance/list", Q("serviceName", "late"),
                                NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *l = json_parse_or_fail(r.body);
    cr_expect(list_find_host(l, "127.0.0.1", 1) != NULL);
    json_decref(l);
    http_resp_free(&r);

    /* And 503 again when the registry goes away, then back. */
    it_proc_stop(reg, true);
    r = nacos_call_at(gw_http, "GET", NS "/instance/list", Q("serviceName", "late"), NULL, NULL);
    cr_expect_eq(r.status, 503, "registry stopped: expected 503, got %ld \"%s\"", r.status,
                 r.body);
    /* Answered at the registry timeout (1.5 s), not held: the bound leaves room for a loaded
     * machine (it once took just over 2 s while a parallel build ran). */
    cr_expect_lt(r.elapsed_ms, 3000, "the 503 took %ld ms", r.elapsed_ms);
    http_resp_free(&r);
}

IT_TEST(resilience, acknowledged_writes_survive_kill9)
{
    it_node *n = node_start(NULL);
    pid_t reg = node_role_pid(n, "cairn-registry");
    cr_assert(reg > 0);
    /* Register and kill right after the last reply: whatever was acknowledged must be there. */
    register_many(n, 3, 10);
    cr_assert_eq(kill(reg, SIGKILL), 0);
    cr_assert(node_wait_role_restart(n, "cairn-registry", reg, 15000) > 0,
              "registry not restarted");
    cr_assert(node_wait_registry_ready(n, 15000), "restarted registry not ready");
    expect_all_listed(n, 3, 10);

    /* A service definition is durable too. */
    nacos_write_ok(n, "POST", NS "/service", Q("serviceName", "durable", "protectThreshold", "0.3"));
    reg = node_role_pid(n, "cairn-registry");
    cr_assert_eq(kill(reg, SIGKILL), 0);
    cr_assert(node_wait_role_restart(n, "cairn-registry", reg, 15000) > 0);
    cr_assert(node_wait_registry_ready(n, 15000));
    expect_list_answers(n);
    http_resp r = nacos_call(n, "GET", NS "/service", Q("serviceName", "durable"), NULL, NULL);
    cr_expect_eq(r.status, 200, "service definition lost after kill -9: %ld \"%s\"", r.status,
                 r.body);
    http_resp_free(&r);
}

IT_TEST(resilience, repeated_registry_crashes_are_restarted)
{
    it_node *n = node_start(NULL);
    register_many(n, 2, 5);
    for (int round = 0; round < 3; round++) {
        pid_t reg = node_role_pid(n, "cairn-registry");
        cr_assert(reg > 0, "round %d: no registry", round);
        cr_assert_eq(kill(reg, SIGKILL), 0);
        cr_assert(node_wait_role_restart(n, "cairn-registry", reg, 15000) > 0,
                  "round %d: registry not restarted", round);
        cr_assert(node_wait_registry_ready(n, 15000), "round %d: registry not ready", round);
    }
    expect_all_listed(n, 2, 5);
}

IT_TEST(resilience, sigint_stops_every_role)
{
    it_node *n = node_start(NULL);
    pid_t reg = node_role_pid(n, "cairn-registry");
    pid_t gw = node_role_pid(n, "cairn-gateway");
    cr_assert(reg > 0 && gw > 0);
    node_stop_with(n, SIGINT);
    cr_expect(it_proc_exited(n->run), "cairn run still runs after SIGINT");
    cr_expect(kill(reg, 0) != 0 || node_role_pid(n, "cairn-registry") == 0,
              "registry survived SIGINT to cairn run");
    cr_expect(kill(gw, 0) != 0 || node_role_pid(n, "cairn-gateway") == 0,
              "gateway survived SIGINT to cairn run");
    cr_expect(!tcp_can_connect(n->gateway), "the gateway port still accepts connections");
}

IT_TEST(resilience, node_restart_keeps_persistent_data)
{
    it_node *n = node_start(NULL);
    for (int i = 1; i <= 10; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.5.0.%d", i);
        nacos_write_ok(n, "POST", NS "/instance",
                       Q("serviceName", "again", "ip", ip, "port", "80", "ephemeral", "false",
                         "metadata", "k=v"));
    }
    nacos_write_ok(n, "POST", NS "/service",
                   Q("serviceName", "defined", "protectThreshold", "0.3", "metadata", "a=b"));
    node_stop(n);

    it_node_opts o = {.reuse_dir = n->dir};
    it_node *m = node_start(&o);
    json_t *l = nacos_list(m, Q("serviceName", "again"));
    int found = 0;
    for (int i = 1; i <= 10; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.5.0.%d", i);
        json_t *h = list_find_host(l, ip, 80);
        if (h && json_is_false(json_object_get(h, "ephemeral")) &&
            json_is_string(jget(h, "metadata.k")))
            found++;
    }
    cr_expect_eq(found, 10, "%d of 10 persistent instances survived a node restart", found);
    json_decref(l);
    http_resp r = nacos_call(m, "GET", NS "/service", Q("serviceName", "defined"), NULL, NULL);
    cr_expect_eq(r.status, 200, "service definition lost over a restart: %ld \"%s\"", r.status,
                 r.body);
    if (r.status == 200) {
        json_t *d = json_parse_or_fail(r.body);
        cr_expect_float_eq(jnum(d, "protectThreshold"), 0.3, 1e-6);
        cr_expect_str_eq(jstr(d, "metadata.a"), "b");
        json_decref(d);
    }
    http_resp_free(&r);
}

#define INFLIGHT_THREADS 4
#define INFLIGHT_PER_THREAD 100

typedef struct inflight {
    const char *gateway_url;
    int id;
    bool acked[INFLIGHT_PER_THREAD];
    atomic_int *acks;
} inflight;

/* Registers persistent instances one after the other, through the registry's death and restart;
 * records which ones were acknowledged with "ok". */
static void *inflight_writer(void *arg)
{
    inflight *w = arg;
    char svc[32];
    snprintf(svc, sizeof svc, "inflight-%d", w->id);
    for (int i = 0; i < INFLIGHT_PER_THREAD; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.%d.%d.%d", 50 + w->id, i / 250, i % 250 + 1);
        char *url = http_url(w->gateway_url, NS "/instance",
                             Q("serviceName", svc, "ip", ip, "port", "80", "ephemeral", "false"));
        if (!url)
            continue;
        http_resp r = http_request("POST", url, NULL, 0, NULL, NULL, IT_HTTP_TIMEOUT_MS);
        w->acked[i] = r.status == 200 && strcmp(r.body, "ok") == 0;
        if (w->acked[i])
            atomic_fetch_add(w->acks, 1);
        http_resp_free(&r);
        free(url);
    }
    return NULL;
}

static bool enough_acks(void *arg)
{
    return atomic_load((atomic_int *)arg) >= 60;
}

IT_TEST(resilience, kill9_during_concurrent_writes_keeps_every_acknowledged_write)
{
    it_node *n = node_start(NULL);
    pid_t reg = node_role_pid(n, "cairn-registry");
    cr_assert(reg > 0);
    atomic_int acks;
    atomic_init(&acks, 0);
    static inflight w[INFLIGHT_THREADS];
    pthread_t t[INFLIGHT_THREADS];
    for (int i = 0; i < INFLIGHT_THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].gateway_url = n->gateway_url;
        w[i].id = i;
        w[i].acks = &acks;
        cr_assert_eq(pthread_create(&t[i], NULL, inflight_writer, &w[i]), 0);
    }
    bool started = wait_until(enough_acks, &acks, 20000);
    int at_kill = atomic_load(&acks);
    if (started)
        kill(reg, SIGKILL);
    for (int i = 0; i < INFLIGHT_THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert(started, "writers got fewer than 60 acknowledgements in 20 s");
    cr_assert(node_wait_role_restart(n, "cairn-registry", reg, 15000) > 0, "registry not restarted");
    cr_assert(node_wait_registry_ready(n, 15000), "restarted registry not ready");
    expect_list_answers(n);

    int acked = 0, lost = 0;
    char missing[1024] = "";
    for (int i = 0; i < INFLIGHT_THREADS; i++) {
        char svc[32];
        snprintf(svc, sizeof svc, "inflight-%d", i);
        json_t *l = nacos_list(n, Q("serviceName", svc));
        for (int k = 0; k < INFLIGHT_PER_THREAD; k++) {
            if (!w[i].acked[k])
                continue;
            acked++;
            char ip[32];
            snprintf(ip, sizeof ip, "127.%d.%d.%d", 50 + i, k / 250, k % 250 + 1);
            if (!list_find_host(l, ip, 80)) {
                lost++;
                size_t u = strlen(missing);
                if (u + 40 < sizeof missing)
                    snprintf(missing + u, sizeof missing - u, " %s/%s", svc, ip);
            }
        }
        json_decref(l);
    }
    cr_expect_eq(lost, 0, "%d of %d acknowledged persistent registrations lost by kill -9:%s",
                 lost, acked, missing);
    cr_expect_lt(at_kill, INFLIGHT_THREADS * INFLIGHT_PER_THREAD,
                 "the writers had finished before the kill: the test proved nothing");
}
