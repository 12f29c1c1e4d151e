/* Digests of Distro's ephemeral states (cairn_distro_digest.h). */
#include "cairn_distro_digest.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void feed_u64(crypto_generichash_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
    crypto_generichash_update(h, b, sizeof b);
}

static void feed_str(crypto_generichash_state *h, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    crypto_generichash_update(h, len, sizeof len);
    if (n > 0)
        crypto_generichash_update(h, (const unsigned char *)s, n);
}

uint32_t cairn_distro_bucket(const char *ns, const char *grouped)
{
    crypto_generichash_state h;
    uint8_t out[8];
    crypto_generichash_init(&h, NULL, 0, sizeof out);
    feed_str(&h, ns);
    feed_str(&h, grouped);
    crypto_generichash_final(&h, out, sizeof out);
    return out[0];
}

static int opt_cmp(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* The key order of a service's instances: cluster, ip, port (cairn_keys.h). */
static int instance_order(const void *a, const void *b)
{
    const cairn_instance *x = *(const cairn_instance *const *)a;
    const cairn_instance *y = *(const cairn_instance *const *)b;
    int r = opt_cmp(x->cluster, y->cluster);
    if (!r)
        r = opt_cmp(x->ip, y->ip);
    if (!r)
        r = (uint32_t)x->port < (uint32_t)y->port ? -1 : (uint32_t)x->port > (uint32_t)y->port;
    return r;
}

static void feed_instance(crypto_generichash_state *h, const cairn_instance *in)
{
    uint64_t weight_bits;
    memcpy(&weight_bits, &in->weight, sizeof weight_bits);
    feed_str(h, in->ip);
    feed_u64(h, (uint32_t)in->port);
    feed_str(h, in->cluster);
    feed_str(h, in->instance_id);
    feed_str(h, in->app);
    feed_u64(h, weight_bits);
    uint8_t flags = (uint8_t)((in->healthy ? 1 : 0) | (in->enabled ? 2 : 0) | (in->marked ? 4 : 0));
    crypto_generichash_update(h, &flags, 1);
    feed_u64(h, in->metadata.len);
    for (uint32_t i = 0; i < in->metadata.len; i++) {
        feed_str(h, in->metadata.items[i].key);
        feed_str(h, in->metadata.items[i].value);
    }
}

cairn_err cairn_distro_content_digest(const cairn_instance *instances, uint32_t count,
                                      uint8_t out[CAIRN_DISTRO_DIGEST_LEN])
{
    const cairn_instance **order = NULL;
    if (count > 0 && !(order = malloc(count * sizeof *order)))
        return CAIRN_E_NOMEM;
    for (uint32_t i = 0; i < count; i++)
        order[i] = &instances[i];
    if (count > 1)
        qsort(order, count, sizeof *order, instance_order);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, CAIRN_DISTRO_DIGEST_LEN);
    feed_u64(&h, count);
    for (uint32_t i = 0; i < count; i++)
        feed_instance(&h, order[i]);
    crypto_generichash_final(&h, out, CAIRN_DISTRO_DIGEST_LEN);
    free(order);
    return CAIRN_OK;
}

void cairn_distro_entry_digest(const char *ns, const char *grouped,
                               const cairn_distro_version *version,
                               const uint8_t content[CAIRN_DISTRO_DIGEST_LEN],
                               uint8_t out[CAIRN_DISTRO_DIGEST_LEN])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, CAIRN_DISTRO_DIGEST_LEN);
    feed_str(&h, ns);
    feed_str(&h, grouped);
    feed_u64(&h, version ? version->epoch : 0);
    feed_u64(&h, version ? version->seq : 0);
    crypto_generichash_update(&h, content, CAIRN_DISTRO_DIGEST_LEN);
    crypto_generichash_final(&h, out, CAIRN_DISTRO_DIGEST_LEN);
}

void cairn_distro_digests_add(cairn_distro_digests *d, uint32_t bucket,
                              const uint8_t entry[CAIRN_DISTRO_DIGEST_LEN])
{
    bucket %= CAIRN_DISTRO_BUCKETS;
    for (int i = 0; i < CAIRN_DISTRO_DIGEST_LEN; i++)
        d->digest[bucket][i] ^= entry[i];
    d->count[bucket]++;
}
