/* The `cairn` command's building blocks: option parsing, the notify protocol parser, the status
 * HTTP client's errors (reading Prometheus text: test_prom_text.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "cairn_http_get.h"
#include "cli_notify.h"
#include "cli_options.h"
#include "cairn_node_roles.h"

Test(cli, options_in_order_with_data_dir_last)
{
    char *argv[] = {"run",          "--set",      "gateway.threads=2", "--data-dir", "rel/dir",
                    "--config=/c",  "--set=log.level=debug", NULL};
    cli_options o;
    cr_assert_eq(cli_options_parse(&o, "run", 7, argv), 0);
    cr_assert_str_eq(o.config_file, "/c");
    cr_assert_eq(o.set_count, 3);
    cr_assert_str_eq(o.sets[0], "gateway.threads=2");
    cr_assert_str_eq(o.sets[1], "log.level=debug");
    char cwd[PATH_MAX], expected[PATH_MAX + 64];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(expected, sizeof expected, "node.data_dir=%s/rel/dir", cwd);
    cr_assert_str_eq(o.sets[2], expected);
    cli_options_free(&o);
}

Test(cli, option_errors)
{
    cli_options o;
    char *missing[] = {"run", "--config", NULL};
    cr_assert_eq(cli_options_parse(&o, "run", 2, missing), CLI_EXIT_USAGE);
    cli_options_free(&o);
    char *unknown[] = {"status", "--verbose", NULL};
    cr_assert_eq(cli_options_parse(&o, "status", 2, unknown), CLI_EXIT_USAGE);
    cli_options_free(&o);
    char *empty_dir[] = {"run", "--data-dir=", NULL};
    cr_assert_eq(cli_options_parse(&o, "run", 2, empty_dir), CLI_EXIT_USAGE);
    cli_options_free(&o);
    char *help[] = {"run", "--help", NULL};
    cr_assert_eq(cli_options_parse(&o, "run", 2, help), CLI_OPTIONS_HELP);
    cli_options_free(&o);
}

Test(cli, bad_config_is_reported_by_load)
{
    char *argv[] = {"run", "--set", "gateway.listen=nope", NULL};
    cli_options o;
    cr_assert_eq(cli_options_parse(&o, "run", 3, argv), 0);
    cr_assert_null(cli_options_load(&o));
    cli_options_free(&o);
}

Test(cli, notify_parse)
{
    cli_notify_msg m = {0};
    const char text[] = "READY=1\nSTATUS=gateway ready\nMAINPID=5";
    cli_notify_parse(text, sizeof text - 1, &m);
    cr_assert(m.ready);
    cr_assert(!m.stopping);
    cr_assert(!m.watchdog);
    cr_assert_str_eq(m.status, "gateway ready");

    cli_notify_msg n = {0};
    const char text2[] = "WATCHDOG=1\nSTOPPING=1\nREADY=0\n";
    cli_notify_parse(text2, sizeof text2 - 1, &n);
    cr_assert(n.watchdog);
    cr_assert(n.stopping);
    cr_assert(!n.ready);

    cli_notify_msg z = {0};
    cli_notify_parse("READY=10", 8, &z); /* not an exact READY=1 line */
    cr_assert(!z.ready);
}

static size_t role_index(const char *name)
{
    for (size_t i = 0; i < cairn_node_role_count; i++)
        if (strcmp(cairn_node_roles[i].name, name) == 0)
            return i;
    cr_assert_fail("no role %s", name);
    return 0;
}

/* The registry first; the gateway after the roles it calls (clients reach a node whose beat and
 * push roles are up); cairn-grpc after the gateway, whose port it may derive its own from. */
Test(cli, roles_table_starts_registry_first_and_gateway_after_its_backends)
{
    cr_assert_geq(cairn_node_role_count, 2);
    cr_assert_str_eq(cairn_node_roles[0].name, "registry");
    cr_assert_str_eq(cairn_node_roles[0].binary, "cairn-registry");
    size_t gateway = role_index("gateway");
    cr_assert_gt(gateway, role_index("healthcheck"));
    cr_assert_gt(gateway, role_index("pusher"));
    cr_assert_gt(role_index("grpc"), gateway);
    cr_assert_str_eq(cairn_node_roles[cairn_node_role_count - 1].name, "grpc");
}

Test(cli, counted_roles_expand_into_indexed_processes)
{
    const char *sets[] = {"pusher.count=3"};
    cairn_status st;
    cairn_config *cfg = cairn_config_load(NULL, sets, 1, &st);
    cr_assert_not_null(cfg, "%s", st.message);
    size_t n = 0;
    cairn_node_role_instance *inst = cairn_node_role_instances(cfg, &n);
    cr_assert_not_null(inst);
    /* the pusher row becomes 3 processes; the replicator row none (no cluster.members) */
    cr_assert_eq(n, cairn_node_role_count - 2 + 3);
    size_t pushers = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(inst[i].role->name, "pusher") != 0) {
            cr_assert_str_eq(inst[i].name, inst[i].role->name);
            cr_assert_str_empty(inst[i].index_set);
            continue;
        }
        char want_name[32], want_set[48];
        snprintf(want_name, sizeof want_name, "pusher-%zu", pushers);
        snprintf(want_set, sizeof want_set, "pusher.index=%zu", pushers);
        cr_assert_str_eq(inst[i].name, want_name);
        cr_assert_str_eq(inst[i].index_set, want_set);
        pushers++;
    }
    cr_assert_eq(pushers, 3);
    free(inst);
    cairn_config_free(cfg);

    const char *none[] = {"pusher.count=0"};
    cfg = cairn_config_load(NULL, none, 1, &st);
    cr_assert_not_null(cfg, "%s", st.message);
    inst = cairn_node_role_instances(cfg, &n);
    cr_assert_eq(n, cairn_node_role_count - 2);
    free(inst);
    cairn_config_free(cfg);
}

Test(cli, replicator_runs_only_in_a_cluster)
{
    cairn_status st;
    const char *cluster[] = {"cluster.members=127.0.0.1:8848"};
    for (int with = 0; with < 2; with++) {
        cairn_config *cfg = cairn_config_load(NULL, cluster, (size_t)with, &st);
        cr_assert_not_null(cfg, "%s", st.message);
        size_t n = 0;
        cairn_node_role_instance *inst = cairn_node_role_instances(cfg, &n);
        size_t replicator = n, gateway = n;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(inst[i].name, "replicator") == 0)
                replicator = i;
            if (strcmp(inst[i].name, "gateway") == 0)
                gateway = i;
        }
        cr_assert_eq(replicator < n, with == 1);
        cr_assert_lt(gateway, n);
        /* The gateway follows the membership from its start. */
        if (with)
            cr_assert_lt(replicator, gateway, "the replicator starts after the gateway");
        free(inst);
        cairn_config_free(cfg);
    }
}

Test(cli, http_get_errors)
{
    /* A port that was just free: connection refused, reported with the address. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));
    cairn_http_response r;
    cr_assert_eq(cairn_http_get(addr, "/health", 1000, &r, err, sizeof err), -1);
    cr_assert(strstr(err, addr) && strstr(err, "refused"), "%s", err);
    cr_assert_eq(cairn_http_get("nonsense", "/", 1000, &r, err, sizeof err), -1);

    /* A listener that never answers: the timeout holds. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = 0;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));
    cr_assert_eq(cairn_http_get(addr, "/health", 300, &r, err, sizeof err), -1);
    cr_assert(strstr(err, "timed out"), "%s", err);
    close(fd);
}
