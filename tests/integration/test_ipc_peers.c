/* Local peers that misbehave on a node's sockets: one that stops reading its replies, frames that
 * announce absurd sizes, sockets another local user could write to, and writes that break the
 * model's limits sent straight to the registry. After each, the node still serves everyone else
 * and no role has restarted. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn_harness.h"
#include "cairn_ipc.h"
#include "cairn_nacos.h"
#include "cairn_requests.h"

TestSuite(ipc_peers, .fini = it_teardown, .timeout = 240);

#define INSTANCE NS "/instance"

/* An instance ip:port with metadata of `pairs` keys "k<i>" (i zero-padded) and values of
 * value_len bytes. */
static cairn_instance instance_with_metadata(const char *ip, int port, int pairs, size_t value_len)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup(ip);
    in.port = port;
    in.cluster = strdup("DEFAULT");
    /* Written in place, in key order (a map of 100 000 keys built one cairn_metadata_set at a
     * time is slow under the sanitizers). */
    in.metadata.items = calloc((size_t)pairs + 1, sizeof *in.metadata.items);
    cr_assert_not_null(in.metadata.items);
    for (int i = 0; i < pairs; i++) {
        cairn_kv *kv = &in.metadata.items[i];
        kv->key = malloc(16);
        kv->value = malloc(value_len + 1);
        cr_assert(kv->key && kv->value);
        snprintf(kv->key, 16, "k%06d", i);
        memset(kv->value, 'x', value_len);
        kv->value[value_len] = '\0';
        in.metadata.len = (uint32_t)i + 1;
    }
    return in;
}

/* Sends req straight to registry.sock; returns the reply code (the message into msg). */
static cairn_err registry_write(const it_node *n, cairn_request *rq, char *msg, size_t msg_len)
{
    cairn_reply rep;
    cairn_reply_init(&rep);
    cairn_err err = registry_request(n, rq, &rep, 10000);
    cr_assert_eq(err, CAIRN_OK, "no reply from registry.sock: %s", cairn_err_name(err));
    snprintf(msg, msg_len, "%s", rep.message ? rep.message : "");
    err = rep.code;
    cairn_reply_free(&rep);
    cairn_request_free(rq);
    return err;
}

static void upsert_ok(const it_node *n, const char *svc, cairn_instance *in)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_upsert(&rq, "public", svc, in, CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK, "%s", st.message);
    char msg[256];
    cr_assert_eq(registry_write(n, &rq, msg, sizeof msg), CAIRN_OK, "upsert refused: %s", msg);
}

typedef struct roles {
    pid_t gateway, registry, healthcheck;
} roles;

static roles role_pids(const it_node *n)
{
    roles r = {node_role_pid(n, "cairn-gateway"), node_role_pid(n, "cairn-registry"),
               node_role_pid(n, "cairn-healthcheck")};
    cr_assert(r.gateway > 0 && r.registry > 0 && r.healthcheck > 0, "role pids not found");
    return r;
}

static void expect_same_roles(const it_node *n, const roles *before, const char *after)
{
    roles now = role_pids(n);
    cr_expect_eq(now.gateway, before->gateway, "after %s: the gateway restarted", after);
    cr_expect_eq(now.registry, before->registry, "after %s: the registry restarted", after);
    cr_expect_eq(now.healthcheck, before->healthcheck, "after %s: the healthcheck restarted",
                 after);
}

/* ---- a peer that stops reading ---------------------------------------------------------------- */

#define BIG_INSTANCES 48 /* with 8 KiB of metadata each: a SERVICE_GET reply of ~400 KB */
#define FLOOD_REQUESTS 81

IT_TEST(ipc_peers, a_peer_that_never_reads_its_replies_stalls_nobody_else)
{
    it_node *n = node_start(NULL);
    for (int i = 0; i < BIG_INSTANCES; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.9.0.%d", i + 1);
        cairn_instance in = instance_with_metadata(ip, 80, 1, 8000);
        upsert_ok(n, "DEFAULT_GROUP@@big", &in);
        cairn_instance_free(&in);
    }
    roles before = role_pids(n);

    /* A REQ peer asks for the big service over and over and never reads: the registry's sends
     * to it fill the socket buffers and then have nowhere to go. */
    char path[PATH_MAX];
    it_socket_path(n, CAIRN_EP_REGISTRY_COMMANDS, path, sizeof path);
    int fd = it_sp_connect(path, IT_SP_REQ, 5000);
    cr_assert_geq(fd, 0);
    cairn_request get;
    cairn_status st;
    cr_assert_eq(cairn_request_service_get(&get, "public", "DEFAULT_GROUP@@big", &st), CAIRN_OK);
    int sent = 0;
    for (uint32_t i = 0; i < FLOOD_REQUESTS; i++)
        sent += it_sp_send_request(fd, i + 1, &get, 5000);
    cairn_request_free(&get);
    cr_expect_eq(sent, FLOOD_REQUESTS, "the registry stopped taking requests from the peer");

    /* Everyone else is still answered: reads on a service the list cache has not seen, writes,
     * and direct calls from another peer. */
    for (int i = 0; i < 10; i++) {
        char svc[32], ip[32];
        snprintf(svc, sizeof svc, "other-%d", i);
        snprintf(ip, sizeof ip, "127.9.1.%d", i + 1);
        int64_t t0 = it_now_ms();
        http_resp r = nacos_call(n, "POST", INSTANCE, Q("serviceName", svc, "ip", ip, "port", "1"),
                                 NULL, NULL);
        cr_expect_eq(r.status, 200, "register %d while a peer stalls: %ld \"%s\" after %lld ms", i,
                     r.status, r.body, (long long)(it_now_ms() - t0));
        http_resp_free(&r);
        r = nacos_call(n, "GET", INSTANCE "/list", Q("serviceName", svc), NULL, NULL);
        cr_expect_eq(r.status, 200, "list %d while a peer stalls: %ld \"%s\"", i, r.status,
                     r.body);
        http_resp_free(&r);
    }
    cairn_request stats;
    cr_assert_eq(cairn_request_stats(&stats, &st), CAIRN_OK);
    cairn_reply rep;
    cairn_reply_init(&rep);
    cr_expect_eq(registry_request(n, &stats, &rep, 5000), CAIRN_OK);
    cr_expect_eq(rep.code, CAIRN_OK);
    cairn_reply_free(&rep);
    cairn_request_free(&stats);
    /* What the peer could not take was dropped and counted. */
    cr_expect_gt(node_metric(n, "registry", "cairn_registry_rpc_replies_dropped_total", NULL), 0);
    close(fd);
    expect_same_roles(n, &before, "a peer that never reads");
    node_stop(n);
}

/* ---- frames that announce absurd sizes ----------------------------------------------------------- */

static const struct listener {
    cairn_endpoint ep;
    uint16_t peer; /* the protocol that may connect to it */
} listeners[] = {
    {CAIRN_EP_REGISTRY_COMMANDS, IT_SP_REQ},     {CAIRN_EP_REGISTRY_EVENTS, IT_SP_SUB},
    {CAIRN_EP_HEALTHCHECK_COMMANDS, IT_SP_REQ},  {CAIRN_EP_GATEWAY_SUBSCRIPTIONS, IT_SP_SUB},
    {CAIRN_EP_GATEWAY_COMMANDS, IT_SP_REQ},
};

IT_TEST(ipc_peers, frames_over_the_size_limit_close_the_connection_and_nothing_else)
{
    it_node *n = node_start(NULL);
    nacos_write_ok(n, "POST", INSTANCE, Q("serviceName", "keep", "ip", "127.9.2.1", "port", "1"));
    roles before = role_pids(n);
    /* 2^63 cannot be allocated at all; 64 MiB can, and would be, then wait for its body. */
    static const uint64_t sizes[] = {(uint64_t)1 << 63, (uint64_t)64 << 20};
    for (size_t i = 0; i < sizeof listeners / sizeof listeners[0]; i++) {
        for (size_t k = 0; k < 2; k++) {
            char path[PATH_MAX];
            it_socket_path(n, listeners[i].ep, path, sizeof path);
            const char *file = cairn_endpoint_file(listeners[i].ep);
            int fd = it_sp_connect(path, listeners[i].peer, 5000);
            cr_assert_geq(fd, 0, "cannot connect to %s", file);
            /* The header alone may be refused (the connection closed) before the body. */
            bool sent = it_sp_send(fd, sizes[k], "\x80\0\0\1", 4, 5000);
            cr_expect(!sent || it_sp_closed_within(fd, 10000),
                      "%s kept a connection that announced a %llu-byte message", file,
                      (unsigned long long)sizes[k]);
            close(fd);
        }
    }
    expect_same_roles(n, &before, "oversized frames");
    /* And the node still works end to end. */
    nacos_write_ok(n, "POST", INSTANCE, Q("serviceName", "keep", "ip", "127.9.2.2", "port", "2"));
    json_t *l = nacos_list(n, Q("serviceName", "keep"));
    cr_expect_eq(list_host_count(l), 2);
    json_decref(l);
    node_stop(n);
}

/* ---- permissions ------------------------------------------------------------------------------- */

/* Every socket file in dir is 0600; returns how many there are. */
static int expect_private_sockets(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot list %s", dir);
    int sockets = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISSOCK(sb.st_mode))
            continue;
        sockets++;
        cr_expect_eq(sb.st_mode & 07777, 0600, "%s has mode %04o", e->d_name,
                     (unsigned)(sb.st_mode & 07777));
    }
    closedir(d);
    return sockets;
}

IT_TEST(ipc_peers, sockets_are_private_whatever_the_umask)
{
    /* An existing run directory 0755 (not writable by others: accepted as it is). */
    const char *dir = it_tmpdir();
    char data[PATH_MAX], run[PATH_MAX + 8];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(run, sizeof run, "%s/run", data);
    cr_assert_eq(mkdir(data, 0755), 0);
    cr_assert_eq(mkdir(run, 0755), 0);
    cr_assert_eq(chmod(run, 0755), 0);
    mode_t old = umask(0);
    it_node_opts o = {.reuse_dir = dir};
    it_node *n = node_start(&o);
    umask(old);
    cr_expect_geq(expect_private_sockets(run), 5, "fewer sockets than expected in %s", run);
    node_stop(n);

    /* A run directory the node creates itself is 0700, whatever the umask. */
    old = umask(0);
    n = node_start(NULL);
    umask(old);
    struct stat sb;
    cr_assert_eq(stat(n->run_dir, &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0700, "a new run directory has mode %04o",
                 (unsigned)(sb.st_mode & 07777));
    cr_expect_geq(expect_private_sockets(n->run_dir), 5);
    node_stop(n);
}

IT_TEST(ipc_peers, a_run_directory_others_can_write_is_refused)
{
    char data[PATH_MAX], run[PATH_MAX], set[PATH_MAX + 32];
    snprintf(data, sizeof data, "%s/data", it_tmpdir());
    snprintf(run, sizeof run, "%s/open-run", it_tmpdir());
    cr_assert_eq(mkdir(run, 0777), 0);
    cr_assert_eq(chmod(run, 0777), 0);
    snprintf(set, sizeof set, "node.run_dir=%s", run);
    char *out = NULL, *err = NULL;
    /* (The loopback ports, in case it is not refused.) */
    const char *const cairn[] = {CAIRN_BIN_DIR "/cairn", "run", "--data-dir", data, "--set", set,
                                 "--set", "gateway.listen=127.0.0.1:0", "--set",
                                 "gateway.admin_listen=127.0.0.1:0", "--set",
                                 "registry.admin_listen=127.0.0.1:0", "--set",
                                 "healthcheck.admin_listen=127.0.0.1:0", "--set",
                                 "pusher.admin_listen=127.0.0.1:0", NULL};
    int rc = it_run(cairn, 20000, &out, &err);
    cr_expect_eq(rc, 78, "cairn run with a 0777 run dir exited %d: %s", rc, err ? err : "");
    cr_expect(err && strstr(err, run) && strstr(err, "writable"), "no clear message: %s",
              err ? err : "");
    free(out);
    free(err);
    /* A role started alone refuses it too. */
    char dset[PATH_MAX + 32];
    snprintf(dset, sizeof dset, "node.data_dir=%s", data);
    const char *const registry_argv[] = {CAIRN_BIN_DIR "/cairn-registry", "--set", dset, "--set",
                                         set, "--set", "registry.admin_listen=127.0.0.1:0",
                                         NULL};
    rc = it_run(registry_argv, 20000, &out, &err);
    cr_expect_eq(rc, 78, "cairn-registry with a 0777 run dir exited %d: %s", rc, err ? err : "");
    free(out);
    free(err);
    struct stat sb;
    cr_assert_eq(stat(run, &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0777, "the refused directory was changed");
}

/* ---- limits ------------------------------------------------------------------------------------ */

IT_TEST(ipc_peers, the_registry_enforces_the_limits_itself)
{
    it_node *n = node_start(NULL);
    roles before = role_pids(n);
    char msg[256];
    cairn_request rq;
    cairn_status st;

    /* 100 000 metadata keys (the default limit is 16 KiB of keys and values). */
    cairn_instance in = instance_with_metadata("127.9.3.1", 1, 100000, 4);
    cr_assert_eq(cairn_request_instance_upsert(&rq, "public", "DEFAULT_GROUP@@lim", &in,
                                               CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK);
    int64_t t0 = it_now_ms();
    cairn_err code = registry_write(n, &rq, msg, sizeof msg);
    cr_expect_eq(code, CAIRN_E_INVALID, "100 000 metadata keys: %s \"%s\" after %lld ms",
                 cairn_err_name(code), msg, (long long)(it_now_ms() - t0));
    cr_expect_str_eq(msg, "Param 'metadata' is too long (max 16384 bytes)");
    cairn_instance_free(&in);

    /* One value over the limit, through a beat that would register the instance. */
    in = instance_with_metadata("127.9.3.1", 1, 1, 16384);
    cr_assert_eq(cairn_request_beat(&rq, "public", "DEFAULT_GROUP@@lim", &in, true, &st),
                 CAIRN_OK, "%s", st.message);
    code = registry_write(n, &rq, msg, sizeof msg);
    cr_expect_eq(code, CAIRN_E_INVALID, "a beat with 16 KiB of metadata: %s \"%s\"",
                 cairn_err_name(code), msg);
    cairn_instance_free(&in);

    /* An app name far beyond any client's. */
    in = instance_with_metadata("127.9.3.1", 1, 0, 0);
    free(in.app);
    in.app = calloc(1, 100001);
    memset(in.app, 'a', 100000);
    cr_assert_eq(cairn_request_instance_upsert(&rq, "public", "DEFAULT_GROUP@@lim", &in,
                                               CAIRN_UPSERT_REGISTER, &st),
                 CAIRN_OK);
    code = registry_write(n, &rq, msg, sizeof msg);
    cr_expect_eq(code, CAIRN_E_INVALID, "a 100 KB app: %s \"%s\"", cairn_err_name(code), msg);
    cairn_instance_free(&in);

    /* A service definition whose cluster carries too much metadata. */
    cairn_service def;
    cairn_service_init(&def);
    def.namespace_id = strdup("public");
    def.name = strdup("DEFAULT_GROUP@@lim2");
    def.defined = true;
    def.clusters = calloc(1, sizeof *def.clusters);
    cairn_cluster_init_default(&def.clusters[0]);
    def.cluster_count = 1;
    def.clusters[0].name = strdup("c1");
    in = instance_with_metadata("127.9.3.1", 1, 2000, 10);
    cairn_metadata_copy(&def.clusters[0].metadata, &in.metadata);
    cairn_instance_free(&in);
    cr_assert_eq(cairn_request_service_put(&rq, "public", "DEFAULT_GROUP@@lim2", &def,
                                           CAIRN_SERVICE_CREATE, &st),
                 CAIRN_OK);
    code = registry_write(n, &rq, msg, sizeof msg);
    cr_expect_eq(code, CAIRN_E_INVALID, "a cluster with 2000 keys: %s \"%s\"",
                 cairn_err_name(code), msg);
    cairn_service_free(&def);

    /* Nothing of it was stored, and the registry kept serving. */
    http_resp r = nacos_call(n, "GET", INSTANCE "/list", Q("serviceName", "lim"), NULL, NULL);
    cr_expect(r.status == 200 || r.status == 404, "list: %ld", r.status);
    cr_expect(strstr(r.body, "127.9.3.1") == NULL, "an over-limit instance was stored: %s", r.body);
    http_resp_free(&r);
    nacos_write_ok(n, "POST", INSTANCE, Q("serviceName", "lim", "ip", "127.9.3.2", "port", "1",
                                          "metadata", "a=1"));
    expect_same_roles(n, &before, "over-limit writes");
    node_stop(n);
}
