/* In a cluster, the healthcheck checks only the services this node owns (cluster-design §2.6):
 * it follows the replicator's MEMBERSHIP (cairn_members_follow.h, as the gateway does) and hands
 * each owner list and self's identity to healthcheck_set_members, which the sweep and the probes
 * consult per service. Instances a non-owner holds by Distro replication get no beats there, so
 * without this every other node would expire them. Services that become this node's in a new
 * view get a full grace period first (healthcheck_grace.h). Standalone (no cluster.members):
 * nothing runs, every service is checked.
 * It also opens the healthcheck's client of the replicator (hc->raft): an owner's probes flip a
 * persistent instance's health through the raft log, so every node sees the flip (Nacos 1.4.8:
 * the responsible node decides, the cluster follows). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_cluster_config.h"
#include "cairn_endpoints.h"
#include "cairn_log.h"
#include "cairn_members_follow.h"
#include "healthcheck.h"
#include "healthcheck_grace.h"
#include "healthcheck_responsibility.h"

/* The replicator answers within raft.submit_timeout_ms; this bounds one that is gone. */
#define RAFT_SLACK_MS 2000

struct hc_members {
    cairn_members_follower *follower;
    healthcheck *hc;
    cairn_counter *grace_resets;
    /* follower thread only: */
    uint64_t view;     /* the view_version last applied */
    char **owners;     /* the owner list last applied, for the grace period */
    size_t owner_count;
    bool had_view;
};

static void free_owners(hc_members *m)
{
    for (size_t i = 0; i < m->owner_count; i++)
        free(m->owners[i]);
    free(m->owners);
    m->owners = NULL;
    m->owner_count = 0;
}

static void keep_owners(hc_members *m, const cairn_membership *ms)
{
    free_owners(m);
    m->owners = ms->owner_count ? calloc(ms->owner_count, sizeof *m->owners) : NULL;
    for (size_t i = 0; m->owners && i < ms->owner_count; i++)
        if ((m->owners[m->owner_count] = strdup(ms->owners[i])))
            m->owner_count++;
    m->had_view = true;
}

/* Services this node owns in the new view and did not in the last one get a full grace period
 * (healthcheck_grace.h), before the sweep may look at them under the new list. */
static void grace(hc_members *m, const cairn_membership *ms)
{
    long n = hc_grace_newly_owned(&m->hc->table,
                                  m->had_view ? (const char *const *)m->owners : NULL,
                                  m->owner_count, (const char *const *)ms->owners,
                                  ms->owner_count, ms->self, hc_now_ms());
    if (n > 0)
        log_info("a full grace period for %ld instances of services now owned here", n);
    if (n > 0 && m->grace_resets)
        cairn_counter_add(m->grace_resets, (uint64_t)n);
    keep_owners(m, ms);
}

/* Applies one MEMBERSHIP: the grace period, then its owner list and self (follower thread). */
static void apply(void *arg, const cairn_membership *ms, const char *buf, size_t len)
{
    (void)buf, (void)len;
    hc_members *m = arg;
    if (ms->view_version == m->view && m->view != 0)
        return;
    grace(m, ms);
    if (healthcheck_set_members((const char **)ms->owners, ms->owner_count, ms->self) == 0) {
        m->view = ms->view_version;
        log_info("checking the services owned by %s among %u owners (view %llu)", ms->self,
                 ms->owner_count, (unsigned long long)ms->view_version);
    }
}

cairn_err hc_members_start(healthcheck *hc, cairn_status *st)
{
    cairn_cluster_config cfg;
    if (cairn_cluster_config_load(hc->role->config, &cfg, st) != CAIRN_OK)
        return st->code;
    if (cfg.count == 0)
        return CAIRN_OK; /* standalone */
    hc_members *m = calloc(1, sizeof *m);
    if (!m)
        return cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    hc->members = m;
    m->hc = hc;
    m->grace_resets = cairn_metrics_counter(
        hc->role->metrics, "grace_resets_total",
        "Instances given a full grace period because this node became their service's owner.",
        NULL);
    char url[PATH_MAX + 64];
    if (cairn_endpoint_url(hc->role->run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url))
        return cairn_fail(st, CAIRN_E_INVALID,
                          "node.run_dir is too long for an ipc socket path: %s", hc->role->run_dir);
    int timeout = (int)cairn_config_int(hc->role->config, "raft.submit_timeout_ms") + RAFT_SLACK_MS;
    if (!(hc->raft = cairn_rpc_client_open(url, "replicator", timeout, st)))
        return st->code;
    /* in a cluster nothing is swept before the first view says this node owns it */
    const char *nobody = "";
    healthcheck_set_members(&nobody, 1, cfg.members[cfg.self].id);
    m->follower = cairn_members_follow_start(hc->role->run_dir, apply, m, st);
    return m->follower ? CAIRN_OK : st->code;
}

void hc_members_stop(healthcheck *hc)
{
    hc_members *m = hc->members;
    if (!m)
        return;
    cairn_members_follow_stop(m->follower);
    cairn_rpc_client_close(hc->raft);
    hc->raft = NULL;
    free_owners(m);
    free(m);
    hc->members = NULL;
}
