/* Key encoding for the registry's LMDB databases. Components are joined with a 0x00 byte, which
 * no validated name contains, so that all instances of one service are one contiguous prefix
 * range and a namespace's services sort lexicographically by grouped name (as Nacos lists them).
 *
 *   services db:  <ns> 00 <grouped>
 *   instances db: <ns> 00 <grouped> 00 <kind: 'e'|'p'> <cluster> 00 <ip> 00 <port: 4 bytes BE>
 */
#ifndef CAIRN_KEYS_H
#define CAIRN_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAIRN_KEY_MAX 1024 /* LMDB's default max key size is 511; names are capped below that */

typedef struct cairn_key {
    uint8_t bytes[CAIRN_KEY_MAX];
    size_t len;
} cairn_key;

/* Each returns 0, or -1 when the key would not fit in the LMDB key limit. */
int cairn_key_service(cairn_key *k, const char *ns, const char *grouped);
/* The prefix shared by every instance of the service (ends with the separator). */
int cairn_key_instances_prefix(cairn_key *k, const char *ns, const char *grouped);
int cairn_key_instance(cairn_key *k, const char *ns, const char *grouped, bool ephemeral,
                       const char *cluster, const char *ip, int32_t port);
/* The prefix shared by every service of a namespace. */
int cairn_key_namespace_prefix(cairn_key *k, const char *ns);

bool cairn_key_has_prefix(const void *key, size_t key_len, const cairn_key *prefix);

/* Splits a services-db key into namespace and grouped name (copied, NUL-terminated). */
int cairn_key_parse_service(const void *key, size_t key_len, char *ns, size_t ns_len,
                            char *grouped, size_t grouped_len);

/* The largest key LMDB accepts with default build options. */
#define CAIRN_LMDB_MAX_KEY 511

#endif
