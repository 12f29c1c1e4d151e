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

/* Readiness gated on raft catch-up (cluster-design §2.8 step 4): a member turns READY only once
 * its registry holds every persistent entry the leader had committed when this member first
 * heard of it, or a lagging member's reads would show stale persistent data. The target is the
 * first commit index a leader of the member's current term reports (in its PING), or the
 * member's own commit index when it is the leader. A member of a brand-new cluster (it
 * bootstrapped, or would bootstrap now: cairn_raft_start_decide without the wait) has nothing to
 * catch up, also before raft starts, so a new cluster is not held for raft.bootstrap_wait_ms.
 * Without a leader (a full-cluster restart before
 * a majority is up) this never says caught up: the Distro load bounds that wait with
 * raft.ready_timeout_ms (distro_load.h). Once caught up, always caught up. Pure. */
typedef struct cairn_raft_catchup {
    bool have_target;
    uint64_t target;
    bool done;
} cairn_raft_catchup;

typedef struct cairn_raft_catchup_input {
    bool started;          /* raft runs */
    bool brand_new;        /* it bootstrapped a brand-new cluster in this run, or would now */
    bool self_leader;
    uint64_t self_commit;
    bool leader_reported;  /* the leader (of self's term) reported its commit index in a PING */
    uint64_t leader_commit;
    uint64_t applied;      /* raft's last applied entry */
    bool registry_idle;    /* every batch applied so far has been answered by the registry */
} cairn_raft_catchup_input;

/* Updates c from in; whether this member has caught up. */
bool cairn_raft_catchup_step(cairn_raft_catchup *c, const cairn_raft_catchup_input *in);

#endif
