/* The replicator's life: configuration, start in order, stop in reverse (replicator.h). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "replicator.h"
#include "replicator_grpc_owners.h"
#include "replicator_forward.h"
#include "replicator_submit.h"
#include "replicator_distro.h"
#include "replicator_raft.h"
#include "replicator_sync.h"

int replicator_init(replicator *r, cairn_role *role)
{
    memset(r, 0, sizeof *r);
    r->role = role;
    cairn_status st;
    if (cairn_cluster_config_load(role->config, &r->cfg, &st) != CAIRN_OK) {
        log_error("config: %s", st.message);
        return CAIRN_EXIT_CONFIG;
    }
    if (r->cfg.count == 0) {
        log_error("config: cluster.members is empty: a standalone node runs no replicator");
        return CAIRN_EXIT_CONFIG;
    }
    if (r->cfg.secret_warning[0])
        log_warn("%s", r->cfg.secret_warning);
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        return EXIT_FAILURE;
    }
    randombytes_buf(&r->incarnation, sizeof r->incarnation);
    r->incarnation |= 1; /* never 0: 0 means "not heard" */
    for (size_t i = 0; i < r->cfg.count; i++)
        r->member_ids[i] = r->cfg.members[i].id;
    if (cairn_peer_guard_init(&r->guard, r->cfg.secret, r->cfg.secret_len,
                              r->cfg.members[r->cfg.self].id, r->member_ids,
                              r->cfg.count) != CAIRN_OK) {
        log_error("out of memory");
        return EXIT_FAILURE;
    }
    pthread_mutex_init(&r->queue_lock, NULL);
    pthread_mutex_init(&r->card.lock, NULL);
    repl_members_init(&r->members, &r->cfg);
    replicator_metrics_init(&r->metrics, role->metrics, &r->cfg);
    if (repl_grpc_owners_open(r, &st) != CAIRN_OK) {
        log_error("%s", st.message);
        return EXIT_FAILURE;
    }
    return 0;
}

cairn_err replicator_start(replicator *r, cairn_status *st)
{
    if (repl_peer_server_start(r, st) != CAIRN_OK)
        return st->code;
    repl_members_set_self_addresses(&r->members, r->peer_bound, r->raft_advertised);
    pthread_mutex_lock(&r->card.lock);
    cairn_peer_ping *c = &r->card.ping;
    c->phase = CAIRN_PHASE_STARTING;
    c->members_hash = r->cfg.members_hash;
    snprintf(c->peer_address, sizeof c->peer_address, "%s", r->peer_bound);
    snprintf(c->raft_address, sizeof c->raft_address, "%s", r->raft_advertised);
    c->store_fresh = false; /* placeholder until the Distro load step knows */
    strcpy(c->raft.role, "none");
    pthread_mutex_unlock(&r->card.lock);
    for (size_t i = 0; i < r->cfg.count; i++)
        if (i != r->cfg.self && repl_peer_open(r, &r->peers[i], i, st) != CAIRN_OK)
            return st->code;
    if (repl_local_start(r, st) != CAIRN_OK || repl_discover_start(r, st) != CAIRN_OK ||
        repl_sync_start(r, st) != CAIRN_OK)
        return st->code;
    if (repl_forward_start(r, st) != CAIRN_OK)
        return st->code;
    log_info("member %s of %zu; incarnation %016llx", r->cfg.members[r->cfg.self].id,
             r->cfg.count, (unsigned long long)r->incarnation);
    return repl_loop_start(r, st); /* the loop turns self READY (replicator_self_ready_gate) */
}

void replicator_stop(replicator *r)
{
    /* leadership leaves first: what follows may wait (for answers, for peers) */
    repl_raft_hand_over(r, (int)cairn_config_int(r->role->config, "raft.election_timeout_ms") +
                               1000);
    repl_submit_shutdown(r); /* waiting writes are answered before replicator.sock stops */
    repl_local_stop_requests(r);
    repl_loop_stop(r); /* the last PINGs say STOPPING */
    repl_sync_stop(r);  /* before the peer sockets: its contexts are on them */
    repl_forward_stop(r); /* before the listener: its callbacks answer there */
    repl_discover_stop(r);
    repl_peer_server_stop(r);
    for (size_t i = 0; i < r->cfg.count; i++)
        if (i != r->cfg.self)
            repl_peer_close(&r->peers[i]);
    repl_local_stop(r);
    r->closed = true;
    repl_raft_free(r); /* closes the registry client: its last replies are posted, then drained */
    repl_loop_drain(r); /* what nng callbacks posted since: freed, not run */
}

void replicator_destroy(replicator *r)
{
    repl_submit_free(r);
    repl_distro_destroy(r);
    repl_sync_destroy(r);
    repl_forward_destroy(r);
    repl_grpc_owners_free(r);
    cairn_peer_guard_destroy(&r->guard);
    pthread_mutex_destroy(&r->queue_lock);
    pthread_mutex_destroy(&r->card.lock);
    sodium_memzero(r->cfg.secret, sizeof r->cfg.secret);
}
