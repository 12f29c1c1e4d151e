/* The one reference table of configuration keys. Add a key here and nowhere else; the README's
 * table is printed from this by `cairn config-reference`. */
#include "cairn_config.h"

#define NOLIMIT 0, 0

const cairn_config_key cairn_config_reference[] = {
    /* node */
    {"node.data_dir", CAIRN_CFG_STRING, "cairn-data", NOLIMIT,
     "Directory of the node's LMDB store and run files; relative paths are made absolute at start."},
    {"node.run_dir", CAIRN_CFG_STRING, "", NOLIMIT,
     "Directory of the roles' ipc sockets and address files; empty means <node.data_dir>/run."},
    {"log.level", CAIRN_CFG_LOG_LEVEL, "info", NOLIMIT, "debug, info, warn or error."},

    /* gateway */
    {"gateway.listen", CAIRN_CFG_ADDRESS, "0.0.0.0:8848", NOLIMIT,
     "Nacos HTTP API listener (host:port; port 0 picks a free port)."},
    {"gateway.admin_listen", CAIRN_CFG_ADDRESS, "127.0.0.1:9150", NOLIMIT,
     "Gateway metrics and health listener."},
    {"gateway.threads", CAIRN_CFG_INT, "16", 1, 256,
     "HTTP worker threads. Each waits on the registry or healthcheck for every request it "
     "serves (a list cache miss, a write, a beat), so this bounds the requests in flight: more "
     "threads than cores keep the roles busy and the registry's write batches larger."},
    {"gateway.max_connections", CAIRN_CFG_INT, "4096", 16, 1000000,
     "Concurrent HTTP connections; further connections are refused."},
    {"gateway.connection_timeout_s", CAIRN_CFG_INT, "30", 1, 3600,
     "Idle keep-alive connections are closed after this many seconds."},
    {"gateway.max_body_bytes", CAIRN_CFG_INT, "1048576", 1024, 67108864,
     "Largest request body; larger requests get 413."},
    {"gateway.max_param_bytes", CAIRN_CFG_INT, "65536", 256, 16777216,
     "Longest single query or form parameter value; longer ones get 400."},
    {"gateway.registry_timeout_ms", CAIRN_CFG_INT, "1500", 50, 60000,
     "How long a request waits for the registry before answering 503."},
    {"gateway.healthcheck_timeout_ms", CAIRN_CFG_INT, "1500", 50, 60000,
     "How long a beat waits for the healthcheck role before answering 503."},
    {"gateway.max_push_subscriptions", CAIRN_CFG_INT, "1000000", 1, 100000000,
     "Most live push subscriptions the gateway keeps for its pushers (about 200 bytes each); "
     "beyond it a list request is answered as a plain poll (cacheMillis 3000)."},
    {"gateway.ready_poll_ms", CAIRN_CFG_INT, "250", 10, 60000,
     "How often the gateway checks that every role of the node is ready and connected; the "
     "node reports UP (operator/metrics, readiness, sd_notify) only when all are."},
    {"gateway.list_cache_max_age_ms", CAIRN_CFG_INT, "2000", 0, 3600000,
     "instance/list bodies are cached per service and query, dropped when the registry reports "
     "a change and after a write through this gateway; a cached body older than this is "
     "rendered afresh anyway (the bound on staleness should a change event be lost). 0 disables "
     "the cache."},
    {"gateway.list_cache_entries", CAIRN_CFG_INT, "10000", 1, 10000000,
     "Most instance/list bodies kept in the cache; more evict random ones."},
    {"gateway.list_cache_max_bytes", CAIRN_CFG_INT, "67108864", 65536, 68719476736,
     "Most bytes of instance/list bodies kept in the cache; larger bodies are not cached."},
    {"gateway.prometheus_max_bytes", CAIRN_CFG_INT, "16777216", 1024, 1073741824,
     "Largest answer of the Prometheus service discovery endpoints (/nacos/prometheus/...); a "
     "larger target list is refused with 400 naming this key rather than sent in part or "
     "without bound (ask for one namespace or service instead)."},

    /* registry */
    {"registry.admin_listen", CAIRN_CFG_ADDRESS, "127.0.0.1:9151", NOLIMIT,
     "Registry metrics and health listener."},
    {"registry.workers", CAIRN_CFG_INT, "8", 1, 256,
     "Threads answering queries; reads run concurrently with the writer. Writes are handed to "
     "the writer without holding a thread, so batches fill up to registry.max_batch whatever "
     "this number."},
    {"registry.map_size_mb", CAIRN_CFG_INT, "4096", 16, 4194304,
     "LMDB map size (the store's maximum size) in MiB."},
    {"registry.max_batch", CAIRN_CFG_INT, "512", 1, 65536,
     "Most writes the writer thread commits in one transaction (group commit)."},
    {"registry.event_tick_ms", CAIRN_CFG_INT, "1000", 0, 60000,
     "While no write comes, the change-event stream carries the newest revision this often, so "
     "a role that lost the last event of a burst notices and repairs within this time (0: "
     "never)."},

    /* healthcheck: heartbeats, expiry, active probes */
    {"healthcheck.admin_listen", CAIRN_CFG_ADDRESS, "127.0.0.1:9152", NOLIMIT,
     "Healthcheck metrics and health listener."},
    {"healthcheck.workers", CAIRN_CFG_INT, "2", 1, 64, "Threads answering beats."},
    {"healthcheck.registry_timeout_ms", CAIRN_CFG_INT, "2000", 50, 60000,
     "How long the healthcheck waits for the registry on each call."},
    {"health.check_interval_ms", CAIRN_CFG_INT, "5000", 10, 3600000,
     "Period of the expiry sweep over ephemeral instances."},
    {"health.beat_timeout_ms", CAIRN_CFG_INT, "15000", 10, 86400000,
     "An ephemeral instance with no beat for this long becomes unhealthy (metadata "
     "preserved.heart.beat.timeout overrides)."},
    {"health.delete_timeout_ms", CAIRN_CFG_INT, "30000", 10, 86400000,
     "An ephemeral instance with no beat for this long is removed (metadata "
     "preserved.ip.delete.timeout overrides)."},
    {"health.expire_instances", CAIRN_CFG_BOOL, "true", NOLIMIT,
     "Remove ephemeral instances past their delete timeout (false: only mark them unhealthy)."},
    {"health.preservation_ratio", CAIRN_CFG_DOUBLE, "0.5", 0, 1,
     "Self-preservation: while more than this fraction of a namespace's ephemeral instances are "
     "silent past their beat timeout, hold their removal (1 disables)."},
    {"health.preservation_min_instances", CAIRN_CFG_INT, "10", 0, 100000000,
     "Namespaces with fewer ephemeral instances than this are never held by self-preservation."},
    {"health.probe_interval_ms", CAIRN_CFG_INT, "5000", 10, 3600000,
     "Period of active TCP/HTTP probes of persistent instances (each probe is jittered within it)."},
    {"health.probe_timeout_ms", CAIRN_CFG_INT, "500", 10, 60000,
     "A probe that has not connected (TCP) or answered (HTTP) in this long has failed."},
    {"health.probe_healthy_threshold", CAIRN_CFG_INT, "3", 1, 100,
     "Consecutive successful probes that turn an unhealthy persistent instance healthy."},
    {"health.probe_unhealthy_threshold", CAIRN_CFG_INT, "3", 1, 100,
     "Consecutive failed probes that turn a healthy persistent instance unhealthy."},
    {"health.max_probes_in_flight", CAIRN_CFG_INT, "256", 1, 100000,
     "Most probes open at once; the rest wait for their next turn."},
    {"health.probe_networks", CAIRN_CFG_STRING, "", NOLIMIT,
     "Comma-separated CIDR blocks active probes may connect to (e.g. 10.0.0.0/8,127.0.0.0/8); "
     "instances elsewhere are not probed. Empty allows any address, hostnames included."},

    /* pushers: UDP change pushes to subscribers */
    {"pusher.count", CAIRN_CFG_INT, "1", 0, 64,
     "Pusher processes `cairn run` starts; each service is owned by one of them (0: no pushes)."},
    {"pusher.index", CAIRN_CFG_INT, "0", 0, 63,
     "Which pusher this process is (0 .. pusher.count-1); set per process."},
    {"pusher.admin_listen", CAIRN_CFG_ADDRESS, "127.0.0.1:9160", NOLIMIT,
     "Pusher metrics and health listener; pusher N adds N to the port (unless it is 0)."},
    {"pusher.registry_timeout_ms", CAIRN_CFG_INT, "2000", 50, 60000,
     "How long a pusher waits for the registry on each snapshot."},
    {"push.trust_client_ip", CAIRN_CFG_BOOL, "false", NOLIMIT,
     "Push to the clientIP parameter of the list request instead of its TCP peer address."},
    {"push.subscriber_ttl_ms", CAIRN_CFG_INT, "10000", 10, 86400000,
     "A subscriber that has not refreshed (listed again) for this long is dropped."},
    {"push.merge_window_ms", CAIRN_CFG_INT, "100", 0, 60000,
     "Changes to one service within this window are pushed once."},
    {"push.gzip_threshold", CAIRN_CFG_INT, "1024", 0, 65507,
     "Datagrams of at least this many bytes are gzipped."},
    {"push.ack_timeout_ms", CAIRN_CFG_INT, "10000", 10, 600000,
     "An unacknowledged push is resent after this long."},
    {"push.max_retries", CAIRN_CFG_INT, "1", 0, 100,
     "Resends of an unacknowledged push before it counts as failed."},
    {"push.max_subscribers_per_service", CAIRN_CFG_INT, "10000", 1, 10000000,
     "Subscribers one service may have; further ones are refused (they poll)."},
    {"push.max_subscribers", CAIRN_CFG_INT, "200000", 1, 100000000,
     "Subscribers one pusher holds in all."},
    {"push.max_datagram_bytes", CAIRN_CFG_INT, "65000", 512, 65507,
     "Largest datagram sent; a service whose push does not fit even gzipped is skipped and counted."},
    {"push.max_sends_per_second", CAIRN_CFG_INT, "200", 1, 1000000,
     "Datagrams per second to one destination address:port (a one-second burst); sends beyond "
     "wait until the destination's budget allows, a newer push replacing a waiting one."},

    /* limits (apply to every entry point) */
    {"limits.max_metadata_bytes", CAIRN_CFG_INT, "16384", 64, 1048576,
     "Largest metadata value (JSON or k=v text) of an instance, service or cluster."},
    {"limits.max_instances_per_service", CAIRN_CFG_INT, "20000", 1, 10000000,
     "Registering a new instance beyond this many in one service fails with 400."},

    /* cairn run (supervisor) */
    {"run.restart_backoff_min_ms", CAIRN_CFG_INT, "100", 10, 600000,
     "First delay before restarting a role that exited; doubles on each quick failure."},
    {"run.restart_backoff_max_ms", CAIRN_CFG_INT, "10000", 10, 3600000,
     "Longest delay between restarts of a failing role."},
    {"run.stop_timeout_ms", CAIRN_CFG_INT, "10000", 100, 600000,
     "How long roles get to stop after SIGTERM before they are killed."},
    {"run.ready_timeout_ms", CAIRN_CFG_INT, "30000", 100, 600000,
     "How long `cairn run` waits for every role to report ready before giving up."},

    {0},
};
