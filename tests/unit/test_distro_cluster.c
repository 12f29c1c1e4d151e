/* Three nodes' Distro engines wired together in one process, in virtual time: each node has a
 * toy store of (service -> version, content digest), a view, a sync scheduler per peer and a
 * verify engine; the test carries the messages. It checks that the engines compose: drift is
 * repaired within one verify round plus a sync, a stray copy the owner deleted is removed, and a
 * round during a membership change (#10323) deletes nothing. A toy store applies a state by the
 * registry's own rule (cairn_distro_decide, §2.5 step 4). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cairn_distro_rules.h"
#include "distro_compare.h"
#include "distro_sync.h"
#include "distro_verify.h"

#define NODES 3
#define KEYS 24

static const char *ids[NODES] = {"127.0.0.1:8848", "127.0.0.2:8848", "127.0.0.3:8848"};
static char names[KEYS][32];

typedef struct copy {
    bool present;
    cairn_distro_version v; /* origin borrowed (a string of ids[]) */
    uint64_t digest;
} copy;

typedef struct node {
    int me;
    uint64_t epoch, seq;
    copy store[KEYS];
    distro_view *view;
    distro_sync *sync[NODES]; /* [me] unused */
    distro_verify *verify;
} node;

static node nodes[NODES];
static uint64_t deletions;

static distro_key key_of(int k)
{
    return (distro_key){"public", names[k]};
}

static int index_of(const distro_key *k)
{
    return atoi(strrchr(k->service, '-') + 1);
}

static void set_view(node *n, int members_mask)
{
    const char *m[NODES];
    size_t c = 0;
    for (int i = 0; i < NODES; i++)
        if (members_mask & (1 << i))
            m[c++] = ids[i];
    distro_view_free(n->view);
    n->view = distro_view_new(m, c, ids[n->me]);
    cr_assert_not_null(n->view);
}

static void setup(void)
{
    deletions = 0;
    for (int k = 0; k < KEYS; k++)
        snprintf(names[k], sizeof names[k], "DEFAULT_GROUP@@svc-%d", k);
    distro_sync_config sc;
    distro_sync_config_defaults(&sc);
    distro_verify_config vc;
    distro_verify_config_defaults(&vc);
    for (int i = 0; i < NODES; i++) {
        node *n = &nodes[i];
        memset(n, 0, sizeof *n);
        n->me = i;
        n->epoch = 100 + (uint64_t)i;
        set_view(n, 7);
        const char *peers[NODES - 1];
        size_t c = 0;
        for (int j = 0; j < NODES; j++)
            if (j != i) {
                n->sync[j] = distro_sync_new(&sc, ids[j]);
                distro_sync_set_peer_state(n->sync[j], DISTRO_PEER_UP, 0);
                peers[c++] = ids[j];
            }
        n->verify = distro_verify_new(&vc, peers, c);
        distro_verify_set_self_ready(n->verify, true, 0);
        for (int j = 0; j < NODES; j++)
            if (j != i)
                distro_verify_set_peer_ready(n->verify, ids[j], true, 0);
    }
}

static void teardown(void)
{
    for (int i = 0; i < NODES; i++) {
        for (int j = 0; j < NODES; j++)
            distro_sync_free(nodes[i].sync[j]);
        distro_verify_free(nodes[i].verify);
        distro_view_free(nodes[i].view);
    }
}

TestSuite(distro_cluster, .init = setup, .fini = teardown);

/* The owner writes: a new version of its own (no origin, as the registry stamps local writes),
 * and a mark for every peer. */
static void owner_write(node *n, int k, uint64_t digest, int64_t now)
{
    cr_assert(distro_view_self_owns(n->view, names[k]));
    n->store[k] = (copy){true, {n->epoch, ++n->seq, NULL}, digest};
    distro_key dk = key_of(k);
    for (int j = 0; j < NODES; j++)
        if (n->sync[j])
            cr_assert_eq(distro_sync_mark_dirty(n->sync[j], &dk, now), 0);
}

/* The registry's rule: cairn_distro_decide under the mode cairn_distro_mode_for picks from the
 * receiver's view. The applied copy names the sender as its origin, as the replicator does. */
static void apply(node *to, int from, int k, const copy *c)
{
    const copy *held = &to->store[k];
    cairn_distro_mode mode = cairn_distro_mode_for(
        distro_view_owned_by(to->view, names[k], ids[from]),
        distro_view_self_owns(to->view, names[k]));
    if (cairn_distro_decide(held->present ? &held->v : NULL, &c->v, mode) ==
        CAIRN_DISTRO_VERDICT_APPLY) {
        to->store[k] = *c;
        to->store[k].v.origin = c->v.origin ? c->v.origin : (char *)ids[from];
    }
}

/* A DISTRO_KEYS state; the toy digest's bytes stand for the content digest. */
static cairn_distro_state listing(int k, const copy *c)
{
    distro_key dk = key_of(k);
    cairn_distro_state e = {.namespace_id = (char *)dk.namespace_id,
                            .service = (char *)dk.service,
                            .version = c->v,
                            .has_digest = true};
    memcpy(e.digest, &c->digest, sizeof c->digest);
    return e;
}

static void run_syncs(int64_t now)
{
    for (int i = 0; i < NODES; i++)
        for (int j = 0; j < NODES; j++) {
            distro_sync_batch b;
            if (!nodes[i].sync[j] || !distro_sync_take_batch(nodes[i].sync[j], now, &b))
                continue;
            for (size_t x = 0; x < b.n; x++) {
                int k = index_of(&b.keys[x]);
                apply(&nodes[j], i, k, &nodes[i].store[k]);
            }
            distro_sync_batch_done(nodes[i].sync[j], b.id, now);
        }
}

static void on_verdict(void *ctx, distro_verdict v, const distro_key *k)
{
    distro_key *lists = ctx; /* [0..KEYS) want, [KEYS..2*KEYS) offer */
    int i = index_of(k);
    if (v == DISTRO_VERDICT_DELETE) {
        nodes[(int)(intptr_t)lists[2 * KEYS].namespace_id].store[i].present = false;
        deletions++;
    } else {
        lists[(v == DISTRO_VERDICT_WANT ? 0 : KEYS) + i] = *k;
    }
}

static void on_repair(void *ctx, distro_repair_kind kind, const char *peer, const distro_key *k)
{
    node *owner = ctx;
    int i = index_of(k), p = strcmp(peer, ids[0]) == 0 ? 0 : strcmp(peer, ids[1]) == 0 ? 1 : 2;
    if (kind == DISTRO_REPAIR_SEND)
        cr_assert_eq(distro_sync_mark_dirty(owner->sync[p], k, 0), 0);
    else { /* fetched, re-published as the owner's own write, above the offered seq (the
            * owner's store may have lost revisions it had synced, e.g. unsynced LMDB pages) */
        const copy *c = &nodes[p].store[i];
        if (cairn_distro_compare(&c->v, &owner->store[i].v) == CAIRN_DISTRO_VERSION_NEWER &&
            c->v.seq > owner->seq)
            owner->seq = c->v.seq;
        owner_write(owner, i, c->digest, 0);
    }
}

/* One verify round from owner o to peer p, the whole key space as one bucket. */
static void verify_round(int o, int p, int64_t now)
{
    node *own = &nodes[o], *peer = &nodes[p];
    cairn_distro_state listed[KEYS], local[KEYS];
    size_t nl = 0, nm = 0;
    for (int k = 0; k < KEYS; k++) {
        if (own->store[k].present && distro_view_self_owns(own->view, names[k]))
            listed[nl++] = listing(k, &own->store[k]);
        if (peer->store[k].present)
            local[nm++] = listing(k, &peer->store[k]);
    }
    distro_verify_round r;
    cr_assert(distro_verify_start_round(own->verify, now, &r));
    cr_assert_str_eq(r.peer, ids[p]);
    distro_verify_on_buckets(own->verify, ids[p], r.id, 1, now);
    distro_key lists[2 * KEYS + 1];
    memset(lists, 0, sizeof lists);
    lists[2 * KEYS].namespace_id = (const char *)(intptr_t)p;
    distro_compare_input in = {true, peer->view, ids[o], distro_view_hash(own->view), own->epoch,
                               listed, nl, local, nm};
    distro_compare_result res;
    cr_assert_eq(distro_compare_bucket(&in, on_verdict, lists, &res), 0);
    distro_key want[KEYS], offer[KEYS];
    size_t nw = 0, no = 0;
    for (int k = 0; k < KEYS; k++) {
        if (lists[k].service)
            want[nw++] = lists[k];
        if (lists[KEYS + k].service)
            offer[no++] = lists[KEYS + k];
    }
    distro_verify_answer a = {want, nw, offer, no};
    distro_verify_on_keys(own->verify, ids[p], r.id, &a, own->view, on_repair, own, now);
}

static bool converged(void)
{
    for (int i = 1; i < NODES; i++)
        for (int k = 0; k < KEYS; k++) {
            const copy *a = &nodes[0].store[k], *b = &nodes[i].store[k];
            if (a->present != b->present ||
                (a->present && (a->digest != b->digest ||
                                cairn_distro_compare(&a->v, &b->v) != CAIRN_DISTRO_VERSION_EQUAL)))
                return false;
        }
    return true;
}

static int owner_index(const distro_view *v, int k)
{
    const char *o = distro_view_owner_of(v, names[k]);
    for (int i = 0; i < NODES; i++)
        if (strcmp(o, ids[i]) == 0)
            return i;
    return -1;
}

static void write_everything(int64_t now)
{
    for (int k = 0; k < KEYS; k++)
        owner_write(&nodes[owner_index(nodes[0].view, k)], k, 1000 + (uint64_t)k, now);
    run_syncs(now + 50);
    cr_assert(converged());
}

/* One round per ordered pair, then the syncs its repairs caused. */
static void all_rounds(int64_t now)
{
    for (int o = 0; o < NODES; o++)
        for (int p = 0; p < NODES; p++)
            if (o != p)
                verify_round(o, p, now);
    run_syncs(now + 50);
}

Test(distro_cluster, drift_is_repaired_in_one_round)
{
    write_everything(0);
    node *b = &nodes[1];
    int pick[3], np = 0; /* three services B does not own */
    for (int k = 0; k < KEYS && np < 3; k++)
        if (owner_index(b->view, k) != 1)
            pick[np++] = k;
    cr_assert_eq(np, 3);
    int k_lost = pick[0], k_old = pick[1], k_stray = pick[2];
    int o_stray = owner_index(b->view, k_stray);
    /* B lost a copy, holds an old one, and keeps a copy its owner deleted */
    b->store[k_lost].present = false;
    b->store[k_old].v.seq -= 1;
    b->store[k_old].digest = 7;
    nodes[o_stray].store[k_stray].present = false; /* the owner deleted it (tombstone purged) */
    for (int i = 0; i < NODES; i++)
        if (i != o_stray && i != 1)
            nodes[i].store[k_stray].present = false;
    cr_assert_not(converged());
    all_rounds(5000);
    cr_expect(converged());
    cr_expect_not(b->store[k_stray].present);
    cr_expect_eq(deletions, 1);
}

Test(distro_cluster, a_write_the_owner_lost_is_offered_and_republished)
{
    write_everything(0);
    /* a newer write reached B (synced by the owner just before its store lost it) */
    int k = 3, o = owner_index(nodes[0].view, k);
    int p = (o + 1) % NODES;
    nodes[p].store[k].v.seq += 50; /* above anything the owner wrote since */
    uint64_t offered = nodes[p].store[k].v.seq;
    nodes[p].store[k].digest = 4242;
    all_rounds(5000); /* offered, fetched, re-published, synced */
    cr_expect(converged());
    cr_expect_eq(nodes[o].store[k].digest, 4242);
    cr_expect_gt(nodes[o].store[k].v.seq, offered);
    cr_expect_eq(deletions, 0);
}

/* #10323: A has dropped C from its view (C looks DOWN to A only); B still counts C in. Rounds
 * in both directions while the views disagree delete nothing; once the views agree, rounds
 * converge with every key still present. */
Test(distro_cluster, membership_change_deletes_nothing)
{
    write_everything(0);
    set_view(&nodes[0], 3); /* A: {A, B} */
    for (int k = 0; k < KEYS; k++) /* and A forgets a few copies it now owns */
        if (owner_index(nodes[0].view, k) == 0 && k % 3 == 0)
            nodes[0].store[k].present = false;
    verify_round(0, 1, 5000);
    verify_round(1, 0, 5000);
    cr_expect_eq(deletions, 0);
    for (int k = 0; k < KEYS; k++)
        if (!(owner_index(nodes[0].view, k) == 0 && k % 3 == 0))
            cr_expect(nodes[1].store[k].present, "key %d", k);
    /* C returns in A's view: both agree again */
    set_view(&nodes[0], 7);
    run_syncs(5100);
    all_rounds(10000);
    all_rounds(15000);
    cr_expect(converged());
    for (int k = 0; k < KEYS; k++)
        cr_expect(nodes[2].store[k].present, "key %d", k);
}
