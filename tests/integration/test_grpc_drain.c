/* A stopping cairn-grpc drains: it stops listening, sends every client a ConnectResetRequest on
 * its bi-stream (so Java, Go and Python clients move to another server while this one still
 * answers), serves the connections that remain, and stops as soon as they have closed, or closes
 * them when grpc.shutdown_drain_ms has passed. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_grpc_client.h"
#include "cairn_harness.h"
#include "cairn_nacos.h"

TestSuite(grpc_drain, .fini = it_teardown, .timeout = 240);

#define WAIT_MS 10000

static void grpc_addr(const it_node *n, char *addr, size_t len)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/grpc.addr", n->run_dir);
    cr_assert(it_read_addr_file(path, addr, len), "no %s", path);
}

static void register_one(it_grpc *g, const char *svc, int port)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"127.0.0.1\",\"port\":%d,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true}",
             port);
    it_grpc_reply r;
    grpc_call(g, "InstanceRequest", grpc_naming_body("public", svc, extra), &r, WAIT_MS);
    cr_assert_str_eq(r.type ? r.type : "", "InstanceResponse", "%s", r.json ? r.json : "");
    grpc_reply_free(&r);
}

/* SIGTERM to the node's cairn-grpc (`cairn run` restarts it afterwards); its pid. */
static pid_t stop_role(const it_node *n)
{
    pid_t pid = node_role_pid(n, "cairn-grpc");
    cr_assert(pid > 0);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    return pid;
}

/* The ConnectResetRequest on g's bi-stream: a server request naming no server. */
static void expect_reset(it_grpc *g)
{
    char *text = NULL;
    cr_assert(grpc_bidi_next(g, "ConnectResetRequest", &text, WAIT_MS),
              "a ConnectResetRequest when the role stops");
    json_t *j = json_parse_or_fail(text);
    free(text);
    cr_expect(jget(j, "requestId") && json_is_object(jget(j, "headers")));
    cr_expect_str_eq(jstr(j, "module"), "internal");
    cr_expect_null(jget(j, "serverIp"), "no server named: the client picks the next of its list");
    json_decref(j);
}

IT_TEST(grpc_drain, clients_are_asked_to_move_and_the_role_stops_once_they_have)
{
    it_node_opts o = {.sets = ARGS("grpc.shutdown_drain_ms=30000")};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *g = grpc_open_setup(addr);
    register_one(g, "drained", 1);

    pid_t old = stop_role(n);
    expect_reset(g);
    /* draining: no new connections, the old one still served */
    it_grpc *late = grpc_open(addr);
    bool refused = !late || (grpc_pump(late, 200), !grpc_alive(late));
    grpc_close(late);
    cr_expect(refused, "a draining role accepts no connection");
    it_grpc_reply r;
    grpc_call(g, "HealthCheckRequest", "{}", &r, WAIT_MS);
    cr_expect_str_eq(r.type ? r.type : "", "HealthCheckResponse", "still served while draining");
    grpc_reply_free(&r);

    /* the client moves away: the role stops at once, not after the 30 s drain */
    int64_t t0 = it_now_ms();
    grpc_close(g);
    if (node_wait_role_restart(n, "cairn-grpc", old, 20000) <= 0) {
        char *tail = it_log_tail(n->run->log_path, 4000);
        cr_assert_fail("the role did not stop and start again within 20 s; log tail:\n%s",
                       tail ? tail : "");
    }
    cr_expect_lt(it_now_ms() - t0, 20000);
    cr_assert(node_wait_admin_ready(n, "grpc", 20000), "the next incarnation is ready");
    json_t *list = nacos_list(n, Q("serviceName", "drained"));
    cr_expect_eq(list_host_count(list), 0, "the moved client's instance is gone from this node");
    json_decref(list);
}

IT_TEST(grpc_drain, clients_that_stay_are_closed_when_the_drain_ends)
{
    it_node_opts o = {.sets = ARGS("grpc.shutdown_drain_ms=500")};
    it_node *n = node_start(&o);
    char addr[64];
    grpc_addr(n, addr, sizeof addr);
    it_grpc *g = grpc_open_setup(addr); /* it ignores the reset, as the Rust client does */
    pid_t old = stop_role(n);
    expect_reset(g);
    int64_t until = it_now_ms() + WAIT_MS;
    while (grpc_alive(g) && it_now_ms() < until)
        grpc_pump(g, 50);
    cr_expect_not(grpc_alive(g), "closed once grpc.shutdown_drain_ms passed");
    grpc_close(g);
    cr_assert(node_wait_role_restart(n, "cairn-grpc", old, 20000) > 0, "the role stopped");
}
