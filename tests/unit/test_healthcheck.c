/* The healthcheck role's pure parts: expiry and self-preservation rules, metadata overrides,
 * Distro responsibility, the probe network list, and the table's reconciliation with registry
 * snapshots (grace periods, kept beats, removals, the probed list). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_java_hash.h"
#include "healthcheck_expiry.h"
#include "healthcheck_netfilter.h"
#include "healthcheck_responsibility.h"
#include "healthcheck_table.h"

Test(healthcheck, expiry_rules)
{
    /* idle, beat timeout, delete timeout, healthy, marked, expire */
    cr_assert_eq(hc_expiry_decide(1000, 1000, 2000, true, false, true), HC_EXPIRY_NONE,
                 "exactly at the timeout is not past it");
    cr_assert_eq(hc_expiry_decide(1001, 1000, 2000, true, false, true), HC_EXPIRY_UNHEALTHY);
    cr_assert_eq(hc_expiry_decide(1500, 1000, 2000, false, false, true), HC_EXPIRY_NONE,
                 "already unhealthy: nothing to write");
    cr_assert_eq(hc_expiry_decide(2001, 1000, 2000, false, false, true), HC_EXPIRY_DELETE);
    cr_assert_eq(hc_expiry_decide(2001, 1000, 2000, true, false, true), HC_EXPIRY_DELETE);
    cr_assert_eq(hc_expiry_decide(2001, 1000, 2000, true, false, false), HC_EXPIRY_UNHEALTHY,
                 "health.expire_instances=false only marks");
    cr_assert_eq(hc_expiry_decide(99999, 1000, 2000, true, true, true), HC_EXPIRY_NONE,
                 "marked instances are left alone");
    /* A delete timeout shorter than the beat timeout still deletes. */
    cr_assert_eq(hc_expiry_decide(600, 1000, 500, true, false, true), HC_EXPIRY_DELETE);
}

Test(healthcheck, preservation_rule)
{
    /* ephemeral instances, expiring ones, ratio, min */
    cr_assert(hc_preservation_hold(20, 20, 0.5, 10));
    cr_assert(hc_preservation_hold(20, 11, 0.5, 10));
    cr_assert_not(hc_preservation_hold(20, 10, 0.5, 10), "exactly the ratio is not more");
    cr_assert_not(hc_preservation_hold(9, 9, 0.5, 10), "small namespaces are never held");
    cr_assert(hc_preservation_hold(10, 9, 0.5, 10));
    cr_assert_not(hc_preservation_hold(20, 20, 1.0, 10), "ratio 1 disables it");
    cr_assert_not(hc_preservation_hold(20, 0, 0.0, 0));
    cr_assert(hc_preservation_hold(20, 1, 0.0, 0));
    cr_assert_not(hc_preservation_hold(0, 0, 0.5, 0));
}

Test(healthcheck, metadata_overrides)
{
    cairn_metadata md = {0};
    hc_timeouts t;
    hc_timeouts_from_metadata(&md, 15000, 30000, &t);
    cr_assert_eq(t.beat_interval_ms, 5000);
    cr_assert_eq(t.beat_timeout_ms, 15000);
    cr_assert_eq(t.delete_timeout_ms, 30000);
    cairn_metadata_set(&md, CAIRN_META_BEAT_INTERVAL, "1500");
    cairn_metadata_set(&md, CAIRN_META_BEAT_TIMEOUT, "3000");
    cairn_metadata_set(&md, CAIRN_META_DELETE_TIMEOUT, "6s"); /* not all digits: ignored */
    hc_timeouts_from_metadata(&md, 15000, 30000, &t);
    cr_assert_eq(t.beat_interval_ms, 1500);
    cr_assert_eq(t.beat_timeout_ms, 3000);
    cr_assert_eq(t.delete_timeout_ms, 30000);
    cairn_metadata_free(&md);
}

/* The grouped name the Distro index of which, among 3 members, is idx. */
static void name_with_index(uint32_t idx, char *buf, size_t len)
{
    for (int i = 0; i < 10000; i++) {
        snprintf(buf, len, "DEFAULT_GROUP@@svc%d", i);
        if (cairn_distro_index(buf, strlen(buf), 3) == idx)
            return;
    }
    cr_assert_fail("no name maps to %u", idx);
}

Test(healthcheck, responsibility)
{
    char a[64], b[64], c[64];
    name_with_index(0, a, sizeof a);
    name_with_index(1, b, sizeof b);
    name_with_index(2, c, sizeof c);
    healthcheck_members_reset();
    uint64_t gen = healthcheck_members_generation();
    cr_assert(healthcheck_is_responsible("public", a), "standalone: every service");
    cr_assert(healthcheck_is_responsible("public", b));

    /* Given unsorted; the index is into the sorted list ("127.0.0.1", "127.0.0.2", "127.0.0.3"). */
    const char *members[] = {"127.0.0.3:8848", "127.0.0.1:8848", "127.0.0.2:8848"};
    cr_assert_eq(healthcheck_set_members(members, 3, "127.0.0.2:8848"), 0);
    cr_assert_gt(healthcheck_members_generation(), gen);
    cr_assert_not(healthcheck_is_responsible("public", a));
    cr_assert(healthcheck_is_responsible("public", b));
    cr_assert(healthcheck_is_responsible("other-ns", b), "the namespace is not hashed");
    cr_assert_not(healthcheck_is_responsible("public", c));

    cr_assert_eq(healthcheck_set_members(members, 3, "127.0.0.1:8848"), 0);
    cr_assert(healthcheck_is_responsible("public", a));
    cr_assert_not(healthcheck_is_responsible("public", b));

    /* A node missing from the list (not READY) checks nothing (DistroMapper's checked all). */
    cr_assert_eq(healthcheck_set_members(members, 3, "127.0.0.9:8848"), 0);
    cr_assert_not(healthcheck_is_responsible("public", a));
    cr_assert_not(healthcheck_is_responsible("public", c));
    healthcheck_members_reset();
    cr_assert(healthcheck_is_responsible("public", c));
}

static bool allowed(hc_netfilter *f, const char *host)
{
    return hc_netfilter_deny(f, host) == NULL;
}

Test(healthcheck, probe_networks)
{
    hc_netfilter f;
    cairn_status st;
    cr_assert_eq(hc_netfilter_parse(&f, "127.0.0.0/16, 127.1.0.0/16,::1", &st), CAIRN_OK,
                 "%s", st.message);
    cr_assert_eq(f.count, 3);
    cr_assert(allowed(&f, "127.0.0.1"));
    cr_assert(allowed(&f, "127.0.255.2"));
    cr_assert(allowed(&f, "127.1.200.3"));
    cr_assert(allowed(&f, "::ffff:127.0.0.1"), "IPv4-mapped is its IPv4 address");
    cr_assert_not(allowed(&f, "127.2.0.1"));
    cr_assert(allowed(&f, "::1"));
    cr_assert_not(allowed(&f, "::2"));
    cr_assert_str_eq(hc_netfilter_deny(&f, "198.51.100.1"), "outside health.probe_networks");
    cr_assert_not(allowed(&f, "localhost"), "no hostnames under a list");
    cr_assert_not(allowed(&f, "0.0.0.0"), "unspecified: never, whatever the list");
    cr_assert_not(allowed(&f, "::"));
    cr_assert_not(allowed(&f, ""));
    hc_netfilter_free(&f);

    /* A prefix that does not end on an octet: 127.20.0.0/15 is 127.20.x.x and 127.21.x.x. */
    cr_assert_eq(hc_netfilter_parse(&f, "127.20.0.0/15", &st), CAIRN_OK);
    cr_assert(allowed(&f, "127.21.255.1"));
    cr_assert_not(allowed(&f, "127.22.0.1"));
    hc_netfilter_free(&f);
    /* An IPv4-mapped block is the IPv4 block. */
    cr_assert_eq(hc_netfilter_parse(&f, "::ffff:127.0.0.0/104", &st), CAIRN_OK, "%s",
                 st.message);
    cr_assert(allowed(&f, "127.9.9.9"));
    cr_assert_not(allowed(&f, "128.0.0.1"));
    hc_netfilter_free(&f);
    cr_assert_eq(hc_netfilter_parse(&f, "::ffff:127.0.0.0/95", &st), CAIRN_E_INVALID,
                 "a mapped block reaching past the mapped range");

    cr_assert_eq(hc_netfilter_parse(&f, "127.0.0.0/33", &st), CAIRN_E_INVALID);
    cr_assert(strstr(st.message, "health.probe_networks"), "%s", st.message);
    cr_assert_eq(hc_netfilter_parse(&f, "nonsense", &st), CAIRN_E_INVALID);
    cr_assert_eq(hc_netfilter_parse(&f, "127.0.0.0/", &st), CAIRN_E_INVALID);
    /* Listing a range probes never reach is a mistake worth stopping for. */
    const char *never[] = {"169.254.0.0/16", "169.254.169.254", "fe80::/10", "224.0.0.0/4",
                           "ff02::1",        "0.0.0.0",         "::",        "255.255.255.255",
                           "240.0.0.0/8",    "::ffff:169.254.0.0/112"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        cr_expect_eq(hc_netfilter_parse(&f, never[i], &st), CAIRN_E_INVALID, "%s accepted",
                     never[i]);
        cr_expect(strstr(st.message, "probes never go there"), "%s", st.message);
    }
}

/* The default (an empty list): anything but special-purpose addresses, loopback and this host. */
Test(healthcheck, probe_networks_default_keeps_probes_off_special_and_own_addresses)
{
    hc_netfilter f;
    cairn_status st;
    cr_assert_eq(hc_netfilter_parse(&f, "", &st), CAIRN_OK);
    const char *never[] = {"169.254.169.254", "169.254.0.1",     "fe80::1",
                           "fe80::a9fe:a9fe", "0.0.0.0",         "0.1.2.3",
                           "::",              "224.0.0.1",       "239.255.255.250",
                           "ff02::1",         "255.255.255.255", "240.0.0.1",
                           "127.0.0.1",       "127.1.2.3",       "::1",
                           "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
                           "::ffff:224.0.0.1", "64:ff9b::169.254.169.254", "::7f00:1"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        cr_expect_not(allowed(&f, never[i]), "%s allowed by default", never[i]);
    cr_expect_str_eq(hc_netfilter_deny(&f, "169.254.169.254"),
                     "a link-local address (never probed)");
    cr_expect_str_eq(hc_netfilter_deny(&f, "::ffff:127.0.0.1"),
                     "a loopback address, which health.probe_networks does not list");
    const char *fine[] = {"198.51.100.1", "203.0.113.20", "192.0.2.1", "2001:db8::1", "2001:db8:1::1",
                          "::ffff:198.51.100.1"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        cr_expect(allowed(&f, fine[i]), "%s denied: %s", fine[i], hc_netfilter_deny(&f, fine[i]));
    cr_expect(allowed(&f, "db.example"), "a hostname: its resolved address is checked later");

    /* This host's own addresses, as the interfaces gave them (set here, not read). */
    cairn_ip own[2];
    cr_assert(cairn_ip_parse("198.51.100.5", &own[0]));
    cr_assert(cairn_ip_parse("198.51.100.255", &own[1])); /* its broadcast address */
    hc_netfilter_set_own(&f, own, 2);
    cr_expect_str_eq(hc_netfilter_deny(&f, "198.51.100.5"),
                     "an address of this host, which health.probe_networks does not name");
    cr_expect_not(allowed(&f, "::ffff:198.51.100.5"));
    cr_expect_not(allowed(&f, "198.51.100.255"));
    cr_expect(allowed(&f, "198.51.100.6"));
    hc_netfilter_free(&f);

    /* Only a list opens loopback or this host, and only by naming them: wide blocks do not. */
    cr_assert_eq(hc_netfilter_parse(&f, "0.0.0.0/0, 198.51.100.0/24, ::/0", &st), CAIRN_OK, "%s",
                 st.message);
    hc_netfilter_set_own(&f, own, 2);
    cr_expect_not(allowed(&f, "127.0.0.1"));
    cr_expect_not(allowed(&f, "::1"));
    cr_expect_not(allowed(&f, "198.51.100.5"));
    cr_expect_not(allowed(&f, "169.254.169.254"));
    cr_expect_not(allowed(&f, "fe80::1"));
    cr_expect(allowed(&f, "198.51.100.6"));
    cr_expect(allowed(&f, "2001:db8::1"));
    hc_netfilter_free(&f);
    cr_assert_eq(hc_netfilter_parse(&f, "198.51.100.0/24, 198.51.100.5, 127.0.0.0/8", &st), CAIRN_OK);
    hc_netfilter_set_own(&f, own, 2);
    cr_expect(allowed(&f, "198.51.100.5"), "named as a single address");
    cr_expect(allowed(&f, "127.0.0.1"));
    cr_expect(allowed(&f, "::ffff:127.0.0.1"));
    cr_expect_not(allowed(&f, "198.51.100.255"), "a broadcast address of this host is not named");
    cr_expect_not(allowed(&f, "::1"), "IPv6 loopback is not in 127.0.0.0/8");
    hc_netfilter_free(&f);
}

/* ---- the table ------------------------------------------------------------------------------ */

#define SVC "DEFAULT_GROUP@@t"

/* Probes only to 127.0.0.0/16: an instance at 127.1.x.x stands for one off the probe networks
 * (tests use loopback addresses only, even as data). */
static hc_netfilter probe_networks;
static hc_table table;

static void table_setup(void)
{
    cairn_status st;
    cr_assert_eq(hc_netfilter_parse(&probe_networks, "127.0.0.0/16", &st), CAIRN_OK);
    cr_assert_eq(hc_table_init(&table, &probe_networks, 15000, 30000), 0);
}

static void table_teardown(void)
{
    hc_table_destroy(&table);
    hc_netfilter_free(&probe_networks);
}

/* A snapshot of SVC at rev with the given instances ("ip:port:e|p", cluster DEFAULT). */
static void make_snapshot(cairn_service_snapshot *s, uint64_t rev, const char *const *specs,
                          cairn_check_type checker)
{
    memset(s, 0, sizeof *s);
    s->found = true;
    cairn_service_init(&s->service);
    s->service.namespace_id = strdup("public");
    s->service.name = strdup(SVC);
    s->service.revision = rev;
    s->service.clusters = calloc(1, sizeof(cairn_cluster));
    cairn_cluster_init_default(&s->service.clusters[0]);
    s->service.clusters[0].name = strdup("DEFAULT");
    s->service.clusters[0].check_type = checker;
    s->service.cluster_count = 1;
    size_t n = 0;
    while (specs && specs[n])
        n++;
    s->instances = calloc(n ? n : 1, sizeof(cairn_instance));
    for (size_t i = 0; i < n; i++) {
        char ip[64];
        int port;
        char kind;
        cr_assert_eq(sscanf(specs[i], "%63[^:]:%d:%c", ip, &port, &kind), 3);
        cairn_instance *in = &s->instances[i];
        cairn_instance_init(in);
        in->ip = strdup(ip);
        in->port = port;
        in->cluster = strdup("DEFAULT");
        in->ephemeral = kind == 'e';
    }
    s->instance_count = (uint32_t)n;
}

static hc_instance *find(const char *ip, int port, bool ephemeral)
{
    return hc_table_find(&table, "public", SVC, ephemeral, "DEFAULT", ip, port);
}

TestSuite(healthcheck_table, .init = table_setup, .fini = table_teardown);

Test(healthcheck_table, reconcile_keeps_beats_and_drops_the_missing)
{
    cairn_service_snapshot s;
    make_snapshot(&s, 5, (const char *const[]){"127.0.0.1:80:e", "127.0.0.2:80:e", NULL},
                  CAIRN_CHECK_TCP);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 1000, 1), 0);
    cairn_service_snapshot_free(&s);
    hc_instance *a = find("127.0.0.1", 80, true);
    cr_assert(a);
    cr_assert_eq(a->last_beat_ms, 1000, "new instances start with a grace period");
    cr_assert_eq(a->beat_timeout_ms, 15000);
    cr_assert_eq(hc_table_revision(&table, "public", SVC), 5);
    a->last_beat_ms = 4000; /* a beat */

    /* Revision 7: .2 gone, .3 new, .1 now with a timeout override and unhealthy. */
    make_snapshot(&s, 7, (const char *const[]){"127.0.0.1:80:e", "127.0.0.3:80:e", NULL},
                  CAIRN_CHECK_TCP);
    s.instances[0].healthy = false;
    cairn_metadata_set(&s.instances[0].metadata, CAIRN_META_BEAT_TIMEOUT, "2500");
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 5000, 0), 0);
    cairn_service_snapshot_free(&s);
    a = find("127.0.0.1", 80, true);
    cr_assert(a);
    cr_assert_eq(a->last_beat_ms, 4000, "a known instance keeps its last beat");
    cr_assert_not(a->healthy);
    cr_assert_eq(a->beat_timeout_ms, 2500);
    cr_assert_null(find("127.0.0.2", 80, true));
    cr_assert_eq(find("127.0.0.3", 80, true)->last_beat_ms, 5000);

    /* An older snapshot than the one applied is ignored. */
    make_snapshot(&s, 6, (const char *const[]){NULL}, CAIRN_CHECK_TCP);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 6000, 0), 0);
    cairn_service_snapshot_free(&s);
    cr_assert(find("127.0.0.1", 80, true));

    size_t all, eph, probed;
    hc_table_counts(&table, &all, &eph, &probed);
    cr_assert_eq(all, 2);
    cr_assert_eq(eph, 2);

    /* A full load that does not see the service drops it. */
    hc_table_end_pass(&table, 2);
    hc_table_counts(&table, &all, &eph, &probed);
    cr_assert_eq(all, 0);
    cr_assert_eq(hc_table_revision(&table, "public", SVC), 0);
}

/* A delta changes only what it names: its instances are taken as a snapshot takes them (known
 * ones keep their last beat), its gone keys are dropped, everything else stays; a delta no newer
 * than the state held is ignored, and one for a service the table lacks asks for a read. A
 * checker change in the delta's definition re-examines every instance of the service. */
Test(healthcheck_table, deltas_change_only_what_they_name)
{
    cairn_service_snapshot s;
    make_snapshot(&s, 5,
                  (const char *const[]){"127.0.0.1:80:e", "127.0.0.2:80:e", "127.0.0.3:80:p",
                                        "127.0.0.4:80:p", NULL},
                  CAIRN_CHECK_NONE);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 1000, 0), 0);
    cairn_service_snapshot_free(&s);
    find("127.0.0.1", 80, true)->last_beat_ms = 4000;

    /* Revision 7: .1 turns unhealthy, .5 is new, .2 is gone. */
    make_snapshot(&s, 7, (const char *const[]){"127.0.0.1:80:e", "127.0.0.5:80:e", NULL},
                  CAIRN_CHECK_NONE);
    s.instances[0].healthy = false;
    cairn_key k2;
    cr_assert_eq(cairn_key_instance(&k2, "public", SVC, true, "DEFAULT", "127.0.0.2", 80), 0);
    cairn_bytes gone = {k2.bytes, k2.len};
    cr_assert_eq(hc_table_apply_delta(&table, "public", SVC, &s, &gone, 1, 5000), 0);
    hc_instance *a = find("127.0.0.1", 80, true);
    cr_assert_not(a->healthy);
    cr_assert_eq(a->last_beat_ms, 4000, "a known instance keeps its last beat");
    cr_assert_eq(find("127.0.0.5", 80, true)->last_beat_ms, 5000);
    cr_assert_null(find("127.0.0.2", 80, true));
    cr_assert(find("127.0.0.3", 80, false), "what the delta does not name stays");
    cr_assert(find("127.0.0.4", 80, false));
    cr_assert_eq(hc_table_revision(&table, "public", SVC), 7);

    /* The same delta again (or an older one) changes nothing. */
    a->healthy = true;
    cr_assert_eq(hc_table_apply_delta(&table, "public", SVC, &s, NULL, 0, 6000), 0);
    cr_assert(a->healthy);
    cairn_service_snapshot_free(&s);

    /* Revision 8: the checker becomes TCP; the delta names no persistent instance, yet both
     * are probed from now on. */
    size_t all, eph, probed;
    hc_table_counts(&table, &all, &eph, &probed);
    cr_assert_eq(probed, 0);
    make_snapshot(&s, 8, (const char *const[]){"127.0.0.5:80:e", NULL}, CAIRN_CHECK_TCP);
    cr_assert_eq(hc_table_apply_delta(&table, "public", SVC, &s, NULL, 0, 7000), 0);
    cairn_service_snapshot_free(&s);
    hc_table_counts(&table, &all, &eph, &probed);
    cr_assert_eq(all, 4);
    cr_assert_eq(probed, 2);

    /* A key of another service is not this delta's to remove. */
    cairn_key other;
    cr_assert_eq(cairn_key_instance(&other, "public", "DEFAULT_GROUP@@other", true, "DEFAULT",
                                    "127.0.0.1", 80), 0);
    make_snapshot(&s, 9, NULL, CAIRN_CHECK_TCP);
    gone = (cairn_bytes){other.bytes, other.len};
    cr_assert_eq(hc_table_apply_delta(&table, "public", SVC, &s, &gone, 1, 8000), 0);
    cairn_service_snapshot_free(&s);
    cr_assert(find("127.0.0.1", 80, true));

    /* A service the table does not hold: nothing to apply the delta to. */
    make_snapshot(&s, 10, (const char *const[]){"127.0.0.9:80:e", NULL}, CAIRN_CHECK_NONE);
    free(s.service.name);
    s.service.name = strdup("DEFAULT_GROUP@@unknown");
    cr_assert_eq(hc_table_apply_delta(&table, "public", "DEFAULT_GROUP@@unknown", &s, NULL, 0,
                                      9000),
                 1);
    cairn_service_snapshot_free(&s);
    cr_assert_eq(hc_table_revision(&table, "public", "DEFAULT_GROUP@@unknown"), 0);
}

Test(healthcheck_table, removed_service)
{
    cairn_service_snapshot s;
    make_snapshot(&s, 5, (const char *const[]){"127.0.0.1:80:e", NULL}, CAIRN_CHECK_TCP);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 1000, 0), 0);
    cairn_service_snapshot_free(&s);
    cairn_service_snapshot gone = {0};
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &gone, 2000, 0), 0);
    cr_assert_null(find("127.0.0.1", 80, true));
    cr_assert_eq(hc_table_revision(&table, "public", SVC), 0);
}

Test(healthcheck_table, probed_list_follows_checker_kind_and_network)
{
    cairn_service_snapshot s;
    make_snapshot(&s, 5,
                  (const char *const[]){"127.0.0.1:80:p", "127.1.0.1:80:p", "127.0.0.2:80:e", NULL},
                  CAIRN_CHECK_TCP);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 1000, 0), 0);
    cairn_service_snapshot_free(&s);
    size_t all, eph, probed;
    hc_table_counts(&table, &all, &eph, &probed);
    cr_assert_eq(all, 3);
    cr_assert_eq(eph, 1);
    cr_assert_eq(probed, 1, "only the persistent instance on an allowed network");
    hc_instance *p = find("127.0.0.1", 80, false);
    cr_assert_neq(p->probe_index, HC_NOT_PROBED);
    cr_assert_eq(find("127.1.0.1", 80, false)->probe_index, HC_NOT_PROBED);
    cr_assert(find("127.1.0.1", 80, false)->probe_denied);
    cr_assert_eq(hc_table_denied(&table), 1, "the persistent instance off the network");
    cr_assert_eq(hc_instance_cluster(p)->check_type, CAIRN_CHECK_TCP);

    /* The cluster's checker becomes NONE: no more probes. */
    make_snapshot(&s, 6,
                  (const char *const[]){"127.0.0.1:80:p", "127.1.0.1:80:p", "127.0.0.2:80:e", NULL},
                  CAIRN_CHECK_NONE);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 2000, 0), 0);
    cairn_service_snapshot_free(&s);
    hc_table_counts(&table, &all, &eph, &probed);
    cr_assert_eq(probed, 0);
    cr_assert_eq(hc_table_denied(&table), 0, "no checker, nothing denied");

    make_snapshot(&s, 7,
                  (const char *const[]){"127.0.0.1:80:p", "127.1.0.1:80:p", "127.1.0.2:80:p",
                                        NULL},
                  CAIRN_CHECK_TCP);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 2500, 0), 0);
    cairn_service_snapshot_free(&s);
    cr_assert_eq(hc_table_denied(&table), 2);

    /* Removed instances leave the count. */
    make_snapshot(&s, 8, (const char *const[]){"127.0.0.1:80:p", NULL}, CAIRN_CHECK_HTTP);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 3000, 0), 0);
    cairn_service_snapshot_free(&s);
    hc_table_counts(&table, &all, &eph, &probed);
    cr_assert_eq(all, 1);
    cr_assert_eq(probed, 1);
    cr_assert_eq(hc_table_denied(&table), 0);
    cr_assert_eq(table.probed[0], find("127.0.0.1", 80, false));
}

/* A fleet off the probe networks is not logged line by line: the first ten denied instances,
 * then the 100th, 1 000th, ... */
Test(healthcheck_table, denied_instances_are_logged_sampled)
{
    cr_redirect_stderr();
    enum { N = 1000 };
    char *specs[N + 1];
    for (int i = 0; i < N; i++) {
        char spec[64];
        snprintf(spec, sizeof spec, "127.1.%d.%d:80:p", i / 200, i % 200 + 1);
        specs[i] = strdup(spec);
    }
    specs[N] = NULL;
    cairn_service_snapshot s;
    make_snapshot(&s, 5, (const char *const *)specs, CAIRN_CHECK_TCP);
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 1000, 0), 0);
    cairn_service_snapshot_free(&s);
    for (int i = 0; i < N; i++)
        free(specs[i]);
    cr_assert_eq(hc_table_denied(&table), N);
    fflush(stderr);
    FILE *err = cr_get_redirected_stderr();
    char line[512];
    int lines = 0, summaries = 0;
    while (fgets(line, sizeof line, err)) {
        if (!strstr(line, "is not probed"))
            continue;
        lines++;
        if (strstr(line, "instances refused probes so far")) {
            summaries++;
            cr_expect(strstr(line, "(100 instances") || strstr(line, "(1000 instances"), "%s",
                      line);
        }
    }
    cr_assert_eq(lines, 12, "ten, the 100th and the 1000th: %d lines", lines);
    cr_assert_eq(summaries, 2);
}

Test(healthcheck_table, track_from_a_beat)
{
    cairn_instance in;
    cairn_instance_init(&in);
    in.ip = strdup("127.0.0.9");
    in.port = 9;
    in.cluster = NULL; /* DEFAULT */
    cairn_metadata_set(&in.metadata, CAIRN_META_BEAT_INTERVAL, "1200");
    hc_table_lock(&table);
    hc_instance *e = hc_table_track(&table, "public", SVC, &in, 777);
    cr_assert(e);
    cr_assert_eq(e->last_beat_ms, 777);
    cr_assert_eq(e->beat_interval_ms, 1200);
    cr_assert_eq(hc_table_track(&table, "public", SVC, &in, 999), e, "tracked once");
    cr_assert_str_eq(e->cluster, "DEFAULT");
    hc_table_remove(&table, e);
    cr_assert_null(hc_table_find(&table, "public", SVC, true, "DEFAULT", "127.0.0.9", 9));
    hc_table_unlock(&table);
    cairn_instance_free(&in);
}

/* Connection-owned instances live as long as their gRPC connection: the table never tracks them,
 * so the sweep neither expires them nor counts them for self-preservation. */
Test(healthcheck_table, owned_instances_are_not_tracked)
{
    cairn_service_snapshot s;
    make_snapshot(&s, 3, (const char *const[]){"127.0.0.1:80:e", "127.0.0.2:80:e", NULL},
                  CAIRN_CHECK_TCP);
    s.instances[1].owner = strdup("grpc/n1/0001/1700000000000_127.0.0.1_5000");
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 1000, 1), 0);
    cr_assert(find("127.0.0.1", 80, true));
    cr_assert_null(find("127.0.0.2", 80, true), "an owned instance is not tracked");
    size_t all, eph, probed;
    hc_table_counts(&table, &all, &eph, &probed);
    cr_expect_eq(eph, 1, "and is not counted among the ephemeral ones");
    /* One that a v1 client held before (tracked) is dropped once a connection owns it. */
    cairn_service_snapshot_free(&s);
    make_snapshot(&s, 4, (const char *const[]){"127.0.0.1:80:e", NULL}, CAIRN_CHECK_TCP);
    s.instances[0].owner = strdup("grpc/n1/0001/c2");
    cr_assert_eq(hc_table_apply(&table, "public", SVC, &s, 2000, 0), 0);
    cairn_service_snapshot_free(&s);
    cr_assert_null(find("127.0.0.1", 80, true));
}
