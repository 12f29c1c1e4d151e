/* The Nacos listener's open connections, for the two bounds libmicrohttpd does not keep the way
 * the gateway needs them (gateway_http.c feeds it from libmicrohttpd's callbacks):
 *
 *  - Admission. At most `max` connections at once. libmicrohttpd, at its own limit, stops
 *    accepting and leaves further connections in the kernel's queue, where they hang; the
 *    listener asks gateway_conns_admit at every accept instead and closes a connection that is
 *    over the limit at once. Connections accepted by several threads at the same moment may pass
 *    the limit by up to the number of threads.
 *  - The read deadline. A request's line, headers and body must all arrive within deadline_ms
 *    of its first byte, however they trickle in: libmicrohttpd's own timeout restarts at every
 *    byte, so a client that sent a header line every few seconds held its connection for ever.
 *    A connection is armed when it is accepted and again when its previous response has been
 *    sent; while no byte has come since (ops.receiving says), each sweep moves its arming to the
 *    sweep's time, so the deadline runs from the first byte, give or take one sweep interval,
 *    and an idle keep-alive connection is left to libmicrohttpd's idle timeout
 *    (gateway.connection_timeout_s). A connection whose request is being handled is disarmed,
 *    so a request deferred while it waits on another role is never cut (the role call has its
 *    own timeout), nor is a response being sent.
 *
 * Time comes in as now_ms (CLOCK_MONOTONIC milliseconds), so gateway_conns_sweep is tested with
 * virtual time; gateway_conns_start runs it on a thread of its own with the real clock
 * (gateway_now_ms, which the listener arms with too).
 *
 * Ownership and threads: the table owns its entries; an entry is valid from gateway_conns_add
 * until gateway_conns_remove. Every function may be called from any thread: the entry list is
 * under one mutex (taken by add, remove and sweep), arming and disarming are atomic stores and
 * take no lock. ops.close runs under that mutex, so an fd is never closed under it by
 * gateway_conns_remove's caller while it runs: remove before closing the socket. */
#ifndef GATEWAY_CONNS_H
#define GATEWAY_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gateway_conns gateway_conns;
typedef struct gateway_conn gateway_conn;

typedef struct gateway_conns_ops {
    /* Ends the connection on fd, past its deadline (the real one: shutdown(2), which
     * libmicrohttpd then reads as the client's end); it must not block. */
    void (*close)(void *arg, int fd);
    /* Whether bytes arrived on fd in the last age_ms milliseconds; NULL: always true. */
    bool (*receiving)(void *arg, int fd, int64_t age_ms);
    void *arg;
} gateway_conns_ops;

/* ops NULL: the real ones (shutdown, and TCP_INFO's time since the last data received). NULL
 * when out of memory. */
gateway_conns *gateway_conns_new(size_t max, int64_t deadline_ms, const gateway_conns_ops *ops);
/* Stops the sweeper (if started) and frees the table and every entry left in it. */
void gateway_conns_free(gateway_conns *t);

/* Whether another connection may be accepted now. */
bool gateway_conns_admit(gateway_conns *t);
/* A new connection on fd, armed at now_ms; NULL when out of memory (the connection is then
 * neither counted nor bounded). */
gateway_conn *gateway_conns_add(gateway_conns *t, int fd, int64_t now_ms);
/* The connection is closing (before its socket is closed); c may be NULL. */
void gateway_conns_remove(gateway_conns *t, gateway_conn *c);
size_t gateway_conns_count(gateway_conns *t);

/* The next request's bytes are awaited from now_ms on; c may be NULL. */
void gateway_conn_arm(gateway_conn *c, int64_t now_ms);
/* The request is in: it is being handled, not read; c may be NULL. */
void gateway_conn_disarm(gateway_conn *c);

/* Closes (ops.close), once, every armed connection that has received bytes since it was armed
 * and was armed deadline_ms or more before now_ms; re-arms at now_ms those that have received
 * none. Returns how many it closed. */
size_t gateway_conns_sweep(gateway_conns *t, int64_t now_ms);

/* Sweeps on a thread of its own, every deadline_ms / 8 (10 ms .. 1 s). 0, or an errno. */
int gateway_conns_start(gateway_conns *t);

#endif
