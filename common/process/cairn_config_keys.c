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
    {"gateway.threads", CAIRN_CFG_INT, "4", 1, 256, "HTTP worker threads."},
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

    /* registry */
    {"registry.admin_listen", CAIRN_CFG_ADDRESS, "127.0.0.1:9151", NOLIMIT,
     "Registry metrics and health listener."},
    {"registry.workers", CAIRN_CFG_INT, "4", 1, 256,
     "Threads answering queries; reads run concurrently with the writer."},
    {"registry.map_size_mb", CAIRN_CFG_INT, "4096", 16, 4194304,
     "LMDB map size (the store's maximum size) in MiB."},
    {"registry.max_batch", CAIRN_CFG_INT, "512", 1, 65536,
     "Most writes the writer thread commits in one transaction (group commit)."},

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
