/* The per-peer sync scheduler (distro_sync.h): a map of dirty services plus a list of them in
 * the order they became dirty, so the oldest is the head and a batch takes from the head. */
#include "distro_sync.h"

#include <stdlib.h>
#include <string.h>

#include "cairn_hashmap.h"

typedef struct entry {
    char *packed; /* "ns\0service" */
    size_t plen;
    distro_key key;
    int64_t since_ms;   /* the oldest unconfirmed change */
    int64_t redirty_ms; /* marked again while in flight: when (valid if redirtied) */
    bool in_flight;
    bool redirtied;
    bool doomed; /* in flight when the peer went DOWN: dropped when the batch is reported */
    struct entry *prev, *next;
} entry;

struct distro_sync {
    distro_sync_config cfg;
    char *peer;
    distro_peer_state state;
    cairn_hashmap *map; /* packed key -> entry */
    entry *head, *tail; /* by since_ms, oldest first */
    entry **batch;      /* the batch in flight */
    distro_key *batch_keys;
    size_t batch_n;
    size_t doomed; /* entries of the batch in flight dropped by a DOWN */
    uint64_t batch_id; /* in flight when batch_n > 0 */
    uint64_t next_id;
    int64_t backoff_ms;
    int64_t retry_at_ms;
    distro_sync_stats st;
};

static const char *const failure_names[DISTRO_SYNC_FAIL_COUNT] = {
    "timeout", "unreachable", "rejected", "registry", "too_large",
};

const char *distro_sync_failure_name(distro_sync_failure f)
{
    return (unsigned)f < DISTRO_SYNC_FAIL_COUNT ? failure_names[f] : "unknown";
}

void distro_sync_config_defaults(distro_sync_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sync_delay_ms = DISTRO_SYNC_DELAY_MS;
    cfg->batch_max_services = CAIRN_DISTRO_MAX_STATES;
    cfg->batch_max_bytes = CAIRN_DISTRO_PAGE_MAX_BYTES;
    cfg->backoff_min_ms = DISTRO_SYNC_BACKOFF_MIN_MS;
    cfg->backoff_max_ms = DISTRO_SYNC_BACKOFF_MAX_MS;
}

distro_sync *distro_sync_new(const distro_sync_config *cfg, const char *peer)
{
    distro_sync *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    if (s->cfg.batch_max_services == 0)
        s->cfg.batch_max_services = 1;
    if (s->cfg.batch_max_services > CAIRN_DISTRO_MAX_STATES) /* the registry takes no more */
        s->cfg.batch_max_services = CAIRN_DISTRO_MAX_STATES;
    s->peer = strdup(peer);
    s->map = cairn_hashmap_new(64);
    s->batch = calloc(s->cfg.batch_max_services, sizeof *s->batch);
    s->batch_keys = calloc(s->cfg.batch_max_services, sizeof *s->batch_keys);
    s->next_id = 1;
    if (!s->peer || !s->map || !s->batch || !s->batch_keys) {
        distro_sync_free(s);
        return NULL;
    }
    return s;
}

static void unlink_entry(distro_sync *s, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

/* Inserts by since_ms, searching from the tail (new changes are the newest). */
static void insert_sorted(distro_sync *s, entry *e)
{
    entry *after = s->tail;
    while (after && after->since_ms > e->since_ms)
        after = after->prev;
    e->prev = after;
    e->next = after ? after->next : s->head;
    if (e->next)
        e->next->prev = e;
    else
        s->tail = e;
    if (after)
        after->next = e;
    else
        s->head = e;
}

static void drop_entry(distro_sync *s, entry *e)
{
    unlink_entry(s, e);
    cairn_hashmap_remove(s->map, e->packed, e->plen);
    free(e->packed);
    free(e);
}

/* A DOWN peer's set is dropped; the batch in flight keeps its entries until it is reported
 * (its keys stay valid) but they count as dropped now. */
static void drop_all(distro_sync *s)
{
    entry *e = s->head;
    while (e) {
        entry *next = e->next;
        if (!e->doomed) { /* else counted by an earlier DOWN */
            if (e->in_flight) {
                e->doomed = true;
                s->doomed++;
            } else {
                drop_entry(s, e);
            }
            s->st.dropped++;
        }
        e = next;
    }
}

void distro_sync_free(distro_sync *s)
{
    if (!s)
        return;
    while (s->head)
        drop_entry(s, s->head);
    cairn_hashmap_free(s->map);
    free(s->batch);
    free(s->batch_keys);
    free(s->peer);
    free(s);
}

const char *distro_sync_peer(const distro_sync *s)
{
    return s->peer;
}

int distro_sync_mark_dirty(distro_sync *s, const distro_key *k, int64_t now_ms)
{
    if (s->state == DISTRO_PEER_DOWN)
        return 0;
    size_t plen;
    char *packed = distro_key_pack(k, &plen);
    if (!packed)
        return -1;
    entry *e = cairn_hashmap_get(s->map, packed, plen);
    if (e) {
        free(packed);
        if (e->doomed) { /* dropped by a DOWN, in flight since: a new change after return */
            e->doomed = false;
            s->doomed--;
            e->redirtied = false;
            unlink_entry(s, e); /* its earlier changes were dropped: it is the newest now */
            e->since_ms = now_ms;
            insert_sorted(s, e);
        }
        if (e->in_flight && !e->redirtied) {
            e->redirtied = true;
            e->redirty_ms = now_ms;
        }
        return 0; /* already dirty: its first change keeps the flush time */
    }
    e = calloc(1, sizeof *e);
    if (!e || cairn_hashmap_put(s->map, packed, plen, e, NULL) != 0) {
        free(e);
        free(packed);
        return -1;
    }
    e->packed = packed;
    e->plen = plen;
    distro_key_unpack(packed, &e->key);
    e->since_ms = now_ms;
    insert_sorted(s, e);
    return 0;
}

int distro_sync_mark_owned(distro_sync *const *peers, size_t n, const distro_view *v,
                           const distro_key *k, int64_t now_ms)
{
    if (!distro_view_self_owns(v, k->service))
        return 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (peers[i] && distro_sync_mark_dirty(peers[i], k, now_ms) != 0)
            rc = -1;
    return rc;
}

void distro_sync_set_peer_state(distro_sync *s, distro_peer_state st, int64_t now_ms)
{
    if (st == DISTRO_PEER_DOWN && s->state != DISTRO_PEER_DOWN) {
        drop_all(s);
        s->backoff_ms = 0;
        s->retry_at_ms = 0;
    }
    s->state = st;
}

/* Services not in flight. */
static size_t idle_count(const distro_sync *s)
{
    return cairn_hashmap_size(s->map) - s->batch_n;
}

static const entry *oldest_idle(const distro_sync *s)
{
    const entry *e = s->head;
    while (e && e->in_flight)
        e = e->next;
    return e;
}

int64_t distro_sync_next_due_ms(const distro_sync *s, int64_t now_ms)
{
    if (s->state == DISTRO_PEER_DOWN || s->batch_n > 0)
        return INT64_MAX;
    const entry *e = oldest_idle(s);
    if (!e)
        return INT64_MAX;
    int64_t due = idle_count(s) >= s->cfg.batch_max_services ? now_ms
                                                             : e->since_ms + s->cfg.sync_delay_ms;
    return due > s->retry_at_ms ? due : s->retry_at_ms;
}

static size_t estimate(const distro_sync *s, const distro_key *k)
{
    return s->cfg.estimate ? s->cfg.estimate(s->cfg.estimate_ctx, k) : 0;
}

bool distro_sync_take_batch(distro_sync *s, int64_t now_ms, distro_sync_batch *out)
{
    if (distro_sync_next_due_ms(s, now_ms) > now_ms)
        return false;
    size_t n = 0, bytes = 0;
    bool oversized = false;
    for (entry *e = s->head; e && n < s->cfg.batch_max_services; e = e->next) {
        size_t b = estimate(s, &e->key);
        if (n > 0 && bytes + b > s->cfg.batch_max_bytes)
            break;
        s->batch[n] = e;
        s->batch_keys[n] = e->key;
        e->in_flight = true;
        n++;
        bytes += b;
        if (b > s->cfg.batch_max_bytes) {
            oversized = true; /* alone: nothing else fits beside it */
            break;
        }
    }
    s->batch_n = n;
    s->batch_id = s->next_id++;
    if (oversized)
        s->st.oversized++;
    *out = (distro_sync_batch){s->batch_id, s->batch_keys, n, bytes, oversized};
    return true;
}

/* Ends the batch in flight; `sent` says whether the peer confirmed it. */
static void finish_batch(distro_sync *s, bool sent)
{
    for (size_t i = 0; i < s->batch_n; i++) {
        entry *e = s->batch[i];
        e->in_flight = false;
        if (e->doomed || (sent && !e->redirtied)) {
            drop_entry(s, e);
            continue;
        }
        if (sent) { /* confirmed up to the first change; the later one is still to send */
            unlink_entry(s, e);
            e->since_ms = e->redirty_ms;
            insert_sorted(s, e);
        }
        e->redirtied = false;
    }
    s->batch_n = 0;
    s->doomed = 0;
}

void distro_sync_batch_done(distro_sync *s, uint64_t id, int64_t now_ms)
{
    if (s->batch_n == 0 || id != s->batch_id)
        return;
    s->st.syncs++;
    s->st.services_synced += s->batch_n;
    finish_batch(s, true);
    s->backoff_ms = 0;
    s->retry_at_ms = 0;
}

void distro_sync_batch_failed(distro_sync *s, uint64_t id, distro_sync_failure why,
                              int64_t now_ms)
{
    if (s->batch_n == 0 || id != s->batch_id)
        return;
    if ((unsigned)why < DISTRO_SYNC_FAIL_COUNT)
        s->st.failures[why]++;
    finish_batch(s, false);
    if (s->state == DISTRO_PEER_DOWN)
        return;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : s->cfg.backoff_min_ms;
    if (s->backoff_ms > s->cfg.backoff_max_ms)
        s->backoff_ms = s->cfg.backoff_max_ms;
    s->retry_at_ms = now_ms + s->backoff_ms;
}

void distro_sync_get_stats(const distro_sync *s, int64_t now_ms, distro_sync_stats *out)
{
    *out = s->st;
    out->dirty = cairn_hashmap_size(s->map) - s->doomed;
    const entry *e = s->head;
    while (e && e->doomed)
        e = e->next;
    out->lag_ms = e ? now_ms - e->since_ms : 0;
    out->backoff_ms = s->backoff_ms;
    out->in_flight = s->batch_n > 0;
}
