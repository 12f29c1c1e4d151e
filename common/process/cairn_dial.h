/* Dialing a peer of this node that may restart at any time, despite nng 1.5.2 (Debian 12), whose
 * dialer ends its redial loop for good when one connect fails with NNG_ECLOSED, as when the peer
 * died between accepting the connection and reading the protocol header (EPIPE). Without this the
 * socket never connects again while the peer is back (docs/architecture.md, "A dialer that stops
 * redialing").
 *
 * The watch counts the socket's connections through nng's pipe events and, twice a second on an
 * nng timer (no thread of the caller waits), reads nng's statistics of its dialers while the
 * socket has none: a dialer that works tries again at least every reconnect interval (each try
 * ends in a counted outcome), so one whose counts have not moved for CAIRN_DIAL_FROZEN_MS has
 * stopped, and the watch dials anew beside it. It never closes a dialer that may be connecting:
 * only one without a connection whose counts have not moved for CAIRN_DIAL_RECLAIM_MS (longer
 * than nng's 10 s handshake timeout, the longest a live dialer's counts can stand still), and never
 * the newest. A socket has at most CAIRN_DIAL_MAX dialers; while a stopped dialer waits to be
 * reclaimed, a working one found stopped by mistake (a handshake with a frozen peer) can connect
 * as well, and the socket then has two connections to its peer (harmless: REQ uses either, and
 * cairn_follow takes a repeated SUB message as old news).
 *
 * Used by cairn_rpc clients and cairn_sub; the socket's owner opens the socket, sets its options,
 * and hands the dialing and the pipe events over to the watch. */
#ifndef CAIRN_DIAL_H
#define CAIRN_DIAL_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stdint.h>

#define CAIRN_DIAL_TICK_MS 500
#define CAIRN_DIAL_FROZEN_MS 2500 /* > twice the longest reconnect interval of any socket here */
#define CAIRN_DIAL_RECLAIM_MS 30000
#define CAIRN_DIAL_MAX 8

typedef struct cairn_dial cairn_dial;

/* The socket's pipe events (ADD_PRE, ADD_POST, REM_POST), passed on after the watch counted them;
 * runs on an nng thread. */
typedef void (*cairn_dial_pipe_fn)(void *arg, nng_pipe pipe, nng_pipe_ev ev);

/* Takes over sock's pipe notifications (on_pipe, which may be NULL, gets them) and dials url
 * without waiting. NULL with the nng error in *rv: nothing was dialed, sock is still the
 * caller's to close. */
cairn_dial *cairn_dial_start(nng_socket sock, const char *url, cairn_dial_pipe_fn on_pipe,
                             void *arg, int *rv);

/* Stops the watch (waits for a check in progress), closes the socket (no pipe callback runs once
 * this returns) and frees d. */
void cairn_dial_close(cairn_dial *d);

/* Connections the socket has now (pipes between their ADD_PRE and REM_POST events). */
int cairn_dial_pipes(const cairn_dial *d);

/* Dialers created since the start, the first included (each stopped one that was replaced adds
 * one); for tests and logs. */
uint64_t cairn_dial_redials(const cairn_dial *d);

/* ---- the decision, apart for tests (pure: no nng, times given) ------------------------------ */

/* What the watch knows of one dialer: its counts' sum when it last changed, and since when. */
typedef struct cairn_dial_seen {
    uint32_t id;      /* nng_dialer_id */
    uint64_t counts;  /* sum of the dialer's outcome counters (connect, refused, other, ...) */
    int64_t pipes;    /* the dialer's current connections */
    int64_t since_ms; /* when counts or pipes last changed (or the dialer was made) */
} cairn_dial_seen;

/* Folds a fresh reading into s (a change restarts since_ms). */
void cairn_dial_seen_update(cairn_dial_seen *s, uint64_t counts, int64_t pipes, int64_t now_ms);
/* Whether a new dialer is due: the socket has no connection, the newest dialer has stood still
 * for CAIRN_DIAL_FROZEN_MS, and there is room for one more. */
bool cairn_dial_should_add(int socket_pipes, const cairn_dial_seen *newest, int dialers,
                           int64_t now_ms);
/* Whether an older dialer (not the newest) may be closed: no connection and no movement for
 * CAIRN_DIAL_RECLAIM_MS, so it has no connect in flight. */
bool cairn_dial_may_reclaim(const cairn_dial_seen *older, int64_t now_ms);

#endif
