/* Request semantics of the registry (Nacos v1 naming §2.1–2.7, §3.1–3.5), one function per
 * request type. Reads take a read-only transaction; writes are registry_apply_fn's: the writer
 * calls them inside the request's nested transaction. Which is which, and which request type
 * each serves, is the table in registry_dispatch.c. Handlers use the writer's interface
 * (registry_write_ctx); the writer, below them, knows nothing of them. */
#ifndef REGISTRY_HANDLERS_H
#define REGISTRY_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_msg.h"
#include "cairn_write_rules.h"
#include "registry_store.h"
#include "registry_writer.h"

/* ---- shared by the handlers (registry_handlers.c) ------------------------------------------- */
/* The request's namespace and the reference checks are cairn_req_ns, cairn_check_service_ref
 * and cairn_check_instance_ref (cairn_write_rules.h), shared with the raft state machine. */
/* Reads the service (ns, name) into *svc, which the caller then frees. When there is no such
 * service, fails with code and the printf-style message (each request has Nacos' own words). */
cairn_err registry_need_service(registry_store *s, MDB_txn *txn, const char *ns, const char *name,
                                cairn_service *svc, cairn_status *st, cairn_err code,
                                const char *fmt, ...) __attribute__((format(printf, 8, 9)));
/* Names gathered for a reply: a growable array, and optionally the page [start, end) of a longer
 * sequence that `total` counts (list requests). A failed allocation sets nomem and stops adding. */
typedef struct registry_names {
    uint64_t start, end; /* the slice kept by registry_names_offer */
    uint32_t total;      /* names offered */
    char **names;
    uint32_t count, cap;
    bool nomem;
} registry_names;
/* The slice of page page_no (1-based; 0 reads as 1, as Nacos clamps it) of page_size names. */
void registry_names_page(registry_names *n, uint32_t page_no, uint32_t page_size);
/* Appends a copy of name. */
void registry_names_add(registry_names *n, const char *name);
/* Counts name and appends a copy when it falls in the slice. */
void registry_names_offer(registry_names *n, const char *name);
/* Moves the names into rep (names, name_count, total), or frees them and fails with NOMEM. */
cairn_err registry_names_reply(registry_names *n, cairn_reply *rep, cairn_status *st);
void registry_names_free(registry_names *n);
/* Gives svc the next revision and the write time, stores it and records the change in c. */
cairn_err registry_touch_service(registry_write_ctx *c, cairn_service *svc,
                                 cairn_change_kind kind, bool durable, cairn_status *st);
/* The same for a change of instances: the kinds that changed. A change of ephemeral instances
 * stamps the service's Distro version with this store's epoch and the new revision. */
cairn_err registry_touch_instances(registry_write_ctx *c, cairn_service *svc,
                                   bool ephemeral_changed, bool persistent_changed,
                                   cairn_status *st);
/* Deletes the service (ns, name) with its instances, takes the next revision and records the
 * removal in c (a CAIRN_CHANGE_REMOVED event). */
cairn_err registry_drop_service(registry_write_ctx *c, const char *ns, const char *name,
                                bool durable, cairn_status *st);

/* ---- instances (registry_instances.c) ------------------------------------------------------ */
/* An implicit service (created by a registration, not defined) named (ns, name) into *svc. */
cairn_err registry_new_service(cairn_service *svc, const char *ns, const char *name,
                               cairn_status *st);
/* Adds a default cluster named name to svc unless it has one (the name's characters checked). */
cairn_err registry_ensure_cluster(cairn_service *svc, const char *name, cairn_status *st);
cairn_err registry_instance_upsert(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st);
cairn_err registry_instance_patch(registry_write_ctx *c, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st);
cairn_err registry_instance_remove(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st);
cairn_err registry_beat_write(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                              cairn_status *st);
cairn_err registry_instance_get(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st);
/* Answers a beat that needs no write; *handled false means it must go to the writer. */
cairn_err registry_beat_read(registry_store *s, MDB_txn *txn, const cairn_request *req,
                             cairn_reply *rep, bool *handled, cairn_status *st);

/* ---- connection-owned instances (registry_owners.c) ----------------------------------------- */
/* INSTANCE_SET_OWNED: the owner's ephemeral instances of the service become the list. */
cairn_err registry_instance_set_owned(registry_write_ctx *c, const cairn_request *req,
                                      cairn_reply *rep, cairn_status *st);
/* OWNER_DROP: every instance of the owner (or prefix), one change event per service. */
cairn_err registry_owner_drop(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                              cairn_status *st);

/* ---- health (registry_health.c) ------------------------------------------------------------- */
/* INSTANCE_HEALTH: sets an instance's health for the checker (BY_CHECKER, skipped when marked) or
 * by hand (MANUAL, §5: only where the cluster's checker is NONE). */
cairn_err registry_instance_health(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st);

/* ---- snapshots (registry_snapshots.c) ------------------------------------------------------ */
/* SNAPSHOT_PAGE: the snapshots of the services after the request's (ns, svc) cursor, in key
 * order, as many as page_size allows (and a bounded number of instances). */
cairn_err registry_snapshot_page(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                 cairn_reply *rep, cairn_status *st);

/* ---- the console's catalog (registry_catalog.c) --------------------------------------------- */
/* SERVICE_CATALOG: the services of the namespace whose group contains req->group and whose bare
 * name contains req->filter (either blank: any), in key order; the page's summaries and the
 * number that matched in total. */
cairn_err registry_service_catalog(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st);
/* NAMESPACE_LIST: the ids of the namespaces holding at least one service, in key order. */
cairn_err registry_namespace_list(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st);

/* ---- services (registry_services.c) -------------------------------------------------------- */
cairn_err registry_service_put(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                               cairn_status *st);
cairn_err registry_service_remove(registry_write_ctx *c, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st);
cairn_err registry_service_get(registry_store *s, MDB_txn *txn, const cairn_request *req,
                               cairn_reply *rep, cairn_status *st);
cairn_err registry_service_list(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st);
cairn_err registry_stats(registry_store *s, MDB_txn *txn, const cairn_request *req,
                         cairn_reply *rep, cairn_status *st);

/* ---- cluster replication: Distro (registry_distro_*.c) and raft projection
 * (registry_persist.c); docs/architecture.md, "Cluster: the registry's replication messages".
 * The writes change many services each and name them with registry_write_note_change. */
cairn_err registry_distro_apply(registry_write_ctx *c, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st);
cairn_err registry_distro_load_end(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st);
cairn_err registry_distro_digests(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                  cairn_reply *rep, cairn_status *st);
cairn_err registry_distro_keys(registry_store *s, MDB_txn *txn, const cairn_request *req,
                               cairn_reply *rep, cairn_status *st);
cairn_err registry_distro_fetch(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                cairn_reply *rep, cairn_status *st);
cairn_err registry_distro_snapshot(registry_store *s, MDB_txn *txn, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st);
cairn_err registry_persist_apply(registry_write_ctx *c, const cairn_request *req,
                                 cairn_reply *rep, cairn_status *st);
cairn_err registry_persist_replace(registry_write_ctx *c, const cairn_request *req,
                                   cairn_reply *rep, cairn_status *st);
/* A namespace as given, blank meaning "public". */
const char *registry_ns(const char *ns);
/* src as a replicated write stores it, into *in (freed by the caller in every case): of the
 * given kind, in a named cluster (DEFAULT when blank), with an id (the default one when blank)
 * and a clamped weight; its ip, cluster and weight checked as a registration's. */
cairn_err registry_prepare_instance(const cairn_instance *src, const char *svc, bool ephemeral,
                                    cairn_instance *in, cairn_status *st);
/* One step of a write run by registry_nested: *keep (true on entry) false to undo it. */
typedef cairn_err (*registry_step_fn)(registry_write_ctx *c, void *arg, bool *keep,
                                      cairn_status *st);
/* Runs step in a transaction nested in c->txn: committed when the step succeeds and keeps it
 * (*kept), else aborted with the change notes it took, so a refused step leaves nothing behind.
 * A storage or memory failure is returned (the whole write fails); any other failure of the step
 * is a refusal: CAIRN_OK, with its code in *refused and its message in *why. */
cairn_err registry_nested(registry_write_ctx *c, registry_step_fn step, void *arg, bool *kept,
                          cairn_err *refused, cairn_status *why, cairn_status *st);
/* Replaces *dst with a copy of src (NULL: NULL). */
cairn_err registry_replace_string(char **dst, const char *src, cairn_status *st);
/* The key of every service, in key order, read in txn (for writes that go through them all). */
typedef struct registry_keys {
    char **ns, **svc;
    uint32_t count, cap;
} registry_keys;
cairn_err registry_keys_all(registry_store *s, MDB_txn *txn, registry_keys *k, cairn_status *st);
void registry_keys_free(registry_keys *k);
/* Gives svc the next revision and the write time, stores it and names the change (kind) with
 * registry_write_note_change: the many-service writes' registry_touch_service. */
cairn_err registry_touch_noted(registry_write_ctx *c, cairn_service *svc, cairn_change_kind kind,
                               cairn_status *st);
/* The ephemeral state of (ns, svc) as of txn into *out (keys copied; version epoch 0 and no
 * instances when none is held); *held says whether the service has any (a version or an
 * ephemeral instance). */
cairn_err registry_distro_read_state(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, cairn_distro_state *out, bool *held,
                                     cairn_status *st);

#endif
