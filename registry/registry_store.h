/* The registry's LMDB store: one environment with the named databases "services", "instances",
 * "meta" and "owners" (the index of connection-owned instances, below). Keys come from cairn_keys.h; values are the one msgpack encoding of cairn_service /
 * cairn_instance (cairn_msg.h). Only the registry's writer thread writes; any thread may read in
 * its own read-only transaction (MDB_NOTLS). LMDB errors become CAIRN_E_STORAGE here. */
#ifndef REGISTRY_STORE_H
#define REGISTRY_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn_error.h"
#include "cairn_keys.h"
#include "cairn_model.h"
#include "cairn_msg.h"

/* Bumped when the layout of keys or values changes; a store of another version is not opened. */
#define REGISTRY_SCHEMA_VERSION 1

typedef struct registry_store {
    MDB_env *env; /* NULL when closed */
    uint64_t epoch; /* the store's Distro epoch (random, non-zero; made with the store) */
    /* Content digests of the ephemeral states by revision (registry_digest_cache.h), derived
     * data kept with the store; NULL: none (every digest computed). */
    struct registry_digest_cache *digests;
    /* While set (by the writer, for a batch), every instance key put or deleted is recorded in
     * it (registry_touched.h); NULL otherwise. Writer thread only. */
    struct registry_touched *touched;
    MDB_dbi services;
    MDB_dbi instances;
    MDB_dbi meta;
    MDB_dbi owners;
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
/* The instance stored under key (an instance key of cairn_keys.h), as registry_store_get_instance
 * finds one by its parts. */
cairn_err registry_store_get_instance_at(registry_store *s, MDB_txn *txn, const void *key,
                                         size_t key_len, cairn_instance *out, bool *found,
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

/* The service with every instance, encoded as a SERVICE_GET reply's snapshot, straight from the
 * stored records (cairn_snapshot_assemble: nothing is decoded). *out (malloc'd, the caller frees
 * it) is NULL when there is no such service or the snapshot would be larger than max_bytes;
 * reading stops as soon as it is. */
cairn_err registry_store_encode_snapshot(registry_store *s, MDB_txn *txn, const char *ns,
                                         const char *svc, size_t max_bytes, char **out,
                                         size_t *out_len, cairn_status *st);

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

/* ---- cluster replication (meta records; cluster-design §2.5, §2.7) ------------------------- */
/* Whether the store has held no data since it was made, but a snapshot load not yet ended: set
 * when the store (and its epoch) is made, cleared by the first local write, replicated write or
 * the end of a snapshot load. */
cairn_err registry_store_fresh(registry_store *s, MDB_txn *txn, bool *fresh, cairn_status *st);
cairn_err registry_store_clear_fresh(registry_store *s, MDB_txn *txn, cairn_status *st);
/* The raft watermark: the index of the last PERSIST_APPLY or PERSIST_REPLACE (0: none). */
cairn_err registry_store_raft_applied(registry_store *s, MDB_txn *txn, uint64_t *index,
                                      cairn_status *st);
cairn_err registry_store_set_raft_applied(registry_store *s, MDB_txn *txn, uint64_t index,
                                          cairn_status *st);
/* Deletes every instance of one kind of the service; *deleted counts them. */
cairn_err registry_store_delete_kind(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, bool ephemeral, uint64_t *deleted,
                                     cairn_status *st);
/* Makes the service's instances of one kind exactly ins[0..n) (prepared: each of that kind, with
 * its cluster; keys distinct): writes each that is new or whose stored record differs, deletes
 * each stored one not among them. A record already stored byte for byte is neither written nor
 * recorded as touched, so the change event's delta names only what changed (a Distro sync
 * re-sends whole services, mostly unchanged). */
cairn_err registry_store_replace_kind(registry_store *s, MDB_txn *txn, const char *ns,
                                      const char *svc, bool ephemeral, const cairn_instance *ins,
                                      uint32_t n, cairn_status *st);
/* The instances of one kind of the service, in key order (as registry_store_list_instances). */
cairn_err registry_store_list_kind(registry_store *s, MDB_txn *txn, const char *ns,
                                   const char *svc, bool ephemeral, cairn_instance **out,
                                   uint32_t *count, cairn_status *st);
/* The snapshot load under way (0: none); setting 0 ends it and deletes every load mark. */
cairn_err registry_store_load_active(registry_store *s, MDB_txn *txn, uint64_t *load_id,
                                     cairn_status *st);
cairn_err registry_store_set_load_active(registry_store *s, MDB_txn *txn, uint64_t load_id,
                                         cairn_status *st);
/* Marks the service as brought (or written) during load load_id; deleted with the service. */
cairn_err registry_store_load_mark(registry_store *s, MDB_txn *txn, const char *ns,
                                   const char *svc, uint64_t load_id, cairn_status *st);
cairn_err registry_store_load_marked(registry_store *s, MDB_txn *txn, const char *ns,
                                     const char *svc, uint64_t load_id, bool *marked,
                                     cairn_status *st);
/* ---- the owners index (registry_owners_index.c) -----------------------------------------------
 * Which services hold instances of an owner (cairn_instance.owner): keys
 * <owner> 00 <ns> 00 <grouped>; the value lists the instance keys (cairn_keys.h) the owner put
 * there, each as a 2-byte big-endian length and the key, so that replacing or dropping an
 * owner's instances reads those, not the whole service. An empty value (a store from before the
 * lists) means "somewhere in the service". It says where to look, not what is there: an entry
 * may outlive its instances (a v1 register took one over, the service was deleted), and readers
 * check each instance's owner; but an owner's instance is always listed (or its entry empty).
 * Kept by INSTANCE_SET_OWNED, OWNER_DROP and the Distro applies. */
cairn_err registry_owners_put(registry_store *s, MDB_txn *txn, const char *owner, const char *ns,
                              const char *svc, const cairn_key *keys, size_t key_count,
                              cairn_status *st);
/* The instance keys of the entry (owner, ns, svc): *found false when there is none; *keys
 * (malloc'd array, free it; slices borrowed from txn) empty when the entry lists none. */
cairn_err registry_owners_get(registry_store *s, MDB_txn *txn, const char *owner, const char *ns,
                              const char *svc, bool *found, cairn_bytes **keys,
                              size_t *key_count, cairn_status *st);
cairn_err registry_owners_del(registry_store *s, MDB_txn *txn, const char *owner, const char *ns,
                              const char *svc, cairn_status *st);
/* The entries of owner (prefix false) or of every owner starting with it (prefix true), in key
 * order, malloc'd into *out (free with registry_owned_refs_free). */
typedef struct registry_owned_refs {
    char **owner, **ns, **svc;
    size_t count;
} registry_owned_refs;
cairn_err registry_owners_find(registry_store *s, MDB_txn *txn, const char *owner, bool prefix,
                               registry_owned_refs *out, cairn_status *st);
void registry_owned_refs_free(registry_owned_refs *r);

#endif
