/* The in-memory CP state (contract in raft_state.h). */
#include "raft_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_keys.h"

_Noreturn void raft_state_oom(void)
{
    fprintf(stderr, "raft state: out of memory while applying a committed entry\n");
    abort();
}

char *raft_state_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        raft_state_oom();
    return d;
}

static void *need(void *p)
{
    if (!p)
        raft_state_oom();
    return p;
}

/* Service key: the registry's own (ns 00 grouped); names are length-checked before they get here,
 * so the key always fits. */
static void service_key(cairn_key *k, const char *ns, const char *name)
{
    if (cairn_key_service(k, ns, name) != 0)
        k->len = 0;
}

/* Instance key within a service: cluster 00 ip 00 port (4 bytes, big-endian). */
typedef struct inst_key {
    unsigned char bytes[CAIRN_MAX_CLUSTER_LEN + CAIRN_MAX_IP_LEN + 8];
    size_t len;
} inst_key;

static void instance_key(inst_key *k, const char *cluster, const char *ip, int32_t port)
{
    size_t cl = strnlen(cluster, CAIRN_MAX_CLUSTER_LEN), il = strnlen(ip, CAIRN_MAX_IP_LEN);
    uint32_t p = (uint32_t)port;
    memcpy(k->bytes, cluster, cl);
    k->bytes[cl] = 0;
    memcpy(k->bytes + cl + 1, ip, il);
    k->bytes[cl + 1 + il] = 0;
    unsigned char *q = k->bytes + cl + il + 2;
    q[0] = (unsigned char)(p >> 24), q[1] = (unsigned char)(p >> 16);
    q[2] = (unsigned char)(p >> 8), q[3] = (unsigned char)p;
    k->len = cl + il + 6;
}

raft_cp_state *raft_state_new(void)
{
    raft_cp_state *s = need(calloc(1, sizeof *s));
    s->services = need(cairn_hashmap_new(64));
    return s;
}

static void free_service(raft_cp_service *svc)
{
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, svc->instances);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        cairn_instance_free(v);
        free(v);
    }
    cairn_hashmap_free(svc->instances);
    cairn_service_free(&svc->def);
    free(svc);
}

void raft_state_clear(raft_cp_state *s)
{
    cairn_hashmap_iter it;
    void *v;
    cairn_hashmap_iter_init(&it, s->services);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v)) {
        cairn_hashmap_iter_remove(&it);
        free_service(v);
    }
    s->instance_count = 0;
}

void raft_state_free(raft_cp_state *s)
{
    if (!s)
        return;
    raft_state_clear(s);
    cairn_hashmap_free(s->services);
    free(s);
}

raft_cp_service *raft_state_service(const raft_cp_state *s, const char *ns, const char *name)
{
    cairn_key k;
    service_key(&k, ns, name);
    return k.len ? cairn_hashmap_get(s->services, k.bytes, k.len) : NULL;
}

raft_cp_service *raft_state_put_service(raft_cp_state *s, cairn_service *def)
{
    raft_cp_service *svc = raft_state_service(s, def->namespace_id, def->name);
    if (svc) {
        cairn_service_free(&svc->def);
        svc->def = *def;
        return svc;
    }
    cairn_key k;
    service_key(&k, def->namespace_id, def->name);
    svc = need(calloc(1, sizeof *svc));
    svc->def = *def;
    svc->instances = need(cairn_hashmap_new(8));
    if (cairn_hashmap_put(s->services, k.bytes, k.len, svc, NULL) != 0)
        raft_state_oom();
    return svc;
}

bool raft_state_drop_service(raft_cp_state *s, const char *ns, const char *name)
{
    cairn_key k;
    service_key(&k, ns, name);
    raft_cp_service *svc = k.len ? cairn_hashmap_remove(s->services, k.bytes, k.len) : NULL;
    if (!svc)
        return false;
    s->instance_count -= cairn_hashmap_size(svc->instances);
    free_service(svc);
    return true;
}

cairn_instance *raft_state_instance(const raft_cp_service *svc, const char *cluster,
                                    const char *ip, int32_t port)
{
    inst_key k;
    instance_key(&k, cluster, ip, port);
    return cairn_hashmap_get(svc->instances, k.bytes, k.len);
}

cairn_instance *raft_state_put_instance(raft_cp_state *s, raft_cp_service *svc,
                                        cairn_instance *in)
{
    inst_key k;
    instance_key(&k, in->cluster, in->ip, in->port);
    cairn_instance *copy = need(malloc(sizeof *copy));
    *copy = *in;
    void *old;
    if (cairn_hashmap_put(svc->instances, k.bytes, k.len, copy, &old) != 0)
        raft_state_oom();
    if (old) {
        cairn_instance_free(old);
        free(old);
    } else {
        s->instance_count++;
    }
    return copy;
}

bool raft_state_del_instance(raft_cp_state *s, raft_cp_service *svc, const char *cluster,
                             const char *ip, int32_t port)
{
    inst_key k;
    instance_key(&k, cluster, ip, port);
    cairn_instance *in = cairn_hashmap_remove(svc->instances, k.bytes, k.len);
    if (!in)
        return false;
    cairn_instance_free(in);
    free(in);
    s->instance_count--;
    return true;
}

static int cmp_service(const void *a, const void *b)
{
    const cairn_service *x = &(*(raft_cp_service *const *)a)->def;
    const cairn_service *y = &(*(raft_cp_service *const *)b)->def;
    int c = strcmp(x->namespace_id, y->namespace_id);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_instance(const void *a, const void *b)
{
    const cairn_instance *x = *(cairn_instance *const *)a, *y = *(cairn_instance *const *)b;
    int c = strcmp(x->cluster, y->cluster);
    if (!c)
        c = strcmp(x->ip, y->ip);
    return c ? c : (x->port > y->port) - (x->port < y->port);
}

/* Every value of m, sorted with cmp. */
static void **sorted_values(cairn_hashmap *m, int (*cmp)(const void *, const void *), size_t *n)
{
    *n = cairn_hashmap_size(m);
    void **out = need(malloc((*n ? *n : 1) * sizeof *out));
    cairn_hashmap_iter it;
    void *v;
    size_t i = 0;
    cairn_hashmap_iter_init(&it, m);
    while (cairn_hashmap_iter_next(&it, NULL, NULL, &v))
        out[i++] = v;
    qsort(out, *n, sizeof *out, cmp);
    return out;
}

raft_cp_service **raft_state_sorted_services(const raft_cp_state *s, size_t *n)
{
    return (raft_cp_service **)sorted_values(s->services, cmp_service, n);
}

cairn_instance **raft_state_sorted_instances(const raft_cp_service *svc, size_t *n)
{
    return (cairn_instance **)sorted_values(svc->instances, cmp_instance, n);
}
