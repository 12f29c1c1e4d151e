/* The table of tracked instances and its reconciliation with registry snapshots. */
#include "healthcheck_table.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "healthcheck_expiry.h"
#include "healthcheck_responsibility.h"

/* A cluster the service definition does not name checks like a new one: TCP on the instance
 * port (cairn_cluster_init_default). */
static cairn_cluster default_cluster;
static pthread_once_t default_cluster_once = PTHREAD_ONCE_INIT;

static void init_default_cluster(void)
{
    cairn_cluster_init_default(&default_cluster);
}

/* ns \0 grouped, the services map key; returns its length or 0 when it does not fit. */
static size_t service_key(char *buf, size_t len, const char *ns, const char *svc)
{
    size_t a = strlen(ns), b = strlen(svc);
    if (a + 1 + b > len)
        return 0;
    memcpy(buf, ns, a);
    buf[a] = '\0';
    memcpy(buf + a + 1, svc, b);
    return a + 1 + b;
}

#define SERVICE_KEY_MAX (CAIRN_MAX_NAMESPACE_LEN + 1 + CAIRN_MAX_SERVICE_LEN + 16)

int hc_table_init(hc_table *t, hc_netfilter *probe_filter, int64_t beat_timeout_ms,
                  int64_t delete_timeout_ms)
{
    pthread_once(&default_cluster_once, init_default_cluster);
    memset(t, 0, sizeof *t);
    t->probe_filter = probe_filter;
    t->beat_timeout_ms = beat_timeout_ms;
    t->delete_timeout_ms = delete_timeout_ms;
    t->next_mark = 1;
    t->instances = cairn_hashmap_new(1024);
    t->services = cairn_hashmap_new(256);
    if (!t->instances || !t->services) {
        cairn_hashmap_free(t->instances);
        cairn_hashmap_free(t->services);
        return -1;
    }
    pthread_mutex_init(&t->mu, NULL);
    return 0;
}

static void free_instance(hc_instance *in)
{
    free(in->ip);
    free(in->cluster);
    free(in);
}

static void free_clusters(cairn_cluster *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        cairn_cluster_free(&c[i]);
    free(c);
}

static void free_service(hc_service *s)
{
    free(s->ns);
    free(s->name);
    free_clusters(s->clusters, s->cluster_count);
    free(s->instances);
    free(s);
}

void hc_table_destroy(hc_table *t)
{
    if (!t->instances)
        return;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, t->instances);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v))
        free_instance(v);
    cairn_hashmap_iter_init(&it, t->services);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v))
        free_service(v);
    cairn_hashmap_free(t->instances);
    cairn_hashmap_free(t->services);
    free(t->probed);
    pthread_mutex_destroy(&t->mu);
    memset(t, 0, sizeof *t);
}

void hc_table_lock(hc_table *t)
{
    pthread_mutex_lock(&t->mu);
}

void hc_table_unlock(hc_table *t)
{
    pthread_mutex_unlock(&t->mu);
}

int hc_instance_key(const hc_instance *in, cairn_key *k)
{
    return cairn_key_instance(k, in->svc->ns, in->svc->name, in->ephemeral, in->cluster, in->ip,
                              in->port);
}

hc_instance *hc_table_find_key(hc_table *t, const void *key, size_t key_len)
{
    return cairn_hashmap_get(t->instances, key, key_len);
}

hc_instance *hc_table_find(hc_table *t, const char *ns, const char *svc, bool ephemeral,
                           const char *cluster, const char *ip, int32_t port)
{
    cairn_key k;
    if (cairn_key_instance(&k, ns, svc, ephemeral, cluster, ip, port))
        return NULL;
    return cairn_hashmap_get(t->instances, k.bytes, k.len);
}

bool hc_service_responsible(hc_service *s)
{
    uint64_t gen = healthcheck_members_generation();
    if (s->resp_generation != gen) {
        s->responsible = healthcheck_is_responsible(s->ns, s->name);
        s->resp_generation = gen;
    }
    return s->responsible;
}

const cairn_cluster *hc_instance_cluster(const hc_instance *in)
{
    const hc_service *s = in->svc;
    for (uint32_t i = 0; i < s->cluster_count; i++)
        if (s->clusters[i].name && strcmp(s->clusters[i].name, in->cluster) == 0)
            return &s->clusters[i];
    return &default_cluster;
}

/* ---- the probed list ------------------------------------------------------------------------ */

static void probed_remove(hc_table *t, hc_instance *in)
{
    if (in->probe_index == HC_NOT_PROBED)
        return;
    hc_instance *last = t->probed[--t->probed_count];
    t->probed[in->probe_index] = last;
    last->probe_index = in->probe_index;
    in->probe_index = HC_NOT_PROBED;
}

/* Whether the n-th denied instance is logged: the first ten, then the 100th, 1 000th, ... A
 * fleet registered on addresses the probes may not reach (a whole network missing from
 * health.probe_networks) would otherwise write a line per instance; the count is in the
 * probe_denied_instances metric. */
static bool denied_logged(uint64_t n)
{
    if (n <= 10)
        return true;
    while (n % 10 == 0)
        n /= 10;
    return n == 1;
}

/* Records whether in has a checker its address keeps from running (denied: why, or NULL); says
 * so in the log when that starts (sampled: denied_logged). */
static void set_denied(hc_table *t, hc_instance *in, const char *denied)
{
    if (!denied == !in->probe_denied)
        return;
    in->probe_denied = denied != NULL;
    if (!denied) {
        t->denied_count--;
        return;
    }
    t->denied_count++;
    uint64_t n = ++t->denied_seen;
    if (!denied_logged(n))
        return;
    if (n <= 10)
        log_warn("%s %s %s:%d is not probed: %s; its health stays as registered", in->svc->ns,
                 in->svc->name, in->ip, (int)in->port, denied);
    else
        log_warn("%s %s %s:%d is not probed: %s; its health stays as registered (%llu instances "
                 "refused probes so far, %u now; logged at each power of ten)",
                 in->svc->ns, in->svc->name, in->ip, (int)in->port, denied,
                 (unsigned long long)n, t->denied_count);
}

/* A persistent instance is probed when its cluster has a TCP or HTTP checker and its address is
 * one the probes may reach; one the filter denies is left as it is (a probe that is not made
 * reveals nothing about the port). A change of checker starts its counts over. */
static void probe_update(hc_table *t, hc_instance *in)
{
    bool want = false;
    const char *denied = NULL;
    if (!in->ephemeral) {
        cairn_check_type type = hc_instance_cluster(in)->check_type;
        if (type == CAIRN_CHECK_TCP || type == CAIRN_CHECK_HTTP)
            want = !(denied = hc_netfilter_deny(t->probe_filter, in->ip));
    }
    set_denied(t, in, denied);
    if (!want) {
        probed_remove(t, in);
        return;
    }
    if (in->probe_index != HC_NOT_PROBED)
        return;
    if (t->probed_count == t->probed_cap) {
        uint32_t ncap = t->probed_cap ? t->probed_cap * 2 : 64;
        hc_instance **grown = realloc(t->probed, ncap * sizeof *grown);
        if (!grown) {
            log_warn("out of memory: %s:%d will not be probed", in->ip, (int)in->port);
            return;
        }
        t->probed = grown;
        t->probed_cap = ncap;
    }
    in->probe_index = t->probed_count;
    t->probed[t->probed_count++] = in;
    in->ok_streak = in->fail_streak = 0;
    /* 0: the prober sets the first probe at a random point of its first interval. */
    in->next_probe_ms = 0;
}

/* ---- services and instances ------------------------------------------------------------------- */

static hc_service *service_get(hc_table *t, const char *ns, const char *svc, bool create)
{
    char key[SERVICE_KEY_MAX];
    size_t klen = service_key(key, sizeof key, ns, svc);
    if (!klen)
        return NULL;
    hc_service *s = cairn_hashmap_get(t->services, key, klen);
    if (s || !create)
        return s;
    s = calloc(1, sizeof *s);
    if (!s || !(s->ns = strdup(ns)) || !(s->name = strdup(svc)) ||
        cairn_hashmap_put(t->services, key, klen, s, NULL) != 0) {
        if (s)
            free_service(s);
        return NULL;
    }
    return s;
}

static void apply_fields(hc_table *t, hc_instance *e, const cairn_instance *in)
{
    e->healthy = in->healthy;
    e->marked = in->marked;
    hc_timeouts to;
    hc_timeouts_from_metadata(&in->metadata, t->beat_timeout_ms, t->delete_timeout_ms, &to);
    e->beat_interval_ms = to.beat_interval_ms;
    e->beat_timeout_ms = to.beat_timeout_ms;
    e->delete_timeout_ms = to.delete_timeout_ms;
}

/* Adds in (not yet tracked, key k) to service s. */
static hc_instance *add_instance(hc_table *t, hc_service *s, const cairn_key *k,
                                 const cairn_instance *in, int64_t now_ms)
{
    if (s->count == s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 4;
        hc_instance **grown = realloc(s->instances, ncap * sizeof *grown);
        if (!grown)
            return NULL;
        s->instances = grown;
        s->cap = ncap;
    }
    hc_instance *e = calloc(1, sizeof *e);
    if (!e || !(e->ip = strdup(in->ip)) ||
        !(e->cluster = strdup(in->cluster ? in->cluster : CAIRN_DEFAULT_CLUSTER)) ||
        cairn_hashmap_put(t->instances, k->bytes, k->len, e, NULL) != 0) {
        if (e)
            free_instance(e);
        return NULL;
    }
    e->svc = s;
    e->port = in->port;
    e->ephemeral = in->ephemeral;
    e->last_beat_ms = now_ms;
    e->probe_index = HC_NOT_PROBED;
    apply_fields(t, e, in);
    e->index = s->count;
    s->instances[s->count++] = e;
    if (e->ephemeral)
        t->ephemeral_count++;
    probe_update(t, e);
    return e;
}

void hc_table_remove(hc_table *t, hc_instance *in)
{
    cairn_key k;
    if (hc_instance_key(in, &k) == 0)
        cairn_hashmap_remove(t->instances, k.bytes, k.len);
    probed_remove(t, in);
    set_denied(t, in, NULL);
    hc_service *s = in->svc;
    hc_instance *last = s->instances[--s->count];
    s->instances[in->index] = last;
    last->index = in->index;
    if (in->ephemeral)
        t->ephemeral_count--;
    free_instance(in);
}

static void remove_service(hc_table *t, hc_service *s)
{
    while (s->count > 0)
        hc_table_remove(t, s->instances[s->count - 1]);
    char key[SERVICE_KEY_MAX];
    size_t klen = service_key(key, sizeof key, s->ns, s->name);
    if (klen)
        cairn_hashmap_remove(t->services, key, klen);
    free_service(s);
}

hc_instance *hc_table_track(hc_table *t, const char *ns, const char *svc, const cairn_instance *in,
                            int64_t now_ms)
{
    cairn_key k;
    const char *cluster = cairn_cluster_or_default(in->cluster);
    if (!in->ip || cairn_key_instance(&k, ns, svc, in->ephemeral, cluster, in->ip, in->port))
        return NULL;
    hc_instance *e = cairn_hashmap_get(t->instances, k.bytes, k.len);
    if (e)
        return e;
    hc_service *s = service_get(t, ns, svc, true);
    return s ? add_instance(t, s, &k, in, now_ms) : NULL;
}

static int replace_clusters(hc_service *s, const cairn_service *def)
{
    cairn_cluster *copy = def->cluster_count ? calloc(def->cluster_count, sizeof *copy) : NULL;
    if (def->cluster_count && !copy)
        return -1;
    for (uint32_t i = 0; i < def->cluster_count; i++) {
        if (cairn_cluster_copy(&copy[i], &def->clusters[i]) != CAIRN_OK) {
            free_clusters(copy, i);
            return -1;
        }
    }
    free_clusters(s->clusters, s->cluster_count);
    s->clusters = copy;
    s->cluster_count = def->cluster_count;
    return 0;
}

/* Takes one instance of a snapshot or delta of s: *out is its entry (NULL: not tracked).
 * Returns 0, or -1 when out of memory. */
static int take_instance(hc_table *t, hc_service *s, const cairn_instance *in, int64_t now_ms,
                         hc_instance **out)
{
    *out = NULL;
    const char *cluster = cairn_cluster_or_default(in->cluster);
    cairn_key k;
    if (!in->ip ||
        cairn_key_instance(&k, s->ns, s->name, in->ephemeral, cluster, in->ip, in->port))
        return 0;
    hc_instance *e = cairn_hashmap_get(t->instances, k.bytes, k.len);
    /* A connection-owned instance lives as long as its connection, never by beats: not
     * tracked, so no expiry and no self-preservation count (dropped if it was). */
    if (in->owner && in->owner[0]) {
        if (e)
            hc_table_remove(t, e);
        return 0;
    }
    if (e)
        apply_fields(t, e, in);
    else if (!(e = add_instance(t, s, &k, in, now_ms)))
        return -1;
    *out = e;
    return 0;
}

/* Whether a new definition changes what the prober does with s's instances: a cluster's
 * checker type (everything else of a checker is read at probe time). */
static bool checkers_differ(const hc_service *s, const cairn_service *def)
{
    if (s->cluster_count != def->cluster_count)
        return true;
    for (uint32_t i = 0; i < def->cluster_count; i++) {
        const cairn_cluster *a = &s->clusters[i], *b = &def->clusters[i];
        if (a->check_type != b->check_type || !a->name != !b->name ||
            (a->name && strcmp(a->name, b->name) != 0))
            return true;
    }
    return false;
}

int hc_table_apply_delta(hc_table *t, const char *ns, const char *svc,
                         const cairn_service_snapshot *delta, const cairn_bytes *gone,
                         uint32_t gone_count, int64_t now_ms)
{
    int rc = 0;
    hc_table_lock(t);
    hc_service *s = service_get(t, ns, svc, false);
    if (!s || !delta->found) {
        rc = 1; /* nothing to apply it to */
        goto out;
    }
    if (delta->service.revision <= s->revision)
        goto out; /* the state held is as new already */
    s->revision = delta->service.revision;
    bool recheck = checkers_differ(s, &delta->service);
    if (replace_clusters(s, &delta->service) != 0)
        rc = -1;
    for (uint32_t i = 0; i < delta->instance_count; i++) {
        hc_instance *e = NULL;
        if (take_instance(t, s, &delta->instances[i], now_ms, &e) != 0)
            rc = -1;
        else if (e && !recheck)
            probe_update(t, e);
    }
    for (uint32_t i = 0; i < gone_count; i++) {
        hc_instance *e = cairn_hashmap_get(t->instances, gone[i].ptr, gone[i].len);
        if (e && e->svc == s) /* a key of another service is not this delta's to remove */
            hc_table_remove(t, e);
    }
    if (recheck)
        for (uint32_t i = 0; i < s->count; i++)
            probe_update(t, s->instances[i]);
out:
    hc_table_unlock(t);
    return rc;
}

int hc_table_apply(hc_table *t, const char *ns, const char *svc, const cairn_service_snapshot *snap,
                   int64_t now_ms, uint32_t pass)
{
    int rc = 0;
    hc_table_lock(t);
    hc_service *s = service_get(t, ns, svc, snap->found);
    if (!snap->found) {
        if (s)
            remove_service(t, s);
        goto out;
    }
    if (!s) {
        rc = -1;
        goto out;
    }
    if (pass)
        s->pass = pass;
    if (snap->service.revision < s->revision)
        goto out; /* an older view than the one applied already */
    s->revision = snap->service.revision;
    if (replace_clusters(s, &snap->service) != 0)
        rc = -1;
    uint32_t mark = t->next_mark++;
    if (t->next_mark == 0)
        t->next_mark = 1;
    for (uint32_t i = 0; i < snap->instance_count; i++) {
        hc_instance *e = NULL;
        if (take_instance(t, s, &snap->instances[i], now_ms, &e) != 0)
            rc = -1;
        else if (e)
            e->mark = mark;
    }
    /* Whatever the snapshot lacks is gone; the checker of a cluster may have changed. */
    for (uint32_t i = s->count; i-- > 0;) {
        hc_instance *e = s->instances[i];
        if (e->mark != mark)
            hc_table_remove(t, e);
        else
            probe_update(t, e);
    }
out:
    hc_table_unlock(t);
    return rc;
}

void hc_table_end_pass(hc_table *t, uint32_t pass)
{
    hc_table_lock(t);
    cairn_hashmap_iter it;
    void *v;
    /* Collect first: removing a service touches both maps. */
    size_t n = 0, cap = 0;
    hc_service **gone = NULL;
    cairn_hashmap_iter_init(&it, t->services);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        hc_service *s = v;
        if (s->pass == pass)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            hc_service **grown = realloc(gone, ncap * sizeof *grown);
            if (!grown)
                break; /* the next full load drops the rest */
            gone = grown;
            cap = ncap;
        }
        gone[n++] = s;
    }
    for (size_t i = 0; i < n; i++)
        remove_service(t, gone[i]);
    free(gone);
    hc_table_unlock(t);
}

uint64_t hc_table_revision(hc_table *t, const char *ns, const char *svc)
{
    hc_table_lock(t);
    hc_service *s = service_get(t, ns, svc, false);
    uint64_t rev = s ? s->revision : 0;
    hc_table_unlock(t);
    return rev;
}

void hc_table_counts(hc_table *t, size_t *instances, size_t *ephemeral, size_t *probed)
{
    hc_table_lock(t);
    *instances = cairn_hashmap_size(t->instances);
    *ephemeral = t->ephemeral_count;
    *probed = t->probed_count;
    hc_table_unlock(t);
}

size_t hc_table_denied(hc_table *t)
{
    hc_table_lock(t);
    size_t n = t->denied_count;
    hc_table_unlock(t);
    return n;
}
