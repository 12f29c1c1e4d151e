/* Request semantics of the registry (Nacos v1 naming §2.1–2.7, §3.1–3.5). registry_handle is the
 * rpc handler: reads run in the calling worker in a read-only transaction, writes go to the
 * writer thread, which calls registry_apply_write inside the request's nested transaction. */
#ifndef REGISTRY_HANDLERS_H
#define REGISTRY_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn_msg.h"
#include "cairn_rpc.h"
#include "registry_metrics.h"
#include "registry_store.h"
#include "registry_writer.h"

/* What registry_handle needs (the rpc server's handler argument). */
typedef struct registry {
    registry_store *store;
    registry_writer *writer;
    registry_metrics *metrics; /* may be NULL */
} registry;

/* cairn_rpc_handler; arg is a registry*. */
void registry_handle(void *arg, const cairn_request *req, cairn_reply *rep);
/* cairn_rpc_deferrer; arg is a registry*: takes every write, hands it to the writer and lets
 * the worker go (the writer's completion sends the reply). */
bool registry_defer(void *arg, cairn_rpc_pending *p);

/* A write in progress, as the writer hands it to registry_apply_write. */
typedef struct registry_write_ctx {
    registry_store *store;
    MDB_txn *txn; /* the request's own nested transaction */
    int64_t now_ms;
    int64_t max_instances_per_service;
    /* Set by a write that changed something (then the reply carries revision). */
    bool changed;
    bool durable; /* needs a sync before the reply: persistent instance or service definition */
    cairn_change_kind kind;
    uint64_t revision;
} registry_write_ctx;

bool registry_is_write(cairn_msg_type type);
/* Answered from a read transaction in the calling worker (a beat: when it changes nothing). */
bool registry_is_read(cairn_msg_type type);
/* Applies one write request; on error *st says why and the caller aborts the transaction. */
cairn_err registry_apply_write(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                               cairn_status *st);

/* ---- shared by the handlers (registry_handlers.c) ------------------------------------------- */
/* Replaces whatever rep holds with the error in st (a failed request carries no payload). */
void registry_reply_fail(cairn_reply *rep, const cairn_status *st);
/* The namespace of a request; blank means "public". */
const char *registry_req_ns(const cairn_request *req);
/* Presence and length caps of the namespace and service name. */
cairn_err registry_check_service_ref(const cairn_request *req, cairn_status *st);
/* Presence and length caps of the service reference, then of the instance selector (ip,
 * cluster); *cluster is the cluster to use (blank means DEFAULT). */
cairn_err registry_check_instance_ref(const cairn_request *req, const char **cluster,
                                      cairn_status *st);
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

/* ---- instances (registry_instances.c) ------------------------------------------------------ */
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
cairn_err registry_stats(registry_store *s, MDB_txn *txn, cairn_reply *rep, cairn_status *st);

#endif
