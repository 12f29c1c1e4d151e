/* GET /nacos/v1/ns/operator/servers in a cluster (api §4.4, cluster-design §2.9): every
 * configured member as a Nacos Member, from the replicator's latest MEMBERSHIP. Until one has
 * arrived, self is STARTING and the peers DOWN, with their default addresses. ?healthy=true keeps
 * the UP members only. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_model.h"
#include "gateway.h"
#include "gateway_handlers.h"
#include "gateway_members.h"
#include "gateway_reply.h"

/* The port of "host:port" as text ("" when none). */
static void port_of(const char *address, char *out, size_t len)
{
    const char *colon = strrchr(address, ':');
    snprintf(out, len, "%s", colon ? colon + 1 : "");
}

/* Nacos' raftMetaData (JRaftProtocol.injectProtocolMetaData: a ProtocolMetaData whose
 * metaDataMap holds, per raft group, the leader's and the members' raft addresses and the
 * term). Cairn has one raft group, the persistent naming data: Nacos 2.x calls it
 * naming_persistent_service_v2. Like Nacos, an unknown leader leaves "leader" out. */
static json_t *raft_meta_data(const cairn_member_info *x, const cairn_membership *view)
{
    json_t *group = json_object(), *peers = json_array();
    for (uint32_t k = 0; k < view->member_count; k++) {
        const cairn_member_info *m = &view->members[k];
        json_array_append_new(peers, json_string(m->raft_address));
        if (x->raft_leader[0] && strcmp(m->id, x->raft_leader) == 0)
            json_object_set_new(group, "leader", json_string(m->raft_address));
    }
    json_object_set_new(group, "raftGroupMember", peers);
    json_object_set_new(group, "term", json_integer((json_int_t)x->raft_term));
    return json_pack("{s:{s:o}}", "metaDataMap", "naming_persistent_service_v2", group);
}

static json_t *member_json(const cairn_cluster_member *c, const cairn_member_info *x,
                           const cairn_membership *view)
{
    char raft_port[8], raft_id[24] = "";
    port_of(x->raft_address, raft_port, sizeof raft_port);
    if (x->raft_id) /* a string: 64-bit ids do not survive JSON numbers in every client */
        snprintf(raft_id, sizeof raft_id, "%llu", (unsigned long long)x->raft_id);
    json_t *ext = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:b, s:I, s:b, s:I, s:s, s:s, s:s, s:s, s:o}",
        "raftPort", raft_port, "raftId", raft_id, "peerAddress", x->peer_address, "raftAddress",
        x->raft_address, "raftRole", x->raft_role, "raftTerm", (json_int_t)x->raft_term,
        "raftLeader", x->raft_leader[0] ? x->raft_leader : "none", "raftApplied",
        (json_int_t)x->raft_applied, "distroReady", x->ready, "viewVersion",
        (json_int_t)view->view_version, "membersMatch", x->members_match, "lastRefreshTime",
        (json_int_t)x->last_refresh_ms, "version", CAIRN_VERSION, "site", "unknow", "adWeight",
        "0", "weight", "1", "raftMetaData", raft_meta_data(x, view));
    return json_pack("{s:s, s:i, s:s, s:o, s:s, s:i}", "ip", c->host, "port", (int)c->port,
                     "state", cairn_member_state_name(x->state), "extendInfo", ext, "address",
                     c->id, "failAccessCnt", (int)x->fail_count);
}

/* A member missing from the view (none yet): self STARTING, a peer DOWN, default addresses. */
static void placeholder(const cairn_cluster_config *cfg, size_t i, cairn_member_info *x,
                        char *peer, char *raft, size_t len)
{
    const cairn_cluster_member *c = &cfg->members[i];
    cairn_cluster_default_addresses(c, peer, raft, len);
    *x = (cairn_member_info){.id = (char *)c->id,
                             .state = i == cfg->self ? CAIRN_MEMBER_STARTING : CAIRN_MEMBER_DOWN,
                             .self = i == cfg->self,
                             .peer_address = peer,
                             .raft_address = raft,
                             .raft_role = "none",
                             .raft_leader = ""};
}

void gateway_cluster_servers(gateway *gw, gateway_request *req, gateway_response *resp)
{
    const cairn_cluster_config *cfg = gateway_members_config(gw->members);
    bool healthy_only = cairn_parse_bool_strict(gateway_params_get(req->params, "healthy"));
    cairn_membership view;
    bool have = gateway_members_view(gw->members, &view);
    json_t *servers = json_array();
    for (size_t i = 0; i < cfg->count; i++) {
        const cairn_cluster_member *c = &cfg->members[i];
        const cairn_member_info *x = NULL;
        for (uint32_t k = 0; have && k < view.member_count && !x; k++)
            if (strcmp(view.members[k].id, c->id) == 0)
                x = &view.members[k];
        cairn_member_info ph;
        char peer[CAIRN_CLUSTER_ID_MAX], raft[CAIRN_CLUSTER_ID_MAX];
        if (!x) {
            placeholder(cfg, i, &ph, peer, raft, sizeof peer);
            x = &ph;
        }
        if (healthy_only && x->state != CAIRN_MEMBER_UP)
            continue;
        json_array_append_new(servers, member_json(c, x, have ? &view : &(cairn_membership){0}));
    }
    if (have)
        cairn_membership_free(&view);
    gateway_reply_json(resp, json_pack("{s:o}", "servers", servers));
}
