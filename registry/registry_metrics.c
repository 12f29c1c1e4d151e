/* Registry metrics and health. */
#include "registry_metrics.h"

#include <stdio.h>
#include <string.h>

#include "registry_writer.h"


static void collect(cairn_metrics *m, void *arg)
{
    registry_metrics *rm = arg;
    pthread_mutex_lock(&rm->mu);
    if (rm->store) {
        cairn_status st;
        uint64_t used, map, services, instances;
        if (registry_store_usage(rm->store, &used, &map, &st) == CAIRN_OK) {
            cairn_gauge_set(rm->used_bytes, (double)used);
            cairn_gauge_set(rm->map_bytes, (double)map);
        }
        MDB_txn *txn;
        if (registry_store_read_begin(rm->store, &txn, &st) == CAIRN_OK) {
            if (registry_store_counts(rm->store, txn, &services, &instances, &st) == CAIRN_OK) {
                cairn_gauge_set(rm->services, (double)services);
                cairn_gauge_set(rm->instances, (double)instances);
            }
            uint64_t applied;
            bool fresh;
            if (registry_store_raft_applied(rm->store, txn, &applied, &st) == CAIRN_OK)
                cairn_gauge_set(rm->raft_applied, (double)applied);
            if (registry_store_fresh(rm->store, txn, &fresh, &st) == CAIRN_OK)
                cairn_gauge_set(rm->store_fresh, fresh ? 1 : 0);
            mdb_txn_abort(txn);
        }
    }
    pthread_mutex_unlock(&rm->mu);
}

void registry_metrics_init(registry_metrics *rm, cairn_metrics *m,
                           bool (*is_read)(cairn_msg_type type))
{
    memset(rm, 0, sizeof *rm);
    pthread_mutex_init(&rm->mu, NULL);
    rm->m = m;
    if (!m)
        return;
    static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    rm->batch_size = cairn_metrics_histogram(
        m, "write_batch_size", "Writes committed per LMDB transaction (group commit).", NULL,
        batch_bounds, sizeof batch_bounds / sizeof batch_bounds[0]);
    rm->commit_seconds =
        cairn_metrics_histogram(m, "commit_seconds", "Time to commit one write batch.", NULL,
                                cairn_latency_buckets, cairn_latency_bucket_count);
    rm->sync_seconds = cairn_metrics_histogram(
        m, "sync_seconds", "Time to sync the store after a batch with durable writes.", NULL,
        cairn_latency_buckets, cairn_latency_bucket_count);
    rm->queue_depth =
        cairn_metrics_gauge(m, "queue_depth", "Writes waiting for the writer thread.", NULL);
    rm->used_bytes = cairn_metrics_gauge(m, "lmdb_used_bytes",
                                         "Bytes of the LMDB map in use (last page + 1).", NULL);
    rm->map_bytes = cairn_metrics_gauge(m, "lmdb_map_bytes",
                                        "Size of the LMDB map (registry.map_size_mb).", NULL);
    rm->services = cairn_metrics_gauge(m, "services", "Services in the store.", NULL);
    rm->instances = cairn_metrics_gauge(m, "instances", "Instances in the store.", NULL);
    rm->raft_applied = cairn_metrics_gauge(
        m, "raft_applied", "The raft index of the last persistent batch or state applied.", NULL);
    rm->store_fresh = cairn_metrics_gauge(
        m, "store_fresh", "1 while the store has held no data but a snapshot load not ended.",
        NULL);
    static const char events_help[] =
        "Change events of a service published, by whether they carried the service's snapshot "
        "(omitted: removed, over registry.event_snapshot_max_bytes, or a delta sufficed for a "
        "service without subscribers).";
    rm->events_with_snapshot =
        cairn_metrics_counter(m, "events_total", events_help, "snapshot=\"carried\"");
    rm->events_without_snapshot =
        cairn_metrics_counter(m, "events_total", events_help, "snapshot=\"omitted\"");
    rm->event_deltas = cairn_metrics_counter(
        m, "event_deltas_total",
        "Change events that carried a delta: the instances the commit wrote and removed, for a "
        "service with more than twice as many.",
        NULL);
    rm->empty_services_removed = cairn_metrics_counter(
        m, "empty_services_removed_total",
        "Services removed by the empty-service sweep (registry.empty_service_clean); each is "
        "also a SERVICE_REMOVE in writes_total.",
        NULL);
    for (int t = 0; t < CAIRN_MSG__END; t++) {
        if (!is_read((cairn_msg_type)t))
            continue;
        char labels[64];
        snprintf(labels, sizeof labels, "type=\"%s\"", cairn_msg_type_name((cairn_msg_type)t));
        rm->reads[t] = cairn_metrics_counter(m, "reads_total",
                                             "Requests answered from a read transaction.", labels);
    }
    cairn_metrics_on_collect(m, collect, rm);
}

void registry_metrics_attach(registry_metrics *rm, registry_store *store,
                             struct registry_writer *writer)
{
    pthread_mutex_lock(&rm->mu);
    rm->store = store;
    rm->writer = writer;
    pthread_mutex_unlock(&rm->mu);
}

void registry_metrics_detach(registry_metrics *rm)
{
    registry_metrics_attach(rm, NULL, NULL);
}

void registry_metrics_destroy(registry_metrics *rm)
{
    pthread_mutex_destroy(&rm->mu);
}

void registry_metrics_read(registry_metrics *rm, cairn_msg_type type)
{
    if (rm && rm->m && (unsigned)type < CAIRN_MSG__END && rm->reads[type])
        cairn_counter_inc(rm->reads[type]);
}

void registry_metrics_write(registry_metrics *rm, cairn_msg_type type, cairn_err result)
{
    if (!rm || !rm->m || (unsigned)type >= CAIRN_MSG__END || (unsigned)result >= CAIRN_E__COUNT)
        return;
    cairn_counter **c = &rm->writes[type][result];
    if (!*c) {
        char labels[96];
        snprintf(labels, sizeof labels, "type=\"%s\",result=\"%s\"", cairn_msg_type_name(type),
                 cairn_err_name(result));
        *c = cairn_metrics_counter(rm->m, "writes_total", "Write requests by type and result.",
                                   labels);
    }
    cairn_counter_inc(*c);
}

bool registry_health(void *arg, char *detail, size_t detail_len)
{
    registry_metrics *rm = arg;
    pthread_mutex_lock(&rm->mu);
    bool store_open = rm->store && rm->store->env;
    bool writer_alive = rm->writer && registry_writer_alive(rm->writer);
    pthread_mutex_unlock(&rm->mu);
    if (!store_open)
        snprintf(detail, detail_len, "store is not open");
    else if (!writer_alive)
        snprintf(detail, detail_len, "writer thread is not running");
    else
        snprintf(detail, detail_len, "store open, writer running");
    return store_open && writer_alive;
}
