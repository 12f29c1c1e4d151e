/* The registry's LMDB store: one environment with the named databases "services", "instances"
 * and "meta". Keys come from cairn_keys.h; values are the one msgpack encoding of cairn_service /
 * cairn_instance (cairn_msg.h). Only the registry's writer thread writes; any thread may read in
 * its own read-only transaction (MDB_NOTLS). LMDB errors become CAIRN_E_STORAGE here. */
#ifndef REGISTRY_STORE_H
#define REGISTRY_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_model.h"

/* Bumped when the layout of keys or values changes; a store of another version is not opened. */
#define REGISTRY_SCHEMA_VERSION 1

typedef struct registry_store {
    MDB_env *env; /* NULL when closed */
    MDB_dbi services;
    MDB_dbi instances;
    MDB_dbi meta;
} registry_store;

/* Creates dir if needed and opens (or creates) the store in it. */
cairn_err registry_store_open(registry_store *s, const char *dir, int64_t map_size_mb,
                              cairn_status *st);
void registry_store_close(registry_store *s);

/* Read-only transaction; end it with mdb_txn_abort. */
cairn_err registry_store_read_begin(registry_store *s, MDB_txn **txn, cairn_status *st);

/* Translates an LMDB return code (non-zero) into CAIRN_E_STORAGE with "<what>: <reason>". */
cairn_err registry_store_fail(int rc, const char *what, cairn_status *st);

/* ---- records (txn may be read-only for the getters) ----------------------------------------- */
cairn_err registry_store_get_service(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, cairn_service *out, bool *found,
                                     cairn_status *st);
/* Stores svc under (svc->namespace_id, svc->name). */
cairn_err registry_store_put_service(registry_store *s, MDB_txn *txn, const cairn_service *svc,
                                     cairn_status *st);
/* Deletes the service record, all its instances and its instance count. */
cairn_err registry_store_delete_service(registry_store *s, MDB_txn *txn, const char *ns,
                                        const char *svc, cairn_status *st);

cairn_err registry_store_get_instance(registry_store *s, MDB_txn *txn, const char *ns,
                                      const char *svc, bool ephemeral, const char *cluster,
                                      const char *ip, int32_t port, cairn_instance *out,
                                      bool *found, cairn_status *st);
/* Stores in under its (ephemeral, cluster, ip, port), adding or replacing; keeps the service's
 * instance count. */
cairn_err registry_store_put_instance(registry_store *s, MDB_txn *txn, const char *ns,
                                      const char *svc, const cairn_instance *in,
                                      cairn_status *st);
cairn_err registry_store_delete_instance(registry_store *s, MDB_txn *txn, const char *ns,
                                         const char *svc, bool ephemeral, const char *cluster,
                                         const char *ip, int32_t port, bool *deleted,
                                         cairn_status *st);
/* Instances of the service (both kinds), kept by a counter so that the per-service limit costs
 * one lookup rather than a scan. */
cairn_err registry_store_instance_count(registry_store *s, MDB_txn *txn, const char *ns,
                                        const char *svc, uint64_t *count, cairn_status *st);
/* Every instance of the service in key order (ephemeral first, then by cluster, ip, port).
 * *out is malloc'd (free each with cairn_instance_free, then the array). */
cairn_err registry_store_list_instances(registry_store *s, MDB_txn *txn, const char *ns,
                                        const char *svc, cairn_instance **out, uint32_t *count,
                                        cairn_status *st);

/* Calls fn for each grouped service name of the namespace, in key (lexicographic) order. */
typedef void (*registry_service_name_fn)(void *arg, const char *grouped);
cairn_err registry_store_each_service(registry_store *s, MDB_txn *txn, const char *ns,
                                      registry_service_name_fn fn, void *arg, cairn_status *st);

/* Calls fn for each namespace that holds a service, in key order. Costs one seek per namespace,
 * not a scan of the services. */
cairn_err registry_store_each_namespace(registry_store *s, MDB_txn *txn,
                                        registry_service_name_fn fn, void *arg, cairn_status *st);

/* Calls fn for each service of every namespace in key order (namespace, then grouped name),
 * starting after (after_ns, after_svc) when after_ns is non-empty, until fn returns false. */
typedef bool (*registry_service_key_fn)(void *arg, const char *ns, const char *grouped);
cairn_err registry_store_scan_services(registry_store *s, MDB_txn *txn, const char *after_ns,
                                       const char *after_svc, registry_service_key_fn fn,
                                       void *arg, cairn_status *st);

/* The next store-wide revision (strictly increasing, kept in "meta" so that it survives restarts
 * and never goes back when a service is deleted and created again). */
cairn_err registry_store_next_revision(registry_store *s, MDB_txn *txn, uint64_t *rev,
                                       cairn_status *st);

/* The store-wide revision as of txn (0 for a new store). */
cairn_err registry_store_revision(registry_store *s, MDB_txn *txn, uint64_t *rev,
                                  cairn_status *st);

/* Entry counts of the services and instances databases. */
cairn_err registry_store_counts(registry_store *s, MDB_txn *txn, uint64_t *services,
                                uint64_t *instances, cairn_status *st);
/* Bytes in use (last page + 1, times the page size) and the map size. */
cairn_err registry_store_usage(registry_store *s, uint64_t *used_bytes, uint64_t *map_bytes,
                               cairn_status *st);

#endif
