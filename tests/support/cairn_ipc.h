/* Raw nng access to a node's registry sockets, bypassing the gateway: the request socket (to
 * send malformed or hand-built messages) and the change-event publisher. And rawer still: a
 * peer speaking nng's SP framing over a plain unix socket, to do what no nng socket does
 * (announce any message size, never read a reply). */
#ifndef CAIRN_IPC_H
#define CAIRN_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "cairn_endpoints.h"
#include "cairn_harness.h"
#include "cairn_msg.h"

/* Sends len raw bytes on a fresh REQ socket dialed to the node's registry.sock and returns the
 * raw reply (nng_free'd by the caller with free(), it is a malloc'd copy), or NULL on timeout
 * or error (message in err). */
char *registry_raw_request(const it_node *n, const void *data, size_t len, size_t *reply_len,
                           int timeout_ms, char *err, size_t err_len);

/* Encodes req, sends it, decodes the reply into rep. Returns CAIRN_OK or the transport/decode
 * error. */
cairn_err registry_request(const it_node *n, const cairn_request *req, cairn_reply *rep,
                           int timeout_ms);

/* A SUB socket on one of the node's PUB sockets, subscribed to everything. */
typedef struct it_sub {
    nng_socket sock;
    bool open;
    nng_msg *held; /* events_next: the message whose events are being handed out */
    size_t held_off; /* where its next event starts */
} it_sub;
/* Opens s on the node's endpoint ep; false (logged) on failure. Close with events_close. */
bool it_sub_open(it_sub *s, const it_node *n, cairn_endpoint ep);
/* The next message within timeout_ms (the caller frees it), or NULL on timeout. */
nng_msg *it_sub_next(it_sub *s, int timeout_ms);

/* it_sub_open on the registry's registry-events.sock. */
bool events_open(it_sub *s, const it_node *n);
/* Next event within timeout_ms; false on timeout. A message holds one commit's events back to
 * back (cairn_event_next): they come one per call. An event that does not decode is reported
 * by a failing assertion. */
bool events_next(it_sub *s, cairn_change_event *ev, int timeout_ms);
void events_close(it_sub *s);

/* ---- SP over ipc without nng ------------------------------------------------------------------
 * nng's ipc transport: each side first sends 8 bytes (0x00 'S' 'P' 0x00, its protocol number
 * big-endian, two zero bytes), then every message is a frame: the byte 1, the body length as 8
 * bytes big-endian, the body. A REQ body starts with the 4-byte request id (high bit set). */
#define IT_SP_REQ 0x30
#define IT_SP_SUB 0x21

/* The path of the node's socket ep (no "ipc://"). */
void it_socket_path(const it_node *n, cairn_endpoint ep, char *buf, size_t len);
/* Connects to the unix socket at path as a peer of protocol proto (the listener's peer: REQ for
 * a REP socket, SUB for a PUB one) and exchanges handshakes within timeout_ms. Returns the
 * (non-blocking) fd, or -1 (logged). */
int it_sp_connect(const char *path, uint16_t proto, int timeout_ms);
/* Writes a frame header announcing `announced` body bytes, then body_len bytes of body (which
 * may be fewer than announced). False when the peer did not take them in timeout_ms
 * (or closed the connection). */
bool it_sp_send(int fd, uint64_t announced, const void *body, size_t body_len, int timeout_ms);
/* Sends req as request number id of a REQ peer (it_sp_send of the id and the encoding). */
bool it_sp_send_request(int fd, uint32_t id, const cairn_request *req, int timeout_ms);
/* True when the peer closes the connection within timeout_ms (what it sends before is read and
 * discarded). */
bool it_sp_closed_within(int fd, int timeout_ms);

#endif
