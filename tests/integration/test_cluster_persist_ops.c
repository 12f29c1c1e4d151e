/* Writes that name no instance kind, through real nodes: a PATCH of a persistent instance on a
 * follower and a health set by hand of a persistent instance go through raft (read at once where
 * acknowledged, soon on every member); an active probe's flip of a persistent instance on its
 * service's owner reaches every member; a health set by hand of an ephemeral instance on a node
 * that does not own its service reaches the owner and, by Distro, every member; without a
 * majority the persistent PATCH and health answer 503 within the bound; a service a persistent
 * registration made is swept once emptied and can be made again. Latencies are printed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cairn_cluster.h"
#include "cairn_http.h"
#include "cairn_nacos.h"

#define ELECT_BOUND_MS (IT_SANITIZED ? 40000 : 20000) /* generous: bounds a wait only */
#define VISIBLE_BOUND_MS (IT_SANITIZED ? 40000 : 20000)
#define SUBMIT_TIMEOUT_MS 3000

TestSuite(cluster_persist_ops, .fini = it_teardown, .timeout = 290);

/* Probes every 200 ms; beats never expire an instance here (a health by hand is what changes). */
static const char *const sets[] = {
    "raft.election_timeout_ms=1000", "raft.heartbeat_ms=100", "raft.bootstrap_wait_ms=1000",
    "raft.submit_timeout_ms=3000", "raft.forward_wait_ms=2000", "health.probe_interval_ms=200",
    "health.probe_timeout_ms=300", "health.probe_unhealthy_threshold=2",
    "health.beat_timeout_ms=3600000", "health.delete_timeout_ms=7200000", NULL};

/* ---- one host as a node lists it ----------------------------------------------------------- */

typedef struct host_view {
    bool listed; /* the detail answered */
    bool healthy;
    double weight;
    char meta[64]; /* metadata "k", "" when absent */
} host_view;

/* The instance detail (GET /instance: the node's registry, no list cache, and no protection
 * threshold turning an all-unhealthy list healthy). */
static host_view host_at(const it_node *n, const char *svc, const char *ip, int port)
{
    host_view v = {0};
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    http_resp r = nacos_call(n, "GET", NS "/instance",
                             Q("serviceName", svc, "ip", ip, "port", p), NULL, NULL);
    json_t *h = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    if (h) {
        v.listed = true;
        v.healthy = json_is_true(json_object_get(h, "healthy"));
        v.weight = json_number_value(json_object_get(h, "weight"));
        const char *m = json_string_value(json_object_get(json_object_get(h, "metadata"), "k"));
        snprintf(v.meta, sizeof v.meta, "%s", m ? m : "");
    }
    json_decref(h);
    http_resp_free(&r);
    return v;
}

/* What every node of the cluster must show for one host. */
typedef struct want_arg {
    const it_cluster *c;
    const char *svc, *ip;
    int port;
    int healthy;      /* -1: any */
    const char *meta; /* NULL: any */
    double weight;    /* 0: any */
    int wrong;        /* the first node that did not show it on the last look, else -1 */
    host_view last;
} want_arg;

static bool shows(const want_arg *w, const host_view *v)
{
    return v->listed && (w->healthy < 0 || v->healthy == (w->healthy == 1)) &&
           (!w->meta || strcmp(v->meta, w->meta) == 0) &&
           (w->weight == 0 || v->weight == w->weight);
}

static bool all_show(void *arg)
{
    want_arg *w = arg;
    w->wrong = -1;
    for (int i = 0; i < w->c->count; i++) {
        w->last = host_at(w->c->nodes[i], w->svc, w->ip, w->port);
        if (!shows(w, &w->last)) {
            w->wrong = i;
            return false;
        }
    }
    return true;
}

static void wait_all_show(want_arg *w, const char *what)
{
    bool ok = wait_until(all_show, w, VISIBLE_BOUND_MS);
    cr_assert(ok, "%s: node %d shows listed=%d healthy=%d weight=%g k=%s", what, w->wrong,
              w->last.listed, w->last.healthy, w->last.weight, w->last.meta);
}

static void expect_shown_at(want_arg *w, int i, const char *what)
{
    host_view v = host_at(w->c->nodes[i], w->svc, w->ip, w->port);
    cr_assert(shows(w, &v), "%s is not read at once on node %d where it was acknowledged "
              "(listed=%d healthy=%d weight=%g k=%s)", what, i, v.listed, v.healthy, v.weight,
              v.meta);
}

/* ---- writes -------------------------------------------------------------------------------- */

static long call(const it_node *n, const char *method, const char *path,
                 const char *const *query, char *body, size_t body_len)
{
    http_resp r = nacos_call(n, method, path, query, NULL, NULL);
    long status = r.status;
    snprintf(body, body_len, "%s", r.body ? r.body : "");
    http_resp_free(&r);
    return status;
}

static void none_checker(const it_node *n, const char *svc)
{
    nacos_write_ok(n, "PUT", NS "/cluster",
                   Q("serviceName", svc, "clusterName", "DEFAULT", "healthChecker",
                     "{\"type\":\"NONE\"}", "checkPort", "80", "useInstancePort4Check", "true"));
}

typedef struct none_arg {
    const it_cluster *c;
    const char *svc;
} none_arg;

/* Every node's registry has the raft entry that made svc's DEFAULT cluster NONE (a follower
 * applies a commit a heartbeat or so after the member that acknowledged it). */
static bool none_everywhere(void *arg)
{
    none_arg *a = arg;
    for (int i = 0; i < a->c->count; i++) {
        http_resp r = nacos_call(a->c->nodes[i], "GET", NS "/service",
                                 Q("serviceName", a->svc), NULL, NULL);
        json_t *d = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
        json_t *t = d ? jget(d, "clusters.0.healthChecker.type") : NULL;
        bool none = t && json_is_string(t) && strcmp(json_string_value(t), "NONE") == 0;
        json_decref(d);
        http_resp_free(&r);
        if (!none)
            return false;
    }
    return true;
}

static void wait_none_everywhere(const it_cluster *c, const char *svc)
{
    none_arg a = {c, svc};
    cr_assert(wait_until(none_everywhere, &a, VISIBLE_BOUND_MS),
              "not every member has the NONE checker of %s", svc);
}

/* n sequential PATCHes (metadata k=m<k>) of the persistent 127.84.0.1:8080 of pops-p on node i;
 * prints p50/p90/max in ms. */
static void measure_patch(const it_cluster *c, int i, const char *label, int n)
{
    long long *ms = calloc((size_t)n, sizeof *ms);
    cr_assert(ms);
    for (int k = 0; k < n; k++) {
        char meta[32], body[256];
        snprintf(meta, sizeof meta, "k=m%d", k);
        int64_t t0 = it_now_ms();
        long s = call(c->nodes[i], "PATCH", NS "/instance",
                      Q("serviceName", "pops-p", "ip", "127.84.0.1", "port", "8080", "metadata",
                        meta),
                      body, sizeof body);
        ms[k] = it_now_ms() - t0;
        cr_assert_eq(s, 200, "patch %d on the %s: %ld %s", k, label, s, body);
    }
    char what[128];
    snprintf(what, sizeof what, "persistent PATCH through raft on the %s (%d sequential HTTP "
             "requests)", label, n);
    it_print_latencies(what, ms, n);
    free(ms);
}

/* A port on 127.0.0.1 nothing listens on (bound, then closed): a TCP probe there fails. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

IT_TEST(cluster_persist_ops, patch_and_health_reach_every_member)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = sets};
    it_cluster *c = cluster_start(&o);
    int leader = cluster_wait_raft_leader(c, 0, ELECT_BOUND_MS);
    int f = (leader + 1) % 3, g = (leader + 2) % 3;
    char body[256];

    /* A persistent instance, then a PATCH on a follower: through raft, not just one node. */
    cr_assert_eq(call(c->nodes[f], "POST", NS "/instance",
                      Q("serviceName", "pops-p", "ip", "127.84.0.1", "port", "8080", "ephemeral",
                        "false", "metadata", "k=v0"),
                      body, sizeof body),
                 200, "%s", body);
    want_arg w = {.c = c, .svc = "pops-p", .ip = "127.84.0.1", .port = 8080, .healthy = -1,
                  .meta = "v0"};
    wait_all_show(&w, "the persistent registration");
    nacos_write_ok(c->nodes[g], "PATCH", NS "/instance",
                   Q("serviceName", "pops-p", "ip", "127.84.0.1", "port", "8080", "metadata",
                     "k=v1", "weight", "3"));
    w.meta = "v1";
    w.weight = 3;
    expect_shown_at(&w, g, "the PATCH");
    wait_all_show(&w, "the PATCH of a persistent instance");

    /* Health by hand of the persistent instance, on the other follower. */
    none_checker(c->nodes[leader], "pops-p");
    wait_none_everywhere(c, "pops-p");
    nacos_write_ok(c->nodes[f], "PUT", NS "/health/instance",
                   Q("serviceName", "pops-p", "ip", "127.84.0.1", "port", "8080", "healthy",
                     "false"));
    w.healthy = 0;
    expect_shown_at(&w, f, "the health by hand");
    wait_all_show(&w, "the health by hand of a persistent instance");
    int64_t t0 = it_now_ms();
    nacos_write_ok(c->nodes[g], "PUT", NS "/health/instance",
                   Q("serviceName", "pops-p", "ip", "127.84.0.1", "port", "8080", "healthy",
                     "true"));
    printf("persistent health by hand through raft on a follower: %lld ms\n",
           (long long)(it_now_ms() - t0));
    w.healthy = 1;
    expect_shown_at(&w, g, "the health by hand");
    wait_all_show(&w, "the second health by hand of a persistent instance");
    /* the rules still answer as standalone: a checked cluster refuses health by hand */
    cr_assert_eq(call(c->nodes[f], "POST", NS "/instance",
                      Q("serviceName", "pops-checked", "ip", "127.84.0.3", "port", "8080",
                        "ephemeral", "false"),
                      body, sizeof body),
                 200, "%s", body);
    /* read-your-writes holds on the node written to; g answers once it has applied it */
    want_arg checked = {.c = c, .svc = "pops-checked", .ip = "127.84.0.3", .port = 8080,
                        .healthy = -1};
    wait_all_show(&checked, "the checked persistent registration");
    nacos_expect_error(c->nodes[g], "PUT", NS "/health/instance",
                       Q("serviceName", "pops-checked", "ip", "127.84.0.3", "port", "8080",
                         "healthy", "false"),
                       NULL, 400,
                       "health check is still working, service: DEFAULT_GROUP@@pops-checked",
                       false);
    measure_patch(c, f, "follower", IT_SANITIZED ? 10 : 30);
    measure_patch(c, leader, "leader", IT_SANITIZED ? 10 : 30);

    /* Health by hand of an ephemeral instance on a node that does not own its service. */
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, "pops-e");
    int other = (owner + 1) % 3;
    nacos_write_ok(c->nodes[other], "POST", NS "/service", Q("serviceName", "pops-e"));
    none_checker(c->nodes[other], "pops-e");
    wait_none_everywhere(c, "pops-e");
    nacos_write_ok(c->nodes[other], "POST", NS "/instance",
                   Q("serviceName", "pops-e", "ip", "127.84.0.2", "port", "8080"));
    want_arg e = {.c = c, .svc = "pops-e", .ip = "127.84.0.2", .port = 8080, .healthy = 1};
    wait_all_show(&e, "the ephemeral registration");
    t0 = it_now_ms();
    nacos_write_ok(c->nodes[other], "PUT", NS "/health/instance",
                   Q("serviceName", "pops-e", "ip", "127.84.0.2", "port", "8080", "healthy",
                     "false"));
    printf("ephemeral health by hand forwarded to the owner: %lld ms\n",
           (long long)(it_now_ms() - t0));
    fflush(stdout);
    e.healthy = 0;
    host_view ov = host_at(c->nodes[owner], "pops-e", "127.84.0.2", 8080);
    cr_assert(ov.listed && !ov.healthy,
              "the owner does not show the health set by hand on a non-owner at once");
    wait_all_show(&e, "the ephemeral health by hand");

    /* The owner's probes flip a persistent instance (default TCP checker, nothing listening):
     * every member sees it, not only the owner. */
    int port = closed_port();
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    cr_assert_eq(call(c->nodes[f], "POST", NS "/instance",
                      Q("serviceName", "pops-probe", "ip", "127.0.0.1", "port", p, "ephemeral",
                        "false"),
                      body, sizeof body),
                 200, "%s", body);
    want_arg pr = {.c = c, .svc = "pops-probe", .ip = "127.0.0.1", .port = port, .healthy = 0};
    wait_all_show(&pr, "the probes' flip of a persistent instance");
}

/* PUT /instance/metadata/batch on a node that neither owns the service nor leads raft: the
 * ephemeral instance's keys go to its Distro owner, the persistent one's through raft, and every
 * member shows both. */
IT_TEST(cluster_persist_ops, metadata_batch_reaches_every_member)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = sets};
    it_cluster *c = cluster_start(&o);
    int leader = cluster_wait_raft_leader(c, 0, ELECT_BOUND_MS);
    int owner = cluster_owner_among(c, IT_CLUSTER_ALL, "pops-mb");
    int at = 0;
    while (at < 2 && (at == owner || at == leader))
        at++;
    nacos_write_ok(c->nodes[(at + 1) % 3], "POST", NS "/instance",
                   Q("serviceName", "pops-mb", "ip", "127.84.0.5", "port", "8080", "metadata",
                     "k=e0"));
    nacos_write_ok(c->nodes[(at + 2) % 3], "POST", NS "/instance",
                   Q("serviceName", "pops-mb", "ip", "127.84.0.6", "port", "8080", "ephemeral",
                     "false", "metadata", "k=p0"));
    want_arg e = {.c = c, .svc = "pops-mb", .ip = "127.84.0.5", .port = 8080, .healthy = -1,
                  .meta = "e0"};
    want_arg p = {.c = c, .svc = "pops-mb", .ip = "127.84.0.6", .port = 8080, .healthy = -1,
                  .meta = "p0"};
    wait_all_show(&e, "the ephemeral registration");
    wait_all_show(&p, "the persistent registration");

    char body[512];
    cr_assert_eq(call(c->nodes[at], "PUT", NS "/instance/metadata/batch",
                      Q("serviceName", "pops-mb", "metadata", "k=v1", "instances",
                        "[{\"ip\":\"127.84.0.5\",\"port\":8080},"
                        "{\"ip\":\"127.84.0.6\",\"port\":8080,\"ephemeral\":false}]"),
                      body, sizeof body),
                 200, "%s", body);
    cr_expect_str_eq(body, "{\"updated\":[\"127.84.0.6:8080:unknown:DEFAULT:persist\","
                           "\"127.84.0.5:8080:unknown:DEFAULT:ephemeral\"]}");
    e.meta = p.meta = "v1";
    /* the persistent write is read at once where it was acknowledged */
    expect_shown_at(&p, at, "the batch's persistent write");
    wait_all_show(&e, "the batch's ephemeral write");
    wait_all_show(&p, "the batch's persistent write");
}

IT_TEST(cluster_persist_ops, minority_answers_503_for_persistent_patch_and_health)
{
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = sets};
    it_cluster *c = cluster_start(&o);
    int leader = cluster_wait_raft_leader(c, 0, ELECT_BOUND_MS);
    int survivor = (leader + 1) % 3;
    char body[256];
    cr_assert_eq(call(c->nodes[survivor], "POST", NS "/instance",
                      Q("serviceName", "pops-m", "ip", "127.85.0.1", "port", "8080", "ephemeral",
                        "false"),
                      body, sizeof body),
                 200, "%s", body);
    none_checker(c->nodes[survivor], "pops-m");
    want_arg w = {.c = c, .svc = "pops-m", .ip = "127.85.0.1", .port = 8080, .healthy = 1};
    wait_all_show(&w, "the persistent registration");
    for (int i = 0; i < 3; i++) { /* the two others lose their replicators */
        if (i == survivor)
            continue;
        pid_t repl = node_role_pid(c->nodes[i], "cairn-replicator");
        cr_assert(repl > 0);
        cr_assert_eq(kill(c->nodes[i]->run->pid, SIGSTOP), 0);
        cr_assert_eq(kill(repl, SIGKILL), 0);
    }
    const char *const *writes[] = {
        Q("serviceName", "pops-m", "ip", "127.85.0.1", "port", "8080", "weight", "5"),
        Q("serviceName", "pops-m", "ip", "127.85.0.1", "port", "8080", "healthy", "false")};
    const char *methods[] = {"PATCH", "PUT"};
    const char *paths[] = {NS "/instance", NS "/health/instance"};
    for (int k = 0; k < 2; k++) {
        int64_t t0 = it_now_ms();
        long s = call(c->nodes[survivor], methods[k], paths[k], writes[k], body, sizeof body);
        int64_t took = it_now_ms() - t0;
        printf("raft minority: persistent %s %s answered %ld in %lld ms: %s\n", methods[k],
               paths[k], s, (long long)took, body);
        fflush(stdout);
        cr_assert_eq(s, 503, "a minority acknowledged a persistent %s: %s", methods[k], body);
        cr_assert_leq(took, SUBMIT_TIMEOUT_MS + (IT_SANITIZED ? 6000 : 3000),
                      "the 503 took %lld ms", (long long)took);
    }
    host_view v = host_at(c->nodes[survivor], "pops-m", "127.85.0.1", 8080);
    cr_assert(v.listed && v.healthy && v.weight == 1, "a refused write changed the instance "
              "(healthy=%d weight=%g)", v.healthy, v.weight);
    for (int i = 0; i < 3; i++)
        if (i != survivor)
            kill(c->nodes[i]->run->pid, SIGCONT);
}

/* ---- an emptied persistent service ---------------------------------------------------------- */

typedef struct service_arg {
    const it_cluster *c;
    const char *svc;
    bool present; /* what every node must answer: GET service 200, or not */
} service_arg;

static bool service_everywhere(void *arg)
{
    service_arg *a = arg;
    for (int i = 0; i < a->c->count; i++) {
        char body[512];
        long s = call(a->c->nodes[i], "GET", NS "/service", Q("serviceName", a->svc), body,
                      sizeof body);
        if ((s == 200) != a->present)
            return false;
    }
    return true;
}

/* A service made by a persistent registration goes with its last instance: the registries'
 * empty-service sweep removes it everywhere, and the raft state forgets it with the last
 * deregistration, so creating it again through the service API works (it answered "already
 * exists" for good while the log kept a definition no node listed). */
IT_TEST(cluster_persist_ops, an_emptied_persistent_service_is_swept_and_made_again)
{
    static const char *const sweep_sets[] = {
        "raft.election_timeout_ms=1000", "raft.bootstrap_wait_ms=1000",
        "registry.empty_service_clean_after_ms=300", "registry.empty_service_sweep_ms=50", NULL};
    it_cluster_opts o = {.nodes = 3, .layout = IT_LAYOUT_PORTS, .wrong_secret_node = -1,
                         .sets = sweep_sets};
    it_cluster *c = cluster_start(&o);
    int leader = cluster_wait_raft_leader(c, 0, ELECT_BOUND_MS);
    int f = (leader + 1) % 3, g = (leader + 2) % 3;
    nacos_write_ok(c->nodes[f], "POST", NS "/instance",
                   Q("serviceName", "pops-e", "ip", "127.84.0.9", "port", "8080", "ephemeral",
                     "false"));
    want_arg w = {.c = c, .svc = "pops-e", .ip = "127.84.0.9", .port = 8080, .healthy = -1};
    wait_all_show(&w, "the persistent registration");
    nacos_write_ok(c->nodes[g], "DELETE", NS "/instance",
                   Q("serviceName", "pops-e", "ip", "127.84.0.9", "port", "8080", "ephemeral",
                     "false"));
    service_arg gone = {c, "pops-e", false};
    cr_assert(wait_until(service_everywhere, &gone, VISIBLE_BOUND_MS),
              "the emptied service is not swept on every node");
    char body[512];
    long s = call(c->nodes[leader], "POST", NS "/service",
                  Q("serviceName", "pops-e", "protectThreshold", "0.5"), body, sizeof body);
    cr_assert_eq(s, 200, "the service API cannot make the swept service again: %ld %s", s, body);
    service_arg back = {c, "pops-e", true};
    cr_assert(wait_until(service_everywhere, &back, VISIBLE_BOUND_MS),
              "the service made again is not on every node");
    s = call(c->nodes[f], "POST", NS "/service", Q("serviceName", "pops-e"), body, sizeof body);
    cr_assert_neq(s, 200, "a second create of a defined service succeeded: %s", body);
}
