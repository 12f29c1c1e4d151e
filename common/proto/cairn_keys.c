/* LMDB key encoding (layout in cairn_keys.h). Every builder checks the LMDB key limit, so a key
 * that would be rejected by mdb_put is refused here with -1 before any write starts. */
#include "cairn_keys.h"

#include <string.h>

static void key_reset(cairn_key *k)
{
    k->len = 0;
}

/* Appends n bytes; -1 when the key would exceed LMDB's limit. */
static int key_put(cairn_key *k, const void *p, size_t n)
{
    if (n > CAIRN_LMDB_MAX_KEY || k->len + n > CAIRN_LMDB_MAX_KEY)
        return -1;
    memcpy(k->bytes + k->len, p, n);
    k->len += n;
    return 0;
}

static int key_put_str(cairn_key *k, const char *s)
{
    return s ? key_put(k, s, strlen(s)) : -1;
}

static int key_put_sep(cairn_key *k)
{
    static const uint8_t zero = 0;
    return key_put(k, &zero, 1);
}

int cairn_key_namespace_prefix(cairn_key *k, const char *ns)
{
    key_reset(k);
    if (key_put_str(k, ns) || key_put_sep(k))
        return -1;
    return 0;
}

int cairn_key_service(cairn_key *k, const char *ns, const char *grouped)
{
    if (cairn_key_namespace_prefix(k, ns) || key_put_str(k, grouped))
        return -1;
    return 0;
}

int cairn_key_instances_prefix(cairn_key *k, const char *ns, const char *grouped)
{
    if (cairn_key_service(k, ns, grouped) || key_put_sep(k))
        return -1;
    return 0;
}

int cairn_key_instance(cairn_key *k, const char *ns, const char *grouped, bool ephemeral,
                       const char *cluster, const char *ip, int32_t port)
{
    uint8_t kind = ephemeral ? 'e' : 'p';
    uint32_t p = (uint32_t)port;
    uint8_t be[4] = {(uint8_t)(p >> 24), (uint8_t)(p >> 16), (uint8_t)(p >> 8), (uint8_t)p};
    if (cairn_key_instances_prefix(k, ns, grouped) || key_put(k, &kind, 1) ||
        key_put_str(k, cluster) || key_put_sep(k) || key_put_str(k, ip) || key_put_sep(k) ||
        key_put(k, be, sizeof be))
        return -1;
    return 0;
}

bool cairn_key_has_prefix(const void *key, size_t key_len, const cairn_key *prefix)
{
    return key_len >= prefix->len && memcmp(key, prefix->bytes, prefix->len) == 0;
}

int cairn_key_parse_service(const void *key, size_t key_len, char *ns, size_t ns_len,
                            char *grouped, size_t grouped_len)
{
    if (!key || key_len == 0)
        return -1;
    const uint8_t *b = key;
    const uint8_t *sep = memchr(b, 0, key_len);
    if (!sep)
        return -1;
    size_t nlen = (size_t)(sep - b);
    size_t glen = key_len - nlen - 1;
    /* A services-db key has exactly one separator; the buffers must take the NUL too. */
    if (memchr(sep + 1, 0, glen) || nlen >= ns_len || glen >= grouped_len)
        return -1;
    memcpy(ns, b, nlen);
    ns[nlen] = '\0';
    memcpy(grouped, sep + 1, glen);
    grouped[glen] = '\0';
    return 0;
}
