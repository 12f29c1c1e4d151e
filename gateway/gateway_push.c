/* The gateway's table of push subscriptions, its publisher and its snapshot server. */
#include "gateway_push.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_hashmap.h"
#include "cairn_ip.h"
#include "cairn_java_hash.h"
#include "cairn_listen.h"
#include "cairn_log.h"
#include "cairn_msg.h"
#include "cairn_rpc.h"

struct gateway_push {
    gateway_push_options opts;
    nng_socket sock;
    bool sock_open;
    cairn_rpc_server *snapshots;
    atomic_uint connected; /* pipes of the PUB socket: one per pusher */
    pthread_mutex_t mu;
    cairn_hashmap *table; /* identity key → cairn_subscription* (owned) */
    /* "ns\0svc" → the number of its entries in table (a counting map, cairn_hashmap.h): the
     * services in use (cairn_in_use.h) */
    cairn_hashmap *services;
    uint64_t seq;         /* the newest sequence number published */
    cairn_in_use_metrics in_use;
    int64_t next_report_ms; /* monotonic; the readiness monitor's alone */
    cairn_counter *published, *recorded, *refused, *expired;
    cairn_counter *client_ip_refused; /* trusted clientIPs not used */
    cairn_gauge *entries;
};

static void count(cairn_counter *c, uint64_t n)
{
    if (c && n)
        cairn_counter_add(c, n);
}

static void on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    (void)pipe;
    gateway_push *p = arg;
    if (ev == NNG_PIPE_EV_ADD_POST)
        atomic_fetch_add(&p->connected, 1);
    else
        atomic_fetch_sub(&p->connected, 1);
}

uint32_t gateway_push_connected(const gateway_push *p)
{
    return atomic_load(&((gateway_push *)p)->connected);
}

/* ---- the table ----------------------------------------------------------------------------- */

static void free_entry(cairn_subscription *s)
{
    cairn_subscription_free(s);
    free(s);
}

/* The identity of a subscription (the pushers' own), NUL-separated; malloc'd. */
static char *identity(const cairn_subscription *s, size_t *len)
{
    char *k = NULL;
    int n = asprintf(&k, "%s%c%s%c%s%c%s%c%d%c%s", s->namespace_id, 0, s->service, 0, s->clusters,
                     0, s->ip, 0, (int)s->port, 0, s->agent);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return k;
}

static cairn_subscription *copy_entry(const cairn_subscription *s)
{
    cairn_subscription *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->namespace_id = strdup(s->namespace_id);
    c->service = strdup(s->service);
    c->clusters = strdup(s->clusters);
    c->ip = strdup(s->ip);
    c->agent = strdup(s->agent);
    c->port = s->port;
    c->at_ms = s->at_ms;
    if (!c->namespace_id || !c->service || !c->clusters || !c->ip || !c->agent) {
        free_entry(c);
        return NULL;
    }
    return c;
}

/* The service of a subscription, "ns\0svc", in buf: its length, 0 when it does not fit (no
 * name the gateway takes is that long; such a subscription is refused). */
static size_t service_key(const cairn_subscription *s, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%c%s", s->namespace_id, 0, s->service);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* One more (delta 1) or one fewer (-1) entry of the service of s; *first (when given) says
 * whether the service got its first. mu held. -1 when it cannot be counted (nothing changed);
 * a decrement allocates nothing, so it always succeeds for an entry counted before. */
static int count_service(gateway_push *p, const cairn_subscription *s, int delta, bool *first)
{
    char key[1024];
    size_t klen = service_key(s, key, sizeof key);
    if (klen == 0)
        return -1;
    if (delta < 0) {
        cairn_hashmap_count_down(p->services, key, klen);
        return 0;
    }
    uint32_t before = 0;
    int rc = cairn_hashmap_count_up(p->services, key, klen, &before);
    if (first)
        *first = rc == 0 && before == 0;
    return rc;
}

/* Adds or refreshes sub; mu held. false: full or out of memory. *first: the entry is the first
 * of its service. */
static bool record(gateway_push *p, const cairn_subscription *sub, bool *first)
{
    size_t klen;
    char *key = identity(sub, &klen);
    if (!key)
        return false;
    cairn_subscription *e = cairn_hashmap_get(p->table, key, klen);
    bool ok = true;
    if (e) {
        e->at_ms = sub->at_ms > e->at_ms ? sub->at_ms : e->at_ms;
    } else if (cairn_hashmap_size(p->table) >= p->opts.max_entries) {
        ok = false;
    } else if (!(e = copy_entry(sub)) || cairn_hashmap_put(p->table, key, klen, e, NULL) != 0) {
        if (e)
            free_entry(e);
        ok = false;
    } else if (count_service(p, e, 1, first) != 0) {
        cairn_hashmap_remove(p->table, key, klen);
        free_entry(e);
        ok = false;
    }
    free(key);
    return ok;
}

size_t gateway_push_expire(gateway_push *p, int64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, p->table);
    const void *k;
    size_t kl;
    void *v;
    while (cairn_hashmap_iter_next(&it, &k, &kl, &v)) {
        cairn_subscription *e = v;
        if (now_ms - e->at_ms > p->opts.ttl_ms) {
            cairn_hashmap_iter_remove(&it);
            count_service(p, e, -1, NULL);
            free_entry(e);
            n++;
        }
    }
    if (p->entries)
        cairn_gauge_set(p->entries, (double)cairn_hashmap_size(p->table));
    pthread_mutex_unlock(&p->mu);
    count(p->expired, n);
    return n;
}

/* ---- publishing ---------------------------------------------------------------------------- */

/* Whether a trusted clientIP may be pushed to, seen from the TCP peer: an ordinary address, or a
 * loopback (link-local) one when the peer is on loopback (the same link) too. */
static bool client_ip_usable(const char *client_ip, const char *peer_ip)
{
    cairn_ip client, peer;
    if (!cairn_ip_parse(client_ip, &client))
        return false;
    cairn_ip_class c = cairn_ip_classify(&client);
    if (c == CAIRN_IP_ORDINARY)
        return true;
    if (c != CAIRN_IP_LOOPBACK && c != CAIRN_IP_LINK_LOCAL)
        return false; /* unspecified, multicast, broadcast, reserved: never a subscriber */
    return cairn_ip_parse(peer_ip, &peer) && cairn_ip_classify(&peer) == c;
}

const char *gateway_push_destination(const gateway_push *p, const char *peer_ip,
                                     const char *client_ip)
{
    /* By default a push never goes to an address the requester did not prove it owns (the TCP
     * handshake does): a forged clientIP would otherwise turn pushes into a reflection attack. */
    const char *peer = peer_ip && peer_ip[0] ? peer_ip : NULL;
    if (!p->opts.trust_client_ip || !client_ip || !client_ip[0])
        return peer;
    if (client_ip_usable(client_ip, peer))
        return client_ip;
    count(p->client_ip_refused, 1);
    return peer;
}

bool gateway_push_subscribe(gateway_push *p, const char *ns, const char *service,
                            const char *clusters, const char *ip, int32_t udp_port,
                            const char *agent, int64_t at_ms)
{
    cairn_subscription sub = {
        .namespace_id = (char *)ns,
        .service = (char *)service,
        .clusters = (char *)(clusters ? clusters : ""),
        .ip = (char *)ip,
        .port = udp_port,
        .agent = (char *)(agent ? agent : ""),
        .at_ms = at_ms,
    };
    bool first = false;
    pthread_mutex_lock(&p->mu);
    if (!record(p, &sub, &first)) {
        pthread_mutex_unlock(&p->mu);
        count(p->refused, 1);
        return false;
    }
    sub.seq = ++p->seq;
    char *buf = NULL;
    size_t len = 0;
    bool sent = false;
    /* PUB never blocks: a pusher that is not connected, or behind, misses the message and
     * catches up from a snapshot when it sees the gap in the sequence. */
    if (cairn_subscription_encode(&sub, &buf, &len) == CAIRN_OK)
        sent = nng_send(p->sock, buf, len, NNG_FLAG_NONBLOCK) == 0;
    if (p->entries)
        cairn_gauge_set(p->entries, (double)cairn_hashmap_size(p->table));
    pthread_mutex_unlock(&p->mu);
    free(buf);
    bool all_connected = gateway_push_connected(p) >= p->opts.pushers;
    count(sent && all_connected ? p->published : p->recorded, 1);
    /* At once: the sweep may be due before the next report, and the service be one that has
     * long been empty. */
    if (first && p->opts.registry && p->opts.in_use_period_ms > 0)
        cairn_in_use_send(p->opts.registry, &ns, &service, 1, &p->in_use);
    return true;
}

/* ---- reports of the services in use -------------------------------------------------------- */

size_t gateway_push_report(gateway_push *p, int64_t now_ms)
{
    if (!p->opts.registry || p->opts.in_use_period_ms <= 0 || now_ms < p->next_report_ms)
        return 0;
    p->next_report_ms = now_ms + p->opts.in_use_period_ms;
    /* The names are copied out, so that the table is not held while the requests are built. */
    pthread_mutex_lock(&p->mu);
    size_t n = cairn_hashmap_size(p->services), bytes = 0;
    cairn_hashmap_iter it;
    const void *k;
    size_t kl;
    void *v;
    cairn_hashmap_iter_init(&it, p->services);
    while (cairn_hashmap_iter_next(&it, &k, &kl, &v))
        bytes += kl + 1;
    const char **ns = n ? calloc(n, sizeof *ns) : NULL;
    const char **svc = n ? calloc(n, sizeof *svc) : NULL;
    char *names = n ? malloc(bytes) : NULL;
    size_t count = 0;
    if (ns && svc && names) {
        char *at = names;
        cairn_hashmap_iter_init(&it, p->services);
        while (count < n && cairn_hashmap_iter_next(&it, &k, &kl, &v)) {
            memcpy(at, k, kl);
            at[kl] = '\0';
            ns[count] = at;
            svc[count++] = at + strlen(at) + 1;
            at += kl + 1;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (n > 0 && count == 0)
        cairn_counter_inc(p->in_use.failed); /* out of memory: this report is lost */
    cairn_in_use_send(p->opts.registry, ns, svc, count, &p->in_use);
    free(ns);
    free(svc);
    free(names);
    return count;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

/* SUBSCRIPTION_SNAPSHOT: the live entries pusher page_no (of page_size) owns. */
static void serve_snapshot(void *arg, const cairn_request *req, cairn_reply *rep)
{
    gateway_push *p = arg;
    cairn_status st;
    if (req->type != CAIRN_MSG_SUBSCRIPTION_SNAPSHOT || req->page_size == 0 ||
        req->page_no >= req->page_size) {
        cairn_fail(&st, CAIRN_E_INVALID, "the gateway answers SUBSCRIPTION_SNAPSHOT with a "
                                         "pusher index below the pusher count only");
        cairn_reply_set_status(rep, &st);
        return;
    }
    pthread_mutex_lock(&p->mu);
    rep->revision = p->seq;
    size_t n = cairn_hashmap_size(p->table);
    rep->subscriptions = n ? calloc(n, sizeof *rep->subscriptions) : NULL;
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, p->table);
    const void *k;
    size_t kl;
    void *v;
    bool nomem = n && !rep->subscriptions;
    while (!nomem && cairn_hashmap_iter_next(&it, &k, &kl, &v)) {
        cairn_subscription *e = v, *c;
        /* An entry past its TTL that the monitor has not dropped yet still goes: it carries its
         * age, and the pusher drops it as a zombie on its own clock. */
        if (cairn_push_owner(e->namespace_id, e->service, req->page_size) != req->page_no)
            continue;
        if (!(c = copy_entry(e))) {
            nomem = true;
            break;
        }
        rep->subscriptions[rep->subscription_count++] = *c;
        free(c);
    }
    pthread_mutex_unlock(&p->mu);
    if (nomem) {
        cairn_fail(&st, CAIRN_E_NOMEM, "out of memory");
        cairn_reply_set_status(rep, &st);
    }
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

gateway_push *gateway_push_open(const gateway_push_options *opts, cairn_status *st)
{
    gateway_push *p = calloc(1, sizeof *p);
    if (!p || !(p->table = cairn_hashmap_new(1024)) ||
        !(p->services = cairn_hashmap_new(1024))) {
        if (p)
            cairn_hashmap_free(p->table);
        free(p);
        cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
        return NULL;
    }
    p->opts = *opts;
    pthread_mutex_init(&p->mu, NULL);
    atomic_init(&p->connected, 0);
    if (opts->metrics) {
        static const char help[] = "Push subscriptions made by list requests, by result: "
                                   "published (every pusher connected), recorded (a pusher was "
                                   "not: it gets them by snapshot), refused (table full).";
        p->published = cairn_metrics_counter(opts->metrics, "push_subscriptions_total", help,
                                             "result=\"published\"");
        p->recorded = cairn_metrics_counter(opts->metrics, "push_subscriptions_total", help,
                                            "result=\"recorded\"");
        p->refused = cairn_metrics_counter(opts->metrics, "push_subscriptions_total", help,
                                           "result=\"refused\"");
        p->client_ip_refused = cairn_metrics_counter(
            opts->metrics, "push_client_ip_refused_total",
            "clientIP parameters not pushed to under push.trust_client_ip (not an address, or a "
            "special-purpose one): the TCP peer address is used instead.",
            NULL);
        p->expired = cairn_metrics_counter(opts->metrics, "push_subscriptions_expired_total",
                                           "Subscriptions not refreshed within the TTL.", NULL);
        p->entries = cairn_metrics_gauge(opts->metrics, "push_subscriptions",
                                         "Live push subscriptions the gateway keeps.", NULL);
    }
    cairn_in_use_metrics_init(&p->in_use, opts->metrics);
    int rc = nng_pub0_open(&p->sock);
    if (rc) {
        cairn_fail(st, CAIRN_E_INTERNAL, "open the push subscription socket: %s",
                   nng_strerror(rc));
        gateway_push_close(p);
        return NULL;
    }
    p->sock_open = true;
    if ((rc = nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_POST, on_pipe, p)) ||
        (rc = nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, on_pipe, p)) ||
        (rc = cairn_listen_pub(p->sock, opts->publish_url))) {
        cairn_fail(st, CAIRN_E_UNAVAILABLE, "listen for pushers on %s: %s", opts->publish_url,
                   nng_strerror(rc));
        gateway_push_close(p);
        return NULL;
    }
    p->snapshots = cairn_rpc_server_start(opts->snapshot_url, 1, serve_snapshot, p,
                                          opts->metrics, st);
    if (!p->snapshots) {
        gateway_push_close(p);
        return NULL;
    }
    return p;
}

void gateway_push_close(gateway_push *p)
{
    if (!p)
        return;
    if (p->snapshots)
        cairn_rpc_server_stop(p->snapshots);
    if (p->sock_open)
        nng_close(p->sock);
    cairn_hashmap_iter it;
    cairn_hashmap_iter_init(&it, p->table);
    const void *k;
    size_t kl;
    void *v;
    while (cairn_hashmap_iter_next(&it, &k, &kl, &v))
        free_entry(v);
    cairn_hashmap_free(p->table);
    cairn_hashmap_free(p->services); /* its values are counts */
    pthread_mutex_destroy(&p->mu);
    free(p);
}
