/* The dial watch (cairn_dial.h): a socket's dialers, replaced when nng 1.5.2 stops one. */
#include "cairn_dial.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn_log.h"

struct cairn_dial {
    nng_socket sock;
    char *url;
    cairn_dial_pipe_fn on_pipe;
    void *arg;
    atomic_int pipes;
    _Atomic uint64_t redials;
    atomic_bool stopping;
    nng_aio *tick;
    /* The tick's own (one tick runs at a time), oldest first; the first is set before the tick
     * starts. */
    nng_dialer dialers[CAIRN_DIAL_MAX];
    cairn_dial_seen seen[CAIRN_DIAL_MAX];
    int count;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cairn_dial_seen_update(cairn_dial_seen *s, uint64_t counts, int64_t pipes, int64_t now)
{
    if (s->counts != counts || s->pipes != pipes) {
        s->counts = counts;
        s->pipes = pipes;
        s->since_ms = now;
    }
}

bool cairn_dial_should_add(int socket_pipes, const cairn_dial_seen *newest, int dialers,
                           int64_t now)
{
    return socket_pipes <= 0 && newest->pipes <= 0 && dialers < CAIRN_DIAL_MAX &&
           now - newest->since_ms >= CAIRN_DIAL_FROZEN_MS;
}

bool cairn_dial_may_reclaim(const cairn_dial_seen *older, int64_t now)
{
    return older->pipes <= 0 && now - older->since_ms >= CAIRN_DIAL_RECLAIM_MS;
}

/* The statistics scope of dialer id. Not nng_stat_find_dialer: in nng 1.5.2 it returns the first
 * statistic named "dialer" anywhere in the tree (a pipe's dialer id, another dialer). */
static nng_stat *find_dialer(nng_stat *s, int id)
{
    if (nng_stat_type(s) != NNG_STAT_SCOPE)
        return NULL;
    if (strcmp(nng_stat_name(s), "dialer") == 0) {
        for (nng_stat *c = nng_stat_child(s); c; c = nng_stat_next(c))
            if (strcmp(nng_stat_name(c), "id") == 0)
                return nng_stat_value(c) == (uint64_t)id ? s : NULL;
        return NULL;
    }
    for (nng_stat *c = nng_stat_child(s); c; c = nng_stat_next(c)) {
        nng_stat *found = find_dialer(c, id);
        if (found)
            return found;
    }
    return NULL;
}

/* The dialer's outcome counts summed, and its connections, from a statistics snapshot; false
 * when nng has no statistics of it. */
static bool read_dialer(nng_stat *root, nng_dialer dialer, uint64_t *counts, int64_t *pipes)
{
    nng_stat *scope = root ? find_dialer(root, nng_dialer_id(dialer)) : NULL;
    if (!scope)
        return false;
    *counts = 0;
    *pipes = 0;
    for (nng_stat *s = nng_stat_child(scope); s; s = nng_stat_next(s)) {
        if (nng_stat_type(s) == NNG_STAT_COUNTER)
            *counts += nng_stat_value(s);
        else if (strcmp(nng_stat_name(s), "pipes") == 0)
            *pipes = (int64_t)nng_stat_value(s);
    }
    return true;
}

/* Closes the older dialers that have certainly stopped (none may be connecting). */
static void reclaim(cairn_dial *d, int64_t now)
{
    for (int i = 0; i < d->count - 1;) {
        if (!cairn_dial_may_reclaim(&d->seen[i], now)) {
            i++;
            continue;
        }
        nng_dialer_close(d->dialers[i]);
        log_debug("%s: closed a dialer that stopped redialing", d->url);
        size_t after = (size_t)(d->count - 1 - i);
        memmove(&d->dialers[i], &d->dialers[i + 1], after * sizeof d->dialers[0]);
        memmove(&d->seen[i], &d->seen[i + 1], after * sizeof d->seen[0]);
        d->count--;
    }
}

static void add_dialer(cairn_dial *d, int64_t now)
{
    nng_dialer nd;
    int rv = nng_dial(d->sock, d->url, &nd, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        log_warn("%s: cannot dial again: %s", d->url, nng_strerror(rv));
        return;
    }
    d->dialers[d->count] = nd;
    d->seen[d->count] = (cairn_dial_seen){.id = (uint32_t)nng_dialer_id(nd), .since_ms = now};
    d->count++;
    atomic_fetch_add(&d->redials, 1);
    log_info("%s: no connection and the dialer has stopped trying for %d ms: dialing anew",
             d->url, CAIRN_DIAL_FROZEN_MS);
}

/* One look at the dialers: readings folded in, stopped ones reclaimed, a new one when due. A
 * dialer nng has no statistics of (a build without them) counts as standing still, so it is
 * replaced after CAIRN_DIAL_FROZEN_MS without a connection but never closed. */
static void check(cairn_dial *d, int64_t now)
{
    nng_stat *root = NULL;
    if (nng_stats_get(&root) != 0)
        root = NULL;
    bool known[CAIRN_DIAL_MAX] = {false};
    for (int i = 0; i < d->count; i++) {
        uint64_t counts;
        int64_t pipes;
        known[i] = read_dialer(root, d->dialers[i], &counts, &pipes);
        if (known[i])
            cairn_dial_seen_update(&d->seen[i], counts, pipes, now);
    }
    if (root)
        nng_stats_free(root);
    bool all_known = true;
    for (int i = 0; i < d->count; i++)
        all_known = all_known && known[i];
    if (all_known)
        reclaim(d, now);
    if (cairn_dial_should_add(atomic_load(&d->pipes), &d->seen[d->count - 1], d->count, now))
        add_dialer(d, now);
}

static void on_tick(void *arg)
{
    cairn_dial *d = arg;
    if (nng_aio_result(d->tick) != 0 || atomic_load(&d->stopping))
        return;
    int64_t now = now_ms();
    if (atomic_load(&d->pipes) > 0) /* connected: the newest dialer works */
        d->seen[d->count - 1].since_ms = now;
    if (atomic_load(&d->pipes) == 0 || d->count > 1)
        check(d, now);
    nng_sleep_aio(CAIRN_DIAL_TICK_MS, d->tick); /* a no-op once the aio is stopped */
}

static void on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    cairn_dial *d = arg;
    if (ev == NNG_PIPE_EV_ADD_PRE)
        atomic_fetch_add(&d->pipes, 1);
    else if (ev == NNG_PIPE_EV_REM_POST)
        atomic_fetch_sub(&d->pipes, 1);
    if (d->on_pipe)
        d->on_pipe(d->arg, pipe, ev);
}

static const nng_pipe_ev watched[] = {NNG_PIPE_EV_ADD_PRE, NNG_PIPE_EV_ADD_POST,
                                      NNG_PIPE_EV_REM_POST};

cairn_dial *cairn_dial_start(nng_socket sock, const char *url, cairn_dial_pipe_fn on_pipe_fn,
                             void *arg, int *rv)
{
    cairn_dial *d = calloc(1, sizeof *d);
    if (!d || !(d->url = strdup(url))) {
        free(d);
        *rv = NNG_ENOMEM;
        return NULL;
    }
    d->sock = sock;
    d->on_pipe = on_pipe_fn;
    d->arg = arg;
    atomic_init(&d->pipes, 0);
    atomic_init(&d->redials, 0);
    atomic_init(&d->stopping, false);
    if ((*rv = nng_aio_alloc(&d->tick, on_tick, d)) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        if ((*rv = nng_pipe_notify(sock, watched[i], on_pipe, d)) != 0)
            goto fail;
    if ((*rv = nng_dial(sock, url, &d->dialers[0], NNG_FLAG_NONBLOCK)) != 0)
        goto fail;
    d->seen[0] = (cairn_dial_seen){.id = (uint32_t)nng_dialer_id(d->dialers[0]),
                                   .since_ms = now_ms()};
    d->count = 1;
    atomic_store(&d->redials, 1);
    nng_sleep_aio(CAIRN_DIAL_TICK_MS, d->tick);
    return d;
fail:
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        nng_pipe_notify(sock, watched[i], NULL, NULL);
    if (d->tick)
        nng_aio_free(d->tick);
    free(d->url);
    free(d);
    return NULL;
}

void cairn_dial_close(cairn_dial *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, true);
    nng_aio_stop(d->tick); /* waits for a tick in progress; none starts after it */
    nng_close(d->sock);    /* closes every dialer; the pipe callbacks end with it */
    nng_aio_free(d->tick);
    free(d->url);
    free(d);
}

int cairn_dial_pipes(const cairn_dial *d)
{
    return atomic_load(&((cairn_dial *)d)->pipes);
}

uint64_t cairn_dial_redials(const cairn_dial *d)
{
    return atomic_load(&((cairn_dial *)d)->redials);
}
