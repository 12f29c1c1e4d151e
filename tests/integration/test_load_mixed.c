/* One node under 1 000 concurrent keep-alive connections (design §4 flows): every connection
 * registers ephemeral instances, beats them and lists its service, all at once. Every request is
 * answered 200 with a well-formed body, each connection stays the one it opened, every
 * acknowledged registration is listed afterwards, and no role restarted.
 *
 * The client is one thread driving libcurl's multi interface: 1 000 easy handles, one per
 * connection, each re-added with its next request as soon as the previous one is answered
 * (closed loop). The load is bounded twice: at most PER_CONN requests per connection, and no
 * request is started after LOAD_MS. A 503 counts as a failure: it is the gateway giving up on a
 * role (gateway.registry_timeout_ms, gateway.healthcheck_timeout_ms), and with every role up and
 * nothing restarted, "every request answered" means answered with its result, not refused. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(load_mixed, .fini = it_teardown, .timeout = 240);

#define CONNS 1000
#define SERVICES 100 /* connection i works on service mixed-<i % SERVICES> */
/* Each connection repeats register, beat, list, beat (the beats for the instance it registered
 * just before). The sanitizer build runs every role several times slower. */
#define CYCLE 4
#define PER_CONN (IT_SANITIZED ? 8 : 16)
#define REGS_PER_CONN ((PER_CONN + CYCLE - 1) / CYCLE)
#define LOAD_MS (IT_SANITIZED ? 30000 : 15000) /* no request starts later than this */
#define REQUEST_TIMEOUT_MS 20000             /* a request unanswered this long has failed */
#define MAX_REPORTED 8                       /* failures quoted in the message */

typedef enum kind { REGISTER, BEAT, LIST } kind;
static const char *const kind_names[] = {"register", "beat", "list"};

typedef struct conn {
    CURL *easy;
    int id;
    int sent;             /* requests started */
    int regs;             /* registrations started */
    bool acked[REGS_PER_CONN];
    kind what;
    http_body resp;
} conn;

typedef struct load {
    const it_node *n;
    CURLM *multi;
    conn conns[CONNS];
    int64_t stop_starting_ms;
    long answered[3], failed[3], unavailable;
    long connects; /* connections curl opened, over all requests */
    int reported;
    char failures[MAX_REPORTED][400];
} load;

/* The instance of connection id's registration number reg: an address of its own. */
static void instance_of(int id, int reg, char *ip, size_t ip_len, int *port)
{
    snprintf(ip, ip_len, "127.%d.%d.%d", 40 + id / 250, id % 250, reg + 1);
    *port = 8000 + reg;
}

static void service_of(int id, char *svc, size_t len)
{
    snprintf(svc, len, "mixed-%d", id % SERVICES);
}

/* Sets up c's next request on its easy handle (the connection cache lives in the multi handle,
 * so a reset keeps the connection). */
static void prepare(load *l, conn *c)
{
    int step = c->sent % CYCLE;
    c->what = step == 0 ? REGISTER : step == 2 ? LIST : BEAT;
    if (c->what == REGISTER)
        c->regs++;
    char svc[32], ip[32], url[512];
    int port;
    service_of(c->id, svc, sizeof svc);
    instance_of(c->id, c->regs - 1, ip, sizeof ip, &port);
    if (c->what == REGISTER)
        snprintf(url, sizeof url, "%s" NS "/instance?serviceName=%s&ip=%s&port=%d&ephemeral=true",
                 l->n->gateway_url, svc, ip, port);
    else if (c->what == BEAT)
        snprintf(url, sizeof url, "%s" NS "/instance/beat?serviceName=%s&ip=%s&port=%d",
                 l->n->gateway_url, svc, ip, port);
    else
        snprintf(url, sizeof url, "%s" NS "/instance/list?serviceName=%s", l->n->gateway_url,
                 svc);
    CURL *e = c->easy;
    http_easy_setup(e, url, REQUEST_TIMEOUT_MS, &c->resp, c);
    if (c->what != LIST) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        if (c->what == BEAT)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    }
    c->sent++;
}

/* Counts a failed request and quotes the first few: what went wrong, and the body if any. */
static void report(load *l, const conn *c, const char *what, const char *resp)
{
    l->failed[c->what]++;
    if (l->reported < MAX_REPORTED)
        snprintf(l->failures[l->reported++], sizeof l->failures[0],
                 "connection %d, request %d (%s): %s \"%.200s\"", c->id, c->sent,
                 kind_names[c->what], what, resp);
}

/* Whether a 200 answer is the right kind of body. */
static bool body_ok(const conn *c)
{
    const char *b = c->resp.data ? c->resp.data : "";
    if (c->what == REGISTER)
        return strcmp(b, "ok") == 0;
    json_t *j = json_loads(b, 0, NULL);
    bool ok = json_is_object(j) &&
              (c->what == BEAT ? json_integer_value(json_object_get(j, "code")) == 10200
                               : json_is_array(json_object_get(j, "hosts")));
    json_decref(j);
    return ok;
}

/* One finished transfer: checks its answer and records an acknowledged registration. */
static void finished(load *l, conn *c, CURLcode rc)
{
    long status = 0, connects = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects);
    l->connects += connects;
    if (rc != CURLE_OK) {
        report(l, c, curl_easy_strerror(rc), "");
        return;
    }
    const char *b = c->resp.data ? c->resp.data : "";
    if (status == 503)
        l->unavailable++;
    char what[64];
    snprintf(what, sizeof what, "status %ld", status);
    if (status != 200 || !body_ok(c)) {
        report(l, c, what, b);
        return;
    }
    l->answered[c->what]++;
    if (c->what == REGISTER)
        c->acked[c->regs - 1] = true;
}

/* Drives every connection until each has sent PER_CONN requests or LOAD_MS has passed, and
 * every request started has finished. Returns false when the loop itself overran its bound. */
static bool run_load(load *l)
{
    int in_flight = 0;
    for (int i = 0; i < CONNS; i++) {
        prepare(l, &l->conns[i]);
        cr_assert_eq(curl_multi_add_handle(l->multi, l->conns[i].easy), CURLM_OK);
        in_flight++;
    }
    int64_t give_up = l->stop_starting_ms + REQUEST_TIMEOUT_MS + 10000;
    while (in_flight > 0 && it_now_ms() < give_up) {
        int running;
        cr_assert_eq(curl_multi_perform(l->multi, &running), CURLM_OK);
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read(l->multi, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURLcode rc = msg->data.result;
            CURL *e = msg->easy_handle;
            char *priv = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            conn *c = (conn *)priv;
            curl_multi_remove_handle(l->multi, e);
            finished(l, c, rc);
            if (c->sent < PER_CONN && it_now_ms() < l->stop_starting_ms) {
                prepare(l, c);
                cr_assert_eq(curl_multi_add_handle(l->multi, e), CURLM_OK);
            } else {
                in_flight--;
            }
        }
        if (in_flight > 0)
            cr_assert_eq(curl_multi_poll(l->multi, NULL, 0, 100, NULL), CURLM_OK);
    }
    return in_flight == 0;
}

/* Every instance connection ids registered with a 200 is in its service's list; nothing is
 * listed that was never sent; with no failure at all, exactly the sent ones are listed. */
static void check_listed(const it_node *n, const load *l, bool no_failures)
{
    int missing = 0, miscounted = 0;
    char first_missing[200] = "";
    for (int s = 0; s < SERVICES; s++) {
        char svc[32];
        service_of(s, svc, sizeof svc);
        json_t *list = nacos_list(n, Q("serviceName", svc));
        int sent = 0, acked = 0;
        for (int id = s; id < CONNS; id += SERVICES) {
            const conn *c = &l->conns[id];
            sent += c->regs;
            for (int r = 0; r < c->regs; r++) {
                if (!c->acked[r])
                    continue;
                acked++;
                char ip[32];
                int port;
                instance_of(id, r, ip, sizeof ip, &port);
                if (!list_find_host(list, ip, port) && missing++ == 0)
                    snprintf(first_missing, sizeof first_missing, "%s %s:%d", svc, ip, port);
            }
        }
        int hosts = list_host_count(list);
        if (hosts > sent || hosts < acked || (no_failures && hosts != sent))
            miscounted++;
        cr_expect(hosts <= sent && hosts >= acked,
                  "%s lists %d hosts; %d registrations were sent, %d acknowledged", svc, hosts,
                  sent, acked);
        json_decref(list);
    }
    cr_expect_eq(missing, 0, "%d acknowledged registrations are not listed (first: %s)", missing,
                 first_missing);
    cr_expect_eq(miscounted, 0, "%d services list another number of hosts than were registered",
                 miscounted);
}

static const char *const roles[] = {"cairn-gateway", "cairn-registry", "cairn-healthcheck",
                                    "cairn-pusher"};
#define ROLES (sizeof roles / sizeof roles[0])

/* 1 000 client sockets here, 1 000 more in the gateway, which inherits this limit (its
 * gateway.max_connections default, 4096, admits them). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "cannot raise RLIMIT_NOFILE to %llu",
                     (unsigned long long)rl.rlim_max);
    }
    cr_assert(rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= CONNS + 256,
              "RLIMIT_NOFILE hard limit %llu is too low for %d connections",
              (unsigned long long)rl.rlim_cur, CONNS);
}

static load *load_new(const it_node *n)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    load *l = calloc(1, sizeof *l);
    cr_assert(l != NULL);
    l->n = n;
    cr_assert((l->multi = curl_multi_init()) != NULL);
    /* One connection per easy handle: no queueing behind the host limit, none closed as spare. */
    curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)CONNS);
    curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)CONNS);
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, (long)CONNS);
    for (int i = 0; i < CONNS; i++) {
        l->conns[i].id = i;
        cr_assert((l->conns[i].easy = curl_easy_init()) != NULL);
    }
    return l;
}

static void load_free(load *l)
{
    for (int i = 0; i < CONNS; i++) {
        curl_easy_cleanup(l->conns[i].easy);
        free(l->conns[i].resp.data);
    }
    curl_multi_cleanup(l->multi);
    free(l);
    curl_global_cleanup();
}

/* Every request answered 200 with its body, every connection through a whole cycle, and the
 * same 1 000 connections throughout. Returns the number of failed requests. */
static long check_answers(const load *l, bool drained, int64_t took_ms)
{
    long total = 0, failed = 0;
    for (int k = 0; k < 3; k++) {
        total += l->answered[k] + l->failed[k];
        failed += l->failed[k];
    }
    cr_log_info("%ld requests on %d connections in %lld ms (%.0f/s): %ld registers, %ld beats, "
                "%ld lists answered 200; %ld connections opened",
                total, CONNS, (long long)took_ms, took_ms > 0 ? total * 1000.0 / took_ms : 0.0,
                l->answered[REGISTER], l->answered[BEAT], l->answered[LIST], l->connects);
    cr_expect(drained, "requests still unanswered %d ms after the last one started",
              REQUEST_TIMEOUT_MS + 10000);
    char msg[MAX_REPORTED * 400 + 64] = "";
    for (int i = 0; i < l->reported; i++)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "\n  %s", l->failures[i]);
    cr_expect_eq(failed, 0,
                 "%ld of %ld requests failed (%ld registers, %ld beats, %ld lists; %ld of them "
                 "503):%s",
                 failed, total, l->failed[REGISTER], l->failed[BEAT], l->failed[LIST],
                 l->unavailable, msg);
    /* The time bound did not leave the test without load. */
    int short_conns = 0;
    for (int i = 0; i < CONNS; i++)
        short_conns += l->conns[i].sent < CYCLE;
    cr_expect_eq(short_conns, 0, "%d connections did not get through %d requests in %d ms",
                 short_conns, CYCLE, LOAD_MS);
    /* Keep-alive held: 1 000 requests in flight at once opened 1 000 connections, and every
     * later request reused one (the gateway closed none). */
    cr_expect_eq(l->connects, CONNS, "%ld connections opened for %d clients (keep-alive lost)",
                 l->connects, CONNS);
    return failed;
}

IT_TEST(load_mixed, thousand_keepalive_connections_register_beat_and_list)
{
    raise_fd_limit();
    it_node *n = node_start(NULL);
    pid_t pids[ROLES];
    for (size_t i = 0; i < ROLES; i++) {
        pids[i] = node_role_pid(n, roles[i]);
        cr_assert_gt(pids[i], 0, "%s is not running", roles[i]);
    }

    load *l = load_new(n);
    int64_t t0 = it_now_ms();
    l->stop_starting_ms = t0 + LOAD_MS;
    bool drained = run_load(l);
    long failed = check_answers(l, drained, it_now_ms() - t0);
    check_listed(n, l, failed == 0);

    for (size_t i = 0; i < ROLES; i++)
        cr_expect_eq(node_role_pid(n, roles[i]), pids[i], "%s restarted under load (pid %d)",
                     roles[i], (int)pids[i]);
    char *log = it_read_file(n->run->log_path);
    bool restarted = !log || strstr(log, "restarting ");
    free(log);
    char *tail = restarted ? it_log_tail(n->run->log_path, 2000) : NULL;
    cr_expect(!restarted, "cairn run restarted a role; its log ends:\n%s", tail ? tail : "");
    free(tail);
    load_free(l);
}
