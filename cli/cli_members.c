/* `cairn status` in a cluster: the members table, as the node's replicator sees it
 * (MEMBERS_GET over replicator.sock): the same states and addresses as operator/servers. */
#include <stdio.h>
#include <stdlib.h>

#include "cairn_endpoints.h"
#include "cairn_msg.h"
#include "cairn_rpc.h"
#include "cli.h"

bool cli_print_members(const char *run_dir, int timeout_ms)
{
    char url[512];
    cairn_status st;
    if (cairn_endpoint_url(run_dir, CAIRN_EP_REPLICATOR_COMMANDS, url, sizeof url) != 0)
        return false;
    cairn_rpc_client *c = cairn_rpc_client_open(url, "replicator", timeout_ms, &st);
    if (!c)
        return false;
    cairn_request rq;
    cairn_request_members_get(&rq);
    cairn_reply rep;
    cairn_err rc = cairn_rpc_call(c, &rq, &rep, &st);
    cairn_membership m;
    bool ok = rc == CAIRN_OK && rep.code == CAIRN_OK && rep.membership_msg &&
              cairn_membership_decode(rep.membership_msg, rep.membership_len, &m, &st) ==
                  CAIRN_OK;
    cairn_reply_free(&rep);
    cairn_rpc_client_close(c);
    printf("\n");
    if (!ok) {
        printf("members: the replicator does not answer (%s)\n",
               st.message[0] ? st.message : "no view");
        return false;
    }
    printf("view %llu, %u owners\n", (unsigned long long)m.view_version, m.owner_count);
    printf("%-22s %-10s %-5s %-22s %-22s %-9s %-6s %-20s %s\n", "MEMBER", "STATE", "FAILS",
           "PEER", "RAFT", "RAFT_ROLE", "TERM", "RAFT_ID", "NOTE");
    bool all_up = true;
    for (uint32_t i = 0; i < m.member_count; i++) {
        const cairn_member_info *x = &m.members[i];
        all_up = all_up && x->state == CAIRN_MEMBER_UP;
        printf("%-22s %-10s %-5u %-22s %-22s %-9s %-6llu %-20llu %s%s\n", x->id,
               cairn_member_state_name(x->state), x->fail_count, x->peer_address,
               x->raft_address, x->raft_role, (unsigned long long)x->raft_term,
               (unsigned long long)x->raft_id, x->self ? "self" : "",
               x->members_match ? "" : " members differ");
    }
    cairn_membership_free(&m);
    return all_up;
}
