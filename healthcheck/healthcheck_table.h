/* The healthcheck's table of tracked instances: every instance of every service, as the registry
 * last showed it, plus what only the healthcheck knows — the last beat of ephemeral instances and
 * the probe state of persistent ones. Keyed like the registry's store (cairn_key_instance:
 * ns / service / kind / cluster / ip / port) in a cairn_hashmap, with a per-service list for the
 * sweep and a list of probed instances for the prober.
 *
 * One mutex guards it all: beats arrive on the rpc workers, the sweep and the prober run on their
 * own threads, and snapshots are applied by the event thread. Nobody holds it across a call to
 * another role. */
#ifndef HEALTHCHECK_TABLE_H
#define HEALTHCHECK_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_hashmap.h"
#include "cairn_keys.h"
#include "cairn_model.h"
#include "cairn_msg.h"
#include "healthcheck_netfilter.h"

#define HC_NOT_PROBED UINT32_MAX

typedef struct hc_service hc_service;

typedef struct hc_instance {
    hc_service *svc;
    char *ip;
    char *cluster;
    int32_t port;
    bool ephemeral;
    bool healthy; /* as the registry has it (updated by our own successful writes too) */
    bool marked;
    bool write_pending; /* a health write or removal for it is in flight */
    uint32_t mark;      /* reconciliation pass that last saw it */
    uint32_t index;     /* position in svc->instances */
    uint32_t probe_index; /* position in table->probed, or HC_NOT_PROBED */
    int64_t last_beat_ms; /* monotonic; ephemeral instances */
    int64_t beat_interval_ms, beat_timeout_ms, delete_timeout_ms;
    /* Active probes (persistent instances in TCP/HTTP clusters). */
    int64_t next_probe_ms; /* monotonic */
    uint16_t ok_streak, fail_streak;
    bool probing; /* a probe is in flight */
    bool probe_denied;   /* has a TCP/HTTP checker, but its address may not be probed */
    bool resolve_denied; /* its hostname last resolved to an address that may not be probed */
} hc_instance;

struct hc_service {
    char *ns;
    char *name; /* grouped */
    uint64_t revision; /* of the last snapshot applied */
    cairn_cluster *clusters;
    uint32_t cluster_count;
    hc_instance **instances;
    uint32_t count, cap;
    uint32_t pass; /* full load that last saw it */
    uint64_t resp_generation; /* members generation of the cached answer below */
    bool responsible;
};

typedef struct hc_table {
    pthread_mutex_t mu;
    cairn_hashmap *instances; /* instance key → hc_instance* */
    cairn_hashmap *services;  /* ns \0 grouped → hc_service* */
    hc_instance **probed;     /* persistent instances with an active checker */
    uint32_t probed_count, probed_cap;
    size_t ephemeral_count;
    uint32_t next_mark;
    hc_netfilter *probe_filter;
    uint32_t denied_count; /* instances with probe_denied */
    uint64_t denied_seen;  /* times an instance became denied (what the log samples) */
    int64_t beat_timeout_ms;   /* health.beat_timeout_ms, before metadata overrides */
    int64_t delete_timeout_ms; /* health.delete_timeout_ms */
} hc_table;

/* Returns 0, or -1 when out of memory. probe_filter must outlive the table. */
int hc_table_init(hc_table *t, hc_netfilter *probe_filter, int64_t beat_timeout_ms,
                  int64_t delete_timeout_ms);
void hc_table_destroy(hc_table *t);

void hc_table_lock(hc_table *t);
void hc_table_unlock(hc_table *t);

/* ---- with the lock held --------------------------------------------------------------------- */
/* The tracked instance, or NULL. */
hc_instance *hc_table_find(hc_table *t, const char *ns, const char *svc, bool ephemeral,
                           const char *cluster, const char *ip, int32_t port);
/* The same by its instance key (as built by cairn_key_instance). */
hc_instance *hc_table_find_key(hc_table *t, const void *key, size_t key_len);
/* Tracks one instance the registry just confirmed (a beat for an instance no snapshot had shown
 * yet), with its last beat now. Returns the entry (an existing one is returned as is), or NULL
 * when out of memory or the key does not fit. */
hc_instance *hc_table_track(hc_table *t, const char *ns, const char *svc, const cairn_instance *in,
                            int64_t now_ms);
/* Stops tracking it (removed from the registry). */
void hc_table_remove(hc_table *t, hc_instance *in);
/* The instance key of a tracked instance; returns 0, or -1 when it does not fit. */
int hc_instance_key(const hc_instance *in, cairn_key *k);
/* Whether this node checks the instance's service (cached per member-list generation). */
bool hc_service_responsible(hc_service *s);
/* The checker of the instance's cluster (a cluster the definition lacks has the defaults). */
const cairn_cluster *hc_instance_cluster(const hc_instance *in);

/* ---- taking the lock themselves ----------------------------------------------------------- */
/* Reconciles one service with a registry snapshot: new instances are tracked with their last beat
 * now (a grace period), known ones keep their last beat and take the registry's health, marked
 * flag and metadata overrides, and instances the snapshot lacks are dropped. A snapshot older
 * than the one applied last is ignored; a missing service is dropped. Connection-owned
 * instances (cairn_instance.owner set) are not tracked: they get no beats and never expire. pass (non-zero) records a
 * full load; hc_table_end_pass then drops the services that load did not see. Returns 0, or -1
 * when out of memory (the table stays consistent; some instances may be missing). */
int hc_table_apply(hc_table *t, const char *ns, const char *svc, const cairn_service_snapshot *snap,
                   int64_t now_ms, uint32_t pass);
/* Applies a change event's delta (cairn_change_event.partial): the service's definition and
 * the instances the delta holds are taken as a snapshot would take them, the instances whose
 * keys are in gone are dropped, and the rest of the service stays as it is. A delta at or before
 * the revision held is ignored. Returns 0; 1 when the table holds no state of the service to
 * apply it to (read the service instead); -1 when out of memory. */
int hc_table_apply_delta(hc_table *t, const char *ns, const char *svc,
                         const cairn_service_snapshot *delta, const cairn_bytes *gone,
                         uint32_t gone_count, int64_t now_ms);
void hc_table_end_pass(hc_table *t, uint32_t pass);
/* The revision of the last snapshot applied to the service (0: not tracked). */
uint64_t hc_table_revision(hc_table *t, const char *ns, const char *svc);
/* Tracked instances and tracked ephemeral ones. */
void hc_table_counts(hc_table *t, size_t *instances, size_t *ephemeral, size_t *probed);
/* Instances with a TCP/HTTP checker whose address may not be probed (healthcheck_netfilter.h). */
size_t hc_table_denied(hc_table *t);

#endif
