/* The cluster keys: member list, self (with the wildcard rule), derived ports, secret file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn_cluster_config.h"

static cairn_cluster_member m[CAIRN_CLUSTER_MAX_MEMBERS];

Test(cluster_config, empty_members_is_standalone)
{
    cairn_status st;
    cr_assert_eq(cairn_cluster_parse_members("", m, 8, &st), 0);
    cr_assert_eq(cairn_cluster_parse_members("  ", m, 8, &st), 0);
    cairn_config *cfg = cairn_config_load(NULL, NULL, 0, &st);
    cr_assert_not_null(cfg);
    cairn_cluster_config *cc = malloc(sizeof *cc);
    cr_assert_eq(cairn_cluster_config_load(cfg, cc, &st), CAIRN_OK);
    cr_assert_eq(cc->count, 0);
    free(cc);
    cairn_config_free(cfg);
}

Test(cluster_config, members_parse_trimmed_in_order)
{
    cairn_status st;
    int n = cairn_cluster_parse_members(" 127.0.0.1:8848, 127.0.0.2:8848 ,[::1]:8849", m, 8, &st);
    cr_assert_eq(n, 3, "%s", st.message);
    cr_assert_str_eq(m[0].id, "127.0.0.1:8848");
    cr_assert_str_eq(m[1].id, "127.0.0.2:8848");
    cr_assert_str_eq(m[1].host, "127.0.0.2");
    cr_assert_eq(m[1].port, 8848);
    cr_assert_str_eq(m[2].host, "::1");
    cr_assert_eq(m[2].port, 8849);
}

Test(cluster_config, members_rejected)
{
    const char *bad[] = {"127.0.0.1:8848,,127.0.0.2:8848", "127.0.0.1", "127.0.0.1:0",
                         "127.0.0.1:70000", "127.0.0.1:8848,127.0.0.1:8848", "0.0.0.0:8848",
                         "a b:1", "127.0.0.1:8848,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_status st;
        cr_assert_eq(cairn_cluster_parse_members(bad[i], m, 8, &st), -1, "%s", bad[i]);
        cr_assert(strstr(st.message, "cluster.members"), "%s", st.message);
    }
    cairn_status st;
    cr_assert_eq(cairn_cluster_parse_members("h1:1,h2:1,h3:1", m, 2, &st), -1);
}

static bool local_2(const char *host) { return strcmp(host, "127.0.0.2") == 0; }
static bool local_all(const char *host) { (void)host; return true; }
static bool local_none(const char *host) { (void)host; return false; }

Test(cluster_config, self_by_gateway_listen)
{
    cairn_status st;
    int n = cairn_cluster_parse_members("127.0.0.1:8848,127.0.0.2:8848,127.0.0.3:8848", m, 8, &st);
    cr_assert_eq(n, 3);
    cr_assert_eq(cairn_cluster_find_self(m, 3, "127.0.0.2", 8848, local_none, &st), 1);
    cr_assert_eq(cairn_cluster_find_self(m, 3, "127.0.0.4", 8848, local_all, &st), -1);
    cr_assert(strstr(st.message, "no entry"), "%s", st.message);
    cr_assert_eq(cairn_cluster_find_self(m, 3, "127.0.0.2", 8849, local_all, &st), -1);
    /* port 0 cannot identify a member */
    cr_assert_eq(cairn_cluster_find_self(m, 3, "127.0.0.2", 0, local_all, &st), -1);
    cr_assert(strstr(st.message, "port 0"), "%s", st.message);
}

Test(cluster_config, self_with_wildcard_host)
{
    cairn_status st;
    cairn_cluster_parse_members("127.0.0.1:8848,127.0.0.2:8848,198.51.100.1:8848", m, 8, &st);
    cr_assert_eq(cairn_cluster_find_self(m, 3, "0.0.0.0", 8848, local_2, &st), 1);
    cr_assert_eq(cairn_cluster_find_self(m, 3, "::", 8848, local_2, &st), 1);
    /* several local entries with the port: ambiguous */
    cr_assert_eq(cairn_cluster_find_self(m, 3, "0.0.0.0", 8848, local_all, &st), -1);
    cr_assert(strstr(st.message, "entries are local"), "%s", st.message);
    cr_assert_eq(cairn_cluster_find_self(m, 3, "0.0.0.0", 8848, local_none, &st), -1);
    /* the real check: loopback addresses are local, a documentation address is not */
    cr_assert(cairn_cluster_host_is_local("127.0.0.2"));
    cr_assert_not(cairn_cluster_host_is_local("192.0.2.1"));
}

Test(cluster_config, derived_ports)
{
    cairn_status st;
    char host[64];
    uint16_t port;
    cr_assert_eq(cairn_cluster_listen_address("cluster.peer_listen", "", "127.0.0.2", 8848, 1001,
                                              host, sizeof host, &port, &st), CAIRN_OK);
    cr_assert_str_eq(host, "127.0.0.2");
    cr_assert_eq(port, 9849);
    cr_assert_eq(cairn_cluster_listen_address("cluster.raft_listen", "", "127.0.0.2", 8848, -1000,
                                              host, sizeof host, &port, &st), CAIRN_OK);
    cr_assert_eq(port, 7848);
    /* out of range unless set */
    cr_assert_eq(cairn_cluster_listen_address("cluster.raft_listen", "", "h", 800, -1000, host,
                                              sizeof host, &port, &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "cluster.raft_listen"), "%s", st.message);
    cr_assert_eq(cairn_cluster_listen_address("cluster.peer_listen", "", "h", 65000, 1001, host,
                                              sizeof host, &port, &st), CAIRN_E_INVALID);
    cr_assert_eq(cairn_cluster_listen_address("cluster.raft_listen", "127.0.0.1:0", "h", 800,
                                              -1000, host, sizeof host, &port, &st), CAIRN_OK);
    cr_assert_eq(port, 0);
    cr_assert_eq(cairn_cluster_listen_address("cluster.peer_listen", "nonsense", "h", 8848, 1001,
                                              host, sizeof host, &port, &st), CAIRN_E_INVALID);
}

static char tmp_path[64];

static const char *write_secret(const char *content, size_t len, mode_t mode)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/cairn-secret-XXXXXX");
    int fd = mkstemp(tmp_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    chmod(tmp_path, mode);
    return tmp_path;
}

Test(cluster_config, secret_rules)
{
    unsigned char buf[CAIRN_CLUSTER_SECRET_MAX];
    size_t len;
    char warn[256];
    cairn_status st;
    const char *s32 = "0123456789abcdef0123456789abcdef";
    /* one trailing newline ignored */
    const char *p = write_secret("0123456789abcdef0123456789abcdef\n", 33, 0600);
    cr_assert_eq(cairn_cluster_read_secret(p, buf, &len, warn, sizeof warn, &st), CAIRN_OK);
    cr_assert_eq(len, 32);
    cr_assert_eq(memcmp(buf, s32, 32), 0);
    cr_assert_str_eq(warn, "");
    unlink(p);
    /* short (the newline does not count) */
    p = write_secret("0123456789abcdef0123456789abcde\n", 32, 0600);
    cr_assert_eq(cairn_cluster_read_secret(p, buf, &len, warn, sizeof warn, &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "at least 32"), "%s", st.message);
    unlink(p);
    /* readable by others: accepted with a warning */
    p = write_secret(s32, 32, 0644);
    cr_assert_eq(cairn_cluster_read_secret(p, buf, &len, warn, sizeof warn, &st), CAIRN_OK);
    cr_assert(strstr(warn, "readable by other users"), "%s", warn);
    unlink(p);
    /* missing */
    cr_assert_eq(cairn_cluster_read_secret("/nonexistent/secret", buf, &len, warn, sizeof warn,
                                           &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "cluster.secret_file"), "%s", st.message);
    cr_assert_eq(cairn_cluster_read_secret("", buf, &len, warn, sizeof warn, &st),
                 CAIRN_E_INVALID);
    /* unreadable (unless root, who reads anything) */
    if (geteuid() != 0) {
        p = write_secret(s32, 32, 0000);
        cr_assert_eq(cairn_cluster_read_secret(p, buf, &len, warn, sizeof warn, &st),
                     CAIRN_E_INVALID);
        unlink(p);
    }
    cr_assert_eq(cairn_cluster_read_secret("/tmp", buf, &len, warn, sizeof warn, &st),
                 CAIRN_E_INVALID);
}

static cairn_err load(const char *const *sets, size_t n, cairn_cluster_config *cc,
                      cairn_status *st)
{
    cairn_config *cfg = cairn_config_load(NULL, sets, n, st);
    cr_assert_not_null(cfg, "%s", st->message);
    cairn_err rc = cairn_cluster_config_load(cfg, cc, st);
    cairn_config_free(cfg);
    return rc;
}

Test(cluster_config, load_whole)
{
    cairn_cluster_config *cc = malloc(sizeof *cc);
    cairn_status st;
    const char *p = write_secret("0123456789abcdef0123456789abcdef", 32, 0600);
    char secret_set[128];
    snprintf(secret_set, sizeof secret_set, "cluster.secret_file=%s", p);
    const char *sets[] = {"cluster.members=127.0.0.1:8848,127.0.0.2:8848,127.0.0.3:8848",
                          "gateway.listen=127.0.0.2:8848", secret_set};
    cr_assert_eq(load(sets, 3, cc, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(cc->count, 3);
    cr_assert_eq(cc->self, 1);
    cr_assert_str_eq(cc->peer_host, "127.0.0.2");
    cr_assert_eq(cc->peer_port, 9849);
    cr_assert_eq(cc->raft_port, 7848);
    cr_assert_eq(cc->secret_len, 32);
    cr_assert_eq(cc->ping_interval_ms, 500);
    cr_assert_eq(cc->fail_count, 3);
    cr_assert_eq(cc->up_pings, 2);
    /* the same members in another order hash the same */
    const char *sets2[] = {"cluster.members=127.0.0.3:8848,127.0.0.2:8848,127.0.0.1:8848",
                           "gateway.listen=127.0.0.2:8848", secret_set};
    uint64_t h = cc->members_hash;
    cr_assert_eq(load(sets2, 3, cc, &st), CAIRN_OK);
    cr_assert_eq(cc->members_hash, h);
    /* no secret with several members */
    cr_assert_eq(load(sets, 2, cc, &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "cluster.secret_file"), "%s", st.message);
    /* one member needs none */
    const char *one[] = {"cluster.members=127.0.0.1:8848", "gateway.listen=127.0.0.1:8848"};
    cr_assert_eq(load(one, 2, cc, &st), CAIRN_OK, "%s", st.message);
    cr_assert_eq(cc->count, 1);
    unlink(p);
    free(cc);
}
