/* The write load of the crash tests and the check of its record (see cairn_soak_load.h). */
#include "cairn_soak_load.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_http.h"
#include "cairn_nacos.h"

#define LIST_PERCENT 10       /* of the requests */
#define BEAT_PERCENT 30       /* of the requests to a present ephemeral instance */
#define DEREGISTER_PERCENT 35 /* of the requests to a present instance */
#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 640
#define HISTORY 4 /* requests remembered per instance, for the message when it is lost */
#define PAGE_SIZE 1000
#define MAX_PAGES 100
#define CHECK_RETRY_MS 10000 /* a check read answered 503 is retried this long */

typedef enum op_kind { OP_REGISTER, OP_DEREGISTER, OP_BEAT, OP_LIST, OP_PROBE } op_kind;
static const char *const op_names[] = {"register", "deregister", "beat", "list", "probe"};

typedef enum outcome { ANSWERED, UNKNOWN, UNEXPECTED } outcome;
static const char *const outcome_names[] = {"answered", "unknown", "unexpected"};

/* One request to an instance, remembered for the message should the instance be lost. */
typedef struct op_rec {
    op_kind kind;
    outcome result;
    uint32_t version;
    long status;
    int64_t start_ms, end_ms; /* since the load started */
} op_rec;

typedef struct slot {
    bool present;     /* the effect of the last acknowledged write */
    uint32_t version; /* ... the version it registered, when present */
    bool retired;     /* the last write's outcome is unknown; its effect: */
    bool unknown_present;
    uint32_t unknown_version;
    op_rec history[HISTORY]; /* oldest first */
    unsigned ops;
} slot;

typedef struct conn {
    CURL *easy;
    int id;
    uint64_t rng;
    bool busy;
    int64_t not_before_ms;
    int backoff_ms;
    bool probing;   /* since an unknown outcome, until a probe is answered */
    op_kind kind;   /* of the request in flight: */
    int slot_index; /* -1 for a list or a probe */
    int service;    /* of a list or a probe */
    uint32_t version;
    int64_t start_ms;
    uint32_t next_version;
    http_body resp;
    slot *slots;
} conn;

struct soak_load {
    soak_load_opts o;
    char run_dir[PATH_MAX];
    pthread_t thread;
    bool started, joined;
    atomic_bool stop;
    atomic_long acked;
    CURLM *multi;
    conn *conns;
    slot *slots; /* connections x slots */
    int in_flight;
    char base_url[96]; /* http://host:port from run/gateway.http */
    bool reread_addr;
    int64_t t0;
    soak_counts counts;
};

/* ---- the instances ------------------------------------------------------------------------ */
static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rng_next(s) % n);
}

static void slot_address(int c, int s, char *ip, size_t len, int *port)
{
    snprintf(ip, len, "127.%d.%d.%d", 71 + s / 250, c, s % 250 + 1);
    *port = 7000 + s;
}

/* The connection and slot of an address slot_address made, or false. */
static bool address_slot(const char *ip, long long port, int *c, int *s)
{
    int a, b;
    char end;
    if (sscanf(ip, "127.%d.%d.%d%c", &a, c, &b, &end) != 3 || a < 71 || b < 1 || b > 250)
        return false;
    *s = (a - 71) * 250 + b - 1;
    return port == 7000 + *s;
}

static bool slot_ephemeral(int s)
{
    return s % 2 == 0;
}

static int slot_service(const soak_load *l, int c, int s)
{
    return (c + s) % l->o.services;
}

/* ---- requests ----------------------------------------------------------------------------- */
static int pick_slot(const soak_load *l, conn *c)
{
    for (int tries = 0; tries < 8; tries++) {
        int s = (int)rng_below(&c->rng, (uint32_t)l->o.slots);
        if (!c->slots[s].retired)
            return s;
    }
    return -1;
}

/* The connection's next request, from its random stream and its instances' states. */
static void choose(const soak_load *l, conn *c)
{
    c->service = (int)rng_below(&c->rng, (uint32_t)l->o.services);
    c->slot_index = rng_below(&c->rng, 100) < LIST_PERCENT ? -1 : pick_slot(l, c);
    uint32_t r = rng_below(&c->rng, 100);
    if (c->probing || c->slot_index < 0) {
        c->kind = c->probing ? OP_PROBE : OP_LIST;
        c->slot_index = -1;
        return;
    }
    int s = c->slot_index;
    if (!c->slots[s].present)
        c->kind = OP_REGISTER;
    else if (slot_ephemeral(s) && r < BEAT_PERCENT)
        c->kind = OP_BEAT;
    else if (r >= 100 - DEREGISTER_PERCENT)
        c->kind = OP_DEREGISTER;
    else
        c->kind = OP_REGISTER;
    if (c->kind == OP_REGISTER)
        c->version = ++c->next_version;
}

static void request_url(const soak_load *l, const conn *c, char *url, size_t len)
{
    if (c->kind == OP_LIST) {
        snprintf(url, len, "%s" NS "/instance/list?serviceName=soak-%d&udpPort=%d", l->base_url,
                 c->service, l->o.udp_port);
        return;
    }
    if (c->kind == OP_PROBE) { /* not cached: answered only while the registry is reachable */
        snprintf(url, len, "%s" NS "/catalog/instances?serviceName=soak-%d&pageSize=1",
                 l->base_url, c->service);
        return;
    }
    char ip[32];
    int port, s = c->slot_index;
    slot_address(c->id, s, ip, sizeof ip, &port);
    int svc = slot_service(l, c->id, s);
    const char *eph = slot_ephemeral(s) ? "true" : "false";
    if (c->kind == OP_BEAT)
        snprintf(url, len, "%s" NS "/instance/beat?serviceName=soak-%d&ip=%s&port=%d",
                 l->base_url, svc, ip, port);
    else if (c->kind == OP_DEREGISTER)
        snprintf(url, len, "%s" NS "/instance?serviceName=soak-%d&ip=%s&port=%d&ephemeral=%s",
                 l->base_url, svc, ip, port, eph);
    else
        snprintf(url, len,
                 "%s" NS "/instance?serviceName=soak-%d&ip=%s&port=%d&ephemeral=%s"
                 "&metadata=v%%3D%u",
                 l->base_url, svc, ip, port, eph, c->version);
}

static void read_gateway_address(soak_load *l)
{
    char path[PATH_MAX + 32], hostport[64];
    snprintf(path, sizeof path, "%s/gateway.http", l->run_dir);
    if (it_read_addr_file(path, hostport, sizeof hostport))
        snprintf(l->base_url, sizeof l->base_url, "http://%s", hostport);
}

/* Sets up c's next request on its easy handle. */
static void prepare(soak_load *l, conn *c, int64_t now)
{
    if (l->reread_addr || !l->base_url[0]) {
        read_gateway_address(l);
        l->reread_addr = false;
    }
    choose(l, c);
    char url[512];
    request_url(l, c, url, sizeof url);
    CURL *e = c->easy;
    http_easy_setup(e, url, l->o.request_timeout_ms, &c->resp, c);
    if (c->kind == OP_REGISTER || c->kind == OP_BEAT) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        if (c->kind == OP_BEAT)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (c->kind == OP_DEREGISTER) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else if (c->kind == OP_LIST && l->o.udp_port) { /* a client the gateway pushes to */
        curl_easy_setopt(e, CURLOPT_USERAGENT, "Nacos-Java-Client:v1.0.0");
    }
    c->start_ms = now;
    c->busy = true;
}

/* ---- answers ------------------------------------------------------------------------------ */
/* The beat's code (10200, 20404) or the list's hosts array, from a 200 body. */
static bool json_answer_ok(const conn *c, long *beat_code)
{
    json_t *j = json_loads(c->resp.data ? c->resp.data : "", 0, NULL);
    bool ok;
    if (c->kind == OP_BEAT) {
        *beat_code = (long)json_integer_value(json_object_get(j, "code"));
        ok = *beat_code == 10200 || *beat_code == 20404;
    } else {
        ok = json_is_array(json_object_get(j, "hosts"));
    }
    json_decref(j);
    return ok;
}

static outcome classify(soak_load *l, const conn *c, CURLcode rc, long status, long *beat_code)
{
    if (rc != CURLE_OK) {
        l->reread_addr = true; /* the gateway may have come back on another port */
        return UNKNOWN;
    }
    if (status == 503)
        return UNKNOWN;
    if (c->kind == OP_PROBE) /* 404: the service has no instance yet */
        return status == 200 || status == 404 ? ANSWERED : UNEXPECTED;
    if (status != 200)
        return UNEXPECTED;
    if (c->kind == OP_REGISTER || c->kind == OP_DEREGISTER)
        return c->resp.data && strcmp(c->resp.data, "ok") == 0 ? ANSWERED : UNEXPECTED;
    return json_answer_ok(c, beat_code) ? ANSWERED : UNEXPECTED;
}

/* "soak-3 127.71.4.9:7008", or "soak-3" for a list. */
static void describe_target(const soak_load *l, const conn *c, char *buf, size_t len)
{
    if (c->slot_index < 0) {
        snprintf(buf, len, "soak-%d", c->service);
        return;
    }
    char ip[32];
    int port;
    slot_address(c->id, c->slot_index, ip, sizeof ip, &port);
    snprintf(buf, len, "soak-%d %s:%d", slot_service(l, c->id, c->slot_index), ip, port);
}

static void note_unexpected(soak_load *l, const conn *c, long status, int64_t now)
{
    long k = l->counts.unexpected++;
    if (k >= SOAK_REPORTED)
        return;
    char target[64];
    describe_target(l, c, target, sizeof target);
    snprintf(l->counts.unexpected_text[k], sizeof l->counts.unexpected_text[k],
             "%s %s at %lld ms: %ld \"%.150s\"", op_names[c->kind], target,
             (long long)(now - l->t0), status, c->resp.data ? c->resp.data : "");
}

static void record(soak_load *l, conn *c, outcome res, long status, int64_t now)
{
    slot *sl = &c->slots[c->slot_index];
    op_rec r = {c->kind, res, c->version, status, c->start_ms - l->t0, now - l->t0};
    if (sl->ops >= HISTORY)
        memmove(sl->history, sl->history + 1, (HISTORY - 1) * sizeof r);
    sl->history[sl->ops < HISTORY ? sl->ops : HISTORY - 1] = r;
    sl->ops++;
}

static void apply_write(soak_load *l, conn *c, outcome res)
{
    slot *sl = &c->slots[c->slot_index];
    bool reg = c->kind == OP_REGISTER;
    if (res == ANSWERED) {
        sl->present = reg;
        sl->version = reg ? c->version : 0;
        *(reg ? &l->counts.registers : &l->counts.deregisters) += 1;
        atomic_fetch_add(&l->acked, 1);
        return;
    }
    sl->retired = true;
    sl->unknown_present = reg;
    sl->unknown_version = reg ? c->version : 0;
    l->counts.unknown_writes++;
}

static void count_beat(soak_load *l, const conn *c, outcome res, long code, int64_t now)
{
    if (res != ANSWERED) {
        l->counts.beats_unknown += res == UNKNOWN;
        return;
    }
    if (code == 10200) {
        l->counts.beats++;
        return;
    }
    long k = l->counts.beats_not_found++;
    if (k < SOAK_REPORTED) {
        char target[64];
        describe_target(l, c, target, sizeof target);
        snprintf(l->counts.beat_not_found_text[k], sizeof l->counts.beat_not_found_text[k],
                 "%s (registered v=%u) at %lld ms", target, c->slots[c->slot_index].version,
                 (long long)(now - l->t0));
    }
}

/* One finished request: its outcome into the record and the counts, and when the connection
 * may send its next one. */
static void finished(soak_load *l, conn *c, CURLcode rc, int64_t now)
{
    long status = 0, beat_code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    outcome res = classify(l, c, rc, status, &beat_code);
    if (res == UNEXPECTED)
        note_unexpected(l, c, status, now);
    if (c->slot_index >= 0)
        record(l, c, res, status, now);
    if (c->kind == OP_LIST)
        *(res == ANSWERED ? &l->counts.lists : &l->counts.lists_failed) += 1;
    else if (c->kind == OP_PROBE)
        *(res == ANSWERED ? &l->counts.probes : &l->counts.probes_failed) += 1;
    else if (c->kind == OP_BEAT)
        count_beat(l, c, res, beat_code, now);
    else
        apply_write(l, c, res);
    c->busy = false;
    c->probing = res != ANSWERED || (c->probing && c->kind != OP_PROBE);
    if (res == ANSWERED) {
        c->backoff_ms = BACKOFF_MIN_MS;
        c->not_before_ms = now;
    } else {
        c->not_before_ms = now + c->backoff_ms;
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    }
}

/* ---- the load thread ---------------------------------------------------------------------- */
static void start_idle(soak_load *l, int64_t now)
{
    for (int i = 0; i < l->o.connections; i++) {
        conn *c = &l->conns[i];
        if (c->busy || now < c->not_before_ms || l->counts.requests >= l->o.max_requests)
            continue;
        prepare(l, c, now);
        if (curl_multi_add_handle(l->multi, c->easy) != CURLM_OK) {
            finished(l, c, CURLE_FAILED_INIT, now);
            continue;
        }
        l->in_flight++;
        l->counts.requests++;
    }
}

static void collect(soak_load *l)
{
    CURLMsg *msg;
    int queued;
    while ((msg = curl_multi_info_read(l->multi, &queued))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(l->multi, e);
        l->in_flight--;
        finished(l, (conn *)priv, rc, it_now_ms());
    }
}

/* Requests still open after the drain bound: not answered, so unknown. */
static void abandon(soak_load *l)
{
    for (int i = 0; i < l->o.connections; i++) {
        conn *c = &l->conns[i];
        if (!c->busy)
            continue;
        curl_multi_remove_handle(l->multi, c->easy);
        l->in_flight--;
        finished(l, c, CURLE_OPERATION_TIMEDOUT, it_now_ms());
    }
}

static void *load_main(void *arg)
{
    soak_load *l = arg;
    int64_t give_up = -1;
    for (;;) {
        int64_t now = it_now_ms();
        bool starting = !atomic_load(&l->stop) && now < l->o.stop_at_ms;
        if (starting)
            start_idle(l, now);
        else if (give_up < 0)
            give_up = now + l->o.request_timeout_ms + 5000;
        if (!starting && (l->in_flight == 0 || now >= give_up))
            break;
        int running;
        curl_multi_perform(l->multi, &running);
        collect(l);
        curl_multi_poll(l->multi, NULL, 0, 20, NULL); /* an answer, or an idle one's turn */
    }
    abandon(l);
    return NULL;
}

static bool opts_valid(const soak_load_opts *o, char *why, size_t why_len)
{
    const char *bad = o->connections < 1 || o->connections > SOAK_MAX_CONNECTIONS ? "connections"
                      : o->slots < 2 || o->slots > SOAK_MAX_SLOTS              ? "slots"
                      : o->services < 1 || o->services > SOAK_MAX_SERVICES     ? "services"
                      : o->request_timeout_ms < 1                              ? "request timeout"
                                                                               : NULL;
    if (bad)
        snprintf(why, why_len, "soak load: %s out of range", bad);
    return bad == NULL;
}

soak_load *soak_load_start(const soak_load_opts *opts, char *why, size_t why_len)
{
    if (!opts_valid(opts, why, why_len))
        return NULL;
    soak_load *l = calloc(1, sizeof *l);
    if (!l || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(why, why_len, "soak load: out of memory or curl init failed");
        free(l);
        return NULL;
    }
    l->o = *opts;
    snprintf(l->run_dir, sizeof l->run_dir, "%s", opts->node->run_dir);
    l->conns = calloc((size_t)opts->connections, sizeof *l->conns);
    l->slots = calloc((size_t)opts->connections * (size_t)opts->slots, sizeof *l->slots);
    l->multi = curl_multi_init();
    bool ok = l->conns && l->slots && l->multi;
    for (int i = 0; ok && i < opts->connections; i++) {
        conn *c = &l->conns[i];
        c->id = i;
        c->rng = opts->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1));
        c->backoff_ms = BACKOFF_MIN_MS;
        c->slots = &l->slots[(size_t)i * (size_t)opts->slots];
        ok = (c->easy = curl_easy_init()) != NULL;
    }
    atomic_init(&l->stop, false);
    atomic_init(&l->acked, 0);
    l->t0 = it_now_ms();
    if (ok)
        ok = l->started = pthread_create(&l->thread, NULL, load_main, l) == 0;
    if (!ok) {
        snprintf(why, why_len, "soak load: could not set up its connections or thread");
        soak_load_free(l);
        return NULL;
    }
    return l;
}

long soak_load_acked_writes(const soak_load *l)
{
    return atomic_load(&l->acked);
}

void soak_load_stop(soak_load *l)
{
    if (!l || !l->started || l->joined)
        return;
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    l->joined = true;
}

const soak_counts *soak_load_counts(const soak_load *l)
{
    return &l->counts;
}

void soak_load_free(soak_load *l)
{
    if (!l)
        return;
    soak_load_stop(l);
    for (int i = 0; l->conns && i < l->o.connections; i++) {
        curl_easy_cleanup(l->conns[i].easy);
        free(l->conns[i].resp.data);
    }
    if (l->multi)
        curl_multi_cleanup(l->multi);
    free(l->conns);
    free(l->slots);
    free(l);
    curl_global_cleanup();
}

/* ---- the check ---------------------------------------------------------------------------- */
/* What the node lists of one instance. */
typedef struct seen {
    int count;
    bool ephemeral;
    bool has_version;
    uint32_t version;
} seen;

typedef struct page_read {
    const it_node *n;
    char svc[32], no[16];
    http_resp r;
} page_read;

/* One page of catalog/instances; true once answered other than 503 or not at all. */
static bool read_page(void *arg)
{
    page_read *p = arg;
    http_resp_free(&p->r);
    p->r = nacos_call(p->n, "GET", NS "/catalog/instances",
                      Q("serviceName", p->svc, "pageNo", p->no, "pageSize", "1000"), NULL, NULL);
    return p->r.status != 0 && p->r.status != 503;
}

/* The next free line of chk->text, or NULL when SOAK_REPORTED are quoted already. */
static char *report_line(soak_check *chk)
{
    return chk->reported < SOAK_REPORTED ? chk->text[chk->reported++] : NULL;
}

static void note_foreign(soak_check *chk, const char *svc, const char *ip, long long port)
{
    chk->foreign++;
    char *line = report_line(chk);
    if (line)
        snprintf(line, sizeof chk->text[0],
                 "%s lists %s:%lld, which the load never registered there", svc, ip, port);
}

/* One listed instance into seen[] (or counted as foreign). */
static void note_listed(const soak_load *l, int svc, const json_t *h, seen *found,
                        soak_check *chk)
{
    const char *ip = json_string_value(json_object_get(h, "ip"));
    long long port = json_integer_value(json_object_get(h, "port"));
    int c, s;
    char name[32];
    snprintf(name, sizeof name, "soak-%d", svc);
    if (!ip || !address_slot(ip, port, &c, &s) || c < 0 || c >= l->o.connections ||
        s >= l->o.slots || slot_service(l, c, s) != svc) {
        note_foreign(chk, name, ip ? ip : "?", port);
        return;
    }
    seen *f = &found[(size_t)c * (size_t)l->o.slots + (size_t)s];
    f->count++;
    f->ephemeral = json_is_true(json_object_get(h, "ephemeral"));
    const char *v = json_string_value(json_object_get(json_object_get(h, "metadata"), "v"));
    f->has_version = v != NULL;
    f->version = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

/* Every instance of service soak-<svc> into found[]; false (chk->error) when unreadable. */
static bool read_service(const soak_load *l, const it_node *n, int svc, seen *found,
                         soak_check *chk)
{
    page_read p = {.n = n};
    snprintf(p.svc, sizeof p.svc, "soak-%d", svc);
    bool ok = true;
    for (int page = 1; ok && page <= MAX_PAGES; page++) {
        snprintf(p.no, sizeof p.no, "%d", page);
        wait_until(read_page, &p, CHECK_RETRY_MS);
        if (p.r.status == 404 && strstr(p.r.body, "is not found"))
            break; /* no such service: nothing registered in it */
        json_t *j = p.r.status == 200 ? json_loads(p.r.body, 0, NULL) : NULL;
        json_t *list = json_object_get(j, "list");
        ok = json_is_array(list);
        if (!ok)
            snprintf(chk->error, sizeof chk->error, "catalog/instances of %s page %d: %ld %.200s",
                     p.svc, page, p.r.status, p.r.status ? p.r.body : p.r.error);
        for (size_t i = 0; ok && i < json_array_size(list); i++)
            note_listed(l, svc, json_array_get(list, i), found, chk);
        bool last = !ok || (long long)page * PAGE_SIZE >= json_integer_value(json_object_get(j, "count"));
        json_decref(j);
        if (last)
            break;
    }
    http_resp_free(&p.r);
    return ok;
}

static bool state_is(const seen *f, bool present, uint32_t version)
{
    if (!present)
        return f->count == 0;
    return f->count == 1 && f->has_version && f->version == version;
}

static void describe_state(char *buf, size_t len, bool present, uint32_t version)
{
    if (present)
        snprintf(buf, len, "present v=%u", version);
    else
        snprintf(buf, len, "absent");
}

/* The message for a lost instance: what was expected, what is listed, its last requests. */
static void describe_lost(const soak_load *l, int c, int s, const seen *f, char *buf, size_t len)
{
    const slot *sl = &l->conns[c].slots[s];
    char ip[32], want[64], alt[64] = "", got[96];
    int port;
    slot_address(c, s, ip, sizeof ip, &port);
    describe_state(want, sizeof want, sl->present, sl->version);
    if (sl->retired) {
        char st[40];
        describe_state(st, sizeof st, sl->unknown_present, sl->unknown_version);
        snprintf(alt, sizeof alt, " or (unknown write) %s", st);
    }
    if (f->count == 0)
        snprintf(got, sizeof got, "absent");
    else
        snprintf(got, sizeof got, "listed %d time(s), %s, v=%s%u", f->count,
                 f->ephemeral ? "ephemeral" : "persistent", f->has_version ? "" : "none/",
                 f->version);
    size_t u = (size_t)snprintf(buf, len, "soak-%d %s:%d (%s): expected %s%s, found %s; last:",
                                slot_service(l, c, s), ip, port,
                                slot_ephemeral(s) ? "ephemeral" : "persistent", want, alt, got);
    unsigned first = sl->ops > HISTORY ? sl->ops - HISTORY : 0;
    for (unsigned i = first; i < sl->ops && u < len; i++) {
        const op_rec *r = &sl->history[i - first];
        u += (size_t)snprintf(buf + u, len - u, " %s v=%u %s (%ld) %lld-%lld ms;",
                              op_names[r->kind], r->version, outcome_names[r->result], r->status,
                              (long long)r->start_ms, (long long)r->end_ms);
    }
}

static void judge(const soak_load *l, int c, int s, const seen *f, soak_check *chk)
{
    const slot *sl = &l->conns[c].slots[s];
    bool kind_ok = f->count == 0 || f->ephemeral == slot_ephemeral(s);
    bool acked = state_is(f, sl->present, sl->version);
    bool unknown = sl->retired && state_is(f, sl->unknown_present, sl->unknown_version);
    if (kind_ok && (acked || unknown)) {
        if (sl->ops == 0)
            return; /* never written: absent, as it should be */
        *(sl->retired ? &chk->undetermined : f->count ? &chk->present : &chk->absent) += 1;
        return;
    }
    chk->lost++;
    char *line = report_line(chk);
    if (line)
        describe_lost(l, c, s, f, line, sizeof chk->text[0]);
}

bool soak_load_check(const soak_load *l, const it_node *n, soak_check *chk)
{
    memset(chk, 0, sizeof *chk);
    size_t total = (size_t)l->o.connections * (size_t)l->o.slots;
    seen *found = calloc(total, sizeof *found);
    if (!found) {
        snprintf(chk->error, sizeof chk->error, "out of memory");
        return false;
    }
    bool ok = true;
    for (int svc = 0; ok && svc < l->o.services; svc++)
        ok = read_service(l, n, svc, found, chk);
    for (int c = 0; ok && c < l->o.connections; c++)
        for (int s = 0; s < l->o.slots; s++)
            judge(l, c, s, &found[(size_t)c * (size_t)l->o.slots + (size_t)s], chk);
    free(found);
    return ok && chk->lost == 0 && chk->foreign == 0;
}
