/* Many clients at once (design §3 group commit, §4 flows): concurrent registrations and
 * deregistrations all land exactly once, readers never see a broken list, and a service's change
 * events keep strictly increasing revisions. Counts are bounded; nothing is timed. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_harness.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"

TestSuite(concurrency, .fini = it_teardown, .timeout = 180);

#define THREADS 8
#define PER_THREAD 40

typedef struct worker {
    const it_node *n;
    int id;
    const char *method; /* POST or DELETE */
    int first, count;   /* instance numbers first .. first+count-1 */
    int failures;
    char last_error[600];
} worker;

/* Criterion assertions may only run on the test's own thread: workers record failures. */
static void *run_worker(void *arg)
{
    worker *w = arg;
    char own[32];
    snprintf(own, sizeof own, "conc-%d", w->id);
    for (int i = w->first; i < w->first + w->count; i++) {
        char ip[32], port[16];
        snprintf(ip, sizeof ip, "127.%d.%d.%d", 100 + w->id, i / 250, i % 250 + 1);
        snprintf(port, sizeof port, "%d", 1000 + i);
        const char *services[] = {"conc", own};
        for (int s = 0; s < 2; s++) {
            char *url = http_url(w->n->gateway_url, NS "/instance",
                                 Q("serviceName", services[s], "ip", ip, "port", port,
                                   "ephemeral", (i % 2) ? "true" : "false"));
            if (!url) {
                w->failures++;
                continue;
            }
            http_resp r = http_request(w->method, url, NULL, 0, NULL, NULL, IT_HTTP_TIMEOUT_MS);
            if (r.status != 200 || strcmp(r.body, "ok") != 0) {
                w->failures++;
                snprintf(w->last_error, sizeof w->last_error, "%s %s: %ld \"%.100s\" %s",
                         w->method, url, r.status, r.body, r.error);
            }
            http_resp_free(&r);
            free(url);
        }
    }
    return NULL;
}

typedef struct reader {
    const it_node *n;
    atomic_bool stop;
    int lists, bad, decreased;
    char last_error[600];
} reader;

/* Lists the shared service while writers run: each answer must be a whole, valid list, and
 * during registrations only the host count never goes down. */
static void *run_reader(void *arg)
{
    reader *rd = arg;
    int prev = 0;
    char *url = http_url(rd->n->gateway_url, NS "/instance/list", Q("serviceName", "conc"));
    if (!url)
        return NULL;
    while (!atomic_load(&rd->stop) && rd->lists < 2000) {
        http_resp r = http_request("GET", url, NULL, 0, NULL, NULL, IT_HTTP_TIMEOUT_MS);
        rd->lists++;
        json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
        json_t *hosts = j ? json_object_get(j, "hosts") : NULL;
        if (!json_is_array(hosts)) {
            rd->bad++;
            snprintf(rd->last_error, sizeof rd->last_error, "%ld \"%.150s\" %s", r.status,
                     r.body, r.error);
        } else {
            int c = (int)json_array_size(hosts);
            if (c < prev)
                rd->decreased++;
            prev = c;
        }
        json_decref(j);
        http_resp_free(&r);
    }
    free(url);
    return NULL;
}

static void run_workers(const it_node *n, const char *method, int first, int count)
{
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.n = n, .id = i, .method = method, .first = first, .count = count};
        cr_assert_eq(pthread_create(&t[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        cr_expect_eq(w[i].failures, 0, "worker %d: %d failed %s requests, last: %s", i,
                     w[i].failures, method, w[i].last_error);
}

/* Exactly the expected hosts of worker id (numbers first..first+count-1) in a list answer. */
static int count_worker_hosts(const json_t *l, int id, int first, int count)
{
    int found = 0;
    for (int i = first; i < first + count; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.%d.%d.%d", 100 + id, i / 250, i % 250 + 1);
        json_t *h = list_find_host(l, ip, 1000 + i);
        if (h && json_is_boolean(json_object_get(h, "ephemeral")) &&
            json_is_true(json_object_get(h, "ephemeral")) == (i % 2 == 1))
            found++;
    }
    return found;
}

IT_TEST(concurrency, parallel_writers_and_readers)
{
    it_node *n = node_start(NULL);
    it_sub sub;
    cr_assert(events_open(&sub, n));
    /* Make sure the subscription is live before the writes (SUB joins asynchronously). */
    bool live = false;
    for (int round = 1; round <= 50 && !live; round++) {
        char port[16];
        snprintf(port, sizeof port, "%d", round);
        nacos_write_ok(n, "POST", NS "/instance",
                       Q("serviceName", "warmup", "ip", "127.9.9.9", "port", port));
        cairn_change_event ev;
        int64_t deadline = it_now_ms() + 200;
        while (!live && it_now_ms() < deadline && events_next(&sub, &ev, 50)) {
            live = ev.service && strcmp(ev.service, "DEFAULT_GROUP@@warmup") == 0;
            cairn_event_free(&ev);
        }
    }
    cr_assert(live, "no change event seen on registry-events.sock");

    reader rd = {.n = n};
    atomic_init(&rd.stop, false);
    pthread_t rt;
    cr_assert_eq(pthread_create(&rt, NULL, run_reader, &rd), 0);
    run_workers(n, "POST", 0, PER_THREAD);
    atomic_store(&rd.stop, true);
    pthread_join(rt, NULL);
    cr_expect_eq(rd.bad, 0, "%d of %d concurrent lists were not a valid answer, last: %s", rd.bad,
                 rd.lists, rd.last_error);
    cr_expect_eq(rd.decreased, 0, "the host count went down %d times during registrations",
                 rd.decreased);

    json_t *l = nacos_list(n, Q("serviceName", "conc"));
    cr_expect_eq(list_host_count(l), THREADS * PER_THREAD);
    for (int i = 0; i < THREADS; i++)
        cr_expect_eq(count_worker_hosts(l, i, 0, PER_THREAD), PER_THREAD,
                     "worker %d's instances missing from conc", i);
    json_decref(l);
    for (int i = 0; i < THREADS; i++) {
        char own[32];
        snprintf(own, sizeof own, "conc-%d", i);
        l = nacos_list(n, Q("serviceName", own));
        cr_expect_eq(list_host_count(l), PER_THREAD, "%s", own);
        cr_expect_eq(count_worker_hosts(l, i, 0, PER_THREAD), PER_THREAD, "%s", own);
        json_decref(l);
    }

    /* Concurrent deregistration of the first half: exactly the second half remains. */
    run_workers(n, "DELETE", 0, PER_THREAD / 2);
    l = nacos_list(n, Q("serviceName", "conc"));
    cr_expect_eq(list_host_count(l), THREADS * PER_THREAD / 2);
    for (int i = 0; i < THREADS; i++) {
        cr_expect_eq(count_worker_hosts(l, i, 0, PER_THREAD / 2), 0,
                     "worker %d: deregistered instances still listed", i);
        cr_expect_eq(count_worker_hosts(l, i, PER_THREAD / 2, PER_THREAD / 2), PER_THREAD / 2,
                     "worker %d: instances lost by others' deregistrations", i);
    }
    json_decref(l);

    /* Every event of the shared service has a strictly greater revision than the one before,
     * and every event follows on from the one before it (the chain of cairn_follow.h), up to
     * the registry's first tick after the writes (it has published everything by then). A tick
     * before the first write's event (the registry idle for registry.event_tick_ms while the
     * workers start, as under a sanitizer on a loaded machine) ends nothing. */
    uint64_t last = 0, chain = 0;
    int events = 0, out_of_order = 0, unchained = 0;
    cairn_change_event ev;
    int64_t read_until = it_now_ms() + 30000;
    while (it_now_ms() < read_until && events_next(&sub, &ev, 5000)) {
        if (chain && ev.prev_revision != chain)
            unchained++;
        chain = ev.revision;
        if (ev.kind == CAIRN_CHANGE_TICK) {
            cairn_event_free(&ev);
            if (events > 0)
                break;
            continue;
        }
        if (ev.service && strcmp(ev.service, "DEFAULT_GROUP@@conc") == 0 &&
            strcmp(ev.namespace_id, "public") == 0) {
            if (ev.revision <= last)
                out_of_order++;
            last = ev.revision;
            events++;
        }
        cairn_event_free(&ev);
    }
    cr_expect(events > 0, "no events for the shared service");
    cr_expect_eq(unchained, 0, "%d events did not follow on from the one before", unchained);
    cr_expect_eq(out_of_order, 0, "%d of %d events for conc did not increase the revision",
                 out_of_order, events);
    events_close(&sub);
}

typedef struct same {
    const it_node *n;
    int id;
    int failures;
} same;

static void *register_same(void *arg)
{
    same *s = arg;
    char weight[16];
    snprintf(weight, sizeof weight, "%d", s->id + 1);
    char *url = http_url(s->n->gateway_url, NS "/instance",
                         Q("serviceName", "same", "ip", "127.0.0.1", "port", "1", "weight", weight));
    for (int i = 0; url && i < 20; i++) {
        http_resp r = http_request("POST", url, NULL, 0, NULL, NULL, IT_HTTP_TIMEOUT_MS);
        if (r.status != 200)
            s->failures++;
        http_resp_free(&r);
    }
    free(url);
    return NULL;
}

IT_TEST(concurrency, racing_upserts_of_one_instance)
{
    it_node *n = node_start(NULL);
    pthread_t t[THREADS];
    same s[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (same){.n = n, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, register_same, &s[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        cr_expect_eq(s[i].failures, 0, "thread %d: %d failed upserts", i, s[i].failures);
    json_t *l = nacos_list(n, Q("serviceName", "same"));
    cr_expect_eq(list_host_count(l), 1, "racing upserts of one ip:port made duplicates");
    json_t *h = list_find_host(l, "127.0.0.1", 1);
    cr_assert(h != NULL);
    double w = jnum(h, "weight");
    cr_expect(w >= 1 && w <= THREADS && w == (int)w, "weight %g is none of the written values", w);
    cr_expect_str_eq(jstr(h, "instanceId"), "127.0.0.1#1#DEFAULT#DEFAULT_GROUP@@same");
    json_decref(l);
}
