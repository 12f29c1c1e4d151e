/* GET /nacos/v1/console/cairn/roles: the node's role processes with their health and key
 * metrics (what `cairn status` prints), for the console's node view. Each role is asked on its
 * admin listener (cairn_role_probe.h); the whole answer is bounded by ROLES_BUDGET_MS, so a
 * gateway worker never waits long on a role that hangs. */
#include <stdlib.h>
#include <stdio.h>

#include "cairn_node_roles.h"
#include "cairn_role_probe.h"
#include "gateway_handlers.h"
#include "gateway_members.h"
#include "gateway_reply.h"

#define ROLE_TIMEOUT_MS 400  /* one role: /health and /metrics together */
#define ROLES_BUDGET_MS 1500 /* every role */

static json_t *metrics_json(const cairn_role_report *r)
{
    json_t *m = json_object();
    for (size_t i = 0; m && i < r->metric_count; i++)
        json_object_set_new(m, r->metrics[i].label, json_real(r->metrics[i].value));
    return m;
}

static json_t *role_json(const char *name, const cairn_role_report *r)
{
    return json_pack("{s:s, s:s, s:b, s:s, s:s, s:o}", "name", name, "state", r->state, "healthy",
                     r->healthy, "address", r->address, "detail", r->detail, "metrics",
                     metrics_json(r));
}

/* A role left unasked because the budget was spent. */
static void skipped(cairn_role_report *r)
{
    *r = (cairn_role_report){.state = "unknown"};
    snprintf(r->detail, sizeof r->detail, "not asked: the %d ms budget was spent",
             ROLES_BUDGET_MS);
}

static json_t *roles_json(gateway *gw, const cairn_node_role_instance *procs, size_t count)
{
    json_t *roles = json_array();
    int64_t deadline = gateway_now_ms() + ROLES_BUDGET_MS;
    for (size_t i = 0; roles && i < count; i++) {
        cairn_role_report r;
        int64_t left = deadline - gateway_now_ms();
        if (left <= 0)
            skipped(&r);
        else
            cairn_role_probe(gw->role->run_dir, &procs[i],
                             left < ROLE_TIMEOUT_MS ? (int)left : ROLE_TIMEOUT_MS, &r);
        if (json_array_append_new(roles, role_json(procs[i].name, &r)) != 0) {
            json_decref(roles);
            roles = NULL;
        }
    }
    return roles;
}

/* The cluster part: standalone, or each member as "<id> <STATE>" from the replicator's view. */
static json_t *cluster_json(gateway *gw)
{
    if (!gw->members)
        return json_pack("{s:s, s:[]}", "mode", "standalone", "members");
    json_t *members = json_array();
    cairn_membership view;
    if (gateway_members_view(gw->members, &view)) {
        for (uint32_t i = 0; i < view.member_count; i++) {
            char line[CAIRN_CLUSTER_ID_MAX + 32];
            snprintf(line, sizeof line, "%s %s", view.members[i].id,
                     cairn_member_state_name(view.members[i].state));
            json_array_append_new(members, json_string(line));
        }
        cairn_membership_free(&view);
    }
    return json_pack("{s:s, s:o}", "mode", "cluster", "members", members);
}

void gateway_console_roles(gateway *gw, gateway_request *req, gateway_response *resp)
{
    size_t count = 0;
    cairn_node_role_instance *procs = cairn_node_role_instances(gw->role->config, &count);
    if (!procs) {
        gateway_reply_text(resp, 500, "caused: out of memory;");
        return;
    }
    json_t *roles = roles_json(gw, procs, count);
    free(procs);
    gateway_reply_json(resp, json_pack("{s:o, s:o}", "cluster", cluster_json(gw), "roles", roles));
}
