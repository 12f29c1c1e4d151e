/* The subscriber table of one pusher (§12.1): the services it owns that have subscribers, each
 * with its subscribers. A subscriber is identified, as Nacos' PushClient is, by (namespace,
 * service, clusters, address, agent); a list refresh of the same identity only moves its
 * refresh time. Limits: push.max_subscribers_per_service and push.max_subscribers refuse new
 * subscribers (refreshes always pass). A subscriber not refreshed within push.subscriber_ttl_ms
 * is a zombie and is dropped. Owned by the loop thread. */
#ifndef PUSHER_SUBS_H
#define PUSHER_SUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_hashmap.h"
#include "cairn_msg.h"
#include "pusher_timer.h"
#include "pusher_udp.h"

/* Longest clusters filter and agent kept; longer subscriptions are refused as invalid. */
#define PUSHER_MAX_CLUSTERS_LEN 1024
#define PUSHER_MAX_AGENT_LEN 512

struct pusher_pending;
typedef struct pusher_service pusher_service;

typedef struct pusher_sub {
    pusher_service *service;
    struct pusher_sub *prev, *next; /* the service's list */
    char *clusters;                 /* verbatim filter ("" for all) */
    char *agent;
    bool grouped_names; /* the agent is JAVA >= 1.0.0: names in the pushed list are grouped */
    char ip[64];
    int32_t port;
    pusher_addr addr;
    int64_t refreshed_ms;           /* monotonic */
    struct pusher_pending *pending; /* its newest unacknowledged push (pusher_delivery.c) */
    char *key;
    size_t key_len;
} pusher_sub;

struct pusher_service {
    char *namespace_id;
    char *name; /* grouped */
    char *key;  /* "<namespace>##<grouped name>" */
    size_t key_len;
    pusher_sub *subs;
    uint32_t count;
    pusher_timer timer;   /* armed while a push is scheduled (the merge window) */
    int64_t change_at_ms; /* wall clock of the oldest change the scheduled push covers */
    /* What the newest change event said the service now is, kept for the scheduled push so
     * that it need not read the service back: its encoded snapshot (owned), or removed; with
     * neither, the push reads it (SERVICE_GET). */
    char *snapshot;
    size_t snapshot_len;
    bool removed;
};

typedef enum pusher_sub_result {
    PUSHER_SUB_ADDED = 0,
    PUSHER_SUB_REFRESHED,
    PUSHER_SUB_LIMIT_SERVICE, /* refused: push.max_subscribers_per_service */
    PUSHER_SUB_LIMIT_TOTAL,   /* refused: push.max_subscribers */
    PUSHER_SUB_INVALID,       /* refused: unusable address or oversized fields */
    PUSHER_SUB_NOMEM,
} pusher_sub_result;

/* Told about every subscriber just before it is freed. */
typedef void (*pusher_sub_drop_fn)(void *arg, pusher_sub *sub);

typedef struct pusher_subs {
    cairn_hashmap *subs;     /* identity key → pusher_sub */
    cairn_hashmap *services; /* service key → pusher_service */
    size_t total;
    uint32_t max_per_service;
    uint32_t max_total;
    pusher_sub_drop_fn on_drop;
    void *on_drop_arg;
} pusher_subs;

int pusher_subs_init(pusher_subs *t, uint32_t max_per_service, uint32_t max_total,
                     pusher_sub_drop_fn on_drop, void *arg);
/* Frees everything (on_drop is called for each subscriber). Timers must be disarmed first. */
void pusher_subs_destroy(pusher_subs *t);

/* Adds or refreshes the subscriber of s, addressed for socket u, at now (monotonic ms). */
pusher_sub_result pusher_subs_upsert(pusher_subs *t, const pusher_udp *u,
                                     const cairn_subscription *s, int64_t now);

pusher_service *pusher_subs_service(const pusher_subs *t, const char *namespace_id,
                                    const char *service);

/* Drops the zombies of one service (which stays, even when empty: see release_service) / of
 * every service (freeing those left with no subscriber and no scheduled push); returns how
 * many subscribers were dropped. */
size_t pusher_subs_expire_service(pusher_subs *t, pusher_service *svc, int64_t now,
                                  int64_t ttl_ms);
size_t pusher_subs_expire(pusher_subs *t, int64_t now, int64_t ttl_ms);

/* Keeps what the change event ev says svc now is (a copy of its snapshot, or that it was
 * removed), replacing what an older event said; an event without either leaves the push to read
 * the service. */
void pusher_service_note_change(pusher_service *svc, const cairn_change_event *ev);
/* Drops what svc holds: the next push reads the service (after lost events, or once used). */
void pusher_service_forget(pusher_service *svc);

/* Frees svc when it has no subscriber and no scheduled push; returns true when it did. */
bool pusher_subs_release_service(pusher_subs *t, pusher_service *svc);

#endif
