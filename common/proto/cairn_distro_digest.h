/* Digests of Distro's ephemeral states (cluster-design §1.4, §2.6): what DISTRO_DIGESTS and
 * DISTRO_KEYS carry, computed the same way wherever they are computed.
 *
 *  content digest  BLAKE2b-128 over the instances sorted by (cluster, ip, port), each as its
 *                  canonical fields (ip, port, cluster, instanceId, app, weight, healthy,
 *                  enabled, marked, metadata), health included; modified_ms and the ephemeral
 *                  flag are left out (a copy keeps its own write time).
 *  entry digest    BLAKE2b-128 over (namespace, grouped name, epoch, seq, content digest): a
 *                  change of content or of version changes it. The origin's name is left out:
 *                  the epoch already names the writer, and a member's own writes carry none.
 *  bucket          the first byte of BLAKE2b-64 of (namespace, grouped name): 256 buckets.
 *  bucket digest   the XOR of its entries' digests (order does not matter), with their count.
 * Strings are fed with a 4-byte big-endian length before their bytes, integers big-endian, so
 * no two inputs feed the same bytes. libsodium's crypto_generichash; no state, any thread. */
#ifndef CAIRN_DISTRO_DIGEST_H
#define CAIRN_DISTRO_DIGEST_H

#include <stdint.h>

#include "cairn_model.h"
#include "cairn_msg.h"

uint32_t cairn_distro_bucket(const char *ns, const char *grouped);
/* The instances are not reordered (the digest sorts a copy of their order). Returns
 * CAIRN_E_NOMEM when the order cannot be allocated. */
cairn_err cairn_distro_content_digest(const cairn_instance *instances, uint32_t count,
                                      uint8_t out[CAIRN_DISTRO_DIGEST_LEN]);
void cairn_distro_entry_digest(const char *ns, const char *grouped,
                               const cairn_distro_version *version,
                               const uint8_t content[CAIRN_DISTRO_DIGEST_LEN],
                               uint8_t out[CAIRN_DISTRO_DIGEST_LEN]);
/* Adds an entry digest to its bucket of d (zeroed to begin). */
void cairn_distro_digests_add(cairn_distro_digests *d, uint32_t bucket,
                              const uint8_t entry[CAIRN_DISTRO_DIGEST_LEN]);

#endif
