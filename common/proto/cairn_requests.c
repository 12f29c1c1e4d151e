/* The request builders (cairn_requests.h). Each builds into a local request and assigns it to *rq
 * at the end, so its arguments may point into *rq. */
#include "cairn_requests.h"

#include <stdlib.h>
#include <string.h>

typedef struct build {
    cairn_request rq;
    bool nomem;
    const char *missing; /* the first required argument that was NULL */
} build;

static void begin(build *b, cairn_msg_type type)
{
    cairn_request_init(&b->rq, type);
    b->nomem = false;
    b->missing = NULL;
}

/* Copies s into *field; NULL stays absent, or is an error when the field is required. */
static void copy(build *b, char **field, const char *s, bool required, const char *what)
{
    if (!s) {
        if (required && !b->missing)
            b->missing = what;
        return;
    }
    if (!(*field = strdup(s)))
        b->nomem = true;
}

static void service_ref(build *b, const char *ns, const char *svc)
{
    copy(b, &b->rq.namespace_id, ns, true, "namespace");
    copy(b, &b->rq.service, svc, true, "service");
}

static void select_instance(build *b, const char *ip, int32_t port, const char *cluster)
{
    b->rq.has_instance = true;
    copy(b, &b->rq.instance.ip, ip, true, "ip");
    b->rq.instance.port = port;
    copy(b, &b->rq.instance.cluster, cluster, false, "cluster");
}

static void take_instance(build *b, cairn_instance *in)
{
    if (!in) {
        if (!b->missing)
            b->missing = "instance";
        return;
    }
    b->rq.has_instance = true;
    b->rq.instance = *in;
    cairn_instance_init(in);
}

/* The openings the request types share: a request about a service, about an instance the caller
 * hands over, and about an instance selected by (ip, port, cluster). */
static void begin_service(build *b, cairn_msg_type type, const char *ns, const char *svc)
{
    begin(b, type);
    service_ref(b, ns, svc);
}

static void begin_with_instance(build *b, cairn_msg_type type, const char *ns, const char *svc,
                                cairn_instance *in)
{
    begin(b, type);
    take_instance(b, in); /* first: in is taken over even when a name is missing */
    service_ref(b, ns, svc);
}

static void begin_selecting(build *b, cairn_msg_type type, const char *ns, const char *svc,
                            const char *ip, int32_t port, const char *cluster)
{
    begin_service(b, type, ns, svc);
    select_instance(b, ip, port, cluster);
}

static cairn_err finish(build *b, cairn_request *rq, cairn_status *st)
{
    cairn_err err = CAIRN_OK;
    if (b->missing)
        err = cairn_fail(st, CAIRN_E_INVALID, "%s request without a %s",
                         cairn_msg_type_name(b->rq.type), b->missing);
    else if (b->nomem)
        err = cairn_fail(st, CAIRN_E_NOMEM, "out of memory");
    if (err != CAIRN_OK)
        cairn_request_free(&b->rq);
    *rq = b->rq;
    return err;
}

cairn_err cairn_request_instance_upsert(cairn_request *rq, const char *ns, const char *svc,
                                        cairn_instance *in, cairn_upsert_mode mode,
                                        cairn_status *st)
{
    build b;
    begin_with_instance(&b, CAIRN_MSG_INSTANCE_UPSERT, ns, svc, in);
    b.rq.mode = mode;
    return finish(&b, rq, st);
}

cairn_err cairn_request_instance_patch(cairn_request *rq, const char *ns, const char *svc,
                                       cairn_instance *in, uint32_t patch_mask, cairn_status *st)
{
    build b;
    begin_with_instance(&b, CAIRN_MSG_INSTANCE_PATCH, ns, svc, in);
    b.rq.patch_mask = patch_mask;
    return finish(&b, rq, st);
}

cairn_err cairn_request_instance_remove(cairn_request *rq, const char *ns, const char *svc,
                                        const char *ip, int32_t port, const char *cluster,
                                        bool ephemeral, cairn_status *st)
{
    build b;
    begin_selecting(&b, CAIRN_MSG_INSTANCE_REMOVE, ns, svc, ip, port, cluster);
    b.rq.instance.ephemeral = ephemeral;
    return finish(&b, rq, st);
}

cairn_err cairn_request_instance_get(cairn_request *rq, const char *ns, const char *svc,
                                     const char *ip, int32_t port, const char *cluster,
                                     cairn_status *st)
{
    build b;
    begin_selecting(&b, CAIRN_MSG_INSTANCE_GET, ns, svc, ip, port, cluster);
    return finish(&b, rq, st);
}

cairn_err cairn_request_instance_health(cairn_request *rq, const char *ns, const char *svc,
                                        const char *ip, int32_t port, const char *cluster,
                                        bool ephemeral, bool healthy, cairn_health_mode mode,
                                        cairn_status *st)
{
    build b;
    begin_selecting(&b, CAIRN_MSG_INSTANCE_HEALTH, ns, svc, ip, port, cluster);
    b.rq.instance.ephemeral = ephemeral;
    b.rq.instance.healthy = healthy;
    b.rq.mode = mode;
    return finish(&b, rq, st);
}

cairn_err cairn_request_beat(cairn_request *rq, const char *ns, const char *svc,
                             cairn_instance *in, bool has_body, cairn_status *st)
{
    build b;
    begin_with_instance(&b, CAIRN_MSG_BEAT, ns, svc, in);
    b.rq.has_body = has_body;
    return finish(&b, rq, st);
}

cairn_err cairn_request_service_get(cairn_request *rq, const char *ns, const char *svc,
                                    cairn_status *st)
{
    build b;
    begin_service(&b, CAIRN_MSG_SERVICE_GET, ns, svc);
    return finish(&b, rq, st);
}

cairn_err cairn_request_service_put(cairn_request *rq, const char *ns, const char *svc,
                                    cairn_service *def, cairn_service_mode mode,
                                    cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_SERVICE_PUT);
    if (def) {
        b.rq.has_service = true;
        b.rq.service_def = *def;
        memset(def, 0, sizeof *def); /* taken over: nothing left for the caller to free */
    } else {
        b.missing = "service definition";
    }
    service_ref(&b, ns, svc);
    b.rq.mode = mode;
    return finish(&b, rq, st);
}

cairn_err cairn_request_service_remove(cairn_request *rq, const char *ns, const char *svc,
                                       cairn_status *st)
{
    build b;
    begin_service(&b, CAIRN_MSG_SERVICE_REMOVE, ns, svc);
    return finish(&b, rq, st);
}

cairn_err cairn_request_service_list(cairn_request *rq, const char *ns, const char *group,
                                     uint32_t page_no, uint32_t page_size, cairn_status *st)
{
    return cairn_request_service_list_labelled(rq, ns, group, page_no, page_size,
                                               CAIRN_LABEL_NONE, NULL, st);
}

cairn_err cairn_request_service_list_labelled(cairn_request *rq, const char *ns,
                                              const char *group, uint32_t page_no,
                                              uint32_t page_size, cairn_label_scope scope,
                                              const char *label, cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_SERVICE_LIST);
    copy(&b, &b.rq.namespace_id, ns, true, "namespace");
    copy(&b, &b.rq.group, group, false, "group");
    b.rq.page_no = page_no;
    b.rq.page_size = page_size;
    b.rq.mode = (uint32_t)scope;
    if (scope != CAIRN_LABEL_NONE)
        copy(&b, &b.rq.filter, label, true, "label");
    return finish(&b, rq, st);
}

cairn_err cairn_request_service_catalog(cairn_request *rq, const char *ns, const char *group,
                                        const char *filter, uint32_t page_no, uint32_t page_size,
                                        cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_SERVICE_CATALOG);
    copy(&b, &b.rq.namespace_id, ns, true, "namespace");
    copy(&b, &b.rq.group, group, false, "group");
    copy(&b, &b.rq.filter, filter, false, "filter");
    b.rq.page_no = page_no;
    b.rq.page_size = page_size;
    return finish(&b, rq, st);
}

cairn_err cairn_request_namespace_list(cairn_request *rq, cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_NAMESPACE_LIST);
    return finish(&b, rq, st);
}

cairn_err cairn_request_stats(cairn_request *rq, cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_STATS);
    return finish(&b, rq, st);
}

cairn_err cairn_request_snapshot_page(cairn_request *rq, const char *after_ns,
                                      const char *after_svc, uint32_t page_size,
                                      cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_SNAPSHOT_PAGE);
    copy(&b, &b.rq.namespace_id, after_ns, false, "namespace");
    copy(&b, &b.rq.service, after_svc, false, "service");
    b.rq.page_size = page_size;
    return finish(&b, rq, st);
}

cairn_err cairn_request_subscription_snapshot(cairn_request *rq, uint32_t pusher_index,
                                              uint32_t pusher_count, cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_SUBSCRIPTION_SNAPSHOT);
    b.rq.page_no = pusher_index;
    b.rq.page_size = pusher_count;
    return finish(&b, rq, st);
}

/* ---- cluster replication ------------------------------------------------------------------- */

static void take_states(build *b, cairn_distro_state *states, uint32_t count)
{
    b->rq.states = states;
    b->rq.state_count = states ? count : 0;
    if (!states && count > 0 && !b->missing)
        b->missing = "state list";
}

static void take_records(build *b, cairn_persist_record *records, uint32_t count)
{
    b->rq.records = records;
    b->rq.record_count = records ? count : 0;
    if (!records && count > 0 && !b->missing)
        b->missing = "record list";
}

/* The owner filter of DISTRO_DIGESTS and DISTRO_KEYS. */
static void owner_filter(build *b, const char *const *owners, uint32_t count, const char *self)
{
    copy(b, &b->rq.self, self, false, "self");
    if (count == 0)
        return;
    if (!owners) {
        if (!b->missing)
            b->missing = "owner list";
        return;
    }
    if (!(b->rq.owners = calloc(count, sizeof *b->rq.owners))) {
        b->nomem = true;
        return;
    }
    b->rq.owner_count = count;
    for (uint32_t i = 0; i < count; i++)
        copy(b, &b->rq.owners[i], owners[i], true, "owner");
}

cairn_err cairn_request_distro_apply(cairn_request *rq, cairn_distro_state *states,
                                     uint32_t count, cairn_distro_mode mode, uint64_t load_id,
                                     cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_DISTRO_APPLY);
    take_states(&b, states, count);
    b.rq.mode = mode;
    b.rq.load_id = load_id;
    return finish(&b, rq, st);
}

cairn_err cairn_request_distro_digests(cairn_request *rq, const char *const *owners,
                                       uint32_t owner_count, const char *self, cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_DISTRO_DIGESTS);
    owner_filter(&b, owners, owner_count, self);
    return finish(&b, rq, st);
}

cairn_err cairn_request_distro_keys(cairn_request *rq, uint32_t bucket,
                                    const char *const *owners, uint32_t owner_count,
                                    const char *self, const char *after_ns,
                                    const char *after_svc, uint32_t page_size, cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_DISTRO_KEYS);
    b.rq.bucket = bucket;
    owner_filter(&b, owners, owner_count, self);
    copy(&b, &b.rq.namespace_id, after_ns, false, "namespace");
    copy(&b, &b.rq.service, after_svc, false, "service");
    b.rq.page_size = page_size;
    return finish(&b, rq, st);
}

/* The count services (ns[i], svc[i]) as states that carry only their names. */
static void service_keys(build *b, const char *const *ns, const char *const *svc, uint32_t count)
{
    if (count > 0 && (!ns || !svc)) {
        b->missing = "key list";
    } else if (count > 0 && !(b->rq.states = calloc(count, sizeof *b->rq.states))) {
        b->nomem = true;
    } else {
        b->rq.state_count = count;
        for (uint32_t i = 0; i < count; i++) {
            copy(b, &b->rq.states[i].namespace_id, ns[i], true, "namespace");
            copy(b, &b->rq.states[i].service, svc[i], true, "service");
        }
    }
}

/* A request of type naming count services and nothing else. */
static cairn_err service_list(cairn_request *rq, cairn_msg_type type, const char *const *ns,
                              const char *const *svc, uint32_t count, cairn_status *st)
{
    build b;
    begin(&b, type);
    service_keys(&b, ns, svc, count);
    return finish(&b, rq, st);
}

cairn_err cairn_request_distro_fetch(cairn_request *rq, const char *const *ns,
                                     const char *const *svc, uint32_t count, cairn_status *st)
{
    return service_list(rq, CAIRN_MSG_DISTRO_FETCH, ns, svc, count, st);
}

cairn_err cairn_request_distro_snapshot(cairn_request *rq, const char *after_ns,
                                        const char *after_svc, uint32_t max_bytes,
                                        cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_DISTRO_SNAPSHOT);
    copy(&b, &b.rq.namespace_id, after_ns, false, "namespace");
    copy(&b, &b.rq.service, after_svc, false, "service");
    b.rq.page_size = max_bytes;
    return finish(&b, rq, st);
}

cairn_err cairn_request_distro_load_end(cairn_request *rq, uint64_t load_id, cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_DISTRO_LOAD_END);
    b.rq.load_id = load_id;
    return finish(&b, rq, st);
}

cairn_err cairn_request_persist_apply(cairn_request *rq, uint64_t first, uint64_t last,
                                      cairn_persist_record *records, uint32_t count,
                                      cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_PERSIST_APPLY);
    take_records(&b, records, count);
    b.rq.first = first;
    b.rq.last = last;
    return finish(&b, rq, st);
}

cairn_err cairn_request_persist_replace(cairn_request *rq, uint64_t index,
                                        cairn_persist_record *records, uint32_t count,
                                        cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_PERSIST_REPLACE);
    take_records(&b, records, count);
    b.rq.last = index;
    return finish(&b, rq, st);
}

/* ---- connection-owned instances (cairn-grpc) ------------------------------------------- */

cairn_err cairn_request_instance_set_owned(cairn_request *rq, const char *ns, const char *svc,
                                           const char *owner, cairn_instance *instances,
                                           uint32_t count, cairn_status *st)
{
    build b;
    begin_service(&b, CAIRN_MSG_INSTANCE_SET_OWNED, ns, svc);
    copy(&b, &b.rq.owner, owner, true, "owner");
    if (count > 0 && !instances && !b.missing)
        b.missing = "instances";
    if (count > 0 && instances) {
        b.rq.instances = calloc(count, sizeof *b.rq.instances);
        if (!b.rq.instances)
            b.nomem = true;
        for (uint32_t i = 0; i < count; i++) {
            if (b.rq.instances)
                b.rq.instances[i] = instances[i];
            else
                cairn_instance_free(&instances[i]);
            cairn_instance_init(&instances[i]);
        }
        b.rq.instance_count = b.rq.instances ? count : 0;
    }
    return finish(&b, rq, st);
}

cairn_err cairn_request_owner_drop(cairn_request *rq, const char *owner, cairn_owner_mode mode,
                                   cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_OWNER_DROP);
    copy(&b, &b.rq.owner, owner, true, "owner");
    b.rq.mode = (uint32_t)mode;
    return finish(&b, rq, st);
}

cairn_err cairn_request_owner_drop_owned(cairn_request *rq, const char *owner,
                                         cairn_owner_mode mode, const char *const *owners,
                                         uint32_t owner_count, const char *self,
                                         cairn_status *st)
{
    build b;
    begin(&b, CAIRN_MSG_OWNER_DROP);
    copy(&b, &b.rq.owner, owner, true, "owner");
    b.rq.mode = (uint32_t)mode;
    owner_filter(&b, owners, owner_count, self);
    return finish(&b, rq, st);
}

cairn_err cairn_request_services_in_use(cairn_request *rq, const char *const *ns,
                                        const char *const *svc, uint32_t count, cairn_status *st)
{
    return service_list(rq, CAIRN_MSG_SERVICES_IN_USE, ns, svc, count, st);
}
