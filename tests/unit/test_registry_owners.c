/* Connection-owned instances in the registry: INSTANCE_SET_OWNED replaces an owner's share of a
 * service, OWNER_DROP removes an owner's (or a prefix's) instances in one write with one change
 * event per service, v1 writes and owned instances side by side. Real LMDB store, requests
 * through the msgpack encoding (test_registry_fixture.h). */
#include "test_registry_fixture.h"

#include "cairn_distro_rules.h"

#define SVC "DEFAULT_GROUP@@demo"
#define SVC2 "DEFAULT_GROUP@@other"

static fixture fx;

static void setup(void)
{
    fx_open(&fx, 512, 20000);
}

static void teardown(void)
{
    fx_close(&fx);
}

TestSuite(registry_owners, .init = setup, .fini = teardown);

static void owned(cairn_instance *in, const char *ip, int32_t port, const char *cluster)
{
    cairn_instance_init(in);
    in->ip = strdup(ip);
    in->port = port;
    in->cluster = cluster ? strdup(cluster) : NULL;
}

/* SET_OWNED of the given ip:port list (port 0 ends it) in cluster c1; returns the reply code. */
static cairn_err set_owned(const char *svc, const char *owner, const char *const *ips,
                           const int *ports)
{
    cairn_instance in[8];
    uint32_t n = 0;
    for (; ips && ips[n]; n++)
        owned(&in[n], ips[n], ports[n], n % 2 ? "c2" : NULL);
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_set_owned(&r, "public", svc, owner, in, n, &st),
                 CAIRN_OK, "%s", st.message);
    return fx_do(&fx, &r, NULL, NULL, 0);
}

static uint32_t drop(const char *owner, cairn_owner_mode mode)
{
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_owner_drop(&r, owner, mode, &st), CAIRN_OK);
    cairn_reply rep;
    fx_call(&fx, &r, &rep);
    cairn_request_free(&r);
    cr_assert_eq(rep.code, CAIRN_OK, "%s", rep.message ? rep.message : "");
    uint32_t total = rep.total;
    cairn_reply_free(&rep);
    return total;
}

static uint32_t count_of(const char *svc, const char *owner)
{
    cairn_reply rep;
    fx_snapshot(&fx, svc, &rep);
    uint32_t n = 0;
    for (uint32_t i = 0; i < rep.snapshot.instance_count; i++) {
        const char *o = rep.snapshot.instances[i].owner;
        if (!owner ? !o || !*o : o && strcmp(o, owner) == 0)
            n++;
    }
    cairn_reply_free(&rep);
    return n;
}

Test(registry_owners, set_owned_replaces_the_owners_share)
{
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/a", (const char *[]){"127.0.0.1", NULL},
                           (int[]){80}), CAIRN_OK);
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/b", (const char *[]){"127.0.0.2", "127.0.0.3", NULL},
                           (int[]){80, 81}), CAIRN_OK);
    fx_register(&fx, SVC, "127.0.0.9", 90, true); /* a v1 instance beside them */
    cr_expect_eq(count_of(SVC, "grpc/n1/1/a"), 1);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/b"), 2);
    cr_expect_eq(count_of(SVC, NULL), 1);

    /* A register replaces a: its old instance goes. */
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/a", (const char *[]){"127.0.0.4", NULL},
                           (int[]){80}), CAIRN_OK);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_expect_eq(rep.snapshot.instance_count, 4);
    for (uint32_t i = 0; i < rep.snapshot.instance_count; i++) {
        const cairn_instance *in = &rep.snapshot.instances[i];
        cr_expect_str_neq(in->ip, "127.0.0.1");
        cr_expect(in->ephemeral);
        cr_expect(in->instance_id && *in->instance_id, "every instance has an id");
        if (strcmp(in->ip, "127.0.0.4") == 0) {
            cr_expect_str_eq(in->cluster, "DEFAULT", "a blank cluster is DEFAULT");
            cr_expect_str_eq(in->instance_id, "127.0.0.4#80#DEFAULT#" SVC);
        }
    }
    cairn_reply_free(&rep);

    /* An empty list deregisters; again: still ok, nothing changes. */
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/b", NULL, NULL), CAIRN_OK);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/b"), 0);
    size_t events = fx_event_count(&fx);
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/b", NULL, NULL), CAIRN_OK);
    cr_assert_eq(set_owned("DEFAULT_GROUP@@missing", "grpc/n1/1/b", NULL, NULL), CAIRN_OK);
    cr_expect_eq(fx_event_count(&fx), events, "a deregister that removes nothing is no change");
}

Test(registry_owners, v1_delete_leaves_an_owned_instance)
{
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/a", (const char *[]){"127.0.0.1", NULL},
                           (int[]){80}), CAIRN_OK);
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_remove(&r, "public", SVC, "127.0.0.1", 80, "DEFAULT",
                                               true, &st), CAIRN_OK);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK, "answered ok");
    cr_expect_eq(count_of(SVC, "grpc/n1/1/a"), 1, "and the connection still owns it");
    /* A v1 register of the same ip:port:cluster takes it over (last writer owns it). */
    fx_register(&fx, SVC, "127.0.0.1", 80, true);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/a"), 0);
    cr_expect_eq(count_of(SVC, NULL), 1);
    cr_expect_eq(drop("grpc/n1/1/a", CAIRN_OWNER_EXACT), 0, "the v1 instance is not a's");
    cr_expect_eq(count_of(SVC, NULL), 1);
}

Test(registry_owners, drop_removes_every_service_with_one_event_each)
{
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/a", (const char *[]){"127.0.0.1", "127.0.0.2", NULL},
                           (int[]){80, 80}), CAIRN_OK);
    cr_assert_eq(set_owned(SVC2, "grpc/n1/1/a", (const char *[]){"127.0.0.1", NULL},
                           (int[]){80}), CAIRN_OK);
    cr_assert_eq(set_owned(SVC2, "grpc/n1/2/b", (const char *[]){"127.0.0.5", NULL},
                           (int[]){80}), CAIRN_OK);
    cr_assert_eq(set_owned(SVC2, "grpc/n2/1/c", (const char *[]){"127.0.0.6", NULL},
                           (int[]){80}), CAIRN_OK);
    fx_register(&fx, SVC, "127.0.0.9", 90, true);
    size_t before = fx_event_count(&fx);

    cr_expect_eq(drop("grpc/n1/1/a", CAIRN_OWNER_EXACT), 3);
    cr_assert_eq(fx_event_count(&fx), before + 2, "one event per service");
    pthread_mutex_lock(&fx.ev_mu);
    const cairn_change_event *e1 = &fx.events[before], *e2 = &fx.events[before + 1];
    cr_expect(strcmp(e1->service, e2->service) != 0);
    cr_expect_lt(e1->revision, e2->revision);
    cr_expect_eq(e2->prev_revision, e1->revision, "the chain holds");
    cr_expect_eq(e1->kind, CAIRN_CHANGE_INSTANCES);
    pthread_mutex_unlock(&fx.ev_mu);
    cr_expect_eq(count_of(SVC, NULL), 1, "the v1 instance stays");
    cr_expect_eq(count_of(SVC2, "grpc/n1/2/b"), 1);

    /* A prefix drops every incarnation of node n1, not n2. */
    cr_expect_eq(drop("grpc/n1/", CAIRN_OWNER_PREFIX), 1);
    cr_expect_eq(count_of(SVC2, "grpc/n1/2/b"), 0);
    cr_expect_eq(count_of(SVC2, "grpc/n2/1/c"), 1);
    cr_expect_eq(drop("grpc/n1/", CAIRN_OWNER_PREFIX), 0, "nothing left: ok, nothing changes");
}

/* OTHER_INCARNATIONS names one incarnation of a node: every other incarnation of that node goes,
 * its own instances and another node's stay, and sending it again changes nothing. */
Test(registry_owners, other_incarnations_keep_the_named_one)
{
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/a", (const char *[]){"127.0.0.1", NULL},
                           (int[]){80}), CAIRN_OK);
    cr_assert_eq(set_owned(SVC, "grpc/n1/10/a", (const char *[]){"127.0.0.2", NULL},
                           (int[]){80}), CAIRN_OK);
    cr_assert_eq(set_owned(SVC2, "grpc/n1/2/b", (const char *[]){"127.0.0.3", NULL},
                           (int[]){80}), CAIRN_OK);
    cr_assert_eq(set_owned(SVC2, "grpc/n2/1/c", (const char *[]){"127.0.0.4", NULL},
                           (int[]){80}), CAIRN_OK);
    cr_expect_eq(drop("grpc/n1/2/", CAIRN_OWNER_OTHER_INCARNATIONS), 2);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/a"), 0);
    cr_expect_eq(count_of(SVC, "grpc/n1/10/a"), 0, "10 is another incarnation than 1");
    cr_expect_eq(count_of(SVC2, "grpc/n1/2/b"), 1, "the named incarnation stays");
    cr_expect_eq(count_of(SVC2, "grpc/n2/1/c"), 1, "another node's stays");
    cr_expect_eq(drop("grpc/n1/2/", CAIRN_OWNER_OTHER_INCARNATIONS), 0, "again: nothing changes");

    /* an owner that names no incarnation is refused, and nothing goes */
    const char *bad[] = {"grpc/n1/2", "/", "grpc", "grpc//", "grpc//2/", "/n1/2/", "grpc/n1//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_request r;
        cairn_status st;
        cr_assert_eq(cairn_request_owner_drop(&r, bad[i], CAIRN_OWNER_OTHER_INCARNATIONS, &st),
                     CAIRN_OK);
        cairn_reply rep;
        fx_call(&fx, &r, &rep);
        cairn_request_free(&r);
        cr_expect_eq(rep.code, CAIRN_E_INVALID, "%s", bad[i]);
        cr_expect(rep.message && strstr(rep.message, "names no incarnation"), "%s",
                  rep.message ? rep.message : "");
        cairn_reply_free(&rep);
    }
    cr_expect_eq(count_of(SVC2, "grpc/n1/2/b"), 1);
}

Test(registry_owners, set_owned_refuses_bad_instances_whole)
{
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/a", (const char *[]){"127.0.0.1", NULL},
                           (int[]){80}), CAIRN_OK);
    cairn_instance in[2];
    owned(&in[0], "127.0.0.2", 80, NULL);
    owned(&in[1], "127.0.0.3", 80, "bad.cluster");
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_instance_set_owned(&r, "public", SVC, "grpc/n1/1/a", in, 2, &st),
                 CAIRN_OK);
    cr_expect_neq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_expect_eq(rep.snapshot.instance_count, 1, "nothing of a refused batch is applied");
    cr_expect_str_eq(rep.snapshot.instances[0].ip, "127.0.0.1");
    cairn_reply_free(&rep);
}

/* A member's share of a dead member's instances: OWNER_DROP with the owner list and self removes
 * them only from the services self owns among those owners. */
Test(registry_owners, a_scoped_drop_removes_only_in_the_services_self_owns)
{
    const char *owners[] = {"127.0.0.1:8848", "127.0.0.2:8848"};
    /* two services, one for each owner */
    char mine[64] = "", theirs[64] = "";
    for (int k = 0; k < 100 && (!mine[0] || !theirs[0]); k++) {
        char name[64];
        snprintf(name, sizeof name, "DEFAULT_GROUP@@s%d", k);
        bool self = cairn_distro_selected(name, owners, 2, owners[0]);
        if (self && !mine[0])
            snprintf(mine, sizeof mine, "%s", name);
        if (!self && !theirs[0])
            snprintf(theirs, sizeof theirs, "%s", name);
    }
    cr_assert(mine[0] && theirs[0]);
    const char *dead = "grpc/127.0.0.3:8848/1/a", *live = "grpc/127.0.0.2:8848/1/b";
    cr_assert_eq(set_owned(mine, dead, (const char *[]){"127.0.0.1", NULL}, (int[]){80}),
                 CAIRN_OK);
    cr_assert_eq(set_owned(theirs, dead, (const char *[]){"127.0.0.1", NULL}, (int[]){80}),
                 CAIRN_OK);
    cr_assert_eq(set_owned(mine, live, (const char *[]){"127.0.0.2", NULL}, (int[]){80}),
                 CAIRN_OK);
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_owner_drop_owned(&r, "grpc/127.0.0.3:8848/", CAIRN_OWNER_PREFIX,
                                                owners, 2, owners[0], &st),
                 CAIRN_OK, "%s", st.message);
    cairn_reply rep;
    fx_call(&fx, &r, &rep);
    cairn_request_free(&r);
    cr_assert_eq(rep.code, CAIRN_OK);
    cr_expect_eq(rep.total, 1);
    cairn_reply_free(&rep);
    cr_expect_eq(count_of(mine, dead), 0, "self's service: dropped");
    cr_expect_eq(count_of(theirs, dead), 1, "the other owner's service: left to it");
    cr_expect_eq(count_of(mine, live), 1, "another member's connection stays");
}

/* A state replicated by Distro is indexed by its owners, so the member that takes a service over
 * can drop a dead member's connections from it. */
Test(registry_owners, replicated_owned_instances_can_be_dropped)
{
    cairn_distro_state *ds = calloc(1, sizeof *ds);
    ds->namespace_id = strdup("public");
    ds->service = strdup(SVC);
    ds->version.epoch = 77;
    ds->version.seq = 5;
    ds->version.origin = strdup("127.0.0.2:8848");
    ds->instances = calloc(2, sizeof *ds->instances);
    ds->instance_count = 2;
    owned(&ds->instances[0], "127.0.0.1", 80, NULL);
    ds->instances[0].ephemeral = true;
    ds->instances[0].owner = strdup("grpc/127.0.0.3:8848/1/a");
    owned(&ds->instances[1], "127.0.0.2", 80, NULL);
    ds->instances[1].ephemeral = true;
    cairn_request r;
    cairn_status st;
    cr_assert_eq(cairn_request_distro_apply(&r, ds, 1, CAIRN_DISTRO_FORCE, 0, &st), CAIRN_OK,
                 "%s", st.message);
    cr_assert_eq(fx_do(&fx, &r, NULL, NULL, 0), CAIRN_OK);
    cr_assert_eq(count_of(SVC, "grpc/127.0.0.3:8848/1/a"), 1, "the owner came with the state");
    cr_expect_eq(drop("grpc/127.0.0.3:8848/", CAIRN_OWNER_PREFIX), 1);
    cr_expect_eq(count_of(SVC, "grpc/127.0.0.3:8848/1/a"), 0);
    cr_expect_eq(count_of(SVC, NULL), 1, "the instance without an owner stays");
}

/* An owned write is an ephemeral write like any other: it carries the store's Distro version, so
 * the owner's sync (which leaves out states without one) sends it to the other members. */
Test(registry_owners, owned_writes_and_drops_carry_a_distro_version)
{
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/a", (const char *[]){"127.0.0.1", NULL}, (int[]){80}),
                 CAIRN_OK);
    uint64_t seq = 0;
    for (int round = 0; round < 2; round++) {
        const char *ns[] = {"public"}, *svc[] = {SVC};
        cairn_request r;
        cairn_status st;
        cr_assert_eq(cairn_request_distro_fetch(&r, ns, svc, 1, &st), CAIRN_OK, "%s",
                     st.message);
        cairn_reply rep;
        fx_call(&fx, &r, &rep);
        cairn_request_free(&r);
        cr_assert_eq(rep.code, CAIRN_OK);
        cr_assert_eq(rep.state_count, 1);
        cr_expect_neq(rep.states[0].version.epoch, 0, "round %d: versioned", round);
        cr_expect_gt(rep.states[0].version.seq, seq, "round %d: a newer version", round);
        seq = rep.states[0].version.seq;
        cr_expect_eq(rep.states[0].instance_count, round == 0 ? 1u : 0u);
        cairn_reply_free(&rep);
        if (round == 0)
            cr_expect_eq(drop("grpc/n1/1/a", CAIRN_OWNER_EXACT), 1);
    }
}

/* The owners index lists each owner's instance keys, so replacing one owner's share touches only
 * its instances among many; an entry written before the lists (an empty value) still finds the
 * owner's instances, by reading the service, for a replace and for a drop. */
Test(registry_owners, the_index_finds_an_owners_share_among_many)
{
    char owner[32], ip[32];
    for (int i = 0; i < 20; i++) {
        snprintf(owner, sizeof owner, "grpc/n1/1/%d", i);
        snprintf(ip, sizeof ip, "127.0.1.%d", i + 1);
        cr_assert_eq(set_owned(SVC, owner, (const char *[]){ip, NULL}, (int[]){80}), CAIRN_OK);
    }
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/5", (const char *[]){"127.0.2.5", "127.0.2.6", NULL},
                           (int[]){80, 81}),
                 CAIRN_OK);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/5"), 2);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/6"), 1);
    cairn_reply rep;
    fx_snapshot(&fx, SVC, &rep);
    cr_expect_eq(rep.snapshot.instance_count, 21);
    cr_expect_null(snap_find(&rep, "127.0.1.6", 80, "DEFAULT", true), "5's old instance stays");
    cairn_reply_free(&rep);

    /* The entries of owners 7 and 8 as a store from before the lists has them. */
    MDB_txn *txn;
    cairn_status st;
    cr_assert_eq(mdb_txn_begin(fx.store.env, NULL, 0, &txn), 0);
    cr_assert_eq(registry_owners_put(&fx.store, txn, "grpc/n1/1/7", "public", SVC, NULL, 0, &st),
                 CAIRN_OK);
    cr_assert_eq(registry_owners_put(&fx.store, txn, "grpc/n1/1/8", "public", SVC, NULL, 0, &st),
                 CAIRN_OK);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    cr_assert_eq(set_owned(SVC, "grpc/n1/1/7", (const char *[]){"127.0.2.7", NULL}, (int[]){80}),
                 CAIRN_OK);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/7"), 1);
    fx_snapshot(&fx, SVC, &rep);
    cr_expect_null(snap_find(&rep, "127.0.1.8", 80, "DEFAULT", true), "7's old instance stays");
    cr_expect_not_null(snap_find(&rep, "127.0.1.9", 80, "DEFAULT", true), "8's is not 7's");
    cairn_reply_free(&rep);
    cr_expect_eq(drop("grpc/n1/1/8", CAIRN_OWNER_EXACT), 1);
    cr_expect_eq(count_of(SVC, "grpc/n1/1/8"), 0);
    cr_expect_eq(drop("grpc/n1/1/5", CAIRN_OWNER_EXACT), 2);
    cr_expect_eq(count_of(SVC, NULL), 0);
    fx_snapshot(&fx, SVC, &rep);
    cr_expect_eq(rep.snapshot.instance_count, 18);
    cairn_reply_free(&rep);
}
