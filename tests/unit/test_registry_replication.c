/* The registry's support for the replication writes: writes that change many services and name
 * them (registry_write_note_change, rewound with an aborted nested transaction), the store's Distro
 * epoch and fresh flag across reopening, and the watermark kept with the data. */
#include "test_registry_fixture.h"

static fixture fx;

static void teardown(void)
{
    fx_close(&fx);
}

TestSuite(registry_replication, .fini = teardown);

/* Creates implicit services a, b and c (named changes), and d in a nested transaction that it
 * aborts after noting it. Fails after all that when the request's mode is 1. */
static cairn_err apply_many(registry_write_ctx *c, const cairn_request *req, cairn_reply *rep,
                            cairn_status *st)
{
    static const char *const names[] = {"g@@a", "g@@b", "g@@c"};
    for (int i = 0; i < 3; i++) {
        cairn_service svc;
        cairn_err err = registry_new_service(&svc, "public", names[i], st);
        if (!err)
            err = registry_touch_noted(c, &svc, CAIRN_CHANGE_INSTANCES, st);
        cairn_service_free(&svc);
        if (err)
            return err;
    }
    MDB_txn *child;
    cr_assert_eq(mdb_txn_begin(c->store->env, c->txn, 0, &child), 0);
    registry_write_ctx sub = *c;
    sub.txn = child;
    size_t mark = registry_write_notes_mark(c);
    cairn_service d;
    cr_assert_eq(registry_new_service(&d, "public", "g@@d", st), CAIRN_OK);
    cr_assert_eq(registry_touch_noted(&sub, &d, CAIRN_CHANGE_SERVICE, st), CAIRN_OK);
    cairn_service_free(&d);
    mdb_txn_abort(child);
    registry_write_notes_rewind(c, mark);
    c->durable = true;
    if (req->mode == 1)
        return cairn_fail(st, CAIRN_E_INVALID, "failing on purpose");
    return CAIRN_OK;
}

static cairn_err submit_many(uint32_t mode)
{
    cairn_request rq;
    cairn_request_init(&rq, CAIRN_MSG_DISTRO_LOAD_END); /* any type: it labels the metric */
    rq.mode = mode;
    cairn_reply rep;
    cairn_reply_init(&rep);
    registry_write wr = {.apply = apply_many, .req = &rq, .namespace_id = "", .service = NULL,
                         .rep = &rep};
    registry_writer_submit(fx.writer, &wr);
    cairn_err code = rep.code;
    cairn_reply_free(&rep);
    return code;
}

static bool has_event(const char *svc)
{
    for (size_t i = 0; i < fx.n_events; i++)
        if (strcmp(fx.events[i].service, svc) == 0)
            return true;
    return false;
}

Test(registry_replication, a_write_names_the_services_it_changes)
{
    fx_open(&fx, 512, 20000);
    cairn_histogram *sync = fx.metrics.sync_seconds;
    cr_assert_eq(submit_many(1), CAIRN_E_INVALID);
    cr_expect_eq(fx.n_events, 0, "a failed write published events");
    cr_expect_eq(cairn_histogram_count(sync), 0);
    cr_assert_eq(submit_many(0), CAIRN_OK);
    cr_expect_eq(fx.n_events, 3);
    cr_expect(has_event("g@@a") && has_event("g@@b") && has_event("g@@c"));
    cr_expect_not(has_event("g@@d"), "an aborted change was published");
    cr_expect_eq(cairn_histogram_count(sync), 1, "a durable many-service write is synced");
    for (size_t i = 1; i < fx.n_events; i++) {
        cr_expect_gt(fx.events[i].revision, fx.events[i - 1].revision);
        cr_expect_eq(fx.events[i].prev_revision, fx.events[i - 1].revision);
    }
    for (size_t i = 0; i < fx.n_events; i++)
        cr_expect_not_null(fx.events[i].snapshot, "events of named changes carry snapshots");
}

/* The store's meta as a STATS reply gives it. */
static void stats(cairn_reply *rep)
{
    cairn_request rq;
    cairn_status st;
    cr_assert_eq(cairn_request_stats(&rq, &st), CAIRN_OK);
    cairn_reply_init(rep);
    registry_handle(&fx.reg, &rq, rep);
    cr_assert_eq(rep->code, CAIRN_OK);
    cairn_request_free(&rq);
}

Test(registry_replication, epoch_and_freshness_survive_reopening)
{
    fx_open(&fx, 512, 20000);
    cairn_reply rep;
    stats(&rep);
    uint64_t epoch = rep.store_epoch;
    cr_expect_neq(epoch, 0);
    cr_expect(rep.store_fresh);
    cr_expect_eq(rep.raft_applied, 0);
    cairn_reply_free(&rep);
    fx_stop(&fx);
    fx_start(&fx);
    stats(&rep);
    cr_expect_eq(rep.store_epoch, epoch, "the epoch is made once");
    cr_expect(rep.store_fresh, "reopening an empty store keeps it fresh");
    cairn_reply_free(&rep);
    fx_register(&fx, "DEFAULT_GROUP@@x", "127.0.0.1", 80, true);
    stats(&rep);
    cr_expect_not(rep.store_fresh);
    cairn_reply_free(&rep);
    fx_stop(&fx);
    fx_start(&fx);
    stats(&rep);
    cr_expect_not(rep.store_fresh);
    cr_expect_eq(rep.store_epoch, epoch);
    cairn_reply_free(&rep);

    /* Another store, another epoch. */
    fixture other;
    fx_open(&other, 512, 20000);
    cr_expect_neq(other.store.epoch, epoch);
    fx_close(&other);
}

#include "registry_digest_cache.h"

Test(registry_replication, digest_cache_hits_only_at_its_revision)
{
    registry_digest_cache *c = registry_digest_cache_new(2);
    cr_assert_not_null(c);
    uint8_t d[CAIRN_DISTRO_DIGEST_LEN] = {1, 2, 3}, got[CAIRN_DISTRO_DIGEST_LEN];
    bool held = false;
    cr_expect_not(registry_digest_cache_get(c, "public", "g@@a", 5, got, &held));
    registry_digest_cache_put(c, "public", "g@@a", 5, d, true);
    cr_expect(registry_digest_cache_get(c, "public", "g@@a", 5, got, &held));
    cr_expect(held);
    cr_expect(memcmp(got, d, sizeof d) == 0);
    cr_expect_not(registry_digest_cache_get(c, "public", "g@@a", 6, got, &held),
                  "a newer revision hit an older digest");
    cr_expect_not(registry_digest_cache_get(c, "other", "g@@a", 5, got, &held));
    registry_digest_cache_put(c, "public", "g@@b", 1, d, false);
    registry_digest_cache_put(c, "public", "g@@c", 1, d, false); /* over the bound: emptied */
    cr_expect_not(registry_digest_cache_get(c, "public", "g@@a", 5, got, &held));
    cr_expect(registry_digest_cache_get(c, "public", "g@@c", 1, got, &held));
    cr_expect_not(held);
    registry_digest_cache_free(c);
    cr_expect_not(registry_digest_cache_get(NULL, "public", "g@@c", 1, got, &held));
}

static cairn_err load_end(uint64_t load_id, cairn_status *st)
{
    cairn_request rq;
    cr_assert_eq(cairn_request_distro_load_end(&rq, load_id, st), CAIRN_OK);
    cairn_reply rep;
    cairn_reply_init(&rep);
    registry_handle(&fx.reg, &rq, &rep);
    cairn_err code = rep.code;
    snprintf(st->message, sizeof st->message, "%s", rep.message ? rep.message : "");
    cairn_reply_free(&rep);
    cairn_request_free(&rq);
    return code;
}

Test(registry_replication, a_load_that_brought_nothing_ends_a_fresh_store)
{
    fx_open(&fx, 512, 20000);
    cairn_status st;
    /* the source held no ephemeral state: no page began the load */
    cr_expect_eq(load_end(7, &st), CAIRN_OK, "%s", st.message);
    cairn_reply rep;
    stats(&rep);
    cr_expect_not(rep.store_fresh, "the ended load leaves the store fresh");
    cairn_reply_free(&rep);
    /* a store that is not fresh has no load to end */
    cr_expect_eq(load_end(8, &st), CAIRN_E_CONFLICT);
    cr_expect(strstr(st.message, "not under way"), "%s", st.message);
}
