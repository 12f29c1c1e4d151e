/* Whether a node bootstraps the raft cluster (cluster-design §2.8 step 2, §5 pitfall 2).
 *
 * libraft never elects in a cluster where nobody bootstrapped, and re-bootstrapping a wiped node
 * would forget its vote (a double-vote risk). So a pristine raft dir bootstraps all members only
 * once raft.bootstrap_wait_ms has passed since the node started waiting, a majority of members
 * (self included) is reachable, and every reachable member reports a pristine raft dir; a node
 * that has ever heard any member report an initialized dir never bootstraps: it starts without a
 * configuration and waits for the leader's snapshot and entries. A node whose own dir holds raft
 * state simply starts. A one-member cluster bootstraps at once (nobody else can hold data).
 *
 * Pure: time comes in as now_ms, the member reports as data; tested as a decision table. */
#ifndef CAIRN_RAFT_BOOTSTRAP_H
#define CAIRN_RAFT_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cairn_raft_start {
    CAIRN_RAFT_START_WAIT = 0,  /* decide again later (on the next PING round) */
    CAIRN_RAFT_START_BOOTSTRAP, /* raft_bootstrap with every member, then raft_start */
    CAIRN_RAFT_START_JOIN,      /* raft_start without bootstrap: wait for the leader */
    CAIRN_RAFT_START_RESUME,    /* own dir holds raft state: raft_start */
} cairn_raft_start;

/* What this node knows of one other member, from its PINGs. */
typedef struct cairn_raft_peer_view {
    bool reachable;        /* answered recently */
    bool pristine;         /* its last answer reported a pristine raft dir */
    bool ever_initialized; /* any answer ever reported an initialized raft dir */
} cairn_raft_peer_view;

typedef struct cairn_raft_start_input {
    bool self_pristine;      /* own raft dir holds no raft state */
    int64_t waiting_since_ms;
    int64_t now_ms;
    int64_t bootstrap_wait_ms;
    const cairn_raft_peer_view *peers; /* every member but self */
    size_t peer_count;
} cairn_raft_start_input;

cairn_raft_start cairn_raft_start_decide(const cairn_raft_start_input *in);
const char *cairn_raft_start_name(cairn_raft_start d);

#endif
