/* Raw nng access to a node's registry sockets, bypassing the gateway: the request socket (to
 * send malformed or hand-built messages) and the change-event publisher. */
#ifndef CAIRN_IPC_H
#define CAIRN_IPC_H

#include <stdbool.h>
#include <stddef.h>

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
} it_sub;
/* Opens s on the node's endpoint ep; false (logged) on failure. Close with events_close. */
bool it_sub_open(it_sub *s, const it_node *n, cairn_endpoint ep);
/* The next message within timeout_ms (the caller frees it), or NULL on timeout. */
nng_msg *it_sub_next(it_sub *s, int timeout_ms);

/* it_sub_open on the registry's registry-events.sock. */
bool events_open(it_sub *s, const it_node *n);
/* Next event within timeout_ms; false on timeout. A message that does not decode is reported
 * by a failing assertion. */
bool events_next(it_sub *s, cairn_change_event *ev, int timeout_ms);
void events_close(it_sub *s);

#endif
