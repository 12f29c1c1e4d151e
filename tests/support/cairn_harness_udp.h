/* Push (§12) test helpers: UDP listeners on 127.0.0.1 that receive and decode pushes and send
 * acks, and the pushers of a test node with their metrics.
 *
 * Pushers: `cairn run` starts pusher.count of them (pusher-<i>, --set pusher.index=<i>, admin
 * address in run/pusher-<i>.admin) and supervises them; pushers_start returns once every one is
 * ready and connected to the gateway's subscriptions and the registry's events, so no
 * subscription or change of the test is lost to a connection still being set up. */
#ifndef CAIRN_HARNESS_UDP_H
#define CAIRN_HARNESS_UDP_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_harness.h"
#include "cairn_ipc.h"
#include "cairn_msg.h"

/* ---- UDP listeners ------------------------------------------------------------------------- */
typedef struct it_udp {
    int fd;
    uint16_t port;
} it_udp;

/* A received push, decoded: gunzipped when it starts with 1f 8b, the outer JSON and its `data`
 * (a JSON string, §12.3) parsed. */
typedef struct it_push {
    unsigned char *wire; /* the datagram as received */
    size_t wire_len;
    bool gzip;
    char *text; /* the datagram's JSON (after gunzip), NUL-terminated */
    size_t text_len;
    json_t *packet;    /* the outer object */
    json_t *doc;       /* data, parsed: the /instance/list document */
    uint64_t ref_time; /* the outer lastRefTime */
    struct sockaddr_in from;
    uint16_t from_port; /* the pusher's UDP port */
} it_push;

/* Binds 127.0.0.1 on a free port; asserts. Close with udp_close. */
void udp_open(it_udp *u);
void udp_close(it_udp *u);
/* The next datagram within timeout_ms, asserted to be a well-formed push
 * ({"type":"dom","data":"<JSON string>","lastRefTime":N} with 0 < N < 2^53). False on timeout. */
bool udp_recv_push(it_udp *u, it_push *out, int timeout_ms);
/* The next push whose document's `name` is service, acking (as the Node client does) and
 * dropping pushes of other services on the way. False on timeout. */
bool udp_recv_push_of(it_udp *u, const char *service, it_push *out, int timeout_ms);
/* Acks p from this listener: lastRefTime as a number (Node client) or a string (Java). */
void udp_ack(it_udp *u, const it_push *p, bool as_string);
/* Sends len bytes from this listener to 127.0.0.1:port. */
void udp_send_to(it_udp *u, uint16_t port, const void *buf, size_t len);
/* True when nothing arrives within ms: a bounded check that something does NOT happen (a
 * retransmit after an ack, a duplicate), never a wait for something to happen. */
bool udp_quiet(it_udp *u, int ms);
void it_push_free(it_push *p);
/* Number of hosts in the pushed document, and whether ip:port is among them. */
int push_host_count(const it_push *p);
bool push_has_host(const it_push *p, const char *ip, int port);

/* ---- pushers of a node ---------------------------------------------------------------------- */
#define IT_MAX_PUSHERS 4
#define IT_PUSH_UA "User-Agent: Nacos-Java-Client:v1.0.0"
/* A clientIP no test ever receives on: pushes must go to the TCP peer (127.0.0.1) instead. */
#define IT_FOREIGN_CLIENT_IP "192.0.2.1"

typedef struct it_pushers {
    it_node *node;
    int count;
} it_pushers;

/* Starts a node with sets plus pusher.count=count and loopback admin listeners, and waits for
 * its pushers (see the top of this file). count 0 starts a node without pushers. */
void pushers_start(it_pushers *ps, const char *const *sets, int count);
/* The pid of pusher i (0 when none runs). */
pid_t pusher_pid(const it_pushers *ps, int i);
/* After pusher i was killed (old_pid): waits for `cairn run` to restart it, then until it is
 * ready and connected. */
void pusher_restart(it_pushers *ps, int i, pid_t old_pid);

/* The sum of the samples of metric `name` (exact, with the cairn_pusher_ prefix) of pusher i
 * whose labels contain label_part (NULL: any); -1 when the metrics cannot be read. */
double pusher_metric(const it_pushers *ps, int i, const char *name, const char *label_part);
/* Polls until that value is at least want; returns the last value read. */
double pusher_wait_metric(const it_pushers *ps, int i, const char *name, const char *label_part,
                          double want, int timeout_ms);

/* The pusher owning a service: Java hashCode of "<ns>##<grouped>" (cairn_distro_index). */
int push_owner(const char *ns, const char *grouped, int count);

/* GET /instance/list as agent ua (a full "User-Agent: ..." header, NULL: none) with udpPort and
 * clientIP (NULL: not sent); asserts 200 and returns the parsed answer. */
json_t *push_list(const it_pushers *ps, const char *ua, const char *service, const char *clusters,
                  int udp_port, const char *client_ip);
/* Subscribes listener u to service (grouped or bare name, public namespace) as the Node client
 * does, and waits until the owning pusher has taken the subscription. */
void push_subscribe(it_pushers *ps, it_udp *u, const char *service, const char *clusters);

/* ---- the gateway's subscription publisher, tapped ----------------------------------------- */
/* A SUB socket on the node's gateway-subscriptions.sock; asserts. Close with events_close. */
void subscriptions_tap_open(it_sub *s, const it_node *n);
/* The next subscription published within timeout_ms (asserted to decode); false on timeout. */
bool subscriptions_tap_next(it_sub *s, cairn_subscription *out, int timeout_ms);

#endif
