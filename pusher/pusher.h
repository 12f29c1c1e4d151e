/* The pusher role (§12, design §4 Push): subscribers arrive from the gateway's subscription
 * publisher, changes from the registry's event publisher; a change of an owned service with
 * subscribers is pushed, after the merge window, as one datagram per distinct (clusters, agent
 * class) to every subscriber, from one UDP socket that also receives the acks. The state pushed
 * is the snapshot the newest change event of the window carried (pusher_service.snapshot), or,
 * when it carried none or events were lost, the service read with SERVICE_GET.
 *
 * Nothing depends on having been connected at the right moment: each time the pusher (re)connects
 * to the gateway, or sees a gap in its subscription sequence, it loads the gateway's table of the
 * subscriptions it owns (SUBSCRIPTION_SNAPSHOT); each time it (re)connects to the registry's
 * events, or sees a gap in their revision chain, it pushes every subscribed service it owns
 * (cairn_follow.h). It reports ready (/ready, sd_notify) only while both connections are up, the
 * snapshot is loaded and the event chain is followed from there (the first event or tick after
 * the load, which repairs as above).
 *
 * Threads: one loop thread owns every table (subscribers, pending acks, rate buckets, timers)
 * and does all the work: it polls the UDP socket, the two nng SUB sockets' receive descriptors
 * and a wake pipe, and runs due timers. nng's pipe callbacks and the admin listener only touch
 * atomics. */
#ifndef PUSHER_H
#define PUSHER_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_follow.h"
#include "cairn_hashmap.h"
#include "cairn_role.h"
#include "cairn_rpc.h"
#include "cairn_sub.h"
#include "pusher_metrics.h"
#include "pusher_rate.h"
#include "pusher_recent.h"
#include "pusher_subs.h"
#include "pusher_timer.h"
#include "pusher_udp.h"

/* The config keys of push.* and pusher.*, read once at start. */
typedef struct pusher_settings {
    uint32_t count; /* pusher.count */
    uint32_t index; /* pusher.index */
    int registry_timeout_ms;
    int64_t subscriber_ttl_ms;
    int64_t merge_window_ms;
    size_t gzip_threshold;
    int64_t ack_timeout_ms;
    uint32_t max_retries;
    uint32_t max_subscribers_per_service;
    uint32_t max_subscribers;
    size_t max_datagram_bytes;
    uint32_t max_sends_per_second;
} pusher_settings;

/* Timer kinds (pusher_timer.kind). */
enum {
    PUSHER_TIMER_PUSH = 1, /* a service's merge window ended: pusher_service.timer */
    PUSHER_TIMER_PENDING,  /* an ack deadline or a deferred send: pusher_pending.timer */
    PUSHER_TIMER_SWEEP,    /* periodic zombie and rate-bucket sweep */
};

typedef struct pusher {
    cairn_role *role;
    pusher_settings cfg;
    pusher_metrics metrics;

    /* loop thread only */
    pusher_udp udp;
    pusher_subs subs;
    pusher_recent recent; /* changes nobody was subscribed to, for a subscription that raced them */
    pusher_timers timers;
    pusher_timer sweep;
    pusher_rate *rate;
    cairn_hashmap *pending; /* (destination, lastRefTime) → pusher_pending */
    pusher_send_batch sends; /* transmissions not yet handed to the kernel (pusher_delivery.h) */
    uint64_t last_ref_time;
    int64_t registry_retry_at; /* monotonic ms; while the registry fails, pushes wait */
    bool registry_failing;

    cairn_rpc_client *registry;
    cairn_rpc_client *gateway; /* SUBSCRIPTION_SNAPSHOT */
    cairn_sub subscriptions;   /* SUB to the gateway */
    cairn_sub events;          /* SUB to the registry */
    cairn_follow sub_follow;   /* loop thread: the gateway's subscription sequence */
    cairn_follow event_follow; /* loop thread: the registry's revision chain */
    int64_t snapshot_retry_at; /* monotonic ms; a failed snapshot is asked again then */
    /* set by nng's pipe callbacks, taken by the loop */
    atomic_bool gateway_reconnected, registry_reconnected;
    atomic_bool gateway_up, registry_up;
    atomic_bool snapshot_loaded; /* the subscription snapshot of the current gateway connection */
    atomic_bool events_synced;   /* the event chain is followed since the snapshot was loaded */
    int wake[2];
    pthread_t thread;
    bool thread_started;
    atomic_bool stopping;
    atomic_llong heartbeat_ms; /* monotonic time of the loop's last turn, for /health */
} pusher;

/* Reads the settings (CAIRN_E_INVALID with a message naming the key when pusher.index is not
 * below pusher.count), opens the sockets and starts the loop thread. On failure nothing is left
 * running. */
cairn_err pusher_open(pusher *p, cairn_role *role, cairn_status *st);
void pusher_close(pusher *p);

/* Monotonic and wall-clock time. */
int64_t pusher_now_ms(void);
int64_t pusher_now_us(void);
int64_t pusher_wall_us(void);

/* ---- pusher_push.c: coalescing and push rounds ---------------------------------------------- */
/* A change of svc committed at change_at_ms (wall clock): schedules a push at the end of the
 * merge window, or joins the one already scheduled. */
void pusher_push_schedule(pusher *p, pusher_service *svc, int64_t change_at_ms, int64_t now);
/* svc's merge window ended: snapshot, render per group, send. */
void pusher_push_run(pusher *p, pusher_service *svc, int64_t now);

/* ---- pusher_follow.c: catching up with the gateway and the registry ------------------------ */
/* Loads the gateway's subscriptions for this pusher; false when the gateway did not answer. */
bool pusher_follow_load_subscriptions(pusher *p, int64_t now);
/* Events were lost (or the stream is new): every subscribed service gets a push. */
void pusher_follow_push_all(pusher *p, int64_t now);
/* The /ready check: both connections up, the subscription snapshot loaded, events followed. */
bool pusher_follow_ready(void *arg, char *detail, size_t detail_len);

/* ---- pusher_loop.c ------------------------------------------------------------------------ */
void *pusher_loop_main(void *arg);
/* Reads waiting datagrams (acks) off the UDP socket, a batch at most. A large fan-out calls it
 * between sends, so acks never pile up beyond the socket's receive buffer and get dropped. */
void pusher_drain_udp(pusher *p);

#endif
