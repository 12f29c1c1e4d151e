/* The membership state machine (rules in replicator_members.h). */
#include "replicator_members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_ids.h"

void repl_members_init(repl_members *ms, const cairn_cluster_config *cfg)
{
    memset(ms, 0, sizeof *ms);
    ms->count = cfg->count;
    ms->self = cfg->self;
    ms->fail_count = cfg->fail_count;
    ms->up_pings = cfg->up_pings;
    ms->members_hash = cfg->members_hash;
    ms->self_phase = CAIRN_PHASE_STARTING;
    ms->view_version = 1;
    for (size_t i = 0; i < cfg->count; i++) {
        repl_member *m = &ms->m[i];
        const cairn_cluster_member *c = &cfg->members[i];
        snprintf(m->id, sizeof m->id, "%s", c->id);
        m->self = i == cfg->self;
        m->state = m->self ? CAIRN_MEMBER_STARTING : CAIRN_MEMBER_DOWN;
        m->members_match = m->self;
        m->phase = CAIRN_PHASE_STARTING;
        strcpy(m->raft.role, "none");
        cairn_cluster_default_addresses(c, m->peer_address, m->raft_address,
                                        sizeof m->peer_address);
    }
}

static int id_order(const void *a, const void *b, void *ctx)
{
    const repl_members *ms = ctx;
    return strcmp(ms->m[*(const size_t *)a].id, ms->m[*(const size_t *)b].id);
}

/* Recomputes the owner list; REPL_CHANGED_OWNERS (and a new view) when it differs. */
static int recompute_owners(repl_members *ms)
{
    size_t owners[CAIRN_CLUSTER_MAX_MEMBERS], n = 0;
    for (size_t i = 0; i < ms->count; i++) {
        const repl_member *m = &ms->m[i];
        if (m->self ? ms->self_phase == CAIRN_PHASE_READY : m->in_owners)
            owners[n++] = i;
    }
    qsort_r(owners, n, sizeof owners[0], id_order, ms);
    if (n == ms->owner_count && memcmp(owners, ms->owners, n * sizeof owners[0]) == 0)
        return 0;
    memcpy(ms->owners, owners, n * sizeof owners[0]);
    ms->owner_count = n;
    ms->view_version++;
    ms->view_changes++;
    const char *ids[CAIRN_CLUSTER_MAX_MEMBERS];
    for (size_t k = 0; k < n; k++)
        ids[k] = ms->m[owners[k]].id;
    ms->view_hash = cairn_cluster_ids_hash(ids, n);
    return REPL_CHANGED_OWNERS;
}

/* Sets m's state; returns REPL_CHANGED_STATE when it changed, plus any owner-list change. */
static int settle(repl_members *ms, repl_member *m, cairn_member_state state)
{
    int changed = m->state != state ? REPL_CHANGED_STATE : 0;
    m->state = state;
    if (state == CAIRN_MEMBER_DOWN || state == CAIRN_MEMBER_STARTING)
        m->in_owners = false;
    return changed | recompute_owners(ms);
}

int repl_members_set_self_phase(repl_members *ms, cairn_peer_phase phase)
{
    repl_member *self = &ms->m[ms->self];
    int changed = ms->self_phase != phase ? REPL_CHANGED_STATE : 0;
    ms->self_phase = phase;
    self->phase = phase;
    cairn_member_state st = phase == CAIRN_PHASE_READY      ? CAIRN_MEMBER_UP
                            : phase == CAIRN_PHASE_STOPPING ? CAIRN_MEMBER_DOWN
                                                            : CAIRN_MEMBER_STARTING;
    return changed | settle(ms, self, st);
}

void repl_members_set_self_addresses(repl_members *ms, const char *peer, const char *raft)
{
    repl_member *self = &ms->m[ms->self];
    snprintf(self->peer_address, sizeof self->peer_address, "%s", peer);
    snprintf(self->raft_address, sizeof self->raft_address, "%s", raft);
}

void repl_members_set_self_raft(repl_members *ms, const cairn_raft_status *raft)
{
    ms->m[ms->self].raft = *raft;
}

/* What any message from a peer tells: phase, addresses, hash, raft. */
static void learn(repl_members *ms, repl_member *m, const cairn_peer_ping *p,
                  uint64_t incarnation, int64_t wall_ms)
{
    m->heard = true;
    m->phase = p->phase;
    m->incarnation = incarnation;
    m->members_match = p->members_hash == ms->members_hash;
    m->last_refresh_wall_ms = wall_ms;
    if (p->peer_address[0])
        snprintf(m->peer_address, sizeof m->peer_address, "%s", p->peer_address);
    if (p->raft_address[0])
        snprintf(m->raft_address, sizeof m->raft_address, "%s", p->raft_address);
    m->raft = p->raft;
    m->view_hash = p->view_hash;
}

int repl_members_answer(repl_members *ms, size_t idx, const cairn_peer_ping *pong,
                        uint64_t incarnation, double rtt_s, int64_t now_ms, int64_t wall_ms)
{
    repl_member *m = &ms->m[idx];
    if (idx >= ms->count || m->self)
        return 0;
    learn(ms, m, pong, incarnation, wall_ms);
    m->misses = 0;
    m->last_answer_ms = now_ms;
    m->rtt_s = rtt_s;
    if (pong->phase == CAIRN_PHASE_STOPPING) {
        m->ready_streak = 0;
        return settle(ms, m, CAIRN_MEMBER_DOWN);
    }
    if (pong->phase != CAIRN_PHASE_READY) {
        m->ready_streak = 0;
        return settle(ms, m, CAIRN_MEMBER_STARTING);
    }
    m->ready_streak++;
    if (m->in_owners || m->ready_streak >= ms->up_pings) {
        m->in_owners = true;
        return settle(ms, m, CAIRN_MEMBER_UP);
    }
    return settle(ms, m, CAIRN_MEMBER_STARTING);
}

int repl_members_miss(repl_members *ms, size_t idx, bool refused, int64_t now_ms)
{
    (void)now_ms;
    repl_member *m = &ms->m[idx];
    if (idx >= ms->count || m->self)
        return 0;
    m->ready_streak = 0;
    if (m->misses < ms->fail_count)
        m->misses++;
    if (refused || m->misses >= ms->fail_count)
        return settle(ms, m, CAIRN_MEMBER_DOWN);
    if (m->in_owners)
        return settle(ms, m, CAIRN_MEMBER_SUSPICIOUS);
    return 0;
}

int repl_members_heard_ping(repl_members *ms, size_t idx, const cairn_peer_ping *ping,
                            uint64_t incarnation, int64_t wall_ms)
{
    repl_member *m = &ms->m[idx];
    if (idx >= ms->count || m->self)
        return 0;
    learn(ms, m, ping, incarnation, wall_ms);
    if (ping->phase == CAIRN_PHASE_STOPPING) {
        m->ready_streak = 0;
        return settle(ms, m, CAIRN_MEMBER_DOWN);
    }
    if (ping->phase == CAIRN_PHASE_STARTING && m->state != CAIRN_MEMBER_DOWN) {
        m->ready_streak = 0; /* it restarted: it must be READY up_pings times again */
        return settle(ms, m, CAIRN_MEMBER_STARTING);
    }
    return 0;
}

int repl_members_find(const repl_members *ms, const char *id)
{
    for (size_t i = 0; i < ms->count; i++)
        if (strcmp(ms->m[i].id, id) == 0)
            return (int)i;
    return -1;
}

void repl_members_view(const repl_members *ms, int64_t wall_ms, cairn_membership *out)
{
    memset(out, 0, sizeof *out);
    const repl_member *self = &ms->m[ms->self];
    out->view_version = ms->view_version;
    out->self = (char *)self->id;
    out->self_ready = ms->self_phase == CAIRN_PHASE_READY;
    out->owners = calloc(ms->owner_count ? ms->owner_count : 1, sizeof *out->owners);
    out->members = calloc(ms->count ? ms->count : 1, sizeof *out->members);
    if (!out->owners || !out->members) {
        repl_members_view_release(out);
        return;
    }
    for (size_t k = 0; k < ms->owner_count; k++)
        out->owners[k] = (char *)ms->m[ms->owners[k]].id;
    out->owner_count = (uint32_t)ms->owner_count;
    for (size_t i = 0; i < ms->count; i++) {
        const repl_member *m = &ms->m[i];
        cairn_member_info *x = &out->members[i];
        x->id = (char *)m->id;
        x->state = m->state;
        x->self = m->self;
        x->ready = m->phase == CAIRN_PHASE_READY;
        x->members_match = m->members_match;
        x->fail_count = (uint32_t)m->misses;
        x->peer_address = (char *)m->peer_address;
        x->raft_address = (char *)m->raft_address;
        x->last_refresh_ms = m->self ? wall_ms : m->last_refresh_wall_ms;
        x->raft_role = (char *)m->raft.role;
        x->raft_term = m->raft.term;
        x->raft_leader = (char *)m->raft.leader;
        x->raft_applied = m->raft.applied;
        x->raft_id = cairn_raft_id(m->id);
        x->view_hash = m->self ? ms->view_hash : m->view_hash;
    }
    out->member_count = (uint32_t)ms->count;
}

void repl_members_view_release(cairn_membership *out)
{
    free(out->owners);
    free(out->members);
    memset(out, 0, sizeof *out);
}
