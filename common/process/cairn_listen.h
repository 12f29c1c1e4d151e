/* Listening on a node-local socket. Every nng listener of a role goes through here (the rpc
 * servers, the registry's change events, the gateway's push subscriptions), so that each one:
 *
 *  - bounds the messages it takes (NNG_OPT_RECVMAXSZ): nng allocates the size a frame announces
 *    before it reads the body, so without a bound a 17-byte frame announcing 2^63 bytes aborts a
 *    sanitizer build and has a release build reserve whatever it is told. Over the bound nng
 *    closes that one connection; the socket and its other peers go on. A publisher needs a bound
 *    too: its pipes read whatever a subscriber sends (nothing, normally: CAIRN_LISTEN_PUB_MAX).
 *  - makes an ipc socket file 0600 whatever the umask (NNG_OPT_IPC_PERMISSIONS), so that only
 *    the node's own user may connect. nng sets the mode right after bind(); the run directory
 *    (cairn_private_dir) and the roles' umask (cairn_umask_private) cover that moment.
 *
 * Dialing sockets (SUB, REQ) set their own receive bound where they are opened (cairn_sub.h,
 * cairn_rpc.c). */
#ifndef CAIRN_LISTEN_H
#define CAIRN_LISTEN_H

#include <nng/nng.h>
#include <stddef.h>

/* What a publisher accepts from one of its subscribers, which never send anything. */
#define CAIRN_LISTEN_PUB_MAX 1024
/* The mode of every ipc socket file. */
#define CAIRN_LISTEN_IPC_MODE 0600

/* Sets sock's receive bound to max_msg_bytes (> 0) and listens on url (ipc:// files get
 * CAIRN_LISTEN_IPC_MODE; other transports, inproc:// in tests, have no file). Returns 0 or the
 * nng error; on error nothing listens. */
int cairn_listen(nng_socket sock, const char *url, size_t max_msg_bytes);

/* cairn_listen for a PUB socket: the receive bound is CAIRN_LISTEN_PUB_MAX, and each subscriber
 * gets a send queue of CAIRN_LISTEN_PUB_QUEUE messages. nng's default is 16 and it drops the
 * oldest beyond that; a burst (one commit's events, a membership change) outruns a pipe's
 * writes, and every message dropped costs the subscriber a gap and a full reload. */
#define CAIRN_LISTEN_PUB_QUEUE 8192 /* nng's maximum, as the subscribers' CAIRN_SUB_QUEUE */
int cairn_listen_pub(nng_socket sock, const char *url);

#endif
