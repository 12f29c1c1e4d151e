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
    {"gateway.threads", CAIRN_CFG_INT, "4", 1, 256,
     "HTTP threads (libmicrohttpd poll loops). They parse, render and answer; a request that "
     "needs another role waits suspended, not on a thread. More than one lets a large body "
     "rendered on a list cache miss hold up only its own thread's connections; many more than "
     "cores only add wake-ups (on 2 cores, 16 threads cost 10-20% more CPU per beat than 4)."},
    {"gateway.max_connections", CAIRN_CFG_INT, "4096", 16, 1000000,
     "Concurrent HTTP connections; a further connection is closed as soon as it is accepted, "
     "without an answer (rather than left waiting)."},
    {"gateway.max_connections_per_ip", CAIRN_CFG_INT, "1024", 0, 1000000,
     "Concurrent HTTP connections from one client address; further ones are closed as soon as "
     "they are accepted. Behind a proxy or NAT that funnels many clients through one address, "
     "raise it (0: no limit)."},
    {"gateway.connection_timeout_s", CAIRN_CFG_INT, "30", 1, 3600,
     "Idle keep-alive connections are closed after this many seconds."},
    {"gateway.request_read_timeout_ms", CAIRN_CFG_INT, "30000", 100, 3600000,
     "A request's line, headers and body must arrive within this long of its first byte, or "
     "the connection is closed; unlike the idle timeout, bytes that trickle in do not extend "
     "it. A request being handled (waiting on a role) is not bound by it."},
    {"gateway.max_body_bytes", CAIRN_CFG_INT, "1048576", 1024, 67108864,
     "Largest request body; larger requests get 413."},
    {"gateway.max_param_bytes", CAIRN_CFG_INT, "65536", 256, 16777216,
     "Longest single query or form parameter value; longer ones get 400."},
    {"gateway.max_params", CAIRN_CFG_INT, "256", 16, 65536,
     "Most query and form parameters of one request, repeated keys included; more get 400 "
     "before the request is routed (Nacos clients send under 20)."},
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
    {"gateway.beat_cache_max_age_ms", CAIRN_CFG_INT, "300000", 0, 3600000,
     "A beat of an instance whose last beat the healthcheck answered, with no change to its "
     "service since, is answered by the gateway at once and passed on to the healthcheck behind "
     "the answer; such an answer is reused for at most this long, then the next beat waits for "
     "the healthcheck again (a lost change event is caught sooner: a beat passed on that the "
     "healthcheck does not answer 10200 empties the cache). 0 disables it: every beat waits for "
     "the healthcheck's answer."},
    {"gateway.beat_cache_entries", CAIRN_CFG_INT, "200000", 1, 10000000,
     "Most instances whose beat answers the gateway keeps (about 300 bytes each); more evict "
     "random ones, whose next beat waits for the healthcheck again."},
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
    {"registry.event_snapshot_max_bytes", CAIRN_CFG_INT, "65536", 0, 1048576,
     "A change event carries what changed (the instances the write touched) and, for a service "
     "with subscribers or when that is no smaller, the service's snapshot, each when it encodes "
     "to at most this many bytes, so the healthcheck and the pushers follow the change without "
     "reading the service back from the registry; what is larger, and everything when 0, is "
     "read back."},
    {"registry.empty_service_clean", CAIRN_CFG_BOOL, "true", NOLIMIT,
     "Remove a service once it has had no instance for registry.empty_service_clean_after_ms, "
     "as Nacos' nacos.naming.empty-service.auto-clean, unless it was created or updated "
     "through the service API (POST/PUT /service), has cluster settings (PUT /cluster) or has "
     "subscribers (v1 UDP push or gRPC, which the gateway and cairn-grpc report to the "
     "registry; when false they report nothing)."},
    {"registry.empty_service_clean_after_ms", CAIRN_CFG_INT, "60000", 10, 604800000,
     "How long a service must have been empty (unchanged since its last instance went) and "
     "without subscribers before the sweep removes it. The gateway and cairn-grpc report the "
     "services with subscribers every third of it, and at once for a service's first."},
    {"registry.empty_service_sweep_ms", CAIRN_CFG_INT, "20000", 10, 3600000,
     "How often the registry looks for empty services to remove; a pass reads every service's "
     "instance count, a page at a time."},

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
     "Comma-separated CIDR blocks active probes may connect to (e.g. 10.0.0.0/8); instances "
     "elsewhere are not probed. Empty allows any address and hostname except loopback, this "
     "host's own addresses and special ones; unspecified, link-local (169.254/16, fe80::/10), "
     "multicast, broadcast and reserved addresses are never probed, and loopback or an own "
     "address only when listed (127.0.0.0/8; an own address as a single address)."},

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
     "Push to the clientIP parameter of the list request instead of its TCP peer address; a "
     "clientIP that is not an address, or is unspecified, multicast, broadcast or reserved (or "
     "loopback/link-local from a peer that is not), falls back to the peer."},
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

    /* auth (the gateway; off by default) */
    {"auth.enabled", CAIRN_CFG_BOOL, "false", NOLIMIT,
     "Require a user for every API call but the login and console health endpoints (Nacos' "
     "nacos.core.auth.enabled); needs auth.token_secret_file, and every *.admin_listen on "
     "loopback, or the node refuses to start."},
    {"auth.users_file", CAIRN_CFG_STRING, "", NOLIMIT,
     "The users, their salted password hashes and roles, as `cairn user` writes it; empty means "
     "<node.data_dir>/users. The gateway and cairn-grpc reread it within a second of a change."},
    {"auth.token_secret_file", CAIRN_CFG_STRING, "", NOLIMIT,
     "File holding the secret (at least 32 bytes) that signs access tokens; there is no default "
     "secret."},
    {"auth.token_ttl_s", CAIRN_CFG_INT, "18000", 1, 31536000,
     "Lifetime of an access token from the login endpoint, in seconds (Nacos' "
     "nacos.core.auth.default.token.expire.seconds)."},

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


    /* raft (cairn-replicator: persistent instances and service definitions) */
    {"raft.dir", CAIRN_CFG_STRING, "", NOLIMIT,
     "Directory of the node's raft log, metadata and snapshots; empty means "
     "<node.data_dir>/raft. It must be on a local file system (libraft probes direct I/O)."},
    {"raft.election_timeout_ms", CAIRN_CFG_INT, "500", 50, 60000,
     "Raft election timeout (randomized between 1x and 2x). With the 50 ms heartbeat a killed "
     "leader is replaced in about 0.6-1.0 s; every member should use the same value."},
    {"raft.heartbeat_ms", CAIRN_CFG_INT, "50", 5, 10000,
     "Interval of the raft leader's heartbeats; must be below raft.election_timeout_ms."},
    {"raft.snapshot_threshold", CAIRN_CFG_INT, "8192", 16, 100000000,
     "Raft log entries between two snapshots of the persistent data."},
    {"raft.snapshot_trailing", CAIRN_CFG_INT, "2048", 0, 100000000,
     "Raft log entries kept behind a snapshot, so a briefly lagging member catches up from the "
     "log instead of a whole snapshot."},
    {"raft.forward_wait_ms", CAIRN_CFG_INT, "2000", 0, 60000,
     "How long a persistent write waits for a raft leader to be known before answering 503 "
     "`no raft leader`."},
    {"raft.bootstrap_wait_ms", CAIRN_CFG_INT, "3000", 0, 600000,
     "How long a member with an empty raft dir waits before it bootstraps a brand-new cluster "
     "(only when a majority is reachable and every reachable member's raft dir is empty too)."},
    {"raft.ready_timeout_ms", CAIRN_CFG_INT, "10000", 0, 3600000,
     "How long a starting member waits for raft to catch up with the leader's commit index "
     "before it turns READY anyway (readiness then says `raft lagging`)."},
    {"raft.submit_timeout_ms", CAIRN_CFG_INT, "5000", 100, 600000,
     "How long a persistent write (instance with ephemeral=false, service, cluster) waits to be "
     "committed by a raft majority before it is answered 503 (without a majority, or after the "
     "leader died with the write in flight: `outcome unknown, retry`)."},
    {"raft.forward_max_pending", CAIRN_CFG_INT, "64", 1, 128,
     "Forwards from followers (each up to 64 persistent writes a follower gathered in one loop "
     "turn) that the raft leader holds waiting for their commits at once; past it a forward's "
     "writes are answered 503 `raft leader busy`. Each holds one context of the peer listener."},
    /* cluster: membership and the peer channel (cairn-replicator). The cluster.* names of the
     * first four keys are fixed: tools outside the project use them. */
    {"cluster.members", CAIRN_CFG_STRING, "", NOLIMIT,
     "Comma-separated host:port of every node's Nacos HTTP address, this node's included, the "
     "same list on every node (in any order). The node finds itself by gateway.listen. Empty: "
     "standalone, no replicator."},
    {"cluster.peer_listen", CAIRN_CFG_STRING, "", NOLIMIT,
     "The replicator's peer listener (host:port; port 0 picks a free port, which peers learn "
     "from operator/servers). Empty: <gateway host>:<HTTP port + 1001>."},
    {"cluster.raft_listen", CAIRN_CFG_STRING, "", NOLIMIT,
     "The raft listener (host:port; port 0 as above). Empty: <gateway host>:<HTTP port - 1000>."},
    {"cluster.secret_file", CAIRN_CFG_STRING, "", NOLIMIT,
     "File holding the secret shared by every member (at least 32 bytes; one trailing newline "
     "is ignored) that authenticates the peer and raft channels; required with more than one "
     "member. A file readable by other users is reported."},
    {"replicator.admin_listen", CAIRN_CFG_ADDRESS, "127.0.0.1:9153", NOLIMIT,
     "Replicator metrics and health listener."},
    {"cluster.ping_interval_ms", CAIRN_CFG_INT, "500", 10, 60000,
     "How often the replicator pings every peer."},
    {"cluster.fail_count", CAIRN_CFG_INT, "3", 1, 100,
     "Missed pings in a row after which a peer is DOWN (fewer make it SUSPICIOUS)."},
    {"cluster.up_pings", CAIRN_CFG_INT, "2", 1, 100,
     "READY pings in a row before a peer joins the owner list."},
    /* grpc (cairn-grpc: the Nacos 2.x gRPC naming port) */
    {"grpc.listen", CAIRN_CFG_STRING, "", NOLIMIT,
     "Nacos 2.x gRPC listener (host:port; port 0 picks a free one and <run_dir>/grpc.addr names "
     "it). Empty: the host of gateway.listen and its port + 1000 (9848 for 8848), as 2.x clients "
     "derive it; with gateway.listen on port 0, the port the gateway bound (<run_dir>/gateway.http) "
     "+ 1000."},
    {"grpc.admin_listen", CAIRN_CFG_ADDRESS, "127.0.0.1:9154", NOLIMIT,
     "gRPC role metrics and health listener."},
    {"grpc.max_connections", CAIRN_CFG_INT, "10000", 1, 1000000,
     "gRPC connections held at once; further ones are closed as they are accepted."},
    {"grpc.max_connections_per_ip", CAIRN_CFG_INT, "1024", 0, 1000000,
     "Concurrent gRPC connections from one client address; further ones are closed as soon as "
     "they are accepted, before any HTTP/2 byte, while other addresses are served. Behind a "
     "proxy or NAT that funnels many clients through one address, raise it (0: no limit)."},
    {"grpc.max_streams_per_connection", CAIRN_CFG_INT, "128", 2, 100000,
     "Concurrent HTTP/2 streams of one gRPC connection (SETTINGS_MAX_CONCURRENT_STREAMS); "
     "further streams are refused."},
    {"grpc.max_message_bytes", CAIRN_CFG_INT, "10485760", 1024, 67108864,
     "Largest gRPC message accepted (as Nacos); a larger one ends its stream with "
     "RESOURCE_EXHAUSTED."},
    {"grpc.registry_timeout_ms", CAIRN_CFG_INT, "1500", 50, 60000,
     "How long a gRPC call waits for the registry before it is answered with an ErrorResponse "
     "500."},
    {"grpc.detect_idle_ms", CAIRN_CFG_INT, "20000", 100, 3600000,
     "A connection silent this long is sent a ClientDetectionRequest."},
    {"grpc.detect_timeout_ms", CAIRN_CFG_INT, "5000", 50, 600000,
     "A probed connection still silent after this long is closed (its instances go)."},
    {"grpc.push_merge_window_ms", CAIRN_CFG_INT, "100", 0, 60000,
     "Changes to a service within this window are pushed to gRPC subscribers once."},
    {"grpc.push_ack_timeout_ms", CAIRN_CFG_INT, "5000", 10, 600000,
     "How long a NotifySubscriberRequest waits for its ack before it is retried."},
    {"grpc.push_retry_delay_ms", CAIRN_CFG_INT, "1000", 0, 600000,
     "Delay before an unacked or refused push is sent again (with the newest data), for as long "
     "as the connection lives."},
    {"grpc.max_pending_pushes", CAIRN_CFG_INT, "1024", 1, 1000000,
     "Subscriptions of one connection with a push unsent or unacked (the newest per service is "
     "kept); a connection past it is closed. Output not taken by the client for "
     "grpc.push_ack_timeout_ms x 60 also closes it."},
    /* Distro sync (cairn-replicator) */
    {"distro.sync_delay_ms", CAIRN_CFG_INT, "50", 0, 60000,
     "How long after the first unsent change of an owned service its state is sent to each peer "
     "(changes meanwhile join the same batch; not a debounce)."},
    {"distro.batch_max_services", CAIRN_CFG_INT, "512", 1, 512,
     "Most services in one DISTRO_SYNC to a peer; a batch is sent at once when this many are "
     "dirty."},
    /* cairn-grpc: the shutdown drain */
    {"grpc.shutdown_drain_ms", CAIRN_CFG_INT, "3000", 0, 60000,
     "On a stop, cairn-grpc stops listening, sends every gRPC client a ConnectResetRequest (Java, "
     "Go and Python clients move to another server of their list) and waits this long at most "
     "for them to close before it closes the rest. 0: close at once. Keep it below "
     "run.stop_timeout_ms."},
    /* Forwarding writes to their Distro owner (cairn-gateway, cairn-replicator) */
    {"cluster.forward_timeout_ms", CAIRN_CFG_INT, "2000", 50, 60000,
     "How long a write or beat forwarded to its service's owner may take before the node that "
     "took it answers 503 naming the owner."},
    /* Distro load on start and verify rounds (cairn-replicator) */
    {"distro.load_wait_ms", CAIRN_CFG_INT, "5000", 0, 3600000,
     "How long a starting member waits for a READY peer to load from before it warm-starts from "
     "its own store (a full-cluster restart)."},
    {"distro.load_alone_ms", CAIRN_CFG_INT, "30000", 0, 86400000,
     "How long a member with an empty store waits when no peer answers at all before it turns "
     "READY empty (0: wait for a peer forever)."},
    {"distro.load_page_timeout_ms", CAIRN_CFG_INT, "10000", 100, 600000,
     "How long one snapshot page of a load may take (read from the peer and applied) before the "
     "load is abandoned and started over."},
    {"distro.verify_interval_ms", CAIRN_CFG_INT, "5000", 0, 3600000,
     "How often a member compares the copies it holds with each READY peer's own services and "
     "repairs what differs (0: no verify rounds)."},
    /* cairn-grpc: the ServiceInfo cache of queries and subscriptions */
    {"grpc.query_cache_max_age_ms", CAIRN_CFG_INT, "2000", 0, 3600000,
     "ServiceQuery and SubscribeService answers are cached per service, clusters and "
     "healthyOnly, dropped when the registry reports a change and after a write through this "
     "cairn-grpc; a cached answer older than this is rendered afresh anyway (the bound on "
     "staleness should a change event be lost). 0 disables the cache."},
    {"grpc.query_cache_entries", CAIRN_CFG_INT, "10000", 1, 10000000,
     "Most ServiceInfo answers kept in cairn-grpc's query cache; more evict random ones."},
    {"grpc.query_cache_max_bytes", CAIRN_CFG_INT, "67108864", 65536, 68719476736,
     "Most bytes of ServiceInfo kept in cairn-grpc's query cache; larger ones are not cached."},

    {0},
};
