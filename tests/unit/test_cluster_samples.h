/* Sample replication messages (DISTRO_*, PERSIST_*), built through cairn_requests.h: the same
 * samples feed the round trip of every message type (test_msg.c) and the golden bytes and
 * rejection sweeps of test_msg_cluster.c. Header-only, static. */
#ifndef TEST_CLUSTER_SAMPLES_H
#define TEST_CLUSTER_SAMPLES_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_msg.h"
#include "cairn_requests.h"

/* An ephemeral instance ip:port in DEFAULT, weight 1, healthy. */
static inline void cs_instance(cairn_instance *in, const char *ip, int32_t port)
{
    cairn_instance_init(in);
    in->ip = strdup(ip);
    in->port = port;
    in->cluster = strdup("DEFAULT");
    in->instance_id = strdup("id");
    in->modified_ms = 5;
}

/* A state of (ns, svc) at (epoch, seq, origin) with n instances 127.0.0.1:1.. */
static inline void cs_state(cairn_distro_state *ds, const char *ns, const char *svc,
                            uint64_t epoch, uint64_t seq, const char *origin, uint32_t n)
{
    memset(ds, 0, sizeof *ds);
    ds->namespace_id = strdup(ns);
    ds->service = strdup(svc);
    ds->version.epoch = epoch;
    ds->version.seq = seq;
    ds->version.origin = origin ? strdup(origin) : NULL;
    ds->instances = n ? calloc(n, sizeof *ds->instances) : NULL;
    ds->instance_count = n;
    for (uint32_t i = 0; i < n; i++)
        cs_instance(&ds->instances[i], "127.0.0.1", (int32_t)(i + 1));
}

static inline void cs_ok(cairn_err err, const cairn_status *st)
{
    cr_assert_eq(err, CAIRN_OK, "%s", st->message);
}

static inline void cs_distro_apply(cairn_request *rq)
{
    cairn_distro_state *ds = calloc(2, sizeof *ds);
    cs_state(&ds[0], "public", "g@@s", 9, 3, "127.0.0.1:8848", 1);
    cs_state(&ds[1], "public", "g@@t", 9, 4, NULL, 0); /* a tombstone */
    cairn_status st;
    cs_ok(cairn_request_distro_apply(rq, ds, 2, CAIRN_DISTRO_OWNER, 7, &st), &st);
}

static inline void cs_distro_digests(cairn_request *rq)
{
    const char *owners[] = {"127.0.0.1:8848", "127.0.0.2:8848"};
    cairn_status st;
    cs_ok(cairn_request_distro_digests(rq, owners, 2, "127.0.0.2:8848", &st), &st);
}

static inline void cs_distro_keys(cairn_request *rq)
{
    const char *owners[] = {"127.0.0.1:8848"};
    cairn_status st;
    cs_ok(cairn_request_distro_keys(rq, 255, owners, 1, "127.0.0.1:8848", "public", "g@@s", 10,
                                    &st),
          &st);
}

static inline void cs_distro_fetch(cairn_request *rq)
{
    const char *ns[] = {"public", "ns-1"};
    const char *svc[] = {"g@@s", "g@@t"};
    cairn_status st;
    cs_ok(cairn_request_distro_fetch(rq, ns, svc, 2, &st), &st);
}

static inline void cs_distro_snapshot(cairn_request *rq)
{
    cairn_status st;
    cs_ok(cairn_request_distro_snapshot(rq, "public", "g@@s", 65536, &st), &st);
}

static inline void cs_distro_load_end(cairn_request *rq)
{
    cairn_status st;
    cs_ok(cairn_request_distro_load_end(rq, 7, &st), &st);
}

/* The four kinds of record: put service, put instance, delete instance, delete service. */
static inline cairn_persist_record *cs_records(uint32_t *n)
{
    cairn_persist_record *r = calloc(4, sizeof *r);
    for (int i = 0; i < 4; i++) {
        cairn_service_init(&r[i].service_def);
        cairn_instance_init(&r[i].instance);
        r[i].namespace_id = strdup("public");
        r[i].service = strdup("g@@p");
        r[i].has_value = i < 3;
    }
    r[0].kind = CAIRN_PERSIST_SERVICE;
    r[0].service_def.protect_threshold = 0.5f;
    r[0].service_def.defined = true;
    r[1].kind = CAIRN_PERSIST_INSTANCE;
    cairn_instance_free(&r[1].instance);
    cs_instance(&r[1].instance, "127.0.0.3", 80);
    r[1].instance.ephemeral = false;
    r[2].kind = CAIRN_PERSIST_INSTANCE;
    r[2].op = CAIRN_PERSIST_DEL;
    cairn_instance_free(&r[2].instance);
    cs_instance(&r[2].instance, "127.0.0.4", 81);
    r[3].kind = CAIRN_PERSIST_SERVICE;
    r[3].op = CAIRN_PERSIST_DEL;
    *n = 4;
    return r;
}

static inline void cs_persist_apply(cairn_request *rq)
{
    uint32_t n;
    cairn_persist_record *r = cs_records(&n);
    cairn_status st;
    cs_ok(cairn_request_persist_apply(rq, 3, 5, r, n, &st), &st);
}

static inline void cs_persist_replace(cairn_request *rq)
{
    uint32_t n;
    cairn_persist_record *r = cs_records(&n);
    cairn_status st;
    cs_ok(cairn_request_persist_replace(rq, 9, r, n, &st), &st);
}

#endif
