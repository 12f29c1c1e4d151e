/* cairn-grpc: the Nacos 2.x gRPC naming port (spec: Nacos v2 gRPC API, docs/architecture.md
 * "Nacos 2.x gRPC (cairn-grpc)"). Clients register, query, subscribe and receive pushes over
 * HTTP/2 (h2c, prior knowledge): unary /Request/request and the bidirectional
 * /BiRequestStream/requestBiStream. Instances belong to their TCP connection: they are stored in
 * the registry as connection-owned ephemeral instances (owner grpc/<node>/<incarnation>/<id>)
 * and dropped the moment the connection closes (OWNER_DROP); before it listens, the role drops
 * what earlier incarnations of this node left behind.
 *
 * Threads and files:
 *  - the loop thread (grpc_loop.c) owns every table and does all the work: one epoll over the
 *    listener, the client sockets, the registry SUB socket's receive fd, an eventfd for finished
 *    registry calls, and a timer heap (pusher_timer.h). Nothing is locked but the done queue.
 *      grpc_conn.c     accepting, reading, writing and closing connections; liveness
 *      grpc_h2.c       the nghttp2 session of a connection: streams, gRPC status, replies
 *      grpc_naming.c   what each message type means (handlers, ErrorResponse rules)
 *      grpc_push.c     subscriptions, merge windows, NotifySubscriberRequest and acks
 *      grpc_calls.c    registry calls (async REQ on nng aios; a connection's writes in order)
 *      grpc_query_cache.c  ServiceInfo answers cached until their service changes
 *      grpc_auth.c     access tokens of naming calls (auth.enabled; grpc_auth.h)
 *      grpc_drain.c    the stop: ConnectResetRequest to every client, then wait for them to go
 *      grpc_cluster.c  in a cluster: owners of services, writes forwarded to them (grpc_cluster.h)
 *  - nng's aio threads only run grpc_calls.c's completion, which queues the call and writes the
 *    eventfd; nng's pipe callback only sets an atomic.
 *  - the admin listener's thread reads atomics for /ready and counters for /metrics.
 * Pure parts, tested on their own: grpc_codec (framing, Payload), grpc_state (admission,
 * liveness), grpc_pushq (a connection's pushes), grpc_json (message bodies), grpc_per_ip
 * (connections per client address). */
#ifndef GRPC_H
#define GRPC_H

#include <nghttp2/nghttp2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_body_cache.h"
#include "cairn_follow.h"
#include "cairn_hashmap.h"
#include "cairn_in_use.h"
#include "cairn_ip.h"
#include "cairn_msg.h"
#include "cairn_role.h"
#include "cairn_rpc.h"
#include "cairn_sub.h"
#include "grpc_codec.h"
#include "grpc_json.h"
#include "grpc_metrics.h"
#include "grpc_per_ip.h"
#include "grpc_pushq.h"
#include "grpc_state.h"
#include "pusher_timer.h"

/* The grpc.* keys, read once at start. */
typedef struct grpc_settings {
    char host[256];
    uint16_t port;
    uint32_t max_connections;
    uint32_t max_connections_per_ip; /* 0: no limit */
    uint32_t max_streams;
    size_t max_message_bytes;
    int registry_timeout_ms;
    int64_t detect_idle_ms, detect_timeout_ms;
    int64_t merge_window_ms, ack_timeout_ms, retry_delay_ms;
    uint32_t max_pending_pushes;
    int64_t max_blocked_ms; /* output not taken for this long closes the connection */
    int64_t in_use_period_ms; /* reports of the subscribed services (cairn_in_use.h); 0: none */
} grpc_settings;

enum { GRPC_EP_LISTENER = 1, GRPC_EP_CALLS, GRPC_EP_EVENTS, GRPC_EP_CONN };
enum { GRPC_TIMER_CONN = 1, GRPC_TIMER_WATCH, GRPC_TIMER_DROP, GRPC_TIMER_STALE,
       GRPC_TIMER_IN_USE };

typedef struct grpc_server grpc_server;
typedef struct grpc_conn grpc_conn;
typedef struct grpc_watch grpc_watch;

/* Connections refused at accept for one reason, for a warning at most every 10 s that says how
 * many (clients control how often it would come). */
typedef struct grpc_refusals {
    int64_t warned_ms; /* when the last warning was logged; 0: never */
    uint64_t since;    /* refused since then */
} grpc_refusals;

typedef enum grpc_stream_kind { GRPC_UNARY = 0, GRPC_BIDI, GRPC_REFUSED } grpc_stream_kind;

/* One HTTP/2 stream; nghttp2's stream user data, freed when nghttp2 closes the stream. */
typedef struct grpc_stream {
    grpc_conn *conn;
    int32_t id;
    grpc_stream_kind kind;
    char path[64];
    char content_type[64];
    grpc_reader rd;
    bool got_message;   /* UNARY: its one message is in rd */
    bool failed;        /* a status went out: further data is dropped */
    /* the response body: framed messages not yet taken by nghttp2 */
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    bool responded;     /* response HEADERS submitted */
    bool deferred;      /* the data provider said DEFERRED: resume when out grows */
    bool finish;        /* send trailers once out is drained */
    int status;         /* grpc-status of the trailers */
    struct grpc_stream *prev, *next; /* the connection's streams */
} grpc_stream;

/* A subscription of one connection: (service, clusters string). */
typedef struct grpc_sub {
    grpc_conn *conn;
    grpc_watch *watch;
    char *clusters;
} grpc_sub;

/* Cluster: a service a connection wrote into, and the instances it holds there as its last write
 * set them (copies): re-sent to the service's owner when the owner list changes, and released
 * there when the connection closes. */
typedef struct grpc_owned_svc {
    char *key;             /* "ns\0grouped" */
    cairn_instance *insts; /* n copies (NULL when n is 0) */
    uint32_t n;
} grpc_owned_svc;

/* A TCP connection; lives until closed, or, when a registry write of it is in flight, until that
 * write is answered (then its owner is dropped). */
struct grpc_conn {
    int ep_kind; /* GRPC_EP_CONN: first, the epoll tag */
    grpc_server *srv;
    uint64_t serial;
    int fd;
    nghttp2_session *h2;
    char id[96];     /* <epoch ms>_<ip>_<port> */
    char owner[384]; /* grpc/<node>/<incarnation>/<id> */
    cairn_ip peer;   /* the client's address */
    bool setup;      /* ConnectionSetupRequest arrived */
    bool owns;       /* it sent instances: its owner is dropped when it closes */
    bool closing;    /* close at the next chance (set inside nghttp2 callbacks) */
    bool closed;     /* socket gone; waiting for its in-flight write */
    bool per_ip;     /* counted in srv->per_ip: given back when the socket closes */
    bool out_armed;  /* EPOLLOUT requested */
    uint8_t *pend;   /* output the socket did not take (malloc'd; NULL when none) */
    size_t pend_off, pend_len;
    int64_t blocked_since; /* output waiting since (0: none) */
    grpc_liveness live;
    grpc_pushq pushq;
    grpc_stream *bidi;  /* the bi-stream pushes go on, or NULL */
    grpc_stream *stream_list; /* every open stream (nghttp2_session_del frees none of ours) */
    uint32_t streams;
    uint64_t next_request_id;
    grpc_sub **subs;
    size_t sub_count, sub_cap;
    grpc_owned_svc *svcs; /* cluster: every service it wrote (released at close) */
    size_t svc_count, svc_cap;
    bool resync_wanted;   /* its services are to be re-sent (grpc_resync_due) */
    bool resync_failed;   /* a re-send of its services failed: retried */
    struct grpc_call *writes; /* queued writes (the head is in flight when write_busy) */
    bool write_busy;
    pusher_timer timer;
    grpc_conn *next_dead; /* freed at the end of the loop iteration (events may still name it) */
};

/* A subscribed service: its subscribers and its merge window. */
struct grpc_watch {
    char *ns, *svc;
    grpc_service_ref ref;
    grpc_sub **subs;
    size_t count, cap;
    pusher_timer timer; /* merge window end */
    bool fetching;      /* a SERVICE_GET is in flight */
    bool again;         /* changed while fetching */
};

struct grpc_server {
    cairn_role *role;
    grpc_settings cfg;
    grpc_metrics metrics;
    char node[72];
    char incarnation[24];
    char owner_prefix[128]; /* grpc/<node>/ */
    char incarnation_owner[160]; /* grpc/<node>/<incarnation>/: every connection's owner
                                  * starts with it */
    int ep;                 /* epoll */
    int listen_fd;          /* -1 until the stale owners are dropped */
    int calls_fd;           /* eventfd: finished registry calls */
    int events_fd;          /* the SUB socket's receive fd */
    int ep_listener, ep_calls, ep_events; /* epoll tags (their addresses) */
    cairn_rpc_client *registry;
    cairn_sub events;
    nng_aio *events_aio;    /* reused by every receive of an event (no aio per receive) */
    cairn_follow follow;
    atomic_bool events_reconnected;
    /* ServiceInfo text of queries and subscriptions (grpc_query_cache.c); NULL: disabled */
    cairn_body_cache *query_cache;
    pusher_timers timers;
    cairn_hashmap *conns;   /* serial → grpc_conn* (closed ones waiting for a write too) */
    grpc_conn *graveyard;   /* freed connections, released by grpc_conn_bury */
    uint32_t open_conns;
    uint64_t next_serial;
    int spare_fd;           /* /dev/null, given up to accept and close one connection when the
                             * descriptor limit is reached (-1: none) */
    grpc_refusals fd_limit_refused; /* at the descriptor limit */
    grpc_per_ip *per_ip;    /* open connections per client address; NULL: no limit */
    grpc_refusals per_ip_refused; /* over grpc.max_connections_per_ip */
    cairn_hashmap *watches; /* ns 00 svc → grpc_watch* */
    pusher_timer in_use_timer; /* the next report of the subscribed services */
    int64_t last_ref_time;  /* high-water mark of lastRefTime */
    bool any_owned;         /* a connection sent instances: drop them at shutdown */
    uint64_t owners_seen;   /* cluster: the owner-list generation last re-sent for */
    int64_t resync_retry_at; /* cluster: when failed re-sends go again (0: none wait) */
    bool resync_pending;    /* cluster: connections still wait for their re-send */
    /* finished calls, handed over by nng threads */
    pthread_mutex_t done_mu;
    struct grpc_call *done_head, *done_tail;
    /* readiness */
    atomic_bool stale_dropped;
    atomic_bool listening;
    atomic_bool registry_ok;
    bool probing_registry;  /* a STATS call asks whether the registry is back */
    int64_t next_registry_probe;
    int exit_code; /* non-zero: the loop stopped for a failure */
    struct grpc_auth *auth; /* access tokens (grpc_auth.h) */
    struct grpc_cluster *cluster; /* NULL standalone (grpc_cluster.h) */
};

/* ---- grpc_role.c ---------------------------------------------------------------------------- */
/* Reads grpc.* (exit code 78 and a message on a bad value), opens the registry client, the SUB
 * socket, epoll, the eventfd; does not listen yet. Returns 0 or an exit code. */
int grpc_server_open(grpc_server *s, cairn_role *role);
/* Frees everything (after the loop ended); drops this incarnation's owners on the way out. */
void grpc_server_close(grpc_server *s);
/* Binds and listens (after the stale owners are gone), writes <run_dir>/grpc.addr. */
int grpc_server_listen(grpc_server *s);
int64_t grpc_now_ms(void);

/* ---- grpc_loop.c ---------------------------------------------------------------------------- */
/* Runs until the role is asked to stop, then drains (grpc_drain). Returns 0 or an exit code. */
int grpc_loop_run(grpc_server *s);
/* One round: waits for events (at most 200 ms), handles them and the due timers. 0, or an exit
 * code on a failure of epoll. */
int grpc_loop_step(grpc_server *s);
int grpc_epoll_add(grpc_server *s, int fd, uint32_t events, void *tag);
void grpc_epoll_mod(grpc_server *s, int fd, uint32_t events, void *tag);
void grpc_timer_arm(grpc_server *s, pusher_timer *t, int64_t due);

/* ---- grpc_drain.c --------------------------------------------------------------------------- */
/* After the stop signal: stops listening (and being ready), sends every connection with a
 * bi-stream a ConnectResetRequest so that its client moves to another server, and runs the loop
 * until they have all closed or grpc.shutdown_drain_ms has passed. Returns 0 or an exit code. */
int grpc_drain(grpc_server *s);

/* ---- grpc_conn.c ---------------------------------------------------------------------------- */
void grpc_conn_accept_all(grpc_server *s);
/* Socket readiness on the connection. */
void grpc_conn_io(grpc_conn *c, uint32_t events);
/* Hands nghttp2's output to the socket; closes the connection when it is done or broken. */
void grpc_conn_flush(grpc_conn *c);
/* Closes the socket and forgets streams and subscriptions; the owner is dropped at once, or after
 * the write in flight. */
void grpc_conn_close(grpc_conn *c, const char *why);
grpc_conn *grpc_conn_find(grpc_server *s, uint64_t serial);
/* The connection's timer fired: liveness, push deadlines, blocked output. */
void grpc_conn_timer(grpc_conn *c, int64_t now);
/* Re-arms the connection's timer at its earliest due time. */
void grpc_conn_rearm(grpc_conn *c);
/* The owner is gone from the registry or must go: an OWNER_DROP retried until acknowledged. */
void grpc_drop_owner(grpc_server *s, const char *owner, cairn_owner_mode mode);
/* Cluster: owner's share of service (ns, grouped) emptied at the service's owner (an empty
 * INSTANCE_SET_OWNED, routed when sent), retried until acknowledged. */
void grpc_release_owned(grpc_server *s, const char *owner, const char *ns, const char *grouped);
/* Cluster: remembers that c wrote into (ns, grouped) and now holds insts[n] there (copied), to
 * re-send them when the owner list changes and release them at close. -1 when out of memory. */
int grpc_conn_note_service(grpc_conn *c, const char *ns, const char *grouped,
                           const cairn_instance *insts, uint32_t n);
/* Cluster, each loop step: when the owner list changed, or a member reported a view of its own
 * that changed (a member went DOWN or came back, this node too as another member saw it: a
 * partition that only the others noticed, then its heal), every open connection's share of every service it wrote is re-sent to the
 * service's owner of now, as an INSTANCE_SET_OWNED queued behind the connection's own writes. A
 * member that dropped this node's connections while it saw it DOWN gets them back this way.
 * Failed re-sends go again after grpc.push_retry_delay_ms. */
void grpc_resync_due(grpc_server *s, int64_t now);
void grpc_drop_timer(grpc_server *s, pusher_timer *t);
/* Frees a drop or release still waiting for its retry (shutdown). */
void grpc_drop_discard(pusher_timer *t);
void grpc_conns_close_all(grpc_server *s);
/* Frees the connections released during this loop iteration. */
void grpc_conn_bury(grpc_server *s);

/* ---- grpc_h2.c ------------------------------------------------------------------------------ */
/* A server session for c with Cairn's settings submitted; -1 on failure. */
int grpc_h2_open(grpc_conn *c);
/* Queues one framed message (taken over) on a stream's response body. */
int grpc_stream_send(grpc_stream *st, uint8_t *framed, size_t len);
/* Answers a unary stream with one Payload of type and body json, then grpc-status 0. */
void grpc_stream_reply(grpc_stream *st, const char *type, const char *json);
/* Ends a stream with a Trailers-Only reply carrying a gRPC status and message. */
void grpc_stream_status(grpc_stream *st, int status, const char *message);
/* Frees every stream and the session (closing a connection). */
void grpc_h2_close(grpc_conn *c);
/* The stream of id on connection c, or NULL when it has closed. */
grpc_stream *grpc_stream_find(grpc_conn *c, int32_t id);
/* Bytes of the bi-stream's body not yet taken by nghttp2 (the client's backlog). */
size_t grpc_stream_backlog(const grpc_stream *st);

/* ---- grpc_naming.c -------------------------------------------------------------------------- */
/* A complete message on a unary stream. */
void grpc_naming_unary(grpc_stream *st, const uint8_t *msg, size_t len);
/* A message on the bi-stream (setup, acks). */
void grpc_naming_stream(grpc_stream *st, const uint8_t *msg, size_t len);

/* ---- grpc_query_cache.c -------------------------------------------------------------------- */
/* The ServiceInfo cache (cairn_body_cache.h): the text of a ServiceInfo keyed by (namespace,
 * service, clusters string, healthyOnly), the service revision it was rendered at, dropped by
 * the registry's change events (grpc_loop.c) and by the replies of this role's writes. Live only
 * while the events connection is up. Loop thread, except set_live (nng's pipe callback). */
/* Opens it from grpc.query_cache_* (none when max_age_ms is 0). 0, or -1 when out of memory. */
int grpc_query_cache_open(grpc_server *s);
void grpc_query_cache_close(grpc_server *s);
/* The cached ServiceInfo text (malloc'd, *len set), or NULL: a miss. */
char *grpc_query_cache_get(grpc_server *s, const grpc_service_ref *ref, const char *clusters,
                           bool healthy_only, size_t *len);
/* Taken before the SERVICE_GET of a fill; 0: store nothing. */
uint64_t grpc_query_cache_ticket(grpc_server *s, const grpc_service_ref *ref);
void grpc_query_cache_put(grpc_server *s, const grpc_service_ref *ref, const char *clusters,
                          bool healthy_only, uint64_t ticket, uint64_t revision,
                          const char *info, size_t len);
/* A change of (ns, svc) at revision (UINT64_MAX: outcome unknown, drop every answer). */
void grpc_query_cache_changed(grpc_server *s, const char *ns, const char *svc,
                              uint64_t revision);
/* Events may have been missed: drop everything. */
void grpc_query_cache_flush(grpc_server *s);
/* The events connection came up or went down (nng's pipe callback). */
void grpc_query_cache_set_live(grpc_server *s, bool live);

/* ---- grpc_push.c ---------------------------------------------------------------------------- */
/* Records (subscribe) or removes the connection's subscription. -1 when out of memory. */
int grpc_push_subscribe(grpc_conn *c, const grpc_service_ref *ref, const char *clusters,
                        bool subscribe);
void grpc_push_forget_conn(grpc_conn *c);
/* A change event of (ns, svc): arms the merge window of a subscribed service. */
void grpc_push_changed(grpc_server *s, const char *ns, const char *svc, int64_t now);
/* Events were lost: every subscribed service is pushed. */
void grpc_push_all(grpc_server *s, int64_t now);
void grpc_push_watch_timer(grpc_server *s, pusher_timer *t);
/* The in-use timer (every cfg.in_use_period_ms): reports the services with a subscriber to the
 * registry (cairn_in_use.h), nothing when none has one, and re-arms. */
void grpc_push_in_use_timer(grpc_server *s);
/* Whether a push could go out now: set up, a bi-stream, and less than 1 MiB on it the client has
 * not taken. While not, due pushes wait for the socket (grpc_conn_io) rather than the timer,
 * which would otherwise fire again at once for ever. */
bool grpc_push_can_send(const grpc_conn *c);
/* Sends what the connection's push queue has due, while its bi-stream takes it. */
void grpc_push_send_due(grpc_conn *c, int64_t now);
/* The lastRefTime of a rendering now: the wall clock, never below one given before. */
int64_t grpc_push_ref_time(grpc_server *s);
void grpc_push_free_all(grpc_server *s);

#endif
