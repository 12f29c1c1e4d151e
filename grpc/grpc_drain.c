/* The shutdown drain (grpc.h): ConnectResetRequest to every client, then wait for them to go.
 *
 * Nacos 2.3.2 sends ConnectResetRequest only when an operator rebalances connections
 * (ConnectionManager.loadSingle); on shutdown it just stops its gRPC server. Clients obey the
 * request at once (Java, Go and Python switch to the next server of their list when serverIp is
 * empty; Rust ignores it), so sending it before stopping lets them move while this node still
 * answers, instead of noticing a dead connection. Loop thread. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cairn_log.h"
#include "grpc.h"

/* Stops accepting: the listener goes, and /ready says so. */
static void stop_listening(grpc_server *s)
{
    atomic_store(&s->listening, false);
    if (s->listen_fd < 0)
        return;
    epoll_ctl(s->ep, EPOLL_CTL_DEL, s->listen_fd, NULL);
    close(s->listen_fd);
    s->listen_fd = -1;
}

/* A ConnectResetRequest without a server: "move to another server of your list". */
static bool send_reset(grpc_conn *c)
{
    char *json = grpc_json_server_request(++c->next_request_id, NULL, "internal");
    uint8_t *framed;
    size_t len;
    bool sent = json &&
                grpc_payload_encode_framed("ConnectResetRequest", json, strlen(json), &framed,
                                           &len) == 0 &&
                grpc_stream_send(c->bidi, framed, len) == 0;
    free(json);
    return sent;
}

/* Sends every open connection with a bi-stream its reset; returns how many were sent. */
static size_t reset_all(grpc_server *s)
{
    size_t n = cairn_hashmap_size(s->conns), count = 0, i = 0;
    uint64_t *serials = calloc(n ? n : 1, sizeof *serials);
    if (!serials)
        return 0;
    cairn_hashmap_iter it;
    const void *k;
    void *v;
    cairn_hashmap_iter_init(&it, s->conns);
    while (cairn_hashmap_iter_next(&it, &k, NULL, &v) && i < n)
        serials[i++] = ((grpc_conn *)v)->serial;
    for (size_t j = 0; j < i; j++) { /* by serial: a flush may close (and unlist) a connection */
        grpc_conn *c = grpc_conn_find(s, serials[j]);
        if (!c || c->closed || !c->bidi || !send_reset(c))
            continue;
        count++;
        grpc_conn_flush(c);
    }
    free(serials);
    grpc_conn_bury(s);
    return count;
}

int grpc_drain(grpc_server *s)
{
    int64_t drain_ms = cairn_config_int(s->role->config, "grpc.shutdown_drain_ms");
    stop_listening(s);
    if (drain_ms == 0 || s->open_conns == 0)
        return 0;
    size_t sent = reset_all(s);
    log_info("stopping: ConnectResetRequest sent to %zu of %u connections; waiting up to %lld ms "
             "for them to close",
             sent, s->open_conns, (long long)drain_ms);
    int64_t deadline = grpc_now_ms() + drain_ms;
    while (s->open_conns > 0 && grpc_now_ms() < deadline) {
        int rc = grpc_loop_step(s);
        if (rc != 0)
            return rc;
    }
    if (s->open_conns > 0)
        log_info("stopping: %u connections still open are closed", s->open_conns);
    return 0;
}
