/* kill -9 of a role and the wait for its restart (see cairn_harness_kill.h). */
#include "cairn_harness_kill.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cairn_http.h"

const it_role it_node_roles[] = {
    {"cairn-gateway", "gateway"},
    {"cairn-registry", "registry"},
    {"cairn-healthcheck", "healthcheck"},
    {"cairn-pusher", "pusher-0"},
    {"cairn-grpc", "grpc"},
};
const size_t it_node_role_count = sizeof it_node_roles / sizeof it_node_roles[0];

/* The state of one readiness wait, and what the role said last (for the failure message). */
typedef struct ready_probe {
    const it_node *n;
    const char *admin;
    char addr[64];
    long status;
    char body[160];
} ready_probe;

static bool admin_ready(void *arg)
{
    ready_probe *p = arg;
    if (!node_admin_addr(p->n, p->admin, p->addr, sizeof p->addr)) {
        p->status = -1;
        snprintf(p->body, sizeof p->body, "no address file");
        return false;
    }
    http_resp r = http_get_addr(p->addr, "/ready", 1000);
    p->status = r.status;
    snprintf(p->body, sizeof p->body, "%.150s", r.status ? r.body : r.error);
    http_resp_free(&r);
    return p->status == 200;
}

/* Polls the admin /ready of the process admin until 200 or deadline; on failure a reason. */
static bool wait_admin_ready(const it_node *n, const char *admin, int64_t deadline, char *why,
                             size_t why_len)
{
    ready_probe p = {.n = n, .admin = admin};
    int64_t left = deadline - it_now_ms();
    if (wait_until(admin_ready, &p, left > 0 ? (int)left : 0))
        return true;
    snprintf(why, why_len, "%s /ready (address \"%s\") last answered %ld \"%s\"", admin, p.addr,
             p.status, p.body);
    return false;
}

bool node_wait_ready(it_node *n, int timeout_ms)
{
    char why[256];
    bool ok = wait_admin_ready(n, "gateway", it_now_ms() + timeout_ms, why, sizeof why);
    node_refresh_addrs(n);
    return ok;
}

/* What every role's /ready answers now, appended to buf (for a failure message). */
static void append_roles_ready(const it_node *n, char *buf, size_t len)
{
    for (size_t i = 0; i < it_node_role_count; i++) {
        ready_probe p = {.n = n, .admin = it_node_roles[i].admin};
        admin_ready(&p);
        p.body[strcspn(p.body, "\n")] = '\0';
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s %s %ld \"%s\"", i ? ";" : "; now:", p.admin, p.status,
                 p.body);
    }
}

bool node_kill9_role(it_node *n, const it_role *role, int timeout_ms, it_kill_result *out)
{
    memset(out, 0, sizeof *out);
    int64_t t0 = it_now_ms(), deadline = t0 + timeout_ms;
    out->old_pid = node_role_pid(n, role->binary);
    if (out->old_pid <= 0) {
        snprintf(out->why, sizeof out->why, "no running %s to kill", role->binary);
        return false;
    }
    if (kill(out->old_pid, SIGKILL) != 0) {
        snprintf(out->why, sizeof out->why, "kill -9 %s (pid %d): %s", role->binary,
                 (int)out->old_pid, strerror(errno));
        return false;
    }
    out->new_pid = node_wait_role_restart(n, role->binary, out->old_pid, timeout_ms);
    out->restart_ms = it_now_ms() - t0;
    if (out->new_pid <= 0) {
        snprintf(out->why, sizeof out->why, "%s (pid %d) not restarted within %d ms",
                 role->binary, (int)out->old_pid, timeout_ms);
        return false;
    }
    char why[400];
    if (!wait_admin_ready(n, role->admin, deadline, why, sizeof why) ||
        !wait_admin_ready(n, "gateway", deadline, why, sizeof why)) {
        snprintf(out->why, sizeof out->why,
                 "%s restarted (pid %d -> %d) but not ready within %d ms of the kill: %s",
                 role->binary, (int)out->old_pid, (int)out->new_pid, timeout_ms, why);
        append_roles_ready(n, out->why, sizeof out->why);
        return false;
    }
    out->ready_ms = it_now_ms() - t0;
    node_refresh_addrs(n);
    return true;
}
