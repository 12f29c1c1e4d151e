/* Subscriber table: two cairn_hashmaps (subscribers by identity, services by key) and a doubly
 * linked list of subscribers per service, so a push round walks one service's subscribers only. */
#include "pusher_subs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_client.h"
#include "cairn_java_hash.h"
#include "cairn_model.h"

#define KEY_SEPARATOR "##" /* Nacos' ns##service key of push clients (§12.1) */

static char *service_key(const char *ns, const char *svc, size_t *len)
{
    char *k = NULL;
    int n = asprintf(&k, "%s" KEY_SEPARATOR "%s", ns, svc);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return k;
}

int pusher_subs_init(pusher_subs *t, uint32_t max_per_service, uint32_t max_total,
                     pusher_sub_drop_fn on_drop, void *arg)
{
    memset(t, 0, sizeof *t);
    t->max_per_service = max_per_service;
    t->max_total = max_total;
    t->on_drop = on_drop;
    t->on_drop_arg = arg;
    t->subs = cairn_hashmap_new(256);
    t->services = cairn_hashmap_new(64);
    if (!t->subs || !t->services) {
        cairn_hashmap_free(t->subs);
        cairn_hashmap_free(t->services);
        t->subs = t->services = NULL;
        return -1;
    }
    return 0;
}

static void free_sub(pusher_sub *s)
{
    free(s->clusters);
    free(s->agent);
    free(s->key);
    free(s);
}

static void free_service(pusher_service *svc)
{
    free(svc->snapshot);
    free(svc->namespace_id);
    free(svc->name);
    free(svc->key);
    free(svc);
}

/* Unlinks and frees one subscriber (its map entry is removed by the caller). */
static void drop_sub(pusher_subs *t, pusher_sub *s)
{
    pusher_service *svc = s->service;
    if (t->on_drop)
        t->on_drop(t->on_drop_arg, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        svc->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    svc->count--;
    t->total--;
    free_sub(s);
}

void pusher_subs_destroy(pusher_subs *t)
{
    if (!t->subs)
        return;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, t->subs);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        cairn_hashmap_iter_remove(&it);
        drop_sub(t, v);
    }
    cairn_hashmap_iter_init(&it, t->services);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        cairn_hashmap_iter_remove(&it);
        free_service(v);
    }
    cairn_hashmap_free(t->subs);
    cairn_hashmap_free(t->services);
    t->subs = t->services = NULL;
}

void pusher_service_forget(pusher_service *svc)
{
    free(svc->snapshot);
    svc->snapshot = NULL;
    svc->snapshot_len = 0;
    svc->removed = false;
}

void pusher_service_note_change(pusher_service *svc, const cairn_change_event *ev)
{
    pusher_service_forget(svc);
    svc->removed = ev->kind == CAIRN_CHANGE_REMOVED;
    if (ev->snapshot &&
        (svc->snapshot = malloc(ev->snapshot_len ? ev->snapshot_len : 1))) {
        memcpy(svc->snapshot, ev->snapshot, ev->snapshot_len);
        svc->snapshot_len = ev->snapshot_len;
    } /* out of memory: the push reads the service */
}

pusher_service *pusher_subs_service(const pusher_subs *t, const char *namespace_id,
                                    const char *service)
{
    size_t len;
    char *k = service_key(namespace_id, service, &len);
    if (!k)
        return NULL;
    pusher_service *svc = cairn_hashmap_get(t->services, k, len);
    free(k);
    return svc;
}

static pusher_service *get_or_add_service(pusher_subs *t, const cairn_subscription *s)
{
    size_t len;
    char *k = service_key(s->namespace_id, s->service, &len);
    if (!k)
        return NULL;
    pusher_service *svc = cairn_hashmap_get(t->services, k, len);
    if (svc) {
        free(k);
        return svc;
    }
    svc = calloc(1, sizeof *svc);
    if (!svc) {
        free(k);
        return NULL;
    }
    svc->key = k;
    svc->key_len = len;
    svc->namespace_id = strdup(s->namespace_id);
    svc->name = strdup(s->service);
    pusher_timer_init(&svc->timer, 0);
    if (!svc->namespace_id || !svc->name ||
        cairn_hashmap_put(t->services, svc->key, svc->key_len, svc, NULL) != 0) {
        free_service(svc);
        return NULL;
    }
    return svc;
}

/* The identity of a subscriber: the fields joined by NUL bytes (none of them can hold one). */
static char *identity(const cairn_subscription *s, size_t *len)
{
    const char *parts[] = {s->namespace_id, s->service, s->clusters, s->ip, s->agent};
    char port[16];
    snprintf(port, sizeof port, "%d", (int)s->port);
    size_t n = strlen(port);
    for (size_t i = 0; i < 5; i++)
        n += strlen(parts[i]) + 1;
    char *k = malloc(n);
    if (!k)
        return NULL;
    char *p = k;
    for (size_t i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]);
        memcpy(p, parts[i], l);
        p[l] = '\0';
        p += l + 1;
    }
    memcpy(p, port, strlen(port));
    *len = n;
    return k;
}

static bool valid(const cairn_subscription *s)
{
    return s->namespace_id && s->service && s->ip && s->namespace_id[0] && s->service[0] &&
           strlen(s->namespace_id) <= CAIRN_MAX_NAMESPACE_LEN &&
           strlen(s->service) <= CAIRN_MAX_SERVICE_LEN &&
           (!s->clusters || strlen(s->clusters) <= PUSHER_MAX_CLUSTERS_LEN) &&
           (!s->agent || strlen(s->agent) <= PUSHER_MAX_AGENT_LEN) &&
           strlen(s->ip) < sizeof(((pusher_sub *)0)->ip);
}

pusher_sub_result pusher_subs_upsert(pusher_subs *t, const pusher_udp *u,
                                     const cairn_subscription *in, int64_t now)
{
    cairn_subscription s = *in;
    if (!s.clusters)
        s.clusters = "";
    if (!s.agent)
        s.agent = "";
    pusher_addr addr;
    if (!valid(&s) || !pusher_addr_parse(u, s.ip, s.port, &addr))
        return PUSHER_SUB_INVALID;
    size_t klen;
    char *k = identity(&s, &klen);
    if (!k)
        return PUSHER_SUB_NOMEM;
    pusher_sub *sub = cairn_hashmap_get(t->subs, k, klen);
    if (sub) {
        free(k);
        if (now > sub->refreshed_ms)
            sub->refreshed_ms = now; /* a snapshot may carry an older refresh than a live one */
        return PUSHER_SUB_REFRESHED;
    }
    if (t->total >= t->max_total) {
        free(k);
        return PUSHER_SUB_LIMIT_TOTAL;
    }
    pusher_service *svc = get_or_add_service(t, &s);
    if (!svc) {
        free(k);
        return PUSHER_SUB_NOMEM;
    }
    if (svc->count >= t->max_per_service) {
        free(k);
        return PUSHER_SUB_LIMIT_SERVICE;
    }
    sub = calloc(1, sizeof *sub);
    if (!sub) {
        free(k);
        pusher_subs_release_service(t, svc);
        return PUSHER_SUB_NOMEM;
    }
    sub->key = k;
    sub->key_len = klen;
    sub->clusters = strdup(s.clusters);
    sub->agent = strdup(s.agent);
    snprintf(sub->ip, sizeof sub->ip, "%s", s.ip);
    sub->port = s.port;
    sub->addr = addr;
    sub->grouped_names = cairn_client_is_java_v1(s.agent);
    sub->refreshed_ms = now;
    if (!sub->clusters || !sub->agent ||
        cairn_hashmap_put(t->subs, sub->key, sub->key_len, sub, NULL) != 0) {
        free_sub(sub);
        pusher_subs_release_service(t, svc);
        return PUSHER_SUB_NOMEM;
    }
    sub->service = svc;
    sub->next = svc->subs;
    if (svc->subs)
        svc->subs->prev = sub;
    svc->subs = sub;
    svc->count++;
    t->total++;
    return PUSHER_SUB_ADDED;
}

bool pusher_subs_release_service(pusher_subs *t, pusher_service *svc)
{
    if (svc->count > 0 || pusher_timer_armed(&svc->timer))
        return false;
    cairn_hashmap_remove(t->services, svc->key, svc->key_len);
    free_service(svc);
    return true;
}

/* Drops the zombies of svc without releasing it. */
static size_t expire_in(pusher_subs *t, pusher_service *svc, int64_t now, int64_t ttl_ms)
{
    size_t dropped = 0;
    pusher_sub *s = svc->subs;
    while (s) {
        pusher_sub *next = s->next;
        if (now - s->refreshed_ms > ttl_ms) {
            cairn_hashmap_remove(t->subs, s->key, s->key_len);
            drop_sub(t, s);
            dropped++;
        }
        s = next;
    }
    return dropped;
}

size_t pusher_subs_expire_service(pusher_subs *t, pusher_service *svc, int64_t now,
                                  int64_t ttl_ms)
{
    return expire_in(t, svc, now, ttl_ms);
}

size_t pusher_subs_expire(pusher_subs *t, int64_t now, int64_t ttl_ms)
{
    size_t dropped = 0;
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, t->services);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        pusher_service *svc = v;
        dropped += expire_in(t, svc, now, ttl_ms);
        if (svc->count == 0 && !pusher_timer_armed(&svc->timer)) {
            cairn_hashmap_iter_remove(&it);
            free_service(svc);
        }
    }
    return dropped;
}
